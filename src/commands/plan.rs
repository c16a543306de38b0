//! `modelbump plan`: resolve every configured target and show what would change.

use std::path::PathBuf;

use clap::Args;

use crate::commands::MlflowArgs;
use crate::exit::Outcome;
use crate::settings::Settings;

/// Resolve every configured target against MLflow and show what would change; writes nothing
///
/// Examples:
///   modelbump plan
///   modelbump plan -o json --report /tmp/plan.json
///   modelbump plan --detailed-exitcode || [ $? -eq 3 ] && echo "changes pending"
#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    /// Where MLflow is
    #[command(flatten)]
    pub mlflow: MlflowArgs,
    /// Exit 3 when changes are pending (0 when none, 1 on failure)
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Also write the JSON report to this file
    #[arg(long, value_name = "FILE", env = "MODELBUMP_REPORT")]
    pub report: Option<PathBuf>,
}

/// Runs `plan`.
pub async fn run(_settings: &Settings, _args: PlanArgs) -> anyhow::Result<Outcome> {
    anyhow::bail!("`plan` is not built yet")
}
