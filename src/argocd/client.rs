//! A small client for the three Argo CD REST calls `sync` needs: get (with refresh), sync, and the
//! grpc-gateway error shape they answer with.
//!
//! It speaks the REST API rather than gRPC because the REST gateway is what every Argo CD exposes on the
//! same port, needs no code generation, and is what the swagger in Argo CD's repository documents. The
//! token travels only in the `Authorization` header and is scrubbed from every message built from a
//! response, since a proxy or server may echo it. Every message names the call it is about, and the
//! attempts that are retried are noted in a [`LastFailure`], so that a deadline passing during the
//! retries can still say what the server answered.

use std::sync::Mutex;
use std::time::Duration;

use reqwest::StatusCode;
use serde::Serialize;
use url::Url;

use super::ArgoCdError;
use super::app::Application;
use crate::http::{self, RetryPolicy};
use crate::secret::{ExposeSecret, SecretString, scrub};

/// The longest excerpt of an error body put in a message.
const EXCERPT: usize = 300;

/// Which application, and in which namespace when it is not in Argo CD's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRef {
    /// `metadata.name`
    pub name: String,
    /// `metadata.namespace`, for apps in any namespace.
    pub namespace: Option<String>,
}

impl AppRef {
    /// Parses `NAME` or `NAMESPACE/NAME` (the argocd CLI's qualified form); `default_namespace` applies
    /// to the plain form.
    pub fn parse(text: &str, default_namespace: Option<&str>) -> Self {
        match text.split_once('/') {
            Some((namespace, name)) if !namespace.is_empty() && !name.is_empty() => Self {
                name: name.to_string(),
                namespace: Some(namespace.to_string()),
            },
            _ => Self {
                name: text.to_string(),
                namespace: default_namespace.map(str::to_string),
            },
        }
    }
}

impl std::fmt::Display for AppRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{ns}/{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// The body of `POST /api/v1/applications/{name}/sync` (`applicationApplicationSyncRequest`); only
/// the fields `sync` sets.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SyncRequest {
    /// The application's name.
    pub name: String,
    /// The revision to sync to; absent for automated apps, which refuse any but their own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// The application's namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_namespace: Option<String>,
}

/// What the calls for one app last failed with while they were being retried, cleared by the next
/// answer that is not an error: when the deadline passes during the retries, the timeout says what
/// the server answered instead of guessing that it did not.
#[derive(Debug, Default)]
pub(crate) struct LastFailure(Mutex<Option<Failure>>);

/// A failed attempt, described with its call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The server answered an error: `HTTP 500 to the refresh of application A (GET ...): excerpt`.
    Answered(String),
    /// No answer: `the refresh of application A (GET ...): connection failed: ...`.
    NoAnswer(String),
}

impl LastFailure {
    /// The last failure since the last good answer, if any.
    pub(crate) fn get(&self) -> Option<Failure> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set(&self, failure: Option<Failure>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = failure;
    }
}

/// The REST client of one Argo CD server.
#[derive(Clone)]
pub(crate) struct Client {
    http: reqwest::Client,
    base: Url,
    token: SecretString,
    retry: RetryPolicy,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `base` (scheme and host, no credentials) authenticating with `token`.
    pub(crate) fn new(
        http: reqwest::Client,
        base: Url,
        token: SecretString,
        retry: RetryPolicy,
    ) -> Self {
        Self {
            http,
            base,
            token,
            retry,
        }
    }

    /// The server, for messages.
    pub(crate) fn server(&self) -> String {
        crate::secret::redact_url(self.base.as_str())
    }

