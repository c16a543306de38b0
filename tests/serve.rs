//! `modelbump serve` against real parts: a real MLflow 3.17.2 server that delivers signed webhooks to
//! the real binary on loopback, the loopback smart-HTTP git remote (serve clones it with `--clone`),
//! and the stand-in Argo CD. The deployment files under `deploy/serve/` are validated against the
//! Kubernetes schemas with `kubernetes-validate`, and `/metrics` is read by `prometheus_client`'s
//! parser.
//!
//! No test asserts on time: each waits, with a generous bound, for a condition (a commit on the
//! remote, the worker idle in `/metrics`). The only sleep lets MLflow's one-second webhook cache expire
//! after a webhook is registered, so that MLflow knows the new receiver.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::argocd::{FakeApp, Outcome, StandIn};
use crate::support::git::{Fixture, HttpRemote, git, models_yaml};
use crate::support::github::StandIn as GitHub;
use crate::support::mlflow::{Client, MlflowServer, RunSeed, unique};
use crate::support::serve::{
    ServeProcess, WEBHOOK_CACHE_TTL, mlflow_signature, tools_python, unix_now, wait_for,
    webhook_mlflow,
};
use crate::support::{modelbump, shared_dir};

const GIT_USER: &str = "ci-bot";
const GIT_TOKEN: &str = "canary-git-token-5b1e";
const ARGOCD_TOKEN: &str = "canary-argocd-token-serve";
const APP: &str = "models";
const FILE: &str = "k8s/models.yaml";
const START_URI: &str =
    "s3://mlflow-artifacts/0/models/m-00000000000000000000000000000000/artifacts/";

/// A GitOps repository served over smart HTTP, MLflow seeded with versions of one registered model,
/// and (when the shared schemas are there) the stand-in Argo CD.
struct Setup {
    fx: Fixture,
    /// The GitHub stand-in, in pull-request mode.
    github: Option<GitHub>,
    _remote: HttpRemote,
    url: String,
    standin: Option<StandIn>,
    client: Client,
    model: String,
    /// `(version, the URI modelbump writes for it)`, in creation order.
    versions: Vec<(String, String)>,
    clone: PathBuf,
    secret: String,
}

fn setup(versions: usize, standin: Option<(&Path, FakeApp)>) -> Setup {
    setup_with(versions, standin, None)
}

/// [`setup`]; with `pull_requests` (the shared folder), the remote is `acme/gitops.git`, its `main` is
/// protected by a pre-receive hook (as a forge's branch protection), `git.pullRequest` is configured and
/// the GitHub stand-in serves the pull requests.
fn setup_with(
    versions: usize,
    standin: Option<(&Path, FakeApp)>,
    pull_requests: Option<&Path>,
) -> Setup {
    let server = webhook_mlflow();
    let client = server.client();
    let experiment = client.create_experiment(&unique("serve"));
    let model = unique("serve-model");
    client.create_registered_model(&model);
    let mut seeded = Vec::new();
    for _ in 0..versions {
        let run = client.seed_run(&experiment, &RunSeed::new("FINISHED", 5));
        let logged = client.log_model(&run, "model", true);
        let version = client.create_version(
            &model,
            &format!("models:/{}", logged.model_id),
            Some(&run.run_id),
        );
        seeded.push((version, expected_uri(server, &logged.artifact_uri)));
    }
    let argocd = if standin.is_some() {
        format!("argocd:\n  apps: [{APP}]\n")
    } else {
        String::new()
    };
    let git_config = if pull_requests.is_some() {
        "git:\n  pullRequest:\n    labels: [model-update]\n"
    } else {
        ""
    };
    let config = format!(
        "mlflow:\n  trackingUri: {url}\ntargets:\n  - file: {FILE}\n    name: baseline-predictor\n    registered:\n      name: {model}\n      alias: champion\nuriRewrite:\n  - from: \"{root}/\"\n    to: \"s3://mlflow-artifacts/\"\n{argocd}{git_config}",
        url = server.url,
        root = server.artifact_dir.display(),
    );
    let mut fx = Fixture::new(&[
        (FILE, &models_yaml(&[("baseline-predictor", START_URI)])),
        ("modelbump.yaml", &config),
    ]);
    let (remote, url, github) = match pull_requests {
        None => {
            let remote = HttpRemote::start(fx.tmp.path(), GIT_USER, GIT_TOKEN);
            let url = remote.url("remote.git");
            (remote, url, None)
        }
        Some(shared) => {
            let root = fx.tmp.path().join("srv");
            let bare = root.join("acme/gitops.git");
            std::fs::create_dir_all(bare.parent().unwrap()).unwrap();
            std::fs::rename(&fx.remote, &bare).unwrap();
            fx.remote = bare;
            install_hook(&fx.remote, PROTECT_MAIN);
            let remote = HttpRemote::start(&root, GIT_USER, GIT_TOKEN);
            let url = remote.url("acme/gitops.git");
            let github = GitHub::start(shared, GIT_TOKEN, "acme", "gitops", &fx.remote);
            (remote, url, Some(github))
        }
    };
    let standin = standin.map(|(shared, app)| {
        StandIn::start(
            shared,
            ARGOCD_TOKEN,
            fx.remote_head().trim(),
            None,
            vec![app],
        )
    });
    let clone = fx.tmp.path().join("serve-clone");
    Setup {
        fx,
        github,
        _remote: remote,
        url,
        standin,
        client,
        model,
        versions: seeded,
        clone,
        secret: unique("whsec"),
    }
}

