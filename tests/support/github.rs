//! A stand-in GitHub REST API for the tests: a loopback HTTP server that answers the pull-request calls
//! the way GitHub does, and checks every request it receives and every answer it sends against GitHub's
//! official OpenAPI description (`schemas/github/api.github.com.json` under the shared folder).
//!
//! What is checked, for every request: that the method and path are an operation of the description,
//! that each query parameter is one the operation declares and fits its schema, that each path parameter
//! fits its schema, and that the JSON body fits the operation's request body (closed: a misspelt key is
//! a violation). For every answer: that its status is one the operation documents and its body fits that
//! response's schema. OpenAPI 3.0's `nullable` is turned into JSON Schema's `null` type first.
//!
//! State: the branches are read from the real bare repository the git remote serves (so a pull request
//! can only be opened from a branch that was really pushed, and its head sha is the branch's tip); pull
//! requests, their labels and reviewers live here; [`StandIn::close`] and [`StandIn::merge`] play a
//! reviewer (a merge is a real merge commit on the base branch, made with `git merge-tree`), also while
//! modelbump polls ([`StandIn::merge_after_polls`], [`StandIn::close_after_polls`]).
//! Answers are built from the description's own examples with the stand-in's values put in.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};

use super::schemas;

/// GitHub's description, with `nullable` turned into JSON Schema and examples kept only under
/// `components/examples`; parsed once per test process.
fn spec(shared: &Path) -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = shared.join("schemas/github/api.github.com.json");
        let mut doc: Value = serde_json::from_slice(
            &std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display())),
        )
        .expect("the GitHub description parses");
        for key in ["schemas", "responses", "parameters", "requestBodies"] {
            if let Some(v) = doc["components"].get_mut(key) {
                to_json_schema(v);
            }
        }
        let paths = doc["paths"].take();
        let mut paths = paths;
        to_json_schema(&mut paths);
        doc["paths"] = paths;
        doc
    })
}

/// Turns OpenAPI 3.0 schema dialect into JSON Schema (draft 4): `nullable: true` adds `null`; example
/// values are dropped (they are not schemas).
fn to_json_schema(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("example");
            map.remove("examples");
            map.remove("discriminator");
            for (key, child) in map.iter_mut() {
                if key == "properties" {
                    if let Value::Object(children) = child {
                        for c in children.values_mut() {
                            to_json_schema(c);
                        }
                    }
                } else if key != "enum" && key != "default" {
                    to_json_schema(child);
                }
            }
            if map.remove("nullable") == Some(Value::Bool(true)) {
                if let Some(Value::String(t)) = map.get("type").cloned() {
                    map.insert("type".into(), json!([t, "null"]));
                    if let Some(Value::Array(values)) = map.get_mut("enum") {
                        values.push(Value::Null);
                    }
                } else {
                    let inner = Value::Object(std::mem::take(map));
                    map.insert("anyOf".into(), json!([inner, {"type": "null"}]));
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(to_json_schema),
        _ => {}
    }
}

/// Resolves a `{"$ref": "#/components/..."}` (once) in the description.
fn deref<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(r) => doc
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling $ref {r}")),
        None => value,
    }
}

/// A pull request of the stand-in.
#[derive(Debug, Clone)]
pub struct Pr {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub head: String,
    pub base: String,
    /// open, closed
    pub state: String,
    pub merged: bool,
    pub merge_commit: Option<String>,
    pub draft: bool,
    pub labels: Vec<String>,
    pub reviewers: Vec<String>,
    /// The head's tip when the pull request was closed or merged.
    pub head_sha: String,
}

/// The three reads every forge stand-in (GitHub, Gitea, GitLab) offers its tests: the pull requests
/// (merge requests on GitLab) oldest first, every request received in order, and the requests or answers
/// that break the forge's published API (which must stay empty). Each stand-in's state has `pulls`,
/// `received` and `violations` fields behind `self.state`.
macro_rules! standin_journal {
    () => {
        /// The pull requests (merge requests on GitLab), oldest first.
        pub fn pulls(&self) -> Vec<Pr> {
            self.state.lock().unwrap().pulls.clone()
        }

        /// Every request received, in order.
        pub fn received(&self) -> Vec<Received> {
            self.state.lock().unwrap().received.clone()
        }

        /// Requests or answers that break the forge's published API; must be empty.
        pub fn violations(&self) -> Vec<String> {
            self.state.lock().unwrap().violations.clone()
        }
    };
}
pub(crate) use standin_journal;

