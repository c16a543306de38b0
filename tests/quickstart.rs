//! The README's first command, `cargo run --release --example quickstart`, run as a test: the example's own
//! code builds the repository, the remote and the store in a temporary folder and runs the whole job.

#[path = "../examples/quickstart.rs"]
mod example;

use std::collections::BTreeMap;
use std::path::Path;

/// Every file under `dir` with its bytes, to prove the quickstart leaves the source tree as it was.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().display().to_string(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

#[test]
fn quickstart_runs_the_whole_job_offline_and_leaves_the_clone_unchanged() {
    let fixtures = example::fixtures();
    let before = snapshot(&fixtures);
    let work = tempfile::tempdir().unwrap();
    let mut log = Vec::new();
    let outcome = example::quickstart(work.path(), &mut log).unwrap_or_else(|e| {
        panic!(
            "quickstart failed: {e:#}\n{}",
            String::from_utf8_lossy(&log)
        );
    });
    let log = String::from_utf8(log).unwrap();

    // The baseline follows the newest finished baseline run (baseline-0716; baseline-0717 failed), the
    // enhanced predictor the registry's champion (version 2, from enhanced-0716).
    let old_baseline =
        "s3://mlflow-artifacts/29/models/m-63118756949141cba59ab87e90e8a96a/artifacts";
    let old_enhanced =
        "s3://mlflow-artifacts/29/models/m-d64ffcb77a684fbfa8597e439c920a07/artifacts";
    let new_baseline =
        "s3://mlflow-artifacts/29/models/m-7f3c2a91d4e84b6f9a0c5e1d2b3a4f56/artifacts";
    let new_enhanced =
        "s3://mlflow-artifacts/29/models/m-a1b2c3d4e5f647188a9b0c1d2e3f4a5b/artifacts";
    assert!(
        outcome.manifest_before.contains(old_baseline)
            && outcome.manifest_before.contains(old_enhanced)
    );
    assert!(
        outcome.manifest.contains(new_baseline),
        "{}",
        outcome.manifest
    );
    assert!(
        outcome.manifest.contains(new_enhanced),
        "{}",
        outcome.manifest
    );
    assert!(!outcome.manifest.contains(old_baseline) && !outcome.manifest.contains(old_enhanced));
    // Only the two URI values changed: every other line is byte-identical.
    let changed: Vec<(&str, &str)> = outcome
        .manifest_before
        .split_inclusive('\n')
        .zip(outcome.manifest.split_inclusive('\n'))
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(changed.len(), 2, "{changed:?}");
    assert_eq!(
        outcome.manifest_before.split_inclusive('\n').count(),
        outcome.manifest.split_inclusive('\n').count()
    );
    assert!(
        outcome
            .message
            .starts_with("update: model URIs from MLflow"),
        "{}",
        outcome.message
    );
    assert_eq!(outcome.commit.len(), 40);
    assert!(log.contains(&outcome.commit), "{log}");

    assert_eq!(
        before,
        snapshot(&fixtures),
        "the quickstart wrote into examples/quickstart"
    );
}

#[test]
fn quickstart_plan_checks_every_model_and_shows_no_pre_flight_warning() {
    let work = tempfile::tempdir().unwrap();
    let setup = example::setup(work.path()).unwrap();
    let home = work.path().join("home");
    let mut cmd = crate::support::modelbump(&home);
    for (key, value) in &setup.env {
        cmd.env(key, value);
    }
    let out = cmd
        .args(["-C", setup.repo_dir.to_str().unwrap(), "plan"])
        .output()
        .unwrap();
    crate::support::assert_success(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for (name, text) in [("stderr", &stderr), ("stdout", &stdout)] {
        assert!(
            !text.lines().any(|l| l.contains("pre-flight")),
            "{name}: {text}"
        );
    }
    // The store's local locations are mapped back to the bucket the manifest names.
    assert!(
        stdout.contains(
            "  s3://mlflow-artifacts/29/models/m-7f3c2a91d4e84b6f9a0c5e1d2b3a4f56/artifacts/  (run "
        ),
        "{stdout}"
    );
    assert!(!stdout.contains("file://"), "{stdout}");
}

/// The quickstart builds its own environment and calls `main_from`: what the shell exports must not
/// reach it. The example runs as its own process (cargo builds it with the tests) with unusable values
/// in that process's environment, and still completes and pushes.
#[test]
fn quickstart_ignores_the_process_environment() {
    let deps = std::env::current_exe().unwrap();
    let example = deps
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("examples/quickstart");
    assert!(
        example.exists(),
        "{} is built by cargo test",
        example.display()
    );
    let out = std::process::Command::new(&example)
        .env("MLFLOW_TRACKING_URI", "http://127.0.0.1:1")
        .env("MLFLOW_REGISTRY_URI", "http://127.0.0.1:1")
        .env("ARGOCD_SERVER", "127.0.0.1:1")
        .env("MODELBUMP_WEBHOOK", "http://127.0.0.1:1/api/webhook")
        .env("MODELBUMP_GIT_BRANCH", "no-such-branch")
        .env("MODELBUMP_GIT_REMOTE", "no-such-remote")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("pushed to origin main"),
        "{stdout}\n{stderr}"
    );
    // Every model the plan proposes was checked (the example store ships its MLmodel files).
    assert!(
        !stderr.contains("pre-flight") && !stdout.contains("pre-flight"),
        "{stdout}\n{stderr}"
    );
}
