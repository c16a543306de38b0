//! Path and marker targets in the features that follow a target over time, through the real binary and
//! a real MLflow server: `history`, `rollback`, `hold` and `release` on a Helm values path target; `run`
//! finishing its own unpushed commit of path-target edits; `set` refusing a name that is both a marker
//! and a known kind's field; and path targets in multi-document files (`document:`).

use serde_json::Value;

use crate::support::git::{Fixture, git, read, write};
use crate::support::mlflow::{MlflowServer, RunSeed, unique};
use crate::support::{assert_success, modelbump};

const VALUES_FILE: &str = "charts/llm/values.yaml";
const FIRST: &str = "s3://mlflow-artifacts/0/models/m-0/artifacts/";

fn values(uri: &str) -> String {
    format!(
        "# Helm values of the LLM chart\nreplicaCount: 2\nmodel:\n  # where the weights are\n  uri: \"{uri}\"   # bumped by modelbump\n  name: llm\n"
    )
}

/// A GitOps repo whose Helm values path target `llm-values` follows the newest run of a fresh
/// experiment of the shared MLflow server.
struct Case {
    fx: Fixture,
    server: &'static MlflowServer,
    exp: String,
    start: i64,
}

impl Case {
    fn new() -> Case {
        let server = MlflowServer::shared();
        let exp_name = unique("anyhist");
        let exp = server.client().create_experiment(&exp_name);
        let config = format!(
            "mlflow:\n  trackingUri: {url}\nuriRewrite:\n  - from: \"{root}/\"\n    to: \"s3://mlflow-artifacts/\"\ntargets:\n  - name: llm-values\n    file: {VALUES_FILE}\n    path: model.uri\n    run: {{experiment: {exp_name}}}\n",
            url = server.url,
            root = server.artifact_dir.display()
        );
        let fx = Fixture::new(&[(VALUES_FILE, &values(FIRST)), ("modelbump.yaml", &config)]);
        Case {
            fx,
            server,
            exp,
            start: 1000,
        }
    }

    /// A newer FINISHED run with a logged model; its run id and the URI modelbump writes for it.
    fn new_model(&mut self) -> (String, String) {
        self.start -= 1;
        let client = self.server.client();
        let run = client.seed_run(&self.exp, &RunSeed::new("FINISHED", self.start));
        let model = client.log_model(&run, "model", true);
        let rest = model
            .artifact_uri
            .strip_prefix(&format!("{}/", self.server.artifact_dir.display()))
            .unwrap()
            .to_string();
        (run.run_id, format!("s3://mlflow-artifacts/{rest}/"))
    }

