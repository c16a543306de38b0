//! `plan` and `apply` against a real MLflow 3.17.2 server (and the harness that provides it).
//!
//! Every test seeds its own experiments and registered models (unique names) on the shared server, writes
//! a small GitOps folder, and drives the real binary. The MLflow artifact root of the shared server is a
//! local folder; `uriRewrite` maps it to `s3://mlflow-artifacts/`, as a real deployment maps what MLflow
//! reports to what the serving side reads.

use std::path::PathBuf;

use predicates::prelude::*;
use serde_json::Value;

use crate::support::mlflow::{MlflowServer, RunSeed, SeededRun, ServerOptions, unique};
use crate::support::modelbump;

const MANIFEST: &str = r#"# Two models of one A/B test
apiVersion: mlops.seldon.io/v1alpha1
kind: Model
metadata:
  name: baseline-predictor
spec:
  storageUri: "s3://mlflow-artifacts/0/models/m-00000000000000000000000000000000/artifacts/"   # keep me
  requirements: [pytorch]
---
apiVersion: mlops.seldon.io/v1alpha1
kind: Model
metadata:
  name: enhanced-predictor
spec:
  storageUri: s3://mlflow-artifacts/0/models/m-11111111111111111111111111111111/artifacts/
"#;

/// A GitOps folder with the manifest above and a config.
struct Case {
    repo: tempfile::TempDir,
    home: tempfile::TempDir,
    url: String,
}

impl Case {
    /// `targets` is the YAML of the `targets:` list (indented by two spaces).
    fn new(server: &MlflowServer, targets: &str) -> Case {
        Self::with_manifest(server, targets, MANIFEST)
    }

    fn with_manifest(server: &MlflowServer, targets: &str, manifest: &str) -> Case {
        let repo = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(repo.path().join("k8s")).unwrap();
        std::fs::write(repo.path().join("k8s/models.yaml"), manifest).unwrap();
        let config = format!(
            "mlflow:\n  trackingUri: {url}\ntargets:\n{targets}uriRewrite:\n  - from: \"{root}/\"\n    to: \"s3://mlflow-artifacts/\"\n",
            url = server.url,
            root = server.artifact_dir.display()
        );
        std::fs::write(repo.path().join("modelbump.yaml"), config).unwrap();
        Case {
            repo,
            home,
            url: server.url.clone(),
        }
    }

    fn cmd(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = modelbump(self.home.path());
        cmd.arg("-C").arg(self.repo.path()).args(args);
        cmd
    }

