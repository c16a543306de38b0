//! `rollback`, `hold` and `release` in pull-request mode against real parts: a real MLflow server, the
//! real `git http-backend` on loopback with a pre-receive hook protecting `main`, and the GitHub stand-in
//! (the setup of `tests/pull_request.rs`, whose config turns pull-request mode on with `git.pullRequest`).

use serde_json::Value;

use crate::pull_request::Setup;
use crate::support::git::git;

const HOLDS: &str = ".modelbump/holds.yaml";

/// `-o json ARGS`, which must succeed without a request or answer that breaks GitHub's description.
fn json(s: &Setup, args: &[&str]) -> Value {
    let out = s.cmd(&[&["-o", "json"], args].concat()).output().unwrap();
    crate::support::assert_success(&out);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("CANARY"));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("CANARY"));
    let violations = s.github.violations();
    assert!(violations.is_empty(), "{violations:#?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Requests that write to the forge.
fn writes(s: &Setup) -> usize {
    s.github
        .received()
        .iter()
        .filter(|r| r.method != "GET")
        .count()
}

fn holds_at(s: &Setup, rev: &str) -> String {
    git(&s.bare, &["show", &format!("{rev}:{HOLDS}")])
}

#[test]
fn rollback_on_a_protected_main_opens_one_pull_request_and_after_its_merge_the_next_run_is_held() {
    let Some(s) = Setup::new("rollback pull request") else {
        return;
    };
    let original = s.file_at("main");
    let work_head = git(&s.work, &["rev-parse", "HEAD"]);
    // The candidate is deployed through a merged pull request.
    let first = s.run();
    assert_eq!(first["pullRequest"]["action"], "opened", "{first}");
    let candidate = first["targets"][0]["newUri"].as_str().unwrap().to_string();
    s.github.merge(1);
    let main_before = s.branch("main").unwrap();

    // --wait cannot be kept in pull-request mode (the merge, not modelbump, puts the rollback on main):
    // refused before anything is written (it was silently ignored once).
    let forge_writes = writes(&s);
    let out = s
        .cmd(&["rollback", "fraud-detector", "--reason", "x", "--wait"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pull-request mode") && err.contains("drop --wait"),
        "{err}"
    );
    assert_eq!(writes(&s), forge_writes, "no forge write");
    assert_eq!(s.branch("main").unwrap(), main_before);

    let report = json(
        &s,
        &[
            "rollback",
            "fraud-detector",
            "--reason",
            "accuracy dropped online",
        ],
    );
    let pr = &report["pullRequest"];
    assert_eq!(pr["action"], "opened", "{report}");
    assert_eq!(pr["number"], 2);
    assert_eq!(pr["state"], "open");
    assert_eq!(pr["base"], "main");
    let head = pr["head"].as_str().unwrap().to_string();
    assert!(
        head.starts_with("modelbump/rollback-fraud-detector-"),
        "{head}"
    );
    assert_eq!(
        s.branch("main").unwrap(),
        main_before,
        "main is never pushed"
    );
    let tip = s.branch(&head).expect("the head branch is pushed");
    assert_eq!(report["commit"], Value::from(tip.clone()));
    assert_eq!(
        git(&s.bare, &["rev-parse", &format!("{tip}^")]).trim(),
        main_before,
        "built on the fresh tip of main"
    );
    // The restored value, byte-exactly, and the hold.
    assert_eq!(s.file_at(&tip), original);
    let holds = holds_at(&s, &tip);
    assert!(holds.contains("fraud-detector"), "{holds}");
    assert!(
        holds.contains("rollback: accuracy dropped online"),
        "{holds}"
    );
    let message = git(&s.bare, &["log", "-1", "--format=%B", &tip]);
    assert!(message.contains("Modelbump-Action: rollback"), "{message}");
    let line = &report["targets"][0];
    assert_eq!(line["status"], "changed");
    assert_eq!(line["oldUri"], Value::from(candidate.clone()));
    assert_eq!(line["newUri"], Value::from(s.deployed_uri.clone()));
    assert_eq!(line["hold"]["reason"], "rollback: accuracy dropped online");
    // The body says what and why.
    let pulls = s.github.pulls();
    assert_eq!(pulls.len(), 2);
    let body = &pulls[1].body;
    assert!(body.contains("`k8s/models.yaml:6`"), "{body}");
    assert!(
        body.contains(&format!("`{candidate}` → `{}`", s.deployed_uri)),
        "{body}"
    );
    assert!(
        body.contains("| reason | rollback: accuracy dropped online |"),
        "{body}"
    );
    assert!(
        body.contains("modelbump <modelbump@example.invalid>"),
        "{body}"
    );
    // The checkout is not touched.
    assert_eq!(git(&s.work, &["rev-parse", "HEAD"]), work_head);
    assert_eq!(git(&s.work, &["status", "--porcelain"]), "");

    // The same rollback again: nothing pushed, nothing written to the forge.
    let before = writes(&s);
    let again = json(
        &s,
        &[
            "rollback",
            "fraud-detector",
            "--reason",
            "accuracy dropped online",
        ],
    );
    assert_eq!(again["pullRequest"]["action"], "unchanged", "{again}");
    assert_eq!(again["pullRequest"]["number"], 2);
    assert_eq!(s.branch(&head).unwrap(), tip, "no new push");
    assert_eq!(writes(&s), before, "no write to the forge");

    // Merged: the next run, with a newer candidate passing every gate, reports the target held.
    s.github.merge(2);
    let merged = s.branch("main").unwrap();
    // `run` plans from the checkout: brought up to date, as a CI job's fresh clone is.
    git(&s.work, &["pull", "-q", s.bare.to_str().unwrap(), "main"]);
    s.newer_candidate(0.99);
    let next = s.run();
    assert_eq!(next["targets"][0]["status"], "held", "{next}");
    assert_eq!(
        next["targets"][0]["hold"]["reason"],
        "rollback: accuracy dropped online"
    );
    assert_eq!(next["pullRequest"]["action"], "none", "{next}");
    assert_eq!(s.github.pulls().len(), 2);
    assert_eq!(s.branch("main").unwrap(), merged);
    // And the rollback once more: main holds it already.
    let done = json(
        &s,
        &[
            "rollback",
            "fraud-detector",
            "--to",
            &s.deployed_uri,
            "--reason",
            "accuracy dropped online",
        ],
    );
    assert_eq!(done["pullRequest"]["action"], "none", "{done}");
    assert_eq!(s.github.pulls().len(), 2);
}

#[test]
fn hold_and_release_in_pull_request_mode_each_open_their_pull_request() {
    let Some(s) = Setup::new("hold pull request") else {
        return;
    };
    let original = s.file_at("main");
    let main_before = s.branch("main").unwrap();
    let report = json(
        &s,
        &[
            "hold",
            "fraud-detector",
            "--reason",
            "freeze for the audit",
            "--pull-request",
        ],
    );
    let pr = &report["pullRequest"];
    assert_eq!(pr["action"], "opened", "{report}");
    assert_eq!(report["targets"][0]["status"], "held");
    let head = pr["head"].as_str().unwrap().to_string();
    assert!(head.starts_with("modelbump/hold-fraud-detector-"), "{head}");
    let tip = s.branch(&head).unwrap();
    assert_eq!(
        git(&s.bare, &["rev-parse", &format!("{tip}^")]).trim(),
        main_before
    );
    assert_eq!(s.file_at(&tip), original, "a hold leaves the manifest");
    assert!(holds_at(&s, &tip).contains("freeze for the audit"));
    assert_eq!(s.branch("main").unwrap(), main_before);
    assert!(
        s.github.pulls()[0]
            .body
            .contains("| reason | freeze for the audit |"),
        "{}",
        s.github.pulls()[0].body
    );

    // Merged; the release (read from the fresh main, not the checkout) opens its own.
    s.github.merge(1);
    let merged = s.branch("main").unwrap();
    let report = json(&s, &["release", "fraud-detector"]);
    let pr = &report["pullRequest"];
    assert_eq!(pr["action"], "opened", "{report}");
    assert_eq!(pr["number"], 2);
    let head = pr["head"].as_str().unwrap().to_string();
    assert!(
        head.starts_with("modelbump/release-fraud-detector-"),
        "{head}"
    );
    let tip = s.branch(&head).unwrap();
    assert_eq!(
        git(&s.bare, &["rev-parse", &format!("{tip}^")]).trim(),
        merged
    );
    assert!(!holds_at(&s, &tip).contains("fraud-detector"));
    assert_eq!(s.branch("main").unwrap(), merged, "main is never pushed");

    // Without pull-request mode the protected main refuses the direct push.
    let out = s
        .cmd(&["hold", "fraud-detector", "--reason", "again", "--push"])
        .env("MODELBUMP_PULL_REQUEST", "false")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Protected branch update failed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
