//! `modelbump commit`: commit the changed target files, and push with `--push`.

use clap::Args;

use crate::exit::Outcome;
use crate::settings::Settings;

/// Commit the changed target files, with the changes and provenance trailers in the message
///
/// Only files whose sole uncommitted differences are model URI values are staged; a target file with
/// any other edit is refused. Nothing changed is success with "nothing to commit".
///
/// Examples:
///   modelbump apply && modelbump commit --push
///   modelbump set k8s/model.yaml baseline-predictor s3://bucket/m-1/ && modelbump commit --push -m "rollback: baseline"
#[derive(Debug, Clone, Args)]
pub struct CommitArgs {
    /// Push after committing; a rejected push is retried on the fresh remote tip
    #[arg(long, env = "MODELBUMP_PUSH")]
    pub push: bool,
    /// The message's first lines [default: git.message from the config]
    #[arg(short = 'm', long, value_name = "TEXT", env = "MODELBUMP_GIT_MESSAGE")]
    pub message: Option<String>,
    /// The remote to push to [default: git.remote, else origin]
    #[arg(long, value_name = "NAME", env = "MODELBUMP_GIT_REMOTE")]
    pub remote: Option<String>,
    /// The branch to push [default: git.branch, else the checked-out branch]
    #[arg(long, value_name = "NAME", env = "MODELBUMP_GIT_BRANCH")]
    pub branch: Option<String>,
}

/// Runs `commit`.
pub async fn run(_settings: &Settings, _args: CommitArgs) -> anyhow::Result<Outcome> {
    anyhow::bail!("`commit` is not built yet")
}