    fn manifest(&self) -> String {
        std::fs::read_to_string(self.repo.path().join("k8s/models.yaml")).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.cmd(args).arg("-o").arg("json").output().unwrap();
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

/// The URI modelbump should write for an artifact URI of the shared server (after the rewrite, with
/// the manifest's trailing slash).
fn expected(server: &MlflowServer, artifact_uri: &str) -> String {
    let rest = artifact_uri
        .strip_prefix(&format!("{}/", server.artifact_dir.display()))
        .unwrap_or_else(|| panic!("{artifact_uri} is not under the artifact root"));
    format!("s3://mlflow-artifacts/{rest}/")
}

fn run_target(name: &str, experiment: &str, extra: &str) -> String {
    format!(
        "  - file: k8s/models.yaml\n    name: {name}\n    run:\n      experiment: {experiment}\n{extra}"
    )
}

fn seed_with_model(
    server: &MlflowServer,
    exp: &str,
    seed: RunSeed,
) -> (SeededRun, crate::support::mlflow::SeededModel) {
    let client = server.client();
    let run = client.seed_run(exp, &seed);
    let model = client.log_model(&run, "model", true);
    (run, model)
}

#[test]
fn harness_seeds_a_logged_model_the_mlflow_3_way() {
    let server = MlflowServer::shared();
    let client = server.client();
    let exp = client.create_experiment(&unique("harness"));
    let run = client.seed_run(&exp, &RunSeed::new("FINISHED", 1).metric("acc", 0.9));
    let model = client.log_model(&run, "model", true);
    assert!(model.model_id.starts_with("m-"), "{}", model.model_id);
    assert!(
        model
            .artifact_uri
            .ends_with(&format!("/{exp}/models/{}/artifacts", model.model_id)),
        "{}",
        model.artifact_uri
    );
    let got = client
        .call(
            reqwest::Method::GET,
            "runs/get",
            &[("run_id", &run.run_id)],
            None,
        )
        .unwrap();
    assert_eq!(got["run"]["info"]["status"], "FINISHED");
    assert_eq!(
        got["run"]["outputs"]["model_outputs"][0]["model_id"],
        Value::from(model.model_id.clone())
    );
}

/// The provisioning path on a fresh folder: a Python that cannot make a venv, and a pip that cannot
/// install, both fail with a message that says what to do, and leave no "ready" marker behind.
#[test]
fn provisioning_failures_say_what_to_do() {
    use crate::support::mlflow::ensure_venv_with;
    let dir = tempfile::tempdir().unwrap();
    let message = |r: std::thread::Result<PathBuf>| -> String {
        let e = r.expect_err("provisioning must fail");
        e.downcast_ref::<String>().cloned().unwrap_or_default()
    };
    let no_python = message(std::panic::catch_unwind(|| {
        ensure_venv_with(dir.path(), "/nonexistent/python3", &[])
    }));
    assert!(no_python.contains("-m venv` failed"), "{no_python}");
    assert!(no_python.contains("MODELBUMP_TEST_PYTHON"), "{no_python}");
    let no_index = message(std::panic::catch_unwind(|| {
        ensure_venv_with(
            dir.path(),
            "python3",
            &[
                ("PIP_INDEX_URL", "http://127.0.0.1:9/simple"),
                ("PIP_EXTRA_INDEX_URL", ""),
                ("PIP_FIND_LINKS", ""),
                ("PIP_CONFIG_FILE", "/dev/null"),
                ("PIP_RETRIES", "0"),
                ("PIP_TIMEOUT", "2"),
            ],
        )
    }));
    assert!(
        no_index.contains("pip could not install mlflow[auth]==3.17.2"),
        "{no_index}"
    );
    assert!(!dir.path().join("mlflow-3.17.2/.modelbump-ready").exists());
    assert!(dir.path().join("mlflow-3.17.2.lock").exists());
}

/// The newest FINISHED run wins over newer RUNNING and FAILED ones; its MLflow 3 logged model (not a
/// path under the run) is proposed; only the value's bytes change; the report carries the provenance.
#[test]
fn newest_finished_run_beats_newer_running_and_failed_runs() {
    let server = MlflowServer::shared();
    let client = server.client();
    let name = unique("newest");
    let exp = client.create_experiment(&name);
    seed_with_model(server, &exp, RunSeed::new("FINISHED", 30));
    let (best, model) = seed_with_model(server, &exp, RunSeed::new("FINISHED", 20));
    seed_with_model(server, &exp, RunSeed::new("RUNNING", 10));
    seed_with_model(server, &exp, RunSeed::new("FAILED", 5));
    let case = Case::new(server, &run_target("baseline-predictor", &name, ""));
    let want = expected(server, &model.artifact_uri);
    assert!(want.contains(&format!("/models/{}/artifacts/", model.model_id)));

    let plan = case.cmd(&["plan", "--detailed-exitcode"]).output().unwrap();
    assert_eq!(
        plan.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&plan.stderr)
    );
    let text = String::from_utf8(plan.stdout).unwrap();
    assert!(text.contains("--- a/k8s/models.yaml"), "{text}");
    assert!(
        text.contains(&format!("+  storageUri: \"{want}\"   # keep me")),
        "{text}"
    );
    assert_eq!(case.manifest(), MANIFEST, "plan writes nothing");

    let report = case.json(&["apply"]);
    let t = &report["targets"][0];
    assert_eq!(t["status"], "changed");
    assert_eq!(t["runId"], Value::from(best.run_id.clone()));
    assert_eq!(t["modelId"], Value::from(model.model_id.clone()));
    assert_eq!(t["experimentId"], Value::from(exp.clone()));
    assert_eq!(t["newUri"], Value::from(want.clone()));
    assert_eq!(t["line"], 7);
    assert_eq!(
        case.manifest(),
        MANIFEST.replace(
            "s3://mlflow-artifacts/0/models/m-00000000000000000000000000000000/artifacts/",
            &want
        ),
        "only the value changed"
    );
    // A second run finds nothing to do.
    let again = case.json(&["plan"]);
    assert_eq!(again["targets"][0]["status"], "unchanged");
    case.cmd(&["plan", "--detailed-exitcode"]).assert().code(0);
}

/// The target's filter is ANDed with FINISHED, and `orderBy` on a metric picks the best run, not the
/// newest.
#[test]
fn filter_and_metric_order() {
    let server = MlflowServer::shared();
    let name = unique("order");
    let exp = server.client().create_experiment(&name);
    seed_with_model(
        server,
        &exp,
        RunSeed::new("FINISHED", 30)
            .param("model_variant", "enhanced")
            .metric("val_accuracy", 0.99),
    );
    let (best, model) = seed_with_model(
        server,
        &exp,
        RunSeed::new("FINISHED", 20)
            .param("model_variant", "baseline")
            .metric("val_accuracy", 0.91),
    );
    seed_with_model(
        server,
        &exp,
        RunSeed::new("FINISHED", 10)
            .param("model_variant", "baseline")
            .metric("val_accuracy", 0.80),
    );
    seed_with_model(
        server,
        &exp,
        RunSeed::new("FAILED", 5)
            .param("model_variant", "baseline")
            .metric("val_accuracy", 0.999),
    );
    let case = Case::new(
        server,
        &run_target(
            "baseline-predictor",
            &name,
            "      filter: \"params.model_variant = 'baseline'\"\n      orderBy: metrics.val_accuracy DESC\n",
        ),
    );
    let report = case.json(&["plan"]);
    assert_eq!(report["targets"][0]["runId"], Value::from(best.run_id));
    assert_eq!(
        report["targets"][0]["newUri"],
        Value::from(expected(server, &model.artifact_uri))
    );
}

/// MLflow 2 layout: no logged model, the model is a folder of the run's artifacts (`model`, or the
/// target's `model:` path).
#[test]
fn mlflow_2_layout_under_the_run() {
    let server = MlflowServer::shared();
    let client = server.client();
    let name = unique("mlflow2");
    let exp = client.create_experiment(&name);
    let run = client.seed_run(&exp, &RunSeed::new("FINISHED", 10));
    let default_uri = client.log_run_model(&run, "model");
    let custom_uri = client.log_run_model(&run, "classifier");
    let targets = run_target("baseline-predictor", &name, "")
        + &run_target("enhanced-predictor", &name, "      model: classifier\n");
    let case = Case::new(server, &targets);
    let report = case.json(&["apply"]);
    assert_eq!(
        report["targets"][0]["newUri"],
        Value::from(expected(server, &default_uri))
    );
    assert_eq!(
        report["targets"][1]["newUri"],
        Value::from(expected(server, &custom_uri))
    );
    assert_eq!(report["targets"][1]["modelId"], Value::Null);
    assert!(case.manifest().contains(&expected(server, &custom_uri)));
}

/// A run with several logged models: `model:` picks one by name; without it the plan fails and says so.
#[test]
fn several_logged_models_are_picked_by_name() {
    let server = MlflowServer::shared();
    let client = server.client();
    let name = unique("several");
    let exp = client.create_experiment(&name);
    let run = client.seed_run(&exp, &RunSeed::new("FINISHED", 10));
    client.log_model(&run, "encoder", true);
    let clf = client.log_model(&run, "classifier", true);
    let case = Case::new(
        server,
        &run_target("baseline-predictor", &name, "      model: classifier\n"),
    );
    let report = case.json(&["plan"]);
    assert_eq!(report["targets"][0]["modelId"], Value::from(clf.model_id));
    let case = Case::new(server, &run_target("baseline-predictor", &name, ""));
    let out = case.cmd(&["plan"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("several models (classifier, encoder)"),
        "{err}"
    );
}

/// Registry sources: alias, version and stage, each resolved through get-download-uri to the physical
/// location (a `models:/m-...` source to the logged model's folder, a `runs:/` source to the run's).
#[test]
fn registered_alias_version_and_stage() {
    let server = MlflowServer::shared();
    let client = server.client();
    let exp = client.create_experiment(&unique("registry"));
    let (run1, model1) = seed_with_model(server, &exp, RunSeed::new("FINISHED", 20));
    let run2 = client.seed_run(&exp, &RunSeed::new("FINISHED", 10));
    let run2_uri = client.log_run_model(&run2, "model");
    let registered = unique("registered");
    client.create_registered_model(&registered);
    let v1 = client.create_version(
        &registered,
        &format!("models:/{}", model1.model_id),
        Some(&run1.run_id),
    );
    let v2 = client.create_version(
        &registered,
        &format!("runs:/{}/model", run2.run_id),
        Some(&run2.run_id),
    );
    client.set_alias(&registered, "champion", &v1);
    client.transition_stage(&registered, &v2, "Production");

    let reg = |name: &str, pick: &str| {
        format!(
            "  - file: k8s/models.yaml\n    name: {name}\n    registered:\n      name: {registered}\n      {pick}\n"
        )
    };
    let case = Case::new(
        server,
        &(reg("baseline-predictor", "alias: champion")
            + &reg("enhanced-predictor", "stage: Production")),
    );
    let report = case.json(&["plan"]);
    let (a, s) = (&report["targets"][0], &report["targets"][1]);
    assert_eq!(a["modelVersion"], Value::from(v1.clone()));
    assert_eq!(a["runId"], Value::from(run1.run_id.clone()));
    assert_eq!(
        a["newUri"],
        Value::from(expected(server, &model1.artifact_uri))
    );
    assert_eq!(s["modelVersion"], Value::from(v2.clone()));
    assert_eq!(s["newUri"], Value::from(expected(server, &run2_uri)));

    let case = Case::new(
        server,
        &reg("baseline-predictor", &format!("version: {v2}")),
    );
    let report = case.json(&["plan"]);
    assert_eq!(report["targets"][0]["modelVersion"], Value::from(v2));
    assert_eq!(
        report["targets"][0]["newUri"],
        Value::from(expected(server, &run2_uri))
    );
}

/// `MLFLOW_REGISTRY_URI` sends registry questions to another server (here a stub standing in for a
/// separate registry); runs, logged models and artifacts still come from the tracking server.
#[test]
fn registry_uri_splits_registry_questions_off() {
    use crate::support::http_stub::{HttpStub, Step};
    let server = MlflowServer::shared();
    let exp = server.client().create_experiment(&unique("split"));
    let (run, model) = seed_with_model(server, &exp, RunSeed::new("FINISHED", 1));
    let version = format!(
        r#"{{"model_version":{{"name":"reg","version":"3","source":"models:/{}","run_id":"{}","status":"READY","current_stage":"None"}}}}"#,
        model.model_id, run.run_id
    );
    let registry = HttpStub::start(vec![
        Step::json(200, &version),
        Step::json(
            200,
            &format!(r#"{{"artifact_uri":"{}"}}"#, model.artifact_uri),
        ),
    ]);
    let case = Case::new(
        server,
        "  - file: k8s/models.yaml\n    name: baseline-predictor\n    registered: {name: reg, alias: champion}\n",
    );
    let out = case
        .cmd(&["plan", "-o", "json"])
        .env("MLFLOW_REGISTRY_URI", &registry.url)
        .output()
        .unwrap();
    crate::support::assert_success(&out);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["targets"][0]["modelVersion"], "3");
    assert_eq!(report["targets"][0]["runId"], Value::from(run.run_id));
    assert_eq!(
        report["targets"][0]["newUri"],
        Value::from(expected(server, &model.artifact_uri))
    );
    let seen: Vec<String> = registry
        .seen()
        .into_iter()
        .map(|s| s.request_line)
        .collect();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen[0].contains("registered-models/alias?name=reg&alias=champion"),
        "{seen:?}"
    );
    assert!(
        seen[1].contains("model-versions/get-download-uri"),
        "{seen:?}"
    );
}

/// What cannot be resolved fails the whole command: exit 1, every failing target named with the reason,
/// nothing written, even for the targets that did resolve.
#[test]
fn missing_experiment_alias_and_model_fail_and_write_nothing() {
    let server = MlflowServer::shared();
    let client = server.client();
    let good = unique("good");
    let exp = client.create_experiment(&good);
    seed_with_model(server, &exp, RunSeed::new("FINISHED", 5));
    let registered = unique("noalias");
    client.create_registered_model(&registered);
    let missing_exp = unique("no-such-experiment");
    let targets = run_target("baseline-predictor", &missing_exp, "")
        + &format!(
            "  - file: k8s/models.yaml\n    name: enhanced-predictor\n    registered:\n      name: {registered}\n      alias: champion\n"
        );
    let case = Case::new(server, &targets);
    let out = case.cmd(&["apply"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("2 of 2 targets failed; nothing was written"),
        "{err}"
    );
    assert!(
        err.contains(&format!("targets[0] (baseline-predictor in k8s/models.yaml): experiment \"{missing_exp}\" not found")),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "registered model \"{registered}\" has no alias \"champion\""
        )),
        "{err}"
    );
    assert_eq!(case.manifest(), MANIFEST);

