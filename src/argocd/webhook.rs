//! Webhook mode: a GitHub-style `push` event for the pushed commit, signed with `X-Hub-Signature-256`.
//!
//! Argo CD's `/api/webhook` refreshes every application whose `repoURL` matches `repository.html_url`
//! (case-insensitively, https or ssh form, with or without `.git`) and whose target revision matches
//! `ref`; apps with automated sync then sync. The event needs no Argo CD account, only reachability and
//! the shared secret. Only the fields Argo CD reads are sent, each with the type GitHub gives it, because
//! Argo CD parses the payload with a typed GitHub model and rejects a mistyped field.

use hmac::{KeyInit, Mac};
use serde::Serialize;

use super::ArgoCdError;
use crate::http::{self, RetryPolicy};
use crate::secret::{ExposeSecret, SecretString, redact_url};

/// The commit the event announces.
#[derive(Debug, Clone)]
pub(crate) struct PushedCommit {
    /// The repository's web URL (`https://host/org/repo`, no credentials, no `.git`).
    pub html_url: String,
    /// The branch pushed to (`main`).
    pub branch: String,
    /// The commit before the push (all zeros when unknown).
    pub before: String,
    /// The pushed commit.
    pub after: String,
    /// The commit message.
    pub message: String,
    /// The commit time, RFC 3339.
    pub timestamp: String,
    /// The files the commit changed, relative to the repository root.
    pub modified: Vec<String>,
}

/// The all-zero object id GitHub sends as `before` for a new branch.
pub(crate) const ZERO_SHA: &str = "0000000000000000000000000000000000000000";

#[derive(Serialize)]
struct PushEvent<'a> {
    #[serde(rename = "ref")]
    git_ref: String,
    before: &'a str,
    after: &'a str,
    created: bool,
    deleted: bool,
    forced: bool,
    repository: Repository<'a>,
    head_commit: Commit<'a>,
    commits: Vec<Commit<'a>>,
    pusher: Pusher,
}

#[derive(Serialize)]
struct Repository<'a> {
    name: String,
    full_name: String,
    html_url: &'a str,
    clone_url: String,
    default_branch: &'a str,
}

#[derive(Serialize, Clone)]
struct Commit<'a> {
    id: &'a str,
    message: &'a str,
    timestamp: &'a str,
    url: String,
    added: Vec<String>,
    modified: &'a [String],
    removed: Vec<String>,
}

#[derive(Serialize)]
struct Pusher {
    name: &'static str,
}

/// The JSON body of the push event.
pub(crate) fn push_event_body(commit: &PushedCommit) -> Vec<u8> {
    let html_url = commit.html_url.trim_end_matches('/');
    let full_name = url::Url::parse(html_url)
        .ok()
        .map(|u| u.path().trim_matches('/').to_string())
        .unwrap_or_default();
    let name = full_name
        .rsplit('/')
        .next()
        .unwrap_or(&full_name)
        .to_string();
    let head = Commit {
        id: &commit.after,
        message: &commit.message,
        timestamp: &commit.timestamp,
        url: format!("{html_url}/commit/{}", commit.after),
        added: Vec::new(),
        modified: &commit.modified,
        removed: Vec::new(),
    };
    let event = PushEvent {
        git_ref: format!("refs/heads/{}", commit.branch),
        before: &commit.before,
        after: &commit.after,
        created: commit.before == ZERO_SHA,
        deleted: false,
        forced: false,
        repository: Repository {
            name,
            full_name,
            html_url,
            clone_url: format!("{html_url}.git"),
            default_branch: &commit.branch,
        },
        head_commit: head.clone(),
        commits: vec![head],
        pusher: Pusher { name: "modelbump" },
    };
    serde_json::to_vec(&event).expect("the push event serializes")
}

