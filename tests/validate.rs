//! `modelbump validate` through the real binary: a valid config, several problems listed at once with the
//! file and line of each, the exit codes (0 valid, 2 a configuration error), `-o json` and `--schema`.

use std::path::Path;

use crate::support;

const MANIFEST: &str = "\
apiVersion: mlops.seldon.io/v1alpha1
kind: Model
metadata:
  name: baseline-predictor
spec:
  storageUri: s3://mlflow-artifacts/29/models/m-1/artifacts/
";

const VALID: &str = "\
mlflow:
  trackingUri: http://mlflow.invalid:5000
targets:
  - file: k8s/model.yaml
    name: baseline-predictor
    run:
      experiment: financial-mlops-pytorch
      filter: \"params.model_variant = 'baseline'\"
      orderBy: metrics.val_accuracy DESC
    require: [\"metrics.val_accuracy >= 0.6\"]
argocd:
  apps: [financial-mlops-infrastructure]
  timeout: 10m
";

/// Lines 3, 7, 10, 12, 13 and 17 each hold one problem.
const BROKEN: &str = "\
mlflow:
  trackingUri: http://mlflow.invalid:5000
  trackingURI: http://mlflow.invalid:5000
targets:
  - file: k8s/model.yaml
    name: baseline-predictor
    requires: [\"metrics.val_accuracy >= 0.6\"]
    run: {experiment: financial-mlops-pytorch}
  - file: k8s/model.yaml
    name: enhanced-predictor
    run: {experiment: financial-mlops-pytorch}
    require: [\"metrics.val_accuracy >== 0.6\"]
  - file: k8s/missing.yaml
    name: baseline-predictor
    pinned: true
argocd:
  timeout: ten minutes
";

fn repo(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("k8s")).unwrap();
    std::fs::write(dir.path().join("k8s/model.yaml"), MANIFEST).unwrap();
    std::fs::write(dir.path().join("modelbump.yaml"), config).unwrap();
    dir
}

fn validate(repo: &Path, args: &[&str]) -> std::process::Output {
    let home = tempfile::tempdir().unwrap();
    support::modelbump(home.path())
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn validate_accepts_a_valid_config_offline() {
    // The tracking server does not exist: validate asks nothing of it.
    let dir = repo(VALID);
    let out = validate(dir.path(), &["validate"]);
    support::assert_success(&out);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "modelbump.yaml: valid, 1 target\n"
    );
}

#[test]
fn validate_lists_every_problem_with_its_line_and_exits_2() {
    let dir = repo(BROKEN);
    let out = validate(dir.path(), &["validate"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    let at: Vec<&str> = lines
        .iter()
        .map(|l| l.split(": ").next().unwrap())
        .collect();
    assert_eq!(
        at,
        [
            "modelbump.yaml:3",
            "modelbump.yaml:7",
            "modelbump.yaml:10",
            "modelbump.yaml:12",
            "modelbump.yaml:13",
            "modelbump.yaml:17",
            "modelbump.yaml"
        ],
        "{stdout}"
    );
    assert!(
        lines[0].contains(
            "unknown key `trackingURI` in `mlflow`: expected one of `concurrency`, `recordDeployments`, `trackingUri`"
        ),
        "{stdout}"
    );
    assert!(
        lines[1].contains("unknown key `requires` in `targets[0]`"),
        "{stdout}"
    );
    // A name the file does not hold: the names it does hold are listed.
    assert!(
        lines[2].contains("no model named \"enhanced-predictor\"")
            && lines[2].contains("baseline-predictor (Model, line 6)"),
        "{stdout}"
    );
    // The messages of `plan`: the target, then the gate's own error.
    assert!(
        lines[3].contains("targets[1] (enhanced-predictor in k8s/model.yaml): invalid gate \"metrics.val_accuracy >== 0.6\""),
        "{stdout}"
    );
    assert!(
        lines[4].contains("targets[2] (baseline-predictor in k8s/missing.yaml)"),
        "{stdout}"
    );
    assert!(lines[5].contains("argocd.timeout"), "{stdout}");
    assert_eq!(lines[6], "modelbump.yaml: 6 problems");
    // The problems are the result, on stdout; nothing is printed twice.
    assert_eq!(String::from_utf8(out.stderr).unwrap(), "");
}

#[test]
fn validate_json_lists_the_problems() {
    let dir = repo(BROKEN);
    let out = validate(dir.path(), &["validate", "-o", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["valid"], false);
    assert_eq!(json["targets"], 3);
    let problems = json["problems"].as_array().unwrap();
    let lines: Vec<u64> = problems
        .iter()
        .map(|p| p["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [3, 7, 10, 12, 13, 17]);
    assert!(problems.iter().all(|p| p["file"] == "modelbump.yaml"));

    let dir = repo(VALID);
    let out = validate(dir.path(), &["validate", "-o", "json"]);
    support::assert_success(&out);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"config": "modelbump.yaml", "valid": true, "targets": 1, "problems": []})
    );
}

#[test]
fn validate_reports_a_missing_config_and_a_config_given_by_flag() {
    let dir = tempfile::tempdir().unwrap();
    let out = validate(dir.path(), &["validate"]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("cannot read config"), "{stdout}");

    // `-c` names the file; relative paths in it are still read from the repo root.
    let dir = repo(VALID);
    std::fs::rename(
        dir.path().join("modelbump.yaml"),
        dir.path().join("k8s/deploy.yaml"),
    )
    .unwrap();
    let config = dir.path().join("k8s/deploy.yaml");
    let out = validate(dir.path(), &["-c", config.to_str().unwrap(), "validate"]);
    support::assert_success(&out);
}

#[test]
fn other_commands_stop_at_the_first_problem_that_validate_lists() {
    // The same file: `plan` refuses it with the first problem, exit non-zero, and names validate's
    // first line's key.
    let dir = repo(BROKEN);
    let home = tempfile::tempdir().unwrap();
    let out = support::modelbump(home.path())
        .arg("-C")
        .arg(dir.path())
        .arg("plan")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("trackingURI"), "{stderr}");
}

#[test]
fn validate_schema_prints_the_shipped_schema() {
    let dir = tempfile::tempdir().unwrap();
    let out = validate(dir.path(), &["validate", "--schema"]);
    support::assert_success(&out);
    let shipped =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/modelbump.schema.json"))
            .unwrap();
    assert_eq!(out.stdout, shipped);
}

#[test]
fn help_of_validate() {
    let home = tempfile::tempdir().unwrap();
    let out = support::modelbump(home.path())
        .args(["validate", "--help"])
        .output()
        .unwrap();
    support::assert_success(&out);
    insta::assert_snapshot!("help_validate", String::from_utf8(out.stdout).unwrap());
}
