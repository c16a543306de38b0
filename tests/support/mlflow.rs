//! A real MLflow server for the tests: provisioned, started, seeded and stopped by the tests themselves.
//!
//! Why a real server and not a mock: the behaviours modelbump depends on (ids as JSON strings, `{}` for an
//! empty search, a missing alias answered with HTTP 400, logged models under `models/m-<uuid>`, HTML
//! error pages) are MLflow's, and a mock would only repeat our own assumptions back to us.
//!
//! - **Provisioning**: `mlflow[auth]==3.17.2` is installed into a virtualenv under
//!   `<target dir>/test-deps/mlflow-3.17.2` the first time it is needed (`MODELBUMP_TEST_DEPS` overrides
//!   the folder that holds it). An exclusive file lock next to it serialises parallel test binaries and
//!   threads; a marker file written after a successful install makes later runs skip the work, and a
//!   half-made venv (pip killed) is removed and made again.
//! - **Servers**: [`MlflowServer::shared`] is one server per test process, started on first use; tests
//!   sharing it isolate themselves with [`unique`] experiment and model names. [`MlflowServer::start`]
//!   makes a dedicated one (basic-auth app, proxied artifacts). Each server runs under a small watchdog
//!   process that holds the server in its own session and kills that whole session when its stdin
//!   closes, which the kernel does when the test process exits however it exits: no orphan servers.
//! - **Seeding**: [`Client`] speaks the REST API (experiments, runs, batches of metrics/params/tags,
//!   statuses, logged models and run outputs, registered models, versions, aliases, stages). Artifact
//!   files (`MLmodel`) are written straight into the server's local artifact store, which is exactly
//!   where the server reads them from.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The MLflow version the tests run against.
pub const MLFLOW_VERSION: &str = "3.17.2";

/// What pip installs: the server, and the basic-auth app's dependencies.
pub const MLFLOW_REQUIREMENT: &str = "mlflow[auth]==3.17.2";

/// How long a server may take to answer `/health` (cold imports on a loaded machine are slow).
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// The folder that holds the test dependencies: `MODELBUMP_TEST_DEPS`, else `<target dir>/test-deps`.
pub fn test_deps_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MODELBUMP_TEST_DEPS") {
        return PathBuf::from(dir);
    }
    target_dir().join("test-deps")
}

/// Cargo's target folder: `CARGO_TARGET_DIR`, else found from this test binary's own path
/// (`<target>/<profile>/deps/tests-<hash>`).
pub fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        let dir = PathBuf::from(dir);
        return if dir.is_absolute() {
            dir
        } else {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(dir)
        };
    }
    let exe = std::env::current_exe().expect("the test binary knows its path");
    exe.ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "deps"))
        .and_then(|deps| deps.parent()?.parent())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// The virtualenv's python, provisioning the virtualenv first when needed. Other test areas use it to
/// run MLflow's own Python client (e.g. to write a local store the way MLflow does).
pub fn python() -> PathBuf {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| ensure_venv(&test_deps_dir()))
        .join("bin/python")
}

/// The virtualenv's `mlflow` command.
pub fn mlflow_bin() -> PathBuf {
    python().with_file_name("mlflow")
}

