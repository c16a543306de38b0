//! A stand-in Argo CD API server for the tests: a loopback HTTP server that answers the calls `sync`
//! makes the way Argo CD does, checks every sync request body against the definition in Argo CD's own
//! swagger (closed, see `schemas.rs`), and plays the state transitions of a sync.
//!
//! A real Argo CD needs a Kubernetes cluster, which the test machines cannot run; the stand-in keeps the
//! parts of its behaviour the client depends on:
//! - `GET /api/v1/applications/{name}[?refresh=normal&appNamespace=]` and
//!   `POST /api/v1/applications/{name}/sync`, Bearer token auth, grpc-gateway errors
//!   (`{"error","code","message"}`) with 401, 403, 404 and 400;
//! - an automated app refuses a `revision` other than its `targetRevision` ("Cannot sync to X: auto-sync
//!   currently set to Y"), and a sync while an operation runs fails with "another operation is already in
//!   progress";
//! - after a sync, each GET advances the app by one step: operation pending -> Running -> Succeeded (or
//!   Failed) with a stale `reconciledAt` and a stale Healthy -> reconciled, Progressing -> the outcome
//!   (Healthy, Degraded, or Progressing forever). The stale steps are traps: a client that stops there
//!   has not applied `argocd app wait`'s rules, and [`StandIn::served_outcome`] tells;
//! - `POST /api/webhook` checks `X-GitHub-Event` and `X-Hub-Signature-256` against the secret, and
//!   starts an automated sync of the apps whose `repoURL` and `targetRevision` match the push.
//!
//! State moves per request, not per wall-clock tick, so the tests are deterministic and need no
//! sleeps. Every response is itself checked against `v1alpha1Application`, so the stand-in cannot drift
//! into answering something Argo CD would not.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};

use super::schemas;

/// What an app ends as after a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Synced and Healthy.
    Healthy,
    /// Synced, then Degraded.
    Degraded,
    /// The operation ends Failed.
    SyncFails,
    /// Synced, Progressing forever.
    Stuck,
}

/// An application of the stand-in.
#[derive(Debug, Clone)]
pub struct FakeApp {
    /// `metadata.name`
    pub name: String,
    /// `metadata.namespace`
    pub namespace: String,
    /// Whether `appNamespace` must be given (an app outside Argo CD's namespace).
    pub namespaced: bool,
    /// `spec.source.repoURL`
    pub repo_url: String,
    /// `spec.source.targetRevision`
    pub target_revision: String,
    /// `spec.syncPolicy.automated` present.
    pub automated: bool,
    /// How a sync ends.
    pub outcome: Outcome,
    /// The token may not touch this app (403).
    pub forbidden: bool,
    /// Another operation runs for this many GETs before the first sync is accepted.
    pub busy_for: usize,
    /// The first this many requests for this app answer 503 with an HTML page, as a restarting
    /// server behind an ingress does.
    pub unavailable_for: usize,
}

impl FakeApp {
    /// A manual-sync app following `main` of `repo_url`, whose sync ends Healthy.
    pub fn new(name: &str, repo_url: &str) -> Self {
        Self {
            name: name.to_string(),
            namespace: "argocd".to_string(),
            namespaced: false,
            repo_url: repo_url.to_string(),
            target_revision: "main".to_string(),
            automated: false,
            outcome: Outcome::Healthy,
            forbidden: false,
            busy_for: 0,
            unavailable_for: 0,
        }
    }

    /// With automated sync.
    pub fn automated(mut self) -> Self {
        self.automated = true;
        self
    }

    /// Ending as `outcome`.
    pub fn ending(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }

    /// 403 for this app.
    pub fn forbidden(mut self) -> Self {
        self.forbidden = true;
        self
    }

    /// Busy with another operation for `gets` GETs.
    pub fn busy_for(mut self, gets: usize) -> Self {
        self.busy_for = gets;
        self
    }

    /// 503 for the first `requests` requests.
    pub fn unavailable_for(mut self, requests: usize) -> Self {
        self.unavailable_for = requests;
        self
    }

    /// In namespace `ns`, outside Argo CD's own.
    pub fn in_namespace(mut self, ns: &str) -> Self {
        self.namespace = ns.to_string();
        self.namespaced = true;
        self
    }
}

