//! A stand-in GitLab REST API v4 for the tests: a loopback HTTP server that answers the merge request
//! calls as GitLab's documentation describes them (the Merge requests API: list project merge requests,
//! get a single merge request, create, update; the Users API: list users by `username`), and records a
//! violation for anything else: an endpoint GitLab does not have, a project not addressed by its
//! URL-encoded path (`acme%2Fgitops`), a query parameter or body attribute the documentation does not
//! list, a value outside its documented set (`state`, `order_by`, `sort`), `labels`/`add_labels` not
//! given as a comma-separated string, `reviewer_ids` not user ids, a missing required attribute, a
//! token not sent as `PRIVATE-TOKEN`. Written from the documentation only: GitLab publishes no
//! machine-readable description of these endpoints to check against.
//!
//! State: branches from the real bare repository; merge requests live here (the GitHub stand-in's
//! [`Pr`], numbered by `iid`); users are a fixed list. [`StandIn::merge`], [`StandIn::close`] and
//! [`StandIn::merge_after_polls`] play a reviewer (a merge is a real merge commit on the target branch).
//! [`StandIn::fail_next_create`] answers the next creation with an error (409, or 429 with
//! `RateLimit-Reset` and `Retry-After`).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};

use super::gitea::check_keys;
use super::github::{Pr, Received, branch_tip, merge_branches};

/// Attributes of `POST /projects/:id/merge_requests`.
const CREATE_KEYS: &[&str] = &[
    "source_branch",
    "target_branch",
    "title",
    "allow_collaboration",
    "approvals_before_merge",
    "allow_maintainer_to_push",
    "assignee_id",
    "assignee_ids",
    "description",
    "labels",
    "merge_after",
    "milestone_id",
    "remove_source_branch",
    "reviewer_ids",
    "squash",
    "target_project_id",
];
/// Attributes of `PUT /projects/:id/merge_requests/:merge_request_iid`.
const UPDATE_KEYS: &[&str] = &[
    "add_labels",
    "allow_collaboration",
    "allow_maintainer_to_push",
    "assignee_id",
    "assignee_ids",
    "description",
    "discussion_locked",
    "labels",
    "merge_after",
    "milestone_id",
    "remove_labels",
    "remove_source_branch",
    "reviewer_ids",
    "squash",
    "state_event",
    "target_branch",
    "title",
];
/// Query attributes of `GET /projects/:id/merge_requests`.
const LIST_QUERY: &[&str] = &[
    "approved",
    "approved_by_ids",
    "approver_ids",
    "assignee_id",
    "author_id",
    "author_username",
    "created_after",
    "created_before",
    "deployed_after",
    "deployed_before",
    "environment",
    "iids[]",
    "in",
    "labels",
    "merge_user_id",
    "merge_user_username",
    "milestone",
    "my_reaction_emoji",
    "not",
    "order_by",
    "page",
    "per_page",
    "reviewer_id",
    "reviewer_username",
    "scope",
    "search",
    "sort",
    "source_branch",
    "state",
    "target_branch",
    "updated_after",
    "updated_before",
    "view",
    "wip",
    "with_labels_details",
    "with_merge_status_recheck",
];
/// Query attributes of `GET /users` that modelbump may use.
const USERS_QUERY: &[&str] = &["username", "search", "active", "page", "per_page"];
/// The users of the stand-in: username and id.
const USERS: &[(&str, u64)] = &[("alice", 7), ("bob", 8)];

struct State {
    token: String,
    project: String,
    git_dir: PathBuf,
    pulls: Vec<Pr>,
    received: Vec<Received>,
    violations: Vec<String>,
    fail_create: Option<u16>,
    decide_after: Option<(u64, usize)>,
}

/// A running stand-in; stops when dropped.
pub struct StandIn {
    server: super::http_server::Server,
    state: Arc<Mutex<State>>,
}

impl StandIn {
    /// Serves project `namespace/repo` (its path, e.g. `acme/gitops`), whose branches are those of the
    /// bare repository `git_dir`, to `token`.
    pub fn start(token: &str, project: &str, git_dir: &Path) -> Self {
        let state = Arc::new(Mutex::new(State {
            token: token.to_string(),
            project: project.to_string(),
            git_dir: git_dir.to_path_buf(),
            pulls: Vec::new(),
            received: Vec::new(),
            violations: Vec::new(),
            fail_create: None,
            decide_after: None,
        }));
        let served = state.clone();
        let server = super::http_server::start(move |req| {
            let state = served.clone();
            async move { handle(req, &state).await }
        });
        Self { server, state }
    }

