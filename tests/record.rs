//! `mlflow.recordDeployments` against a real MLflow 3.17.2 server, real git repositories with a bare
//! remote, and the stand-in Argo CD: the tags and the alias a `run` writes (read back through MLflow's
//! REST API), `failed` when the app turns Degraded, a user who may only read (403: a warning, exit 0,
//! the push intact), a rollback, a rerun that writes nothing, and a `deployed.*` gate that reads the
//! record where the URI names no run.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::support::argocd::{FakeApp, Outcome, StandIn};
use crate::support::git::{Fixture, git, models_yaml, write};
use crate::support::mlflow::{Client, MlflowServer, RunSeed, ServerOptions, unique};
use crate::support::schemas::assert_valid_report;
use crate::support::{modelbump, shared_dir};

const MANIFEST: &str = "k8s/models.yaml";
const FIRST: &str = "s3://mlflow-artifacts/0/first/artifacts/";
const APP: &str = "iris-production";
const TOKEN: &str = "record-argocd-token";
const ENV: &str = "production";

/// `modelbump.<ENV>.<field>`.
fn key(field: &str) -> String {
    format!("modelbump.{ENV}.{field}")
}

/// A GitOps repo whose target `iris` follows the `candidate` alias of a fresh registered model, with
/// `mlflow.recordDeployments` for `production`.
struct Case {
    fx: Fixture,
    server_url: String,
    artifact_dir: PathBuf,
    client: Client,
    exp: String,
    model: String,
    /// Minutes before now that the last seeded run started.
    start: i64,
}

/// One seeded model: its run, logged model, version and the URI modelbump writes for it.
struct Seeded {
    run_id: String,
    model_id: String,
    version: String,
    uri: String,
}

impl Case {
    /// `argocd`: whether the config names the Argo CD app (runs then sync, and need the stand-in).
    fn new(server: &MlflowServer, client: Client, argocd: bool) -> Case {
        let exp = client.create_experiment(&unique("record"));
        let model = unique("record-model");
        client.create_registered_model(&model);
        let config = format!(
            "mlflow:\n  trackingUri: {url}\n  recordDeployments:\n    environment: {ENV}\nuriRewrite:\n  - from: \"{root}/\"\n    to: \"s3://mlflow-artifacts/\"\ntargets:\n  - file: {MANIFEST}\n    name: iris\n    kind: Model\n    registered:\n      name: {model}\n      alias: candidate\n{argocd}",
            url = server.url,
            root = server.artifact_dir.display(),
            argocd = if argocd {
                format!("argocd:\n  apps: [{APP}]\n")
            } else {
                String::new()
            },
        );
        let fx = fixture(&config);
        Case {
            fx,
            server_url: server.url.clone(),
            artifact_dir: server.artifact_dir.clone(),
            client,
            exp,
            model,
            start: 1000,
        }
    }

    /// A newer FINISHED run with a logged model, registered as a new version that `candidate` points at.
    fn new_version(&mut self, acc: f64) -> Seeded {
        self.start -= 1;
        let run = self.client.seed_run(
            &self.exp,
            &RunSeed::new("FINISHED", self.start).metric("acc", acc),
        );
        let logged = self.client.log_model(&run, "model", true);
        let version = self.client.create_version(
            &self.model,
            &format!("models:/{}", logged.model_id),
            Some(&run.run_id),
        );
        self.client.set_alias(&self.model, "candidate", &version);
        let uri = self.uri_of(&logged.artifact_uri);
        Seeded {
            run_id: run.run_id,
            model_id: logged.model_id,
            version,
            uri,
        }
    }

    fn uri_of(&self, artifact_uri: &str) -> String {
        let rest = artifact_uri
            .strip_prefix(&format!("{}/", self.artifact_dir.display()))
            .unwrap();
        format!("s3://mlflow-artifacts/{rest}/")
    }

    fn cmd(&self, args: &[&str], env: &[(&str, String)]) -> std::process::Output {
        run_in(&self.fx, args, env)
    }