    // A run that logged no model at all, next to a target that resolves: still nothing is written.
    let empty = unique("nomodel");
    let exp = client.create_experiment(&empty);
    client.seed_run(&exp, &RunSeed::new("FINISHED", 5));
    let targets =
        run_target("baseline-predictor", &good, "") + &run_target("enhanced-predictor", &empty, "");
    let case = Case::new(server, &targets);
    let out = case.cmd(&["apply"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("1 of 2 targets failed"), "{err}");
    assert!(err.contains("has no model: no logged model"), "{err}");
    assert_eq!(case.manifest(), MANIFEST);

    // No FINISHED run at all.
    let running = unique("running");
    let exp = client.create_experiment(&running);
    seed_with_model(server, &exp, RunSeed::new("RUNNING", 1));
    let case = Case::new(server, &run_target("baseline-predictor", &running, ""));
    case.cmd(&["plan"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("no FINISHED run"));
}

/// Targets that point at a missing file or an unknown name are listed, in config order, before any
/// question is asked of MLflow.
#[test]
fn unknown_files_and_names_are_listed_in_config_order() {
    let server = MlflowServer::shared();
    let targets = run_target("no-such-model", "x", "")
        + "  - file: k8s/missing.yaml\n    name: baseline-predictor\n    run: {experiment: x}\n";
    let case = Case::new(server, &targets);
    let out = case.cmd(&["apply"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let first = err
        .find("targets[0] (no-such-model in k8s/models.yaml)")
        .expect(&err);
    let second = err
        .find("targets[1] (baseline-predictor in k8s/missing.yaml): cannot read k8s/missing.yaml")
        .expect(&err);
    assert!(first < second, "{err}");
    assert!(err.contains("no model named \"no-such-model\""), "{err}");
    assert_eq!(case.manifest(), MANIFEST);
}

/// Pre-flight: a logged model without an MLmodel file is never proposed.
#[test]
fn preflight_refuses_a_model_without_mlmodel() {
    let server = MlflowServer::shared();
    let client = server.client();
    let name = unique("preflight");
    let exp = client.create_experiment(&name);
    let run = client.seed_run(&exp, &RunSeed::new("FINISHED", 1));
    let model = client.log_model(&run, "model", false);
    let case = Case::new(server, &run_target("baseline-predictor", &name, ""));
    case.cmd(&["plan"]).assert().code(1).stderr(
        predicates::str::contains("pre-flight: no MLmodel at")
            .and(predicates::str::contains(model.model_id.as_str())),
    );
}

/// Where the server cannot list the artifact store (an S3 root it has no access to), the plan proceeds
/// and says so as a warning in the report.
#[test]
fn unlistable_artifact_store_is_a_warning() {
    let server = MlflowServer::shared();
    let client = server.client();
    let name = unique("s3exp");
    let exp = client.create_experiment_at(&name, "s3://modelbump-test-bucket/prefix");
    let run = client.seed_run(&exp, &RunSeed::new("FINISHED", 1));
    let model = client.log_model(&run, "model", false);
    assert!(
        model
            .artifact_uri
            .starts_with("s3://modelbump-test-bucket/prefix/")
    );
    let case = Case::new(server, &run_target("baseline-predictor", &name, ""));
    let report = case.json(&["plan"]);
    let t = &report["targets"][0];
    assert_eq!(t["status"], "changed");
    assert_eq!(t["newUri"], Value::from(format!("{}/", model.artifact_uri)));
    let warnings = t["warnings"].to_string();
    assert!(warnings.contains("could not list"), "{warnings}");
}

/// What MLflow reports as a location is checked before it is proposed: a `..` segment, a local path
/// (as a `file:` URI or bare) that no `uriRewrite` maps, and another scheme than the current value's
/// fail the target (exit 1, nothing written) with the rule to add; `allowSchemeChange` lets the last
/// two through.
#[test]
fn reported_locations_are_checked_before_they_are_proposed() {
    let server = MlflowServer::shared();
    let client = server.client();
    let elsewhere = server.dir.join(unique("elsewhere"));
    let cases = [
        (
            "s3://modelbump-test-bucket/../../etc".to_string(),
            "`..` segment".to_string(),
        ),
        (
            format!("file://{}", elsewhere.display()),
            "a local path, which the serving side cannot read".to_string(),
        ),
        (
            format!("{}-bare", elsewhere.display()),
            format!(
                "(the one uriRewrite rule does not match it); add a uriRewrite rule that maps it to what the serving side reads, e.g. {{from: \"{}-bare/\", to: \"s3://mlflow-artifacts/\"}}",
                elsewhere.display()
            ),
        ),
        (
            "gs://modelbump-test-bucket/prefix".to_string(),
            "its scheme gs: differs from the current value's (s3://mlflow-artifacts/0/models/m-00000000000000000000000000000000/artifacts/)".to_string(),
        ),
    ];
    for (location, expect) in &cases {
        let name = unique("where");
        let exp = client.create_experiment_at(&name, location);
        let run = client.seed_run(&exp, &RunSeed::new("FINISHED", 1));
        let local = !location.contains("://") || location.starts_with("file:");
        client.log_model(&run, "model", local);
        let case = Case::new(server, &run_target("baseline-predictor", &name, ""));
        // No retries of the listing the server cannot do (s3, gs): the test stays fast.
        let out = case
            .cmd(&["apply"])
            .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{location}: {err}");
        assert!(err.contains(expect.as_str()), "{location}: {err}");
        assert!(err.contains("nothing was written"), "{location}: {err}");
        assert_eq!(case.manifest(), MANIFEST, "{location}");
        if location.contains("..") {
            continue;
        }
        assert!(err.contains("allowSchemeChange: true"), "{location}: {err}");
        // The explicit opt-in lets it through.
        let case = Case::new(
            server,
            &run_target("baseline-predictor", &name, "    allowSchemeChange: true\n"),
        );
        let out = case
            .cmd(&["plan", "-o", "json"])
            .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
            .output()
            .unwrap();
        crate::support::assert_success(&out);
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["targets"][0]["status"], "changed", "{location}");
    }
}

/// The pre-flight lists a logged model by id: the URI proposed must also be that model's location. A
/// registry version whose source names the model but points elsewhere fails the target.
#[test]
fn a_registry_location_that_is_not_the_models_fails_the_preflight() {
    let server = MlflowServer::shared();
    let client = server.client();
    let exp = client.create_experiment(&unique("where-registry"));
    let (_, model) = seed_with_model(server, &exp, RunSeed::new("FINISHED", 1));
    let registered = unique("where-registry");
    client.create_registered_model(&registered);
    let version = client.create_version(
        &registered,
        &format!("s3://elsewhere/x/models/{}/artifacts", model.model_id),
        None,
    );
    client.set_alias(&registered, "champion", &version);
    let case = Case::new(
        server,
        &format!(
            "  - file: k8s/models.yaml\n    name: baseline-predictor\n    registered:\n      name: {registered}\n      alias: champion\n"
        ),
    );
    let out = case.cmd(&["apply"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "s3://elsewhere/x/models/{id}/artifacts is not the location of logged model {id}",
            id = model.model_id
        )),
        "{err}"
    );
    assert_eq!(case.manifest(), MANIFEST);
}

/// Gates: a threshold on the candidate's metrics, and a comparison with the model deployed now,
/// identified from the current URI's logged-model id. A failed gate blocks (exit 0, URI kept).
#[test]
fn gates_on_metrics_and_on_the_deployed_model() {
    let server = MlflowServer::shared();
    let client = server.client();
    let name = unique("gates");
    let exp = client.create_experiment(&name);
    let (_, deployed) = seed_with_model(
        server,
        &exp,
        RunSeed::new("FINISHED", 30).metric("acc", 0.9),
    );
    let deployed_uri = expected(server, &deployed.artifact_uri);
    let manifest = MANIFEST.replace(
        "s3://mlflow-artifacts/0/models/m-00000000000000000000000000000000/artifacts/",
        &deployed_uri,
    );
    let (worse_run, _) = seed_with_model(
        server,
        &exp,
        RunSeed::new("FINISHED", 20)
            .metric("acc", 0.85)
            .param("epochs", "12"),
    );

    let gated = |require: &str| {
        run_target("baseline-predictor", &name, "") + &format!("    require:\n{require}")
    };
    let case = Case::with_manifest(
        server,
        &gated("      - \"metrics.acc >= 0.8\"\n      - \"metrics.acc > deployed.metrics.acc\"\n"),
        &manifest,
    );
    let out = case.cmd(&["apply"]).output().unwrap();
    crate::support::assert_success(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("blocked"), "{text}");
    assert!(
        text.contains("metrics.acc (0.85) > deployed.metrics.acc (0.9) does not hold"),
        "{text}"
    );
    assert_eq!(case.manifest(), manifest, "a blocked target keeps its URI");
    let report = case.json(&["plan"]);
    assert_eq!(report["targets"][0]["status"], "blocked");
    assert_eq!(
        report["targets"][0]["newUri"],
        Value::from(deployed_uri.clone())
    );
    assert_eq!(report["targets"][0]["runId"], Value::from(worse_run.run_id));

    // A better run passes both gates.
    let (_, better) = seed_with_model(
        server,
        &exp,
        RunSeed::new("FINISHED", 10).metric("acc", 0.95),
    );
    let report = case.json(&["apply"]);
    assert_eq!(report["targets"][0]["status"], "changed");
    assert_eq!(
        case.manifest(),
        manifest.replace(&deployed_uri, &expected(server, &better.artifact_uri))
    );

    // Params, tags and attributes, ANDed: one failing gate blocks.
    let case = Case::with_manifest(
        server,
        &gated("      - \"attributes.status = 'FINISHED'\"\n      - \"params.epochs >= 20\"\n"),
        &manifest,
    );
    let report = case.json(&["plan"]);
    assert_eq!(report["targets"][0]["status"], "blocked");
    let reason = report["targets"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("param \"epochs\" is not set"), "{reason}");
}

/// A gate that cannot be parsed is an error before anything else happens.
#[test]
fn invalid_gate_is_an_error() {
    let server = MlflowServer::shared();
    let case = Case::new(
        server,
        &(run_target("baseline-predictor", "whatever", "")
            + "    require: [\"metrics.acc >> 1\"]\n"),
    );
    case.cmd(&["plan"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "invalid gate \"metrics.acc >> 1\"",
        ));
}

/// Pinned targets are not resolved and keep their URI.
#[test]
fn pinned_target_is_left_alone() {
    let server = MlflowServer::shared();
    let case = Case::new(
        server,
        "  - file: k8s/models.yaml\n    name: enhanced-predictor\n    pinned: true\n",
    );
    let report = case.json(&["apply"]);
    assert_eq!(report["targets"][0]["status"], "pinned");
    assert_eq!(case.manifest(), MANIFEST);
}

/// The text output of `plan`: a line per target (status, file:line, name, the new URI or the reason,
/// provenance), the summary line, then the unified diff. Ids are replaced by placeholders.
#[test]
fn plan_text_output_shape() {
    let server = MlflowServer::shared();
    let name = unique("shape");
    let exp = server.client().create_experiment(&name);
    let (run, model) =
        seed_with_model(server, &exp, RunSeed::new("FINISHED", 1).metric("acc", 0.7));
    let targets = run_target("baseline-predictor", &name, "")
        + "  - file: k8s/models.yaml\n    name: enhanced-predictor\n    pinned: true\n";
    let case = Case::new(server, &targets);
    let out = case.cmd(&["plan"]).output().unwrap();
    crate::support::assert_success(&out);
    let text = String::from_utf8(out.stdout)
        .unwrap()
        .replace(&model.model_id, "m-<model>")
        .replace(&run.run_id, "<run>")
        // The table shows the first 12 characters of the run id.
        .replace(&run.run_id[..12], "<run>")
        .replace(
            &format!("mlflow-artifacts/{exp}/"),
            "mlflow-artifacts/<exp>/",
        );
    insta::assert_snapshot!(text);
}

/// `--report FILE` writes the same JSON as `-o json`; `--tracking-uri` beats the config file.
#[test]
fn report_file_and_tracking_uri_flag() {
    let server = MlflowServer::shared();
    let name = unique("report");
    let exp = server.client().create_experiment(&name);
    seed_with_model(server, &exp, RunSeed::new("FINISHED", 1));
    let case = Case::new(server, &run_target("baseline-predictor", &name, ""));
    let config = std::fs::read_to_string(case.repo.path().join("modelbump.yaml"))
        .unwrap()
        .replace(&case.url, "http://127.0.0.1:9");
    std::fs::write(case.repo.path().join("modelbump.yaml"), config).unwrap();
    let report_path = case.repo.path().join("report.json");
    let out = case
        .cmd(&[
            "plan",
            "-o",
            "json",
            "--tracking-uri",
            &case.url,
            "--report",
        ])
        .arg(&report_path)
        .output()
        .unwrap();
    crate::support::assert_success(&out);
    let file = std::fs::read_to_string(&report_path).unwrap();
    assert_eq!(file, String::from_utf8(out.stdout).unwrap());
    let report: Value = serde_json::from_str(&file).unwrap();
    assert_eq!(report["targets"][0]["status"], "changed");
    assert_eq!(report["commit"], Value::Null);
}

/// A basic-auth server: the right credentials from the environment work, wrong ones fail with the
/// status and a hint, and the password never shows.
#[test]
fn basic_auth_server_right_and_wrong_credentials() {
    let password = "admin-password-canary-7431";
    let server = MlflowServer::start(ServerOptions {
        basic_auth: Some(("admin".into(), password.into())),
        proxied_artifacts: false,
    });
    let admin = server.admin_client();
    let name = unique("auth");
    let exp = admin.create_experiment(&name);
    let run = admin.seed_run(&exp, &RunSeed::new("FINISHED", 1));
    let model = admin.log_model(&run, "model", true);
    let case = Case::new(&server, &run_target("baseline-predictor", &name, ""));

    let out = case
        .cmd(&["plan", "-o", "json"])
        .env("MLFLOW_TRACKING_USERNAME", "admin")
        .env("MLFLOW_TRACKING_PASSWORD", password)
        .output()
        .unwrap();
    crate::support::assert_success(&out);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["targets"][0]["newUri"],
        Value::from(expected(&server, &model.artifact_uri))
    );

    // Credentials from ~/.mlflow/credentials work too.
    std::fs::create_dir_all(case.home.path().join(".mlflow")).unwrap();
    std::fs::write(
        case.home.path().join(".mlflow/credentials"),
        format!(
            "[mlflow]\nmlflow_tracking_username = admin\nmlflow_tracking_password = {password}\n"
        ),
    )
    .unwrap();
    case.cmd(&["plan"]).assert().success();
    std::fs::remove_file(case.home.path().join(".mlflow/credentials")).unwrap();

    for (user, pass) in [("admin", "wrong-password-1234"), ("", "")] {
        let mut cmd = case.cmd(&["plan", "-v"]);
        if !user.is_empty() {
            cmd.env("MLFLOW_TRACKING_USERNAME", user)
                .env("MLFLOW_TRACKING_PASSWORD", pass);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("answered 401"), "{err}");
        assert!(err.contains("MLFLOW_TRACKING_USERNAME"), "{err}");
        assert!(
            !err.contains("wrong-password-1234") && !err.contains(password),
            "{err}"
        );
    }

    // Credentials written into the URI are used, and never shown.
    let url_with_creds = server
        .url
        .replace("http://", &format!("http://admin:{password}@"));
    let out = case
        .cmd(&["plan", "-vv", "--tracking-uri", &url_with_creds])
        .output()
        .unwrap();
    crate::support::assert_success(&out);
    for stream in [&out.stdout, &out.stderr] {
        assert!(!String::from_utf8_lossy(stream).contains(password));
    }
}

// Fault injection: a scripted stub in place of the server, for what a real server does not do on demand.

mod faults {
    use crate::support::http_stub::{self, HttpStub, Step};
    use crate::support::modelbump;