/// What modelbump writes for an artifact URI of the server (after the rewrite, with a trailing slash).
fn expected_uri(server: &MlflowServer, artifact_uri: &str) -> String {
    let rest = artifact_uri
        .strip_prefix(&format!("{}/", server.artifact_dir.display()))
        .unwrap_or_else(|| panic!("{artifact_uri} is not under the artifact root"));
    format!("s3://mlflow-artifacts/{rest}/")
}

impl Setup {
    fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("MODELBUMP_GIT_USERNAME", GIT_USER.to_string()),
            ("MODELBUMP_GIT_TOKEN", GIT_TOKEN.to_string()),
            ("MODELBUMP_MLFLOW_WEBHOOK_SECRET", self.secret.clone()),
            ("MODELBUMP_CLONE_URL", self.url.clone()),
        ];
        if let Some(github) = &self.github {
            env.extend([
                ("MODELBUMP_FORGE", "github".to_string()),
                ("MODELBUMP_FORGE_API", github.url()),
            ]);
        }
        if let Some(standin) = &self.standin {
            env.extend([
                ("ARGOCD_SERVER", standin.url()),
                ("ARGOCD_AUTH_TOKEN", ARGOCD_TOKEN.to_string()),
                ("MODELBUMP_SYNC_POLL_INTERVAL", "10ms".to_string()),
            ]);
        }
        env
    }

    fn start(&self, args: &[&str], extra: &[(&'static str, String)]) -> ServeProcess {
        let mut env = self.env();
        env.extend(extra.iter().cloned());
        ServeProcess::start(&self.fx.home, &self.clone, args, &env)
    }

    fn set_alias(&self, index: usize) {
        self.client
            .set_alias(&self.model, "champion", &self.versions[index].0);
    }

    fn uri(&self, index: usize) -> &str {
        &self.versions[index].1
    }

    /// The model URI in the remote's `main`.
    fn remote_uri(&self) -> String {
        uri_in(&self.fx.remote_file(FILE))
    }

    fn remote_head(&self) -> String {
        self.fx.remote_head().trim().to_string()
    }

    fn commits(&self) -> usize {
        git(&self.fx.remote, &["rev-list", "--count", "main"])
            .trim()
            .parse()
            .unwrap()
    }

    /// Registers a webhook for alias changes that delivers to `serve`; deleted when dropped.
    fn register_webhook(&self, serve: &ServeProcess) -> Webhook {
        let created = self
            .client
            .call(
                reqwest::Method::POST,
                "webhooks",
                &[],
                Some(json!({
                    "name": unique("modelbump-serve"),
                    "url": format!("http://127.0.0.1:{}/webhooks/mlflow", serve.port),
                    "events": [{"entity": "MODEL_VERSION_ALIAS", "action": "CREATED"}],
                    "secret": self.secret,
                })),
            )
            .unwrap_or_else(|e| panic!("register the webhook: HTTP {}: {}", e.status, e.body));
        let id = created["webhook"]["webhook_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no webhook id in {created}"))
            .to_string();
        // MLflow caches the webhooks of an event: let the listing without this one expire.
        std::thread::sleep(WEBHOOK_CACHE_TTL + Duration::from_millis(500));
        Webhook {
            client: self.client.clone(),
            id,
        }
    }
}

