//! The quickstart with the installed binary, `sh examples/quickstart.sh`: the same job as the cargo
//! example (tests/quickstart.rs), run by the script with the built `modelbump` first on PATH.

use std::path::Path;

#[test]
fn quickstart_script_runs_the_whole_job_with_the_installed_binary() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_modelbump")).parent().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new("sh")
        .arg(root.join("examples/quickstart.sh"))
        .env_clear()
        .env("PATH", path)
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // The baseline follows the newest finished baseline run, the enhanced predictor the champion, as in
    // the cargo example; origin's file holds both.
    let on_origin = stdout
        .split_once("on origin/main\n")
        .unwrap_or_else(|| panic!("{stdout}"))
        .1;
    for uri in [
        "s3://mlflow-artifacts/29/models/m-7f3c2a91d4e84b6f9a0c5e1d2b3a4f56/artifacts",
        "s3://mlflow-artifacts/29/models/m-a1b2c3d4e5f647188a9b0c1d2e3f4a5b/artifacts",
    ] {
        assert!(on_origin.contains(uri), "{stdout}");
    }
    assert!(stdout.contains("== modelbump plan"), "{stdout}");
    assert!(stdout.contains("MLflow-Run-Id"), "{stdout}");
    // Everything it wrote is under its temporary folder.
    let made: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert_eq!(made.len(), 1, "{made:?}");
}
