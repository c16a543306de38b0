//! GitLab merge requests (REST API v4, gitlab.com and self-managed).
//!
//! The calls are those of GitLab's merge request and users API documentation: the project is addressed
//! by its URL-encoded path (`/projects/group%2Fsub%2Frepo`); `GET .../merge_requests?source_branch=&state=all`
//! lists them, `GET .../merge_requests/{iid}` reads one (`--wait-merged`'s poll), `POST .../merge_requests`
//! opens one (`source_branch`, `target_branch`, `title`, `description`), `PUT .../merge_requests/{iid}`
//! sets the title and description, and adds labels (`add_labels`, a comma-separated list) and
//! reviewers (`reviewer_ids`: GitLab takes user ids, so each username is looked up with
//! `GET /users?username=` first). A merge request's number is its `iid`; its state is `opened`,
//! `closed`, `locked` (being merged: still open here) or `merged`, and a merged one's commit is its
//! `merge_commit_sha`, else its `squash_commit_sha` (a fast-forward merge has neither: the base tip is
//! used). GitLab has no draft flag on creation: a draft is a title starting with `Draft: `, kept when the
//! title is updated.
//!
//! The token (the one used for the push) goes in the `PRIVATE-TOKEN` header, which GitLab takes for
//! personal, project and group access tokens alike; it needs the `api` scope (and `write_repository`
//! for the push). The API base is `https://HOST/api/v4` unless configured (`git.forgeApi`).
//! Errors: 409 is GitLab's "Another open merge request already exists for this source branch"; a rate
//! limit is 429 with `RateLimit-Reset` or `Retry-After`, retried by the shared loop (see [`super::api`]).

use reqwest::Method;
use serde_json::{Value, json};

use super::api::{Api, Call, TokenHeader, encode};
use super::{Auth, Forge, ForgeError, ForgeKind, NewPullRequest, PrState, PullRequest, RepoId};
use crate::http::RetryPolicy;

/// GitLab's draft marker, a title prefix.
const DRAFT: &str = "Draft: ";

/// A GitLab client for one project.
pub(crate) struct GitLab {
    api: Api,
    project: String,
    auth: Auth,
    draft: bool,
}

impl GitLab {
    /// A client of `api` (`https://HOST/api/v4`) for `repo`; `draft` keeps titles marked as drafts.
    pub(crate) fn new(
        client: reqwest::Client,
        api: &str,
        repo: &RepoId,
        auth: Auth,
        retry: RetryPolicy,
        draft: bool,
    ) -> Self {
        Self {
            api: Api {
                client,
                base: api.trim_end_matches('/').to_string(),
                repo: repo.to_string(),
                kind: ForgeKind::GitLab,
                retry,
            },
            project: format!("{}/{}", repo.owner, repo.name),
            auth,
            draft,
        }
    }

    /// The API base for a remote's web base.
    pub(crate) fn default_api(web_base: &str) -> String {
        format!("{web_base}/api/v4")
    }

    fn project_url(&self) -> String {
        format!("{}/projects/{}", self.api.base, encode(&self.project))
    }

    async fn call(
        &self,
        method: Method,
        url: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        action: &str,
    ) -> Result<Value, ForgeError> {
        let token = self.auth.current().await?;
        self.api
            .send(Call {
                method,
                url,
                query,
                body,
                action,
                headers: &[("Accept", "application/json")],
                token: token.as_ref().map(|t| (t, TokenHeader::PrivateToken)),
            })
            .await
    }

    fn parse(&self, value: &Value, action: &str) -> Result<PullRequest, ForgeError> {
        parse_merge_request(value).ok_or_else(|| {
            self.api
                .bad_answer(action, "no merge request in the answer".into())
        })
    }

    fn title(&self, title: &str) -> String {
        if self.draft && !title.starts_with(DRAFT) {
            format!("{DRAFT}{title}")
        } else {
            title.to_string()
        }
    }

    /// `PUT .../merge_requests/{iid}` with `body`.
    async fn edit(&self, iid: u64, body: &Value, action: &str) -> Result<Value, ForgeError> {
        let url = format!("{}/merge_requests/{iid}", self.project_url());
        self.call(Method::PUT, &url, &[], Some(body), action).await
    }

    /// The user id of `username` (`GET /users?username=`).
    async fn user_id(&self, username: &str, action: &str) -> Result<u64, ForgeError> {
        let url = format!("{}/users", self.api.base);
        let answer = self
            .call(
                Method::GET,
                &url,
                &[("username", username.to_string())],
                None,
                action,
            )
            .await?;
        answer
            .as_array()
            .and_then(|users| users.first())
            .and_then(|u| u.get("id"))
            .and_then(Value::as_u64)
            .ok_or_else(|| ForgeError::Refused {
                forge: ForgeKind::GitLab,
                repo: self.api.repo.clone(),
                action: action.to_string(),
                status: 404,
                message: format!(
                    "no user {username} (reviewers are GitLab usernames, without @; check git.pullRequest.reviewers)"
                ),
            })
    }
}

