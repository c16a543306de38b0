//! A stand-in Gitea/Forgejo API v1 for the tests: a loopback HTTP server that answers the pull-request
//! calls as Gitea's API documentation describes them (`/api/v1/swagger`, the `CreatePullRequestOption`,
//! `EditPullRequestOption`, `IssueLabelsOption`, `PullReviewRequestOptions` and `PullRequest`
//! definitions), and records a violation for anything else: an operation Gitea does not have, a query
//! parameter or body key its options do not declare, a value outside the documented enums, a token not
//! sent as `Authorization: token ...`. Unlike the GitHub stand-in this is written from the documentation,
//! not checked against a machine-readable description.
//!
//! State: branches from the real bare repository; pull requests live here (the GitHub stand-in's
//! [`Pr`]). It cannot merge or close yet: `--wait-merged` is tested against the GitHub stand-in.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};

use super::github::{Pr, Received, branch_tip};

/// Keys of Gitea's `CreatePullRequestOption`.
const CREATE_KEYS: &[&str] = &[
    "assignee",
    "assignees",
    "base",
    "body",
    "due_date",
    "head",
    "labels",
    "milestone",
    "title",
    "reviewers",
    "team_reviewers",
];
/// Keys of Gitea's `EditPullRequestOption`.
const EDIT_KEYS: &[&str] = &[
    "allow_maintainer_edit",
    "assignee",
    "assignees",
    "base",
    "body",
    "due_date",
    "labels",
    "milestone",
    "state",
    "title",
    "unset_due_date",
];
/// Query parameters of `GET /repos/{owner}/{repo}/pulls`.
const LIST_QUERY: &[&str] = &[
    "state",
    "sort",
    "milestone",
    "labels",
    "poster",
    "page",
    "limit",
];
/// Values of its `sort` parameter.
const LIST_SORTS: &[&str] = &[
    "oldest",
    "recentupdate",
    "leastupdate",
    "mostcomment",
    "leastcomment",
    "priority",
];

struct State {
    token: String,
    owner: String,
    repo: String,
    git_dir: PathBuf,
    pulls: Vec<Pr>,
    received: Vec<Received>,
    violations: Vec<String>,
}

/// A running stand-in; stops when dropped.
pub struct StandIn {
    server: super::http_server::Server,
    state: Arc<Mutex<State>>,
}

impl StandIn {
    /// Serves `owner/repo`, whose branches are those of the bare repository `git_dir`, to `token`.
    pub fn start(token: &str, owner: &str, repo: &str, git_dir: &Path) -> Self {
        let state = Arc::new(Mutex::new(State {
            token: token.to_string(),
            owner: owner.to_string(),
            repo: repo.to_string(),
            git_dir: git_dir.to_path_buf(),
            pulls: Vec::new(),
            received: Vec::new(),
            violations: Vec::new(),
        }));
        let served = state.clone();
        let server = super::http_server::start(move |req| {
            let state = served.clone();
            async move { handle(req, &state).await }
        });
        Self { server, state }
    }

    /// The API base (what `MODELBUMP_FORGE_API` takes): `http://127.0.0.1:PORT/api/v1`.
    pub fn url(&self) -> String {
        format!("http://{}/api/v1", self.server.addr)
    }

    super::github::standin_journal!();
}

/// Gitea's `APIError`.
fn error(status: u16, message: &str) -> (u16, Value) {
    (
        status,
        json!({"message": message, "url": "https://gitea.example/api/swagger"}),
    )
}

/// Body keys outside `allowed`, as violations (also of the GitLab stand-in).
pub(super) fn check_keys(what: &str, body: &Value, allowed: &[&str]) -> Vec<String> {
    match body.as_object() {
        Some(map) => map
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()))
            .map(|k| format!("{what}: {k} is not a documented field"))
            .collect(),
        None => vec![format!("{what}: the body is not a JSON object")],
    }
}

