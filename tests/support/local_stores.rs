//! Helpers for the local-store tests: MLflow's own Python client seeds a store (sqlite, file store or a
//! server) with `local_stores.py`, and answers the same queries the Rust backends are asked, so the
//! reference is MLflow itself rather than expectations written by hand.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// The Python of the MLflow venv the test harness provisions (installing it on a fresh machine).
pub fn mlflow_python() -> PathBuf {
    crate::support::mlflow::python()
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/local_stores.py")
}

fn python_command(python: &Path, cwd: &Path) -> Command {
    let mut cmd = Command::new(python);
    cmd.current_dir(cwd)
        .env("MLFLOW_ALLOW_FILE_STORE", "true")
        .env("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
        .env("GIT_PYTHON_REFRESH", "quiet")
        .env("PYTHONWARNINGS", "ignore")
        .env_remove("MLFLOW_TRACKING_URI")
        .env_remove("MLFLOW_REGISTRY_URI");
    cmd
}

/// Seeds the fixed runs, models and registry into `uri`, working in `cwd` (where MLflow puts
/// `./mlruns` artifacts for a sqlite store). Returns `{"experiments", "runs", "models"}`: names to ids.
pub fn seed(python: &Path, uri: &str, cwd: &Path) -> Value {
    let out = python_command(python, cwd)
        .arg(script())
        .args(["seed", uri])
        .stderr(Stdio::piped())
        .output()
        .expect("run the MLflow seeding script");
    assert!(
        out.status.success(),
        "seeding {uri} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    marked_json(&out.stdout)
}

/// MLflow's answers to `queries` (see `local_stores.py` for the shapes), one per query.
pub fn answers(python: &Path, uri: &str, cwd: &Path, queries: &Value) -> Vec<Value> {
    use std::io::Write;
    let mut child = python_command(python, cwd)
        .arg(script())
        .args(["query", uri])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the MLflow query script");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(queries.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "querying {uri} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_value(marked_json(&out.stdout)).expect("one answer per query")
}

/// The script's JSON line (MLflow may print lines of its own on stdout).
fn marked_json(stdout: &[u8]) -> Value {
    let text = String::from_utf8_lossy(stdout);
    let line = text
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("MODELBUMP-JSON "))
        .unwrap_or_else(|| panic!("no MODELBUMP-JSON line in the script's output:\n{text}"));
    serde_json::from_str(line).expect("the script prints JSON")
}