/// Makes sure `<deps_root>/mlflow-3.17.2` holds a working MLflow, installing it when it does not, and
/// returns the venv folder. Safe to call from parallel processes and threads.
pub fn ensure_venv(deps_root: &Path) -> PathBuf {
    let python3 = std::env::var("MODELBUMP_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    ensure_venv_with(deps_root, &python3, &[])
}

/// [`ensure_venv`] with the Python that makes the venv and extra environment for pip (tests of the
/// provisioning itself point pip at an index that does not exist).
pub fn ensure_venv_with(deps_root: &Path, python3: &str, pip_env: &[(&str, &str)]) -> PathBuf {
    let venv = deps_root.join(format!("mlflow-{MLFLOW_VERSION}"));
    let marker = venv.join(".modelbump-ready");
    if marker.exists() {
        return venv;
    }
    std::fs::create_dir_all(deps_root)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", deps_root.display()));
    let lock_path = deps_root.join(format!("mlflow-{MLFLOW_VERSION}.lock"));
    let lock = File::create(&lock_path)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", lock_path.display()));
    lock.lock()
        .unwrap_or_else(|e| panic!("cannot lock {}: {e}", lock_path.display()));
    // Another process may have finished the work while this one waited for the lock.
    if marker.exists() {
        return venv;
    }
    // A venv made without the marker (by hand, or by an older harness) is kept when it works.
    if venv.join("bin/python").exists() && venv_works(&venv) {
        std::fs::write(&marker, MLFLOW_REQUIREMENT).expect("write the venv marker");
        return venv;
    }
    if venv.exists() {
        std::fs::remove_dir_all(&venv)
            .unwrap_or_else(|e| panic!("cannot remove the half-made venv {}: {e}", venv.display()));
    }
    eprintln!(
        "provisioning {MLFLOW_REQUIREMENT} into {} (once; about 1-2 minutes and 850 MB)",
        venv.display()
    );
    run_or_panic(
        Command::new(python3).arg("-m").arg("venv").arg(&venv),
        &format!(
            "`{python3} -m venv` failed: the MLflow tests need Python 3 with the venv module (Debian/Ubuntu: apt-get install python3-venv; or set MODELBUMP_TEST_PYTHON)"
        ),
    );
    run_or_panic(
        Command::new(venv.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "--quiet",
            ])
            .arg(MLFLOW_REQUIREMENT)
            .envs(pip_env.iter().copied()),
        &format!(
            "pip could not install {MLFLOW_REQUIREMENT} into {}: check the network access to PyPI (or a proxy via PIP_INDEX_URL), then run the tests again",
            venv.display()
        ),
    );
    assert!(
        venv_works(&venv),
        "{MLFLOW_REQUIREMENT} installed into {} but `import mlflow` fails there; delete that folder and run the tests again",
        venv.display()
    );
    std::fs::write(&marker, MLFLOW_REQUIREMENT).expect("write the venv marker");
    drop(lock);
    venv
}

fn venv_works(venv: &Path) -> bool {
    Command::new(venv.join("bin/python"))
        .args([
            "-c",
            &format!(
                "import mlflow, flask, mlflow.server.auth; assert mlflow.__version__ == '{MLFLOW_VERSION}'"
            ),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn run_or_panic(cmd: &mut Command, message: &str) {
    match cmd.output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "{message}\n--- exit: {}\n--- stderr (tail):\n{}",
            out.status,
            tail(&String::from_utf8_lossy(&out.stderr), 3000)
        ),
        Err(e) => panic!("{message}\n--- cannot run it: {e}"),
    }
}

fn tail(text: &str, max: usize) -> &str {
    let start = text.len().saturating_sub(max);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    &text[start..]
}

/// A name unique to this test process and call, for experiments and registered models on a shared
/// server.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{n}-{nanos:x}", std::process::id())
}

/// What lets a server deliver webhooks to a receiver on loopback over plain HTTP, with the webhook
/// listing cached for one second only.
pub const WEBHOOK_ENV: &[(&str, &str)] = &[
    ("MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS", "true"),
    ("MLFLOW_WEBHOOK_ALLOWED_SCHEMES", "http,https"),
    ("MLFLOW_WEBHOOK_CACHE_TTL", "1"),
];

/// How to start a dedicated server.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// Run the basic-auth app with this admin user and password (>= 12 characters).
    pub basic_auth: Option<(String, String)>,
    /// Serve artifacts through the server (`mlflow-artifacts:/` URIs) instead of a plain
    /// `--default-artifact-root` path.
    pub proxied_artifacts: bool,
}

/// A running `mlflow server`.
pub struct MlflowServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The port.
    pub port: u16,
    /// The folder holding the database, the artifacts and the log.
    pub dir: PathBuf,
    /// Where artifacts are stored on disk.
    pub artifact_dir: PathBuf,
    /// The server's process id (a session leader; its workers are in its session).
    pub pid: u32,
    options: ServerOptions,
    watchdog: Mutex<Option<(Child, ChildStdin)>>,
    _tmp: Option<tempfile::TempDir>,
}