    /// The tags of a run, a version and a logged model, as MLflow answers them now.
    fn tags(&self, seeded: &Seeded) -> [Vec<(String, String)>; 3] {
        let run = self.get("runs/get", &[("run_id", &seeded.run_id)]);
        let version = self.get(
            "model-versions/get",
            &[("name", &self.model), ("version", &seeded.version)],
        );
        let logged = self.get(&format!("logged-models/{}", seeded.model_id), &[]);
        [
            ours(&run["run"]["data"]["tags"]),
            ours(&version["model_version"]["tags"]),
            ours(&logged["model"]["info"]["tags"]),
        ]
    }

    fn get(&self, path: &str, query: &[(&str, &str)]) -> Value {
        self.client
            .call(reqwest::Method::GET, path, query, None)
            .unwrap_or_else(|e| panic!("GET {path}: HTTP {}: {}", e.status, e.body))
    }

    /// The version the alias points at, `None` when it does not exist.
    fn alias(&self, alias: &str) -> Option<String> {
        self.client
            .call(
                reqwest::Method::GET,
                "registered-models/alias",
                &[("name", &self.model), ("alias", alias)],
                None,
            )
            .ok()
            .map(|v| v["model_version"]["version"].as_str().unwrap().to_string())
    }
}

/// Runs modelbump in the fixture's clone with `env` added.
fn run_in(fx: &Fixture, args: &[&str], env: &[(&str, String)]) -> std::process::Output {
    let mut cmd = modelbump(&fx.home);
    cmd.current_dir(&fx.work)
        .args(args)
        .timeout(std::time::Duration::from_secs(120));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// A GitOps repo whose manifest holds `iris` at [`FIRST`], with `config` as its modelbump.yaml.
fn fixture(config: &str) -> Fixture {
    Fixture::new(&[
        (MANIFEST, &models_yaml(&[("iris", FIRST)])),
        ("modelbump.yaml", config),
    ])
}

/// The `modelbump.*` tags of a `[{key, value}]` list, sorted.
fn ours(tags: &Value) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = tags
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(|t| {
            let k = t["key"].as_str()?;
            k.starts_with("modelbump.")
                .then(|| (k.to_string(), t["value"].as_str().unwrap_or("").to_string()))
        })
        .collect();
    found.sort();
    found
}

/// Asserts that the run, the version and the logged model of `seeded` are on record as `status`.
fn assert_status(case: &Case, seeded: &Seeded, status: &str) {
    for tags in case.tags(seeded) {
        assert_eq!(value(&tags, "status"), Some(status), "{tags:?}");
    }
}

/// Asserts that the command exited with `code`.
fn assert_exit(out: &std::process::Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Asserts that the report's `recorded` moved no alias.
fn assert_no_alias_moved(report: &Value) {
    let writes = report["recorded"]["writes"].as_array().unwrap();
    assert!(
        writes.iter().all(|w| w["entity"] != "registeredModel"),
        "{report}"
    );
}

fn value<'a>(tags: &'a [(String, String)], field: &str) -> Option<&'a str> {
    tags.iter()
        .find(|(k, _)| *k == key(field))
        .map(|(_, v)| v.as_str())
}

