//! Forges: the REST APIs that open and track pull requests (GitHub, with a token or as a GitHub App;
//! Gitea/Forgejo, whose API v1 is modelled on GitHub's and is spoken by the same client; GitLab's merge
//! requests, API v4).
//!
//! The pull-request use case (`ops::pull_request`) talks to a forge only through [`Forge`], so that the
//! decisions (open, update, leave alone, report a closed one) are made once, whatever the forge. Each
//! client turns its forge's answers into [`PullRequest`] and its errors into [`ForgeError`], which names
//! the forge and the repository and says what to do: 401 (the token), 403 (its permissions, or a rate
//! limit with its reset time), 404 (the repository or the token's reach), 422 (what the forge refused).
//! Only rate limits, 5xx and transport errors are retried (the shared loop of [`crate::http`], with
//! `backon`): sending the same request again cannot change any other answer.

mod api;
mod github;
mod github_app;
mod gitlab;

use std::time::Duration;

pub(crate) use api::Api;
pub(crate) use github::GitHub;
pub use github_app::GitHubApp;
pub(crate) use github_app::{AppTokens, Auth};
pub(crate) use gitlab::GitLab;

/// The forges modelbump knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForgeKind {
    /// github.com or GitHub Enterprise Server (REST API v3).
    GitHub,
    /// GitLab (API v4, merge requests).
    GitLab,
    /// Gitea or Forgejo (API v1).
    Gitea,
}

impl ForgeKind {
    /// Parses `github`, `gitlab`, `gitea` (or `forgejo`), case-insensitively.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "github" => Some(Self::GitHub),
            "gitlab" => Some(Self::GitLab),
            "gitea" | "forgejo" => Some(Self::Gitea),
            _ => None,
        }
    }

    /// The forge a host is on, when its name says so (`github.com`, `gitlab.com`, `codeberg.org`, or a
    /// host name holding `github`, `gitlab`, `gitea` or `forgejo`).
    pub fn from_host(host: &str) -> Option<Self> {
        let host = host.to_ascii_lowercase();
        if host.contains("github") {
            Some(Self::GitHub)
        } else if host.contains("gitlab") {
            Some(Self::GitLab)
        } else if host.contains("gitea") || host.contains("forgejo") || host == "codeberg.org" {
            Some(Self::Gitea)
        } else {
            None
        }
    }

    /// The name used in the report and in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GitHub => "github",
            Self::GitLab => "gitlab",
            Self::Gitea => "gitea",
        }
    }
}

impl std::fmt::Display for ForgeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A repository on a forge, as its API names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RepoId {
    /// The owner (user, organisation; on GitLab the whole namespace path).
    pub(crate) owner: String,
    /// The repository's name.
    pub(crate) name: String,
}

impl std::fmt::Display for RepoId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// Where a remote URL's repository is: its host, its web base URL and its owner/name path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RemoteLocation {
    /// The host (with port).
    pub(crate) host: String,
    /// `https://host` (or `http://` for an http remote), without user info.
    pub(crate) web_base: String,
    /// The repository.
    pub(crate) repo: RepoId,
}

/// Reads a remote URL (`https://host/owner/name.git`, `ssh://git@host/owner/name.git`,
/// `git@host:owner/name.git`) as a host and repository; `None` when it names no repository on a host.
pub(crate) fn parse_remote(url: &str) -> Option<RemoteLocation> {
    let (scheme, host, path) = match url::Url::parse(url) {
        Ok(parsed) if parsed.has_host() => {
            let host = match parsed.port() {
                Some(port) => format!("{}:{port}", parsed.host_str()?),
                None => parsed.host_str()?.to_string(),
            };
            let scheme = if parsed.scheme() == "http" {
                "http"
            } else {
                "https"
            };
            (scheme, host, parsed.path().to_string())
        }
        _ => {
            // scp-like: [user@]host:owner/name.git
            let (left, path) = url.split_once(':')?;
            let host = left.rsplit('@').next()?.to_string();
            ("https", host, path.to_string())
        }
    };
    let path = path.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    let (owner, name) = path.rsplit_once('/')?;
    if owner.is_empty() || name.is_empty() {
        return None;
    }
    Some(RemoteLocation {
        web_base: format!("{scheme}://{host}"),
        host,
        repo: RepoId {
            owner: owner.to_string(),
            name: name.to_string(),
        },
    })
}