    /// The API base (what `MODELBUMP_FORGE_API` takes): `http://127.0.0.1:PORT/api/v4`.
    pub fn url(&self) -> String {
        format!("http://{}/api/v4", self.server.addr)
    }

    super::github::standin_journal!();

    /// Answers the next merge request creation with `status`: 409 (another open merge request) or 429
    /// (a rate limit, with `Retry-After: 1`).
    pub fn fail_next_create(&self, status: u16) {
        self.state.lock().unwrap().fail_create = Some(status);
    }

    /// A reviewer merges merge request `iid` when modelbump has read it `polls` times.
    pub fn merge_after_polls(&self, iid: u64, polls: usize) {
        self.state.lock().unwrap().decide_after = Some((iid, polls));
    }

    /// A reviewer merges merge request `iid`; returns the merge commit.
    pub fn merge(&self, iid: u64) -> String {
        merge(&mut self.state.lock().unwrap(), iid)
    }

    /// A reviewer closes merge request `iid` without merging.
    pub fn close(&self, iid: u64) {
        let mut state = self.state.lock().unwrap();
        let head = state.pulls[(iid - 1) as usize].head.clone();
        let sha = branch_tip(&state.git_dir, &head).unwrap_or_default();
        let pr = &mut state.pulls[(iid - 1) as usize];
        pr.state = "closed".into();
        pr.head_sha = sha;
    }
}

fn merge(state: &mut State, iid: u64) -> String {
    let pr = state.pulls[(iid - 1) as usize].clone();
    let message = format!(
        "Merge branch '{}' into '{}'\n\nSee merge request {}!{iid}",
        pr.head, pr.base, state.project
    );
    let (merge, head) = merge_branches(&state.git_dir, &pr.base, &pr.head, &message);
    let pr = &mut state.pulls[(iid - 1) as usize];
    pr.state = "merged".into();
    pr.merged = true;
    pr.merge_commit = Some(merge.clone());
    pr.head_sha = head;
    merge
}

/// GitLab's error body: `{"message": ...}`.
fn error(status: u16, message: Value) -> (u16, Value) {
    (status, json!({ "message": message }))
}

/// Type checks of the attributes modelbump sends.
fn check_types(what: &str, body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for key in [
        "title",
        "description",
        "source_branch",
        "target_branch",
        "labels",
        "add_labels",
    ] {
        if let Some(v) = body.get(key)
            && !v.is_string()
        {
            out.push(format!("{what}: {key} is not a string ({v})"));
        }
    }
    if let Some(ids) = body.get("reviewer_ids") {
        let ok = ids
            .as_array()
            .is_some_and(|ids| ids.iter().all(|i| i.as_u64().is_some_and(|i| i > 0)));
        if !ok {
            out.push(format!(
                "{what}: reviewer_ids is not an array of user ids ({ids})"
            ));
        }
    }
    out
}

/// A merge request as GitLab answers it (the documented fields modelbump and a reader need).
fn mr_json(state: &State, pr: &Pr, host: &str) -> Value {
    let sha = if pr.state == "opened" {
        branch_tip(&state.git_dir, &pr.head).unwrap_or_else(|| pr.head_sha.clone())
    } else {
        pr.head_sha.clone()
    };
    let user = |name: &str, id: u64| {
        json!({"id": id, "username": name, "name": name, "state": "active",
               "web_url": format!("http://{host}/{name}")})
    };
    json!({
        "id": 1000 + pr.number,
        "iid": pr.number,
        "project_id": 1,
        "title": pr.title,
        "description": pr.body,
        "state": pr.state,
        "created_at": "2026-01-01T00:00:00.000Z",
        "updated_at": "2026-01-01T00:00:00.000Z",
        "merged_at": if pr.merged { json!("2026-01-02T00:00:00.000Z") } else { Value::Null },
        "closed_at": if pr.state == "closed" { json!("2026-01-02T00:00:00.000Z") } else { Value::Null },
        "target_branch": pr.base,
        "source_branch": pr.head,
        "author": user("modelbump", 1),
        "reviewers": pr.reviewers.iter().map(|r| {
            let id = USERS.iter().find(|(n, _)| n == r).map_or(0, |(_, id)| *id);
            user(r, id)
        }).collect::<Vec<_>>(),
        "source_project_id": 1,
        "target_project_id": 1,
        "labels": pr.labels,
        "draft": pr.title.starts_with("Draft:"),
        "work_in_progress": pr.title.starts_with("Draft:"),
        "merge_when_pipeline_succeeds": false,
        "merge_status": "can_be_merged",
        "detailed_merge_status": if pr.state == "opened" { "mergeable" } else { "not_open" },
        "sha": sha,
        "merge_commit_sha": pr.merge_commit,
        "squash_commit_sha": Value::Null,
        "squash": false,
        "references": {"short": format!("!{}", pr.number), "full": format!("{}!{}", state.project, pr.number)},
        "web_url": format!("http://{host}/{}/-/merge_requests/{}", state.project, pr.number),
    })
}