    const EXPERIMENT: &str = r#"{"experiment":{"experiment_id":"7","name":"exp","artifact_location":"s3://b/7","lifecycle_stage":"active"}}"#;

    /// Runs `plan` against the stub with extra environment; returns (exit code, stderr).
    fn plan(stub: &HttpStub, env: &[(&str, &str)]) -> (Option<i32>, String) {
        plan_with(stub, &[], env)
    }

    /// [`plan`] with extra arguments.
    fn plan_with(stub: &HttpStub, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
        let repo = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(repo.path().join("k8s")).unwrap();
        std::fs::write(repo.path().join("k8s/models.yaml"), super::MANIFEST).unwrap();
        std::fs::write(
            repo.path().join("modelbump.yaml"),
            "targets:\n  - file: k8s/models.yaml\n    name: baseline-predictor\n    run: {experiment: exp}\n",
        )
        .unwrap();
        let mut cmd = modelbump(home.path());
        cmd.arg("-C")
            .arg(repo.path())
            .args(["plan", "--tracking-uri", &stub.url])
            .args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    #[test]
    fn retries_500_and_429_then_goes_on() {
        let stub = HttpStub::start(vec![
            Step::html(
                500,
                "<html><body><h1>Internal Server Error</h1></body></html>",
            ),
            Step::too_many(1),
            Step::html(503, "<h1>Service Unavailable</h1>"),
            Step::json(200, EXPERIMENT),
            Step::json(200, "{}"),
        ]);
        let (code, err) = plan(&stub, &[]);
        assert_eq!(code, Some(1));
        assert!(
            err.contains("no FINISHED run in experiment \"exp\""),
            "{err}"
        );
        let seen = stub.seen();
        assert_eq!(seen.len(), 5, "{seen:?}");
        assert!(
            seen[..4]
                .iter()
                .all(|s| s.request_line.contains("experiments/get-by-name"))
        );
        assert!(
            seen[4]
                .request_line
                .starts_with("POST /api/2.0/mlflow/runs/search")
        );
        // The retry after the 429 waited at least what Retry-After asked for.
        assert!(seen[2].at - seen[1].at >= std::time::Duration::from_millis(950));
    }

    #[test]
    fn client_errors_are_final_and_html_is_excerpted() {
        let stub = HttpStub::start(vec![Step::html(
            404,
            "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n<p>The requested URL was not found on the server.</p>\n",
        )]);
        let (code, err) = plan(&stub, &[]);
        assert_eq!(code, Some(1));
        assert!(
            err.contains("answered HTTP 404 for experiment \"exp\": 404 Not Found Not Found The requested URL was not found on the server."),
            "{err}"
        );
        assert!(!err.contains("<h1>"), "{err}");
        assert_eq!(stub.seen().len(), 1, "a 4xx is not retried");
    }

    #[test]
    fn server_errors_after_the_last_retry_name_the_status() {
        let page = "<html><head><title>500 Internal Server Error</title></head><body><h1>Internal Server Error</h1><p>The server encountered an internal error.</p></body></html>";
        let stub = HttpStub::start(vec![Step::html(500, page), Step::html(500, page)]);
        let (code, err) = plan(&stub, &[("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")]);
        assert_eq!(code, Some(4), "unreachable or 5xx after the retries: {err}");
        assert!(
            err.contains("answered HTTP 500 for experiment \"exp\": 500 Internal Server Error"),
            "{err}"
        );
        assert_eq!(stub.seen().len(), 2, "one attempt and one retry");
    }

    #[test]
    fn truncated_json_is_a_protocol_error() {
        let stub = HttpStub::start(vec![Step::json(
            200,
            r#"{"experiment":{"experiment_id":"7","na"#,
        )]);
        let (code, err) = plan(&stub, &[]);
        assert_eq!(code, Some(1));
        assert!(err.contains("unexpected answer from"), "{err}");
        assert!(err.contains("the body is not JSON"), "{err}");
    }

    #[test]
    fn body_cut_short_is_a_transport_error() {
        let stub = HttpStub::start(vec![Step::Truncated(EXPERIMENT[..30].to_string())]);
        let (code, err) = plan(&stub, &[("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")]);
        assert_eq!(code, Some(4), "unreachable or 5xx after the retries: {err}");
        assert!(err.contains("cannot reach"), "{err}");
    }

    #[test]
    fn timeouts_are_bounded_by_mlflow_http_request_timeout() {
        let stub = HttpStub::start(vec![Step::Hang, Step::Hang]);
        let (code, err) = plan(
            &stub,
            &[
                ("MLFLOW_HTTP_REQUEST_TIMEOUT", "1"),
                ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1"),
            ],
        );
        assert_eq!(code, Some(4), "unreachable or 5xx after the retries: {err}");
        assert!(
            err.contains("cannot reach") && err.contains("timed out"),
            "{err}"
        );
        assert_eq!(stub.seen().len(), 2);
    }

    #[test]
    fn connection_resets_are_retried() {
        let stub = HttpStub::start(vec![
            Step::Reset,
            Step::Reset,
            Step::json(200, EXPERIMENT),
            Step::json(200, "{}"),
        ]);
        let (code, err) = plan(&stub, &[("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")]);
        assert_eq!(code, Some(1));
        assert!(err.contains("no FINISHED run"), "{err}");
        let (code, err) = plan(
            &HttpStub::start(vec![Step::Reset, Step::Reset]),
            &[("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")],
        );
        assert_eq!(code, Some(4), "unreachable or 5xx after the retries: {err}");
        assert!(err.contains("cannot reach"), "{err}");
    }

    /// The token goes in the Authorization header only, and an error body that echoes it is scrubbed.
    #[test]
    fn a_token_echoed_by_the_server_is_scrubbed() {
        let canary = "canary-token-5f3a9c";
        let stub = HttpStub::start(vec![Step::html(
            500,
            &format!("<p>bad header: Authorization: Bearer {canary}</p>"),
        )]);
        let (code, err) = plan(
            &stub,
            &[
                ("MLFLOW_TRACKING_TOKEN", canary),
                ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0"),
                ("MODELBUMP_LOG", "trace"),
            ],
        );
        assert_eq!(code, Some(4), "unreachable or 5xx after the retries: {err}");
        assert!(!err.contains(canary), "{err}");
        assert!(err.contains("Bearer ***"), "{err}");
        let seen = stub.seen();
        assert!(
            seen[0]
                .headers
                .iter()
                .any(|(k, v)| k == "authorization" && v == &format!("Bearer {canary}"))
        );
        assert!(!seen[0].request_line.contains(canary));
    }

    /// Basic credentials echoed by the server are scrubbed in every form a header can carry them: the
    /// password, and `user:password` in base64, standard or URL-safe, padded or not.
    #[test]
    fn basic_credentials_echoed_by_the_server_are_scrubbed() {
        let password = "CANARYPW100~?";
        // base64("alice:CANARYPW100~?"): the standard alphabet has a '+', the URL-safe one a '-'.
        let standard = "YWxpY2U6Q0FOQVJZUFcxMDB+Pw==";
        let url_safe = "YWxpY2U6Q0FOQVJZUFcxMDB-Pw";
        let stub = HttpStub::start(vec![Step::html(
            500,
            &format!(
                "<p>bad header: Authorization: Basic {standard}</p><p>as seen by the proxy: {url_safe}</p><p>user alice:{password}</p>"
            ),
        )]);
        let (code, err) = plan_with(
            &stub,
            &["-vvv"],
            &[
                ("MLFLOW_TRACKING_USERNAME", "alice"),
                ("MLFLOW_TRACKING_PASSWORD", password),
                ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0"),
            ],
        );
        assert_eq!(code, Some(4), "unreachable or 5xx after the retries: {err}");
        assert!(err.contains("answered HTTP 500"), "{err}");
        for leak in ["YWxpY2U6Q0FOQVJZUFcxMDB", "CANARYPW100"] {
            assert!(!err.contains(leak), "{leak} printed:\n{err}");
        }
        assert!(err.contains("Basic ***"), "{err}");
        let sent = ("authorization".to_string(), format!("Basic {standard}"));
        assert!(stub.seen()[0].headers.contains(&sent));
    }

    /// A secret is scrubbed before the body is cut to an excerpt, so no prefix of it is left where the
    /// cut falls inside it.
    #[test]
    fn a_secret_cut_by_the_excerpt_is_still_scrubbed() {
        let canary = "canary-token-0d1e2f3a4b5c";
        // The excerpt keeps 300 characters: the token starts 10 characters before the cut.
        let body = format!("{} Bearer {canary}", "x".repeat(282));
        let stub = HttpStub::start(vec![Step::html(500, &body)]);
        let (code, err) = plan(
            &stub,
            &[
                ("MLFLOW_TRACKING_TOKEN", canary),
                ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0"),
            ],
        );
        assert_eq!(code, Some(4), "unreachable or 5xx after the retries: {err}");
        assert!(err.contains("answered HTTP 500"), "{err}");
        assert!(!err.contains("canary-tok"), "{err}");
    }

    /// An answer over the 64 MiB limit fails, naming the server and the limit, whether its size is
    /// announced (refused before reading) or not (chunked, cut off once the limit is passed).
    #[test]
    fn an_answer_over_the_size_limit_fails_naming_the_server_and_the_limit() {
        http_stub::assert_oversized_answers_fail(
            1,
            |stub| plan(stub, &[]),
            |stub| format!("from {} for experiment \"exp\"", stub.url),
        );
    }
}
