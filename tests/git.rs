//! Git write-back against real repositories: bare remotes, concurrent pushers, and a smart-HTTP remote
//! (`git http-backend`) with Basic auth.
//!
//! The first group drives the git layer as a library with a stand-in rewrite (so it does not depend on
//! the manifest editor); the second group drives the real binary.

use std::path::{Path, PathBuf};
use std::time::Instant;

use modelbump::git::{
    Committed, Credentials, GitError, GitRepo, Identity, IdentitySource, ModelChange, PushBase,
    PushOutcome, PushRequest, Rewritten, Update,
};
use modelbump::secret::SecretString;

use crate::support::assert_success;
use crate::support::git::{
    Fixture, HttpRemote, git, models_yaml, quickstart_file, quickstart_fixture, quickstart_store,
    read, write,
};

const CANARY: &str = "canary-token-5f3a9c";

fn identity() -> Identity {
    Identity {
        author: ("modelbump".into(), "modelbump@example.invalid".into()),
        committer: ("modelbump".into(), "modelbump@example.invalid".into()),
        source: IdentitySource::Config,
    }
}

/// A stand-in for the manifest editor: sets the `storageUri:` line of the Model `name`.
fn set_uri(bytes: &[u8], name: &str, uri: &str) -> anyhow::Result<Rewritten> {
    let text = std::str::from_utf8(bytes)?;
    let mut out = Vec::new();
    let mut in_model = false;
    let mut changes = Vec::new();
    for line in text.split_inclusive('\n') {
        if let Some(rest) = line.trim().strip_prefix("name: ") {
            in_model = rest == name;
        }
        match line.strip_prefix("  storageUri: ") {
            Some(old) if in_model => {
                let old = old.trim_end().to_string();
                if old != uri {
                    changes.push(ModelChange {
                        name: name.into(),
                        kind: "Model".into(),
                        file: "models.yaml".into(),
                        line: 0,
                        old,
                        new: uri.into(),
                        provenance: None,
                    });
                }
                out.push(format!("  storageUri: {uri}\n"));
            }
            _ => out.push(line.to_string()),
        }
    }
    Ok(Rewritten {
        bytes: out.concat().into_bytes(),
        changes,
    })
}

fn no_credentials() -> Credentials {
    Credentials {
        token: None,
        username: "x-access-token".into(),
        ssh_key: None,
    }
}

fn with_token(token: &str) -> Credentials {
    Credentials {
        token: Some(SecretString::from(token)),
        ..no_credentials()
    }
}

/// Sets `name` to `uri` in `work`'s working tree and commits it on the checked-out branch, as `commit` does.
fn commit_locally(
    work: &Path,
    name: &str,
    uri: &str,
    rewrite: &dyn Fn(&Path, &[u8]) -> anyhow::Result<Rewritten>,
) -> (GitRepo, Committed) {
    let repo = GitRepo::discover(work).unwrap();
    let head = repo.head_commit().unwrap();
    let new = set_uri(read(work, "models.yaml").as_bytes(), name, uri).unwrap();
    std::fs::write(work.join("models.yaml"), &new.bytes).unwrap();
    let update = update(rewrite);
    let committed = repo
        .commit_update(head, &update)
        .unwrap()
        .expect("a change");
    repo.advance_branch(head, committed.id, &update.files)
        .unwrap();
    (repo, committed)
}

/// The change most tests make: alpha to `s3://models/alpha/2/`.
fn set_alpha_2(_: &Path, bytes: &[u8]) -> anyhow::Result<Rewritten> {
    set_uri(bytes, "alpha", "s3://models/alpha/2/")
}

/// [`commit_locally`] with [`set_alpha_2`].
fn commit_alpha_2(work: &Path) -> (GitRepo, Committed) {
    commit_locally(work, "alpha", "s3://models/alpha/2/", &set_alpha_2)
}

fn update<'a>(rewrite: &'a dyn Fn(&Path, &[u8]) -> anyhow::Result<Rewritten>) -> Update<'a> {
    Update {
        files: vec![PathBuf::from("models.yaml")],
        rewrite,
        template: "update: {models}".into(),
        tracking_uri: None,
        identity: identity(),
        signer: None,
    }
}

/// Where the library tests' pushes start: the local commit, built on the remote tip as last fetched.
fn on_tip(repo: &GitRepo, first: Committed) -> PushBase {
    let commit = repo.raw().find_commit(first.id).unwrap();
    PushBase {
        tip: commit.parent_id(0).unwrap(),
        first: Some(first),
        keep_local: false,
    }
}

fn request(credentials: &Credentials) -> PushRequest<'_> {
    PushRequest {
        remote: "origin".into(),
        branch: "main".into(),
        attempts: 5,
        credentials,
    }
}

fn two_models() -> Fixture {
    Fixture::new(&[("models.yaml", &two_models_yaml())])
}

/// `models.yaml` with `n` models (`model-0`...), all at `s3://models/v1/`; returns their names.
fn many_models(n: usize) -> (Vec<String>, Fixture) {
    let names: Vec<String> = (0..n).map(|i| format!("model-{i}")).collect();
    let models: Vec<(&str, &str)> = names
        .iter()
        .map(|n| (n.as_str(), "s3://models/v1/"))
        .collect();
    let fx = Fixture::new(&[("models.yaml", &models_yaml(&models))]);
    (names, fx)
}

/// Another writer commits `models` (name, uri) to `models.yaml` in its own clone and pushes first.
fn lands_first(fx: &Fixture, models: &[(&str, &str)], message: &str) {
    let other = fx.clone("other");
    write(&other, "models.yaml", &models_yaml(models));
    git(&other, &["commit", "-qam", message]);
    git(&other, &["push", "-q", "origin", "main"]);
}

#[test]
fn a_commit_holds_only_the_edited_file_and_leaves_other_changes_alone() {
    let fx = two_models();
    write(&fx.work, "notes.yaml", "unrelated: 1\n");
    git(&fx.work, &["add", "notes.yaml"]);
    write(&fx.work, "untracked.yaml", "x: 1\n");
    let (_repo, committed) = commit_alpha_2(&fx.work);
    let files = git(
        &fx.work,
        &[
            "show",
            "--name-only",
            "--format=",
            &committed.id.to_string(),
        ],
    );
    assert_eq!(files, "models.yaml");
    // The staged file stays staged, the untracked one untracked, and the committed one is clean.
    let status = git(&fx.work, &["status", "--porcelain"]);
    assert_eq!(status, "A  notes.yaml\n?? untracked.yaml");
    assert!(
        committed
            .message
            .contains("- alpha (models.yaml): s3://models/alpha/1/ -> s3://models/alpha/2/")
    );
}

#[test]
fn nothing_to_change_makes_no_commit() {
    let fx = two_models();
    let repo = GitRepo::discover(&fx.work).unwrap();
    let rewrite = |_: &Path, b: &[u8]| set_uri(b, "alpha", "s3://models/alpha/1/");
    let head = repo.head_commit().unwrap();
    assert!(
        repo.commit_update(head, &update(&rewrite))
            .unwrap()
            .is_none()
    );
}