/// A pull request's state as modelbump acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PrState {
    /// Open (drafts included).
    Open,
    /// Closed without merging.
    Closed,
    /// Merged.
    Merged,
}

impl PrState {
    /// `open`, `closed`, `merged`: the report's words.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
            Self::Merged => "merged",
        }
    }
}

/// A pull (merge) request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PullRequest {
    /// Its number (GitLab: the merge request's iid).
    pub(crate) number: u64,
    /// Its web page.
    pub(crate) url: String,
    /// Open, closed or merged.
    pub(crate) state: PrState,
    /// The head branch.
    pub(crate) head: String,
    /// The commit the head branch held when the forge last looked.
    pub(crate) head_sha: Option<String>,
    /// The base branch.
    pub(crate) base: String,
    /// The title.
    pub(crate) title: String,
    /// The body (Markdown).
    pub(crate) body: String,
    /// The merge commit, once merged.
    pub(crate) merge_commit: Option<String>,
}

/// A pull request to open.
#[derive(Debug, Clone)]
pub(crate) struct NewPullRequest {
    /// The head branch (in the same repository).
    pub(crate) head: String,
    /// The base branch.
    pub(crate) base: String,
    /// The title.
    pub(crate) title: String,
    /// The body (Markdown).
    pub(crate) body: String,
    /// Open as a draft.
    pub(crate) draft: bool,
}

/// What the forge said no to, or could not be asked.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ForgeError {
    /// 401: the token is missing, expired or wrong.
    #[error(
        "{forge} refused the token for {repo} (401 Unauthorized: {message}); set MODELBUMP_GIT_TOKEN to a token that is valid for {api}"
    )]
    Unauthorized {
        /// The forge.
        forge: ForgeKind,
        /// The repository.
        repo: String,
        /// The API base.
        api: String,
        /// The forge's message.
        message: String,
    },
    /// 403 that is not a rate limit: the token may not do this.
    #[error(
        "{forge} forbids {action} on {repo} (403 Forbidden: {message}); give the token the permission to write pull requests and contents (GitHub: pull_requests: write, contents: write; GitLab: api scope, Developer role; Gitea: write:repository)"
    )]
    Forbidden {
        /// The forge.
        forge: ForgeKind,
        /// The repository.
        repo: String,
        /// What was being done.
        action: String,
        /// The forge's message.
        message: String,
    },
    /// A rate limit; `reset` says when it lifts.
    #[error("{forge} rate-limited {action} on {repo} ({status}: {message}); {reset}run again then")]
    RateLimited {
        /// The forge.
        forge: ForgeKind,
        /// The repository.
        repo: String,
        /// What was being done.
        action: String,
        /// 403 or 429.
        status: u16,
        /// The forge's message.
        message: String,
        /// When the limit lifts, as text ending in "; ", or empty.
        reset: String,
    },
    /// 404: the repository (or pull request) does not exist, or the token cannot see it.
    #[error(
        "{forge} has no {what} at {api} for {repo} (404 Not Found); check the remote URL, git.forgeApi (MODELBUMP_FORGE_API) and that the token can read the repository"
    )]
    NotFound {
        /// The forge.
        forge: ForgeKind,
        /// The repository.
        repo: String,
        /// The API base.
        api: String,
        /// What was looked for.
        what: String,
    },
    /// 422 and other refusals of the request itself.
    #[error("{forge} refused {action} on {repo} ({status}: {message})")]
    Refused {
        /// The forge.
        forge: ForgeKind,
        /// The repository.
        repo: String,
        /// What was being done.
        action: String,
        /// The HTTP status.
        status: u16,
        /// The forge's message, with its validation errors.
        message: String,
    },
    /// The forge could not be reached, or kept failing (5xx) after the retries.
    #[error("cannot reach {forge} at {api} for {repo} ({action}): {message}")]
    Unreachable {
        /// The forge.
        forge: ForgeKind,
        /// The repository.
        repo: String,
        /// The API base.
        api: String,
        /// What was being done.
        action: String,
        /// Why.
        message: String,
    },
    /// The GitHub App token exchange was refused: the app's settings are wrong.
    #[error("github refused GitHub App {app_id} at {api} ({reason})")]
    AppRefused {
        /// The API base.
        api: String,
        /// The app.
        app_id: String,
        /// What was refused and what to check.
        reason: String,
    },
    /// An answer modelbump cannot read.
    #[error("{forge} answered {action} on {repo} with something modelbump cannot read: {message}")]
    BadAnswer {
        /// The forge.
        forge: ForgeKind,
        /// The repository.
        repo: String,
        /// What was being done.
        action: String,
        /// Why.
        message: String,
    },
}

