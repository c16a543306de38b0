//! What a pipeline acts on, through the real binary: target selection (`--target`, `--selector`), the
//! exit codes of `cli/exit.rs` (2 config, 4 unreachable, 5 push exhausted, 3 with `--detailed-exitcode`;
//! 6 is in `tests/argocd.rs`, with the stand-in), and the report: written on failure too (a stale file is
//! replaced), valid against `schemas/report.schema.json` from every command.

use std::path::Path;

use serde_json::Value;

use crate::support::git::{
    Fixture, HttpRemote, git, quickstart_file, quickstart_fixture, quickstart_store, read, write,
};
use crate::support::modelbump;

const AB_TEST: &str = "k8s/base/financial-predictor-ab-test.yaml";

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn cmd(fx: &Fixture, store: &str) -> assert_cmd::Command {
    let mut cmd = modelbump(&fx.home);
    cmd.current_dir(&fx.work).env("MLFLOW_TRACKING_URI", store);
    cmd
}

fn json_file(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn assert_valid(report: &Value) {
    crate::support::schemas::assert_valid_report(report);
}

fn report_validator() -> jsonschema::Validator {
    crate::support::schemas::report_validator()
}

fn names(report: &Value) -> Vec<&str> {
    report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect()
}

#[test]
fn the_schema_refuses_what_it_does_not_document() {
    let ok = serde_json::json!({
        "schemaVersion": 1, "command": "plan",
        "summary": {"total": 0, "changed": 0, "unchanged": 0, "blocked": 0, "pinned": 0, "held": 0, "failed": 0},
        "targets": []
    });
    assert_valid(&ok);
    let v = report_validator();
    let mut typo = ok.clone();
    typo["sumary"] = serde_json::json!({});
    assert!(!v.is_valid(&typo));
    let mut plan_with_commit = ok.clone();
    plan_with_commit["commit"] = Value::Null;
    assert!(
        !v.is_valid(&plan_with_commit),
        "plan reports carry no commit"
    );
    let mut failed_without_error = ok;
    failed_without_error["targets"] = serde_json::json!([{
        "file": "a.yaml", "kind": "Model", "name": "m", "line": 1, "status": "failed",
        "oldUri": null, "newUri": null, "runId": null, "modelVersion": null, "modelId": null,
        "experimentId": null, "reason": null
    }]);
    assert!(!v.is_valid(&failed_without_error));
}

#[test]
fn plan_acts_only_on_the_targets_selected_by_name_or_label() {
    let (fx, store) = quickstart_fixture("");
    let by_name = fx.tmp.path().join("by-name.json");
    let out = cmd(&fx, &store)
        .args(["plan", "--target", "enhanced-predictor", "--report"])
        .arg(&by_name)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json_file(&by_name);
    assert_valid(&report);
    assert_eq!(names(&report), ["enhanced-predictor"]);
    assert_eq!(report["summary"]["total"], 1);
    assert_eq!(
        report["targets"][0]["registeredModel"],
        "financial-predictor"
    );
    assert_eq!(report["targets"][0]["alias"], "champion");
    assert!(report.get("commit").is_none(), "{report:#}");

    let out = cmd(&fx, &store)
        .args(["-o", "json", "plan"])
        .env("MODELBUMP_SELECTOR", "variant=baseline")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(names(&report), ["baseline-predictor"]);
    assert_eq!(
        report["targets"][0]["experiment"],
        "financial-mlops-pytorch"
    );

    // A flag wins over the variable; names and labels intersect.
    let out = cmd(&fx, &store)
        .args(["-o", "json", "plan", "--selector", "variant=enhanced"])
        .env("MODELBUMP_SELECTOR", "variant=baseline")
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(names(&report), ["enhanced-predictor"]);
}

#[test]
fn a_selection_that_matches_nothing_is_a_usage_error_listing_the_targets() {
    let (fx, store) = quickstart_fixture("");
    let report = fx.tmp.path().join("report.json");
    std::fs::write(&report, "{\"stale\": true}").unwrap();
    let out = cmd(&fx, &store)
        .args(["plan", "--target", "enhanced", "--report"])
        .arg(&report)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("no configured target is named \"enhanced\""),
        "{err}"
    );
    assert!(
        err.contains("baseline-predictor (k8s/base/financial-predictor-ab-test.yaml) labels: variant=baseline"),
        "{err}"
    );
    assert!(err.contains("enhanced-predictor"), "{err}");
    let written = json_file(&report);
    assert_valid(&written);
    assert!(written["error"].as_str().unwrap().contains("enhanced"));

    let out = cmd(&fx, &store)
        .args(["apply", "--selector", "variant=champion"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("matches --selector variant=champion"));
    assert_eq!(
        git(&fx.work, &["status", "--porcelain"]),
        "",
        "nothing written"
    );
}

#[test]
fn run_with_a_selector_commits_and_pushes_only_that_variant() {
    let (fx, store) = quickstart_fixture("");
    let before = read(&fx.work, AB_TEST);
    let report = fx.tmp.path().join("report.json");
    let commit_file = fx.tmp.path().join("commit-sha");
    let out = cmd(&fx, &store)
        .args([
            "run",
            "--selector",
            "variant=baseline",
            "--detailed-exitcode",
        ])
        .arg("--report")
        .arg(&report)
        .arg("--commit-file")
        .arg(&commit_file)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "pushed a change: {}",
        stderr(&out)
    );
    let written = json_file(&report);
    assert_valid(&written);
    assert_eq!(names(&written), ["baseline-predictor"]);
    assert_eq!(written["pushed"], true);
    let head = fx.remote_head();
    assert_eq!(written["commit"], head.as_str());
    assert_eq!(std::fs::read_to_string(&commit_file).unwrap(), head);
    // The enhanced model's URI is untouched, on the remote and in the checkout.
    let enhanced_line = |text: &str| {
        text.lines()
            .skip_while(|l| !l.contains("name: enhanced-predictor"))
            .find(|l| l.contains("storageUri"))
            .unwrap()
            .to_string()
    };
    assert_eq!(
        enhanced_line(&fx.remote_file(AB_TEST)),
        enhanced_line(&before)
    );
    assert_ne!(fx.remote_file(AB_TEST), before.trim_end());

    // Nothing left to do: 0 with --detailed-exitcode, and the commit file is emptied.
    let out = cmd(&fx, &store)
        .args([
            "run",
            "--selector",
            "variant=baseline",
            "--detailed-exitcode",
        ])
        .arg("--commit-file")
        .arg(&commit_file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&commit_file).unwrap(), "");
}

