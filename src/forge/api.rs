//! One call to a forge's REST API, shared by the clients: the request (with the token in the header the
//! forge wants), the retries of the shared loop of [`crate::http`], and the answer turned into JSON or
//! into the [`ForgeError`] that names the forge, the repository and what to do.
//!
//! The forges agree on the status codes (401, 403, 404, 409/422, 429, 5xx) and differ in their headers
//! and error bodies: a rate limit is GitHub's 403 with `x-ratelimit-remaining: 0` or anyone's 429, its
//! reset is `x-ratelimit-reset` (GitHub) or `RateLimit-Reset` (GitLab), both epoch seconds, or a
//! `Retry-After`; an error body is `{"message": "...", "errors": [...]}` (GitHub, Gitea), or GitLab's
//! `{"message": "..."}`, `{"message": ["..."]}`, `{"message": {"field": ["..."]}}` or `{"error": "..."}`.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::{ForgeError, ForgeKind};
use crate::http::{RetryPolicy, read_body, send_with_retry};
use crate::secret::{ExposeSecret, SecretString};

/// A forge's API for one repository.
pub(crate) struct Api {
    /// The HTTP client.
    pub(crate) client: reqwest::Client,
    /// The API base, without a trailing slash.
    pub(crate) base: String,
    /// The repository, as messages name it.
    pub(crate) repo: String,
    /// Which forge.
    pub(crate) kind: ForgeKind,
    /// The retries.
    pub(crate) retry: RetryPolicy,
}

/// How the token goes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenHeader {
    /// `Authorization: Bearer TOKEN` (GitHub).
    Bearer,
    /// `Authorization: token TOKEN` (Gitea, Forgejo).
    Token,
    /// `PRIVATE-TOKEN: TOKEN` (GitLab).
    PrivateToken,
}

/// One request.
pub(crate) struct Call<'a> {
    /// The method.
    pub(crate) method: Method,
    /// The whole URL.
    pub(crate) url: &'a str,
    /// The query parameters.
    pub(crate) query: &'a [(&'a str, String)],
    /// The JSON body.
    pub(crate) body: Option<&'a Value>,
    /// What is being done, for messages ("opening a pull request from x to main").
    pub(crate) action: &'a str,
    /// Further headers (`Accept`, an API version).
    pub(crate) headers: &'a [(&'static str, &'static str)],
    /// The token and how to send it.
    pub(crate) token: Option<(&'a SecretString, TokenHeader)>,
}

