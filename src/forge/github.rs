//! The GitHub REST API (github.com and Enterprise Server): pull requests, their labels and reviewers.
//!
//! The calls and fields are those of GitHub's published OpenAPI description (`api.github.com`), against
//! which the test stand-in checks every request and answer: `GET /repos/{owner}/{repo}/pulls?head=&state=all`,
//! `GET|PATCH /repos/{owner}/{repo}/pulls/{number}` (the GET is `--wait-merged`'s poll), `POST /repos/{owner}/{repo}/pulls`,
//! `POST /repos/{owner}/{repo}/issues/{number}/labels`, `POST .../pulls/{number}/requested_reviewers`.
//! The API base is `https://api.github.com` for github.com and `https://HOST/api/v3` for Enterprise
//! Server, unless configured (`git.forgeApi`).
//!
//! Gitea and Forgejo (API v1) model their pull-request API on GitHub's: the same paths under
//! `https://HOST/api/v1`, the same `PullRequest` fields (`number`, `html_url`, `state`, `merged`,
//! `merge_commit_sha`, `head.ref`/`sha`, `base.ref`), `PATCH .../pulls/{index}`, labels through the
//! issues API, `requested_reviewers`. So this one client speaks both ([`GitHub::gitea`]); what differs is
//! the token header (`Authorization: token ...`), the list call (Gitea cannot filter by head: its
//! `GET .../pulls?state=all&sort=recentupdate&limit=50` is filtered here), the creation body (no
//! `draft` or `maintainer_can_modify`: a draft is opened with Gitea's `WIP: ` title prefix) and that
//! Gitea takes label names as well as ids.
//!
//! A rate limit shows as 429, or as 403 with `x-ratelimit-remaining: 0`; both are retried by the shared
//! loop when a `Retry-After` is given, and reported with the reset time when they outlast the retries.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Forge, ForgeError, ForgeKind, NewPullRequest, PrState, PullRequest, RepoId};
use crate::http::{RetryPolicy, read_body, send_with_retry};
use crate::secret::{ExposeSecret, SecretString};

/// A GitHub client for one repository.
pub(crate) struct GitHub {
    client: reqwest::Client,
    api: String,
    repo: RepoId,
    token: Option<SecretString>,
    retry: RetryPolicy,
    kind: ForgeKind,
}

impl GitHub {
    /// A client of `api` (no trailing slash) for `repo`, authenticating with `token`.
    pub(crate) fn new(
        client: reqwest::Client,
        api: &str,
        repo: RepoId,
        token: Option<SecretString>,
        retry: RetryPolicy,
    ) -> Self {
        Self {
            client,
            api: api.trim_end_matches('/').to_string(),
            repo,
            token,
            retry,
            kind: ForgeKind::GitHub,
        }
    }

    /// A Gitea or Forgejo client of `api` (`https://HOST/api/v1`) for `repo`.
    pub(crate) fn gitea(
        client: reqwest::Client,
        api: &str,
        repo: RepoId,
        token: Option<SecretString>,
        retry: RetryPolicy,
    ) -> Self {
        Self {
            kind: ForgeKind::Gitea,
            ..Self::new(client, api, repo, token, retry)
        }
    }

    /// The API base for a remote host: github.com's own, else Enterprise Server's `/api/v3`.
    pub(crate) fn default_api(host: &str, web_base: &str) -> String {
        if host.eq_ignore_ascii_case("github.com") {
            "https://api.github.com".to_string()
        } else {
            format!("{web_base}/api/v3")
        }
    }

    fn repo_path(&self) -> String {
        format!(
            "{}/repos/{}/{}",
            self.api,
            encode(&self.repo.owner),
            encode(&self.repo.name)
        )
    }