/// A registered webhook, deleted when dropped (so that MLflow stops delivering to a stopped test).
struct Webhook {
    client: Client,
    id: String,
}

impl Drop for Webhook {
    fn drop(&mut self) {
        let _ = self.client.call(
            reqwest::Method::DELETE,
            &format!("webhooks/{}", self.id),
            &[],
            None,
        );
    }
}

/// A pre-receive hook that refuses every push to `main`, as a forge's branch protection does.
const PROTECT_MAIN: &str = "#!/bin/sh\nwhile read old new ref; do\n  if [ \"$ref\" = refs/heads/main ]; then\n    echo \"GH006: Protected branch update failed for refs/heads/main.\" >&2\n    exit 1\n  fi\ndone\n";

/// Installs `script` as the pre-receive hook of the bare repository `bare`.
fn install_hook(bare: &Path, script: &str) {
    use std::os::unix::fs::PermissionsExt;
    let hook = bare.join("hooks/pre-receive");
    std::fs::write(&hook, script).unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The `storageUri` of a one-model manifest.
fn uri_in(manifest: &str) -> String {
    manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("storageUri: "))
        .unwrap_or_else(|| panic!("no storageUri in {manifest}"))
        .to_string()
}

/// Runs ended so far, by the metrics.
fn runs(serve: &ServeProcess) -> f64 {
    ["changed", "unchanged", "failed"]
        .iter()
        .filter_map(|o| serve.metric(&format!("modelbump_serve_runs_total{{outcome=\"{o}\"}}")))
        .sum()
}

fn wait_remote_uri(setup: &Setup, serve: &ServeProcess, uri: &str) {
    wait_for(
        &format!("the remote to hold {uri}"),
        Duration::from_secs(120),
        || setup.remote_uri() == uri,
        || serve.logs(),
    );
}