#[test]
fn a_rejected_push_is_reapplied_on_the_fresh_tip_with_the_new_old_values() {
    let fx = two_models();
    // Someone else lands a change to the same model and another one first.
    lands_first(
        &fx,
        &[
            ("alpha", "s3://models/alpha/9/"),
            ("beta", "s3://models/beta/2/"),
        ],
        "someone else",
    );

    let (repo, first) = commit_alpha_2(&fx.work);
    let creds = no_credentials();
    let outcome = repo
        .push_update(
            on_tip(&repo, first.clone()),
            &update(&set_alpha_2),
            &request(&creds),
        )
        .unwrap();
    let PushOutcome::Pushed {
        commit,
        committed,
        attempts,
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(attempts, 2);
    assert_ne!(commit, first.id);
    assert_eq!(fx.remote_head(), commit.to_string());
    // Both changes are on the remote: beta from the other writer, alpha re-applied on top.
    let remote = fx.remote_file("models.yaml");
    assert!(
        remote.contains("s3://models/alpha/2/") && remote.contains("s3://models/beta/2/"),
        "{remote}"
    );
    // The message names the value the commit really replaced.
    assert!(
        committed
            .message
            .contains("s3://models/alpha/9/ -> s3://models/alpha/2/"),
        "{}",
        committed.message
    );
    // The local branch and working tree end at what was pushed.
    assert_eq!(git(&fx.work, &["rev-parse", "HEAD"]), commit.to_string());
    assert_eq!(read(&fx.work, "models.yaml"), remote + "\n");
    assert_eq!(git(&fx.work, &["status", "--porcelain"]), "");
}

#[test]
fn a_remote_that_already_holds_the_values_is_success_without_a_commit() {
    let fx = two_models();
    lands_first(
        &fx,
        &[
            ("alpha", "s3://models/alpha/2/"),
            ("beta", "s3://models/beta/1/"),
        ],
        "the same change",
    );
    let tip = fx.remote_head();

    let (repo, first) = commit_alpha_2(&fx.work);
    let creds = no_credentials();
    let outcome = repo
        .push_update(
            on_tip(&repo, first),
            &update(&set_alpha_2),
            &request(&creds),
        )
        .unwrap();
    assert!(
        matches!(outcome, PushOutcome::AlreadyThere { .. }),
        "{outcome:?}"
    );
    assert_eq!(fx.remote_head(), tip);
    assert_eq!(git(&fx.work, &["rev-parse", "HEAD"]), tip);
}

#[test]
fn a_pre_receive_hook_rejection_is_an_error_naming_the_hook_output() {
    // Hooks run in receive-pack, which libgit2's local transport skips: push over smart HTTP.
    let fx = two_models();
    let _server = http_origin(&fx, "x-access-token", CANARY);
    let hook = fx.remote.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        "#!/bin/sh\necho 'branch main is protected' >&2\nexit 1\n",
    )
    .unwrap();
    make_executable(&hook);
    let (repo, first) = commit_alpha_2(&fx.work);
    let creds = with_token(CANARY);
    let err = repo
        .push_update(
            on_tip(&repo, first),
            &update(&set_alpha_2),
            &request(&creds),
        )
        .unwrap_err();
    assert!(!format!("{err} {err:?}").contains(CANARY));
    assert!(matches!(err, GitError::Rejected { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("pre-receive hook declined") && text.contains("branch main is protected"),
        "{text}"
    );
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// How many requests the server refused, checked to be a handful: one offer of the token, not
/// libgit2's endless loop of 401s.
fn few_refusals(server: &HttpRemote) -> usize {
    let refused = server
        .unauthorized
        .load(std::sync::atomic::Ordering::SeqCst);
    assert!(refused <= 3, "{refused} requests were refused");
    refused
}

/// Serves the fixture's remote over smart HTTP with Basic auth (`user`, `password`) and points `origin`
/// of its first clone there.
fn http_origin(fx: &Fixture, user: &str, password: &str) -> HttpRemote {
    let server = HttpRemote::start(fx.tmp.path(), user, password);
    // http-backend serves the bare repo from the temp root; receive-pack is on for authenticated users.
    git(
        &fx.work,
        &["remote", "set-url", "origin", &server.url("remote.git")],
    );
    server
}

#[test]
fn http_push_with_the_right_token_lands() {
    let fx = two_models();
    let server = http_origin(&fx, "x-access-token", CANARY);
    let (repo, first) = commit_alpha_2(&fx.work);
    let creds = with_token(CANARY);
    let outcome = repo
        .push_update(
            on_tip(&repo, first.clone()),
            &update(&set_alpha_2),
            &request(&creds),
        )
        .unwrap();
    assert!(
        matches!(outcome, PushOutcome::Pushed { attempts: 1, .. }),
        "{outcome:?}"
    );
    assert_eq!(fx.remote_head(), first.id.to_string());
    assert!(
        server
            .unauthorized
            .load(std::sync::atomic::Ordering::SeqCst)
            >= 1,
        "credentials are sent after a 401"
    );
}

#[test]
fn http_push_with_a_wrong_password_fails_fast_without_showing_it() {
    let fx = two_models();
    let server = http_origin(&fx, "x-access-token", "the-right-one");
    let (repo, first) = commit_alpha_2(&fx.work);
    let creds = with_token(CANARY);
    let started = Instant::now();
    let err = repo
        .push_update(
            on_tip(&repo, first),
            &update(&set_alpha_2),
            &request(&creds),
        )
        .unwrap_err();
    let elapsed = started.elapsed();
    let text = format!("{err} {err:?}");
    assert!(matches!(err, GitError::AuthFailed { .. }), "{text}");
    assert!(text.contains("MODELBUMP_GIT_TOKEN"), "{text}");
    assert!(!text.contains(CANARY), "{text}");
    let refused = few_refusals(&server);
    eprintln!("wrong password failed after {elapsed:?} and {refused} refused requests");
}

#[test]
fn eight_writers_racing_on_one_file_all_land() {
    let (names, fx) = many_models(8);
    let clones: Vec<PathBuf> = (0..8).map(|i| fx.clone(&format!("writer-{i}"))).collect();
    let barrier = std::sync::Barrier::new(8);
    std::thread::scope(|scope| {
        for (clone, name) in clones.iter().zip(&names) {
            let barrier = &barrier;
            scope.spawn(move || {
                let uri = format!("s3://models/{name}/v2/");
                let rewrite = |_: &Path, b: &[u8]| set_uri(b, name, &uri);
                let (repo, first) = commit_locally(clone, name, &uri, &rewrite);
                barrier.wait();
                let creds = no_credentials();
                let mut req = request(&creds);
                req.attempts = 10;
                repo.push_update(on_tip(&repo, first), &update(&rewrite), &req)
                    .unwrap()
            });
        }
    });
    let remote = fx.remote_file("models.yaml");
    for name in &names {
        assert!(
            remote.contains(&format!("storageUri: s3://models/{name}/v2/")),
            "{name} lost:\n{remote}"
        );
    }
    let commits = git(&fx.remote, &["rev-list", "--count", "main"]);
    assert_eq!(
        commits, "9",
        "one commit per writer on top of the initial one"
    );
}

// ---------------------------------------------------------------------------------------------------
// The real binary: `set` / `commit` / `commit --push`.

fn modelbump(fx: &Fixture, dir: &Path) -> assert_cmd::Command {
    let mut cmd = crate::support::modelbump(&fx.home);
    cmd.current_dir(dir);
    cmd
}

fn set(fx: &Fixture, dir: &Path, name: &str, uri: &str) {
    modelbump(fx, dir)
        .args(["set", "models.yaml", name, uri])
        .assert()
        .success();
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn cli_commit_stages_only_model_uri_changes() {
    let fx = Fixture::new(&[
        ("models.yaml", &two_models_yaml()),
        ("values.yaml", "replicas: 1\n"),
    ]);
    set(&fx, &fx.work, "alpha", "s3://models/alpha/2/");
    write(&fx.work, "values.yaml", "replicas: 2\n");
    write(
        &fx.work,
        "new.yaml",
        &models_yaml(&[("gamma", "s3://g/1/")]),
    );
    let out = modelbump(&fx, &fx.work).arg("commit").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("1 model URI"), "{text}");
    assert!(
        text.contains("alpha (models.yaml): s3://models/alpha/1/ -> s3://models/alpha/2/"),
        "{text}"
    );
    assert_eq!(
        git(&fx.work, &["show", "--name-only", "--format=", "HEAD"]),
        "models.yaml"
    );
    assert_eq!(
        git(&fx.work, &["status", "--porcelain"]),
        " M values.yaml\n?? new.yaml"
    );
    let message = git(&fx.work, &["log", "-1", "--format=%B"]);
    assert_eq!(
        message,
        "update: model URIs of alpha\n\n- alpha (models.yaml): s3://models/alpha/1/ -> s3://models/alpha/2/"
    );
    assert_eq!(
        git(&fx.work, &["log", "-1", "--format=%an <%ae>"]),
        "Pipeline <pipeline@example.invalid>"
    );
}

fn two_models_yaml() -> String {
    models_yaml(&[
        ("alpha", "s3://models/alpha/1/"),
        ("beta", "s3://models/beta/1/"),
    ])
}

#[test]
fn cli_commit_refuses_a_target_file_with_other_edits() {
    let fx = Fixture::new(&[
        ("models.yaml", &two_models_yaml()),
        (
            "modelbump.yaml",
            "targets:\n  - file: models.yaml\n    name: alpha\n    pinned: true\n",
        ),
    ]);
    set(&fx, &fx.work, "alpha", "s3://models/alpha/2/");
    let edited = read(&fx.work, "models.yaml").replace("# keep me", "# edited by hand");
    write(&fx.work, "models.yaml", &edited);
    let head = git(&fx.work, &["rev-parse", "HEAD"]);
    let out = modelbump(&fx, &fx.work).arg("commit").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("models.yaml: it has edits besides model URI values"),
        "{err}"
    );
    assert!(err.contains("git stash"), "{err}");
    assert_eq!(git(&fx.work, &["rev-parse", "HEAD"]), head);
}

#[test]
fn cli_nothing_to_commit_is_success_without_a_commit() {
    let fx = two_models();
    let head = git(&fx.work, &["rev-parse", "HEAD"]);
    let out = modelbump(&fx, &fx.work)
        .args(["commit", "--push"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "nothing to commit\n");
    assert_eq!(git(&fx.work, &["rev-parse", "HEAD"]), head);
    assert_eq!(fx.remote_head(), head);
    let json = modelbump(&fx, &fx.work)
        .args(["commit", "-o", "json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["commit"], serde_json::Value::Null);
    assert_eq!(report["pushed"], false);
}

#[test]
fn cli_commit_without_an_identity_says_where_to_set_one() {
    let fx = two_models();
    git(&fx.work, &["config", "--unset", "user.name"]);
    git(&fx.work, &["config", "--unset", "user.email"]);
    set(&fx, &fx.work, "alpha", "s3://models/alpha/2/");
    let out = modelbump(&fx, &fx.work).arg("commit").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("set git.author"), "{}", stderr(&out));
    // The environment is the next source.
    let out = modelbump(&fx, &fx.work)
        .arg("commit")
        .env("GIT_AUTHOR_NAME", "CI")
        .env("GIT_AUTHOR_EMAIL", "ci@example.invalid")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        git(&fx.work, &["log", "-1", "--format=%an <%ae> / %cn"]),
        "CI <ci@example.invalid> / CI"
    );
}

#[test]
fn cli_commit_adds_provenance_trailers_from_the_last_apply_but_not_stale_ones() {
    let fx = two_models();
    set(&fx, &fx.work, "alpha", "s3://models/alpha/2/");
    set(&fx, &fx.work, "beta", "s3://models/beta/2/");
    let target = |name: &str, uri: &str, run: &str| modelbump::report::TargetReport {
        file: "models.yaml".into(),
        kind: "Model".into(),
        name: name.into(),
        line: 7,
        status: modelbump::report::TargetStatus::Changed,
        old_uri: None,
        new_uri: Some(uri.into()),
        run_id: Some(run.into()),
        model_version: Some("7".into()),
        model_id: None,
        experiment_id: Some("29".into()),
        reason: None,
        warnings: Vec::new(),
        hold: None,
        registered_model: None,
        alias: None,
        experiment: None,
        error: None,
    };
    let report = modelbump::report::Report {
        // beta's record is stale: the working tree holds another value.
        targets: vec![
            target("alpha", "s3://models/alpha/2/", "run-a"),
            target("beta", "s3://models/beta/9/", "run-b"),
        ],
        ..Default::default()
    };
    modelbump::git::record_applied(
        &fx.work,
        &report,
        Some(&format!("https://bob:{CANARY}@mlflow.example.com/")),
    )
    .unwrap();
    assert!(fx.work.join(".git/modelbump/last-apply.json").exists());
    let out = modelbump(&fx, &fx.work)
        .args(["commit", "-m", "deploy {count}: {models}"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let message = git(&fx.work, &["log", "-1", "--format=%B"]);
    insta::assert_snapshot!(message, @r"
    deploy 2: alpha, beta

    - alpha (models.yaml): s3://models/alpha/1/ -> s3://models/alpha/2/
    - beta (models.yaml): s3://models/beta/1/ -> s3://models/beta/2/

    Modelbump-Target: alpha (models.yaml)
    MLflow-Run-Id: run-a
    MLflow-Model-Version: 7
    MLflow-Experiment: 29
    MLflow-Tracking-Uri: https://mlflow.example.com/
    ");
    assert_eq!(
        git(
            &fx.work,
            &[
                "log",
                "-1",
                "--format=%(trailers:key=MLflow-Run-Id,valueonly)"
            ]
        ),
        "run-a"
    );
}

#[test]
fn cli_six_processes_pushing_different_targets_at_once_all_land() {
    let (names, fx) = many_models(6);
    let mut dirs = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let dir = fx.clone(&format!("pipeline-{i}"));
        set(&fx, &dir, name, &format!("s3://models/{name}/v2/"));
        dirs.push(dir);
    }
    let retries = commit_push_at_once(&fx, &dirs, &[]);
    let retried = retries.iter().filter(|n| **n > 0).count();
    for dir in &dirs {
        // Each pipeline's branch ends at what it pushed (or at the tip that already held its value).
        let local = git(dir, &["rev-parse", "HEAD"]);
        assert_eq!(
            git(&fx.remote, &["merge-base", "--is-ancestor", &local, "main"]),
            ""
        );
    }
    let remote = fx.remote_file("models.yaml");
    for name in &names {
        assert!(
            remote.contains(&format!("storageUri: s3://models/{name}/v2/")),
            "{name} lost:\n{remote}"
        );
    }
    assert_eq!(git(&fx.remote, &["rev-list", "--count", "main"]), "7");
    eprintln!("{retried} of 6 pushes were retried");
}

/// Starts `modelbump commit --push` in each of `dirs` at once (with `env` set too) and waits for all of
/// them, each of which must succeed; returns how many of its pushes each one retried.
fn commit_push_at_once(fx: &Fixture, dirs: &[PathBuf], env: &[(&str, &str)]) -> Vec<usize> {
    let running: Vec<_> = dirs
        .iter()
        .map(|dir| {
            std::process::Command::new(assert_cmd::cargo::cargo_bin("modelbump"))
                .current_dir(dir)
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("HOME", &fx.home)
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("NO_COLOR", "1")
                .env("MODELBUMP_LOG", "info")
                .envs(env.iter().copied())
                .args(["commit", "--push"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    running
        .into_iter()
        .zip(dirs)
        .map(|(child, dir)| {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "{}: {}", dir.display(), stderr(&out));
            stderr(&out).matches("retrying on the fresh tip").count()
        })
        .collect()
}

#[test]
fn cli_http_push_uses_the_token_and_never_shows_it() {
    let fx = two_models();
    let _server = http_origin(&fx, "ci-bot", CANARY);
    set(&fx, &fx.work, "alpha", "s3://models/alpha/2/");
    let out = modelbump(&fx, &fx.work)
        .args(["-v", "commit", "--push"])
        .env("MODELBUMP_GIT_TOKEN", CANARY)
        .env("MODELBUMP_GIT_USERNAME", "ci-bot")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("pushed to origin main"),
        "{}",
        stdout(&out)
    );
    assert_eq!(fx.remote_head(), git(&fx.work, &["rev-parse", "HEAD"]));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!all.contains(CANARY), "{all}");
}

#[test]
fn cli_http_push_with_a_wrong_password_fails_fast_and_clearly() {
    let fx = two_models();
    let server = http_origin(&fx, "x-access-token", "the-right-one");
    set(&fx, &fx.work, "alpha", "s3://models/alpha/2/");
    let started = Instant::now();
    let out = modelbump(&fx, &fx.work)
        .args(["-vv", "commit", "--push"])
        .env("MODELBUMP_GIT_TOKEN", CANARY)
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("authentication to http://127.0.0.1:"), "{err}");
    assert!(err.contains("MODELBUMP_GIT_TOKEN"), "{err}");
    assert!(!format!("{}{err}", stdout(&out)).contains(CANARY), "{err}");
    let refused = few_refusals(&server);
    eprintln!("wrong password: exit 1 after {elapsed:?}, {refused} refused requests");
}

#[test]
fn cli_a_process_killed_while_writing_leaves_each_file_old_or_new() {
    // A large manifest, so that the write takes long enough to be interrupted at different points.
    let padding: String = (0..20_000)
        .map(|i| format!("# padding line {i}\n"))
        .collect();
    let old = format!("{}{padding}", two_models_yaml());
    let fx = Fixture::new(&[("models.yaml", &old)]);
    let bin = assert_cmd::cargo::cargo_bin("modelbump");
    // How long one uninterrupted write takes here and now; the kills are spread over that time.
    let started = Instant::now();
    set(&fx, &fx.work, "beta", "s3://models/beta/2/");
    let full = started.elapsed();
    let mut seen_new = false;
    let mut seen_old = false;
    for round in 0..16u32 {
        let before = read(&fx.work, "models.yaml");
        let uri = format!("s3://models/alpha/{round}/");
        let mut child = std::process::Command::new(&bin)
            .current_dir(&fx.work)
            .env_clear()
            .env("HOME", &fx.home)
            .env("MODELBUMP_LOG", "off")
            .args(["set", "models.yaml", "alpha", &uri])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(full * round / 14);
        let _ = child.kill();
        let _ = child.wait();
        let after = read(&fx.work, "models.yaml");
        let expected_new = before.replacen(
            &format!(
                "storageUri: {}",
                before
                    .split("storageUri: ")
                    .nth(1)
                    .unwrap()
                    .lines()
                    .next()
                    .unwrap()
            ),
            &format!("storageUri: {uri}"),
            1,
        );
        if after == before {
            seen_old = true;
        } else {
            assert_eq!(after, expected_new, "round {round}: a mix of old and new");
            seen_new = true;
        }
    }
    let leftovers: Vec<String> = std::fs::read_dir(&fx.work)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with(".modelbump-"))
        .collect();
    eprintln!(
        "killed writers left the old file: {seen_old}, the new file: {seen_new}; temporary files left: {}",
        leftovers.len()
    );
    assert!(seen_old || seen_new);
}

/// Regression: an unrelated file changed in the same second as git's last index write (same size, so only
/// git's racy-entry check notices) must still show as modified after modelbump rewrites the index a
/// second later. libgit2 compares nanoseconds where git compares seconds, and did not smudge the entry.
#[test]
fn cli_commit_keeps_a_racily_clean_unrelated_change_visible() {
    let fx = Fixture::new(&[
        ("models.yaml", &two_models_yaml()),
        ("values.yaml", "replicas: 1\n"),
    ]);
    write(&fx.work, "values.yaml", "replicas: 2\n");
    let index_mtime = std::fs::metadata(fx.work.join(".git/index"))
        .unwrap()
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // The change happens late in the second of the index write, as a fast script would make it.
    let stamp = format!("@{index_mtime}.999999999");
    let touched = std::process::Command::new("touch")
        .args(["-d", &stamp, "values.yaml"])
        .current_dir(&fx.work)
        .status()
        .unwrap();
    assert!(touched.success());
    std::thread::sleep(std::time::Duration::from_millis(1100));
    set(&fx, &fx.work, "alpha", "s3://models/alpha/2/");
    modelbump(&fx, &fx.work).arg("commit").assert().success();
    assert_eq!(git(&fx.work, &["status", "--porcelain"]), " M values.yaml");
}

// ---------------------------------------------------------------------------------------------------
// `run`, against the quickstart's MLflow file store (no server).

const AB_TEST: &str = "k8s/base/financial-predictor-ab-test.yaml";

#[test]
fn cli_run_commits_and_pushes_the_plan_with_trailers_and_reports_the_commit() {
    let (fx, store) = quickstart_fixture("");
    let report_file = fx.tmp.path().join("report.json");
    let out = modelbump(&fx, &fx.work)
        .args(["-o", "json", "run", "--report"])
        .arg(&report_file)
        .env("MLFLOW_TRACKING_URI", &store)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let head = git(&fx.work, &["rev-parse", "HEAD"]);
    assert_eq!(report["commit"], serde_json::Value::String(head.clone()));
    assert_eq!(report["pushed"], true);
    assert_eq!(fx.remote_head(), head);
    let on_disk: serde_json::Value =
        serde_json::from_str(&read(fx.tmp.path(), "report.json")).unwrap();
    assert_eq!(on_disk, report);
    // Only the manifest is in the commit, and the working tree is clean.
    assert_eq!(
        git(&fx.work, &["show", "--name-only", "--format=", "HEAD"]),
        AB_TEST
    );
    assert_eq!(git(&fx.work, &["status", "--porcelain"]), "");
    let message = git(&fx.work, &["log", "-1", "--format=%B"]);
    assert!(
        message.starts_with("update: model URIs from MLflow\n\n- baseline-predictor"),
        "{message}"
    );
    assert!(
        message.contains("MLflow-Run-Id: 3d2a7e6c1f4b4a8d0c9e5f3a2b1c0d9e"),
        "{message}"
    );
    assert!(message.contains("MLflow-Model-Version: 2"), "{message}");
    assert!(
        message.contains(&format!("MLflow-Tracking-Uri: {store}")),
        "{message}"
    );
    assert_eq!(
        git(&fx.work, &["log", "-1", "--format=%an <%ae>"]),
        "modelbump <modelbump@example.invalid>"
    );

    // A second run finds nothing to change and makes no commit.
    let again = modelbump(&fx, &fx.work)
        .arg("run")
        .env("MLFLOW_TRACKING_URI", &store)
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).ends_with("nothing to commit\n"),
        "{}",
        stdout(&again)
    );
    assert_eq!(git(&fx.work, &["rev-parse", "HEAD"]), head);
}

#[test]
fn cli_run_dry_run_writes_nothing() {
    let (fx, store) = quickstart_fixture("");
    let out = modelbump(&fx, &fx.work)
        .args(["run", "--dry-run"])
        .env("MLFLOW_TRACKING_URI", &store)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("diff --git a/{AB_TEST} b/{AB_TEST}")),
        "{}",
        stdout(&out)
    );
    assert_eq!(git(&fx.work, &["status", "--porcelain"]), "");
    assert_eq!(fx.remote_head(), git(&fx.work, &["rev-parse", "HEAD"]));
}

