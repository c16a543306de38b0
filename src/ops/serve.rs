//! `serve`, the long-running use case: run the pipeline when MLflow says so (a signed webhook), and on an
//! interval in case a delivery was lost (MLflow does not keep them).
//!
//! Three parts share one [`Shared`] state:
//! - the **HTTP listener** (hyper, HTTP/1.1): `POST /webhooks/mlflow` checks the delivery
//!   ([`crate::serve::signature`]), reads the event ([`crate::serve::event`]), queues it and answers at
//!   once, well within MLflow's 30 s; `GET /healthz`, `GET /readyz`, `GET /metrics`;
//! - the **worker**, one per repository, on its own thread: it takes the coalesced batch
//!   ([`crate::serve::queue`]), refreshes the clone from the remote, reloads `modelbump.yaml`, selects
//!   the targets the batch can affect and calls [`crate::ops::run`] for them; one run at a time;
//! - the **poller**: at start, then every interval, it queues a reconciliation of every target.
//!
//! The clone is serve's own. Before each run it is fetched and, when the remote moved ahead, fast-forwarded
//! to the remote tip (a safe checkout, which refuses to overwrite a local change); commits the remote
//! lacks (a push that failed earlier) are kept, and the run pushes them with its own, as `run` does.
//!
//! Shutting down (SIGTERM): the listener stops accepting, the worker lets the run in progress finish for
//! up to the grace period, then drops it. A run can only be dropped where it waits: while it asks MLflow
//! or the forge (nothing written yet) or while it syncs Argo CD (already pushed). Writing the files
//! (atomic renames), committing and pushing happen in one stretch without a wait; when that stretch is
//! still under way [`SHUTDOWN_UNWIND`] after the grace period (a push held by a slow server or a
//! pre-receive hook), the process stops without waiting for it. The files were renamed into place whole
//! and the commit made before the push started, so the clone holds no half-written file; the remote
//! takes a push whole or not at all; and the next start pushes a commit of the clone the remote lacks.
//!
//! In pull-request mode ([`ServeOptions::pull_request`]) each run is [`crate::ops::run_pull_request`]
//! over every target: the clone is only fetched, and the pull request is the one `run --pull-request`
//! would open or update.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::watch;

use crate::config::Config;
use crate::env::Env;
use crate::git::{Credentials, GitError, GitRepo, PushRequest};
use crate::ops::PullRequestOptions;
use crate::ops::commit::PushTarget;
use crate::ops::run::{RunError, RunOptions, RunOutcome, run};
use crate::report::Report;
use crate::secret::SecretString;
use crate::serve::event::Event;
use crate::serve::metrics::Metrics;
use crate::serve::queue::{Batch, WorkQueue};
use crate::serve::signature::{Signed, Verifier};

/// The largest webhook body read (MLflow's payloads are well under 10 KiB).
const MAX_WEBHOOK_BODY: usize = 1024 * 1024;

/// How long a client may take to send a request's headers, then its body.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the run in progress may go on after SIGTERM (a Kubernetes pod gets 30 s by default).
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// How long after the grace period the process still waits for a run in a blocking stretch (a push
/// under way) before it stops without it; the default grace plus this stays under Kubernetes' 30 s.
const SHUTDOWN_UNWIND: Duration = Duration::from_secs(2);

/// The input of `serve`.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// What each run does; its `plan.config` is reloaded from the clone before each run, and its
    /// targets narrowed to those an event can affect.
    pub run: RunOptions,
    /// Where to listen.
    pub listen: SocketAddr,
    /// How often to reconcile every target; `None`: only at start.
    pub interval: Option<Duration>,
    /// The webhook secret; without it the webhook endpoint refuses every delivery (polling still works).
    pub webhook_secret: Option<SecretString>,
    /// How long the run in progress may go on after a shutdown was asked for.
    pub shutdown_grace: Duration,
    /// Pull-request mode (`git.pullRequest`, `MODELBUMP_PULL_REQUEST`): each run opens or updates a pull
    /// request with [`crate::ops::run_pull_request`] instead of pushing to the branch; `None`: push.
    pub pull_request: Option<PullRequestOptions>,
}