async fn handle(req: Request<Incoming>, state: &Mutex<State>) -> Response<Full<Bytes>> {
    // The raw path: the project must arrive URL-encoded, which a decoded path would hide.
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
    if headers.get("authorization").is_some() {
        state.violations.push(format!(
            "{method} {path}: a token in Authorization; modelbump documents PRIVATE-TOKEN"
        ));
    }
    let authorized =
        headers.get("private-token").and_then(|v| v.to_str().ok()) == Some(state.token.as_str());
    let mut extra: Vec<(&str, String)> = Vec::new();
    let (status, answer) = if !authorized {
        error(401, json!("401 Unauthorized"))
    } else {
        api(&mut state, &method, &path, &query, &body, &host, &mut extra)
    };
    state.received.push(Received {
        method,
        uri,
        body,
        status,
    });
    let mut response = Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header("content-type", "application/json");
    for (name, value) in extra {
        response = response.header(name, value);
    }
    response
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
    headers: &mut Vec<(&'static str, String)>,
) -> (u16, Value) {
    if method == "GET" && path == "/api/v4/users" {
        for key in query.keys() {
            if !USERS_QUERY.contains(&key.as_str()) {
                state
                    .violations
                    .push(format!("GET /users: undocumented attribute {key}"));
            }
        }
        let wanted = query.get("username").cloned().unwrap_or_default();
        let users: Vec<Value> = USERS
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(&wanted))
            .map(|(name, id)| json!({"id": id, "username": name, "name": name, "state": "active", "web_url": format!("http://{host}/{name}")}))
            .collect();
        return (200, Value::Array(users));
    }
    let encoded =
        percent_encoding::utf8_percent_encode(&state.project, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    let prefix = format!("/api/v4/projects/{encoded}");
    let Some(rest) = path.strip_prefix(&prefix) else {
        state.violations.push(format!(
            "{method} {path}: not under {prefix} (the project's URL-encoded path)"
        ));
        return error(404, json!("404 Project Not Found"));
    };
    let parts: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    let iid = |s: &str| {
        s.parse::<u64>()
            .ok()
            .filter(|n| *n >= 1 && *n as usize <= state.pulls.len())
    };
    if method == "GET" && !body.is_null() {
        state
            .violations
            .push(format!("GET {path}: a body where none is taken"));
    }
    match (method, parts.as_slice()) {
        ("GET", ["merge_requests"]) => {
            for key in query.keys() {
                if !LIST_QUERY.contains(&key.as_str()) {
                    state
                        .violations
                        .push(format!("GET merge_requests: undocumented attribute {key}"));
                }
            }
            let wanted = query.get("state").map(String::as_str).unwrap_or("all");
            for (key, allowed) in [
                (
                    "state",
                    &["opened", "closed", "locked", "merged", "all"][..],
                ),
                (
                    "order_by",
                    &[
                        "created_at",
                        "updated_at",
                        "merged_at",
                        "title",
                        "label_priority",
                        "milestone_due",
                        "popularity",
                        "priority",
                    ][..],
                ),
                ("sort", &["asc", "desc"][..]),
            ] {
                if let Some(v) = query.get(key)
                    && !allowed.contains(&v.as_str())
                {
                    state.violations.push(format!(
                        "GET merge_requests: {key}={v} is not one of {allowed:?}"
                    ));
                }
            }
            let per_page = query
                .get("per_page")
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(20);
            if per_page > 100 {
                state
                    .violations
                    .push(format!("GET merge_requests: per_page {per_page} > 100"));
            }
            let mut list: Vec<&Pr> = state
                .pulls
                .iter()
                .filter(|p| wanted == "all" || p.state == wanted)
                .filter(|p| query.get("source_branch").is_none_or(|b| *b == p.head))
                .filter(|p| query.get("target_branch").is_none_or(|b| *b == p.base))
                .collect();
            if query.get("sort").map(String::as_str) != Some("asc") {
                list.reverse();
            }
            let list: Vec<Value> = list
                .into_iter()
                .take(per_page)
                .map(|p| mr_json(state, p, host))
                .collect();
            (200, Value::Array(list))
        }
        ("POST", ["merge_requests"]) => {
            let mut problems = check_keys("POST merge_requests", body, CREATE_KEYS);
            problems.extend(check_types("POST merge_requests", body));
            for key in ["source_branch", "target_branch", "title"] {
                if body.get(key).is_none() {
                    problems.push(format!("POST merge_requests: {key} is required"));
                }
            }
            state.violations.extend(problems);
            match state.fail_create.take() {
                Some(429) => {
                    let reset = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_secs()
                        + 1;
                    headers.push(("RateLimit-Reset", reset.to_string()));
                    headers.push(("Retry-After", "1".to_string()));
                    return (429, json!({"message": "Retry later"}));
                }
                Some(status) => {
                    return error(
                        status,
                        json!([
                            "Another open merge request already exists for this source branch: !1"
                        ]),
                    );
                }
                None => {}
            }
            let head = body["source_branch"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let base = body["target_branch"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let Some(head_sha) = branch_tip(&state.git_dir, &head) else {
                return error(422, json!({"source_branch": ["is invalid"]}));
            };
            if branch_tip(&state.git_dir, &base).is_none() {
                return error(422, json!({"target_branch": ["is invalid"]}));
            }
            if let Some(other) = state
                .pulls
                .iter()
                .find(|p| p.state == "opened" && p.head == head && p.base == base)
            {
                return error(
                    409,
                    json!([format!(
                        "Another open merge request already exists for this source branch: !{}",
                        other.number
                    )]),
                );
            }
            let pr = Pr {
                number: state.pulls.len() as u64 + 1,
                title: body["title"].as_str().unwrap_or_default().to_string(),
                body: body["description"].as_str().unwrap_or_default().to_string(),
                head,
                base,
                state: "opened".into(),
                merged: false,
                merge_commit: None,
                draft: false,
                labels: body["labels"]
                    .as_str()
                    .map(|l| l.split(',').map(str::to_string).collect())
                    .unwrap_or_default(),
                reviewers: Vec::new(),
                head_sha,
            };
            state.pulls.push(pr.clone());
            (201, mr_json(state, &pr, host))
        }
        ("GET", ["merge_requests", n]) => match iid(n) {
            Some(n) => {
                if let Some((wanted, polls)) = state.decide_after
                    && wanted == n
                {
                    if polls <= 1 {
                        state.decide_after = None;
                        merge(state, n);
                    } else {
                        state.decide_after = Some((wanted, polls - 1));
                    }
                }
                let pr = state.pulls[(n - 1) as usize].clone();
                (200, mr_json(state, &pr, host))
            }
            None => error(404, json!("404 Not found")),
        },
        ("PUT", ["merge_requests", n]) => match iid(n) {
            Some(n) => {
                let mut problems = check_keys("PUT merge_requests/:iid", body, UPDATE_KEYS);
                problems.extend(check_types("PUT merge_requests/:iid", body));
                if body.as_object().is_none_or(|m| m.is_empty()) {
                    problems
                        .push("PUT merge_requests/:iid: at least one attribute is required".into());
                }
                state.violations.extend(problems);
                let pr = &mut state.pulls[(n - 1) as usize];
                if let Some(title) = body["title"].as_str() {
                    pr.title = title.to_string();
                }
                if let Some(text) = body["description"].as_str() {
                    pr.body = text.to_string();
                }
                for label in body["add_labels"]
                    .as_str()
                    .into_iter()
                    .flat_map(|l| l.split(','))
                {
                    if !pr.labels.iter().any(|l| l == label) {
                        pr.labels.push(label.to_string());
                    }
                }
                for id in body["reviewer_ids"].as_array().into_iter().flatten() {
                    if let Some((name, _)) = USERS.iter().find(|(_, uid)| Some(*uid) == id.as_u64())
                    {
                        pr.reviewers.push(name.to_string());
                    }
                }
                let pr = pr.clone();
                (200, mr_json(state, &pr, host))
            }
            None => error(404, json!("404 Not found")),
        },
        _ => {
            state.violations.push(format!(
                "{method} {path}: not an endpoint of GitLab's merge request API the stand-in knows"
            ));
            error(404, json!("404 Not Found"))
        }
    }
}
