//! `history`, `rollback`, `hold` and `release` against a real MLflow 3.17.2 server and real git
//! repositories with a bare remote: every run is a real `modelbump run` that deploys a newer run's
//! logged model, and every assertion reads the remote.

use serde_json::Value;

use crate::support::git::{Fixture, git, models_yaml, write};
use crate::support::mlflow::{MlflowServer, RunSeed, unique};
use crate::support::{assert_success, modelbump};

pub(crate) const MANIFEST: &str = "k8s/models.yaml";
const FIRST: &str = "s3://mlflow-artifacts/0/first/artifacts/";

/// A GitOps repo (bare remote and a clone) whose target `iris` follows the newest run of a fresh
/// experiment of the shared server.
pub(crate) struct Case {
    pub(crate) fx: Fixture,
    server: &'static MlflowServer,
    exp: String,
    /// Minutes before now that the last seeded run started.
    start: i64,
}

impl Case {
    pub(crate) fn new(extra_config: &str) -> Case {
        let server = MlflowServer::shared();
        let exp_name = unique("holds");
        let exp = server.client().create_experiment(&exp_name);
        let config = format!(
            "mlflow:\n  trackingUri: {url}\nuriRewrite:\n  - from: \"{root}/\"\n    to: \"s3://mlflow-artifacts/\"\ntargets:\n  - file: {MANIFEST}\n    name: iris\n    kind: Model\n    run:\n      experiment: {exp_name}\n    require: [\"metrics.acc >= 0.5\"]\n{extra_config}",
            url = server.url,
            root = server.artifact_dir.display()
        );
        let fx = Fixture::new(&[
            (MANIFEST, &models_yaml(&[("iris", FIRST)])),
            ("modelbump.yaml", &config),
        ]);
        Case {
            fx,
            server,
            exp,
            start: 1000,
        }
    }

    /// Seeds a newer FINISHED run passing the gate with a logged model; returns the run id and the URI
    /// modelbump writes for it.
    pub(crate) fn new_model(&mut self) -> (String, String) {
        // Each run a minute newer than the last.
        self.start -= 1;
        let client = self.server.client();
        let run = client.seed_run(
            &self.exp,
            &RunSeed::new("FINISHED", self.start).metric("acc", 0.9),
        );
        let model = client.log_model(&run, "model", true);
        let rest = model
            .artifact_uri
            .strip_prefix(&format!("{}/", self.server.artifact_dir.display()))
            .unwrap()
            .to_string();
        (run.run_id, format!("s3://mlflow-artifacts/{rest}/"))
    }

    pub(crate) fn cmd(&self, dir: &std::path::Path, args: &[&str]) -> std::process::Output {
        modelbump(&self.fx.home)
            .current_dir(dir)
            .args(args)
            .timeout(std::time::Duration::from_secs(120))
            .output()
            .unwrap()
    }

    pub(crate) fn json(&self, args: &[&str]) -> Value {
        let out = self.cmd(&self.fx.work, &[&["-o", "json"], args].concat());
        assert_success(&out);
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub(crate) fn remote_uri(&self) -> String {
        uri_in(&self.fx.remote_file(MANIFEST))
    }
}

pub(crate) fn uri_in(manifest: &str) -> String {
    manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("storageUri: "))
        .unwrap()
        .to_string()
}