impl MlflowServer {
    /// The server shared by every test of this process (sqlite backend, plain artifact root, no auth).
    /// It also delivers webhooks to loopback receivers over plain HTTP, with a one-second webhook
    /// cache ([`WEBHOOK_ENV`]), so that the `serve` tests need no server of their own. Only the serve
    /// tests register webhooks; their receivers also get the other tests' events and ignore those of
    /// models they do not follow.
    pub fn shared() -> &'static MlflowServer {
        static SHARED: OnceLock<MlflowServer> = OnceLock::new();
        SHARED.get_or_init(|| MlflowServer::start_with_env(ServerOptions::default(), WEBHOOK_ENV))
    }

    /// Starts a dedicated server; it stops when dropped (and when the test process exits).
    pub fn start(options: ServerOptions) -> MlflowServer {
        Self::start_with_env(options, &[])
    }

    /// [`MlflowServer::start`] with extra environment for the server process (e.g. the
    /// `MLFLOW_WEBHOOK_*` settings its webhook deliveries read).
    pub fn start_with_env(options: ServerOptions, env: &[(&str, &str)]) -> MlflowServer {
        let python = python();
        let tmp = tempfile::Builder::new()
            .prefix("modelbump-mlflow-")
            .tempdir()
            .expect("temp dir for the server");
        let dir = tmp.path().to_path_buf();
        let artifact_dir = dir.join("artifacts");
        std::fs::create_dir_all(&artifact_dir).unwrap();
        let mut last_error = String::new();
        // A free port can be taken by someone else between our probe and the server's bind: try again.
        for _attempt in 0..3 {
            let port = free_port();
            match Self::spawn(&python, &dir, &artifact_dir, port, &options, env) {
                Ok((child, stdin, pid)) => {
                    let mut server = MlflowServer {
                        url: format!("http://127.0.0.1:{port}"),
                        port,
                        dir: dir.clone(),
                        artifact_dir: artifact_dir.clone(),
                        pid,
                        options: options.clone(),
                        watchdog: Mutex::new(Some((child, stdin))),
                        _tmp: None,
                    };
                    match server.wait_healthy() {
                        Ok(()) => {
                            server._tmp = Some(tmp);
                            return server;
                        }
                        Err(e) => {
                            last_error = e;
                            server.stop();
                        }
                    }
                }
                Err(e) => last_error = e,
            }
        }
        let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
        panic!(
            "mlflow server did not start: {last_error}\n--- server log (tail):\n{}",
            tail(&log, 4000)
        );
    }

    fn spawn(
        python: &Path,
        dir: &Path,
        artifact_dir: &Path,
        port: u16,
        options: &ServerOptions,
        env: &[(&str, &str)],
    ) -> Result<(Child, ChildStdin, u32), String> {
        let mut args: Vec<String> = vec![
            mlflow_bin().display().to_string(),
            "server".into(),
            "--host".into(),
            "127.0.0.1".into(),
            "--port".into(),
            port.to_string(),
            "--workers".into(),
            "1".into(),
            "--backend-store-uri".into(),
            format!("sqlite:///{}", dir.join("mlflow.db").display()),
        ];
        if options.proxied_artifacts {
            args.extend([
                "--artifacts-destination".into(),
                artifact_dir.display().to_string(),
            ]);
        } else {
            args.extend([
                "--default-artifact-root".into(),
                artifact_dir.display().to_string(),
            ]);
        }
        let mut cmd = Command::new(python);
        cmd.arg("-c")
            .arg(WATCHDOG)
            .arg(dir.join("server.log"))
            .args(&args)
            .current_dir(dir)
            .env("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
            .env_remove("MLFLOW_TRACKING_URI")
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some((user, password)) = &options.basic_auth {
            let ini = dir.join("basic_auth.ini");
            std::fs::write(
                &ini,
                format!(
                    "[mlflow]\ndefault_permission = READ\ndatabase_uri = sqlite:///{}\nadmin_username = {user}\nadmin_password = {password}\nauthorization_function = mlflow.server.auth:authenticate_request_basic_auth\ngrant_default_workspace_access = false\nauth_cache_ttl_seconds = 60\n",
                    dir.join("basic_auth.db").display()
                ),
            )
            .unwrap();
            cmd.arg("--app-name")
                .arg("basic-auth")
                .env("MLFLOW_AUTH_CONFIG_PATH", &ini)
                .env("MLFLOW_FLASK_SERVER_SECRET_KEY", unique("secret-key"));
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start the watchdog: {e}"))?;
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .map_err(|e| format!("watchdog: {e}"))?;
        let pid = line
            .trim()
            .parse::<u32>()
            .map_err(|_| format!("the watchdog did not report a pid: {line:?}"))?;
        Ok((child, stdin, pid))
    }

    fn wait_healthy(&self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if !Path::new(&format!("/proc/{}", self.pid)).exists() {
                return Err(format!("the server (pid {}) exited", self.pid));
            }
            if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                use std::io::Read;
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let request = format!(
                    "GET /health HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
                    self.port
                );
                let mut answer = String::new();
                if stream.write_all(request.as_bytes()).is_ok()
                    && stream.read_to_string(&mut answer).is_ok()
                    && answer.starts_with("HTTP/1.1 200")
                {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(150));
        }
        Err(format!(
            "no answer on /health within {}s",
            START_TIMEOUT.as_secs()
        ))
    }

    /// Stops the server: closes the watchdog's stdin (it then kills the server's session) and waits.
    fn stop(&self) {
        let Some((mut child, stdin)) = self.watchdog.lock().unwrap().take() else {
            return;
        };
        drop(stdin);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// A seeding client without credentials.
    pub fn client(&self) -> Client {
        Client {
            base: self.url.clone(),
            auth: None,
            server_artifacts: self.artifact_dir.clone(),
            proxied: self.options.proxied_artifacts,
        }
    }

    /// A seeding client authenticated as the basic-auth admin.
    pub fn admin_client(&self) -> Client {
        Client {
            auth: self.options.basic_auth.clone(),
            ..self.client()
        }
    }
}

impl Drop for MlflowServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs the server in its own session, prints its pid, and kills the session once stdin closes (the
/// test process ended, or the server was dropped) or the watchdog itself is asked to stop.
const WATCHDOG: &str = r#"
import os, signal, subprocess, sys
log = open(sys.argv[1], "ab")
p = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
print(p.pid, flush=True)
def stop(*_):
    try:
        os.killpg(p.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
try:
    while sys.stdin.buffer.read(4096):
        pass
except Exception:
    pass
stop()
"#;

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    })
}