#[test]
fn cli_run_refuses_a_target_file_with_other_edits_before_writing() {
    let (fx, store) = quickstart_fixture("");
    let edited = read(&fx.work, AB_TEST).replacen("server: mlserver", "server: triton", 1);
    write(&fx.work, AB_TEST, &edited);
    let out = modelbump(&fx, &fx.work)
        .arg("run")
        .env("MLFLOW_TRACKING_URI", &store)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("{AB_TEST} has uncommitted changes")),
        "{}",
        stderr(&out)
    );
    assert_eq!(read(&fx.work, AB_TEST), edited, "nothing written");
    assert_eq!(git(&fx.work, &["rev-list", "--count", "HEAD"]), "1");
}

#[test]
fn cli_apply_then_commit_carries_the_provenance_of_the_apply() {
    let (fx, store) = quickstart_fixture("");
    modelbump(&fx, &fx.work)
        .arg("apply")
        .env("MLFLOW_TRACKING_URI", &store)
        .assert()
        .success();
    assert_eq!(
        git(&fx.work, &["status", "--porcelain"]),
        format!(" M {AB_TEST}")
    );
    modelbump(&fx, &fx.work)
        .args(["commit", "--push"])
        .assert()
        .success();
    let message = git(&fx.work, &["log", "-1", "--format=%B"]);
    assert!(
        message.contains("MLflow-Run-Id: 3d2a7e6c1f4b4a8d0c9e5f3a2b1c0d9e"),
        "{message}"
    );
    assert!(
        message.contains(&format!("MLflow-Tracking-Uri: {store}")),
        "{message}"
    );
    assert_eq!(fx.remote_head(), git(&fx.work, &["rev-parse", "HEAD"]));
    // The record was used up: a manual rollback afterwards gets no MLflow trailers.
    let old = "s3://mlflow-artifacts/29/models/m-63118756949141cba59ab87e90e8a96a/artifacts/";
    modelbump(&fx, &fx.work)
        .args(["set", AB_TEST, "baseline-predictor", old])
        .assert()
        .success();
    modelbump(&fx, &fx.work)
        .args(["commit", "-m", "rollback: {models}"])
        .assert()
        .success();
    let rollback = git(&fx.work, &["log", "-1", "--format=%B"]);
    assert!(
        rollback.starts_with("rollback: baseline-predictor\n"),
        "{rollback}"
    );
    assert!(!rollback.contains("MLflow-"), "{rollback}");
}