#[test]
fn history_lists_three_deploys_and_a_manual_edit_with_their_run_ids() {
    let mut case = Case::new("");
    let mut deployed = Vec::new();
    for _ in 0..3 {
        let (run_id, uri) = case.new_model();
        let report = case.json(&["run"]);
        assert_eq!(report["targets"][0]["status"], "changed", "{report}");
        assert_eq!(case.remote_uri(), uri);
        deployed.push((run_id, uri));
    }
    // A person edits the URI by hand, with a plain git commit.
    let work = &case.fx.work;
    let text = std::fs::read_to_string(work.join(MANIFEST)).unwrap();
    let manual = "s3://mlflow-artifacts/hand-picked/";
    write(work, MANIFEST, &text.replace(&deployed[2].1, manual));
    git(work, &["commit", "-qam", "use the hand-picked model"]);

    let history = case.json(&["history", "iris"]);
    let target = &history["targets"][0];
    assert_eq!(target["name"], "iris");
    assert_eq!(target["current"], manual);
    let changes = target["changes"].as_array().unwrap();
    // The four changes, then the commit that added the field.
    assert_eq!(changes.len(), 5, "{history}");
    assert_eq!(changes[4]["action"], "added");
    assert_eq!(changes[4]["new"], FIRST);
    assert_eq!(changes[0]["action"], "manual");
    assert_eq!(changes[0]["old"], deployed[2].1.as_str());
    assert_eq!(changes[0]["new"], manual);
    assert_eq!(changes[0]["runId"], Value::Null);
    assert_eq!(
        changes[0]["commit"],
        git(work, &["rev-parse", "HEAD"]).trim()
    );
    for (i, (run_id, uri)) in deployed.iter().rev().enumerate() {
        let c = &changes[i + 1];
        assert_eq!(c["action"], "update", "{c}");
        assert_eq!(c["runId"], run_id.as_str(), "{c}");
        assert_eq!(c["new"], uri.as_str());
        assert_eq!(c["experimentId"], case.exp.as_str());
    }
    assert_eq!(changes[3]["old"], FIRST);

    // The text form lists the same, newest first.
    let out = case.cmd(work, &["history"]);
    assert_success(&out);
    let text = String::from_utf8(out.stdout).unwrap();
    let manual_at = text.find("manual").unwrap();
    let first_run = text.find(&format!("run {}", deployed[0].0)).unwrap();
    assert!(manual_at < first_run, "{text}");
}

#[test]
fn rollback_restores_byte_exactly_and_holds_until_release() {
    let mut case = Case::new("");
    let (first_run, first_uri) = case.new_model();
    case.json(&["run"]);
    let after_first = case.fx.remote_file(MANIFEST);
    let (_, second_uri) = case.new_model();
    case.json(&["run"]);
    assert_eq!(case.remote_uri(), second_uri);

    let report = case.json(&[
        "rollback",
        "iris",
        "--reason",
        "accuracy dropped online",
        "--push",
    ]);
    assert_eq!(report["targets"][0]["status"], "changed", "{report}");
    assert_eq!(report["targets"][0]["newUri"], first_uri.as_str());
    assert_eq!(report["targets"][0]["runId"], first_run.as_str());
    assert_eq!(report["pushed"], true);
    // The report document `run` prints, with its version and command (it was the bare report once).
    assert_eq!(report["schemaVersion"], 1, "{report}");
    assert_eq!(report["command"], "rollback", "{report}");
    assert_eq!(report["summary"]["changed"], 1, "{report}");
    crate::support::schemas::assert_valid_report(&report);
    let hold = &report["targets"][0]["hold"];
    assert_eq!(hold["by"], "Pipeline <pipeline@example.invalid>");
    assert_eq!(hold["reason"], "rollback: accuracy dropped online");
    // Byte for byte the file as the first deploy left it.
    assert_eq!(case.fx.remote_file(MANIFEST), after_first);
    let message = git(&case.fx.remote, &["log", "-1", "--format=%B", "main"]);
    assert!(message.contains("Modelbump-Action: rollback"), "{message}");
    assert!(
        message.contains("Modelbump-Reason: accuracy dropped online"),
        "{message}"
    );
    assert!(
        case.fx
            .remote_file(".modelbump/holds.yaml")
            .contains("iris")
    );

    // A newer run passing every gate: held, nothing pushed, exit 0.
    let (_, third_uri) = case.new_model();
    let tip = case.fx.remote_head();
    let report = case.json(&["run"]);
    assert_eq!(report["targets"][0]["status"], "held", "{report}");
    assert_eq!(
        report["targets"][0]["hold"]["reason"],
        "rollback: accuracy dropped online"
    );
    assert_eq!(report["commit"], Value::Null);
    assert_eq!(case.fx.remote_head(), tip, "nothing pushed");

    // History shows the rollback with its reason.
    let history = case.json(&["history"]);
    let latest = &history["targets"][0]["changes"][0];
    assert_eq!(latest["action"], "rollback");
    assert_eq!(latest["reason"], "accuracy dropped online");

    let report = case.json(&["release", "iris", "--push"]);
    assert_eq!(report["pushed"], true, "{report}");
    assert_eq!(report["command"], "release", "{report}");
    crate::support::schemas::assert_valid_report(&report);
    assert!(
        !case
            .fx
            .remote_file(".modelbump/holds.yaml")
            .contains("iris")
    );
    let report = case.json(&["run"]);
    assert_eq!(report["targets"][0]["status"], "changed", "{report}");
    assert_eq!(case.remote_uri(), third_uri);
}