fn http() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        // No idle connections kept: the MLflow server closes an idle keep-alive connection after a few
        // seconds, and a request sent on one it has just closed fails with "error sending request" (seen
        // once, seeding a model under load). The tests' seeding calls have no retry, so they must not
        // race that close; a fresh connection per call costs little on loopback.
        reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(0)
            .build()
            .unwrap()
    })
}

/// A run as created.
#[derive(Debug, Clone)]
pub struct SeededRun {
    /// The run id.
    pub run_id: String,
    /// The experiment id.
    pub experiment_id: String,
    /// Where its artifacts are (as MLflow reports it).
    pub artifact_uri: String,
}

/// A logged model as created.
#[derive(Debug, Clone)]
pub struct SeededModel {
    /// `m-<uuid>`.
    pub model_id: String,
    /// Where its files are (as MLflow reports it).
    pub artifact_uri: String,
}

/// A small seeding client for the REST API.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    auth: Option<(String, String)>,
    server_artifacts: PathBuf,
    proxied: bool,
}

/// An error answer of the REST API.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// The body.
    pub body: String,
}

impl Client {
    /// The same client with other credentials.
    pub fn with_auth(&self, user: &str, password: &str) -> Client {
        Client {
            auth: Some((user.into(), password.into())),
            ..self.clone()
        }
    }