#[test]
fn cli_apply_killed_at_any_point_leaves_each_file_old_or_new() {
    // Two manifests (the quickstart's, twice), each with both targets; apply writes both.
    let manifest = quickstart_file("financial-predictor-ab-test.yaml");
    let config = quickstart_file("modelbump.yaml");
    let second = config.replace(
        "file: k8s/base/financial-predictor-ab-test.yaml",
        "file: k8s/overlay/copy.yaml",
    );
    let targets_of_second = &second
        [second.find("targets:").unwrap() + "targets:\n".len()..second.find("git:").unwrap()];
    let config = config.replace("git:", &format!("{targets_of_second}git:"));
    let fx = Fixture::new(&[
        (AB_TEST, &manifest),
        ("k8s/overlay/copy.yaml", &manifest),
        ("modelbump.yaml", &config),
    ]);
    let store = quickstart_store(&fx);
    let apply = || {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("modelbump"));
        cmd.current_dir(&fx.work)
            .env_clear()
            .env("HOME", &fx.home)
            .env("MODELBUMP_LOG", "off")
            .env("MLFLOW_TRACKING_URI", &store)
            .arg("apply")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        cmd
    };
    // The new content, from one uninterrupted apply (timed, to spread the kills over its run).
    let started = Instant::now();
    assert!(apply().status().unwrap().success());
    let full = started.elapsed();
    let new = read(&fx.work, AB_TEST);
    assert_ne!(new, manifest);
    assert_eq!(read(&fx.work, "k8s/overlay/copy.yaml"), new);
    let mut outcomes = std::collections::BTreeSet::new();
    for round in 0..12u32 {
        git(&fx.work, &["checkout", "--", "."]);
        let mut child = apply().spawn().unwrap();
        std::thread::sleep(full * round / 10);
        let _ = child.kill();
        let _ = child.wait();
        for file in [AB_TEST, "k8s/overlay/copy.yaml"] {
            let now = read(&fx.work, file);
            assert!(
                now == manifest || now == new,
                "round {round}: {file} is neither old nor new"
            );
            outcomes.insert((file, now == new));
        }
    }
    eprintln!("outcomes seen (file, new): {outcomes:?}");
}

