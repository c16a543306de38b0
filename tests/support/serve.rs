//! Helpers of the `serve` tests: the real `modelbump serve` process, a small HTTP client for its
//! endpoints, MLflow's signature, a webhook-enabled MLflow server, and a Python virtualenv with the
//! reference Prometheus text parser and the Kubernetes schema validator.
//!
//! The tools venv (`prometheus-client`, `kubernetes-validate`) is provisioned like the MLflow one (see
//! `mlflow.rs`): under `MODELBUMP_TEST_DEPS`, behind its own file lock, marked ready after a successful
//! install, a half-made one removed and made again. Its folder name carries the pinned versions, so a
//! change of pins makes a new venv instead of reusing an old one; the MLflow venv is not touched.

#![allow(dead_code)]

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::{KeyInit, Mac};

use crate::support::mlflow::{MlflowServer, free_port, test_deps_dir};

/// What the tools venv holds, pinned.
pub const TOOLS_REQUIREMENTS: [&str; 2] =
    ["kubernetes-validate==1.37.0", "prometheus-client==0.26.0"];

/// The tools venv's folder name (the pins in it).
const TOOLS_VENV: &str = "serve-tools-k8s1.37.0-prom0.26.0";

/// The tools venv's python, provisioned on first use.
pub fn tools_python() -> PathBuf {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| ensure_tools_venv(&test_deps_dir()))
        .join("bin/python")
}

fn tools_work(venv: &Path) -> bool {
    Command::new(venv.join("bin/python"))
        .args(["-c", "import prometheus_client.parser, kubernetes_validate"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn ensure_tools_venv(deps_root: &Path) -> PathBuf {
    let venv = deps_root.join(TOOLS_VENV);
    let marker = venv.join(".modelbump-ready");
    if marker.exists() {
        return venv;
    }
    std::fs::create_dir_all(deps_root).unwrap();
    let lock = File::create(deps_root.join(format!("{TOOLS_VENV}.lock"))).unwrap();
    lock.lock().unwrap();
    if marker.exists() {
        return venv;
    }
    if venv.join("bin/python").exists() && tools_work(&venv) {
        std::fs::write(&marker, TOOLS_REQUIREMENTS.join("\n")).unwrap();
        return venv;
    }
    if venv.exists() {
        std::fs::remove_dir_all(&venv).unwrap();
    }
    let python3 = std::env::var("MODELBUMP_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    eprintln!(
        "provisioning {} into {} (once)",
        TOOLS_REQUIREMENTS.join(" "),
        venv.display()
    );
    let made = Command::new(&python3)
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "`{python3} -m venv` failed (install python3-venv): {}",
        String::from_utf8_lossy(&made.stderr)
    );
    let pip = Command::new(venv.join("bin/python"))
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--quiet",
        ])
        .args(TOOLS_REQUIREMENTS)
        .output()
        .unwrap();
    assert!(
        pip.status.success(),
        "pip could not install {}: check the access to PyPI\n{}",
        TOOLS_REQUIREMENTS.join(" "),
        String::from_utf8_lossy(&pip.stderr)
    );
    assert!(
        tools_work(&venv),
        "the tools venv {} does not work",
        venv.display()
    );
    std::fs::write(&marker, TOOLS_REQUIREMENTS.join("\n")).unwrap();
    venv
}

/// An MLflow server that delivers webhooks to loopback receivers over plain HTTP, with a one-second
/// webhook cache: the server every test shares ([`MlflowServer::shared`]), so that no test waits for
/// a server start of its own (each serve test registers its own webhook and deletes it after).
pub fn webhook_mlflow() -> &'static MlflowServer {
    MlflowServer::shared()
}

/// MLflow's webhook cache TTL on [`webhook_mlflow`]: a webhook registered now gets deliveries once
/// the cached listing expired.
pub const WEBHOOK_CACHE_TTL: Duration = Duration::from_secs(1);

/// `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`, as MLflow signs a delivery.
pub fn mlflow_signature(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// Seconds since the epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// One HTTP/1.1 request to `127.0.0.1:port`; returns the status and the body.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("connect to 127.0.0.1:{port}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Waits for `condition` up to `timeout`, polling; panics with `what` and `context()` when it never holds.
pub fn wait_for(
    what: &str,
    timeout: Duration,
    mut condition: impl FnMut() -> bool,
    context: impl Fn() -> String,
) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if condition() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}\n{}", context());
}

/// A running `modelbump serve`; killed when dropped.
pub struct ServeProcess {
    /// The port it listens on.
    pub port: u16,
    /// Its stderr (the logs).
    pub log: PathBuf,
    child: Child,
}

impl ServeProcess {
    /// Starts `modelbump -C clone serve ARGS` with `env` on a free loopback port, HOME at `home`, and
    /// waits until `/healthz` answers.
    pub fn start(home: &Path, clone: &Path, args: &[&str], env: &[(&str, String)]) -> Self {
        let port = free_port();
        let log = home.join(format!("serve-{port}.log"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_modelbump"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("NO_COLOR", "1")
            .env("MODELBUMP_LOG", "info")
            .env("GIT_AUTHOR_NAME", "modelbump serve")
            .env("GIT_AUTHOR_EMAIL", "serve@example.invalid")
            .arg("-C")
            .arg(clone)
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap());
        let child = cmd.spawn().expect("start modelbump serve");
        let mut process = Self { port, log, child };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = process.child.try_wait() {
                panic!("serve exited with {status}:\n{}", process.logs());
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
                && process.get("/healthz").0 == 200
            {
                return process;
            }
            assert!(
                Instant::now() < deadline,
                "serve did not listen:\n{}",
                process.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What it logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> (u16, String) {
        http(self.port, "GET", path, &[], b"")
    }

    /// `POST /webhooks/mlflow` with the three MLflow headers.
    pub fn deliver(
        &self,
        id: &str,
        timestamp: &str,
        signature: &str,
        body: &[u8],
    ) -> (u16, String) {
        http(
            self.port,
            "POST",
            "/webhooks/mlflow",
            &[
                ("Content-Type", "application/json"),
                ("X-MLflow-Delivery-Id", id),
                ("X-MLflow-Timestamp", timestamp),
                ("X-MLflow-Signature", signature),
            ],
            body,
        )
    }

    /// The value of the series `name` (with its labels, as written) in `/metrics`.
    pub fn metric(&self, series: &str) -> Option<f64> {
        let (_, text) = self.get("/metrics");
        text.lines()
            .find_map(|l| {
                l.strip_prefix(series)
                    .and_then(|rest| rest.strip_prefix(' '))
            })
            .and_then(|v| v.trim().parse().ok())
    }

    /// Waits until no run is in progress or queued and at least `runs` runs ended.
    pub fn wait_idle(&self, runs: f64) {
        wait_for(
            &format!("{runs} runs to end and the queue to drain"),
            Duration::from_secs(120),
            || {
                let ended: f64 = ["changed", "unchanged", "failed"]
                    .iter()
                    .filter_map(|o| {
                        self.metric(&format!("modelbump_serve_runs_total{{outcome=\"{o}\"}}"))
                    })
                    .sum();
                ended >= runs
                    && self.metric("modelbump_serve_queue_depth") == Some(0.0)
                    && self.metric("modelbump_serve_run_in_progress") == Some(0.0)
            },
            || self.logs(),
        );
    }

    /// Sends SIGTERM.
    pub fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit; returns its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "serve did not exit:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
