//! `modelbump set FILE NAME URI`: set one model's URI by name, without MLflow.

use std::path::PathBuf;

use clap::Args;

use crate::exit::Outcome;
use crate::settings::Settings;

/// Set one model's URI by resource name, no MLflow involved
///
/// For manual pins, rollbacks and scripts. Only the bytes of the value change; the edit is verified by
/// re-parsing and written atomically.
///
/// Examples:
///   modelbump set k8s/base/financial-predictor-ab-test.yaml baseline-predictor \
///       s3://mlflow-artifacts/29/models/m-63118756949141cba59ab87e90e8a96a/artifacts/
///   modelbump set k8s/sdep.yaml iris/classifier gs://models/iris/v3
///   modelbump set k8s/isvc.yaml churn/transformer s3://models/churn/transformer --kind InferenceService
#[derive(Debug, Clone, Args)]
pub struct SetArgs {
    /// The manifest, relative to the repo
    pub file: PathBuf,
    /// metadata.name, or NAME/COMPONENT (a SeldonDeployment graph node or a KServe component)
    pub name: String,
    /// The new storage URI
    pub uri: String,
    /// The resource kind, where the name alone is ambiguous (Model, SeldonDeployment, InferenceService)
    #[arg(long)]
    pub kind: Option<String>,
}

/// Runs `set`.
pub fn run(_settings: &Settings, _args: SetArgs) -> anyhow::Result<Outcome> {
    anyhow::bail!("`set` is not built yet")
}