#[test]
fn cli_http_push_without_a_token_uses_the_repos_credential_helper() {
    let fx = two_models();
    let _server = http_origin(&fx, "helper-user", CANARY);
    let helper = format!("!f() {{ echo username=helper-user; echo password={CANARY}; }}; f");
    git(&fx.work, &["config", "credential.helper", &helper]);
    set(&fx, &fx.work, "alpha", "s3://models/alpha/2/");
    let out = modelbump(&fx, &fx.work)
        .args(["-v", "commit", "--push"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(fx.remote_head(), git(&fx.work, &["rev-parse", "HEAD"]));
    assert!(!format!("{}{}", stdout(&out), stderr(&out)).contains(CANARY));
}

#[test]
fn cli_nothing_to_commit_with_local_commits_says_they_are_not_pushed() {
    let fx = two_models();
    set(&fx, &fx.work, "alpha", "s3://models/alpha/2/");
    modelbump(&fx, &fx.work).arg("commit").assert().success();
    let out = modelbump(&fx, &fx.work)
        .args(["commit", "--push"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "nothing to commit\n");
    assert!(
        stderr(&out).contains("main is 1 commit(s) ahead of origin/main"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn cli_commit_in_a_subfolder_of_the_checkout_names_files_from_there() {
    let fx = Fixture::new(&[
        ("gitops/models.yaml", &two_models_yaml()),
        (
            "gitops/modelbump.yaml",
            "targets:\n  - file: models.yaml\n    name: alpha\n    pinned: true\n",
        ),
    ]);
    let sub = fx.work.join("gitops");
    set(&fx, &sub, "alpha", "s3://models/alpha/2/");
    let out = modelbump(&fx, &fx.work)
        .args(["-C", "gitops", "-o", "json", "commit"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["targets"][0]["file"], "models.yaml");
    assert_eq!(report["targets"][0]["oldUri"], "s3://models/alpha/1/");
    assert_eq!(
        report["commit"],
        serde_json::Value::String(git(&fx.work, &["rev-parse", "HEAD"]))
    );
    assert_eq!(
        git(&fx.work, &["show", "--name-only", "--format=", "HEAD"]),
        "gitops/models.yaml"
    );
}

// ---------------------------------------------------------------------------------------------------
// The repository as git sees it: a remote given as a URL, files git converts on checkout, and
// manifests reached through a symlink.

/// The files under `dir/.git` (objects aside, which are compressed) that hold `needle`.
fn git_files_holding(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.join(".git")];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if !path.ends_with("objects") {
                    pending.push(path);
                }
            } else if String::from_utf8_lossy(&std::fs::read(&path).unwrap()).contains(needle) {
                found.push(path);
            }
        }
    }
    found
}

#[test]
fn cli_run_pushes_to_a_remote_given_as_a_url_with_its_credentials_and_stores_or_shows_them_nowhere()
{
    let (fx, store) = quickstart_fixture("");
    let server = HttpRemote::start(fx.tmp.path(), "ci-bot", CANARY);
    let url = format!(
        "http://ci-bot:{CANARY}@127.0.0.1:{}/remote.git",
        server.port
    );
    let config_before = read(&fx.work, ".git/config");
    let report_file = fx.tmp.path().join("report.json");
    let out = modelbump(&fx, &fx.work)
        .args(["-vvv", "-o", "json", "run", "--report"])
        .arg(&report_file)
        .env("MLFLOW_TRACKING_URI", &store)
        .env("MODELBUMP_GIT_REMOTE", &url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let head = git(&fx.work, &["rev-parse", "HEAD"]);
    assert_eq!(fx.remote_head(), head, "pushed over HTTP");
    assert!(
        few_refusals(&server) >= 1,
        "the credentials went in answer to a 401"
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["pushed"], true);
    assert_eq!(report["commit"], serde_json::Value::String(head));
    for (what, text) in [
        ("stdout", stdout(&out)),
        ("stderr at -vvv", stderr(&out)),
        ("the report file", read(fx.tmp.path(), "report.json")),
        ("the commit", git(&fx.work, &["log", "-1", "--format=%B"])),
    ] {
        assert!(!text.contains(CANARY), "the token is in {what}:\n{text}");
    }
    assert_eq!(read(&fx.work, ".git/config"), config_before);
    assert_eq!(git_files_holding(&fx.work, CANARY), Vec::<PathBuf>::new());
}

#[test]
fn cli_commit_pushes_to_a_url_remote_naming_it_without_credentials() {
    let fx = two_models();
    let server = HttpRemote::start(fx.tmp.path(), "ci-bot", CANARY);
    // The user name in the URL, the token from MODELBUMP_GIT_TOKEN.
    let url = format!("http://ci-bot@127.0.0.1:{}/remote.git", server.port);
    set(&fx, &fx.work, "alpha", "s3://models/alpha/2/");
    let out = modelbump(&fx, &fx.work)
        .args(["commit", "--push", "--remote", &url])
        .env("MODELBUMP_GIT_TOKEN", CANARY)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "pushed to http://127.0.0.1:{}/remote.git main",
            server.port
        )),
        "{text}"
    );
    assert_eq!(fx.remote_head(), git(&fx.work, &["rev-parse", "HEAD"]));
    assert!(!format!("{text}{}", stderr(&out)).contains(CANARY));
}

#[test]
fn cli_run_refuses_a_url_remote_that_would_send_its_password_in_clear_text_before_writing() {
    let (fx, store) = quickstart_fixture("");
    let before = read(&fx.work, AB_TEST);
    let report_file = fx.tmp.path().join("report.json");
    let out = modelbump(&fx, &fx.work)
        .args(["-o", "json", "run", "--report"])
        .arg(&report_file)
        .env("MLFLOW_TRACKING_URI", &store)
        .env(
            "MODELBUMP_GIT_REMOTE",
            format!("http://ci-bot:{CANARY}@git.example.invalid/org/gitops.git"),
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("http://git.example.invalid/org/gitops.git") && err.contains("https://"),
        "{err}"
    );
    let report = read(fx.tmp.path(), "report.json");
    assert!(
        !format!("{}{err}{report}", stdout(&out)).contains(CANARY),
        "{err}{report}"
    );
    assert_eq!(read(&fx.work, AB_TEST), before, "nothing written");
    assert_eq!(git(&fx.work, &["rev-list", "--count", "HEAD"]), "1");
}

/// The quickstart's repo with `attributes` in `.gitattributes`, `config` set in the clone and the
/// manifest (after `prefix`) checked out again, so that the working tree holds git's converted form of
/// the committed file, which `mark` shows; `git status` sees no change.
fn converting_quickstart(
    attributes: &str,
    config: &[(&str, &str)],
    prefix: &str,
    mark: &str,
) -> (Fixture, String) {
    let manifest = format!(
        "{prefix}{}",
        quickstart_file("financial-predictor-ab-test.yaml")
    );
    let fx = Fixture::new(&[
        (".gitattributes", attributes),
        (AB_TEST, &manifest),
        ("modelbump.yaml", &quickstart_file("modelbump.yaml")),
    ]);
    for (key, value) in config {
        git(&fx.work, &["config", key, value]);
    }
    std::fs::remove_file(fx.work.join(AB_TEST)).unwrap();
    git(&fx.work, &["checkout", "--", AB_TEST]);
    assert!(
        read(&fx.work, AB_TEST).contains(mark),
        "converted on checkout"
    );
    assert_eq!(git(&fx.work, &["status", "--porcelain"]), "");
    let store = quickstart_store(&fx);
    (fx, store)
}

/// `set` the quickstart's baseline-predictor to `s3://models/baseline/3/`, then `commit`.
fn set_baseline_and_commit(fx: &Fixture) -> std::process::Output {
    modelbump(fx, &fx.work)
        .args([
            "set",
            AB_TEST,
            "baseline-predictor",
            "s3://models/baseline/3/",
        ])
        .assert()
        .success();
    modelbump(fx, &fx.work).arg("commit").output().unwrap()
}

/// Asserts that a command failed naming the manifest and its filter `cluster`, not saying `false_reason`.
fn refused_for_the_filter(out: &std::process::Output, false_reason: &str) {
    assert_eq!(out.status.code(), Some(1), "{}", stderr(out));
    let err = stderr(out);
    assert!(
        err.contains(AB_TEST) && err.contains("filter \"cluster\"") && !err.contains(false_reason),
        "{err}"
    );
}

/// `run`, then `set` and `commit`, in a repo where git converts the manifest: each commits git's stored
/// form of the file with only the model URIs changed, and leaves `git status` clean.
fn run_and_commit_see_through_the_conversion(fx: &Fixture, store: &str) {
    let committed = |rev: &str| git(&fx.work, &["show", &format!("{rev}:{AB_TEST}")]);
    let initial = committed("HEAD");
    let out = with_store(fx, store, &["run"]);
    assert!(out.status.success(), "run: {}", stderr(&out));
    let after_run = initial
        .replace(
            "m-63118756949141cba59ab87e90e8a96a",
            "m-7f3c2a91d4e84b6f9a0c5e1d2b3a4f56",
        )
        .replace(
            "m-d64ffcb77a684fbfa8597e439c920a07",
            "m-a1b2c3d4e5f647188a9b0c1d2e3f4a5b",
        );
    assert_ne!(after_run, initial);
    assert_eq!(committed("HEAD"), after_run, "run commits the stored form");
    assert_eq!(git(&fx.work, &["status", "--porcelain"]), "");
    assert_eq!(fx.remote_head(), git(&fx.work, &["rev-parse", "HEAD"]));

    let out = set_baseline_and_commit(fx);
    assert!(out.status.success(), "commit: {}", stderr(&out));
    assert!(stdout(&out).contains("1 model URI"), "{}", stdout(&out));
    assert_eq!(
        committed("HEAD"),
        after_run.replace(
            "s3://mlflow-artifacts/29/models/m-7f3c2a91d4e84b6f9a0c5e1d2b3a4f56/artifacts/",
            "s3://models/baseline/3/"
        ),
        "commit commits the stored form"
    );
    assert_eq!(git(&fx.work, &["status", "--porcelain"]), "");
}

#[test]
fn cli_run_and_commit_work_with_core_autocrlf_and_lf_blobs() {
    let (fx, store) = converting_quickstart("", &[("core.autocrlf", "true")], "", "\r\n");
    run_and_commit_see_through_the_conversion(&fx, &store);
}

#[test]
fn cli_run_and_commit_work_with_an_eol_crlf_attribute() {
    let (fx, store) = converting_quickstart("*.yaml text eol=crlf\n", &[], "", "\r\n");
    run_and_commit_see_through_the_conversion(&fx, &store);
}

#[test]
fn cli_run_and_commit_work_with_the_ident_attribute() {
    let (fx, store) = converting_quickstart("*.yaml ident\n", &[], "# $Id$\n", "# $Id: ");
    run_and_commit_see_through_the_conversion(&fx, &store);
}

#[test]
fn cli_run_and_commit_refuse_a_file_under_a_filter_driver_naming_it() {
    let (fx, store) = converting_quickstart(
        "*.yaml filter=cluster\n",
        &[
            ("filter.cluster.clean", "sed s/prod-eu-1/CLUSTER/"),
            ("filter.cluster.smudge", "sed s/CLUSTER/prod-eu-1/"),
        ],
        "# cluster: CLUSTER\n",
        "# cluster: prod-eu-1",
    );
    let before = read(&fx.work, AB_TEST);
    let out = with_store(&fx, &store, &["run"]);
    refused_for_the_filter(&out, "uncommitted changes");
    assert_eq!(read(&fx.work, AB_TEST), before, "nothing written");

    let out = set_baseline_and_commit(&fx);
    refused_for_the_filter(&out, "besides model URI values");
    assert_eq!(git(&fx.work, &["rev-list", "--count", "HEAD"]), "1");
}

/// The quickstart's repo whose config names the manifest as `link`, a committed symlink to `target`.
fn symlinked_quickstart(link: &str, target: &Path) -> (Fixture, String) {
    let config = quickstart_file("modelbump.yaml").replace(AB_TEST, link);
    let fx = Fixture::new(&[
        (
            AB_TEST,
            &quickstart_file("financial-predictor-ab-test.yaml"),
        ),
        ("modelbump.yaml", &config),
    ]);
    std::os::unix::fs::symlink(target, fx.work.join(link)).unwrap();
    git(&fx.work, &["add", link]);
    git(&fx.work, &["commit", "-q", "-m", "a link to the manifest"]);
    git(&fx.work, &["push", "-q", "origin", "main"]);
    let store = quickstart_store(&fx);
    (fx, store)
}

fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path)
        .unwrap()
        .file_type()
        .is_symlink()
}