    /// Sends a request; returns the parsed body of a 2xx answer, else the matching error.
    async fn call(
        &self,
        method: Method,
        url: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        action: &str,
    ) -> Result<Value, ForgeError> {
        let response = send_with_retry(&self.retry, || {
            let mut request = self
                .client
                .request(method.clone(), url)
                .header("Accept", self.accept());
            if self.kind == ForgeKind::GitHub {
                request = request.header("X-GitHub-Api-Version", "2022-11-28");
            }
            if !query.is_empty() {
                request = request.query(query);
            }
            if let Some(token) = &self.token {
                request = match self.kind {
                    ForgeKind::Gitea => request.header(
                        reqwest::header::AUTHORIZATION,
                        format!("token {}", token.expose_secret()),
                    ),
                    _ => request.bearer_auth(token.expose_secret()),
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
        let remaining = header(&response, "x-ratelimit-remaining");
        let reset = header(&response, "x-ratelimit-reset").and_then(|v| v.parse().ok());
        let text = read_body(response)
            .await
            .map_err(|e| self.unreachable(action, e.to_string()))?;
        let secrets: Vec<&SecretString> = self.token.iter().collect();
        let message = crate::secret::scrub(&error_message(&text), &secrets);
        if status.is_success() {
            if text.trim().is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_str(&text).map_err(|e| ForgeError::BadAnswer {
                forge: self.kind,
                repo: self.repo.to_string(),
                action: action.to_string(),
                message: e.to_string(),
            });
        }
        let forge = self.kind;
        let repo = self.repo.to_string();
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
                api: self.api.clone(),
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
                api: self.api.clone(),
                what: action,
            },
            s if s.is_server_error() => ForgeError::Unreachable {
                forge,
                repo,
                api: self.api.clone(),
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

    fn accept(&self) -> &'static str {
        match self.kind {
            ForgeKind::GitHub => "application/vnd.github+json",
            _ => "application/json",
        }
    }

    fn unreachable(&self, action: &str, message: String) -> ForgeError {
        ForgeError::Unreachable {
            forge: self.kind,
            repo: self.repo.to_string(),
            api: self.api.clone(),
            action: action.to_string(),
            message,
        }
    }

    fn parse_pr(&self, value: &Value, action: &str) -> Result<PullRequest, ForgeError> {
        parse_pull_request(value).ok_or_else(|| ForgeError::BadAnswer {
            forge: self.kind,
            repo: self.repo.to_string(),
            action: action.to_string(),
            message: "no pull request in the answer".into(),
        })
    }
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn encode(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// GitHub's error message with its validation errors (`errors[].message` or `.code`).
fn error_message(body: &str) -> String {
    let Ok(json) = serde_json::from_str::<Value>(body) else {
        return crate::http::excerpt(body, 300);
    };
    let mut message = json
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
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

/// A pull request of GitHub's `pull-request` or `pull-request-simple` schema.
fn parse_pull_request(value: &Value) -> Option<PullRequest> {
    let merged = value.get("merged_at").is_some_and(|m| !m.is_null())
        || value.get("merged").and_then(Value::as_bool) == Some(true);
    let state = match (value.get("state")?.as_str()?, merged) {
        (_, true) => PrState::Merged,
        ("open", _) => PrState::Open,
        _ => PrState::Closed,
    };
    Some(PullRequest {
        number: value.get("number")?.as_u64()?,
        url: value.get("html_url")?.as_str()?.to_string(),
        state,
        head: value.pointer("/head/ref")?.as_str()?.to_string(),
        head_sha: value
            .pointer("/head/sha")
            .and_then(Value::as_str)
            .map(str::to_string),
        base: value.pointer("/base/ref")?.as_str()?.to_string(),
        title: value.get("title")?.as_str()?.to_string(),
        body: value
            .get("body")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        merge_commit: value
            .get("merge_commit_sha")
            .and_then(Value::as_str)
            .filter(|_| merged)
            .map(str::to_string),
    })
}

#[async_trait::async_trait]
impl Forge for GitHub {
    fn kind(&self) -> ForgeKind {
        self.kind
    }

    async fn pull_requests_from(&self, head: &str) -> Result<Vec<PullRequest>, ForgeError> {
        let action = format!("listing the pull requests from {head}");
        let url = format!("{}/pulls", self.repo_path());
        let query: Vec<(&str, String)> = match self.kind {
            // Gitea lists without a head filter: the most recently updated, filtered below.
            ForgeKind::Gitea => vec![
                ("state", "all".to_string()),
                ("sort", "recentupdate".to_string()),
                ("limit", "50".to_string()),
            ],
            _ => vec![
                ("head", format!("{}:{head}", self.repo.owner)),
                ("state", "all".to_string()),
                ("sort", "created".to_string()),
                ("direction", "desc".to_string()),
                ("per_page", "100".to_string()),
            ],
        };
        let answer = self.call(Method::GET, &url, &query, None, &action).await?;
        let list = answer.as_array().ok_or_else(|| ForgeError::BadAnswer {
            forge: self.kind,
            repo: self.repo.to_string(),
            action: action.clone(),
            message: "expected a list".into(),
        })?;
        list.iter()
            .map(|v| self.parse_pr(v, &action))
            .filter(|pr| pr.as_ref().map_or(true, |pr| pr.head == head))
            .collect()
    }

    async fn get(&self, number: u64) -> Result<PullRequest, ForgeError> {
        let action = format!("reading pull request #{number}");
        let url = format!("{}/pulls/{number}", self.repo_path());
        let answer = self.call(Method::GET, &url, &[], None, &action).await?;
        self.parse_pr(&answer, &action)
    }

    async fn open(&self, new: &NewPullRequest) -> Result<PullRequest, ForgeError> {
        let action = format!("opening a pull request from {} to {}", new.head, new.base);
        let url = format!("{}/pulls", self.repo_path());
        let body = match self.kind {
            ForgeKind::Gitea => json!({
                "title": if new.draft { format!("WIP: {}", new.title) } else { new.title.clone() },
                "head": new.head,
                "base": new.base,
                "body": new.body,
            }),
            _ => json!({
                "title": new.title,
                "head": new.head,
                "base": new.base,
                "body": new.body,
                "draft": new.draft,
                "maintainer_can_modify": false,
            }),
        };
        let answer = self
            .call(Method::POST, &url, &[], Some(&body), &action)
            .await?;
        self.parse_pr(&answer, &action)
    }

    async fn update(
        &self,
        number: u64,
        title: &str,
        body: &str,
    ) -> Result<PullRequest, ForgeError> {
        let action = format!("updating pull request #{number}");
        let url = format!("{}/pulls/{number}", self.repo_path());
        let body = json!({"title": title, "body": body});
        let answer = self
            .call(Method::PATCH, &url, &[], Some(&body), &action)
            .await?;
        self.parse_pr(&answer, &action)
    }

    async fn add_labels(&self, number: u64, labels: &[String]) -> Result<(), ForgeError> {
        if labels.is_empty() {
            return Ok(());
        }
        let action = format!("labelling pull request #{number}");
        let url = format!("{}/issues/{number}/labels", self.repo_path());
        let body = json!({ "labels": labels });
        self.call(Method::POST, &url, &[], Some(&body), &action)
            .await
            .map(drop)
    }

    async fn request_reviewers(&self, number: u64, reviewers: &[String]) -> Result<(), ForgeError> {
        if reviewers.is_empty() {
            return Ok(());
        }
        let action = format!("requesting reviews on pull request #{number}");
        let url = format!("{}/pulls/{number}/requested_reviewers", self.repo_path());
        // `org/team` names a team, anything else a user.
        let (teams, users): (Vec<&String>, Vec<&String>) =
            reviewers.iter().partition(|r| r.contains('/'));
        let teams: Vec<&str> = teams
            .iter()
            .filter_map(|t| t.split_once('/').map(|(_, slug)| slug))
            .collect();
        let body = json!({ "reviewers": users, "team_reviewers": teams });
        self.call(Method::POST, &url, &[], Some(&body), &action)
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors_are_part_of_the_message() {
        let body = r#"{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"A pull request already exists for acme:modelbump/x."}],"documentation_url":"https://docs.github.com/rest"}"#;
        assert_eq!(
            error_message(body),
            "Validation Failed: A pull request already exists for acme:modelbump/x."
        );
        assert_eq!(error_message("<html>oops</html>"), "oops");
    }

    #[test]
    fn pull_requests_read_their_state() {
        let pr = json!({"number": 3, "html_url": "https://github.com/a/b/pull/3", "state": "closed",
            "merged_at": "2026-01-01T00:00:00Z", "merge_commit_sha": "abc",
            "head": {"ref": "modelbump/x", "sha": "def"}, "base": {"ref": "main"},
            "title": "t", "body": null});
        let parsed = parse_pull_request(&pr).unwrap();
        assert_eq!(parsed.state, PrState::Merged);
        assert_eq!(parsed.merge_commit.as_deref(), Some("abc"));
        assert_eq!(parsed.body, "");
        let open = json!({"number": 4, "html_url": "u", "state": "open", "merged_at": null,
            "merge_commit_sha": "zzz", "head": {"ref": "h", "sha": "s"}, "base": {"ref": "main"},
            "title": "t", "body": "b"});
        let parsed = parse_pull_request(&open).unwrap();
        assert_eq!(parsed.state, PrState::Open);
        assert_eq!(parsed.merge_commit, None);
        assert_eq!(
            GitHub::default_api("github.com", "https://github.com"),
            "https://api.github.com"
        );
        assert_eq!(
            GitHub::default_api("ghe.acme.io", "https://ghe.acme.io"),
            "https://ghe.acme.io/api/v3"
        );
    }
}
