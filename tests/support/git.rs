//! Git fixtures for the tests: temporary repositories with bare remotes, and a smart-HTTP remote.
//!
//! The HTTP remote is `git http-backend` (git's own CGI program) behind a small loopback server with
//! Basic auth, so that pushes go through libgit2's real HTTP transport: it sends the push body chunked
//! (the server decodes it before handing it to the CGI), and it calls the credentials callback only after
//! a 401 with `WWW-Authenticate`. Every git command runs hermetically: no global or system config.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Runs `git` in `dir` with a hermetic environment and a fixed identity; panics with git's output on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = git_cmd(dir).args(args).output().expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} in {} failed: {}{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .trim_end()
        .to_string()
}

/// A `git` command with a hermetic environment.
pub fn git_cmd(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Fixture")
        .env("GIT_AUTHOR_EMAIL", "fixture@example.invalid")
        .env("GIT_COMMITTER_NAME", "Fixture")
        .env("GIT_COMMITTER_EMAIL", "fixture@example.invalid")
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z");
    cmd
}

/// A bare remote, a clone of it with the given files committed on `main`, and a fixed HOME.
pub struct Fixture {
    /// Owns every path below.
    pub tmp: tempfile::TempDir,
    /// The HOME of commands under test.
    pub home: PathBuf,
    /// The bare remote (`origin`).
    pub remote: PathBuf,
    /// The first clone, where the files were committed.
    pub work: PathBuf,
}

impl Fixture {
    /// Creates the remote and the first clone with `files` (path, content) committed and pushed.
    pub fn new(files: &[(&str, &str)]) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let remote = tmp.path().join("remote.git");
        git(
            tmp.path(),
            &[
                "init",
                "-q",
                "--bare",
                "-b",
                "main",
                remote.to_str().unwrap(),
            ],
        );
        let work = tmp.path().join("work");
        git(
            tmp.path(),
            &[
                "clone",
                "-q",
                remote.to_str().unwrap(),
                work.to_str().unwrap(),
            ],
        );
        configure_identity(&work);
        for (path, content) in files {
            write(&work, path, content);
        }
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-q", "-m", "initial manifests"]);
        git(&work, &["push", "-q", "-u", "origin", "main"]);
        Self {
            tmp,
            home,
            remote,
            work,
        }
    }

    /// Another clone of the remote, with an identity, at `name` under the temp folder.
    pub fn clone(&self, name: &str) -> PathBuf {
        let dir = self.tmp.path().join(name);
        git(
            self.tmp.path(),
            &[
                "clone",
                "-q",
                self.remote.to_str().unwrap(),
                dir.to_str().unwrap(),
            ],
        );
        configure_identity(&dir);
        dir
    }

    /// `git show main:PATH` in the remote.
    pub fn remote_file(&self, path: &str) -> String {
        git(&self.remote, &["show", &format!("main:{path}")])
    }

    /// The remote's `main` commit id.
    pub fn remote_head(&self) -> String {
        git(&self.remote, &["rev-parse", "main"])
    }
}

/// Sets user.name and user.email in the repository's own config.
pub fn configure_identity(dir: &Path) {
    git(dir, &["config", "user.name", "Pipeline"]);
    git(dir, &["config", "user.email", "pipeline@example.invalid"]);
}

/// Writes `content` to `dir/path`, creating folders.
pub fn write(dir: &Path, path: &str, content: &str) {
    let file = dir.join(path);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, content).unwrap();
}

/// Reads `dir/path`.
pub fn read(dir: &Path, path: &str) -> String {
    std::fs::read_to_string(dir.join(path)).unwrap()
}

