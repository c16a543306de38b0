//! `modelbump run`: the pipeline step (apply, commit, push, sync).

use std::path::PathBuf;

use clap::Args;

use crate::commands::MlflowArgs;
use crate::commands::sync::ArgoCdArgs;
use crate::exit::Outcome;
use crate::settings::Settings;

/// The pipeline step: apply, commit, push and sync in one
///
/// Examples:
///   modelbump run --dry-run
///   modelbump run --report /tmp/modelbump-report.json
///   modelbump run -m "update: model URIs from training run baseline" --wait
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Where MLflow is
    #[command(flatten)]
    pub mlflow: MlflowArgs,
    /// Stop after the plan: show the diff, write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Also write the JSON report to this file
    #[arg(long, value_name = "FILE", env = "MODELBUMP_REPORT")]
    pub report: Option<PathBuf>,
    /// The message's first lines [default: git.message from the config]
    #[arg(short = 'm', long, value_name = "TEXT", env = "MODELBUMP_GIT_MESSAGE")]
    pub message: Option<String>,
    /// Commit but do not push
    #[arg(long)]
    pub no_push: bool,
    /// Argo CD options
    #[command(flatten)]
    pub argocd: ArgoCdArgs,
}

/// Runs `run`.
pub async fn run(_settings: &Settings, _args: RunArgs) -> anyhow::Result<Outcome> {
    anyhow::bail!("`run` is not built yet")
}