#[test]
fn a_champion_alias_set_in_mlflow_lands_as_one_commit_and_a_sync() {
    let Some(shared) = shared_dir("a_champion_alias_set_in_mlflow_lands_as_one_commit_and_a_sync")
    else {
        return;
    };
    let s = setup(
        2,
        Some((
            &shared,
            FakeApp::new(APP, "https://git.example.com/gitops.git"),
        )),
    );
    s.set_alias(0);
    let serve = s.start(&["--interval", "0"], &[]);
    // The start reconciles: the alias set while serve was not running is deployed.
    wait_remote_uri(&s, &serve, s.uri(0));
    serve.wait_idle(1.0);
    assert_eq!(serve.get("/readyz").0, 200, "{}", serve.logs());
    let webhook = s.register_webhook(&serve);
    let before = s.commits();

    s.set_alias(1);
    wait_remote_uri(&s, &serve, s.uri(1));
    serve.wait_idle(2.0);
    assert_eq!(s.commits(), before + 1, "one commit for one alias change");
    let head = s.remote_head();
    let message = git(&s.fx.remote, &["log", "-1", "--format=%B", "main"]);
    assert!(
        message.contains(&format!("MLflow-Model-Version: {}", s.versions[1].0)),
        "{message}"
    );
    let changed = git(&s.fx.remote, &["show", "--format=", "--name-only", "main"]);
    assert_eq!(changed.trim(), FILE);
    let standin = s.standin.as_ref().unwrap();
    let synced: Vec<String> = standin
        .sync_requests(APP)
        .iter()
        .filter_map(|b| b["revision"].as_str().map(str::to_string))
        .collect();
    assert!(synced.contains(&head), "a sync to {head}: {synced:?}");
    assert!(
        standin.violations().is_empty(),
        "{:?}",
        standin.violations()
    );
    // A webhook gets the events of every model; this test's model was delivered once.
    assert_eq!(accepted_for(&serve, &s.model), 1, "{}", serve.logs());

    // MLflow's "test webhook" sends an example payload (model "example_model"): 2xx, nothing changes.
    let tested = s
        .client
        .call(
            reqwest::Method::POST,
            &format!("webhooks/{}/test", webhook.id),
            &[],
            Some(json!({})),
        )
        .unwrap_or_else(|e| panic!("test webhook: HTTP {}: {}", e.status, e.body));
    assert_eq!(tested["result"]["success"], true, "{tested}");
    wait_for(
        "the test delivery",
        Duration::from_secs(60),
        || accepted_for(&serve, "example_model") == 1,
        || serve.logs(),
    );
    serve.wait_idle(3.0);
    assert_eq!(s.remote_head(), head, "the test delivery changed nothing");

    // `/metrics`, read by the reference parser of the Prometheus text format.
    let samples = parse_metrics(&serve.get("/metrics").1);
    let value = |name: &str, label: Option<(&str, &str)>| -> f64 {
        samples
            .iter()
            .find(|s| {
                s["name"] == name && label.is_none_or(|(k, v)| s["labels"][k].as_str() == Some(v))
            })
            .and_then(|s| s["value"].as_f64())
            .unwrap_or_else(|| panic!("no sample {name} {label:?} in {samples:?}"))
    };
    assert!(value("modelbump_serve_runs_total", Some(("outcome", "changed"))) >= 2.0);
    assert!(value("modelbump_serve_last_success_timestamp_seconds", None) > 1.7e9);
    assert_eq!(
        value("modelbump_serve_targets", Some(("status", "changed"))),
        1.0
    );
    assert_eq!(value("modelbump_serve_queue_depth", None), 0.0);
    assert_eq!(value("modelbump_serve_ready", None), 1.0);
    for dependency in ["mlflow", "git", "argocd", "other"] {
        value(
            "modelbump_serve_errors_total",
            Some(("dependency", dependency)),
        );
    }
    assert!(
        value(
            "modelbump_serve_webhook_deliveries_total",
            Some(("verdict", "accepted"))
        ) >= 2.0
    );
}

/// How many deliveries about `model` serve accepted, by its logs.
fn accepted_for(serve: &ServeProcess, model: &str) -> usize {
    let needle = format!("model={model} ");
    serve
        .logs()
        .lines()
        .filter(|l| l.contains("webhook delivery accepted") && l.contains(&needle))
        .count()
}