/// Seldon v2 `Model` documents, one per (name, uri), in one multi-document file.
pub fn models_yaml(models: &[(&str, &str)]) -> String {
    models
        .iter()
        .map(|(name, uri)| {
            format!(
                "apiVersion: mlops.seldon.io/v1alpha1\nkind: Model\nmetadata:\n  name: {name}\n  namespace: models  # keep me\nspec:\n  storageUri: {uri}\n  requirements:\n  - mlflow\n"
            )
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

/// A file of the quickstart example (`examples/quickstart/NAME`).
pub fn quickstart_file(name: &str) -> String {
    std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("examples/quickstart")
            .join(name),
    )
    .unwrap()
}

/// A GitOps repo holding the quickstart's manifest and config (with `extra_config` appended), and a
/// copy of its MLflow store; returns the fixture and the store's tracking URI.
pub fn quickstart_fixture(extra_config: &str) -> (Fixture, String) {
    let config = quickstart_file("modelbump.yaml") + extra_config;
    let fx = Fixture::new(&[
        (
            "k8s/base/financial-predictor-ab-test.yaml",
            &quickstart_file("financial-predictor-ab-test.yaml"),
        ),
        ("modelbump.yaml", &config),
    ]);
    let store = quickstart_store(&fx);
    (fx, store)
}

/// Copies the quickstart's MLflow file store into the fixture's temp folder; returns its tracking URI.
pub fn quickstart_store(fx: &Fixture) -> String {
    let store = fx.tmp.path().join("mlruns");
    let copied = Command::new("cp")
        .arg("-r")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart/mlruns"))
        .arg(&store)
        .status()
        .unwrap();
    assert!(copied.success());
    format!("file://{}", store.display())
}

/// A smart-HTTP git server on a loopback port: `git http-backend` as CGI, behind Basic auth.
pub struct HttpRemote {
    /// The port it listens on.
    pub port: u16,
    /// How many requests were answered 401.
    pub unauthorized: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl HttpRemote {
    /// Serves the bare repositories under `root` to `user`:`password`.
    pub fn start(root: &Path, user: &str, password: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let expected = format!("Basic {}", base64(format!("{user}:{password}").as_bytes()));
        let unauthorized = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (root, counter, halt) = (root.to_path_buf(), unauthorized.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if halt.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (root, expected, counter) = (root.clone(), expected.clone(), counter.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &root, &expected, &counter);
                });
            }
        });
        Self {
            port,
            unauthorized,
            stop,
        }
    }

    /// Creates the bare repository `name` under `root`, open to pushes over HTTP, and clones it into
    /// `work` with an identity; returns the bare repository's path.
    pub fn create_repo(root: &Path, name: &str, work: &Path) -> PathBuf {
        let bare = root.join(name);
        std::fs::create_dir_all(&bare).unwrap();
        git(&bare, &["init", "-q", "--bare", "-b", "main"]);
        git(&bare, &["config", "http.receivepack", "true"]);
        git(
            root,
            &[
                "clone",
                "-q",
                bare.to_str().unwrap(),
                work.to_str().unwrap(),
            ],
        );
        configure_identity(work);
        bare
    }

    /// [`HttpRemote::start`], then makes the repository `name` the `origin` of the clone `work`.
    pub fn start_as_origin(
        root: &Path,
        user: &str,
        password: &str,
        work: &Path,
        name: &str,
    ) -> Self {
        let remote = Self::start(root, user, password);
        git(work, &["remote", "set-url", "origin", &remote.url(name)]);
        remote
    }

    /// The URL of the repository `name` (a folder under the root).
    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for HttpRemote {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Answers one request (the connection is closed after it, which libgit2 handles by reconnecting).
fn serve(
    stream: TcpStream,
    root: &Path,
    expected: &str,
    unauthorized: &AtomicUsize,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut stream = stream;
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    let mut headers = HashMap::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header)?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((k, v)) = header.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let body = if headers
        .get("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        read_chunked(&mut reader)?
    } else {
        let len = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0usize);
        let mut body = vec![0; len];
        reader.read_exact(&mut body)?;
        body
    };
    if headers.get("authorization").map(String::as_str) != Some(expected) {
        unauthorized.fetch_add(1, Ordering::SeqCst);
        stream.write_all(
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )?;
        return stream.flush();
    }
    let (path, query) = target.split_once('?').unwrap_or((target.as_str(), ""));
    let mut cgi = Command::new("git");
    cgi.arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", root)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", &method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("REMOTE_USER", "pusher")
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(ct) = headers.get("content-type") {
        cgi.env("CONTENT_TYPE", ct);
    }
    if let Some(proto) = headers.get("git-protocol") {
        cgi.env("HTTP_GIT_PROTOCOL", proto);
    }
    if let Some(enc) = headers.get("content-encoding") {
        cgi.env("HTTP_CONTENT_ENCODING", enc);
    }
    let mut child = cgi.spawn()?;
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let out = child.wait_with_output()?;
    let _ = writer.join();
    let output = out.stdout;
    let split = find(&output, b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| find(&output, b"\n\n").map(|i| (i, 2)));
    let (head, body) = match split {
        Some((i, n)) => (
            String::from_utf8_lossy(&output[..i]).to_string(),
            &output[i + n..],
        ),
        None => (String::new(), &output[..]),
    };
    let mut status = "200 OK".to_string();
    let mut response = Vec::new();
    let mut extra = String::new();
    for header in head.lines() {
        match header.split_once(':') {
            Some((k, v)) if k.eq_ignore_ascii_case("status") => status = v.trim().to_string(),
            Some(_) => extra.push_str(&format!("{header}\r\n")),
            None => {}
        }
    }
    response.extend_from_slice(
        format!(
            "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    response.extend_from_slice(body);
    stream.write_all(&response)?;
    stream.flush()
}

fn read_chunked(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size)?;
        let size =
            usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
        if size == 0 {
            // Trailers (none expected) end with an empty line.
            let mut end = String::new();
            reader.read_line(&mut end)?;
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = [0u8; 2];
        reader.read_exact(&mut crlf)?;
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn base64(input: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn base64_matches_the_rfc_examples() {
    assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    assert_eq!(base64(b"fooba"), "Zm9vYmE=");
    assert_eq!(base64(b"foob"), "Zm9vYg==");
}
