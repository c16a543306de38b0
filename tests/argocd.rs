//! `modelbump sync` against the stand-in Argo CD (`support::argocd`): the API mode's refresh, sync and
//! wait with `argocd app wait`'s rules, its failures (Degraded, a failed operation, 401/403/404, the
//! timeout), "another operation is already in progress", and the signed webhook.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::argocd::{FakeApp, OLD_REVISION, Outcome, StandIn};
use crate::support::git::{Fixture, quickstart_fixture};
use crate::support::{modelbump, shared_dir};

const TOKEN: &str = "canary-argocd-token-7f3a";
const WEBHOOK_SECRET: &str = "canary-webhook-secret-91c2";
const APP: &str = "financial-mlops-infrastructure";
const REPO_URL: &str = "https://github.com/example-org/financial-mlops-gitops.git";
const MANIFEST: &str = "k8s/base/financial-predictor-ab-test.yaml";

/// A GitOps checkout with one commit that changed the seed manifest, `origin` an ssh remote; returns
/// its folder and the commit.
fn gitops_repo(root: &Path, config: &str) -> (PathBuf, String) {
    let dir = root.join("gitops");
    std::fs::create_dir_all(dir.join("k8s/base")).unwrap();
    let repo = git2::Repository::init_opts(
        &dir,
        git2::RepositoryInitOptions::new().initial_head("main"),
    )
    .unwrap();
    repo.remote(
        "origin",
        "git@github.com:example-org/financial-mlops-gitops.git",
    )
    .unwrap();
    let sig = git2::Signature::new(
        "test",
        "test@example.invalid",
        &git2::Time::new(1_767_225_600, 0),
    )
    .unwrap();
    let mut parent: Option<git2::Oid> = None;
    for (files, message) in [
        (
            vec![
                ("modelbump.yaml", config.to_string()),
                (MANIFEST, "storageUri: s3://old/\n".to_string()),
            ],
            "initial",
        ),
        (
            vec![(MANIFEST, "storageUri: s3://new/\n".to_string())],
            "update: model URIs from training run baseline",
        ),
    ] {
        for (path, text) in files {
            std::fs::write(dir.join(path), text).unwrap();
        }
        let mut index = repo.index().unwrap();
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        index.write().unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let parents: Vec<git2::Commit<'_>> = parent
            .iter()
            .map(|p| repo.find_commit(*p).unwrap())
            .collect();
        let refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
        parent = Some(
            repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &refs)
                .unwrap(),
        );
    }
    (dir, parent.unwrap().to_string())
}

const CONFIG: &str = "argocd:\n  apps: [financial-mlops-infrastructure]\n";

struct Case {
    _tmp: tempfile::TempDir,
    home: PathBuf,
    repo: PathBuf,
    sha: String,
    standin: StandIn,
}

fn case(
    test: &str,
    config: &str,
    apps: Vec<FakeApp>,
    webhook_secret: Option<&str>,
) -> Option<Case> {
    let shared = shared_dir(test)?;
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let (repo, sha) = gitops_repo(tmp.path(), config);
    let standin = StandIn::start(&shared, TOKEN, &sha, webhook_secret, apps);
    Some(Case {
        _tmp: tmp,
        home,
        repo,
        sha,
        standin,
    })
}

/// The one app most tests sync, with the stand-in's default behaviour.
fn app() -> FakeApp {
    FakeApp::new(APP, REPO_URL)
}

/// A case with the default config and `app` as the stand-in's only application.
fn one_app(test: &str, app: FakeApp) -> Option<Case> {
    case(test, CONFIG, vec![app], None)
}

/// Like [`one_app`], with the stand-in checking webhook signatures against `WEBHOOK_SECRET`.
fn with_webhook(test: &str, app: FakeApp) -> Option<Case> {
    case(test, CONFIG, vec![app], Some(WEBHOOK_SECRET))
}