/// One request the stand-in received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub uri: String,
    pub body: Value,
    pub status: u16,
}

struct State {
    token: String,
    owner: String,
    repo: String,
    git_dir: PathBuf,
    pulls: Vec<Pr>,
    received: Vec<Received>,
    violations: Vec<String>,
    /// Answer the next pull-request creation with this status (a forge failing after the push).
    fail_create: Option<u16>,
    /// A reviewer acting while modelbump polls: after this many `GET .../pulls/{number}` of the pull
    /// request, it is merged (true) or closed (false), before the answer is built.
    decide_after: Option<(u64, usize, bool)>,
    validators: HashMap<String, Arc<jsonschema::Validator>>,
    /// The GitHub App whose installation tokens the stand-in issues, when one is set up.
    app: Option<App>,
}

/// A GitHub App of the stand-in: `POST /app/installations/{id}/access_tokens` verifies the JWT with the
/// app's public key (by `openssl dgst -verify`, not by the library modelbump signs with) and answers
/// with the stand-in's token, the only one its API and the git remote take.
struct App {
    id: String,
    installation_id: String,
    public_key: PathBuf,
    /// How long an issued token lives (`expires_at`).
    lifetime: std::time::Duration,
    /// Tokens issued.
    issued: usize,
    /// JWTs refused, with why.
    refused: Vec<String>,
}

/// A running stand-in; stops when dropped.
pub struct StandIn {
    server: super::http_server::Server,
    state: Arc<Mutex<State>>,
}

impl StandIn {
    /// Serves `owner/repo`, whose branches are those of the bare repository `git_dir`, to `token`.
    pub fn start(shared: &Path, token: &str, owner: &str, repo: &str, git_dir: &Path) -> Self {
        let doc = spec(shared);
        let state = Arc::new(Mutex::new(State {
            token: token.to_string(),
            owner: owner.to_string(),
            repo: repo.to_string(),
            git_dir: git_dir.to_path_buf(),
            pulls: Vec::new(),
            received: Vec::new(),
            violations: Vec::new(),
            fail_create: None,
            decide_after: None,
            validators: HashMap::new(),
            app: None,
        }));
        let served = state.clone();
        let server = super::http_server::start(move |req| {
            let state = served.clone();
            async move { handle(req, doc, &state).await }
        });
        Self { server, state }
    }

    /// The API base (what `MODELBUMP_FORGE_API` takes).
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    super::github::standin_journal!();

    /// Answers the next pull-request creation with `status` (403 or 422).
    pub fn fail_next_create(&self, status: u16) {
        self.state.lock().unwrap().fail_create = Some(status);
    }

    /// A reviewer merges pull request `number` when modelbump has read it `polls` times (the answer to
    /// that read already shows the merge).
    pub fn merge_after_polls(&self, number: u64, polls: usize) {
        self.state.lock().unwrap().decide_after = Some((number, polls, true));
    }

    /// A reviewer closes pull request `number` without merging when modelbump has read it `polls` times.
    pub fn close_after_polls(&self, number: u64, polls: usize) {
        self.state.lock().unwrap().decide_after = Some((number, polls, false));
    }

    /// Sets up GitHub App `id` with installation `installation_id`, whose JWTs are verified with the
    /// PEM public key `public_key`; the tokens it issues (the stand-in's token) expire after `lifetime`.
    pub fn with_app(
        &self,
        id: &str,
        installation_id: &str,
        public_key: &Path,
        lifetime: std::time::Duration,
    ) {
        self.state.lock().unwrap().app = Some(App {
            id: id.to_string(),
            installation_id: installation_id.to_string(),
            public_key: public_key.to_path_buf(),
            lifetime,
            issued: 0,
            refused: Vec::new(),
        });
    }

    /// How many installation tokens were issued, and why each refused JWT was refused.
    pub fn app_tokens(&self) -> (usize, Vec<String>) {
        let state = self.state.lock().unwrap();
        let app = state.app.as_ref().expect("an app is set up");
        (app.issued, app.refused.clone())
    }