#[test]
fn hold_and_release_errors_name_the_target_and_change_nothing() {
    let case = Case::new("");
    let head = case.fx.remote_head();
    let out = case.cmd(&case.fx.work, &["release", "iris"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("iris (k8s/models.yaml) is not held"), "{err}");
    let out = case.cmd(&case.fx.work, &["hold", "nope", "--reason", "x"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no configured target is named nope"), "{err}");
    assert!(err.contains("iris"), "{err}");
    assert_eq!(case.fx.remote_head(), head);
    assert!(!case.fx.work.join(".modelbump").exists());

    // A hold without --push is a local commit of the holds file alone; plan reports it.
    let report = case.json(&["hold", "iris", "--reason", "audit freeze"]);
    assert_eq!(report["targets"][0]["status"], "held");
    assert_eq!(report["pushed"], false);
    assert_eq!(report["command"], "hold", "{report}");
    crate::support::schemas::assert_valid_report(&report);
    let files = git(&case.fx.work, &["show", "--name-only", "--format=", "HEAD"]);
    assert_eq!(files.trim(), ".modelbump/holds.yaml");
    let status = git(&case.fx.work, &["status", "--porcelain"]);
    assert_eq!(status.trim(), "", "the checkout matches the commit");
    let plan = case.json(&["plan"]);
    assert_eq!(plan["targets"][0]["status"], "held", "{plan}");
    assert_eq!(plan["targets"][0]["hold"]["reason"], "audit freeze");
}

/// Two pipelines on one remote at once: one rolls back (placing a hold), the other deploys a newer
/// model from a checkout that has not seen the hold. Whichever pushes first, the hold wins and both
/// pushes land: the remote ends at the rolled-back value with the hold in place.
#[test]
fn a_rollback_racing_a_deploy_wins_and_nothing_is_lost() {
    let mut case = Case::new("");
    let (_, first_uri) = case.new_model();
    case.json(&["run"]);
    let (_, _second_uri) = case.new_model();
    case.json(&["run"]);
    let deployer = case.fx.clone("deployer");
    let (_, third_uri) = case.new_model();
    let _ = third_uri;
    let roller = case.fx.work.clone();
    let home = case.fx.home.clone();
    let run_in = |dir: std::path::PathBuf, args: Vec<&'static str>| {
        let home = home.clone();
        std::thread::spawn(move || {
            modelbump(&home)
                .current_dir(dir)
                .args(args)
                .timeout(std::time::Duration::from_secs(120))
                .output()
                .unwrap()
        })
    };
    let deploy = run_in(deployer, vec!["-o", "json", "run"]);
    let rollback = run_in(
        roller,
        vec![
            "-o", "json", "rollback", "iris", "--to", "previous", "--reason", "bad", "--push",
        ],
    );
    let (deploy, rollback) = (deploy.join().unwrap(), rollback.join().unwrap());
    assert_success(&deploy);
    assert_success(&rollback);
    assert_eq!(case.remote_uri(), first_uri, "the hold wins");
    let holds = case.fx.remote_file(".modelbump/holds.yaml");
    assert!(holds.contains("\"iris\""), "{holds}");
    let report: Value = serde_json::from_slice(&deploy.stdout).unwrap();
    let status = report["targets"][0]["status"].as_str().unwrap();
    // The deploy either landed first (and the rollback replaced it) or met the hold on the fresh tip.
    assert!(status == "changed" || status == "held", "{report}");
    if status == "held" {
        assert_eq!(report["targets"][0]["hold"]["reason"], "rollback: bad");
    }
    // Nothing lost: both commits (or the rollback alone, when the deploy met the hold) are on main.
    let log = git(&case.fx.remote, &["log", "--format=%s", "main"]);
    assert!(log.contains("rollback: iris"), "{log}");
    // And the next run, from either checkout, keeps the hold.
    let report = case.json(&["run"]);
    assert_eq!(report["targets"][0]["status"], "held", "{report}");
    assert_eq!(case.remote_uri(), first_uri);
}