/// The samples of a Prometheus text exposition as `prometheus_client.parser` reads them.
fn parse_metrics(text: &str) -> Vec<Value> {
    let script = "import json, sys\nfrom prometheus_client.parser import text_string_to_metric_families\nout = []\nfor family in text_string_to_metric_families(sys.stdin.read()):\n    for s in family.samples:\n        out.append({'family': family.name, 'type': family.type, 'name': s.name, 'labels': s.labels, 'value': s.value})\nprint(json.dumps(out))\n";
    let mut child = std::process::Command::new(tools_python())
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client refused the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn forged_stale_and_replayed_deliveries_change_nothing() {
    let s = setup(2, None);
    s.set_alias(0);
    let serve = s.start(&["--interval", "0"], &[]);
    wait_remote_uri(&s, &serve, s.uri(0));
    serve.wait_idle(1.0);
    // The alias moves, but no webhook is registered for this receiver: only our deliveries reach it.
    s.set_alias(1);
    let head = s.remote_head();
    let body = serde_json::to_vec(&json!({
        "entity": "model_version_alias",
        "action": "created",
        "timestamp": "2026-01-01T00:00:00+00:00",
        "data": {"name": s.model, "alias": "champion", "version": s.versions[1].0},
    }))
    .unwrap();
    let now = unix_now().to_string();

    let forged = mlflow_signature("not-the-secret", "d-1", &now, &body);
    let (status, answer) = serve.deliver("d-1", &now, &forged, &body);
    assert_eq!(status, 401, "{answer}");
    let stale_ts = (unix_now() - 3600).to_string();
    let stale = mlflow_signature(&s.secret, "d-2", &stale_ts, &body);
    let (status, answer) = serve.deliver("d-2", &stale_ts, &stale, &body);
    assert_eq!(status, 401, "{answer}");
    assert!(answer.contains("timestamp"), "{answer}");
    // Refused deliveries are never queued: nothing ran, nothing was pushed.
    assert_eq!(serve.metric("modelbump_serve_queue_depth"), Some(0.0));
    assert_eq!(runs(&serve), 1.0);
    assert_eq!(s.remote_head(), head);

    let signature = mlflow_signature(&s.secret, "d-3", &now, &body);
    let (status, answer) = serve.deliver("d-3", &now, &signature, &body);
    assert_eq!(status, 200, "{answer}");
    wait_remote_uri(&s, &serve, s.uri(1));
    serve.wait_idle(2.0);
    let after = s.commits();
    let (status, answer) = serve.deliver("d-3", &now, &signature, &body);
    assert_eq!(status, 409, "{answer}");
    assert_eq!(serve.metric("modelbump_serve_queue_depth"), Some(0.0));
    assert_eq!(runs(&serve), 2.0, "the replay started no run");
    assert_eq!(s.commits(), after, "still one commit");
    for (verdict, n) in [
        ("bad_signature", 1.0),
        ("stale", 1.0),
        ("accepted", 1.0),
        ("replayed", 1.0),
    ] {
        assert_eq!(
            serve.metric(&format!(
                "modelbump_serve_webhook_deliveries_total{{verdict=\"{verdict}\"}}"
            )),
            Some(n),
            "{verdict}"
        );
    }
}

#[test]
fn ten_alias_changes_in_a_second_end_at_the_last_with_every_commit_right() {
    let s = setup(11, None);
    s.set_alias(0);
    let serve = s.start(&["--interval", "0"], &[]);
    wait_remote_uri(&s, &serve, s.uri(0));
    serve.wait_idle(1.0);
    let _webhook = s.register_webhook(&serve);
    let start = s.remote_head();

    for index in 1..=10 {
        s.set_alias(index);
    }
    wait_remote_uri(&s, &serve, s.uri(10));
    wait_for(
        "the ten deliveries",
        Duration::from_secs(120),
        || accepted_for(&serve, &s.model) == 10,
        || serve.logs(),
    );
    serve.wait_idle(2.0);
    assert_eq!(
        s.remote_uri(),
        s.uri(10),
        "the remote ends at the last alias"
    );
    let commits = git(
        &s.fx.remote,
        &["rev-list", "--reverse", &format!("{start}..main")],
    );
    let commits: Vec<&str> = commits.lines().collect();
    assert!(
        (1..=10).contains(&commits.len()),
        "{} commits for ten changes",
        commits.len()
    );
    let uris: Vec<&str> = s.versions.iter().map(|(_, uri)| uri.as_str()).collect();
    let mut previous = s.uri(0).to_string();
    for commit in &commits {
        let uri = uri_in(&git(&s.fx.remote, &["show", &format!("{commit}:{FILE}")]));
        let index = uris
            .iter()
            .position(|u| *u == uri)
            .unwrap_or_else(|| panic!("{commit} holds {uri}, no version's URI"));
        assert_ne!(uri, previous, "{commit} repeats the previous value");
        let message = git(&s.fx.remote, &["log", "-1", "--format=%B", commit]);
        assert!(
            message.contains(&format!("MLflow-Model-Version: {}", s.versions[index].0)),
            "{commit}: the trailer names another version than the URI's\n{message}"
        );
        previous = uri;
    }
}

#[test]
fn a_change_made_while_stopped_is_picked_up_after_start_and_the_poller_catches_up() {
    let s = setup(3, None);
    s.set_alias(0);
    let mut serve = s.start(&["--interval", "1s", "--log-format", "json"], &[]);
    wait_remote_uri(&s, &serve, s.uri(0));
    serve.sigterm();
    assert_eq!(
        serve.wait_exit(Duration::from_secs(60)),
        Some(0),
        "{}",
        serve.logs()
    );
    for line in serve.logs().lines() {
        let parsed: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(parsed["level"].is_string(), "{line}");
    }

    // Changed while serve was stopped, with no webhook: picked up once it starts again.
    s.set_alias(1);
    let serve = s.start(&["--interval", "1s"], &[]);
    wait_remote_uri(&s, &serve, s.uri(1));
    // And while it runs, the poller finds a change no webhook announced.
    s.set_alias(2);
    wait_remote_uri(&s, &serve, s.uri(2));
}

#[test]
fn sigterm_during_a_run_ends_it_cleanly_with_no_half_written_file() {
    let Some(shared) = shared_dir("sigterm_during_a_run_ends_it_cleanly_with_no_half_written_file")
    else {
        return;
    };
    // The app never becomes Healthy and serve waits for it: the run is in progress until stopped.
    let app = FakeApp::new(APP, "https://git.example.com/gitops.git").ending(Outcome::Stuck);
    let s = setup(1, Some((&shared, app)));
    s.set_alias(0);
    let mut serve = s.start(
        &["--interval", "0"],
        &[
            ("MODELBUMP_SYNC_WAIT", "1".into()),
            ("MODELBUMP_SYNC_TIMEOUT", "10m".into()),
            ("MODELBUMP_SHUTDOWN_GRACE", "1s".into()),
        ],
    );
    let logs = sigterm_when(&mut serve, "a run in progress", |serve| {
        serve.metric("modelbump_serve_run_in_progress") == Some(1.0)
    });
    // Completed, or abandoned at a wait: then the remote holds either the old value or the new one
    // with its commit, and the clone nothing half-done.
    let remote = s.remote_uri();
    assert!(
        remote == START_URI || remote == s.uri(0),
        "the remote holds {remote}"
    );
    let written = assert_clean_clone(&s.clone, &logs);
    assert_eq!(uri_in(&written), remote, "the clone's file is the remote's");
}

/// Waits for `condition`, sends SIGTERM and checks that serve exits 0 (within a bound far below the
/// minutes a held run would take); returns its logs.
fn sigterm_when(
    serve: &mut ServeProcess,
    what: &str,
    condition: impl Fn(&ServeProcess) -> bool,
) -> String {
    wait_for(
        what,
        Duration::from_secs(120),
        || condition(serve),
        || serve.logs(),
    );
    serve.sigterm();
    assert_eq!(
        serve.wait_exit(Duration::from_secs(60)),
        Some(0),
        "{}",
        serve.logs()
    );
    let logs = serve.logs();
    assert!(logs.contains("SIGTERM received"), "{logs}");
    logs
}

/// Checks that serve's clone holds nothing half-done: no uncommitted change, no temporary or lock file
/// anywhere (also under `.git`), and the manifest whole. Returns the manifest.
fn assert_clean_clone(clone: &Path, logs: &str) -> String {
    let status = git(clone, &["status", "--porcelain", "--untracked-files=all"]);
    assert!(
        status.trim().is_empty(),
        "the clone is not clean: {status}\n{logs}"
    );
    let mut leftovers = Vec::new();
    let mut dirs = vec![clone.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                dirs.push(path);
            } else if name.ends_with(".lock") || name.ends_with(".tmp") {
                leftovers.push(path);
            }
        }
    }
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
    let written = std::fs::read_to_string(clone.join(FILE)).unwrap();
    assert!(
        written.starts_with("apiVersion: mlops.seldon.io/v1alpha1\nkind: Model\n")
            && written.ends_with("  - mlflow\n"),
        "{written}"
    );
    written
}

