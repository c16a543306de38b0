//! `modelbump apply`: `plan`, then write the manifests in place.

use std::path::PathBuf;

use clap::Args;

use crate::commands::MlflowArgs;
use crate::exit::Outcome;
use crate::settings::Settings;

/// Resolve every configured target against MLflow and write the manifests in place
///
/// If any target fails to resolve, nothing is written.
///
/// Examples:
///   modelbump apply
///   modelbump apply --tracking-uri http://localhost:5000 --report report.json
#[derive(Debug, Clone, Args)]
pub struct ApplyArgs {
    /// Where MLflow is
    #[command(flatten)]
    pub mlflow: MlflowArgs,
    /// Also write the JSON report to this file
    #[arg(long, value_name = "FILE", env = "MODELBUMP_REPORT")]
    pub report: Option<PathBuf>,
}

/// Runs `apply`.
pub async fn run(_settings: &Settings, _args: ApplyArgs) -> anyhow::Result<Outcome> {
    anyhow::bail!("`apply` is not built yet")
}
