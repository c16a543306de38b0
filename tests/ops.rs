//! The use cases driven directly, with plain options: no command line, nothing read from stdout.

use std::time::Duration;

use modelbump::config::Config;
use modelbump::env::Env;
use modelbump::ops::{GitOptions, PlanOptions, PushSpec, RunOptions, SyncOptions};
use modelbump::tracking::MlflowOptions;

use crate::support::git::{Fixture, git, quickstart_fixture};

/// The options of a run in `fx` against the quickstart store at `store`, pushing to origin main.
fn run_options(fx: &Fixture, store: &str) -> RunOptions {
    let repo = fx.work.canonicalize().unwrap();
    let (config, config_path) = Config::load(&repo, None).unwrap();
    let env = Env::from_pairs([("HOME", fx.home.display().to_string())]);
    RunOptions {
        plan: PlanOptions {
            repo: repo.clone(),
            config: config.clone(),
            config_path,
            mlflow: MlflowOptions {
                tracking_uri: Some(store.to_string()),
                registry_uri: None,
                cwd: repo.clone(),
                repo: repo.clone(),
                env: env.clone(),
            },
            concurrency: 4,
            record: None,
        },
        dry_run: false,
        git: GitOptions {
            repo,
            message: None,
            tracking_uri: None,
            author: None,
            env,
            signing: None,
        },
        push: Some(PushSpec {
            remote: "origin".into(),
            branch: Some("main".into()),
            attempts: 1,
        }),
        argocd: SyncOptions {
            apps: Vec::new(),
            server: None,
            token: None,
            wait: false,
            timeout: Duration::from_secs(5),
            poll_interval: Duration::from_secs(1),
            client: Default::default(),
            webhook: None,
            webhook_secret: None,
        },
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn ops_run_commits_pushes_and_returns_the_report() {
    let (fx, store) = quickstart_fixture("");
    let options = run_options(&fx, &store);
    let done = runtime()
        .block_on(modelbump::ops::run(&options))
        .unwrap_or_else(|e| panic!("run failed: {e}"));
    let commit = done.report.commit.clone().expect("a commit");
    assert!(done.report.pushed);
    assert_eq!(done.report.targets.len(), 2);
    let written = done.write_back.expect("a write-back");
    assert_eq!(written.changes.len(), 2);
    assert_eq!(written.remote_tip.as_deref(), Some(commit.as_str()));
    assert_eq!(git(&fx.remote, &["rev-parse", "main"]).trim(), commit);
    assert!(done.synced_revision.is_none(), "no Argo CD configured");
}

#[test]
fn a_failed_push_returns_the_partial_report_with_the_commit_not_pushed() {
    let (fx, store) = quickstart_fixture("");
    // The remote is gone: the commit is made in the checkout, the push fails.
    let gone = fx.tmp.path().join("gone.git");
    git(
        &fx.work,
        &["remote", "set-url", "origin", gone.to_str().unwrap()],
    );
    let before = git(&fx.remote, &["rev-parse", "main"]);

    let options = run_options(&fx, &store);
    let err = runtime()
        .block_on(modelbump::ops::run(&options))
        .expect_err("the push is rejected");
    let local = git(&fx.work, &["rev-parse", "HEAD"]);
    assert_eq!(err.report.commit.as_deref(), Some(local.trim()), "{err}");
    assert!(!err.report.pushed);
    assert_eq!(err.report.targets.len(), 2);
    assert!(err.outcome.is_none());
    assert!(
        format!("{:#}", err.source).contains("is not on origin main"),
        "{err}"
    );
    assert_eq!(git(&fx.remote, &["rev-parse", "main"]), before);
}