fn json_of(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn argocd_env(standin: &StandIn) -> Vec<(&'static str, String)> {
    vec![
        ("ARGOCD_SERVER", standin.url()),
        ("ARGOCD_AUTH_TOKEN", TOKEN.to_string()),
        ("MODELBUMP_SYNC_POLL_INTERVAL", "10ms".to_string()),
    ]
}

fn standin(shared: &Path, fx: &Fixture, outcome: Outcome) -> StandIn {
    StandIn::start(
        shared,
        TOKEN,
        fx.remote_head().trim(),
        None,
        vec![FakeApp::new(APP, "https://git.example.com/gitops.git").ending(outcome)],
    )
}

#[test]
fn run_wait_healthy_tags_version_run_and_logged_model_and_moves_the_alias() {
    let Some(shared) = shared_dir("run_wait_healthy_tags_version_run_and_logged_model") else {
        return;
    };
    let server = MlflowServer::shared();
    let mut case = Case::new(server, server.client(), true);
    let v1 = case.new_version(0.9);
    let argo = standin(&shared, &case.fx, Outcome::Healthy);

    let out = case.cmd(&["-o", "json", "run", "--wait"], &argocd_env(&argo));
    crate::support::assert_success(&out);
    let report = json_of(&out);
    assert_valid_report(&report);
    let head = case.fx.remote_head().trim().to_string();
    assert_eq!(report["commit"], head.as_str(), "{report}");
    assert!(case.fx.remote_file(MANIFEST).contains(&v1.uri));

    for tags in case.tags(&v1) {
        assert_eq!(value(&tags, "status"), Some("healthy"), "{tags:?}");
        assert_eq!(value(&tags, "commit"), Some(head.as_str()), "{tags:?}");
        assert_eq!(value(&tags, "file"), Some(MANIFEST), "{tags:?}");
        assert_eq!(value(&tags, "target"), Some("iris"), "{tags:?}");
        assert!(
            value(&tags, "repo").is_some_and(|r| !r.is_empty()),
            "{tags:?}"
        );
        let at = value(&tags, "at").unwrap();
        assert!(at.ends_with('Z') && at.contains('T'), "{at}");
    }
    assert_eq!(case.alias(ENV).as_deref(), Some(v1.version.as_str()));

    let recorded = &report["recorded"];
    assert_eq!(recorded["environment"], ENV);
    assert!(recorded.get("warnings").is_none(), "{recorded}");
    let writes = recorded["writes"].as_array().unwrap();
    let entities: Vec<&str> = writes
        .iter()
        .map(|w| w["entity"].as_str().unwrap())
        .collect();
    // pushed: version, run, logged model; healthy: the same three, then the alias.
    assert_eq!(
        entities,
        [
            "modelVersion",
            "run",
            "loggedModel",
            "modelVersion",
            "run",
            "loggedModel",
            "registeredModel"
        ],
        "{recorded}"
    );
    assert_eq!(writes[0]["id"], format!("{}/{}", case.model, v1.version));
    assert_eq!(writes[1]["id"], v1.run_id.as_str());
    assert_eq!(writes[2]["id"], v1.model_id.as_str());
    assert_eq!(writes[6]["alias"], ENV);
    assert_eq!(writes[6]["version"], v1.version.as_str());

    // A rerun with nothing new writes nothing: the tags (their `.at` included) stay as they were.
    let before = case.tags(&v1);
    let argo = standin(&shared, &case.fx, Outcome::Healthy);
    let out = case.cmd(&["-o", "json", "run", "--wait"], &argocd_env(&argo));
    crate::support::assert_success(&out);
    let again = json_of(&out);
    assert_eq!(again["targets"][0]["status"], "unchanged", "{again}");
    assert!(again.get("recorded").is_none(), "{again}");
    assert_eq!(case.tags(&v1), before);
    assert_eq!(case.fx.remote_head().trim(), head);
}

#[test]
fn a_degraded_app_records_failed_and_leaves_the_alias() {
    let Some(shared) = shared_dir("a_degraded_app_records_failed_and_leaves_the_alias") else {
        return;
    };
    let server = MlflowServer::shared();
    let mut case = Case::new(server, server.client(), true);
    let v1 = case.new_version(0.9);
    let argo = standin(&shared, &case.fx, Outcome::Healthy);
    let out = case.cmd(&["run", "--wait"], &argocd_env(&argo));
    crate::support::assert_success(&out);
    assert_eq!(case.alias(ENV).as_deref(), Some(v1.version.as_str()));
    // The text output says what was recorded.
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("recorded in MLflow (production): 7 writes"),
        "{text}"
    );
    assert!(
        text.contains(&format!("alias {ENV} -> version {}", v1.version)),
        "{text}"
    );

    let v2 = case.new_version(0.95);
    let argo = standin(&shared, &case.fx, Outcome::Degraded);
    let out = case.cmd(&["-o", "json", "run", "--wait"], &argocd_env(&argo));
    // The exit code of a sync that failed after the push, as without the record.
    assert_exit(&out, 6);
    let report = json_of(&out);
    assert_valid_report(&report);
    assert!(case.fx.remote_file(MANIFEST).contains(&v2.uri));
    assert_status(&case, &v2, "failed");
    // The alias stays on the version that was healthy, which keeps its record.
    assert_eq!(case.alias(ENV).as_deref(), Some(v1.version.as_str()));
    assert_status(&case, &v1, "healthy");
    assert_no_alias_moved(&report);
}