    /// `GET /api/v1/applications/{name}`, with `?refresh=normal` to have the controller compare the app
    /// with git first (the call returns once it has). Failed attempts are noted in `failure`.
    pub(crate) async fn get(
        &self,
        app: &AppRef,
        refresh: bool,
        failure: &LastFailure,
    ) -> Result<Application, ArgoCdError> {
        let mut url = self.app_url(app, "")?;
        {
            let mut query = url.query_pairs_mut();
            if refresh {
                query.append_pair("refresh", "normal");
            }
            if let Some(ns) = &app.namespace {
                query.append_pair("appNamespace", ns);
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        let what = if refresh { "refresh" } else { "status" };
        let call = describe_call(what, app, "GET", &url);
        let response = http::send_with_retry_noting(
            &self.retry,
            || {
                self.http
                    .get(url.clone())
                    .bearer_auth(self.token.expose_secret())
            },
            |retried| failure.set(Some(self.failure(&call, retried))),
        )
        .await
        .map_err(|e| self.transport(app, &e))?;
        self.parse(app, &call, response, failure).await
    }

    /// `POST /api/v1/applications/{name}/sync`. Failed attempts are noted in `failure`.
    pub(crate) async fn sync(
        &self,
        app: &AppRef,
        request: &SyncRequest,
        failure: &LastFailure,
    ) -> Result<Application, ArgoCdError> {
        let url = self.app_url(app, "/sync")?;
        let call = describe_call("sync", app, "POST", &url);
        let response = http::send_with_retry_noting(
            &self.retry,
            || {
                self.http
                    .post(url.clone())
                    .json(request)
                    .bearer_auth(self.token.expose_secret())
            },
            |retried| failure.set(Some(self.failure(&call, retried))),
        )
        .await
        .map_err(|e| self.transport(app, &e))?;
        self.parse(app, &call, response, failure).await
    }

    /// A retried attempt as a [`Failure`], the body excerpted and scrubbed.
    fn failure(&self, call: &str, retried: http::Retried) -> Failure {
        match retried {
            http::Retried::Answer { status, body } => Failure::Answered(format!(
                "HTTP {} to {call}: {}",
                status.as_u16(),
                http::scrubbed_excerpt(&body, EXCERPT, &[&self.token])
            )),
            http::Retried::Transport(message) => {
                Failure::NoAnswer(format!("{call}: {}", scrub(&message, &[&self.token])))
            }
        }
    }

    fn app_url(&self, app: &AppRef, suffix: &str) -> Result<Url, ArgoCdError> {
        let mut url = self.base.clone();
        {
            let mut segments = url
                .path_segments_mut()
                .map_err(|()| ArgoCdError::BadServer {
                    server: self.server(),
                    message: "it cannot be a base URL".into(),
                })?;
            segments
                .pop_if_empty()
                .extend(["api", "v1", "applications", &app.name]);
            if let Some(rest) = suffix.strip_prefix('/') {
                segments.push(rest);
            }
        }
        Ok(url)
    }

    fn transport(&self, app: &AppRef, err: &reqwest::Error) -> ArgoCdError {
        ArgoCdError::Unreachable {
            server: self.server(),
            app: app.to_string(),
            message: scrub(&http::describe_transport_error(err), &[&self.token]),
        }
    }

    async fn parse(
        &self,
        app: &AppRef,
        call: &str,
        response: reqwest::Response,
        failure: &LastFailure,
    ) -> Result<Application, ArgoCdError> {
        let status = response.status();
        let body = match http::read_body(response).await {
            Ok(body) => body,
            Err(http::BodyError::Transport(e)) => return Err(self.transport(app, &e)),
            Err(e) if status.is_success() => {
                return Err(ArgoCdError::BadResponse {
                    server: self.server(),
                    app: app.to_string(),
                    message: e.to_string(),
                });
            }
            // The status still says what happened; the message says why there is no excerpt.
            Err(e) => format!("({e})"),
        };
        if status.is_success() {
            failure.set(None);
            return serde_json::from_str(&body).map_err(|e| ArgoCdError::BadResponse {
                server: self.server(),
                app: app.to_string(),
                message: e.to_string(),
            });
        }
        let message = http::scrubbed_excerpt(&body, EXCERPT, &[&self.token]);
        let server = self.server();
        let app = app.to_string();
        Err(match status {
            StatusCode::UNAUTHORIZED => ArgoCdError::Unauthenticated { server, message },
            StatusCode::FORBIDDEN => ArgoCdError::PermissionDenied {
                server,
                app,
                message,
            },
            StatusCode::NOT_FOUND => ArgoCdError::NotFound {
                server,
                app,
                message,
            },
            StatusCode::BAD_REQUEST
                if message.contains("another operation is already in progress") =>
            {
                ArgoCdError::OperationInProgress { app }
            }
            _ => ArgoCdError::Api {
                server,
                call: call.to_string(),
                status: status.as_u16(),
                message,
            },
        })
    }
}

/// `the refresh of application A (GET /api/v1/applications/A?refresh=normal)`, for messages.
fn describe_call(what: &str, app: &AppRef, method: &str, url: &Url) -> String {
    format!(
        "the {what} of application {app} ({method} {})",
        &url[url::Position::BeforePath..]
    )
}

/// The base URL of the server from what users write in `ARGOCD_SERVER`: `host[:port]` as the argocd CLI
/// takes it (HTTPS, or HTTP with `plaintext`), or a full `http(s)://` URL.
pub(crate) fn server_url(server: &str, plaintext: bool) -> Result<Url, ArgoCdError> {
    let server = server.trim().trim_end_matches('/');
    let text = if server.contains("://") {
        server.to_string()
    } else if plaintext {
        format!("http://{server}")
    } else {
        format!("https://{server}")
    };
    let url = Url::parse(&text).map_err(|e| ArgoCdError::BadServer {
        server: crate::secret::redact_url(server),
        message: e.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
        return Err(ArgoCdError::BadServer {
            server: crate::secret::redact_url(server),
            message: "expected host[:port] or an http(s):// URL".into(),
        });
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ArgoCdError::BadServer {
            server: crate::secret::redact_url(server),
            message: "credentials do not belong in the server address; set ARGOCD_AUTH_TOKEN"
                .into(),
        });
    }
    Ok(url)
}

/// The default pause between two looks at an application.
pub(crate) const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_forms() {
        assert_eq!(
            server_url("argocd.example.com", false).unwrap().as_str(),
            "https://argocd.example.com/"
        );
        assert_eq!(
            server_url("localhost:8080", true).unwrap().as_str(),
            "http://localhost:8080/"
        );
        assert_eq!(
            server_url("https://argocd.example.com/argo-cd/", true)
                .unwrap()
                .as_str(),
            "https://argocd.example.com/argo-cd"
        );
        assert!(server_url("https://admin:pw@argocd.example.com", false).is_err());
        assert!(server_url("ftp://argocd.example.com", false).is_err());
    }

    #[test]
    fn app_urls_keep_a_path_prefix() {
        let client = Client::new(
            reqwest::Client::new(),
            server_url("https://argocd.example.com/argo-cd", false).unwrap(),
            SecretString::from("t"),
            RetryPolicy::default(),
        );
        let app = AppRef::parse("team/my app", None);
        assert_eq!(
            client.app_url(&app, "/sync").unwrap().as_str(),
            "https://argocd.example.com/argo-cd/api/v1/applications/my%20app/sync"
        );
        assert_eq!(app.namespace.as_deref(), Some("team"));
        assert_eq!(app.to_string(), "team/my app");
        assert_eq!(
            AppRef::parse("plain", Some("apps")).namespace.as_deref(),
            Some("apps")
        );
    }

    #[test]
    fn sync_request_omits_what_is_not_set() {
        let body = serde_json::to_value(SyncRequest {
            name: "a".into(),
            revision: None,
            app_namespace: None,
        })
        .unwrap();
        assert_eq!(body, serde_json::json!({"name": "a"}));
    }
}