/// A `PullRequest` as Gitea answers it (the fields its definition documents that modelbump and a
/// reader need).
fn pull_json(state: &State, pr: &Pr, host: &str) -> Value {
    let (owner, repo) = (&state.owner, &state.repo);
    let head_sha = if pr.state == "open" {
        branch_tip(&state.git_dir, &pr.head).unwrap_or_else(|| pr.head_sha.clone())
    } else {
        pr.head_sha.clone()
    };
    let base_sha = branch_tip(&state.git_dir, &pr.base).unwrap_or_default();
    let branch = |name: &str, sha: &str| {
        json!({"label": name, "ref": name, "sha": sha, "repo_id": 1,
               "repo": {"id": 1, "name": repo, "full_name": format!("{owner}/{repo}")}})
    };
    json!({
        "id": 1000 + pr.number,
        "url": format!("http://{host}/{owner}/{repo}/pulls/{}", pr.number),
        "number": pr.number,
        "user": {"id": 1, "login": "modelbump"},
        "title": pr.title,
        "body": pr.body,
        "labels": pr.labels.iter().enumerate().map(|(i, l)| json!({"id": i + 1, "name": l, "color": "00aabb"})).collect::<Vec<_>>(),
        "state": pr.state,
        "draft": pr.title.starts_with("WIP:"),
        "html_url": format!("http://{host}/{owner}/{repo}/pulls/{}", pr.number),
        "diff_url": format!("http://{host}/{owner}/{repo}/pulls/{}.diff", pr.number),
        "mergeable": true,
        "merged": pr.merged,
        "merged_at": if pr.merged { json!("2026-01-02T00:00:00Z") } else { Value::Null },
        "merge_commit_sha": pr.merge_commit,
        "base": branch(&pr.base, &base_sha),
        "head": branch(&pr.head, &head_sha),
        "merge_base": base_sha,
        "requested_reviewers": pr.reviewers.iter().map(|r| json!({"login": r})).collect::<Vec<_>>(),
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
        "closed_at": if pr.state == "closed" { json!("2026-01-02T00:00:00Z") } else { Value::Null },
    })
}

async fn handle(req: Request<Incoming>, state: &Mutex<State>) -> Response<Full<Bytes>> {
    let super::http_server::Asked {
        method,
        uri,
        path,
        query,
        headers,
        host,
        body,
    } = super::http_server::read(req).await;
    let body = body.unwrap_or(Value::Null);
    let mut state = state.lock().unwrap();
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("token "))
        == Some(state.token.as_str());
    let (status, answer) = if authorized {
        api(&mut state, &method, &path, &query, &body, &host)
    } else {
        error(401, "token is required")
    };
    state.received.push(Received {
        method,
        uri,
        body,
        status,
    });
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header("content-type", "application/json;charset=utf-8")
        .body(Full::new(Bytes::from(serde_json::to_vec(&answer).unwrap())))
        .unwrap()
}

