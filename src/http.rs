//! One HTTP client builder and one retry loop for every server modelbump talks to (MLflow, Argo CD,
//! webhooks).
//!
//! Why one place: the user agent, timeouts, TLS options (a CA bundle, a client certificate, or
//! verification off on request) and the retry rules must be the same everywhere, and error bodies must be
//! turned into short, safe messages the same way: servers answer errors in HTML as often as in JSON, and
//! a body may echo what it was sent, so it is excerpted and scrubbed before it is shown.
//!
//! Retry rules: connection errors, timeouts, HTTP 429 (honouring `Retry-After`) and 5xx are retried with
//! exponential backoff and jitter; other 4xx never are, because sending the same request again cannot
//! change the answer.
//!
//! Every body is read through [`read_body`], which stops at [`MAX_BODY`]: a server (or something posing
//! as one) that answers without end must fail the call, not fill the memory. The count runs while the
//! body streams in, so a chunked answer without a length is cut off too.

use std::path::PathBuf;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use reqwest::{RequestBuilder, Response, StatusCode};

use crate::secret::{SecretString, scrub};

/// The user agent sent to every server.
pub(crate) const USER_AGENT: &str = concat!("modelbump/", env!("CARGO_PKG_VERSION"));

/// How to build a client.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Whole-request timeout.
    pub timeout: Duration,
    /// A PEM bundle of extra CA certificates to trust.
    pub ca_cert: Option<PathBuf>,
    /// A PEM file with a client certificate and its private key.
    pub client_cert: Option<PathBuf>,
    /// Skip certificate verification (only on the user's explicit request).
    pub insecure: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(120),
            ca_cert: None,
            client_cert: None,
            insecure: false,
        }
    }
}

/// Errors building a client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A certificate file could not be read.
    #[error("cannot read {what} {path}: {source}")]
    ReadCert {
        /// `CA bundle` or `client certificate`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A certificate file is not usable PEM.
    #[error("invalid {what} {path}: {message}")]
    BadCert {
        /// `CA bundle` or `client certificate`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The TLS stack could not be set up.
    #[error("cannot set up the HTTP client: {0}")]
    Build(String),
}

/// Builds a client with the user agent, the timeout and the TLS options.
pub(crate) fn build_client(options: &ClientOptions) -> Result<reqwest::Client, ClientError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .timeout(options.timeout)
        .connect_timeout(options.timeout.min(Duration::from_secs(30)));
    if let Some(path) = &options.ca_cert {
        let what = "CA bundle";
        let pem = std::fs::read(path).map_err(|source| ClientError::ReadCert {
            what,
            path: path.clone(),
            source,
        })?;
        let certs =
            reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| ClientError::BadCert {
                what,
                path: path.clone(),
                message: e.to_string(),
            })?;
        if certs.is_empty() {
            return Err(ClientError::BadCert {
                what,
                path: path.clone(),
                message: "no PEM certificate in it".into(),
            });
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    if let Some(path) = &options.client_cert {
        let what = "client certificate";
        let pem = std::fs::read(path).map_err(|source| ClientError::ReadCert {
            what,
            path: path.clone(),
            source,
        })?;
        let identity = reqwest::Identity::from_pem(&pem).map_err(|e| ClientError::BadCert {
            what,
            path: path.clone(),
            message: format!("{e} (expected the certificate and its private key in one PEM file)"),
        })?;
        builder = builder.identity(identity);
    }
    if options.insecure {
        builder = builder.danger_accept_invalid_certs(true);
    }
    builder
        .build()
        .map_err(|e| ClientError::Build(e.to_string()))
}

/// How often and how patiently to retry.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0: no retry).
    pub max_retries: usize,
    /// The first delay.
    pub min_delay: Duration,
    /// The longest delay, also the cap for `Retry-After`.
    pub max_delay: Duration,
    /// What the server is, for the retry warnings ("MLflow", "Argo CD").
    pub service: &'static str,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 7,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(30),
            service: "server",
        }
    }
}

/// The most modelbump reads of one answer. The largest real answers (a page of 1000 runs with their
/// metrics and params, an Argo CD application with thousands of resources) are a few MiB.
pub(crate) const MAX_BODY: usize = 64 << 20;

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    /// Past [`MAX_BODY`].
    #[error(
        "the answer is larger than {} MiB, the most modelbump reads of one answer",
        MAX_BODY >> 20
    )]
    TooLarge,
    /// The connection failed while the body came in.
    #[error("{}", describe_transport_error(.0))]
    Transport(reqwest::Error),
}