/// The quickstart with its gate's metric misspelt.
fn misspelt_gate() -> (Fixture, String) {
    let config = quickstart_file("modelbump.yaml")
        .replace("metrics.val_accuracy >= 0.6", "metrics.val_acuracy >= 0.6");
    let fx = Fixture::new(&[
        (
            AB_TEST,
            &quickstart_file("financial-predictor-ab-test.yaml"),
        ),
        ("modelbump.yaml", &config),
    ]);
    let store = quickstart_store(&fx);
    (fx, store)
}

#[test]
fn a_gate_naming_a_metric_no_run_has_is_a_config_error_with_a_failed_entry() {
    let (fx, store) = misspelt_gate();
    for command in ["plan", "apply"] {
        let report = fx.tmp.path().join(format!("{command}.json"));
        std::fs::write(&report, "{\"stale\": true}").unwrap();
        let out = cmd(&fx, &store)
            .args([command, "--report"])
            .arg(&report)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{command}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("metrics.val_acuracy"), "{err}");
        assert!(err.contains("val_accuracy"), "suggests what exists: {err}");
        assert_eq!(err.matches("error:").count(), 1, "{err}");
        let written = json_file(&report);
        assert_valid(&written);
        assert_eq!(written["command"], command);
        assert_eq!(written["summary"]["failed"], 1);
        assert_eq!(written["summary"]["total"], 2);
        let failed = &written["targets"][0];
        assert_eq!(failed["name"], "baseline-predictor");
        assert_eq!(failed["status"], "failed");
        assert!(failed["error"].as_str().unwrap().contains("val_acuracy"));
        assert!(
            written["error"]
                .as_str()
                .unwrap()
                .contains("1 of 2 targets failed")
        );
        assert_eq!(written["targets"][1]["status"], "changed");
    }
    assert_eq!(
        git(&fx.work, &["status", "--porcelain"]),
        "",
        "apply wrote nothing"
    );
}