/// One request the stand-in received.
#[derive(Debug, Clone)]
pub struct Received {
    /// `GET`, `POST`.
    pub method: String,
    /// Path and query.
    pub uri: String,
    /// The body, parsed (Null when empty or not JSON).
    pub body: Value,
    /// The status answered.
    pub status: u16,
}

/// The revision the apps are at before any sync.
pub const OLD_REVISION: &str = "1111111111111111111111111111111111111111";

#[derive(Debug)]
struct AppState {
    spec: FakeApp,
    sync_status: &'static str,
    health: &'static str,
    revision: String,
    operation: Option<Value>,
    op_state: Option<Value>,
    reconciled_at: u64,
    /// Steps since the last accepted sync (None: no sync yet).
    step: Option<usize>,
    /// The revision the running sync goes to.
    syncing_to: String,
    busy_left: usize,
    served_outcome: bool,
}

#[derive(Debug)]
struct State {
    token: String,
    webhook_secret: Option<String>,
    /// The commit the apps' branch points at (what a sync without revision syncs to).
    head: String,
    apps: BTreeMap<String, AppState>,
    clock: u64,
    received: Vec<Received>,
    violations: Vec<String>,
    webhook_events: Vec<Value>,
}

/// A running stand-in; stops when dropped.
pub struct StandIn {
    server: super::http_server::Server,
    state: Arc<Mutex<State>>,
}

struct Validators {
    sync_request: jsonschema::Validator,
    application: jsonschema::Validator,
}

impl StandIn {
    /// Starts a stand-in on a loopback port, accepting `token`, with `apps` whose branch head is
    /// `head`; the webhook checks signatures with `webhook_secret` when given. `shared` is the folder
    /// holding `schemas/`.
    pub fn start(
        shared: &std::path::Path,
        token: &str,
        head: &str,
        webhook_secret: Option<&str>,
        apps: Vec<FakeApp>,
    ) -> Self {
        let swagger_path = shared.join("schemas/argo-cd/swagger.json");
        let swagger: Value = serde_json::from_slice(
            &std::fs::read(&swagger_path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", swagger_path.display())),
        )
        .expect("swagger.json parses");
        let validators = Arc::new(Validators {
            sync_request: schemas::swagger_validator(&swagger, "applicationApplicationSyncRequest"),
            application: schemas::swagger_validator(&swagger, "v1alpha1Application"),
        });
        let state = Arc::new(Mutex::new(State {
            token: token.to_string(),
            webhook_secret: webhook_secret.map(str::to_string),
            head: head.to_string(),
            apps: apps
                .into_iter()
                .map(|spec| {
                    let busy_left = spec.busy_for;
                    (
                        spec.name.clone(),
                        AppState {
                            sync_status: "OutOfSync",
                            health: "Healthy",
                            revision: OLD_REVISION.to_string(),
                            operation: None,
                            op_state: (busy_left > 0).then(|| {
                                json!({
                                    "phase": "Running",
                                    "startedAt": timestamp(1),
                                    "operation": {"sync": {"revision": OLD_REVISION}},
                                })
                            }),
                            reconciled_at: 2,
                            step: None,
                            syncing_to: String::new(),
                            busy_left,
                            served_outcome: false,
                            spec,
                        },
                    )
                })
                .collect(),
            clock: 10,
            received: Vec::new(),
            violations: Vec::new(),
            webhook_events: Vec::new(),
        }));
        let served = state.clone();
        let server = super::http_server::start(move |req| {
            let state = served.clone();
            let validators = validators.clone();
            async move { handle(req, &state, &validators).await }
        });
        Self { server, state }
    }

    /// `http://127.0.0.1:PORT` (what `ARGOCD_SERVER` takes).
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// Every request received, in order.
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// What the client did that Argo CD would have refused or that breaks the swagger; must be empty.
    pub fn violations(&self) -> Vec<String> {
        self.state.lock().unwrap().violations.clone()
    }

    /// The push events accepted by the webhook.
    pub fn webhook_events(&self) -> Vec<Value> {
        self.state.lock().unwrap().webhook_events.clone()
    }

    /// Whether `app`'s final state (after the stale trap states) was served.
    pub fn served_outcome(&self, app: &str) -> bool {
        self.state.lock().unwrap().apps[app].served_outcome
    }

    /// The sync request bodies received for `app`, accepted or not.
    pub fn sync_requests(&self, app: &str) -> Vec<Value> {
        let suffix = format!("/api/v1/applications/{app}/sync");
        self.received()
            .into_iter()
            .filter(|r| r.method == "POST" && r.uri.starts_with(&suffix))
            .map(|r| r.body)
            .collect()
    }
}

fn timestamp(seconds: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_767_225_600 + seconds);
    humantime::format_rfc3339_seconds(time).to_string()
}