fn api(
    state: &mut State,
    method: &str,
    path: &str,
    query: &BTreeMap<String, String>,
    body: &Value,
    host: &str,
) -> (u16, Value) {
    let prefix = format!("/api/v1/repos/{}/{}", state.owner, state.repo);
    let Some(rest) = path.strip_prefix(&prefix) else {
        state
            .violations
            .push(format!("{method} {path}: not under {prefix}"));
        return error(404, "Not Found");
    };
    let parts: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    let number = |s: &str| {
        s.parse::<u64>()
            .ok()
            .filter(|n| *n >= 1 && *n as usize <= state.pulls.len())
    };
    if method != "GET" && body.is_null() {
        state
            .violations
            .push(format!("{method} {path}: the body is missing"));
    }
    match (method, parts.as_slice()) {
        ("GET", ["pulls"]) => {
            for key in query.keys() {
                if !LIST_QUERY.contains(&key.as_str()) {
                    state
                        .violations
                        .push(format!("GET pulls: undocumented query parameter {key}"));
                }
            }
            let wanted = query.get("state").map(String::as_str).unwrap_or("open");
            if !["open", "closed", "all"].contains(&wanted) {
                state.violations.push(format!(
                    "GET pulls: state {wanted} is not open, closed or all"
                ));
            }
            if let Some(sort) = query.get("sort")
                && !LIST_SORTS.contains(&sort.as_str())
            {
                state
                    .violations
                    .push(format!("GET pulls: sort {sort} is not documented"));
            }
            let limit = query
                .get("limit")
                .and_then(|n| n.parse().ok())
                .unwrap_or(30);
            let list: Vec<Value> = state
                .pulls
                .iter()
                .rev()
                .filter(|p| wanted == "all" || p.state == wanted)
                .take(limit)
                .map(|p| pull_json(state, p, host))
                .collect();
            (200, Value::Array(list))
        }
        ("POST", ["pulls"]) => {
            let problems = check_keys("POST pulls (CreatePullRequestOption)", body, CREATE_KEYS);
            state.violations.extend(problems);
            let head = body["head"].as_str().unwrap_or_default().to_string();
            let base = body["base"].as_str().unwrap_or_default().to_string();
            let Some(head_sha) = branch_tip(&state.git_dir, &head) else {
                return error(404, &format!("head branch {head} does not exist"));
            };
            if branch_tip(&state.git_dir, &base).is_none() {
                return error(404, &format!("base branch {base} does not exist"));
            }
            if state
                .pulls
                .iter()
                .any(|p| p.state == "open" && p.head == head && p.base == base)
            {
                return error(409, "pull request already exists for these targets");
            }
            let pr = Pr {
                number: state.pulls.len() as u64 + 1,
                title: body["title"].as_str().unwrap_or_default().to_string(),
                body: body["body"].as_str().unwrap_or_default().to_string(),
                head,
                base,
                state: "open".into(),
                merged: false,
                merge_commit: None,
                draft: false,
                labels: Vec::new(),
                reviewers: Vec::new(),
                head_sha,
            };
            state.pulls.push(pr.clone());
            (201, pull_json(state, &pr, host))
        }
        ("GET", ["pulls", n]) => match number(n) {
            Some(n) => {
                let pr = state.pulls[(n - 1) as usize].clone();
                (200, pull_json(state, &pr, host))
            }
            None => error(404, "Not Found"),
        },
        ("PATCH", ["pulls", n]) => match number(n) {
            Some(n) => {
                let problems = check_keys(
                    "PATCH pulls/{index} (EditPullRequestOption)",
                    body,
                    EDIT_KEYS,
                );
                state.violations.extend(problems);
                let pr = &mut state.pulls[(n - 1) as usize];
                if let Some(title) = body["title"].as_str() {
                    pr.title = title.to_string();
                }
                if let Some(text) = body["body"].as_str() {
                    pr.body = text.to_string();
                }
                let pr = pr.clone();
                (201, pull_json(state, &pr, host))
            }
            None => error(404, "Not Found"),
        },
        ("POST", ["issues", n, "labels"]) => match number(n) {
            Some(n) => {
                let problems = check_keys(
                    "POST issues/{index}/labels (IssueLabelsOption)",
                    body,
                    &["labels"],
                );
                state.violations.extend(problems);
                let pr = &mut state.pulls[(n - 1) as usize];
                for label in body["labels"].as_array().into_iter().flatten() {
                    let label = label.as_str().unwrap_or_default().to_string();
                    if !pr.labels.contains(&label) {
                        pr.labels.push(label);
                    }
                }
                let labels = pr
                    .labels
                    .iter()
                    .enumerate()
                    .map(|(i, l)| json!({"id": i + 1, "name": l, "color": "00aabb"}))
                    .collect();
                (200, Value::Array(labels))
            }
            None => error(404, "Not Found"),
        },
        ("POST", ["pulls", n, "requested_reviewers"]) => match number(n) {
            Some(n) => {
                let problems = check_keys(
                    "POST pulls/{index}/requested_reviewers (PullReviewRequestOptions)",
                    body,
                    &["reviewers", "team_reviewers"],
                );
                state.violations.extend(problems);
                let pr = &mut state.pulls[(n - 1) as usize];
                for r in body["reviewers"].as_array().into_iter().flatten() {
                    pr.reviewers
                        .push(r.as_str().unwrap_or_default().to_string());
                }
                (201, json!([]))
            }
            None => error(404, "Not Found"),
        },
        _ => {
            state.violations.push(format!(
                "{method} {path}: not an operation the stand-in knows of Gitea's API"
            ));
            error(404, "Not Found")
        }
    }
}
