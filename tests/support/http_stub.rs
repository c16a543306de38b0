//! A scripted HTTP server for fault injection: answers each request with the next step of a script
//! (a status with headers and body, a body cut short, a silent hang, a reset connection) and records
//! what it was asked.
//!
//! A real MLflow server answers 500, 429, HTML pages, truncated bodies or resets only by accident, so the
//! client's handling of them is tested against this stub; everything else is tested against the real
//! server. One connection per request (`Connection: close`), so each step is one attempt of the client.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Step {
    /// A complete answer.
    Respond {
        /// HTTP status.
        status: u16,
        /// Extra headers.
        headers: Vec<(String, String)>,
        /// The body.
        body: String,
    },
    /// Headers announcing `body.len() + 100` bytes, then `body`, then the connection closes.
    Truncated(String),
    /// Accept the connection and never answer (until the client gives up).
    Hang,
    /// Close the connection as soon as the request is read, without answering.
    Reset,
    /// A 200 JSON answer of `bytes` bytes of filler, announced with `Content-Length` or sent with
    /// `Transfer-Encoding: chunked`; generated while it is sent (the stub holds one block), and cut
    /// off when the client closes the connection.
    Oversized {
        /// The size of the body.
        bytes: usize,
        /// Chunked rather than with a length.
        chunked: bool,
    },
}

impl Step {
    /// A JSON answer.
    pub fn json(status: u16, body: &str) -> Step {
        Step::Respond {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.into(),
        }
    }

    /// An HTML answer, as Flask sends for unknown routes and server errors.
    pub fn html(status: u16, body: &str) -> Step {
        Step::Respond {
            status,
            headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
            body: body.into(),
        }
    }

    /// A 429 with `Retry-After: secs`.
    pub fn too_many(secs: u64) -> Step {
        Step::Respond {
            status: 429,
            headers: vec![("Retry-After".into(), secs.to_string())],
            body: "slow down".into(),
        }
    }
}

/// A request as the stub saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `GET /api/2.0/mlflow/... HTTP/1.1`.
    pub request_line: String,
    /// All headers, lower-cased names.
    pub headers: Vec<(String, String)>,
    /// When it arrived.
    pub at: std::time::Instant,
}

/// A running stub.
pub struct HttpStub {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl HttpStub {
    /// Starts a stub that plays `script`, then answers 599 to anything more.
    pub fn start(script: Vec<Step>) -> HttpStub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script.into_iter()));
        let seen_by_thread = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let seen = seen_by_thread.clone();
                let script = script.clone();
                std::thread::spawn(move || serve(stream, &seen, &script));
            }
        });
        HttpStub { url, seen }
    }

    /// The requests seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// Runs a client through `run` against a stub answering 65 MiB, with a Content-Length and chunked,
/// and checks that it fails (exit `code`) with a message holding `names_server(stub)` and the 64 MiB
/// limit, after one request.
pub fn assert_oversized_answers_fail(
    code: i32,
    run: impl Fn(&HttpStub) -> (Option<i32>, String),
    names_server: impl Fn(&HttpStub) -> String,
) {
    for chunked in [false, true] {
        let stub = HttpStub::start(vec![Step::Oversized {
            bytes: 65 << 20,
            chunked,
        }]);
        let (got, err) = run(&stub);
        assert_eq!(got, Some(code), "chunked: {chunked}: {err}");
        assert!(
            err.contains(&names_server(&stub)),
            "chunked: {chunked}: {err}"
        );
        assert!(
            err.contains("larger than 64 MiB"),
            "chunked: {chunked}: {err}"
        );
        assert_eq!(stub.seen().len(), 1, "chunked: {chunked}: not retried");
    }
}

fn serve(stream: TcpStream, seen: &Mutex<Vec<Seen>>, script: &Mutex<std::vec::IntoIter<Step>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    let mut headers = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.trim_end().split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
            if k == "content-length" {
                length = v.parse().unwrap_or(0);
            }
            headers.push((k, v));
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    seen.lock().unwrap().push(Seen {
        request_line: request_line.trim_end().to_string(),
        headers,
        at: std::time::Instant::now(),
    });
    let step = script.lock().unwrap().next();
    let mut stream = stream;
    match step {
        Some(Step::Respond {
            status,
            headers,
            body,
        }) => {
            let mut head = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body.as_bytes());
        }
        Some(Step::Truncated(body)) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len() + 100
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body.as_bytes());
        }
        Some(Step::Oversized { bytes, chunked }) => {
            let framing = if chunked {
                "Transfer-Encoding: chunked".to_string()
            } else {
                format!("Content-Length: {bytes}")
            };
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{framing}\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.write_all(head.as_bytes());
            let block = vec![b' '; 64 * 1024];
            let mut left = bytes;
            while left > 0 {
                let n = left.min(block.len());
                let sent = if chunked {
                    stream
                        .write_all(format!("{n:x}\r\n").as_bytes())
                        .and_then(|()| stream.write_all(&block[..n]))
                        .and_then(|()| stream.write_all(b"\r\n"))
                } else {
                    stream.write_all(&block[..n])
                };
                if sent.is_err() {
                    break;
                }
                left -= n;
            }
            if chunked {
                let _ = stream.write_all(b"0\r\n\r\n");
            }
        }
        Some(Step::Hang) => std::thread::sleep(Duration::from_secs(30)),
        Some(Step::Reset) => {}
        None => {
            let _ = stream.write_all(
                b"HTTP/1.1 599 Script Exhausted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    }
    let _ = stream.flush();
}
