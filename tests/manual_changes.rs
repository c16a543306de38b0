//! `manualChanges: hold|overwrite` through the real binary: a model URI deployed by `modelbump run`,
//! then changed by hand with a plain git commit pushed to the remote, then a newer run in MLflow that
//! passes every gate. Under `hold` (the default) the next `run` keeps the hand-made value and reports who
//! made it, when and in which commit; under `overwrite` it deploys the newer model.

use std::process::Command;

use serde_json::Value;

use crate::holds::{Case, MANIFEST};
use crate::support::git::{git, git_cmd, write};

const HAND_PICKED: &str = "s3://mlflow-artifacts/hand-picked/";
const HAND_DATE: &str = "2026-11-20T10:00:00Z";
const SUBJECT: &str = "serve the hand-picked model";

/// Deploys one model, then commits a hand-made URI as `Sam`, at [`HAND_DATE`], and pushes it.
/// Returns the hand-made commit.
fn deploy_then_edit_by_hand(case: &mut Case) -> String {
    let uri = deploy_newest(case);
    edit_in_checkout(case, &uri, HAND_PICKED);
    let work = &case.fx.work;
    let commit = |cmd: &mut Command| {
        let out = cmd
            .env("GIT_AUTHOR_NAME", "Sam")
            .env("GIT_AUTHOR_EMAIL", "sam@example.invalid")
            .env("GIT_AUTHOR_DATE", HAND_DATE)
            .env("GIT_COMMITTER_DATE", HAND_DATE)
            .args(["commit", "-qam", SUBJECT])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    commit(&mut git_cmd(work));
    git(work, &["push", "-q", "origin", "main"]);
    assert_eq!(case.remote_uri(), HAND_PICKED);
    git(work, &["rev-parse", "HEAD"])
}

/// Seeds a newer model and deploys it with `run`; returns its URI, now on the remote.
fn deploy_newest(case: &mut Case) -> String {
    let (_, uri) = case.new_model();
    let report = case.json(&["run"]);
    assert_eq!(report["targets"][0]["status"], "changed", "{report}");
    assert_eq!(case.remote_uri(), uri);
    uri
}

/// Replaces the URI `from` by `to` in the checkout's manifest, as an editor would.
fn edit_in_checkout(case: &Case, from: &str, to: &str) {
    let work = &case.fx.work;
    let text = std::fs::read_to_string(work.join(MANIFEST)).unwrap();
    write(work, MANIFEST, &text.replace(from, to));
}

#[test]
fn a_manual_change_is_held_by_default_with_who_when_and_the_commit() {
    let mut case = Case::new("");
    let hand = deploy_then_edit_by_hand(&mut case);
    // A newer run passing every gate.
    let (_, _newer) = case.new_model();
    let tip = case.fx.remote_head();

    let expected_reason = format!("changed by hand in {}: {SUBJECT}", &hand[..12]);
    for command in ["plan", "run"] {
        let report = case.json(&[command]);
        let target = &report["targets"][0];
        assert_eq!(target["status"], "held", "{command}: {report}");
        assert_eq!(target["newUri"], HAND_PICKED, "{report}");
        assert_eq!(target["hold"]["by"], "Sam <sam@example.invalid>");
        assert_eq!(target["hold"]["at"], HAND_DATE);
        assert_eq!(target["hold"]["reason"], expected_reason.as_str());
        assert_eq!(report["commit"], Value::Null, "{report}");
    }
    assert_eq!(case.fx.remote_head(), tip, "nothing pushed");
    assert_eq!(case.remote_uri(), HAND_PICKED);

    // The text report says why.
    let out = case.cmd(&case.fx.work, &["plan"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("held"), "{text}");
    assert!(text.contains(&expected_reason), "{text}");

    // `release` has no entry to remove, and says how to lift this hold instead.
    let out = case.cmd(&case.fx.work, &["release", "iris"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&expected_reason), "{err}");
    assert!(err.contains("manualChanges: overwrite"), "{err}");
    assert!(err.contains("modelbump rollback iris"), "{err}");
    assert_eq!(case.fx.remote_head(), tip, "nothing pushed");
}

#[test]
fn a_manual_change_is_deployed_over_under_overwrite() {
    let mut case = Case::new("manualChanges: overwrite\n");
    deploy_then_edit_by_hand(&mut case);
    let (run_id, newer) = case.new_model();
    let report = case.json(&["run"]);
    let target = &report["targets"][0];
    assert_eq!(target["status"], "changed", "{report}");
    assert_eq!(target["oldUri"], HAND_PICKED);
    assert_eq!(target["runId"], run_id.as_str());
    assert_eq!(target.get("hold"), None, "{report}");
    assert_eq!(case.remote_uri(), newer);
    // Nothing is held, so `release` has nothing to release.
    let out = case.cmd(&case.fx.work, &["release", "iris"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("iris (k8s/models.yaml) is not held"), "{err}");
}

/// The hold lasts only while the hand-made value is the newest change: once modelbump itself changes the
/// value (here `rollback --to previous`, then `release`), the next run deploys again. A value changed by
/// hand but not committed yet is no commit's, and is not held either.
#[test]
fn a_modelbump_change_after_the_manual_one_lifts_the_manual_hold() {
    let mut case = Case::new("");
    deploy_then_edit_by_hand(&mut case);
    let report = case.json(&[
        "rollback",
        "iris",
        "--reason",
        "undo the hand edit",
        "--push",
    ]);
    assert_eq!(report["pushed"], true, "{report}");
    assert_ne!(case.remote_uri(), HAND_PICKED);
    case.json(&["release", "iris", "--push"]);
    let newer = deploy_newest(&mut case);

    // An uncommitted edit by hand: plan proposes the newest model over it, it is not held.
    edit_in_checkout(&case, &newer, HAND_PICKED);
    let report = case.json(&["plan"]);
    assert_eq!(report["targets"][0]["status"], "changed", "{report}");
}