    /// A reviewer closes pull request `number` without merging.
    pub fn close(&self, number: u64) {
        close(&mut self.state.lock().unwrap(), number);
    }

    /// A reviewer merges pull request `number`: a merge commit of its head into its base, on the base
    /// branch of the real repository. Returns the merge commit.
    pub fn merge(&self, number: u64) -> String {
        merge(&mut self.state.lock().unwrap(), number)
    }
}

fn close(state: &mut State, number: u64) {
    let head = state.pulls[(number - 1) as usize].head.clone();
    let sha = branch_tip(&state.git_dir, &head).unwrap_or_default();
    let pr = &mut state.pulls[(number - 1) as usize];
    pr.state = "closed".into();
    pr.head_sha = sha;
}

fn merge(state: &mut State, number: u64) -> String {
    let pr = state.pulls[(number - 1) as usize].clone();
    let message = format!("Merge pull request #{number} from {}", pr.head);
    let (merge, head) = merge_branches(&state.git_dir, &pr.base, &pr.head, &message);
    let pr = &mut state.pulls[(number - 1) as usize];
    pr.state = "closed".into();
    pr.merged = true;
    pr.merge_commit = Some(merge.clone());
    pr.head_sha = head;
    merge
}

/// A reviewer's merge: a merge commit of `head` into `base` (both branches of the bare repository
/// `git_dir`), made with `git merge-tree` and set as the tip of `base`. Returns the merge commit and
/// the head's tip.
pub(super) fn merge_branches(
    git_dir: &Path,
    base_branch: &str,
    head_branch: &str,
    message: &str,
) -> (String, String) {
    let base = branch_tip(git_dir, base_branch).expect("the base branch exists");
    let head = branch_tip(git_dir, head_branch).expect("the head branch exists");
    let tree = super::git::git(git_dir, &["merge-tree", "--write-tree", &base, &head]);
    let tree = tree.lines().next().unwrap().trim().to_string();
    let merge = super::git::git(
        git_dir,
        &[
            "commit-tree",
            &tree,
            "-p",
            &base,
            "-p",
            &head,
            "-m",
            message,
        ],
    );
    let merge = merge.trim().to_string();
    super::git::git(
        git_dir,
        &[
            "update-ref",
            &format!("refs/heads/{base_branch}"),
            &merge,
            &base,
        ],
    );
    (merge, head)
}

/// The tip of `branch` in the bare repository, `None` when it does not exist.
pub(super) fn branch_tip(git_dir: &Path, branch: &str) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(git_dir)
        .args(["rev-parse", "--verify", "-q"])
        .arg(format!("refs/heads/{branch}"))
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The operation of the description that `method path` is: its path template and operation object.
fn operation<'a>(
    doc: &'a Value,
    method: &str,
    path: &str,
) -> Option<(&'a str, &'a Value, BTreeMap<String, String>)> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut best: Option<(usize, &str, &Value, BTreeMap<String, String>)> = None;
    for (template, item) in doc["paths"].as_object()? {
        let parts: Vec<&str> = template.trim_start_matches('/').split('/').collect();
        if parts.len() != segments.len() {
            continue;
        }
        let mut params = BTreeMap::new();
        let mut wild = 0;
        let fits = parts.iter().zip(&segments).all(|(p, s)| {
            if p.starts_with('{') && p.ends_with('}') {
                wild += 1;
                params.insert(p[1..p.len() - 1].to_string(), percent_decode(s));
                !s.is_empty()
            } else {
                p == s
            }
        });
        if fits && best.as_ref().is_none_or(|(w, ..)| wild < *w) {
            best = Some((wild, template, item, params));
        }
    }
    let (_, template, item, params) = best?;
    let op = item.get(method.to_ascii_lowercase())?;
    Some((template, op, params))
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .to_string()
}

/// A validator for `schema` (which may `$ref` into the components), cached under `key`.
fn validator(
    state: &mut State,
    doc: &Value,
    key: &str,
    schema: &Value,
    closed: bool,
) -> Arc<jsonschema::Validator> {
    if let Some(v) = state.validators.get(key) {
        return v.clone();
    }
    let mut root = schema.clone();
    if closed {
        schemas::close_objects(&mut root);
    }
    let root = json!({
        "allOf": [root],
        "components": doc["components"],
    });
    let compiled = Arc::new(
        jsonschema::draft4::new(&root)
            .unwrap_or_else(|e| panic!("the schema {key} does not compile: {e}")),
    );
    state.validators.insert(key.to_string(), compiled.clone());
    compiled
}

