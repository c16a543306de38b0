//! A loopback HTTP/1 server on its own thread for the stand-ins: binds a free port, answers each request
//! with `handler`, and stops (joining the thread) when dropped.

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};

/// A running server; stops when dropped.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Serves `handler` on a loopback port.
pub fn start<H, F>(handler: H) -> Server
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                tokio::select! {
                    _ = &mut rx => break,
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let handler = handler.clone();
                        tokio::spawn(async move {
                            let service = hyper::service::service_fn(move |req| {
                                let answer = handler(req);
                                async move { Ok::<_, std::convert::Infallible>(answer.await) }
                            });
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                                .await;
                        });
                    }
                }
            }
        });
    });
    Server {
        addr,
        shutdown: Some(tx),
        thread: Some(thread),
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A request as the stand-ins check it.
pub struct Asked {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The whole request target.
    pub uri: String,
    /// Its path.
    pub path: String,
    /// Its query, decoded.
    pub query: std::collections::BTreeMap<String, String>,
    /// The headers.
    pub headers: hyper::HeaderMap,
    /// The `Host` header (`127.0.0.1` without one).
    pub host: String,
    /// The JSON body; `None` when empty, a string `<not JSON>` when it does not parse.
    pub body: Option<serde_json::Value>,
}

/// Reads a request whole.
pub async fn read(req: Request<Incoming>) -> Asked {
    use http_body_util::BodyExt;
    let method = req.method().to_string();
    let uri = req.uri().to_string();
    let path = req.uri().path().to_string();
    let query = req
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let headers = req.headers().clone();
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string();
    let bytes = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body = (!bytes.is_empty()).then(|| {
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::String("<not JSON>".into()))
    });
    Asked {
        method,
        uri,
        path,
        query,
        headers,
        host,
        body,
    }
}
