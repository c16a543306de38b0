//! The MLflow benchmark: `modelbump plan` against a real MLflow 3.17.2 server on loopback.
//!
//! Run with `cargo bench --bench mlflow` (it provisions the server like the tests do). It measures:
//!
//! 1. `plan` for 2 targets: the process's own CPU time (user + sys, from the shell's `times` over
//!    `REPEAT` runs), the budget being 20 ms per run.
//! 2. `plan` for 200 targets over 20 experiments, with concurrency 8 and with concurrency 1 (the
//!    one-after-another baseline, same session): the wall time, the number of distinct questions
//!    asked (each asked once) and the slowest single round trip of the baseline, against the bound
//!    `3 x slowest round trip x ceil(questions / concurrency)` and the 8x speed-up target.
//!
//! Step 2 runs twice: straight to the server, and through a loopback proxy that adds a fixed delay to
//! each request, as a tracking server in another zone would. A single MLflow worker on a shared
//! 2-core machine is CPU-bound, which caps what concurrency can win there; the delayed run shows the
//! case concurrency is for, where round trips, not the server's CPU, dominate.

#[path = "../tests/support/mlflow.rs"]
mod mlflow_support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use mlflow_support::{MlflowServer, RunSeed, ServerOptions, unique};

const EXPERIMENTS: usize = 20;
const VARIANTS: usize = 10;
const REPEAT: usize = 20;
const ADDED_DELAY: Duration = Duration::from_millis(20);

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("mlflow: bench");
        return;
    }
    let bin = env!("CARGO_BIN_EXE_modelbump");
    eprintln!("starting a dedicated MLflow server and seeding it ...");
    let server = MlflowServer::start(ServerOptions::default());
    let client = server.client();
    let mut targets = String::new();
    let mut manifest = String::new();
    for e in 0..EXPERIMENTS {
        let name = unique(&format!("bench-{e}"));
        let exp = client.create_experiment(&name);
        for v in 0..VARIANTS {
            let variant = format!("v{v}");
            for age in [30, 10] {
                let run = client.seed_run(
                    &exp,
                    &RunSeed::new("FINISHED", age)
                        .param("variant", &variant)
                        .metric("acc", 0.9),
                );
                client.log_model(&run, "model", true);
            }
            let model = format!("model-{e}-{v}");
            manifest.push_str(&format!(
                "---\napiVersion: mlops.seldon.io/v1alpha1\nkind: Model\nmetadata:\n  name: {model}\nspec:\n  storageUri: s3://old/{model}/\n"
            ));
            targets.push_str(&format!(
                "  - file: k8s/models.yaml\n    name: {model}\n    run:\n      experiment: {name}\n      filter: \"params.variant = '{variant}'\"\n    require: [\"metrics.acc >= 0.5\"]\n"
            ));
        }
    }
    let big = repo(&server, &manifest, &targets);
    let two_targets: String = targets
        .split("  - file:")
        .filter(|t| !t.is_empty())
        .take(2)
        .map(|t| format!("  - file:{t}"))
        .collect();
    let small = repo(&server, &manifest, &two_targets);

    // 1. CPU time of a 2-target plan.
    let warm = plan(bin, small.path(), 8, None);
    assert!(warm.ok, "plan failed: {}", warm.stderr);
    let cpu = cpu_time(bin, small.path(), &server.url);
    println!(
        "plan, 2 targets: CPU (user+sys) {:.1} ms per run (mean of {REPEAT}); budget 20 ms",
        cpu.as_secs_f64() * 1000.0
    );

    // 2. 200 targets, straight and through the delaying proxy.
    let proxy = DelayProxy::start(server.port, ADDED_DELAY);
    for (label, url) in [
        ("loopback".to_string(), server.url.clone()),
        (
            format!("loopback + {} ms per request", ADDED_DELAY.as_millis()),
            proxy.url.clone(),
        ),
    ] {
        let serial = plan(bin, big.path(), 1, Some(&url));
        let parallel = plan(bin, big.path(), 8, Some(&url));
        assert!(
            serial.ok && parallel.ok,
            "{}{}",
            serial.stderr,
            parallel.stderr
        );
        assert_eq!(
            serial.calls, parallel.calls,
            "the same questions either way"
        );
        report(&label, &serial, &parallel);
    }

    // 3. The same plan against a stand-in that answers every question after a fixed delay, with no
    //    limit on concurrent requests: the client's own concurrency, without MLflow's CPU in the way.
    let stub = CannedMlflow::start(ADDED_DELAY);
    let serial = plan(bin, big.path(), 1, Some(&stub.url));
    let parallel = plan(bin, big.path(), 8, Some(&stub.url));
    assert!(
        serial.ok && parallel.ok,
        "{}{}",
        serial.stderr,
        parallel.stderr
    );
    report(
        &format!(
            "stand-in server answering in {} ms",
            ADDED_DELAY.as_millis()
        ),
        &serial,
        &parallel,
    );
}