fn error(status: StatusCode, code: u32, message: &str) -> (StatusCode, Value) {
    (
        status,
        json!({"error": message, "code": code, "message": message, "details": []}),
    )
}

async fn handle(
    req: Request<Incoming>,
    state: &Mutex<State>,
    validators: &Validators,
) -> Response<Full<Bytes>> {
    let method = req.method().to_string();
    let uri = req.uri().to_string();
    let path = req.uri().path().to_string();
    let query: BTreeMap<String, String> = req
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let headers = req.headers().clone();
    let bytes = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let mut state = state.lock().unwrap();
    let (status, answer) = if path == "/api/webhook" && method == "POST" {
        webhook(&mut state, &headers, &bytes)
    } else {
        api(
            &mut state, validators, &method, &path, &query, &headers, &body,
        )
    };
    state.received.push(Received {
        method,
        uri,
        body,
        status: status.as_u16(),
    });
    // The webhook handler answers plain text (Go's http.Error), the API JSON.
    let (bytes, content_type) = match &answer {
        Value::Null => (Vec::new(), "text/plain; charset=utf-8"),
        Value::String(text) => (
            format!("{text}\n").into_bytes(),
            "text/plain; charset=utf-8",
        ),
        value => (serde_json::to_vec(value).unwrap(), "application/json"),
    };
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(bytes)))
        .unwrap()
}