#[test]
fn rollback_marks_the_replaced_model_rolled_back_and_the_restored_one_pushed() {
    let server = MlflowServer::shared();
    let mut case = Case::new(server, server.client(), false);
    // Two deploys without Argo CD: each is recorded `pushed`.
    let v1 = case.new_version(0.9);
    crate::support::assert_success(&case.cmd(&["run"], &[]));
    let first = case.fx.remote_head().trim().to_string();
    for tags in case.tags(&v1) {
        assert_eq!(value(&tags, "status"), Some("pushed"), "{tags:?}");
        assert_eq!(value(&tags, "commit"), Some(first.as_str()), "{tags:?}");
    }
    let v2 = case.new_version(0.95);
    crate::support::assert_success(&case.cmd(&["run"], &[]));
    assert_status(&case, &v2, "pushed");

    let out = case.cmd(&ROLLBACK, &[]);
    crate::support::assert_success(&out);
    let report = json_of(&out);
    let head = case.fx.remote_head().trim().to_string();
    assert!(case.fx.remote_file(MANIFEST).contains(&v1.uri));
    let [run2, version2, _] = case.tags(&v2);
    assert_eq!(value(&run2, "status"), Some("rolled_back"), "{run2:?}");
    assert_eq!(value(&version2, "status"), Some("rolled_back"));
    let [run1, version1, logged1] = case.tags(&v1);
    for tags in [&run1, &version1, &logged1] {
        assert_eq!(value(tags, "status"), Some("pushed"), "{tags:?}");
        assert_eq!(value(tags, "commit"), Some(head.as_str()), "{tags:?}");
    }
    let writes = report["recorded"]["writes"].as_array().unwrap();
    assert_eq!(writes[0]["entity"], "modelVersion", "{report}");
    assert_eq!(writes[0]["id"], format!("{}/{}", case.model, v2.version));
    assert_eq!(writes[0]["tags"][key("status")], "rolled_back");
}