impl Api {
    /// Sends `call`; the parsed body of a 2xx answer (`Null` when empty), else the matching error.
    pub(crate) async fn send(&self, call: Call<'_>) -> Result<Value, ForgeError> {
        let Call {
            method,
            url,
            query,
            body,
            action,
            headers,
            token,
        } = call;
        let response = send_with_retry(&self.retry, || {
            let mut request = self.client.request(method.clone(), url);
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            if !query.is_empty() {
                request = request.query(query);
            }
            if let Some((token, header)) = token {
                let secret = token.expose_secret();
                request = match header {
                    TokenHeader::Bearer => request.bearer_auth(secret),
                    TokenHeader::Token => {
                        request.header(reqwest::header::AUTHORIZATION, format!("token {secret}"))
                    }
                    TokenHeader::PrivateToken => request.header("PRIVATE-TOKEN", secret),
                };
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            request
        })
        .await
        .map_err(|e| self.unreachable(action, crate::http::describe_transport_error(&e)))?;
        let status = response.status();
        let retry_after = crate::http::retry_after(&response);
        let remaining = header(&response, "x-ratelimit-remaining")
            .or_else(|| header(&response, "ratelimit-remaining"));
        let reset = header(&response, "x-ratelimit-reset")
            .or_else(|| header(&response, "ratelimit-reset"))
            .and_then(|v| v.trim().parse().ok());
        let text = read_body(response)
            .await
            .map_err(|e| self.unreachable(action, e.to_string()))?;
        if status.is_success() {
            if text.trim().is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_str(&text).map_err(|e| self.bad_answer(action, e.to_string()));
        }
        let secrets: Vec<&SecretString> = token.iter().map(|(t, _)| *t).collect();
        let message = crate::secret::scrub(&error_message(&text), &secrets);
        let forge = self.kind;
        let repo = self.repo.clone();
        let action = action.to_string();
        let rate_limited = status == StatusCode::TOO_MANY_REQUESTS
            || (status == StatusCode::FORBIDDEN
                && (remaining.as_deref() == Some("0") || message.contains("rate limit")));
        Err(match status {
            _ if rate_limited => ForgeError::RateLimited {
                forge,
                repo,
                action,
                status: status.as_u16(),
                message,
                reset: super::reset_text(retry_after, reset),
            },
            StatusCode::UNAUTHORIZED => ForgeError::Unauthorized {
                forge,
                repo,
                api: self.base.clone(),
                message,
            },
            StatusCode::FORBIDDEN => ForgeError::Forbidden {
                forge,
                repo,
                action,
                message,
            },
            StatusCode::NOT_FOUND => ForgeError::NotFound {
                forge,
                repo,
                api: self.base.clone(),
                what: action,
            },
            s if s.is_server_error() => ForgeError::Unreachable {
                forge,
                repo,
                api: self.base.clone(),
                action,
                message: format!("{s}: {message}"),
            },
            s => ForgeError::Refused {
                forge,
                repo,
                action,
                status: s.as_u16(),
                message,
            },
        })
    }

    /// The forge could not be reached (or its answer not read).
    pub(crate) fn unreachable(&self, action: &str, message: String) -> ForgeError {
        ForgeError::Unreachable {
            forge: self.kind,
            repo: self.repo.clone(),
            api: self.base.clone(),
            action: action.to_string(),
            message,
        }
    }

    /// An answer that is not what the forge documents.
    pub(crate) fn bad_answer(&self, action: &str, message: String) -> ForgeError {
        ForgeError::BadAnswer {
            forge: self.kind,
            repo: self.repo.clone(),
            action: action.to_string(),
            message,
        }
    }
}

/// The pull requests of a list answer whose head is `head`, each read by `parse`.
pub(crate) fn pull_requests_of(
    api: &Api,
    answer: &Value,
    head: &str,
    action: &str,
    parse: impl Fn(&Value) -> Option<super::PullRequest>,
) -> Result<Vec<super::PullRequest>, ForgeError> {
    let list = answer
        .as_array()
        .ok_or_else(|| api.bad_answer(action, "expected a list".into()))?;
    list.iter()
        .map(|v| {
            parse(v).ok_or_else(|| api.bad_answer(action, "no pull request in the list".into()))
        })
        .filter(|pr| pr.as_ref().map_or(true, |pr| pr.head == head))
        .collect()
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Percent-encodes one path segment (GitLab's `group%2Fsub%2Frepo` included).
pub(crate) fn encode(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The forge's error message: `message` (a string, a list, or GitLab's field -> messages map) or
/// `error`, with GitHub's validation errors (`errors[].message` or `.code`); an excerpt of anything else.
pub(crate) fn error_message(body: &str) -> String {
    let Ok(json) = serde_json::from_str::<Value>(body) else {
        return crate::http::excerpt(body, 300);
    };
    let mut message = match json.get("message").or_else(|| json.get("error")) {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join("; "),
        Some(Value::Object(fields)) => fields
            .iter()
            .map(|(field, problems)| {
                let problems = match problems {
                    Value::Array(items) => items
                        .iter()
                        .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                        .collect::<Vec<_>>()
                        .join(", "),
                    other => other
                        .as_str()
                        .map_or_else(|| other.to_string(), str::to_string),
                };
                format!("{field} {problems}")
            })
            .collect::<Vec<_>>()
            .join("; "),
        _ => String::new(),
    };
    if let Some(errors) = json.get("errors").and_then(Value::as_array) {
        let details: Vec<String> = errors
            .iter()
            .filter_map(|e| {
                e.get("message")
                    .or_else(|| e.get("code"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect();
        if !details.is_empty() {
            message.push_str(": ");
            message.push_str(&details.join("; "));
        }
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_of_every_forge_are_read() {
        let github = r#"{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"A pull request already exists for acme:modelbump/x."}],"documentation_url":"https://docs.github.com/rest"}"#;
        assert_eq!(
            error_message(github),
            "Validation Failed: A pull request already exists for acme:modelbump/x."
        );
        assert_eq!(error_message("<html>oops</html>"), "oops");
        assert_eq!(
            error_message(
                r#"{"message":["Another open merge request already exists for this source branch: !1"]}"#
            ),
            "Another open merge request already exists for this source branch: !1"
        );
        assert_eq!(
            error_message(r#"{"message":{"title":["can't be blank"],"base":["is invalid"]}}"#),
            "base is invalid; title can't be blank"
        );
        assert_eq!(
            error_message(r#"{"error":"insufficient_scope"}"#),
            "insufficient_scope"
        );
        assert_eq!(encode("platform/ml/gitops"), "platform%2Fml%2Fgitops");
    }
}