/// `sha256=<hex HMAC-SHA256(body, secret)>`, the value of `X-Hub-Signature-256`.
pub(crate) fn signature(body: &[u8], secret: &SecretString) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Posts the event to `url`, signed when a secret is given.
pub(crate) async fn send(
    client: &reqwest::Client,
    retry: &RetryPolicy,
    url: &url::Url,
    commit: &PushedCommit,
    secret: Option<&SecretString>,
) -> Result<(), ArgoCdError> {
    let body = push_event_body(commit);
    let signature = secret.map(|s| signature(&body, s));
    let shown = redact_url(url.as_str());
    let response = http::send_with_retry(retry, || {
        let mut request = client
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-GitHub-Event", "push")
            .header("X-GitHub-Delivery", delivery_id(&commit.after))
            .body(body.clone());
        if let Some(signature) = &signature {
            request = request.header("X-Hub-Signature-256", signature);
        }
        request
    })
    .await
    .map_err(|e| ArgoCdError::WebhookUnreachable {
        url: shown.clone(),
        message: http::describe_transport_error(&e),
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let text = http::read_body(response)
        .await
        .unwrap_or_else(|e| format!("({e})"));
    let secrets: Vec<&SecretString> = secret.into_iter().collect();
    Err(ArgoCdError::WebhookRejected {
        url: shown,
        status: status.as_u16(),
        message: http::scrubbed_excerpt(&text, 300, &secrets),
        signed: secret.is_some(),
    })
}

/// A delivery id that is stable for one commit, so a retried delivery can be recognised.
fn delivery_id(sha: &str) -> String {
    format!("modelbump-{sha}")
}

/// The web URL of a repository from a git remote URL: `git@host:org/repo.git`,
/// `ssh://git@host[:port]/org/repo.git`, `git://host/org/repo` and `https://user:token@host/org/repo.git`
/// all give `https://host/org/repo` (an `http://` remote keeps its scheme and port). User info is always
/// dropped. `None` for a local path or `file://` remote, which no Argo CD can watch.
pub(crate) fn html_url(remote: &str) -> Option<String> {
    let remote = remote.trim();
    let (scheme, host_port, path) = if let Some((scheme, rest)) = remote.split_once("://") {
        let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
        let (host, path) = rest.split_once('/')?;
        let scheme = scheme.to_ascii_lowercase();
        let host = match scheme.as_str() {
            // The port of an ssh or git daemon is not the port of the web server.
            "ssh" | "git" | "git+ssh" | "ssh+git" => host.split(':').next()?.to_string(),
            "http" | "https" => host.to_string(),
            _ => return None,
        };
        let scheme = if scheme == "http" { "http" } else { "https" };
        (scheme, host, path.to_string())
    } else {
        // scp-like: [user@]host:path
        let (before, path) = remote.split_once(':')?;
        if before.contains('/') || path.starts_with("//") {
            return None;
        }
        let host = before.rsplit_once('@').map_or(before, |(_, h)| h);
        ("https", host.to_string(), path.to_string())
    };
    if host_port.is_empty() {
        return None;
    }
    let path = path.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    if path.is_empty() {
        return None;
    }
    Some(format!("{scheme}://{host_port}/{path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_forms_become_web_urls() {
        for (remote, want) in [
            (
                "git@github.com:jtayl222/financial-mlops-pytorch.git",
                Some("https://github.com/jtayl222/financial-mlops-pytorch"),
            ),
            (
                "ssh://git@gitlab.example.com:2222/ml/gitops.git",
                Some("https://gitlab.example.com/ml/gitops"),
            ),
            (
                "https://x-access-token:canary@github.com/org/repo.git",
                Some("https://github.com/org/repo"),
            ),
            (
                "http://gitea.local:3000/org/repo",
                Some("http://gitea.local:3000/org/repo"),
            ),
            (
                "git://example.com/org/repo/",
                Some("https://example.com/org/repo"),
            ),
            ("/srv/git/repo.git", None),
            ("file:///srv/git/repo.git", None),
            ("./relative/repo", None),
        ] {
            assert_eq!(html_url(remote).as_deref(), want, "{remote}");
        }
    }

    #[test]
    fn signature_matches_githubs_example() {
        // The example of GitHub's "Validating webhook deliveries" documentation.
        let secret = SecretString::from("It's a Secret to Everybody");
        assert_eq!(
            signature(b"Hello, World!", &secret),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn event_carries_what_argo_cd_reads() {
        let commit = PushedCommit {
            html_url: "https://github.com/org/gitops".into(),
            branch: "main".into(),
            before: ZERO_SHA.into(),
            after: "a".repeat(40),
            message: "update: model URIs".into(),
            timestamp: "2026-01-01T00:00:00Z".into(),
            modified: vec!["k8s/base/financial-predictor-ab-test.yaml".into()],
        };
        let event: serde_json::Value = serde_json::from_slice(&push_event_body(&commit)).unwrap();
        assert_eq!(event["ref"], "refs/heads/main");
        assert_eq!(event["after"], "a".repeat(40));
        assert_eq!(event["created"], true);
        assert_eq!(
            event["repository"]["html_url"],
            "https://github.com/org/gitops"
        );
        assert_eq!(event["repository"]["full_name"], "org/gitops");
        assert_eq!(event["repository"]["name"], "gitops");
        assert_eq!(event["repository"]["default_branch"], "main");
        assert_eq!(
            event["commits"][0]["modified"][0],
            "k8s/base/financial-predictor-ab-test.yaml"
        );
        assert_eq!(event["head_commit"]["id"], "a".repeat(40));
    }
}