#[test]
fn a_bad_config_file_is_a_usage_error_and_the_run_report_says_so() {
    let (fx, store) = quickstart_fixture("trackingURI: http://mlflow\n");
    let report = fx.tmp.path().join("report.json");
    std::fs::write(&report, "{\"stale\": true}").unwrap();
    let out = cmd(&fx, &store)
        .args(["run", "--report"])
        .arg(&report)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("trackingURI"));
    let written = json_file(&report);
    assert_valid(&written);
    assert_eq!(written["command"], "run");
    assert!(written["error"].as_str().unwrap().contains("trackingURI"));
    assert_eq!(written["targets"], serde_json::json!([]));
}

#[test]
fn an_unreachable_mlflow_exits_4_with_every_target_failed() {
    let (fx, _) = quickstart_fixture("");
    let port = crate::support::mlflow::free_port();
    let report = fx.tmp.path().join("report.json");
    std::fs::write(&report, "{\"stale\": true}").unwrap();
    let out = cmd(&fx, &format!("http://127.0.0.1:{port}"))
        .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        .args(["-o", "json", "plan", "--report"])
        .arg(&report)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot reach"), "{}", stderr(&out));
    let written = json_file(&report);
    assert_valid(&written);
    assert_eq!(written["summary"]["failed"], 2);
    let stdout: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stdout, written, "-o json prints the same report");
}

#[test]
fn a_push_refused_by_a_hook_exits_5_and_the_report_has_the_commit_not_pushed() {
    let (fx, store) = quickstart_fixture("");
    let server = HttpRemote::start(fx.tmp.path(), "x-access-token", "push-token-5c1e");
    git(
        &fx.work,
        &["remote", "set-url", "origin", &server.url("remote.git")],
    );
    let hook = fx.remote.join("hooks/pre-receive");
    write(
        &fx.remote,
        "hooks/pre-receive",
        "#!/bin/sh\necho 'branch main is protected' >&2\nexit 1\n",
    );
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let report = fx.tmp.path().join("report.json");
    let out = cmd(&fx, &store)
        .env("MODELBUMP_GIT_TOKEN", "push-token-5c1e")
        .args(["run", "--report"])
        .arg(&report)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("branch main is protected"));
    let written = json_file(&report);
    assert_valid(&written);
    assert_eq!(written["pushed"], false);
    assert_eq!(written["summary"]["changed"], 2);
}

#[test]
fn commit_reports_are_valid_and_follow_the_selection() {
    let (fx, store) = quickstart_fixture("");
    let out = cmd(&fx, &store).arg("apply").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // Both models were written; committing one of them alone is refused: the file holds both.
    let out = cmd(&fx, &store)
        .args(["commit", "--target", "baseline-predictor"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("enhanced-predictor, which are not selected"),
        "{}",
        stderr(&out)
    );
    let report = fx.tmp.path().join("commit.json");
    let out = cmd(&fx, &store)
        .args(["commit", "--selector", "variant=baseline"])
        .args(["--target", "baseline-predictor,enhanced-predictor"])
        .args(["--push", "--report"])
        .arg(&report)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "the selector leaves the enhanced model out: {}",
        stderr(&out)
    );
    assert_valid(&json_file(&report));
    let out = cmd(&fx, &store)
        .args(["commit", "--push", "--report"])
        .arg(&report)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let written = json_file(&report);
    assert_valid(&written);
    assert_eq!(written["command"], "commit");
    assert_eq!(written["pushed"], true);
    assert_eq!(written["summary"]["changed"], 2);
    assert!(written.get("sync").is_none());
}