/// What the listener, the worker and the poller share.
struct Shared {
    queue: WorkQueue,
    metrics: Metrics,
    verifier: Option<Verifier>,
    mlflow_reached: AtomicBool,
    remote_reached: AtomicBool,
    /// The client of the MLflow probe, made once.
    probe: reqwest::Client,
}

impl Shared {
    fn ready(&self) -> bool {
        self.mlflow_reached.load(Ordering::SeqCst) && self.remote_reached.load(Ordering::SeqCst)
    }
}

/// Runs the service until `shutdown` turns true; returns once the worker has stopped.
pub async fn serve(
    options: ServeOptions,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (--listen, MODELBUMP_LISTEN)",
                options.listen
            )
        })?;
    let shared = Arc::new(Shared {
        queue: WorkQueue::default(),
        metrics: Metrics::default(),
        verifier: options.webhook_secret.clone().map(Verifier::new),
        mlflow_reached: AtomicBool::new(false),
        remote_reached: AtomicBool::new(false),
        probe: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .context("an HTTP client for the MLflow probe")?,
    });
    if shared.verifier.is_none() {
        tracing::warn!(
            "no MODELBUMP_MLFLOW_WEBHOOK_SECRET: every webhook delivery is refused; only the poller runs"
        );
    }
    tracing::info!(
        listen = %listener.local_addr().map_or_else(|_| options.listen.to_string(), |a| a.to_string()),
        interval_secs = options.interval.map_or(0, |d| d.as_secs()),
        repo = %options.run.plan.repo.display(),
        "serving"
    );
    // The worker says when it stopped; a panic drops the sender unsent.
    let (stopped, worker_stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = {
        let (shared, options, shutdown) = (shared.clone(), options.clone(), shutdown.clone());
        std::thread::Builder::new()
            .name("modelbump-worker".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for the worker");
                runtime.block_on(work(&options, &shared, shutdown));
                let _ = stopped.send(());
            })
            .context("cannot start the worker thread")?
    };
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, std::convert::Infallible>(handle(req, &shared).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .timer(hyper_util::rt::TokioTimer::new())
                        .header_read_timeout(READ_TIMEOUT)
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
            _ = shutdown.changed() => {
                if *shutdown.borrow() {
                    break;
                }
            }
        }
    }
    drop(listener);
    tracing::info!("shutting down: no new deliveries; waiting for the run in progress");
    // The worker drops a run at its next wait once the grace period is over. A blocking stretch (the
    // files' renames, the commit, the push) cannot be dropped: should one still go on a moment after the
    // grace period (a push waiting on a slow server or hook), the process stops without it.
    let bound = options.shutdown_grace + SHUTDOWN_UNWIND;
    match tokio::time::timeout(bound, worker_stopped).await {
        Ok(Ok(())) => {
            let _ = worker.join();
            tracing::info!("stopped");
        }
        Ok(Err(_)) => anyhow::bail!("the worker thread panicked"),
        Err(_) => tracing::error!(
            "stopped without waiting for the run in progress: it was still pushing (or committing) {} s after the shutdown; the remote holds its commit whole or not at all, and a commit the clone holds but the remote lacks is pushed by the next run",
            bound.as_secs()
        ),
    }
    Ok(())
}