/// What modelbump asks of a forge.
#[async_trait::async_trait]
pub(crate) trait Forge: Send + Sync {
    /// Which forge this is.
    fn kind(&self) -> ForgeKind;
    /// The pull requests (any state) whose head is `head` in this repository, newest first.
    async fn pull_requests_from(&self, head: &str) -> Result<Vec<PullRequest>, ForgeError>;
    /// One pull request, as it is now (`--wait-merged` polls this).
    async fn get(&self, number: u64) -> Result<PullRequest, ForgeError>;
    /// Opens a pull request.
    async fn open(&self, new: &NewPullRequest) -> Result<PullRequest, ForgeError>;
    /// Sets the title and body of a pull request.
    async fn update(&self, number: u64, title: &str, body: &str)
    -> Result<PullRequest, ForgeError>;
    /// Adds labels.
    async fn add_labels(&self, number: u64, labels: &[String]) -> Result<(), ForgeError>;
    /// Requests reviews.
    async fn request_reviewers(&self, number: u64, reviewers: &[String]) -> Result<(), ForgeError>;
}

/// When a rate limit lifts, from `Retry-After` (seconds) or `x-ratelimit-reset` (epoch seconds), as text
/// for [`ForgeError::RateLimited`].
pub(crate) fn reset_text(retry_after: Option<Duration>, reset_epoch: Option<u64>) -> String {
    if let Some(delay) = retry_after {
        return format!(
            "the forge asks to wait {}s (Retry-After); ",
            delay.as_secs()
        );
    }
    if let Some(epoch) = reset_epoch {
        let at = std::time::UNIX_EPOCH + Duration::from_secs(epoch);
        return format!(
            "the limit resets at {} (x-ratelimit-reset); ",
            humantime::format_rfc3339_seconds(at)
        );
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_urls_name_host_and_repository() {
        let https = parse_remote("https://github.com/acme/gitops.git").unwrap();
        assert_eq!(https.host, "github.com");
        assert_eq!(https.web_base, "https://github.com");
        assert_eq!(https.repo.to_string(), "acme/gitops");
        let scp = parse_remote("git@gitlab.example.com:platform/ml/gitops.git").unwrap();
        assert_eq!(scp.host, "gitlab.example.com");
        assert_eq!(scp.repo.owner, "platform/ml");
        let local = parse_remote("http://127.0.0.1:8080/acme/gitops.git").unwrap();
        assert_eq!(local.host, "127.0.0.1:8080");
        assert_eq!(local.web_base, "http://127.0.0.1:8080");
        assert!(parse_remote("https://github.com/").is_none());
        assert!(parse_remote("/srv/git/repo.git").is_none());
    }

    #[test]
    fn forges_are_named_by_host_or_by_name() {
        assert_eq!(ForgeKind::from_host("github.com"), Some(ForgeKind::GitHub));
        assert_eq!(
            ForgeKind::from_host("github.acme.internal"),
            Some(ForgeKind::GitHub)
        );
        assert_eq!(ForgeKind::from_host("gitlab.com"), Some(ForgeKind::GitLab));
        assert_eq!(ForgeKind::from_host("codeberg.org"), Some(ForgeKind::Gitea));
        assert_eq!(ForgeKind::from_host("git.acme.internal"), None);
        assert_eq!(ForgeKind::parse(" Forgejo "), Some(ForgeKind::Gitea));
        assert_eq!(ForgeKind::parse("bitbucket"), None);
    }

    #[test]
    fn rate_limit_resets_are_told() {
        assert!(reset_text(Some(Duration::from_secs(30)), Some(1)).contains("30s"));
        assert!(reset_text(None, Some(1_800_000_000)).contains("2027-01-15T08:00:00Z"));
        assert_eq!(reset_text(None, None), "");
    }
}