/// Checks a scalar parameter value (from a path or query) against its schema.
fn check_scalar(schema: &Value, value: &str) -> Result<(), String> {
    let typed = match schema.get("type").and_then(Value::as_str) {
        Some("integer") => value
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("{value:?} is not an integer"))?,
        Some("boolean") => match value {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(format!("{value:?} is not a boolean")),
        },
        _ => Value::String(value.to_string()),
    };
    if let Some(values) = schema.get("enum").and_then(Value::as_array)
        && !values.contains(&typed)
    {
        return Err(format!("{value:?} is not one of {values:?}"));
    }
    Ok(())
}

/// Checks a request against its operation; returns the violations.
fn check_request(
    state: &mut State,
    doc: &'static Value,
    method: &str,
    path: &str,
    query: &BTreeMap<String, String>,
    body: Option<&Value>,
) -> Vec<String> {
    let mut out = Vec::new();
    let Some((template, op, path_params)) = operation(doc, method, path) else {
        return vec![format!(
            "{method} {path}: no such operation in GitHub's description"
        )];
    };
    let mut declared: BTreeMap<String, (&str, &Value, bool)> = BTreeMap::new();
    let item = &doc["paths"][template];
    for p in item
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .chain(
            op.get("parameters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        )
    {
        let p = deref(doc, p);
        let name = p["name"].as_str().unwrap().to_string();
        let place = p["in"].as_str().unwrap();
        let required = p.get("required").and_then(Value::as_bool).unwrap_or(false);
        declared.insert(name, (place, &p["schema"], required));
    }
    for (name, value) in query {
        match declared.get(name) {
            Some(("query", schema, _)) => {
                if let Err(e) = check_scalar(schema, value) {
                    out.push(format!("{method} {template}: query parameter {name}: {e}"));
                }
            }
            _ => out.push(format!(
                "{method} {template}: undeclared query parameter {name}"
            )),
        }
    }
    for (name, (place, schema, required)) in &declared {
        match *place {
            "path" => match path_params.get(name) {
                Some(v) => {
                    if let Err(e) = check_scalar(schema, v) {
                        out.push(format!("{method} {template}: path parameter {name}: {e}"));
                    }
                }
                None => out.push(format!(
                    "{method} {template}: path parameter {name} missing"
                )),
            },
            "query" if *required && !query.contains_key(name) => {
                out.push(format!(
                    "{method} {template}: required query parameter {name} missing"
                ));
            }
            _ => {}
        }
    }
    let request_body = op.get("requestBody").map(|b| deref(doc, b));
    match (request_body, body) {
        (Some(spec), Some(body)) => {
            let schema = &spec["content"]["application/json"]["schema"];
            let key = format!("request {method} {template}");
            let v = validator(state, doc, &key, schema, true);
            for e in schemas::errors(&v, body) {
                out.push(format!("{key}: {e}"));
            }
        }
        (Some(spec), None) if spec.get("required").and_then(Value::as_bool) == Some(true) => {
            out.push(format!("{method} {template}: the request body is missing"));
        }
        (None, Some(_)) => out.push(format!("{method} {template}: a body where none is taken")),
        _ => {}
    }
    out
}

/// Checks an answer against the operation's documented responses.
fn check_response(
    state: &mut State,
    doc: &'static Value,
    method: &str,
    path: &str,
    status: u16,
    body: &Value,
) -> Vec<String> {
    let Some((template, op, _)) = operation(doc, method, path) else {
        return Vec::new();
    };
    let Some(response) = op["responses"]
        .get(status.to_string())
        .or_else(|| op["responses"].get("default"))
    else {
        return vec![format!(
            "{method} {template}: status {status} is not documented"
        )];
    };
    let response = deref(doc, response);
    let Some(schema) = response.pointer("/content/application~1json/schema") else {
        return Vec::new();
    };
    let key = format!("response {status} {method} {template}");
    let v = validator(state, doc, &key, schema, false);
    schemas::errors(&v, body)
        .into_iter()
        .map(|e| format!("{key}: {e}"))
        .collect()
}

fn example(doc: &Value, name: &str) -> Value {
    doc["components"]["examples"][name]["value"].clone()
}

/// A `pull-request` (or, with `simple`, a `pull-request-simple`) answer for `pr`.
fn pull_json(doc: &Value, state: &State, pr: &Pr, simple: bool, base_url: &str) -> Value {
    let mut v = example(
        doc,
        if simple {
            "pull-request-simple"
        } else {
            "pull-request"
        },
    );
    let (owner, repo) = (&state.owner, &state.repo);
    let head_sha = if pr.state == "open" {
        branch_tip(&state.git_dir, &pr.head).unwrap_or_else(|| pr.head_sha.clone())
    } else {
        pr.head_sha.clone()
    };
    let base_sha = branch_tip(&state.git_dir, &pr.base).unwrap_or_default();
    v["number"] = json!(pr.number);
    v["id"] = json!(1000 + pr.number);
    v["url"] = json!(format!(
        "{base_url}/repos/{owner}/{repo}/pulls/{}",
        pr.number
    ));
    v["html_url"] = json!(format!(
        "https://github.example/{owner}/{repo}/pull/{}",
        pr.number
    ));
    v["state"] = json!(pr.state);
    v["title"] = json!(pr.title);
    v["body"] = json!(pr.body);
    v["draft"] = json!(pr.draft);
    v["head"]["ref"] = json!(pr.head);
    v["head"]["sha"] = json!(head_sha);
    v["head"]["label"] = json!(format!("{owner}:{}", pr.head));
    v["base"]["ref"] = json!(pr.base);
    v["base"]["sha"] = json!(base_sha);
    v["base"]["label"] = json!(format!("{owner}:{}", pr.base));
    v["merged_at"] = if pr.merged {
        json!("2026-01-02T00:00:00Z")
    } else {
        Value::Null
    };
    v["closed_at"] = if pr.state == "closed" {
        json!("2026-01-02T00:00:00Z")
    } else {
        Value::Null
    };
    v["merge_commit_sha"] = json!(pr.merge_commit.clone().unwrap_or_else(|| "0".repeat(40)));
    let label = example(doc, "label");
    v["labels"] = Value::Array(
        pr.labels
            .iter()
            .map(|name| {
                let mut l = label.clone();
                l["name"] = json!(name);
                l
            })
            .collect(),
    );
    // The description's own example fails its schema here (a team without `type`): the stand-in
    // answers its own reviewers instead.
    v["requested_teams"] = json!([]);
    let user = v["user"].clone();
    v["requested_reviewers"] = Value::Array(
        pr.reviewers
            .iter()
            .filter(|r| !r.starts_with("team:"))
            .map(|login| {
                let mut u = user.clone();
                u["login"] = json!(login);
                u
            })
            .collect(),
    );
    if !simple {
        v["merged"] = json!(pr.merged);
    }
    v
}

fn error(status: u16, message: &str) -> (u16, Value) {
    (
        status,
        json!({"message": message, "documentation_url": "https://docs.github.com/rest", "status": status.to_string()}),
    )
}

fn validation(message: &str) -> (u16, Value) {
    (
        422,
        json!({"message": "Validation Failed", "documentation_url": "https://docs.github.com/rest",
               "errors": [{"resource": "PullRequest", "code": "custom", "message": message}]}),
    )
}

async fn handle(
    req: Request<Incoming>,
    doc: &'static Value,
    state: &Mutex<State>,
) -> Response<Full<Bytes>> {
    let super::http_server::Asked {
        method,
        uri,
        path,
        query,
        headers,
        host,
        body,
    } = super::http_server::read(req).await;
    let mut state = state.lock().unwrap();
    let mut violations = check_request(&mut state, doc, &method, &path, &query, body.as_ref());
    if headers.get("accept").and_then(|v| v.to_str().ok()) != Some("application/vnd.github+json") {
        violations.push(format!(
            "{method} {path}: Accept is not application/vnd.github+json"
        ));
    }
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        == Some(state.token.as_str());
    let base_url = format!("http://{host}");
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_string();
    let (status, answer) = if method == "POST" && path.starts_with("/app/installations/") {
        installation_token(&mut state, doc, &path, &bearer)
    } else if !authorized {
        error(401, "Bad credentials")
    } else {
        api(
            &mut state,
            doc,
            &method,
            &path,
            &query,
            body.as_ref().unwrap_or(&Value::Null),
            &base_url,
        )
    };
    violations.extend(check_response(
        &mut state, doc, &method, &path, status, &answer,
    ));
    state.violations.extend(violations);
    state.received.push(Received {
        method,
        uri,
        body: body.unwrap_or(Value::Null),
        status,
    });
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header("content-type", "application/json; charset=utf-8")
        .header("x-ratelimit-remaining", "4999")
        .body(Full::new(Bytes::from(serde_json::to_vec(&answer).unwrap())))
        .unwrap()
}

/// `POST /app/installations/{installation_id}/access_tokens`: the JWT verified, a token issued.
fn installation_token(state: &mut State, doc: &Value, path: &str, jwt: &str) -> (u16, Value) {
    let token = state.token.clone();
    let Some(app) = state.app.as_mut() else {
        return error(404, "Not Found");
    };
    if path != format!("/app/installations/{}/access_tokens", app.installation_id) {
        return error(404, "Not Found");
    }
    if let Err(why) = verify_jwt(jwt, &app.id, &app.public_key) {
        app.refused.push(why.clone());
        return error(401, &why);
    }
    app.issued += 1;
    let expires = std::time::SystemTime::now() + app.lifetime;
    let mut answer = example(doc, "installation-token");
    answer["token"] = json!(token);
    answer["expires_at"] = json!(humantime::format_rfc3339_seconds(expires).to_string());
    (201, answer)
}

/// Checks a GitHub App JWT as GitHub documents it: RS256, `iss` the app id, `iat` not in the future,
/// `exp` after now and at most ten minutes ahead, and the signature made with the app's key (verified
/// with `openssl dgst -sha256 -verify` and the public key).
fn verify_jwt(jwt: &str, app_id: &str, public_key: &Path) -> Result<(), String> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, claims, signature] = parts.as_slice() else {
        return Err("A JSON web token could not be decoded".into());
    };
    let decode = |part: &str| -> Result<Value, String> {
        let bytes = b64
            .decode(part)
            .map_err(|e| format!("not base64url: {e}"))?;
        serde_json::from_slice(&bytes).map_err(|e| format!("not JSON: {e}"))
    };
    let header = decode(header)?;
    if header["alg"] != "RS256" {
        return Err(format!("the JWT's alg is {}, not RS256", header["alg"]));
    }
    let claims = decode(claims)?;
    let iss = match &claims["iss"] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => return Err(format!("iss is {other}")),
    };
    if iss != app_id {
        return Err(format!("iss {iss} is not the app {app_id}"));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let (Some(iat), Some(exp)) = (claims["iat"].as_i64(), claims["exp"].as_i64()) else {
        return Err("iat or exp is missing".into());
    };
    if iat > now {
        return Err(
            "'Issued at' claim ('iat') must be an Integer representing a time in the past".into(),
        );
    }
    if exp <= now || exp > now + 600 {
        return Err(
            "'Expiration time' claim ('exp') is too far in the future or in the past".into(),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let signed = dir.path().join("signed");
    let sig = dir.path().join("sig");
    std::fs::write(&signed, format!("{}.{}", parts[0], parts[1])).unwrap();
    std::fs::write(&sig, b64.decode(signature).map_err(|e| e.to_string())?).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(public_key)
        .arg("-signature")
        .arg(&sig)
        .arg(&signed)
        .output()
        .expect("openssl runs");
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "the JWT's signature does not verify with the app's public key ({})",
            String::from_utf8_lossy(&out.stdout).trim()
        ))
    }
}