/// Answers one request.
async fn handle(req: Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/healthz") => answer(StatusCode::OK, "text/plain", "ok\n"),
        (&Method::GET, "/readyz") => {
            if shared.ready() {
                answer(StatusCode::OK, "text/plain", "ready\n")
            } else {
                let mut missing = Vec::new();
                if !shared.mlflow_reached.load(Ordering::SeqCst) {
                    missing.push("MLflow");
                }
                if !shared.remote_reached.load(Ordering::SeqCst) {
                    missing.push("the git remote");
                }
                answer(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain",
                    &format!("not ready: {} not reached yet\n", missing.join(" and ")),
                )
            }
        }
        (&Method::GET, "/metrics") => answer(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            &shared.metrics.render(shared.queue.depth(), shared.ready()),
        ),
        (&Method::POST, "/webhooks/mlflow") => webhook(req, shared).await,
        (_, "/healthz" | "/readyz" | "/metrics" | "/webhooks/mlflow") => answer(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "method not allowed\n",
        ),
        _ => answer(StatusCode::NOT_FOUND, "text/plain", "not found\n"),
    }
}

/// `POST /webhooks/mlflow`: verify, read, queue, answer.
async fn webhook(req: Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (id, timestamp, signature) = (
        header("x-mlflow-delivery-id"),
        header("x-mlflow-timestamp"),
        header("x-mlflow-signature"),
    );
    let body = tokio::time::timeout(
        READ_TIMEOUT,
        Limited::new(req.into_body(), MAX_WEBHOOK_BODY).collect(),
    )
    .await;
    let body = match body {
        Ok(Ok(collected)) => collected.to_bytes(),
        _ => {
            shared.metrics.delivery("malformed");
            return json(
                StatusCode::PAYLOAD_TOO_LARGE,
                "refused",
                "the body is larger than 1 MiB or was not sent in time",
            );
        }
    };
    let Some(verifier) = &shared.verifier else {
        shared.metrics.delivery("bad_signature");
        return json(
            StatusCode::UNAUTHORIZED,
            "refused",
            "no webhook secret is configured (MODELBUMP_MLFLOW_WEBHOOK_SECRET)",
        );
    };
    let signed = Signed {
        delivery_id: id.as_deref(),
        timestamp: timestamp.as_deref(),
        signature: signature.as_deref(),
    };
    if let Err(refusal) = verifier.verify(signed, &body, unix_now() as u64) {
        shared.metrics.delivery(refusal.verdict());
        tracing::warn!(
            delivery = id.as_deref().unwrap_or("-"),
            verdict = refusal.verdict(),
            "webhook delivery refused: {refusal}"
        );
        let status = StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::UNAUTHORIZED);
        return json(status, "refused", &refusal.to_string());
    }
    let event = match Event::parse(&body) {
        Ok(event) => event,
        Err(err) => {
            shared.metrics.delivery("malformed");
            return json(StatusCode::BAD_REQUEST, "refused", &err.to_string());
        }
    };
    if !event.is_relevant() {
        shared.metrics.delivery("ignored");
        tracing::info!(event = %event.kind, "webhook delivery ignored: no target follows this kind of event");
        return json(
            StatusCode::OK,
            "ignored",
            "no target follows this kind of event",
        );
    }
    tracing::info!(
        delivery = id.as_deref().unwrap_or("-"),
        event = %event.kind,
        model = %event.model,
        alias = event.alias.as_deref().unwrap_or(""),
        "webhook delivery accepted"
    );
    shared.metrics.delivery("accepted");
    shared.queue.push_event(event);
    json(StatusCode::OK, "queued", "the event is queued")
}

fn answer(status: StatusCode, content_type: &str, body: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a valid response")
}