#[test]
fn a_clone_with_uncommitted_changes_or_no_clone_is_refused_at_start() {
    let fx = Fixture::new(&[(FILE, &models_yaml(&[("baseline-predictor", START_URI)]))]);
    std::fs::write(fx.work.join(FILE), "edited by hand\n").unwrap();
    let out = modelbump(&fx.home)
        .arg("-C")
        .arg(&fx.work)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("uncommitted changes") && stderr.contains(FILE),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(fx.work.join(FILE)).unwrap(),
        "edited by hand\n"
    );

    let empty = fx.tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = modelbump(&fx.home)
        .arg("-C")
        .arg(&empty)
        .args(["serve"])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--clone"), "{stderr}");
}

#[test]
fn the_deployment_files_are_valid_kubernetes_objects() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/serve");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["deployment.yaml", "secret.yaml", "service.yaml"],
        "the deployment files"
    );
    // --strict: an unknown field (a typo) is an error, not ignored.
    let out = std::process::Command::new(tools_python())
        .args([
            "-m",
            "kubernetes_validate",
            "--strict",
            "--kubernetes-version",
            "1.33.0",
        ])
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubernetes-validate refused the deployment files:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // What the schema cannot say: the probes and the settings point at what serve serves and reads.
    let deployment = std::fs::read_to_string(dir.join("deployment.yaml")).unwrap();
    for needle in [
        "path: /healthz",
        "path: /readyz",
        "runAsNonRoot: true",
        "MODELBUMP_MLFLOW_WEBHOOK_SECRET",
        "MODELBUMP_LISTEN",
        "replicas: 1",
    ] {
        assert!(
            deployment.contains(needle),
            "deployment.yaml lacks {needle}"
        );
    }
}