#[test]
fn a_user_who_may_only_read_gets_a_warning_exit_0_and_the_push_stands() {
    let password = "record-admin-password-5521";
    let server = MlflowServer::start(ServerOptions {
        basic_auth: Some(("admin".into(), password.into())),
        proxied_artifacts: false,
    });
    let admin = server.admin_client();
    let reader_password = "reader-password-canary-8812";
    admin.create_user("reader", reader_password);
    let mut case = Case::new(&server, admin, false);
    let v1 = case.new_version(0.9);
    let before = case.fx.remote_head();

    let env = [
        ("MLFLOW_TRACKING_USERNAME", "reader".to_string()),
        ("MLFLOW_TRACKING_PASSWORD", reader_password.to_string()),
    ];
    let out = case.cmd(&["-o", "json", "run"], &env);
    crate::support::assert_success(&out);
    let report = json_of(&out);
    assert_valid_report(&report);
    assert_eq!(report["pushed"], true);
    assert_ne!(case.fx.remote_head(), before);
    assert!(case.fx.remote_file(MANIFEST).contains(&v1.uri));
    let warnings = report["recorded"]["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{report}");
    let warning = warnings[0].as_str().unwrap();
    assert!(warning.contains("403"), "{warning}");
    assert!(warning.contains(&case.server_url), "{warning}");
    assert!(warning.contains("the push stands"), "{warning}");
    assert_eq!(report["recorded"]["writes"], json!([]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("403"), "{stderr}");
    assert!(!stderr.contains(reader_password) && !warning.contains(reader_password));
    // Nothing was written.
    assert!(case.tags(&v1).iter().all(Vec::is_empty));
}

#[test]
fn a_deployed_gate_reads_the_record_where_the_uri_names_no_run() {
    let Some(shared) = shared_dir("a_deployed_gate_reads_the_record_where_the_uri_names_no_run")
    else {
        return;
    };
    let server = MlflowServer::shared();
    let client = server.client();
    let exp_name = unique("record-gate");
    let exp = client.create_experiment(&exp_name);
    let a = client.seed_run(&exp, &RunSeed::new("FINISHED", 100).metric("acc", 0.8));
    let a_model = client.log_model(&a, "model", true);
    // The serving side reads run A's model from a bucket path that names no run or model id.
    let config = |gate: &str, record: bool| {
        format!(
            "mlflow:\n  trackingUri: {url}\n{record}uriRewrite:\n  - from: \"{a_root}\"\n    to: \"s3://serving/iris-live\"\n  - from: \"{root}/\"\n    to: \"s3://mlflow-artifacts/\"\ntargets:\n  - file: {MANIFEST}\n    name: iris\n    kind: Model\n    run:\n      experiment: {exp_name}\n{gate}argocd:\n  apps: [{APP}]\n",
            url = server.url,
            a_root = a_model.artifact_uri,
            root = server.artifact_dir.display(),
            record = if record {
                format!("  recordDeployments:\n    environment: {ENV}\n")
            } else {
                String::new()
            },
        )
    };
    let fx = fixture(&config("", true));
    let cmd = |args: &[&str], env: &[(&str, String)]| run_in(&fx, args, env);
    let argo = standin(&shared, &fx, Outcome::Healthy);
    let out = cmd(&["-o", "json", "run", "--wait"], &argocd_env(&argo));
    crate::support::assert_success(&out);
    assert!(fx.remote_file(MANIFEST).contains("s3://serving/iris-live/"));

    // A newer run B, better than A; the gate compares it with the deployed model.
    let b = client.seed_run(&exp, &RunSeed::new("FINISHED", 50).metric("acc", 0.85));
    client.log_model(&b, "model", true);
    let gate = "    require: [\"metrics.acc > deployed.metrics.acc\"]\n";

    // Without the record, the URI names no run: the gate cannot compare, the target is blocked.
    write(&fx.work, "modelbump.yaml", &config(gate, false));
    let plan = json_of(&cmd(&["-o", "json", "plan"], &[]));
    assert_eq!(plan["targets"][0]["status"], "blocked", "{plan}");
    let reason = plan["targets"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("cannot be identified"), "{reason}");

    // With it, the deployed model is run A, on record as healthy: 0.85 > 0.8 holds.
    write(&fx.work, "modelbump.yaml", &config(gate, true));
    let plan = json_of(&cmd(&["-o", "json", "plan"], &[]));
    assert_eq!(plan["targets"][0]["status"], "changed", "{plan}");
    assert_eq!(plan["targets"][0]["runId"], b.run_id.as_str());

    // And a candidate worse than run A is blocked, by A's value.
    let c = client.seed_run(&exp, &RunSeed::new("FINISHED", 10).metric("acc", 0.7));
    client.log_model(&c, "model", true);
    let plan = json_of(&cmd(&["-o", "json", "plan"], &[]));
    assert_eq!(plan["targets"][0]["status"], "blocked", "{plan}");
    let reason = plan["targets"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("0.8"), "{reason}");
}

/// A local store (here the quickstart's `mlruns`) is not written to: the record is refused with a
/// warning that says what to do, the run succeeds and its push stands.
#[test]
fn a_local_store_is_not_written_to_and_says_why() {
    let (fx, store) = crate::support::git::quickstart_fixture("");
    let before = fx.remote_head();
    let env = [
        ("MLFLOW_TRACKING_URI", store),
        ("MODELBUMP_RECORD_ENVIRONMENT", ENV.to_string()),
    ];
    let out = run_in(&fx, &["-o", "json", "run"], &env);
    crate::support::assert_success(&out);
    let report = json_of(&out);
    assert_valid_report(&report);
    assert_eq!(report["pushed"], true, "{report}");
    assert_ne!(fx.remote_head(), before);
    let warnings = report["recorded"]["warnings"].as_array().unwrap();
    let warning = warnings[0].as_str().unwrap();
    assert!(warning.contains("is a local store"), "{warning}");
    assert!(warning.contains("MLFLOW_TRACKING_URI"), "{warning}");
    assert_eq!(report["recorded"]["writes"], json!([]));
    // Nothing was written into the store.
    let tags = std::process::Command::new("grep")
        .args(["-rl", "modelbump.production"])
        .arg(fx.tmp.path().join("mlruns"))
        .output()
        .unwrap();
    assert!(
        tags.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&tags.stdout)
    );
}