#[test]
fn cli_apply_commit_and_run_edit_the_file_a_symlinked_manifest_points_to() {
    let link = "k8s/link.yaml";
    let (fx, store) =
        symlinked_quickstart(link, Path::new("base/financial-predictor-ab-test.yaml"));
    crate::support::assert_success(&with_store(&fx, &store, &["apply"]));
    assert!(is_symlink(&fx.work.join(link)), "the link stays a link");
    assert_eq!(
        git(&fx.work, &["status", "--porcelain"]),
        format!(" M {AB_TEST}")
    );
    let out = modelbump(&fx, &fx.work).arg("commit").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("2 model URIs"), "{}", stdout(&out));
    assert_eq!(
        git(&fx.work, &["show", "--name-only", "--format=", "HEAD"]),
        AB_TEST
    );
    assert_eq!(git(&fx.work, &["status", "--porcelain"]), "");

    // `run` from the same starting point.
    git(&fx.work, &["reset", "-q", "--hard", "HEAD~1"]);
    let out = with_store(&fx, &store, &["run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(is_symlink(&fx.work.join(link)), "the link stays a link");
    assert_eq!(
        git(&fx.work, &["show", "--name-only", "--format=", "HEAD"]),
        AB_TEST
    );
    assert_eq!(git(&fx.work, &["status", "--porcelain"]), "");
    assert_eq!(fx.remote_head(), git(&fx.work, &["rev-parse", "HEAD"]));
}

#[test]
fn cli_apply_and_run_refuse_a_manifest_symlinked_outside_the_repo() {
    let link = "k8s/link.yaml";
    let (fx, store) = symlinked_quickstart(link, Path::new("../../outside.yaml"));
    let manifest = quickstart_file("financial-predictor-ab-test.yaml");
    write(fx.tmp.path(), "outside.yaml", &manifest);
    for command in ["apply", "run"] {
        let out = with_store(&fx, &store, &[command]);
        assert_eq!(out.status.code(), Some(1), "{command}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(link) && err.contains("outside"), "{err}");
        assert_eq!(read(fx.tmp.path(), "outside.yaml"), manifest);
        assert!(is_symlink(&fx.work.join(link)));
        assert_eq!(git(&fx.work, &["status", "--porcelain"]), "");
    }
}

// ---------------------------------------------------------------------------------------------------
// Pipelines: a detached HEAD, the report of a failed `run`, local commits left unpushed, and the
// temporary files of an interrupted write.

/// The quickstart fixture checked out as a detached HEAD (as CI systems and Argo's git artifacts check
/// out a revision), with `git.branch` taken out of the config so that only flags and variables name it.
fn detached_quickstart() -> (Fixture, String) {
    let (fx, store) = quickstart_fixture("");
    let config = read(&fx.work, "modelbump.yaml").replace("  branch: main\n", "");
    write(&fx.work, "modelbump.yaml", &config);
    git(
        &fx.work,
        &["commit", "-q", "-am", "no branch in the config"],
    );
    git(&fx.work, &["push", "-q", "origin", "main"]);
    git(&fx.work, &["checkout", "-q", "--detach"]);
    (fx, store)
}

#[test]
fn cli_run_on_a_detached_head_commits_on_top_and_pushes_to_the_branch_given_after_a_race() {
    let (fx, store) = detached_quickstart();
    let detached_at = git(&fx.work, &["rev-parse", "HEAD"]);
    // Someone else moves main first: the first push loses, and the edits are re-applied on their tip.
    let other = fx.clone("other");
    write(&other, "README.md", "unrelated\n");
    git(&other, &["add", "README.md"]);
    git(&other, &["commit", "-q", "-m", "unrelated change"]);
    git(&other, &["push", "-q", "origin", "main"]);
    let theirs = fx.remote_head();

    let out = modelbump(&fx, &fx.work)
        .args(["-o", "json", "run", "--branch", "main"])
        .env("MLFLOW_TRACKING_URI", &store)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let head = git(&fx.work, &["rev-parse", "HEAD"]);
    assert_eq!(report["commit"], serde_json::Value::String(head.clone()));
    assert_eq!(report["pushed"], true);
    assert_eq!(fx.remote_head(), head);
    assert_eq!(git(&fx.work, &["rev-parse", "HEAD^"]), theirs);
    assert_ne!(head, detached_at);
    // HEAD stays detached, the local main is untouched, and the working tree is the pushed commit.
    assert_eq!(
        git(&fx.work, &["rev-parse", "--abbrev-ref", "HEAD"]),
        "HEAD"
    );
    assert_eq!(git(&fx.work, &["rev-parse", "main"]), detached_at);
    assert_eq!(git(&fx.work, &["status", "--porcelain"]), "");
    assert_eq!(read(&fx.work, "README.md"), "unrelated\n");
    assert_ne!(
        fx.remote_file(AB_TEST),
        read(&other, AB_TEST).trim_end(),
        "the remote holds the new URIs"
    );
    assert_eq!(fx.remote_file(AB_TEST), read(&fx.work, AB_TEST).trim_end());
}

#[test]
fn cli_run_on_a_detached_head_takes_the_branch_from_modelbump_git_branch() {
    let (fx, store) = detached_quickstart();
    let out = modelbump(&fx, &fx.work)
        .arg("run")
        .env("MLFLOW_TRACKING_URI", &store)
        .env("MODELBUMP_GIT_BRANCH", "main")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("on detached HEAD"), "{text}");
    assert!(text.contains("pushed to origin main"), "{text}");
    assert_eq!(fx.remote_head(), git(&fx.work, &["rev-parse", "HEAD"]));
}

#[test]
fn cli_run_on_a_detached_head_without_a_branch_says_to_pass_one_and_writes_nothing() {
    let (fx, store) = detached_quickstart();
    let before = read(&fx.work, AB_TEST);
    let out = modelbump(&fx, &fx.work)
        .arg("run")
        .env("MLFLOW_TRACKING_URI", &store)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("HEAD is detached"), "{err}");
    assert!(err.contains("--branch"), "{err}");
    assert!(err.contains("MODELBUMP_GIT_BRANCH"), "{err}");
    assert!(err.contains("git.branch"), "{err}");
    assert_eq!(read(&fx.work, AB_TEST), before, "nothing written");
    assert_eq!(git(&fx.work, &["status", "--porcelain"]), "");
}

#[test]
fn cli_commit_push_on_a_detached_head_pushes_to_the_branch_given() {
    let fx = two_models();
    git(&fx.work, &["checkout", "-q", "--detach"]);
    set(&fx, &fx.work, "alpha", "s3://models/alpha/2/");
    let out = modelbump(&fx, &fx.work)
        .args(["commit", "--push", "--remote", "origin", "--branch", "main"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(fx.remote_head(), git(&fx.work, &["rev-parse", "HEAD"]));
    assert!(
        fx.remote_file("models.yaml")
            .contains("s3://models/alpha/2/")
    );
    assert_eq!(
        git(&fx.work, &["rev-parse", "--abbrev-ref", "HEAD"]),
        "HEAD"
    );
}

#[test]
fn cli_run_that_cannot_resolve_still_writes_the_report_with_the_error() {
    let (fx, _store) = quickstart_fixture("");
    let missing = format!("file://{}", fx.tmp.path().join("no-such-store").display());
    let report_file = fx.tmp.path().join("out/report.json");
    std::fs::create_dir_all(report_file.parent().unwrap()).unwrap();
    let out = modelbump(&fx, &fx.work)
        .args(["-o", "json", "run", "--report"])
        .arg(&report_file)
        .env("MLFLOW_TRACKING_URI", &missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let on_disk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_file).unwrap()).unwrap();
    assert_eq!(on_disk["targets"], serde_json::json!([]));
    assert_eq!(on_disk["commit"], serde_json::Value::Null);
    assert_eq!(on_disk["pushed"], false);
    assert_eq!(on_disk["sync"], serde_json::json!([]));
    let error = on_disk["error"].as_str().unwrap();
    assert!(error.contains("no-such-store"), "{error}");
    // stdout carries the same document for -o json.
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, on_disk);
    assert_eq!(git(&fx.work, &["status", "--porcelain"]), "");
}

#[test]
fn cli_run_whose_push_fails_reports_the_plan_and_the_local_commit() {
    let (fx, store) = quickstart_fixture("");
    let gone = fx.tmp.path().join("gone.git");
    git(
        &fx.work,
        &["remote", "set-url", "origin", gone.to_str().unwrap()],
    );
    let report_file = fx.tmp.path().join("report.json");
    let out = modelbump(&fx, &fx.work)
        .args(["run", "--report"])
        .arg(&report_file)
        .env("MLFLOW_TRACKING_URI", &store)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let head = git(&fx.work, &["rev-parse", "HEAD"]);
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "committed {} in the checkout, but it is not on origin main",
            &head[..12]
        )),
        "{err}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&read(fx.tmp.path(), "report.json")).unwrap();
    assert_eq!(report["commit"], serde_json::Value::String(head));
    assert_eq!(report["pushed"], false);
    let statuses: Vec<&str> = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.len(), 2, "{report}");
    assert!(statuses.contains(&"changed"), "{report}");
    assert!(
        report["error"]
            .as_str()
            .unwrap()
            .contains("not on origin main"),
        "{report}"
    );
}