    fn cmd(&self, args: &[&str]) -> std::process::Output {
        modelbump(&self.fx.home)
            .current_dir(&self.fx.work)
            .args(args)
            .timeout(std::time::Duration::from_secs(120))
            .output()
            .unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.cmd(&[&["-o", "json"], args].concat());
        assert_success(&out);
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

#[test]
fn history_rollback_hold_and_release_follow_a_helm_values_path_target() {
    let mut case = Case::new();
    let (first_run, first_uri) = case.new_model();
    let report = case.json(&["run"]);
    assert_eq!(report["targets"][0]["status"], "changed", "{report}");
    assert_eq!(report["targets"][0]["kind"], "path");
    let (second_run, second_uri) = case.new_model();
    case.json(&["run"]);
    let after_second = case.fx.remote_file(VALUES_FILE);
    assert_eq!(after_second, values(&second_uri).trim_end());

    // A person edits the value by hand, with a plain git commit, and pushes it.
    let work = case.fx.work.clone();
    let manual = "s3://mlflow-artifacts/hand-picked/";
    write(&work, VALUES_FILE, &values(manual));
    git(&work, &["commit", "-qam", "use the hand-picked model"]);
    git(&work, &["push", "-q", "origin", "main"]);

    // Under `manualChanges: hold` (the default) the hand-made value is held, as a known kind's is.
    let report = case.json(&["run"]);
    assert_eq!(report["targets"][0]["status"], "held", "{report}");
    let reason = report["targets"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("use the hand-picked model"), "{report}");
    assert_eq!(case.fx.remote_file(VALUES_FILE), values(manual).trim_end());

    let history = case.json(&["history", "llm-values"]);
    let target = &history["targets"][0];
    assert_eq!(target["name"], "llm-values");
    assert_eq!(target["file"], VALUES_FILE);
    assert_eq!(target["current"], manual);
    let changes = target["changes"].as_array().unwrap();
    let seen: Vec<(&str, &str)> = changes
        .iter()
        .map(|c| (c["action"].as_str().unwrap(), c["new"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("manual", manual),
            ("update", second_uri.as_str()),
            ("update", first_uri.as_str()),
            ("added", FIRST),
        ],
        "{history}"
    );
    assert_eq!(changes[1]["runId"], second_run.as_str());
    assert_eq!(changes[2]["runId"], first_run.as_str());

    // Rollback to the value before the manual edit: byte for byte the file the second deploy left.
    let report = case.json(&[
        "rollback",
        "llm-values",
        "--reason",
        "the hand-picked model is slow",
        "--push",
    ]);
    let line = &report["targets"][0];
    assert_eq!(line["status"], "changed", "{report}");
    assert_eq!(line["kind"], "path");
    assert_eq!(line["oldUri"], manual);
    assert_eq!(line["newUri"], second_uri.as_str());
    assert_eq!(line["runId"], second_run.as_str());
    assert_eq!(
        line["hold"]["reason"],
        "rollback: the hand-picked model is slow"
    );
    assert_eq!(report["pushed"], true);
    assert_eq!(case.fx.remote_file(VALUES_FILE), after_second);
    assert_eq!(read(&work, VALUES_FILE).trim_end(), after_second);
    assert!(
        case.fx
            .remote_file(".modelbump/holds.yaml")
            .contains("llm-values")
    );

    // A newer model: held, nothing pushed.
    let (_, third_uri) = case.new_model();
    let tip = case.fx.remote_head();
    let report = case.json(&["run"]);
    assert_eq!(report["targets"][0]["status"], "held", "{report}");
    assert_eq!(report["commit"], Value::Null);
    assert_eq!(case.fx.remote_head(), tip, "nothing pushed");
    let history = case.json(&["history", "llm-values"]);
    assert_eq!(history["targets"][0]["changes"][0]["action"], "rollback");
    assert_eq!(
        history["targets"][0]["hold"]["reason"],
        "rollback: the hand-picked model is slow"
    );

    // Released, the next run deploys it.
    let report = case.json(&["release", "llm-values", "--push"]);
    assert_eq!(report["pushed"], true, "{report}");
    assert!(
        !case
            .fx
            .remote_file(".modelbump/holds.yaml")
            .contains("llm-values")
    );
    let report = case.json(&["run"]);
    assert_eq!(report["targets"][0]["status"], "changed", "{report}");
    assert_eq!(
        case.fx.remote_file(VALUES_FILE),
        values(&third_uri).trim_end()
    );
}

#[test]
fn run_pushes_its_own_unpushed_commit_of_a_path_target_edit() {
    let mut case = Case::new();
    let (_, uri) = case.new_model();
    // apply + commit, without a push: the commit stays local.
    assert_success(&case.cmd(&["apply"]));
    let report = case.json(&["commit"]);
    assert_eq!(report["pushed"], false, "{report}");
    let local = git(&case.fx.work, &["rev-parse", "HEAD"]);
    assert_ne!(case.fx.remote_head(), local);

    // The next run finds nothing new to write, and pushes that commit's edit as its own.
    let out = case.cmd(&["-o", "json", "run"]);
    assert_success(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("did not make"), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["pushed"], true, "{report}");
    let warnings = report["targets"][0]["warnings"].to_string();
    assert!(
        warnings.contains("committed earlier") && warnings.contains("pushed with this run"),
        "{report}"
    );
    assert_eq!(case.fx.remote_file(VALUES_FILE), values(&uri).trim_end());
    // Built again on the remote tip (as every push is), and the branch moved to what landed: the
    // initial commit and this one, nothing left unpushed.
    let head = git(&case.fx.work, &["rev-parse", "HEAD"]);
    assert_eq!(case.fx.remote_head(), head);
    assert_eq!(git(&case.fx.work, &["rev-list", "--count", "HEAD"]), "2");
    assert_eq!(
        git(&case.fx.work, &["show", "--name-only", "--format=", "HEAD"]),
        VALUES_FILE
    );
}

const MODEL_AND_MARKER: &str = "apiVersion: mlops.seldon.io/v1alpha1
kind: Model
metadata:
  name: fraud
spec:
  storageUri: s3://b/fraud/1
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: fraud-shadow
spec:
  template:
    spec:
      containers:
      - name: server
        env:
        - name: MODEL_URI
          value: s3://b/fraud/1  # {\"$modelbump\": \"fraud\"}
";

#[test]
fn set_refuses_a_name_that_is_both_a_marker_and_a_known_field_until_kind_says_which() {
    let fx = Fixture::new(&[("k8s/fraud.yaml", MODEL_AND_MARKER)]);
    let set = |args: &[&str]| {
        modelbump(&fx.home)
            .current_dir(&fx.work)
            .args([&["set", "k8s/fraud.yaml", "fraud"], args].concat())
            .output()
            .unwrap()
    };
    let out = set(&["s3://b/fraud/2"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("k8s/fraud.yaml: fraud names both the Model field at line 6 (--kind Model) and the marker value at line 19 (--kind marker)"),
        "{stderr}"
    );
    assert!(stderr.contains("--kind marker"), "{stderr}");
    assert_eq!(read(&fx.work, "k8s/fraud.yaml"), MODEL_AND_MARKER);

    // --kind picks: the known field...
    assert_success(&set(&["s3://b/fraud/2", "--kind", "Model"]));
    let once = MODEL_AND_MARKER.replacen(
        "storageUri: s3://b/fraud/1",
        "storageUri: s3://b/fraud/2",
        1,
    );
    assert_eq!(read(&fx.work, "k8s/fraud.yaml"), once);
    // ...or the marked value.
    assert_success(&set(&["s3://b/fraud/3", "--kind", "marker"]));
    assert_eq!(
        read(&fx.work, "k8s/fraud.yaml"),
        once.replace("value: s3://b/fraud/1", "value: s3://b/fraud/3")
    );
    // --kind path without such a path target says so.
    let out = set(&["s3://b/fraud/4", "--kind", "path"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no path target is named fraud"), "{stderr}");
}

const TRAINED_MODELS: &str = "apiVersion: serving.kserve.io/v1alpha1
kind: TrainedModel
metadata:
  name: model-a
spec:
  inferenceService: triton
  model:
    storageUri: gs://models/a/1
---
apiVersion: serving.kserve.io/v1alpha1
kind: TrainedModel
metadata:
  name: model-b
spec:
  inferenceService: triton
  model:
    storageUri: gs://models/b/1
";

#[test]
fn a_path_in_several_documents_needs_document_and_document_picks_one() {
    let config = |document: &str| {
        format!(
            "targets:\n  - name: b\n    file: k8s/trained.yaml\n    path: spec.model.storageUri\n{document}    pinned: true\n"
        )
    };
    let fx = Fixture::new(&[
        ("k8s/trained.yaml", TRAINED_MODELS),
        ("modelbump.yaml", &config("")),
    ]);
    let set = |uri: &str| {
        modelbump(&fx.home)
            .current_dir(&fx.work)
            .args(["set", "k8s/trained.yaml", "b", uri])
            .output()
            .unwrap()
    };
    let out = set("gs://models/b/2");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("k8s/trained.yaml: the file has 2 documents and the path spec.model.storageUri matches in 2 of them (document 0: line 8 spec.model.storageUri, document 1: line 17 spec.model.storageUri)"),
        "{stderr}"
    );
    assert!(stderr.contains("add `document: N`"), "{stderr}");
    assert_eq!(read(&fx.work, "k8s/trained.yaml"), TRAINED_MODELS);

    // document: 1 is the second TrainedModel.
    write(&fx.work, "modelbump.yaml", &config("    document: 1\n"));
    assert_success(&set("gs://models/b/2"));
    assert_eq!(
        read(&fx.work, "k8s/trained.yaml"),
        TRAINED_MODELS.replace("gs://models/b/1", "gs://models/b/2")
    );
    let out = modelbump(&fx.home)
        .current_dir(&fx.work)
        .args(["-o", "json", "targets"])
        .output()
        .unwrap();
    assert_success(&out);
    let listing: Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = listing["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "path")
        .cloned()
        .unwrap();
    assert_eq!(row["line"], 17, "{listing}");

    // A document the file does not have, and `document` without `path`, are refused.
    write(&fx.work, "modelbump.yaml", &config("    document: 2\n"));
    let out = set("gs://models/b/3");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("names document 2 (counted from 0), but the file has 2 document(s)"),
        "{stderr}"
    );
    write(
        &fx.work,
        "modelbump.yaml",
        "targets:\n  - name: model-b\n    file: k8s/trained.yaml\n    document: 1\n    pinned: true\n",
    );
    let out = set("gs://models/b/3");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("has a `document` but no `path`"),
        "{stderr}"
    );
}