/// The open pull requests of the stand-in.
fn open_pulls(github: &GitHub) -> Vec<crate::support::github::Pr> {
    github
        .pulls()
        .into_iter()
        .filter(|p| p.state == "open")
        .collect()
}

#[test]
fn in_pull_request_mode_an_alias_event_opens_a_pull_request_and_a_newer_one_updates_it() {
    let Some(shared) = shared_dir(
        "in_pull_request_mode_an_alias_event_opens_a_pull_request_and_a_newer_one_updates_it",
    ) else {
        return;
    };
    let s = setup_with(2, None, Some(&shared));
    let github = s.github.as_ref().unwrap();
    let main = s.remote_head();
    // No alias yet: the start-up reconciliation finds no model and opens nothing.
    let serve = s.start(&["--interval", "0"], &[]);
    serve.wait_idle(1.0);
    assert!(github.pulls().is_empty(), "{}", serve.logs());
    let _webhook = s.register_webhook(&serve);

    s.set_alias(0);
    wait_for(
        "a pull request",
        Duration::from_secs(120),
        || !open_pulls(github).is_empty(),
        || serve.logs(),
    );
    serve.wait_idle(2.0);
    let pulls = open_pulls(github);
    assert_eq!(pulls.len(), 1, "one pull request: {pulls:?}");
    let (number, head) = (pulls[0].number, pulls[0].head.clone());
    assert!(head.starts_with("modelbump/baseline-predictor-"), "{head}");
    assert_eq!(pulls[0].base, "main");
    assert_eq!(pulls[0].labels, ["model-update"]);
    let first_tip = git(&s.fx.remote, &["rev-parse", &head]).trim().to_string();
    assert_eq!(
        uri_in(&git(
            &s.fx.remote,
            &["show", &format!("{first_tip}:{FILE}")]
        )),
        s.uri(0)
    );
    assert_eq!(s.remote_head(), main, "main is never pushed");

    // A newer version: the same pull request, its branch force-updated to it.
    s.set_alias(1);
    wait_for(
        "the head branch to hold the newer version",
        Duration::from_secs(120),
        || uri_in(&git(&s.fx.remote, &["show", &format!("{head}:{FILE}")])) == s.uri(1),
        || serve.logs(),
    );
    serve.wait_idle(3.0);
    let pulls = github.pulls();
    assert_eq!(pulls.len(), 1, "still one pull request: {pulls:?}");
    assert_eq!(pulls[0].number, number);
    assert_eq!(pulls[0].state, "open");
    assert!(pulls[0].body.contains(s.uri(1)), "{}", pulls[0].body);
    let tip = git(&s.fx.remote, &["rev-parse", &head]).trim().to_string();
    assert_eq!(
        git(&s.fx.remote, &["rev-parse", &format!("{tip}^")]).trim(),
        main,
        "one commit on the base"
    );
    assert_eq!(s.remote_head(), main, "main is never pushed");
    assert!(github.violations().is_empty(), "{:?}", github.violations());
    let logs = serve.logs();
    assert!(logs.contains(&format!("opened #{number}")), "{logs}");
    assert!(logs.contains(&format!("updated #{number}")), "{logs}");
    assert!(!logs.contains(GIT_TOKEN), "the token is never logged");
}