fn api(
    state: &mut State,
    validators: &Validators,
    method: &str,
    path: &str,
    query: &BTreeMap<String, String>,
    headers: &hyper::HeaderMap,
    body: &Value,
) -> (StatusCode, Value) {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(token) = auth.strip_prefix("Bearer ") else {
        return error(StatusCode::UNAUTHORIZED, 16, "no session information");
    };
    if token != state.token {
        // Echoes the token, as some proxies do, to prove the client scrubs it.
        return error(
            StatusCode::UNAUTHORIZED,
            16,
            &format!("invalid session: token {token} is not valid"),
        );
    }
    let Some(rest) = path.strip_prefix("/api/v1/applications/") else {
        return error(StatusCode::NOT_FOUND, 5, "Not Found");
    };
    let (name, action) = match rest.split_once('/') {
        Some((name, action)) => (name, Some(action)),
        None => (rest, None),
    };
    let name = percent_decode(name);
    let (sync_call, get_call) = (
        method == "POST" && action == Some("sync"),
        method == "GET" && action.is_none(),
    );
    if !sync_call && !get_call {
        return error(
            StatusCode::NOT_IMPLEMENTED,
            12,
            "not served by the stand-in",
        );
    }
    let ns_asked = if sync_call {
        body.get("appNamespace")
            .and_then(Value::as_str)
            .map(str::to_string)
    } else {
        query.get("appNamespace").cloned()
    };
    let head = state.head.clone();
    state.clock += 1;
    let now = state.clock;
    let Some(app) = state.apps.get_mut(&name) else {
        return error(
            StatusCode::NOT_FOUND,
            5,
            &format!("applications.argoproj.io \"{name}\" not found"),
        );
    };
    if app.spec.namespaced && ns_asked.as_deref() != Some(app.spec.namespace.as_str()) {
        return error(
            StatusCode::NOT_FOUND,
            5,
            &format!("applications.argoproj.io \"{name}\" not found"),
        );
    }
    if app.spec.unavailable_for > 0 {
        app.spec.unavailable_for -= 1;
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Value::String(
                "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>".into(),
            ),
        );
    }
    if app.spec.forbidden {
        return error(
            StatusCode::FORBIDDEN,
            7,
            &format!("permission denied: applications, get, default/{name}, sub: ci"),
        );
    }
    let mut violations = Vec::new();
    let answer = if sync_call {
        let problems = schemas::errors(&validators.sync_request, body);
        if !problems.is_empty() {
            violations.push(format!(
                "sync request for {name} breaks applicationApplicationSyncRequest: {problems:?}"
            ));
            let (s, v) = error(StatusCode::BAD_REQUEST, 3, "invalid request body");
            state.violations.extend(violations);
            return (s, v);
        }
        if body.get("name").and_then(Value::as_str) != Some(name.as_str()) {
            violations.push(format!("sync request body names another app: {body}"));
        }
        let revision = body.get("revision").and_then(Value::as_str);
        if app.spec.automated
            && let Some(revision) = revision
            && revision != app.spec.target_revision
        {
            let message = format!(
                "Cannot sync to {revision}: auto-sync currently set to {}",
                app.spec.target_revision
            );
            violations.push(message.clone());
            state.violations.extend(violations);
            return error(StatusCode::BAD_REQUEST, 9, &message);
        }
        if app.operation.is_some() || app.busy_left > 0 || in_flight(app) {
            state.violations.extend(violations);
            return error(
                StatusCode::BAD_REQUEST,
                9,
                "another operation is already in progress",
            );
        }
        let to = revision.unwrap_or(&head).to_string();
        app.operation = Some(json!({
            "sync": {"revision": to},
            "initiatedBy": {"username": "ci"},
        }));
        app.syncing_to = to;
        app.step = Some(0);
        application(app)
    } else {
        if query.get("refresh").is_some() && app.step.is_none() && app.revision != head {
            app.sync_status = "OutOfSync";
            app.reconciled_at = now;
        }
        advance(app, now);
        application(app)
    };
    state.violations.extend(violations);
    let problems = schemas::errors(&validators.application, &answer);
    if !problems.is_empty() {
        state.violations.push(format!(
            "the stand-in answered an Application that breaks v1alpha1Application: {problems:?}"
        ));
    }
    (StatusCode::OK, answer)
}

/// An operation has started and not finished.
fn in_flight(app: &AppState) -> bool {
    app.op_state
        .as_ref()
        .is_some_and(|s| s.get("finishedAt").is_none())
}

/// One GET's worth of progress.
fn advance(app: &mut AppState, now: u64) {
    if app.busy_left > 0 {
        app.busy_left -= 1;
        if app.busy_left == 0 {
            // The other operation ends; the controller reconciles right after.
            app.op_state = Some(json!({
                "phase": "Succeeded",
                "message": "successfully synced (all tasks run)",
                "startedAt": timestamp(1),
                "finishedAt": timestamp(now),
                "operation": {"sync": {"revision": OLD_REVISION}},
                "syncResult": {"revision": OLD_REVISION},
            }));
            app.reconciled_at = now + 1;
        }
        return;
    }
    let Some(step) = app.step else { return };
    let to = app.syncing_to.clone();
    let operation = json!({"sync": {"revision": to}});
    match step {
        0 => {
            // The controller takes the operation up.
            app.operation = None;
            app.op_state = Some(json!({
                "phase": "Running",
                "message": "syncing",
                "startedAt": timestamp(now),
                "operation": operation,
            }));
        }
        1 => {
            let failed = app.spec.outcome == Outcome::SyncFails;
            let state = app.op_state.as_mut().unwrap();
            state["phase"] = json!(if failed { "Failed" } else { "Succeeded" });
            state["message"] = json!(if failed {
                "one or more objects failed to apply, reason: Model.mlops.seldon.io \"baseline-predictor\" is invalid"
            } else {
                "successfully synced (all tasks run)"
            });
            state["finishedAt"] = json!(timestamp(now + 5));
            state["syncResult"] = json!({"revision": to});
            if !failed {
                // Trap: Synced and (stale) Healthy, but not reconciled since the operation finished.
                app.sync_status = "Synced";
                app.revision = to;
                app.health = "Healthy";
            }
        }
        2 => {
            app.reconciled_at = now + 10;
            if app.spec.outcome != Outcome::SyncFails {
                app.health = "Progressing";
            }
        }
        _ => {
            app.reconciled_at = now + 10;
            match app.spec.outcome {
                Outcome::Healthy => app.health = "Healthy",
                Outcome::Degraded => app.health = "Degraded",
                Outcome::Stuck => app.health = "Progressing",
                Outcome::SyncFails => {}
            }
            app.served_outcome = true;
        }
    }
    app.step = Some(step + 1);
}