/// Points `cmd` at the stand-in's API with the right token and a short poll interval.
fn against(mut cmd: assert_cmd::Command, standin: &StandIn) -> assert_cmd::Command {
    cmd.env("ARGOCD_SERVER", standin.url())
        .env("ARGOCD_AUTH_TOKEN", TOKEN)
        .env("MODELBUMP_SYNC_POLL_INTERVAL", "10ms");
    cmd
}

impl Case {
    /// `modelbump -C REPO`, nothing else set.
    fn cmd(&self) -> assert_cmd::Command {
        let mut cmd = modelbump(&self.home);
        cmd.arg("-C").arg(&self.repo);
        cmd
    }

    /// `modelbump -C REPO sync ARGS` pointed at the stand-in with the right token.
    fn sync_cmd(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = self.cmd();
        cmd.arg("sync").args(args);
        let mut cmd = against(cmd, &self.standin);
        cmd.timeout(std::time::Duration::from_secs(60));
        cmd
    }

    fn sync(&self, args: &[&str]) -> assert_cmd::assert::Assert {
        self.sync_cmd(args).assert()
    }
}

fn stdout_json(assert: &assert_cmd::assert::Assert) -> Value {
    let out = &assert.get_output().stdout;
    serde_json::from_slice(out)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", String::from_utf8_lossy(out)))
}

fn stderr(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stderr).into_owned()
}