#[test]
fn cli_nothing_to_commit_with_unpushed_commits_says_how_to_review_and_push_them() {
    let fx = two_models();
    set(&fx, &fx.work, "alpha", "s3://models/alpha/2/");
    modelbump(&fx, &fx.work).arg("commit").assert().success();
    let local = git(&fx.work, &["rev-parse", "HEAD"]);
    let remote_before = fx.remote_head();
    let out = modelbump(&fx, &fx.work)
        .args(["commit", "--push"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("nothing was pushed"), "{err}");
    assert!(err.contains("git log origin/main..HEAD"), "{err}");
    assert!(err.contains("git push origin HEAD:main"), "{err}");
    // The earlier commit is left for the user: not pushed behind their back.
    assert_eq!(fx.remote_head(), remote_before);
    assert_eq!(git(&fx.work, &["rev-parse", "HEAD"]), local);
}

#[test]
fn cli_commit_and_run_ignore_a_temporary_file_left_by_an_interrupted_write() {
    let fx = two_models();
    // What a writer killed between creating and renaming its temporary file leaves behind.
    let leftover = ".modelbump-Xq3vZ1.tmp";
    write(
        &fx.work,
        leftover,
        "apiVersion: mlops.seldon.io/v1alpha1\nkind: Mo",
    );
    set(&fx, &fx.work, "alpha", "s3://models/alpha/2/");
    let out = modelbump(&fx, &fx.work)
        .args(["commit", "--push"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        git(&fx.work, &["show", "--name-only", "--format=", "HEAD"]),
        "models.yaml"
    );
    assert_eq!(
        git(&fx.work, &["status", "--porcelain"]),
        format!("?? {leftover}")
    );
}

#[test]
fn cli_http_push_from_a_detached_head_lands_on_the_branch_after_a_race() {
    let fx = two_models();
    let _server = http_origin(&fx, "ci-bot", CANARY);
    git(&fx.work, &["checkout", "-q", "--detach"]);
    let other = fx.clone("other");
    set(&fx, &other, "beta", "s3://models/beta/2/");
    modelbump(&fx, &other)
        .args(["commit", "--push"])
        .assert()
        .success();
    set(&fx, &fx.work, "alpha", "s3://models/alpha/2/");
    let out = modelbump(&fx, &fx.work)
        .args(["commit", "--push", "--branch", "main"])
        .env("MODELBUMP_GIT_TOKEN", CANARY)
        .env("MODELBUMP_GIT_USERNAME", "ci-bot")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(fx.remote_head(), git(&fx.work, &["rev-parse", "HEAD"]));
    let on_remote = fx.remote_file("models.yaml");
    assert!(on_remote.contains("s3://models/alpha/2/"), "{on_remote}");
    assert!(on_remote.contains("s3://models/beta/2/"), "{on_remote}");
    assert_eq!(
        git(&fx.work, &["rev-parse", "--abbrev-ref", "HEAD"]),
        "HEAD"
    );
    assert!(!format!("{}{}", stdout(&out), stderr(&out)).contains(CANARY));
}

// ---------------------------------------------------------------------------------------------------
// Commits modelbump did not make: a branch that holds a commit the remote has not is never pushed or
// dropped, on any transport.

/// Commits `local-notes.txt` on the checked-out branch of `dir`, as a user would; returns the commit.
fn commit_local_notes(dir: &Path) -> String {
    write(dir, "local-notes.txt", "my notes\n");
    git(dir, &["add", "local-notes.txt"]);
    git(dir, &["commit", "-q", "-m", "local only"]);
    git(dir, &["rev-parse", "HEAD"])
}

/// What a write-back must leave when the branch held the user's commit `local` (not on the remote,
/// whose tip was `remote_before`): exactly one new commit on the remote, on its old tip, holding the
/// new `file` and not the user's file; the user's commit still on the local branch, their file in the
/// working tree, a clean status, a warning; and a later `git pull --rebase` keeps only the user's commit.
fn assert_local_commit_kept_and_not_pushed(
    fx: &Fixture,
    out: &std::process::Output,
    remote_before: &str,
    local: &str,
    file: &str,
) {
    assert!(out.status.success(), "{}", stderr(out));
    assert_eq!(git(&fx.remote, &["rev-parse", "main^"]), remote_before);
    let on_remote = git(&fx.remote, &["ls-tree", "-r", "--name-only", "main"]);
    assert!(!on_remote.contains("local-notes.txt"), "{on_remote}");
    assert_eq!(fx.remote_file(file), read(&fx.work, file).trim_end());
    assert_ne!(
        git(&fx.remote, &["show", &format!("{remote_before}:{file}")]),
        fx.remote_file(file),
        "the new value is on the remote"
    );
    assert_eq!(
        git(&fx.work, &["merge-base", "--is-ancestor", local, "HEAD"]),
        ""
    );
    assert_eq!(read(&fx.work, "local-notes.txt"), "my notes\n");
    assert_eq!(git(&fx.work, &["status", "--porcelain"]), "");
    let err = stderr(out);
    assert!(
        err.contains("1 commit(s)") && err.contains("not pushed"),
        "{err}"
    );
    // The local copy of modelbump's edit goes away as already applied; the user's commit stays.
    git(
        &fx.work,
        &[
            "pull",
            "-q",
            "--rebase",
            fx.remote.to_str().unwrap(),
            "main",
        ],
    );
    assert_eq!(
        git(&fx.work, &["rev-list", "--count", "FETCH_HEAD..HEAD"]),
        "1"
    );
    assert_eq!(git(&fx.work, &["log", "-1", "--format=%s"]), "local only");
    assert_eq!(read(&fx.work, "local-notes.txt"), "my notes\n");
}

#[test]
fn cli_commit_push_to_a_path_remote_never_pushes_or_drops_a_local_commit() {
    let fx = two_models();
    let remote_before = fx.remote_head();
    let local = commit_local_notes(&fx.work);
    set(&fx, &fx.work, "alpha", "s3://models/alpha/2/");
    let out = modelbump(&fx, &fx.work)
        .args(["commit", "--push"])
        .output()
        .unwrap();
    assert_local_commit_kept_and_not_pushed(&fx, &out, &remote_before, &local, "models.yaml");
}

#[test]
fn cli_commit_push_over_http_never_pushes_a_local_commit() {
    let fx = two_models();
    let _server = http_origin(&fx, "x-access-token", CANARY);
    let remote_before = fx.remote_head();
    let local = commit_local_notes(&fx.work);
    set(&fx, &fx.work, "alpha", "s3://models/alpha/2/");
    let out = modelbump(&fx, &fx.work)
        .args(["commit", "--push"])
        .env("MODELBUMP_GIT_TOKEN", CANARY)
        .output()
        .unwrap();
    assert_local_commit_kept_and_not_pushed(&fx, &out, &remote_before, &local, "models.yaml");
}

#[test]
fn cli_run_to_a_path_remote_never_pushes_or_drops_a_local_commit() {
    let (fx, store) = quickstart_fixture("");
    let remote_before = fx.remote_head();
    let local = commit_local_notes(&fx.work);
    let out = with_store(&fx, &store, &["run"]);
    assert_local_commit_kept_and_not_pushed(&fx, &out, &remote_before, &local, AB_TEST);
}

#[test]
fn cli_run_over_http_never_pushes_a_local_commit() {
    let (fx, store) = quickstart_fixture("");
    let _server = http_origin(&fx, "x-access-token", CANARY);
    let remote_before = fx.remote_head();
    let local = commit_local_notes(&fx.work);
    let out = modelbump(&fx, &fx.work)
        .args(["-o", "json", "run"])
        .env("MLFLOW_TRACKING_URI", &store)
        .env("MODELBUMP_GIT_TOKEN", CANARY)
        .output()
        .unwrap();
    // The report names the commit that landed on the remote, not the local copy.
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["commit"],
        serde_json::Value::String(fx.remote_head())
    );
    assert_eq!(report["pushed"], true);
    assert_local_commit_kept_and_not_pushed(&fx, &out, &remote_before, &local, AB_TEST);
}

// ---------------------------------------------------------------------------------------------------
// Many writers at once, with the default settings.

#[test]
fn cli_sixteen_processes_pushing_over_http_at_once_all_land_with_the_default_settings() {
    const WRITERS: usize = 16;
    let (names, fx) = many_models(WRITERS);
    let models = read(&fx.work, "models.yaml");
    let server = HttpRemote::start(fx.tmp.path(), "x-access-token", CANARY);
    let mut dirs = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let dir = fx.clone(&format!("pipeline-{i}"));
        git(
            &dir,
            &["remote", "set-url", "origin", &server.url("remote.git")],
        );
        // This writer's model to v2 (written directly: sixteen `set` processes would slow the test down).
        let model = |uri: &str| {
            format!("name: {name}\n  namespace: models  # keep me\nspec:\n  storageUri: {uri}")
        };
        let own = models.replacen(
            &model("s3://models/v1/"),
            &model(&format!("s3://models/{name}/v2/")),
            1,
        );
        assert_ne!(own, models);
        write(&dir, "models.yaml", &own);
        dirs.push(dir);
    }
    let retries: usize = commit_push_at_once(&fx, &dirs, &[("MODELBUMP_GIT_TOKEN", CANARY)])
        .iter()
        .sum();
    let remote = fx.remote_file("models.yaml");
    for name in &names {
        assert!(
            remote.contains(&format!("storageUri: s3://models/{name}/v2/")),
            "{name} lost:\n{remote}"
        );
    }
    // One commit per writer on top of the initial one: none lost, none doubled.
    assert_eq!(
        git(&fx.remote, &["rev-list", "--count", "main"]),
        (WRITERS + 1).to_string()
    );
    eprintln!("{WRITERS} writers: {retries} retried pushes");
}

// ---------------------------------------------------------------------------------------------------
// The index and HEAD move together.

/// The index must never be left behind a moved HEAD: `git status` would show every committed file as a
/// staged revert, and a later plain `git commit` would undo the deploy. A locked index (another git
/// command running, or one killed) stops the write-back at the step a kill could interrupt: after the
/// commit is made, when the index is written. The branch must not have moved before that.
#[test]
fn cli_commit_with_a_locked_index_leaves_head_and_index_together() {
    let files: Vec<(String, String)> = (0..200)
        .map(|i| {
            (
                format!("apps/m-{i}.yaml"),
                models_yaml(&[(&format!("m-{i}"), "s3://models/v1/")]),
            )
        })
        .collect();
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let fx = Fixture::new(&borrowed);
    for (path, content) in &files {
        write(&fx.work, path, &content.replace("/v1/", "/v2/"));
    }
    let head = git(&fx.work, &["rev-parse", "HEAD"]);
    std::fs::write(fx.work.join(".git/index.lock"), "").unwrap();
    let out = modelbump(&fx, &fx.work).arg("commit").output().unwrap();
    std::fs::remove_file(fx.work.join(".git/index.lock")).unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("index"), "{}", stderr(&out));
    assert_eq!(git(&fx.work, &["rev-parse", "HEAD"]), head);
    // Nothing staged: the files show as modified in the working tree only, as before the command.
    let status = git(&fx.work, &["status", "--porcelain"]);
    assert_eq!(status.lines().count(), 200, "{status}");
    assert!(status.lines().all(|l| l.starts_with(" M ")), "{status}");
    // Once the lock is gone the same command commits, and HEAD and the index agree.
    modelbump(&fx, &fx.work).arg("commit").assert().success();
    assert_eq!(git(&fx.work, &["status", "--porcelain"]), "");
    assert_eq!(git(&fx.work, &["diff", "--cached", "--stat", "HEAD"]), "");
}