    /// Sends a request to `/api/2.0/mlflow/<path>`; `body` `None` makes it a GET with `query`.
    pub fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> Result<Value, ApiError> {
        let url = format!("{}/api/2.0/mlflow/{path}", self.base);
        let mut request = http().request(method, url).query(query);
        if let Some((user, password)) = &self.auth {
            request = request.basic_auth(user, Some(password));
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        runtime().block_on(async move {
            let response = request.send().await.map_err(|e| ApiError {
                status: 0,
                body: e.to_string(),
            })?;
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            if status >= 300 {
                return Err(ApiError { status, body: text });
            }
            Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
        })
    }

    fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, &[], Some(body))
            .unwrap_or_else(|e| panic!("POST {path}: HTTP {}: {}", e.status, e.body))
    }

    fn get(&self, path: &str, query: &[(&str, &str)]) -> Value {
        self.call(reqwest::Method::GET, path, query, None)
            .unwrap_or_else(|e| panic!("GET {path}: HTTP {}: {}", e.status, e.body))
    }

    /// Creates an experiment and returns its id.
    pub fn create_experiment(&self, name: &str) -> String {
        self.post("experiments/create", json!({ "name": name }))["experiment_id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Creates an experiment whose artifacts live under `location` (e.g. `s3://bucket/prefix`).
    pub fn create_experiment_at(&self, name: &str, location: &str) -> String {
        self.post(
            "experiments/create",
            json!({ "name": name, "artifact_location": location }),
        )["experiment_id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Creates a run (status RUNNING) that started at `start_time` (ms since the epoch).
    pub fn create_run(&self, experiment_id: &str, start_time: i64) -> SeededRun {
        let run = self.post(
            "runs/create",
            json!({ "experiment_id": experiment_id, "start_time": start_time }),
        );
        let info = &run["run"]["info"];
        SeededRun {
            run_id: info["run_id"].as_str().unwrap().to_string(),
            experiment_id: experiment_id.to_string(),
            artifact_uri: info["artifact_uri"].as_str().unwrap().to_string(),
        }
    }

    /// Logs metrics, params and tags in one batch.
    pub fn log_batch(
        &self,
        run_id: &str,
        metrics: &[(&str, f64)],
        params: &[(&str, &str)],
        tags: &[(&str, &str)],
    ) {
        let now = now_ms();
        let metrics: Vec<Value> = metrics
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v, "timestamp": now, "step": 0}))
            .collect();
        let params: Vec<Value> = params
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        let tags: Vec<Value> = tags
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        self.post(
            "runs/log-batch",
            json!({"run_id": run_id, "metrics": metrics, "params": params, "tags": tags}),
        );
    }

    /// Sets a run's status (`FINISHED`, `FAILED`, `KILLED`, `RUNNING`).
    pub fn set_status(&self, run_id: &str, status: &str) {
        self.post(
            "runs/update",
            json!({"run_id": run_id, "status": status, "end_time": now_ms()}),
        );
    }

    /// Creates an MLflow 3 logged model produced by `run`, links it as the run's output, writes its
    /// `MLmodel` when `with_mlmodel`, and marks it READY.
    pub fn log_model(&self, run: &SeededRun, name: &str, with_mlmodel: bool) -> SeededModel {
        let created = self.post(
            "logged-models",
            json!({"experiment_id": run.experiment_id, "name": name, "source_run_id": run.run_id}),
        );
        let info = &created["model"]["info"];
        let model = SeededModel {
            model_id: info["model_id"].as_str().unwrap().to_string(),
            artifact_uri: info["artifact_uri"].as_str().unwrap().to_string(),
        };
        if with_mlmodel {
            self.write_artifact(&model.artifact_uri, "MLmodel", MLMODEL);
        }
        self.post(
            "runs/outputs",
            json!({"run_id": run.run_id, "models": [{"model_id": model.model_id, "step": 0}]}),
        );
        self.call(
            reqwest::Method::PATCH,
            &format!("logged-models/{}", model.model_id),
            &[],
            Some(json!({"model_id": model.model_id, "status": "LOGGED_MODEL_READY"})),
        )
        .unwrap_or_else(|e| panic!("finalize logged model: HTTP {}: {}", e.status, e.body));
        model
    }

    /// Writes an MLflow 2 style model under the run (`<artifact_uri>/<path>/MLmodel`) and returns its URI.
    pub fn log_run_model(&self, run: &SeededRun, path: &str) -> String {
        self.write_artifact(&run.artifact_uri, &format!("{path}/MLmodel"), MLMODEL);
        format!("{}/{path}", run.artifact_uri)
    }

    /// Writes a file into the server's local artifact store under an artifact URI it reported.
    pub fn write_artifact(&self, artifact_uri: &str, relative: &str, content: &str) {
        let base = self.local_path(artifact_uri);
        let path = base.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
    }

    /// The file-system folder behind an artifact URI of this server.
    pub fn local_path(&self, artifact_uri: &str) -> PathBuf {
        if let Some(rest) = artifact_uri.strip_prefix("mlflow-artifacts:/") {
            assert!(self.proxied, "not a proxied-artifacts server");
            return self.server_artifacts.join(rest.trim_start_matches('/'));
        }
        let path = artifact_uri.strip_prefix("file://").unwrap_or(artifact_uri);
        assert!(
            path.starts_with('/'),
            "{artifact_uri} is not in this server's local store"
        );
        PathBuf::from(path)
    }

    /// Creates a registered model.
    pub fn create_registered_model(&self, name: &str) {
        self.post("registered-models/create", json!({ "name": name }));
    }

    /// Creates a version from `source` (and `run_id`, when known); returns the version number.
    pub fn create_version(&self, name: &str, source: &str, run_id: Option<&str>) -> String {
        let mut body = json!({ "name": name, "source": source });
        if let Some(run_id) = run_id {
            body["run_id"] = json!(run_id);
        }
        if let Some(model_id) = source.strip_prefix("models:/") {
            body["model_id"] = json!(model_id);
        }
        self.post("model-versions/create", body)["model_version"]["version"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Points `alias` at `version`.
    pub fn set_alias(&self, name: &str, alias: &str, version: &str) {
        self.post(
            "registered-models/alias",
            json!({"name": name, "alias": alias, "version": version}),
        );
    }

    /// Moves `version` to a (deprecated) stage.
    pub fn transition_stage(&self, name: &str, version: &str, stage: &str) {
        self.post(
            "model-versions/transition-stage",
            json!({"name": name, "version": version, "stage": stage, "archive_existing_versions": false}),
        );
    }

    /// Creates a basic-auth user (admin client only).
    pub fn create_user(&self, username: &str, password: &str) {
        let url = format!("{}/api/2.0/mlflow/users/create", self.base);
        let (user, pass) = self.auth.clone().expect("an admin client");
        let body = json!({"username": username, "password": password});
        runtime().block_on(async move {
            let response = http()
                .post(url)
                .basic_auth(user, Some(pass))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(
                response.status().is_success(),
                "create user: {}",
                response.status()
            );
        });
    }

    /// A run with a status, metrics, params and a start time; the common case of the tests.
    pub fn seed_run(&self, experiment_id: &str, seed: &RunSeed) -> SeededRun {
        let run = self.create_run(experiment_id, seed.start_time);
        let metrics: Vec<(&str, f64)> =
            seed.metrics.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        let params: Vec<(&str, &str)> = seed
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let tags: Vec<(&str, &str)> = seed
            .tags
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if !metrics.is_empty() || !params.is_empty() || !tags.is_empty() {
            self.log_batch(&run.run_id, &metrics, &params, &tags);
        }
        if seed.status != "RUNNING" {
            self.set_status(&run.run_id, &seed.status);
        }
        run
    }
}

/// What [`Client::seed_run`] makes.
#[derive(Debug, Clone)]
pub struct RunSeed {
    /// `FINISHED`, `RUNNING`, `FAILED`, `KILLED`.
    pub status: String,
    /// Start time, ms since the epoch.
    pub start_time: i64,
    /// Metrics.
    pub metrics: BTreeMap<String, f64>,
    /// Params.
    pub params: BTreeMap<String, String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

impl RunSeed {
    /// A run with `status` that started `minutes_ago` minutes ago.
    pub fn new(status: &str, minutes_ago: i64) -> Self {
        Self {
            status: status.into(),
            start_time: now_ms() - minutes_ago * 60_000,
            metrics: BTreeMap::new(),
            params: BTreeMap::new(),
            tags: BTreeMap::new(),
        }
    }

    /// Adds a metric.
    pub fn metric(mut self, key: &str, value: f64) -> Self {
        self.metrics.insert(key.into(), value);
        self
    }

    /// Adds a param.
    pub fn param(mut self, key: &str, value: &str) -> Self {
        self.params.insert(key.into(), value.into());
        self
    }

    /// Adds a tag.
    pub fn tag(mut self, key: &str, value: &str) -> Self {
        self.tags.insert(key.into(), value.into());
        self
    }
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A minimal but real `MLmodel` file.
pub const MLMODEL: &str = "artifact_path: model\nflavors:\n  python_function:\n    loader_module: mlflow.sklearn\n    python_version: 3.11.0\nmlflow_version: 3.17.2\n";