/// Reads the body of `response` as text (invalid UTF-8 replaced), at most [`MAX_BODY`] bytes: the one
/// place any client reads an answer.
pub(crate) async fn read_body(mut response: Response) -> Result<String, BodyError> {
    // An announced length over the limit is refused before anything is read.
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let mut body: Vec<u8> = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(match String::from_utf8(body) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// True for the statuses that another attempt may change: 429 and 5xx.
pub(crate) fn is_retryable_status(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// The delay a `Retry-After` header asks for (seconds form; the HTTP-date form is rare for APIs and
/// falls back to the backoff).
pub(crate) fn retry_after(response: &Response) -> Option<Duration> {
    let value = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// An attempt that is retried, as [`send_with_retry_noting`] reports it.
#[derive(Debug)]
pub(crate) enum Retried {
    /// An answer with a retryable status, and its body (or why it could not be read), unscrubbed.
    Answer {
        /// The status.
        status: StatusCode,
        /// The body.
        body: String,
    },
    /// A transport error, described by [`describe_transport_error`].
    Transport(String),
}

/// Sends the request made by `make`, retrying per `policy`.
///
/// Returns the first response that is not retryable, or the last response when retries run out (the
/// caller turns its status into an error). A transport error is returned after the last attempt.
/// `make` is called once per attempt because a request cannot be sent twice.
pub(crate) async fn send_with_retry<F>(
    policy: &RetryPolicy,
    make: F,
) -> Result<Response, reqwest::Error>
where
    F: FnMut() -> RequestBuilder,
{
    send_with_retry_noting(policy, make, |_| {}).await
}

/// [`send_with_retry`], telling `note` what each attempt that is retried got, so that a caller whose
/// deadline may pass during the retries can say what the server answered meanwhile.
pub(crate) async fn send_with_retry_noting<F, N>(
    policy: &RetryPolicy,
    mut make: F,
    mut note: N,
) -> Result<Response, reqwest::Error>
where
    F: FnMut() -> RequestBuilder,
    N: FnMut(Retried),
{
    let mut delays = ExponentialBuilder::default()
        .with_min_delay(policy.min_delay)
        .with_max_delay(policy.max_delay)
        .with_jitter()
        .with_max_times(policy.max_retries)
        .build();
    let attempts = policy.max_retries.saturating_add(1);
    let mut attempt = 1;
    loop {
        let (retry_in, server, why) = match make().send().await {
            Ok(response) if is_retryable_status(response.status()) => {
                let Some(delay) = delays.next() else {
                    return Ok(response);
                };
                let asked = retry_after(&response).map(|d| d.min(policy.max_delay));
                let status = response.status();
                let server = origin(response.url());
                // Read (within the limit) for the note, which also frees the connection for the retry.
                let body = read_body(response)
                    .await
                    .unwrap_or_else(|e| format!("(body not read: {e})"));
                note(Retried::Answer { status, body });
                (
                    asked.unwrap_or(delay),
                    server,
                    format!("HTTP {}", status.as_u16()),
                )
            }
            Ok(response) => return Ok(response),
            Err(err) if is_retryable_transport(&err) => {
                let Some(delay) = delays.next() else {
                    return Err(err);
                };
                let described = describe_transport_error(&err);
                let server = err.url().map(origin).unwrap_or_default();
                note(Retried::Transport(described.clone()));
                (delay, server, described)
            }
            Err(err) => return Err(err),
        };
        attempt += 1;
        // At the default verbosity: a pipeline log must show why a step is slow before it fails.
        tracing::warn!(
            "{}",
            retry_line(policy.service, &server, &why, retry_in, attempt, attempts)
        );
        tokio::time::sleep(retry_in).await;
    }
}

/// The scheme, host, port and path of `url`: without user info or query, which may hold secrets; with
/// the path, so that concurrent requests to one server tell their retries apart.
fn origin(url: &reqwest::Url) -> String {
    format!("{}{}", url.origin().ascii_serialization(), url.path())
}

/// The warning of a retry: what (`service` at `server`), why, when the next attempt comes and which one
/// it is, e.g. `MLflow http://127.0.0.1:5000/api/2.0/mlflow/runs/search: connection failed: Connection
/// refused; retrying in 2.0s (3/8)`.
pub(crate) fn retry_line(
    service: &str,
    server: &str,
    why: &str,
    delay: Duration,
    attempt: usize,
    attempts: usize,
) -> String {
    let server = if server.is_empty() || server == "null" {
        String::new()
    } else {
        format!(" {server}")
    };
    format!(
        "{service}{server}: {why}; retrying in {} ({attempt}/{attempts})",
        short_duration(delay)
    )
}

/// `250ms`, `2.5s`, `30s`: short enough for a log line, precise enough for backoff delays.
pub(crate) fn short_duration(delay: Duration) -> String {
    let secs = delay.as_secs_f64();
    if secs < 1.0 {
        format!("{}ms", delay.as_millis())
    } else if secs >= 10.0 {
        format!("{}s", secs.round())
    } else {
        format!("{secs:.1}s")
    }
}

/// Connection failures and timeouts may pass; a request that could not even be built will not.
fn is_retryable_transport(err: &reqwest::Error) -> bool {
    !err.is_builder() && !err.is_redirect()
}

/// A transport error as a short message without the URL (which may hold credentials), walking the
/// source chain so that "connection refused" is visible.
pub(crate) fn describe_transport_error(err: &reqwest::Error) -> String {
    let mut message = if err.is_timeout() {
        "timed out".to_string()
    } else if err.is_connect() {
        "connection failed".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(err);
    let mut last = String::new();
    while let Some(cause) = source {
        last = cause.to_string();
        source = cause.source();
    }
    if !last.is_empty() {
        message.push_str(": ");
        message.push_str(&last);
    }
    message
}

/// A short, single-line excerpt of an error body: the `message` of a JSON error when there is one,
/// else the text with HTML tags removed, whitespace folded, and at most `max` characters.
pub(crate) fn excerpt(body: &str, max: usize) -> String {
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(body)
        && let Some(message) = json.get("message").and_then(|m| m.as_str())
    {
        let code = json
            .get("error_code")
            .or_else(|| json.get("error"))
            .and_then(|c| c.as_str())
            .filter(|c| *c != message);
        let text = match code {
            Some(code) => format!("{code}: {message}"),
            None => message.to_string(),
        };
        return truncate(&fold_whitespace(&text), max);
    }
    let mut text = String::with_capacity(body.len().min(4096));
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    let folded = fold_whitespace(&text);
    if folded.is_empty() {
        "(empty body)".to_string()
    } else {
        truncate(&folded, max)
    }
}

/// [`excerpt`] of a body with the `secrets` removed: before the cut, so that no prefix of a secret is
/// left where the cut falls inside it, and after, since a JSON `message` may hold one escaped.
pub(crate) fn scrubbed_excerpt(body: &str, max: usize, secrets: &[&SecretString]) -> String {
    scrub(&excerpt(&scrub(body, secrets), max), secrets)
}

fn fold_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_prefers_the_json_message() {
        let body = r#"{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"Could not find experiment with name 'x'"}"#;
        assert_eq!(
            excerpt(body, 200),
            "RESOURCE_DOES_NOT_EXIST: Could not find experiment with name 'x'"
        );
    }

    #[test]
    fn excerpt_strips_html_and_truncates() {
        let body = "<!doctype html>\n<html><head><title>500 Internal Server Error</title></head>\n<body><h1>Internal Server Error</h1></body></html>";
        assert_eq!(
            excerpt(body, 200),
            "500 Internal Server Error Internal Server Error"
        );
        assert_eq!(excerpt(body, 10), "500 Intern…");
        assert_eq!(excerpt("   ", 10), "(empty body)");
    }

    #[test]
    fn a_retry_says_what_why_when_and_which_attempt() {
        assert_eq!(
            retry_line(
                "MLflow",
                "http://127.0.0.1:5000",
                "connection failed: Connection refused (os error 111)",
                Duration::from_millis(2000),
                3,
                8
            ),
            "MLflow http://127.0.0.1:5000: connection failed: Connection refused (os error 111); retrying in 2.0s (3/8)"
        );
        assert_eq!(
            retry_line("Argo CD", "", "HTTP 503", Duration::from_secs(30), 2, 8),
            "Argo CD: HTTP 503; retrying in 30s (2/8)"
        );
        let url =
            reqwest::Url::parse("https://bob:pw@mlflow.example.com:8443/api?token=x").unwrap();
        assert_eq!(origin(&url), "https://mlflow.example.com:8443/api");
    }

    #[test]
    fn retryable_statuses() {
        assert!(is_retryable_status(StatusCode::TOO_MANY_REQUESTS));
        assert!(is_retryable_status(StatusCode::BAD_GATEWAY));
        assert!(!is_retryable_status(StatusCode::NOT_FOUND));
        assert!(!is_retryable_status(StatusCode::UNAUTHORIZED));
    }
}