#[test]
fn sigterm_while_the_push_is_held_stops_promptly_and_the_next_start_pushes_the_commit() {
    let s = setup(1, None);
    let entered = s.fx.tmp.path().join("hook-entered");
    let gate = s.fx.tmp.path().join("hook-gate");
    let left = s.fx.tmp.path().join("hook-left");
    // The first push waits in the hook until the test opens the gate, then is refused; later pushes pass.
    install_hook(
        &s.fx.remote,
        &format!(
            "#!/bin/sh\ncat >/dev/null\n[ -e {entered} ] && exit 0\ntouch {entered}\ni=0\nwhile [ ! -e {gate} ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done\ntouch {left}\nexit 1\n",
            entered = entered.display(),
            gate = gate.display(),
            left = left.display(),
        ),
    );
    let before = s.commits();
    s.set_alias(0);
    let mut serve = s.start(
        &["--interval", "0"],
        &[("MODELBUMP_SHUTDOWN_GRACE", "1s".into())],
    );
    let logs = sigterm_when(&mut serve, "the push to reach the hook", |_| {
        entered.exists()
    });
    // The hook holds the push for up to two minutes; serve stopped within its grace period and a moment.
    assert!(!left.exists(), "the push was still held when serve exited");
    assert!(
        logs.contains("stopped without waiting for the run in progress"),
        "{logs}"
    );
    assert_eq!(s.remote_uri(), START_URI, "the remote did not move");
    // The clone: the new value committed whole, nothing uncommitted, no temporary or lock file.
    let written = assert_clean_clone(&s.clone, &logs);
    assert_eq!(
        written,
        models_yaml(&[("baseline-predictor", s.uri(0))]),
        "the file is whole"
    );
    assert_eq!(
        uri_in(&git(&s.clone, &["show", &format!("HEAD:{FILE}")])),
        s.uri(0),
        "committed in the clone"
    );

    // The held push is refused at last; the remote still holds the old value.
    std::fs::write(&gate, "").unwrap();
    wait_for(
        "the hook to let go",
        Duration::from_secs(60),
        || left.exists(),
        String::new,
    );
    assert_eq!(s.remote_uri(), START_URI);
    // The next start pushes the commit the clone holds: one commit, the right value and trailer.
    let serve = s.start(&["--interval", "0"], &[]);
    wait_remote_uri(&s, &serve, s.uri(0));
    serve.wait_idle(1.0);
    assert_eq!(s.commits(), before + 1, "one commit\n{}", serve.logs());
    let message = git(&s.fx.remote, &["log", "-1", "--format=%B", "main"]);
    assert!(
        message.contains(&format!("MLflow-Model-Version: {}", s.versions[0].0)),
        "{message}"
    );
}
