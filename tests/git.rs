//! Git write-back against real repositories: bare remotes, concurrent pushers, and a smart-HTTP remote
//! (`git http-backend`) with Basic auth.
//!
//! The first group drives the git layer as a library with a stand-in rewrite (so it does not depend on
//! the manifest editor); the second group drives the real binary.

use std::path::{Path, PathBuf};
use std::time::Instant;

use modelbump::git::{
    Committed, Credentials, GitError, GitRepo, Identity, IdentitySource, ModelChange, PushOutcome,
    PushRequest, Rewritten, Update,
};
use modelbump::secret::SecretString;

use crate::support::git::{Fixture, HttpRemote, git, models_yaml, read, write};

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

fn update<'a>(rewrite: &'a dyn Fn(&Path, &[u8]) -> anyhow::Result<Rewritten>) -> Update<'a> {
    Update {
        files: vec![PathBuf::from("models.yaml")],
        rewrite,
        template: "update: {models}".into(),
        tracking_uri: None,
        identity: identity(),
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
    Fixture::new(&[(
        "models.yaml",
        &models_yaml(&[
            ("alpha", "s3://models/alpha/1/"),
            ("beta", "s3://models/beta/1/"),
        ]),
    )])
}

#[test]
fn a_commit_holds_only_the_edited_file_and_leaves_other_changes_alone() {
    let fx = two_models();
    write(&fx.work, "notes.yaml", "unrelated: 1\n");
    git(&fx.work, &["add", "notes.yaml"]);
    write(&fx.work, "untracked.yaml", "x: 1\n");
    let rewrite = |_: &Path, b: &[u8]| set_uri(b, "alpha", "s3://models/alpha/2/");
    let (_repo, committed) = commit_locally(&fx.work, "alpha", "s3://models/alpha/2/", &rewrite);
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
    let other = fx.clone("other");
    // Someone else lands a change to the same model and another one first.
    write(
        &other,
        "models.yaml",
        &models_yaml(&[
            ("alpha", "s3://models/alpha/9/"),
            ("beta", "s3://models/beta/2/"),
        ]),
    );
    git(&other, &["commit", "-qam", "someone else"]);
    git(&other, &["push", "-q", "origin", "main"]);

    let rewrite = |_: &Path, b: &[u8]| set_uri(b, "alpha", "s3://models/alpha/2/");
    let (repo, first) = commit_locally(&fx.work, "alpha", "s3://models/alpha/2/", &rewrite);
    let creds = no_credentials();
    let outcome = repo
        .push_update(first.clone(), &update(&rewrite), &request(&creds))
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
    let other = fx.clone("other");
    write(
        &other,
        "models.yaml",
        &models_yaml(&[
            ("alpha", "s3://models/alpha/2/"),
            ("beta", "s3://models/beta/1/"),
        ]),
    );
    git(&other, &["commit", "-qam", "the same change"]);
    git(&other, &["push", "-q", "origin", "main"]);
    let tip = fx.remote_head();

    let rewrite = |_: &Path, b: &[u8]| set_uri(b, "alpha", "s3://models/alpha/2/");
    let (repo, first) = commit_locally(&fx.work, "alpha", "s3://models/alpha/2/", &rewrite);
    let creds = no_credentials();
    let outcome = repo
        .push_update(first, &update(&rewrite), &request(&creds))
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
    let server = HttpRemote::start(fx.tmp.path(), "x-access-token", CANARY);
    use_http(&fx, &server, &fx.work);
    let hook = fx.remote.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        "#!/bin/sh\necho 'branch main is protected' >&2\nexit 1\n",
    )
    .unwrap();
    make_executable(&hook);
    let rewrite = |_: &Path, b: &[u8]| set_uri(b, "alpha", "s3://models/alpha/2/");
    let (repo, first) = commit_locally(&fx.work, "alpha", "s3://models/alpha/2/", &rewrite);
    let creds = Credentials {
        token: Some(SecretString::from(CANARY)),
        ..no_credentials()
    };
    let err = repo
        .push_update(first, &update(&rewrite), &request(&creds))
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

/// Points `origin` of `work` at the HTTP remote.
fn use_http(fx: &Fixture, server: &HttpRemote, work: &Path) {
    git(
        work,
        &["remote", "set-url", "origin", &server.url("remote.git")],
    );
    // http-backend serves the bare repo from the project root; receive-pack is on for authenticated users.
    let _ = fx;
}

#[test]
fn http_push_with_the_right_token_lands() {
    let fx = two_models();
    let server = HttpRemote::start(fx.tmp.path(), "x-access-token", CANARY);
    use_http(&fx, &server, &fx.work);
    let rewrite = |_: &Path, b: &[u8]| set_uri(b, "alpha", "s3://models/alpha/2/");
    let (repo, first) = commit_locally(&fx.work, "alpha", "s3://models/alpha/2/", &rewrite);
    let creds = Credentials {
        token: Some(SecretString::from(CANARY)),
        ..no_credentials()
    };
    let outcome = repo
        .push_update(first.clone(), &update(&rewrite), &request(&creds))
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
    let server = HttpRemote::start(fx.tmp.path(), "x-access-token", "the-right-one");
    use_http(&fx, &server, &fx.work);
    let rewrite = |_: &Path, b: &[u8]| set_uri(b, "alpha", "s3://models/alpha/2/");
    let (repo, first) = commit_locally(&fx.work, "alpha", "s3://models/alpha/2/", &rewrite);
    let creds = Credentials {
        token: Some(SecretString::from(CANARY)),
        ..no_credentials()
    };
    let started = Instant::now();
    let err = repo
        .push_update(first, &update(&rewrite), &request(&creds))
        .unwrap_err();
    let elapsed = started.elapsed();
    let text = format!("{err} {err:?}");
    assert!(matches!(err, GitError::AuthFailed { .. }), "{text}");
    assert!(text.contains("MODELBUMP_GIT_TOKEN"), "{text}");
    assert!(!text.contains(CANARY), "{text}");
    // One offer of the token, not libgit2's endless loop: a handful of 401s.
    let refused = server
        .unauthorized
        .load(std::sync::atomic::Ordering::SeqCst);
    assert!(refused <= 3, "{refused} requests were refused");
    eprintln!("wrong password failed after {elapsed:?} and {refused} refused requests");
}

#[test]
fn eight_writers_racing_on_one_file_all_land() {
    let names: Vec<String> = (0..8).map(|i| format!("model-{i}")).collect();
    let models: Vec<(&str, &str)> = names
        .iter()
        .map(|n| (n.as_str(), "s3://models/v1/"))
        .collect();
    let fx = Fixture::new(&[("models.yaml", &models_yaml(&models))]);
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
                repo.push_update(first, &update(&rewrite), &req).unwrap()
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