fn all_output(assert: &assert_cmd::assert::Assert) -> String {
    let out = assert.get_output();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn sync_waits_until_synced_and_healthy_at_the_pushed_commit() {
    let Some(c) = one_app(
        "sync_waits_until_synced_and_healthy_at_the_pushed_commit",
        app(),
    ) else {
        return;
    };
    let assert = c.sync(&["--wait", "-o", "json"]).success();
    let json = stdout_json(&assert);
    assert_eq!(json["revision"], c.sha);
    let line = &json["sync"][0];
    assert_eq!(line["app"], APP);
    assert_eq!(line["mode"], "api");
    assert_eq!(line["syncStatus"], "Synced");
    assert_eq!(line["healthStatus"], "Healthy");
    assert_eq!(line["revision"], c.sha.as_str());
    assert_eq!(line["operationPhase"], "Succeeded");
    // It did not stop at the stale "Synced + Healthy" states before the controller reconciled.
    assert!(c.standin.served_outcome(APP));
    assert_eq!(c.standin.violations(), Vec::<String>::new());
    // Refresh first, then one sync to the pushed commit.
    let received = c.standin.received();
    assert!(
        received[0].method == "GET" && received[0].uri.contains("refresh=normal"),
        "{received:?}"
    );
    let syncs = c.standin.sync_requests(APP);
    assert_eq!(syncs.len(), 1);
    assert_eq!(syncs[0]["revision"], c.sha.as_str());
    assert_eq!(syncs[0]["name"], APP);
}

#[test]
fn text_output_lists_each_app_final_state() {
    let Some(c) = one_app("text_output_lists_each_app_final_state", app()) else {
        return;
    };
    let assert = c.sync(&["--wait"]).success();
    let out = String::from_utf8_lossy(&assert.get_output().stdout).replace(&c.sha, "<sha>");
    let short = &c.sha[..12];
    let out = out.replace(short, "<short>");
    insta::assert_snapshot!(out, @r"
    revision <sha>
    financial-mlops-infrastructure  Synced     Healthy     <short>  operation Succeeded  successfully synced (all tasks run)
    ");
}

#[test]
fn an_automated_app_is_synced_without_a_revision() {
    let Some(c) = one_app(
        "an_automated_app_is_synced_without_a_revision",
        app().automated(),
    ) else {
        return;
    };
    let assert = c.sync(&["--wait", "-o", "json"]).success();
    assert_eq!(stdout_json(&assert)["sync"][0]["revision"], c.sha.as_str());
    let syncs = c.standin.sync_requests(APP);
    assert_eq!(syncs.len(), 1);
    assert!(syncs[0].get("revision").is_none(), "{:?}", syncs[0]);
    assert_eq!(c.standin.violations(), Vec::<String>::new());
}

#[test]
fn another_operation_in_progress_is_waited_out() {
    let Some(c) = one_app(
        "another_operation_in_progress_is_waited_out",
        app().busy_for(3),
    ) else {
        return;
    };
    let assert = c.sync(&["--wait", "-o", "json"]).success();
    assert_eq!(stdout_json(&assert)["sync"][0]["healthStatus"], "Healthy");
    let statuses: Vec<u16> = c
        .standin
        .received()
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.status)
        .collect();
    assert_eq!(
        statuses,
        vec![400, 200],
        "the first sync met the running operation"
    );
    assert!(c.standin.served_outcome(APP));
    assert_eq!(c.standin.violations(), Vec::<String>::new());
}

#[test]
fn without_wait_it_returns_once_the_sync_is_accepted() {
    let Some(c) = one_app("without_wait_it_returns_once_the_sync_is_accepted", app()) else {
        return;
    };
    let assert = c.sync(&["-o", "json"]).success();
    let json = stdout_json(&assert);
    assert_eq!(json["sync"][0]["syncStatus"], "OutOfSync");
    assert_eq!(c.standin.sync_requests(APP).len(), 1);
    assert!(!c.standin.served_outcome(APP));
}

#[test]
fn degraded_fails_early_with_the_app_named() {
    let Some(c) = one_app(
        "degraded_fails_early_with_the_app_named",
        app().ending(Outcome::Degraded),
    ) else {
        return;
    };
    let assert = c
        .sync(&["--wait", "--timeout", "10m", "-o", "json"])
        .failure()
        .code(6);
    let err = stderr(&assert);
    assert!(
        err.contains(&format!(
            "application {APP} is Degraded at revision {}",
            c.sha
        )),
        "{err}"
    );
    assert!(!err.contains("timed out"), "{err}");
    let json = stdout_json(&assert);
    assert_eq!(json["sync"][0]["healthStatus"], "Degraded");
    assert_eq!(json["sync"][0]["syncStatus"], "Synced");
}

#[test]
fn a_failed_sync_operation_fails_with_argo_cds_message() {
    let Some(c) = one_app(
        "a_failed_sync_operation_fails_with_argo_cds_message",
        app().ending(Outcome::SyncFails),
    ) else {
        return;
    };
    let assert = c.sync(&["--wait"]).failure().code(6);
    let err = stderr(&assert);
    assert!(
        err.contains(&format!("the sync of application {APP} ended Failed")),
        "{err}"
    );
    assert!(err.contains("one or more objects failed to apply"), "{err}");
}

#[test]
fn the_timeout_bounds_the_wait() {
    let Some(c) = one_app("the_timeout_bounds_the_wait", app().ending(Outcome::Stuck)) else {
        return;
    };
    let assert = c.sync(&["--wait", "--timeout", "1s"]).failure().code(6);
    let err = stderr(&assert);
    assert!(
        err.contains(&format!(
            "timed out after 1s waiting for application {APP} to be Synced and Healthy at {}",
            c.sha
        )),
        "{err}"
    );
    assert!(err.contains("health Progressing"), "{err}");
}

#[test]
fn every_app_gets_a_line_when_one_fails() {
    let config = "argocd:\n  apps: [financial-mlops-infrastructure, seldon-deployments]\n";
    let Some(c) = case(
        "every_app_gets_a_line_when_one_fails",
        config,
        vec![
            FakeApp::new(APP, REPO_URL),
            FakeApp::new("seldon-deployments", REPO_URL).ending(Outcome::Degraded),
        ],
        None,
    ) else {
        return;
    };
    let assert = c.sync(&["--wait", "-o", "json"]).failure().code(6);
    let json = stdout_json(&assert);
    let lines = json["sync"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["app"], APP);
    assert_eq!(lines[0]["healthStatus"], "Healthy");
    assert_eq!(lines[1]["app"], "seldon-deployments");
    assert_eq!(lines[1]["healthStatus"], "Degraded");
    assert!(lines[1]["message"].as_str().unwrap().contains("Degraded"));
}

#[test]
fn app_flag_overrides_the_config_and_takes_a_namespace() {
    let Some(c) = case(
        "app_flag_overrides_the_config_and_takes_a_namespace",
        CONFIG,
        vec![FakeApp::new("team-model", REPO_URL).in_namespace("ml-team")],
        None,
    ) else {
        return;
    };
    let assert = c
        .sync(&["--app", "ml-team/team-model", "--wait", "-o", "json"])
        .success();
    assert_eq!(stdout_json(&assert)["sync"][0]["app"], "ml-team/team-model");
    let syncs = c.standin.sync_requests("team-model");
    assert_eq!(syncs[0]["appNamespace"], "ml-team");
    assert!(
        c.standin
            .received()
            .iter()
            .filter(|r| r.method == "GET")
            .all(|r| r.uri.contains("appNamespace=ml-team"))
    );
    assert_eq!(c.standin.violations(), Vec::<String>::new());
}

#[test]
fn a_bad_token_is_a_clear_error_and_never_printed() {
    let Some(c) = one_app("a_bad_token_is_a_clear_error_and_never_printed", app()) else {
        return;
    };
    let wrong = "canary-wrong-token-0d1e";
    let assert = c
        .cmd()
        .args(["-vv", "sync", "--wait"])
        .env("ARGOCD_SERVER", c.standin.url())
        .env("ARGOCD_AUTH_TOKEN", wrong)
        .assert()
        .failure()
        .code(6);
    let all = all_output(&assert);
    assert!(
        all.contains("refused the token (401 Unauthenticated"),
        "{all}"
    );
    assert!(all.contains("check ARGOCD_AUTH_TOKEN"), "{all}");
    // The stand-in echoed the token back; it must not reach the output.
    assert!(!all.contains(wrong), "{all}");
    // And the right token never shows either, in a successful verbose run.
    let ok = against(c.cmd(), &c.standin)
        .args(["-vvv", "sync", "--wait"])
        .assert()
        .success();
    assert!(!all_output(&ok).contains(TOKEN));
}

#[test]
fn forbidden_and_missing_apps_are_clear_errors() {
    let Some(c) = case(
        "forbidden_and_missing_apps_are_clear_errors",
        CONFIG,
        vec![FakeApp::new("locked", REPO_URL).forbidden()],
        None,
    ) else {
        return;
    };
    let err = stderr(&c.sync(&["--app", "locked"]).failure().code(6));
    assert!(
        err.contains("denied access to application locked (403 PermissionDenied"),
        "{err}"
    );
    assert!(err.contains("RBAC"), "{err}");
    let err = stderr(&c.sync(&["--app", "nope"]).failure().code(6));
    assert!(
        err.contains("has no application nope (404 NotFound"),
        "{err}"
    );
    assert!(
        err.contains(r#"applications.argoproj.io \"nope\" not found"#)
            || err.contains(r#""nope" not found"#),
        "{err}"
    );
}

#[test]
fn missing_settings_say_what_to_set() {
    let Some(c) = one_app("missing_settings_say_what_to_set", app()) else {
        return;
    };
    let err = stderr(
        &c.cmd()
            .arg("sync")
            .env("ARGOCD_SERVER", c.standin.url())
            .assert()
            .failure()
            .code(2),
    );
    assert!(err.contains("set ARGOCD_AUTH_TOKEN"), "{err}");
    let err = stderr(
        &c.cmd()
            .arg("sync")
            .env("ARGOCD_AUTH_TOKEN", TOKEN)
            .assert()
            .failure()
            .code(2),
    );
    assert!(err.contains("no Argo CD server"), "{err}");
    assert!(c.standin.received().is_empty());
}

#[test]
fn the_webhook_posts_a_signed_push_event_without_a_token() {
    let Some(c) = with_webhook(
        "the_webhook_posts_a_signed_push_event_without_a_token",
        app(),
    ) else {
        return;
    };
    let assert = c
        .cmd()
        .args(["-vv", "sync", "-o", "json", "--webhook"])
        .arg(format!("{}/api/webhook", c.standin.url()))
        .env("MODELBUMP_WEBHOOK_SECRET", WEBHOOK_SECRET)
        .assert()
        .success();
    let json = stdout_json(&assert);
    assert_eq!(json["sync"][0]["mode"], "webhook");
    assert_eq!(json["sync"][0]["app"], APP);
    assert!(!all_output(&assert).contains(WEBHOOK_SECRET));
    let events = c.standin.webhook_events();
    assert_eq!(events.len(), 1, "{:?}", c.standin.violations());
    let event = &events[0];
    assert_eq!(
        event["repository"]["html_url"],
        "https://github.com/example-org/financial-mlops-gitops"
    );
    assert_eq!(event["ref"], "refs/heads/main");
    assert_eq!(event["after"], c.sha.as_str());
    assert_ne!(event["before"], c.sha.as_str());
    assert_ne!(event["before"], OLD_REVISION);
    assert_eq!(
        event["commits"][0]["modified"],
        serde_json::json!([MANIFEST])
    );
    assert_eq!(c.standin.violations(), Vec::<String>::new());
}

#[test]
fn a_webhook_with_the_wrong_secret_fails_and_says_why() {
    let Some(c) = with_webhook("a_webhook_with_the_wrong_secret_fails_and_says_why", app()) else {
        return;
    };
    let wrong = "canary-wrong-secret-55aa";
    let assert = c
        .cmd()
        .args(["sync", "--webhook"])
        .arg(c.standin.url())
        .env("MODELBUMP_WEBHOOK_SECRET", wrong)
        .assert()
        .failure()
        .code(6);
    let all = all_output(&assert);
    assert!(
        all.contains("answered HTTP 400: Webhook processing failed"),
        "{all}"
    );
    assert!(all.contains("MODELBUMP_WEBHOOK_SECRET"), "{all}");
    assert!(!all.contains(wrong), "{all}");
    assert!(c.standin.webhook_events().is_empty());
}

#[test]
fn webhook_then_wait_follows_the_automated_sync() {
    let Some(c) = with_webhook(
        "webhook_then_wait_follows_the_automated_sync",
        app().automated(),
    ) else {
        return;
    };
    let url = c.standin.url();
    let assert = c
        .sync_cmd(&["--wait", "-o", "json", "--webhook", &url])
        .env("MODELBUMP_WEBHOOK_SECRET", WEBHOOK_SECRET)
        .assert()
        .success();
    let json = stdout_json(&assert);
    assert_eq!(json["sync"][0]["mode"], "api");
    assert_eq!(json["sync"][0]["healthStatus"], "Healthy");
    assert_eq!(json["sync"][0]["revision"], c.sha.as_str());
    // The webhook started the sync; no sync call was made.
    assert_eq!(c.standin.webhook_events().len(), 1);
    assert!(c.standin.sync_requests(APP).is_empty());
    assert!(c.standin.served_outcome(APP));
    assert_eq!(c.standin.violations(), Vec::<String>::new());
}

#[test]
fn a_server_briefly_unavailable_is_retried() {
    let Some(c) = one_app(
        "a_server_briefly_unavailable_is_retried",
        app().unavailable_for(2),
    ) else {
        return;
    };
    let assert = c.sync(&["--wait", "-o", "json"]).success();
    assert_eq!(stdout_json(&assert)["sync"][0]["healthStatus"], "Healthy");
    let statuses: Vec<u16> = c
        .standin
        .received()
        .iter()
        .map(|r| r.status)
        .take(3)
        .collect();
    assert_eq!(statuses, vec![503, 503, 200]);
}

#[test]
fn an_unreachable_server_is_named_in_the_error() {
    let Some(c) = case(
        "an_unreachable_server_is_named_in_the_error",
        CONFIG,
        vec![],
        None,
    ) else {
        return;
    };
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = stderr(
        &c.cmd()
            .args([
                "sync",
                "--wait",
                "--timeout",
                "1s",
                "--plaintext",
                "--server",
            ])
            .arg(format!("127.0.0.1:{port}"))
            .env("ARGOCD_AUTH_TOKEN", TOKEN)
            .assert()
            .failure()
            .code(4),
    );
    assert!(err.contains("timed out after 1s"), "{err}");
    assert!(err.contains("no answer from Argo CD yet"), "{err}");
}

#[test]
fn sync_with_a_revision_needs_no_checkout() {
    let Some(c) = one_app("sync_with_a_revision_needs_no_checkout", app()) else {
        return;
    };
    let empty = c.home.join("not-a-repo");
    std::fs::create_dir_all(&empty).unwrap();
    let mut cmd = modelbump(&c.home);
    cmd.arg("-C").arg(&empty);
    let assert = against(cmd, &c.standin)
        .args([
            "-o",
            "json",
            "sync",
            "--wait",
            "--app",
            APP,
            "--revision",
            &c.sha,
        ])
        .assert()
        .success();
    assert_eq!(stdout_json(&assert)["sync"][0]["revision"], c.sha.as_str());
    assert_eq!(c.standin.sync_requests(APP)[0]["revision"], c.sha.as_str());
    // Without --revision, the missing checkout is the error.
    let err = stderr(
        &modelbump(&c.home)
            .arg("-C")
            .arg(&empty)
            .args(["sync", "--app", APP])
            .env("ARGOCD_SERVER", c.standin.url())
            .env("ARGOCD_AUTH_TOKEN", TOKEN)
            .assert()
            .failure()
            .code(1),
    );
    assert!(err.contains("needs a git checkout"), "{err}");
}

#[test]
fn webhook_wait_refuses_an_app_that_does_not_sync_by_itself() {
    let Some(c) = one_app(
        "webhook_wait_refuses_an_app_that_does_not_sync_by_itself",
        app(),
    ) else {
        return;
    };
    let url = c.standin.url();
    let err = stderr(
        &c.sync_cmd(&["--wait", "--timeout", "10m", "--webhook", &url])
            .assert()
            .failure()
            .code(6),
    );
    assert!(
        err.contains(&format!("application {APP} has no automated sync")),
        "{err}"
    );
    assert!(c.standin.sync_requests(APP).is_empty());
}

/// The manual post-training session of the README: `set` (or `apply`), `commit --push`, then `sync
/// --wait`, which syncs the app to the commit that reached the remote.
#[test]
fn set_commit_push_then_sync_deploys_the_pushed_commit() {
    let Some(shared) = shared_dir("set_commit_push_then_sync_deploys_the_pushed_commit") else {
        return;
    };
    let manifest =
        std::fs::read_to_string(shared.join("corpus/financial-mlops-pytorch").join(MANIFEST))
            .unwrap();
    let fx = Fixture::new(&[
        (MANIFEST, &manifest),
        (
            "modelbump.yaml",
            "git:\n  author: {name: Pipeline, email: pipeline@example.invalid}\nargocd:\n  apps: [financial-mlops-infrastructure]\n",
        ),
    ]);
    let (home, work) = (&fx.home, &fx.work);
    let before = fx.remote_head();

    let standin = StandIn::start(&shared, TOKEN, &before, None, vec![app()]);
    modelbump(home)
        .current_dir(work)
        .args([
            "set",
            MANIFEST,
            "enhanced-predictor",
            "s3://mlflow-artifacts/29/models/m-0f1e2d3c4b5a69788796a5b4c3d2e1f0/artifacts/",
        ])
        .assert()
        .success();
    modelbump(home)
        .current_dir(work)
        .args([
            "commit",
            "--push",
            "-m",
            "update: model URIs from training run enhanced",
        ])
        .assert()
        .success();
    let pushed = fx.remote_head();
    assert_ne!(pushed, before);
    let assert = against(modelbump(home), &standin)
        .current_dir(work)
        .args(["-o", "json", "sync", "--wait"])
        .assert()
        .success();
    let json = stdout_json(&assert);
    assert_eq!(json["revision"], pushed.as_str());
    assert_eq!(json["sync"][0]["revision"], pushed.as_str());
    assert_eq!(json["sync"][0]["healthStatus"], "Healthy");
    assert_eq!(standin.sync_requests(APP)[0]["revision"], pushed.as_str());
    assert_eq!(standin.violations(), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------------
// `run` ends with the sync, against the quickstart's MLflow file store and the stand-in.

/// The quickstart's GitOps repo (with `argocd.apps` added to its config) and MLflow store, and the
/// stand-in serving `app`.
struct RunCase {
    fx: Fixture,
    store: String,
    standin: StandIn,
}

fn run_case(test: &str, app: FakeApp) -> Option<RunCase> {
    let shared = shared_dir(test)?;
    let (fx, store) = quickstart_fixture("argocd:\n  apps: [financial-mlops-infrastructure]\n");
    let standin = StandIn::start(&shared, TOKEN, OLD_REVISION, None, vec![app]);
    Some(RunCase { fx, store, standin })
}

impl RunCase {
    /// `modelbump` in the checkout, with the store and the stand-in configured.
    fn run_cmd(&self) -> assert_cmd::Command {
        let mut cmd = against(modelbump(&self.fx.home), &self.standin);
        cmd.current_dir(&self.fx.work)
            .env("MLFLOW_TRACKING_URI", &self.store)
            .timeout(std::time::Duration::from_secs(120));
        cmd
    }
}

#[test]
fn run_ends_with_the_sync_of_the_pushed_commit() {
    let Some(c) = run_case("run_ends_with_the_sync_of_the_pushed_commit", app()) else {
        return;
    };
    let report_file = c.fx.tmp.path().join("report.json");
    let assert = c
        .run_cmd()
        .args(["-o", "json", "run", "--wait", "--report"])
        .arg(&report_file)
        .assert()
        .success();
    let report = stdout_json(&assert);
    let pushed = c.fx.remote_head();
    assert_eq!(report["commit"], pushed.as_str());
    assert_eq!(report["pushed"], true);
    let line = &report["sync"][0];
    assert_eq!(line["app"], APP);
    assert_eq!(line["syncStatus"], "Synced");
    assert_eq!(line["healthStatus"], "Healthy");
    assert_eq!(line["revision"], pushed.as_str());
    assert_eq!(c.standin.sync_requests(APP)[0]["revision"], pushed.as_str());
    assert!(c.standin.served_outcome(APP));
    assert_eq!(c.standin.violations(), Vec::<String>::new());
    let on_disk: Value = serde_json::from_slice(&std::fs::read(&report_file).unwrap()).unwrap();
    assert_eq!(on_disk, report);
    crate::support::schemas::assert_valid_report(&report);

    // Text mode shows the sync too, and a run with nothing to change still syncs (to HEAD).
    let assert = c.run_cmd().args(["run", "--wait"]).assert().success();
    let text = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert!(text.contains("nothing to commit"), "{text}");
    assert!(text.contains(&format!("revision {pushed}")), "{text}");
    assert!(
        text.contains(&format!("{APP}  Synced     Healthy")),
        "{text}"
    );
}

#[test]
fn run_fails_when_the_app_turns_degraded_but_keeps_the_push_and_the_report() {
    let Some(c) = run_case(
        "run_fails_when_the_app_turns_degraded_but_keeps_the_push_and_the_report",
        app().ending(Outcome::Degraded),
    ) else {
        return;
    };
    let report_file = c.fx.tmp.path().join("report.json");
    let assert = c
        .run_cmd()
        .args(["run", "--wait", "--report"])
        .arg(&report_file)
        .assert()
        .failure()
        .code(6);
    let err = stderr(&assert);
    assert!(
        err.contains("the changes are pushed, but the Argo CD sync failed"),
        "{err}"
    );
    assert!(err.contains("is Degraded"), "{err}");
    let report: Value = serde_json::from_slice(&std::fs::read(&report_file).unwrap()).unwrap();
    crate::support::schemas::assert_valid_report(&report);
    assert_eq!(report["pushed"], true);
    assert_eq!(report["commit"], c.fx.remote_head().as_str());
    assert_eq!(report["sync"][0]["healthStatus"], "Degraded");
}

#[test]
fn run_no_push_does_not_sync() {
    let Some(c) = run_case("run_no_push_does_not_sync", app()) else {
        return;
    };
    let assert = c
        .run_cmd()
        .args(["-o", "json", "run", "--no-push", "--wait"])
        .assert()
        .success();
    assert_eq!(stdout_json(&assert)["sync"], serde_json::json!([]));
    assert!(c.standin.received().is_empty());
}

// Fault injection: a scripted stub in place of Argo CD, for answers the stand-in does not give.

mod faults {
    use crate::support::http_stub::{self, HttpStub, Step};
    use crate::support::modelbump;

    const REVISION: &str = "0123456789abcdef0123456789abcdef01234567";

    /// `modelbump sync --app APP --revision REVISION` (no checkout needed) against the stub, with
    /// `args`; returns (exit code, stderr).
    fn sync(stub: &HttpStub, args: &[&str]) -> (Option<i32>, String) {
        let home = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = modelbump(home.path())
            .arg("-C")
            .arg(dir.path())
            .args(["sync", "--app", super::APP, "--revision", REVISION])
            .args(["--server", &stub.url])
            .args(args)
            .env("ARGOCD_AUTH_TOKEN", super::TOKEN)
            .env("MODELBUMP_SYNC_POLL_INTERVAL", "10ms")
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// An answer over the 64 MiB limit fails, naming the server and the limit, with or without a
    /// Content-Length.
    #[test]
    fn an_answer_over_the_size_limit_fails_naming_the_server_and_the_limit() {
        http_stub::assert_oversized_answers_fail(
            6,
            |stub| sync(stub, &[]),
            |stub| format!("Argo CD {}/", stub.url),
        );
    }

    /// A server that answers 500 to every call until the deadline: the timeout says what it answered,
    /// to which call, instead of suggesting that nothing answered.
    #[test]
    fn a_server_answering_500_until_the_timeout_is_quoted() {
        let page = "<html><body><h1>Internal Server Error</h1><p>rpc error: code = Unavailable desc = repo server is down</p></body></html>";
        let stub = HttpStub::start(vec![Step::html(500, page); 50]);
        let (code, err) = sync(&stub, &["--wait", "--timeout", "2s"]);
        assert_eq!(
            code,
            Some(4),
            "5xx until the deadline: worth retrying: {err}"
        );
        assert!(err.contains("timed out after 2s"), "{err}");
        assert!(!err.contains("no answer from Argo CD yet"), "{err}");
        assert!(err.contains("HTTP 500"), "{err}");
        assert!(err.contains("repo server is down"), "{err}");
        assert!(err.contains("refresh of application"), "{err}");
        assert!(!err.contains(super::TOKEN), "{err}");
    }
}