fn json(status: StatusCode, verdict: &str, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({ "status": verdict, "message": message }).to_string() + "\n";
    answer(status, "application/json", &body)
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The worker: a reconciliation at start, then each batch as it comes, and the poller's ticks.
async fn work(options: &ServeOptions, shared: &Shared, mut shutdown: watch::Receiver<bool>) {
    shared.queue.push_all();
    let mut ticks = options.interval.map(|every| {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks
    });
    loop {
        if *shutdown.borrow() {
            break;
        }
        if let Some(batch) = shared.queue.take() {
            shared.metrics.run_started();
            let stop = abandon_after(shutdown.clone(), options.shutdown_grace);
            tokio::select! {
                () = reconcile(options, shared, batch) => {}
                () = stop => {
                    shared.metrics.run_ended("failed", unix_now());
                    tracing::warn!(
                        "the run in progress did not finish within {} s of the shutdown; abandoned (before its push, or during its sync)",
                        options.shutdown_grace.as_secs()
                    );
                    break;
                }
            }
            continue;
        }
        tokio::select! {
            () = shared.queue.wait() => {}
            _ = async {
                match ticks.as_mut() {
                    Some(t) => t.tick().await,
                    None => std::future::pending().await,
                }
            } => {
                tracing::debug!("poll: reconciling every target");
                shared.queue.push_all();
            }
            _ = shutdown.changed() => {}
        }
    }
}

/// Resolves `grace` after `shutdown` turned true; never before.
async fn abandon_after(mut shutdown: watch::Receiver<bool>, grace: Duration) {
    while !*shutdown.borrow() {
        if shutdown.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
    tokio::time::sleep(grace).await;
}

/// One run for a batch: refresh the clone, reload the config, select the targets, run.
async fn reconcile(options: &ServeOptions, shared: &Shared, batch: Batch) {
    let root = &options.run.plan.repo;
    let mlflow = probe_mlflow(
        &shared.probe,
        options.run.plan.mlflow.tracking_uri.as_deref(),
    )
    .await;
    shared
        .mlflow_reached
        .store(mlflow.is_ok(), Ordering::SeqCst);
    if let Err(err) = mlflow {
        return failed_before_run(shared, "mlflow", &err);
    }
    let push = options.run.push.as_ref();
    if let Some(spec) = push {
        let refreshed = refresh(root, spec, &options.run.git.env);
        shared
            .remote_reached
            .store(refreshed.is_ok(), Ordering::SeqCst);
        if let Err(err) = refreshed {
            return failed_before_run(shared, "git", &err);
        }
    } else {
        shared.remote_reached.store(true, Ordering::SeqCst);
    }
    let mut run_options = options.run.clone();
    let config = match Config::load(root, options.run.plan.config_path.as_deref()) {
        Ok((config, _)) => config,
        Err(err) => return failed_before_run(shared, "other", &err.into()),
    };
    let mut selected = config.clone();
    if !batch.all {
        selected
            .targets
            .retain(|t| batch.events.iter().any(|e| e.affects(t)));
    }
    // In pull-request mode the head branch is named by the targets it covers, so a run an event
    // concerns covers them all: events and the poller then update the same pull request, the one
    // `run --pull-request` opens.
    if options.pull_request.is_some() && !selected.targets.is_empty() {
        selected.targets.clone_from(&config.targets);
    }
    if selected.targets.is_empty() {
        tracing::info!(
            events = batch.events.len(),
            "no configured target follows these events; nothing to do"
        );
        shared.metrics.run_ended("unchanged", unix_now());
        return;
    }
    tracing::info!(
        targets = selected.targets.len(),
        all = batch.all,
        events = batch.events.len(),
        "run started"
    );
    run_options.plan.config = selected.clone();
    run_options.git.repo.clone_from(root);
    let result = match &options.pull_request {
        Some(pr) => crate::ops::run_pull_request(&run_options, pr).await,
        None => run(&run_options).await,
    };
    finished(shared, result);
}

/// Counts and logs the end of a run.
fn finished(shared: &Shared, result: Result<RunOutcome, RunError>) {
    match result {
        Ok(done) => {
            set_targets(shared, &done.report);
            let outcome = if done.report.commit.is_some() {
                "changed"
            } else {
                "unchanged"
            };
            shared.metrics.run_ended(outcome, unix_now());
            tracing::info!(
                outcome,
                commit = done.report.commit.as_deref().unwrap_or(""),
                pushed = done.report.pushed,
                synced = done.report.sync.len(),
                pull_request = pull_request_line(&done.report),
                "run finished"
            );
        }
        Err(err) => {
            set_targets(shared, &err.report);
            let dependency = dependency_of(&err);
            shared.metrics.error(dependency);
            shared.metrics.run_ended("failed", unix_now());
            tracing::error!(
                dependency,
                commit = err.report.commit.as_deref().unwrap_or(""),
                pushed = err.report.pushed,
                "run failed: {err}"
            );
        }
    }
}

/// `opened #12 https://...` in pull-request mode, else empty.
fn pull_request_line(report: &Report) -> String {
    report.pull_request.as_ref().map_or_else(String::new, |pr| {
        match (pr.number, pr.url.as_deref()) {
            (Some(number), Some(url)) => format!("{} #{number} {url}", pr.action),
            _ => pr.action.clone(),
        }
    })
}

/// Counts a run that failed before the pipeline started, against `dependency`.
fn failed_before_run(shared: &Shared, dependency: &'static str, err: &anyhow::Error) {
    shared.metrics.error(dependency);
    shared.metrics.run_ended("failed", unix_now());
    tracing::error!(dependency, "{err:#}");
}

fn set_targets(shared: &Shared, report: &Report) {
    let statuses: Vec<String> = report
        .targets
        .iter()
        .map(|t| {
            serde_json::to_value(t.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        })
        .collect();
    shared
        .metrics
        .set_targets(statuses.iter().map(String::as_str));
}

/// Which dependency a failed run is counted against: the sync failed after the push (Argo CD), a
/// commit was made but not pushed (git), the error names a store or the remote, else "other".
fn dependency_of(err: &RunError) -> &'static str {
    if err.outcome.is_some() {
        return "argocd";
    }
    if err.report.commit.is_some() && !err.report.pushed {
        return "git";
    }
    for cause in err.source.chain() {
        if cause.downcast_ref::<GitError>().is_some() {
            return "git";
        }
        if cause
            .downcast_ref::<crate::tracking::TrackingError>()
            .is_some()
            || cause
                .downcast_ref::<crate::resolve::ResolveError>()
                .is_some()
        {
            return "mlflow";
        }
        if cause.downcast_ref::<crate::argocd::ArgoCdError>().is_some() {
            return "argocd";
        }
    }
    "other"
}

/// Whether the tracking server answers: `GET /health` for an HTTP(S) tracking URI (any answer below
/// 500 counts: a server behind auth may refuse it); a local store is always reached.
async fn probe_mlflow(client: &reqwest::Client, tracking_uri: Option<&str>) -> anyhow::Result<()> {
    let Some(uri) = tracking_uri.filter(|u| u.starts_with("http://") || u.starts_with("https://"))
    else {
        return Ok(());
    };
    let url = format!("{}/health", uri.trim_end_matches('/'));
    let shown = crate::secret::redact_url(uri);
    let answer = client
        .get(&url)
        .send()
        .await
        .with_context(|| format!("cannot reach MLflow at {shown}"))?;
    anyhow::ensure!(
        answer.status().as_u16() < 500,
        "MLflow at {shown} answered HTTP {} on /health",
        answer.status()
    );
    Ok(())
}

/// Fetches the remote branch and fast-forwards the clone to it when the remote moved ahead. Commits of
/// the clone that the remote lacks are left for the run to push; nothing is reset or discarded.
fn refresh(root: &Path, spec: &crate::ops::PushSpec, env: &Env) -> anyhow::Result<()> {
    let repo = GitRepo::discover(root)?;
    let target = PushTarget::resolve(&repo, spec)?;
    let credentials = Credentials::from_env(env).with_user_info(&target.user_info);
    let request = PushRequest {
        remote: target.remote.clone(),
        branch: target.branch.clone(),
        attempts: 1,
        credentials: &credentials,
    };
    let tip = repo.fetch_tip(&request)?;
    let head = repo.head_commit()?;
    if head != tip && repo.contains(tip, head) {
        repo.move_branch(tip)?;
        tracing::debug!(
            "fast-forwarded to {} {} {tip}",
            target.remote,
            target.branch
        );
    } else if !repo.contains(head, tip) {
        tracing::info!(
            "the clone holds commits {} {} lacks; the run pushes them on its tip",
            target.remote,
            target.branch
        );
    }
    Ok(())
}

/// Makes `dir` serve's working clone: clones `url` there (branch `branch`) when `dir` is missing or
/// empty, then refuses a checkout with uncommitted changes to tracked files.
pub fn prepare_clone(dir: &Path, url: Option<&str>, branch: &str, env: &Env) -> anyhow::Result<()> {
    let empty = match std::fs::read_dir(dir) {
        Ok(mut entries) => entries.next().is_none(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    if empty {
        let Some(url) = url else {
            anyhow::bail!(
                "{} is empty: serve needs a clone of the GitOps repository there; give its URL with --clone (MODELBUMP_CLONE_URL)",
                dir.display()
            );
        };
        clone_into(dir, url, branch, env)?;
    }
    let repo = git2::Repository::open(dir).with_context(|| {
        format!(
            "{} is not a git checkout; point -C at serve's clone, or at an empty folder with --clone URL",
            dir.display()
        )
    })?;
    let mut options = git2::StatusOptions::new();
    options.include_untracked(false).include_ignored(false);
    let statuses = repo
        .statuses(Some(&mut options))
        .with_context(|| format!("cannot read the status of {}", dir.display()))?;
    let dirty: Vec<String> = statuses
        .iter()
        .filter(|s| s.status() != git2::Status::CURRENT)
        .filter_map(|s| s.path().ok().map(str::to_string))
        .collect();
    anyhow::ensure!(
        dirty.is_empty(),
        "refusing to serve from {}: it holds uncommitted changes ({}); serve owns its clone: commit, stash or undo them (git stash), or give serve a clone of its own",
        dir.display(),
        dirty.join(", ")
    );
    Ok(())
}

fn clone_into(dir: &Path, url: &str, branch: &str, env: &Env) -> anyhow::Result<()> {
    let (plain, info) = crate::git::split_remote_url(url)
        .with_context(|| format!("--clone {url:?} is not a URL or a path"))?;
    anyhow::ensure!(
        info.password.is_none(),
        "--clone: the URL holds a password; pass the URL without it and the token in MODELBUMP_GIT_TOKEN (it would be stored in the clone's .git/config)"
    );
    tracing::info!(
        "cloning {} ({branch}) into {}",
        crate::secret::redact_url(&plain),
        dir.display()
    );
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let raw =
        git2::Repository::init_opts(dir, git2::RepositoryInitOptions::new().initial_head(branch))
            .with_context(|| format!("cannot create a repository in {}", dir.display()))?;
    raw.remote("origin", &plain)
        .context("cannot add the remote origin")?;
    let repo = GitRepo::discover(dir)?;
    let credentials = Credentials::from_env(env).with_user_info(&info);
    let request = PushRequest {
        remote: "origin".into(),
        branch: branch.to_string(),
        attempts: 1,
        credentials: &credentials,
    };
    let tip = repo.fetch_tip(&request)?;
    let commit = raw.find_commit(tip).context("reading the remote tip")?;
    raw.branch(branch, &commit, true)
        .with_context(|| format!("cannot create the branch {branch}"))?;
    raw.checkout_tree(
        commit.as_object(),
        Some(git2::build::CheckoutBuilder::new().force()),
    )
    .context("cannot check out the remote tip")?;
    raw.set_head(&format!("refs/heads/{branch}"))
        .context("cannot check out the branch")?;
    let mut config = raw.config().context("the clone's config")?;
    config.set_str(&format!("branch.{branch}.remote"), "origin")?;
    config.set_str(
        &format!("branch.{branch}.merge"),
        &format!("refs/heads/{branch}"),
    )?;
    Ok(())
}