fn report(label: &str, serial: &Measured, parallel: &Measured) {
    assert_eq!(
        serial.calls, parallel.calls,
        "the same questions either way"
    );
    let bound = serial.slowest * 3 * (parallel.calls.div_ceil(8) as u32);
    let speedup = serial.wall.as_secs_f64() / parallel.wall.as_secs_f64();
    println!(
        "plan, 200 targets over {EXPERIMENTS} experiments, {label}: {} distinct questions; concurrency 8: {:.0} ms; concurrency 1: {:.0} ms; speed-up {speedup:.1}x (target >= 8x); slowest single round trip {:.1} ms; bound 3 x {:.1} ms x ceil({}/8) = {:.0} ms ({})",
        parallel.calls,
        parallel.wall.as_secs_f64() * 1000.0,
        serial.wall.as_secs_f64() * 1000.0,
        serial.slowest.as_secs_f64() * 1000.0,
        serial.slowest.as_secs_f64() * 1000.0,
        parallel.calls,
        bound.as_secs_f64() * 1000.0,
        if parallel.wall <= bound {
            "within"
        } else {
            "OVER"
        },
    );
}

/// A stand-in for MLflow that answers the resolver's questions for any experiment, run or model
/// (one FINISHED run per search, one logged model per run, an MLmodel in it) after `delay`, one thread
/// per connection, keep-alive honoured.
struct CannedMlflow {
    url: String,
}

impl CannedMlflow {
    fn start(delay: Duration) -> CannedMlflow {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || serve_canned(stream, delay));
            }
        });
        CannedMlflow { url }
    }
}

fn serve_canned(stream: TcpStream, delay: Duration) {
    use std::io::BufRead;
    let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                break;
            }
            if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let body = String::from_utf8_lossy(&body);
        let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
        // A stable 32-hex id per distinct question, so each search finds its own run and model.
        let id = format!("{:032x}", fnv(&format!("{path}{body}")));
        let answer = if path.contains("experiments/get-by-name") {
            // Each experiment its own id, so each target's search is a distinct question.
            format!(
                r#"{{"experiment":{{"experiment_id":"{id}","name":"e","artifact_location":"s3://b/{id}","lifecycle_stage":"active"}}}}"#
            )
        } else if path.contains("runs/search") {
            format!(
                r#"{{"runs":[{{"info":{{"run_id":"{id}","experiment_id":"1","status":"FINISHED","artifact_uri":"s3://b/1/{id}/artifacts"}},"data":{{"metrics":[{{"key":"acc","value":0.9}}]}},"outputs":{{"model_outputs":[{{"model_id":"m-{id}","step":0}}]}}}}]}}"#
            )
        } else if path.contains("/artifacts/directories") {
            r#"{"files":[{"path":"MLmodel","is_dir":false}]}"#.to_string()
        } else if let Some(rest) = path.split("logged-models/").nth(1) {
            let model = rest.split(['/', '?']).next().unwrap_or("");
            format!(
                r#"{{"model":{{"info":{{"model_id":"{model}","name":"model","experiment_id":"1","artifact_uri":"s3://b/1/models/{model}/artifacts"}}}}}}"#
            )
        } else {
            r#"{"error_code":"ENDPOINT_NOT_FOUND","message":"not canned"}"#.to_string()
        };
        std::thread::sleep(delay);
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            answer.len()
        );
        if stream.write_all(head.as_bytes()).is_err()
            || stream.write_all(answer.as_bytes()).is_err()
        {
            return;
        }
    }
}