/// The shared schemas (`None`, said loudly, when missing) and a case without Argo CD in its config.
fn shared_case(test: &str) -> Option<(PathBuf, Case)> {
    let shared = shared_dir(test)?;
    let server = MlflowServer::shared();
    Some((shared, Case::new(server, server.client(), false)))
}

/// Deploys `v1` then `v2` with plain `run` (no Argo CD in the config): both recorded `pushed`.
fn two_deploys(case: &mut Case) -> (Seeded, Seeded) {
    let v1 = case.new_version(0.9);
    crate::support::assert_success(&case.cmd(&["run"], &[]));
    let v2 = case.new_version(0.95);
    crate::support::assert_success(&case.cmd(&["run"], &[]));
    (v1, v2)
}

/// The environment of a `--wait` against the stand-in, the app named by the environment.
fn waiting_env(argo: &StandIn) -> Vec<(&'static str, String)> {
    let mut env = argocd_env(argo);
    env.push(("MODELBUMP_ARGOCD_APPS", APP.to_string()));
    env
}

const ROLLBACK: [&str; 7] = [
    "-o",
    "json",
    "rollback",
    "iris",
    "--reason",
    "accuracy dropped online",
    "--push",
];

#[test]
fn rollback_wait_healthy_records_the_restored_model_healthy_and_moves_the_alias_back() {
    let Some((shared, mut case)) =
        shared_case("rollback_wait_healthy_records_the_restored_model_healthy")
    else {
        return;
    };
    let (v1, v2) = two_deploys(&mut case);
    case.client.set_alias(&case.model, ENV, &v2.version);
    let argo = standin(&shared, &case.fx, Outcome::Healthy);

    let out = case.cmd(&[&ROLLBACK[..], &["--wait"]].concat(), &waiting_env(&argo));
    crate::support::assert_success(&out);
    let report = json_of(&out);
    let head = case.fx.remote_head().trim().to_string();
    assert!(case.fx.remote_file(MANIFEST).contains(&v1.uri));
    let syncs = argo.sync_requests(APP);
    assert_eq!(syncs.len(), 1, "{syncs:?}");
    assert_eq!(syncs[0]["revision"], head.as_str());
    assert_eq!(report["sync"][0]["app"], APP, "{report}");
    for tags in case.tags(&v1) {
        assert_eq!(value(&tags, "status"), Some("healthy"), "{tags:?}");
        assert_eq!(value(&tags, "commit"), Some(head.as_str()), "{tags:?}");
    }
    let [run2, version2, _] = case.tags(&v2);
    assert_eq!(value(&run2, "status"), Some("rolled_back"), "{run2:?}");
    assert_eq!(value(&version2, "status"), Some("rolled_back"));
    assert_eq!(case.alias(ENV).as_deref(), Some(v1.version.as_str()));
    let writes = report["recorded"]["writes"].as_array().unwrap();
    let last = writes.last().unwrap();
    assert_eq!(last["entity"], "registeredModel", "{report}");
    assert_eq!(last["version"], v1.version.as_str());
}