fn application(app: &AppState) -> Value {
    let mut value = json!({
        "metadata": {"name": app.spec.name, "namespace": app.spec.namespace},
        "spec": {
            "project": "default",
            "source": {
                "repoURL": app.spec.repo_url,
                "targetRevision": app.spec.target_revision,
                "path": "k8s/base",
            },
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "financial-inference"},
        },
        "status": {
            "sync": {"status": app.sync_status, "revision": app.revision},
            "health": {"status": app.health},
            "reconciledAt": timestamp(app.reconciled_at),
        },
    });
    if app.spec.automated {
        value["spec"]["syncPolicy"] = json!({"automated": {"prune": true, "selfHeal": true}});
    }
    if let Some(op) = &app.operation {
        value["operation"] = op.clone();
    }
    if let Some(op_state) = &app.op_state {
        value["status"]["operationState"] = op_state.clone();
    }
    value
}

fn webhook(state: &mut State, headers: &hyper::HeaderMap, body: &[u8]) -> (StatusCode, Value) {
    let failed = (
        StatusCode::BAD_REQUEST,
        Value::String("Webhook processing failed".into()),
    );
    if headers.get("x-github-event").and_then(|v| v.to_str().ok()) != Some("push") {
        state
            .violations
            .push("webhook without X-GitHub-Event: push".into());
        return failed;
    }
    if let Some(secret) = &state.webhook_secret {
        let want = {
            use hmac::{KeyInit, Mac};
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
            mac.update(body);
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        };
        let got = headers
            .get("x-hub-signature-256")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if got != want {
            return failed;
        }
    }
    let Ok(event) = serde_json::from_slice::<Value>(body) else {
        state.violations.push("webhook body is not JSON".into());
        return failed;
    };
    for (field, ok) in [
        (
            "ref",
            event["ref"]
                .as_str()
                .is_some_and(|r| r.starts_with("refs/heads/")),
        ),
        (
            "before",
            event["before"].as_str().is_some_and(|s| s.len() == 40),
        ),
        (
            "after",
            event["after"].as_str().is_some_and(|s| s.len() == 40),
        ),
        (
            "repository.html_url",
            event["repository"]["html_url"].is_string(),
        ),
        (
            "commits[].modified",
            event["commits"][0]["modified"].is_array(),
        ),
    ] {
        if !ok {
            state
                .violations
                .push(format!("webhook event lacks a valid {field}: {event}"));
            return failed;
        }
    }
    let html_url = normalize_repo(event["repository"]["html_url"].as_str().unwrap());
    let branch = event["ref"]
        .as_str()
        .unwrap()
        .trim_start_matches("refs/heads/")
        .to_string();
    let after = event["after"].as_str().unwrap().to_string();
    for app in state.apps.values_mut() {
        let matches = normalize_repo(&app.spec.repo_url) == html_url
            && (app.spec.target_revision == branch || app.spec.target_revision == "HEAD");
        if matches && app.spec.automated && app.operation.is_none() && !in_flight(app) {
            app.operation =
                Some(json!({"sync": {"revision": after}, "initiatedBy": {"automated": true}}));
            app.syncing_to = after.clone();
            app.step = Some(0);
        }
    }
    state.webhook_events.push(event);
    (StatusCode::OK, Value::Null)
}

/// A repository URL as Argo CD compares them: scheme and credentials dropped, `.git` dropped,
/// lower case, ssh `host:path` as `host/path`.
fn normalize_repo(url: &str) -> String {
    let url = url.trim().to_ascii_lowercase();
    let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let rest = rest.trim_end_matches('/');
    let rest = rest.strip_suffix(".git").unwrap_or(rest);
    rest.replacen(':', "/", 1)
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}