fn fnv(text: &str) -> u128 {
    let mut hash: u128 = 0x6c62272e07bb014262b821756295c58d;
    for b in text.bytes() {
        hash ^= b as u128;
        hash = hash.wrapping_mul(0x0000000001000000000000000000013B);
    }
    hash
}

/// A GitOps folder; the server's local artifact root is mapped to a bucket, as a deployment maps it
/// (a local path is not proposed).
fn repo(server: &MlflowServer, manifest: &str, targets: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("k8s")).unwrap();
    std::fs::write(dir.path().join("k8s/models.yaml"), manifest).unwrap();
    std::fs::write(
        dir.path().join("modelbump.yaml"),
        format!(
            "mlflow:\n  trackingUri: {url}\ntargets:\n{targets}uriRewrite:\n  - {{from: \"{root}/\", to: \"s3://mlflow-artifacts/\"}}\n",
            url = server.url,
            root = server.artifact_dir.display()
        ),
    )
    .unwrap();
    dir
}

struct Measured {
    ok: bool,
    wall: Duration,
    calls: usize,
    slowest: Duration,
    stderr: String,
}

/// Runs `plan -o json` and reads, from its debug log, each call's round trip and the number of calls.
fn plan(bin: &str, repo: &Path, concurrency: usize, url: Option<&str>) -> Measured {
    let mut cmd = Command::new(bin);
    cmd.arg("-C")
        .arg(repo)
        .args(["plan", "-o", "json"])
        .env("MODELBUMP_LOG", "modelbump=debug")
        .env("MODELBUMP_MLFLOW_CONCURRENCY", concurrency.to_string())
        .env("NO_COLOR", "1");
    if let Some(url) = url {
        cmd.args(["--tracking-uri", url]);
    }
    let start = Instant::now();
    let out = cmd.output().unwrap();
    let wall = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let mut slowest = Duration::ZERO;
    let mut calls = 0;
    for line in stderr.lines() {
        if line.contains("mlflow call")
            && let Some(ms) = field(line, "elapsed_ms=")
        {
            slowest = slowest.max(Duration::from_millis(ms as u64));
        }
        if line.contains("resolved against the tracking store")
            && let Some(n) = field(line, "calls=")
        {
            calls = n;
        }
    }
    Measured {
        ok: out.status.success(),
        wall,
        calls,
        slowest,
        stderr,
    }
}

fn field(line: &str, key: &str) -> Option<usize> {
    let rest = &line[line.find(key)? + key.len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// User + sys CPU time per `plan` run, from bash's `times` (children's totals) over `REPEAT` runs.
fn cpu_time(bin: &str, repo: &Path, url: &str) -> Duration {
    let script = format!(
        "for i in $(seq {REPEAT}); do \"$0\" -C \"$1\" -q plan --tracking-uri \"$2\" >/dev/null || exit 1; done; times"
    );
    let out = Command::new("bash")
        .args(["-c", &script, bin])
        .arg(repo)
        .arg(url)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let children = text.lines().nth(1).expect("times prints two lines");
    let total: f64 = children.split_whitespace().map(parse_times).sum();
    Duration::from_secs_f64(total / REPEAT as f64)
}

/// `0m0.012s` -> 0.012
fn parse_times(text: &str) -> f64 {
    let (m, s) = text.trim_end_matches('s').split_once('m').unwrap();
    m.parse::<f64>().unwrap() * 60.0 + s.parse::<f64>().unwrap()
}

/// A loopback TCP proxy that holds each chunk from the client for `delay` before passing it on.
struct DelayProxy {
    url: String,
}

impl DelayProxy {
    fn start(upstream: u16, delay: Duration) -> DelayProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                        return;
                    };
                    let (mut c_read, mut s_write) =
                        (client.try_clone().unwrap(), server.try_clone().unwrap());
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16384];
                        while let Ok(n) = c_read.read(&mut buf) {
                            if n == 0 {
                                break;
                            }
                            std::thread::sleep(delay);
                            if s_write.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = s_write.shutdown(std::net::Shutdown::Write);
                    });
                    let (mut s_read, mut c_write) = (server, client);
                    let _ = std::io::copy(&mut s_read, &mut c_write);
                    let _ = c_write.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        DelayProxy { url }
    }
}