#[test]
fn rollback_wait_degraded_records_failed_exits_6_and_the_rollback_stands() {
    let Some((shared, mut case)) = shared_case("rollback_wait_degraded_records_failed") else {
        return;
    };
    let (v1, v2) = two_deploys(&mut case);
    case.client.set_alias(&case.model, ENV, &v2.version);
    let argo = standin(&shared, &case.fx, Outcome::Degraded);

    // Waiting needs the rollback pushed: refused before anything is written.
    let before = case.fx.remote_head();
    let local = git(&case.fx.work, &["rev-parse", "HEAD"]);
    let out = case.cmd(
        &["rollback", "iris", "--reason", "r", "--wait"],
        &waiting_env(&argo),
    );
    assert_exit(&out, 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("add --push"), "{stderr}");
    assert_eq!(git(&case.fx.work, &["rev-parse", "HEAD"]), local);
    assert_eq!(case.fx.remote_head(), before);

    let out = case.cmd(&[&ROLLBACK[..], &["--wait"]].concat(), &waiting_env(&argo));
    assert_exit(&out, 6);
    let report = json_of(&out);
    assert!(case.fx.remote_file(MANIFEST).contains(&v1.uri));
    assert_status(&case, &v1, "failed");
    assert_eq!(case.alias(ENV).as_deref(), Some(v2.version.as_str()));
    assert_no_alias_moved(&report);
}

/// Pull-request mode: the model reaches the base branch only when a reviewer merges, so an opened pull
/// request records nothing, and `--wait-merged` records `pushed` at the merge commit, then `healthy`
/// and the alias after the sync.
#[test]
fn pull_request_mode_records_the_merge_not_the_opened_pull_request() {
    const GITHUB_TOKEN: &str = "ghs_recordPullRequestToken0123456789";
    let Some((shared, mut case)) = shared_case("pull_request_mode_records_the_merge") else {
        return;
    };
    let v1 = case.new_version(0.9);
    // The fixture's remote served over smart HTTP as OWNER/REPO, as a forge serves it.
    let root = case.fx.tmp.path().join("srv");
    std::fs::create_dir_all(root.join("acme")).unwrap();
    std::os::unix::fs::symlink(&case.fx.remote, root.join("acme/gitops.git")).unwrap();
    git(&case.fx.remote, &["config", "http.receivepack", "true"]);
    let remote = crate::support::git::HttpRemote::start(&root, "x-access-token", GITHUB_TOKEN);
    let url = remote.url("acme/gitops.git");
    git(&case.fx.work, &["remote", "set-url", "origin", &url]);
    let github = crate::support::github::StandIn::start(
        &shared,
        GITHUB_TOKEN,
        "acme",
        "gitops",
        &case.fx.remote,
    );
    let forge = vec![
        ("MODELBUMP_GIT_TOKEN", GITHUB_TOKEN.to_string()),
        ("MODELBUMP_FORGE", "github".to_string()),
        ("MODELBUMP_FORGE_API", github.url()),
    ];
    let base = case.fx.remote_head();

    let out = case.cmd(&["-o", "json", "run", "--pull-request"], &forge);
    crate::support::assert_success(&out);
    let report = json_of(&out);
    assert_eq!(report["pullRequest"]["action"], "opened", "{report}");
    assert!(report.get("recorded").is_none(), "{report}");
    assert!(case.tags(&v1).iter().all(Vec::is_empty));
    assert_eq!(case.fx.remote_head(), base, "main is untouched");

    github.merge_after_polls(1, 2);
    let argo = standin(&shared, &case.fx, Outcome::Healthy);
    let mut env = [forge, waiting_env(&argo)].concat();
    env.push(("MODELBUMP_MERGE_POLL_INTERVAL", "10ms".to_string()));
    let out = case.cmd(
        &[
            "-o",
            "json",
            "run",
            "--pull-request",
            "--wait-merged",
            "--wait",
        ],
        &env,
    );
    crate::support::assert_success(&out);
    let report = json_of(&out);
    assert_valid_report(&report);
    assert!(github.violations().is_empty(), "{:#?}", github.violations());
    let merge = case.fx.remote_head().trim().to_string();
    assert_ne!(merge, base.trim());
    assert_eq!(
        report["pullRequest"]["mergeCommit"],
        merge.as_str(),
        "{report}"
    );
    assert_eq!(argo.sync_requests(APP)[0]["revision"], merge.as_str());
    for tags in case.tags(&v1) {
        assert_eq!(value(&tags, "status"), Some("healthy"), "{tags:?}");
        assert_eq!(value(&tags, "commit"), Some(merge.as_str()), "{tags:?}");
        assert_eq!(value(&tags, "repo"), Some(url.as_str()), "{tags:?}");
    }
    assert_eq!(case.alias(ENV).as_deref(), Some(v1.version.as_str()));
    let writes = report["recorded"]["writes"].as_array().unwrap();
    assert_eq!(writes.len(), 7, "{report}");
}

