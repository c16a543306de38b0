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

use reqwest::Method;
use serde_json::{Value, json};

use super::api::{Api, Call, TokenHeader, encode};
use super::{Auth, Forge, ForgeError, ForgeKind, NewPullRequest, PrState, PullRequest, RepoId};
use crate::http::RetryPolicy;

/// A GitHub client for one repository.
pub(crate) struct GitHub {
    api: Api,
    repo: RepoId,
    auth: Auth,
}

impl GitHub {
    /// A client of `api` (no trailing slash) for `repo`, authenticating with `auth`.
    pub(crate) fn new(
        client: reqwest::Client,
        api: &str,
        repo: RepoId,
        auth: Auth,
        retry: RetryPolicy,
    ) -> Self {
        Self {
            api: Api {
                client,
                base: api.trim_end_matches('/').to_string(),
                repo: repo.to_string(),
                kind: ForgeKind::GitHub,
                retry,
            },
            repo,
            auth,
        }
    }

    /// A Gitea or Forgejo client of `api` (`https://HOST/api/v1`) for `repo`.
    pub(crate) fn gitea(
        client: reqwest::Client,
        api: &str,
        repo: RepoId,
        auth: Auth,
        retry: RetryPolicy,
    ) -> Self {
        let mut gitea = Self::new(client, api, repo, auth, retry);
        gitea.api.kind = ForgeKind::Gitea;
        gitea
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
            self.api.base,
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
        let token = self.auth.current().await?;
        let (headers, header): (&[(&str, &str)], _) = match self.api.kind {
            ForgeKind::GitHub => (
                &[
                    ("Accept", "application/vnd.github+json"),
                    ("X-GitHub-Api-Version", "2022-11-28"),
                ],
                TokenHeader::Bearer,
            ),
            _ => (&[("Accept", "application/json")], TokenHeader::Token),
        };
        self.api
            .send(Call {
                method,
                url,
                query,
                body,
                action,
                headers,
                token: token.as_ref().map(|t| (t, header)),
            })
            .await
    }

    fn parse_pr(&self, value: &Value, action: &str) -> Result<PullRequest, ForgeError> {
        parse_pull_request(value).ok_or_else(|| {
            self.api
                .bad_answer(action, "no pull request in the answer".into())
        })
    }
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
        self.api.kind
    }

    async fn pull_requests_from(&self, head: &str) -> Result<Vec<PullRequest>, ForgeError> {
        let action = format!("listing the pull requests from {head}");
        let url = format!("{}/pulls", self.repo_path());
        let query: Vec<(&str, String)> = match self.api.kind {
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
        super::api::pull_requests_of(&self.api, &answer, head, &action, parse_pull_request)
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
        let body = match self.api.kind {
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