/// A merge request of GitLab's API.
fn parse_merge_request(value: &Value) -> Option<PullRequest> {
    let state = match value.get("state")?.as_str()? {
        "merged" => PrState::Merged,
        "opened" | "locked" => PrState::Open,
        _ => PrState::Closed,
    };
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);
    Some(PullRequest {
        number: value.get("iid")?.as_u64()?,
        url: text("web_url")?,
        state,
        head: text("source_branch")?,
        head_sha: text("sha"),
        base: text("target_branch")?,
        title: text("title")?,
        body: text("description").unwrap_or_default(),
        merge_commit: (state == PrState::Merged)
            .then(|| text("merge_commit_sha").or_else(|| text("squash_commit_sha")))
            .flatten(),
    })
}

#[async_trait::async_trait]
impl Forge for GitLab {
    fn kind(&self) -> ForgeKind {
        ForgeKind::GitLab
    }

    async fn pull_requests_from(&self, head: &str) -> Result<Vec<PullRequest>, ForgeError> {
        let action = format!("listing the merge requests from {head}");
        let url = format!("{}/merge_requests", self.project_url());
        let query = [
            ("source_branch", head.to_string()),
            ("state", "all".to_string()),
            ("order_by", "created_at".to_string()),
            ("sort", "desc".to_string()),
            ("per_page", "100".to_string()),
        ];
        let answer = self.call(Method::GET, &url, &query, None, &action).await?;
        super::api::pull_requests_of(&self.api, &answer, head, &action, parse_merge_request)
    }

    async fn get(&self, number: u64) -> Result<PullRequest, ForgeError> {
        let action = format!("reading merge request !{number}");
        let url = format!("{}/merge_requests/{number}", self.project_url());
        let answer = self.call(Method::GET, &url, &[], None, &action).await?;
        self.parse(&answer, &action)
    }

    async fn open(&self, new: &NewPullRequest) -> Result<PullRequest, ForgeError> {
        let action = format!("opening a merge request from {} to {}", new.head, new.base);
        let url = format!("{}/merge_requests", self.project_url());
        let title = if new.draft {
            format!("{DRAFT}{}", new.title.trim_start_matches(DRAFT))
        } else {
            self.title(&new.title)
        };
        let body = json!({
            "source_branch": new.head,
            "target_branch": new.base,
            "title": title,
            "description": new.body,
        });
        let answer = self
            .call(Method::POST, &url, &[], Some(&body), &action)
            .await?;
        self.parse(&answer, &action)
    }

    async fn update(
        &self,
        number: u64,
        title: &str,
        body: &str,
    ) -> Result<PullRequest, ForgeError> {
        let action = format!("updating merge request !{number}");
        let body = json!({"title": self.title(title), "description": body});
        let answer = self.edit(number, &body, &action).await?;
        self.parse(&answer, &action)
    }

    async fn add_labels(&self, number: u64, labels: &[String]) -> Result<(), ForgeError> {
        if labels.is_empty() {
            return Ok(());
        }
        let action = format!("labelling merge request !{number}");
        let body = json!({ "add_labels": labels.join(",") });
        self.edit(number, &body, &action).await.map(drop)
    }

    async fn request_reviewers(&self, number: u64, reviewers: &[String]) -> Result<(), ForgeError> {
        if reviewers.is_empty() {
            return Ok(());
        }
        let action = format!("requesting reviews on merge request !{number}");
        let mut ids = Vec::new();
        for name in reviewers {
            ids.push(self.user_id(name.trim_start_matches('@'), &action).await?);
        }
        let body = json!({ "reviewer_ids": ids });
        self.edit(number, &body, &action).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_requests_read_their_state_and_merge_commit() {
        let mr = json!({"iid": 3, "web_url": "https://gitlab.example/a/b/-/merge_requests/3",
            "state": "merged", "merge_commit_sha": null, "squash_commit_sha": "sq",
            "source_branch": "modelbump/x", "sha": "def", "target_branch": "main",
            "title": "t", "description": null});
        let parsed = parse_merge_request(&mr).unwrap();
        assert_eq!(parsed.state, PrState::Merged);
        assert_eq!(parsed.merge_commit.as_deref(), Some("sq"));
        assert_eq!(parsed.body, "");
        let locked = json!({"iid": 4, "web_url": "u", "state": "locked", "merge_commit_sha": "m",
            "source_branch": "h", "target_branch": "main", "title": "t", "description": "b"});
        let parsed = parse_merge_request(&locked).unwrap();
        assert_eq!(parsed.state, PrState::Open);
        assert_eq!(parsed.merge_commit, None);
        let closed = json!({"iid": 5, "web_url": "u", "state": "closed",
            "source_branch": "h", "target_branch": "main", "title": "t"});
        assert_eq!(parse_merge_request(&closed).unwrap().state, PrState::Closed);
        assert_eq!(
            GitLab::default_api("https://gitlab.acme.io"),
            "https://gitlab.acme.io/api/v4"
        );
    }

    #[test]
    fn drafts_keep_their_marker() {
        let repo = RepoId {
            owner: "platform/ml".into(),
            name: "gitops".into(),
        };
        let draft = GitLab::new(
            reqwest::Client::new(),
            "https://gitlab.example/api/v4/",
            &repo,
            Auth::None,
            RetryPolicy::default(),
            true,
        );
        assert_eq!(draft.title("Update model"), "Draft: Update model");
        assert_eq!(draft.title("Draft: Update model"), "Draft: Update model");
        assert_eq!(
            draft.project_url(),
            "https://gitlab.example/api/v4/projects/platform%2Fml%2Fgitops"
        );
    }
}