/// `serve`: a signed webhook delivery (the alias moved in MLflow) deploys the new version, and the
/// deploy is recorded as `run` records it, under the environment `--record-environment` names.
#[test]
fn a_webhook_triggered_serve_deploy_records_pushed() {
    use crate::support::serve::{ServeProcess, mlflow_signature, unix_now};
    const SECRET: &str = "record-serve-webhook-secret";
    const STAGING: &str = "staging";
    let server = MlflowServer::shared();
    let mut case = Case::new(server, server.client(), false);
    let v1 = case.new_version(0.9);
    let env = [("MODELBUMP_MLFLOW_WEBHOOK_SECRET", SECRET.to_string())];
    let args = ["--interval", "0", "--record-environment", STAGING];
    let serve = ServeProcess::start(&case.fx.home, &case.fx.work, &args, &env);
    // The reconciliation at start deploys v1.
    serve.wait_idle(1.0);
    assert!(case.fx.remote_file(MANIFEST).contains(&v1.uri));

    let v2 = case.new_version(0.95);
    let body = serde_json::to_vec(&json!({
        "entity": "model_version_alias",
        "action": "created",
        "timestamp": "2026-01-01T00:00:00+00:00",
        "data": {"name": case.model, "alias": "candidate", "version": v2.version},
    }))
    .unwrap();
    let now = unix_now().to_string();
    let signature = mlflow_signature(SECRET, "record-1", &now, &body);
    let (status, answer) = serve.deliver("record-1", &now, &signature, &body);
    assert_eq!(status, 200, "{answer}");
    serve.wait_idle(2.0);
    assert!(
        case.fx.remote_file(MANIFEST).contains(&v2.uri),
        "{}",
        serve.logs()
    );
    let head = case.fx.remote_head().trim().to_string();
    let staging = |tags: &[(String, String)], field: &str| {
        tags.iter()
            .find(|(k, _)| *k == format!("modelbump.{STAGING}.{field}"))
            .map(|(_, v)| v.clone())
    };
    for tags in case.tags(&v2) {
        assert_eq!(
            staging(&tags, "status").as_deref(),
            Some("pushed"),
            "{tags:?}"
        );
        assert_eq!(staging(&tags, "commit"), Some(head.clone()), "{tags:?}");
        assert_eq!(
            staging(&tags, "target").as_deref(),
            Some("iris"),
            "{tags:?}"
        );
        assert!(
            value(&tags, "status").is_none(),
            "the flag wins over the config: {tags:?}"
        );
    }
    for tags in case.tags(&v1) {
        assert_eq!(
            staging(&tags, "status").as_deref(),
            Some("pushed"),
            "{tags:?}"
        );
        assert_ne!(staging(&tags, "commit"), Some(head.clone()), "{tags:?}");
    }
}