// ---------------------------------------------------------------------------------------------------
// Prerequisites are checked before anything is written, and a rerun finishes what an earlier one
// started.

#[test]
fn cli_run_and_commit_with_a_remote_that_does_not_exist_fail_before_writing() {
    let (fx, store) = quickstart_fixture("");
    let head = git(&fx.work, &["rev-parse", "HEAD"]);
    let out = with_store(&fx, &store, &["run", "--remote", "upstream"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("no remote named \"upstream\""), "{err}");
    assert_eq!(git(&fx.work, &["rev-parse", "HEAD"]), head);
    assert_eq!(
        git(&fx.work, &["status", "--porcelain"]),
        "",
        "nothing written"
    );

    let old = "s3://mlflow-artifacts/29/models/m-1/artifacts/";
    modelbump(&fx, &fx.work)
        .args(["set", AB_TEST, "baseline-predictor", old])
        .assert()
        .success();
    let out = modelbump(&fx, &fx.work)
        .args(["commit", "--push", "--remote", "upstream"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no remote named \"upstream\""),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        git(&fx.work, &["rev-parse", "HEAD"]),
        head,
        "nothing committed"
    );
}

#[test]
fn cli_run_wait_without_argo_cd_is_an_error_before_writing() {
    let (fx, store) = quickstart_fixture("");
    let out = with_store(&fx, &store, &["run", "--wait"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "--wait with no Argo CD is a usage error"
    );
    let err = stderr(&out);
    assert!(err.contains("--wait"), "{err}");
    assert!(
        err.contains("ARGOCD_SERVER") || err.contains("--server"),
        "{err}"
    );
    assert_eq!(
        git(&fx.work, &["status", "--porcelain"]),
        "",
        "nothing written"
    );
    assert_eq!(fx.remote_head(), git(&fx.work, &["rev-parse", "HEAD"]));
}

/// The quickstart without `git.author`, in a clone without user.name / user.email.
fn quickstart_without_identity() -> (Fixture, String) {
    let (fx, store) = quickstart_fixture("");
    let config = read(&fx.work, "modelbump.yaml").replace(
        "  author: {name: modelbump, email: modelbump@example.invalid}\n",
        "",
    );
    write(&fx.work, "modelbump.yaml", &config);
    git(
        &fx.work,
        &["commit", "-q", "-am", "no author in the config"],
    );
    git(&fx.work, &["push", "-q", "origin", "main"]);
    git(&fx.work, &["config", "--unset", "user.name"]);
    git(&fx.work, &["config", "--unset", "user.email"]);
    (fx, store)
}

/// `modelbump ARGS` in the first clone, with `store` as the tracking URI.
fn with_store(fx: &Fixture, store: &str, args: &[&str]) -> std::process::Output {
    modelbump(fx, &fx.work)
        .args(args)
        .env("MLFLOW_TRACKING_URI", store)
        .output()
        .unwrap()
}

/// `run` once more, expecting success; returns its stdout and stderr.
fn run_ok(fx: &Fixture, store: &str) -> (String, String) {
    let out = with_store(fx, store, &["run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    (stdout(&out), stderr(&out))
}

/// After a run that finished earlier work: the remote holds the working tree's manifest, the checkout is
/// clean and at the remote tip, and one more run has nothing to do.
fn assert_finished(fx: &Fixture, store: &str) {
    assert_eq!(fx.remote_file(AB_TEST), read(&fx.work, AB_TEST).trim_end());
    assert_ne!(
        fx.remote_file(AB_TEST),
        quickstart_file("financial-predictor-ab-test.yaml").trim_end()
    );
    assert_eq!(git(&fx.work, &["status", "--porcelain"]), "");
    assert_eq!(fx.remote_head(), git(&fx.work, &["rev-parse", "HEAD"]));
    let remote_head = fx.remote_head();
    let (again, _) = run_ok(fx, store);
    assert!(again.ends_with("nothing to commit\n"), "{again}");
    assert_eq!(fx.remote_head(), remote_head);
}

#[test]
fn cli_run_without_an_identity_fails_before_writing_and_a_rerun_lands() {
    let (fx, store) = quickstart_without_identity();
    let out = with_store(&fx, &store, &["run"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no commit identity"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        git(&fx.work, &["status", "--porcelain"]),
        "",
        "nothing written"
    );
    git(&fx.work, &["config", "user.name", "Pipeline"]);
    git(
        &fx.work,
        &["config", "user.email", "pipeline@example.invalid"],
    );
    let (text, _) = run_ok(&fx, &store);
    assert!(text.contains("pushed to origin main"), "{text}");
    assert_finished(&fx, &store);
}

#[test]
fn cli_run_after_apply_commits_and_pushes_what_apply_wrote() {
    let (fx, store) = quickstart_fixture("");
    assert_success(&with_store(&fx, &store, &["apply"]));
    let out = with_store(&fx, &store, &["-o", "json", "run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["commit"],
        serde_json::Value::String(fx.remote_head())
    );
    assert_eq!(report["pushed"], true);
    let warnings = report["targets"][0]["warnings"].to_string();
    assert!(warnings.contains("not committed"), "{report}");
    let message = git(&fx.work, &["log", "-1", "--format=%B"]);
    assert!(
        message.contains("MLflow-Run-Id: 3d2a7e6c1f4b4a8d0c9e5f3a2b1c0d9e"),
        "{message}"
    );
    assert_finished(&fx, &store);
}

#[test]
fn cli_run_commits_and_pushes_a_target_file_that_holds_uncommitted_model_uris() {
    let (fx, store) = quickstart_fixture("");
    // What a run that wrote the manifest and then died leaves: the planned value, uncommitted.
    let planned = with_store(&fx, &store, &["-o", "json", "plan"]);
    let plan: serde_json::Value = serde_json::from_slice(&planned.stdout).unwrap();
    let baseline = plan["targets"][0]["newUri"].as_str().unwrap().to_string();
    modelbump(&fx, &fx.work)
        .args(["set", AB_TEST, "baseline-predictor", &baseline])
        .assert()
        .success();
    let (text, log) = run_ok(&fx, &store);
    // The warning is a log line on stderr, not part of the result on stdout.
    assert!(log.contains("not committed"), "{log}");
    assert!(text.contains("pushed to origin main"), "{text}");
    assert!(fx.remote_file(AB_TEST).contains(&baseline));
    assert_finished(&fx, &store);
}

#[test]
fn cli_run_refuses_a_target_file_with_uncommitted_uris_and_other_edits() {
    let (fx, store) = quickstart_fixture("");
    assert_success(&with_store(&fx, &store, &["apply"]));
    let edited = read(&fx.work, AB_TEST).replacen("server: mlserver", "server: triton", 1);
    write(&fx.work, AB_TEST, &edited);
    let head = git(&fx.work, &["rev-parse", "HEAD"]);
    let out = with_store(&fx, &store, &["run"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(AB_TEST), "{err}");
    assert!(err.contains("git stash"), "{err}");
    assert_eq!(read(&fx.work, AB_TEST), edited, "nothing written");
    assert_eq!(git(&fx.work, &["rev-parse", "HEAD"]), head);
    assert_eq!(fx.remote_head(), head);
}

#[test]
fn cli_run_pushes_its_own_commit_left_by_a_failed_push_but_never_a_users() {
    let (fx, store) = quickstart_fixture("");
    let remote_before = fx.remote_head();
    let origin = fx.remote.to_str().unwrap().to_string();
    let gone = fx.tmp.path().join("gone.git");
    git(
        &fx.work,
        &["remote", "set-url", "origin", gone.to_str().unwrap()],
    );
    let out = with_store(&fx, &store, &["run"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let ours = git(&fx.work, &["rev-parse", "HEAD"]);
    // The user commits on top of it while the remote is fixed.
    let local = commit_local_notes(&fx.work);
    git(&fx.work, &["remote", "set-url", "origin", &origin]);
    let (text, err) = run_ok(&fx, &store);
    assert!(text.contains("pushed to origin main"), "{text}");
    assert!(
        text.contains(&format!("committed earlier in {}", &ours[..12])),
        "{text}"
    );
    assert!(
        err.contains("1 commit(s)") && err.contains("not pushed"),
        "{err}"
    );
    assert_eq!(git(&fx.remote, &["rev-parse", "main^"]), remote_before);
    assert_eq!(fx.remote_file(AB_TEST), read(&fx.work, AB_TEST).trim_end());
    let on_remote = git(&fx.remote, &["ls-tree", "-r", "--name-only", "main"]);
    assert!(!on_remote.contains("local-notes.txt"), "{on_remote}");
    assert_eq!(git(&fx.work, &["rev-parse", "HEAD"]), local);
    // Once pushed, it is not pushed again: the next run has nothing to do.
    let remote_head = fx.remote_head();
    let (again, _) = run_ok(&fx, &store);
    assert!(again.ends_with("nothing to commit\n"), "{again}");
    assert_eq!(fx.remote_head(), remote_head);
}