fn api(
    state: &mut State,
    doc: &Value,
    method: &str,
    path: &str,
    query: &BTreeMap<String, String>,
    body: &Value,
    base_url: &str,
) -> (u16, Value) {
    let prefix = format!("/repos/{}/{}", state.owner, state.repo);
    let Some(rest) = path.strip_prefix(&prefix) else {
        return error(404, "Not Found");
    };
    let parts: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    let number = |s: &str| {
        s.parse::<u64>()
            .ok()
            .filter(|n| *n >= 1 && *n as usize <= state.pulls.len())
    };
    match (method, parts.as_slice()) {
        ("GET", ["pulls"]) => {
            let wanted_state = query.get("state").map(String::as_str).unwrap_or("open");
            let head = query.get("head").cloned();
            let mut list: Vec<Value> = state
                .pulls
                .iter()
                .rev()
                .filter(|p| wanted_state == "all" || p.state == wanted_state)
                .filter(|p| {
                    head.as_ref()
                        .is_none_or(|h| *h == format!("{}:{}", state.owner, p.head))
                })
                .map(|p| pull_json(doc, state, p, true, base_url))
                .collect();
            list.truncate(
                query
                    .get("per_page")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(30),
            );
            (200, Value::Array(list))
        }
        ("POST", ["pulls"]) => {
            if let Some(status) = state.fail_create.take() {
                return if status == 422 {
                    validation("the stand-in refuses this once")
                } else {
                    error(status, "Resource not accessible by integration")
                };
            }
            let head = body["head"].as_str().unwrap_or_default().to_string();
            let base = body["base"].as_str().unwrap_or_default().to_string();
            let Some(head_sha) = branch_tip(&state.git_dir, &head) else {
                return validation(&format!("head: {head} is not a branch"));
            };
            if branch_tip(&state.git_dir, &base).is_none() {
                return validation(&format!("base: {base} is not a branch"));
            }
            if state
                .pulls
                .iter()
                .any(|p| p.state == "open" && p.head == head && p.base == base)
            {
                return validation(&format!(
                    "A pull request already exists for {}:{head}.",
                    state.owner
                ));
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
                draft: body["draft"].as_bool().unwrap_or(false),
                labels: Vec::new(),
                reviewers: Vec::new(),
                head_sha,
            };
            state.pulls.push(pr.clone());
            (201, pull_json(doc, state, &pr, false, base_url))
        }
        ("GET", ["pulls", n]) => match number(n) {
            Some(n) => {
                if let Some((wanted, polls, merges)) = state.decide_after
                    && wanted == n
                {
                    if polls <= 1 {
                        state.decide_after = None;
                        if merges {
                            merge(state, n);
                        } else {
                            close(state, n);
                        }
                    } else {
                        state.decide_after = Some((wanted, polls - 1, merges));
                    }
                }
                let pr = state.pulls[(n - 1) as usize].clone();
                (200, pull_json(doc, state, &pr, false, base_url))
            }
            None => error(404, "Not Found"),
        },
        ("PATCH", ["pulls", n]) => match number(n) {
            Some(n) => {
                let pr = &mut state.pulls[(n - 1) as usize];
                if let Some(title) = body["title"].as_str() {
                    pr.title = title.to_string();
                }
                if let Some(text) = body["body"].as_str() {
                    pr.body = text.to_string();
                }
                let pr = pr.clone();
                (200, pull_json(doc, state, &pr, false, base_url))
            }
            None => error(404, "Not Found"),
        },
        ("POST", ["issues", n, "labels"]) => match number(n) {
            Some(n) => {
                let pr = &mut state.pulls[(n - 1) as usize];
                for label in body["labels"].as_array().into_iter().flatten() {
                    let label = label.as_str().unwrap_or_default().to_string();
                    if !pr.labels.contains(&label) {
                        pr.labels.push(label);
                    }
                }
                let template = example(doc, "label");
                let labels = pr
                    .labels
                    .iter()
                    .map(|name| {
                        let mut l = template.clone();
                        l["name"] = json!(name);
                        l
                    })
                    .collect();
                (200, Value::Array(labels))
            }
            None => error(404, "Not Found"),
        },
        ("POST", ["pulls", n, "requested_reviewers"]) => match number(n) {
            Some(n) => {
                let pr = &mut state.pulls[(n - 1) as usize];
                for r in body["reviewers"].as_array().into_iter().flatten() {
                    pr.reviewers
                        .push(r.as_str().unwrap_or_default().to_string());
                }
                for r in body["team_reviewers"].as_array().into_iter().flatten() {
                    pr.reviewers
                        .push(format!("team:{}", r.as_str().unwrap_or_default()));
                }
                let pr = pr.clone();
                (201, pull_json(doc, state, &pr, true, base_url))
            }
            None => error(404, "Not Found"),
        },
        _ => error(404, "Not Found"),
    }
}
