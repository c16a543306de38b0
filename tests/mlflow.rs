//! `plan` and `apply` against a real MLflow 3.17.2 server, and the harness that provides it.

use serde_json::Value;

use crate::support::mlflow::{MlflowServer, RunSeed, ServerOptions, unique};

/// The harness itself: the shared server answers, and what it seeds reads back the way MLflow 3 lays it
/// out (a logged model under `models/m-<uuid>`, linked from the run's outputs, with its MLmodel listed).
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
    let listed = client
        .call(
            reqwest::Method::GET,
            &format!("logged-models/{}/artifacts/directories", model.model_id),
            &[],
            None,
        )
        .unwrap();
    assert_eq!(listed["files"][0]["path"], "MLmodel", "{listed}");
}

/// A dedicated basic-auth server refuses anonymous calls and accepts the admin.
#[test]
fn harness_starts_a_basic_auth_server() {
    let server = MlflowServer::start(ServerOptions {
        basic_auth: Some(("admin".into(), "harness-password-1234".into())),
        proxied_artifacts: false,
    });
    let anonymous = server
        .client()
        .call(
            reqwest::Method::GET,
            "experiments/get",
            &[("experiment_id", "0")],
            None,
        )
        .unwrap_err();
    assert_eq!(anonymous.status, 401);
    let admin = server.admin_client();
    admin.create_experiment(&unique("auth"));
    let pid = server.pid;
    drop(server);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the server is stopped"
    );
}
