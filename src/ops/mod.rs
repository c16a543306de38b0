//! The use cases: `plan`, `apply`, `commit`, `run`, `sync`, `set`, `targets` and `serve`, each a function that takes
//! plain, resolved options and returns a typed outcome. They never print, never read the process
//! environment and know nothing of the command line, so that anything (the command line, a long-running
//! service, a test) can drive the pipeline. Logs go through `tracing`.

mod commit;
mod failed;
mod fields;
mod hold;
mod hold_pr;
mod init;
mod manual;
mod plan;
mod pr_body;
mod pull_request;
mod record;
mod rollback_wait;
mod run;
mod select;
mod serve;
mod set;
mod sync;
mod targets;
mod validate;
mod wait_merged;

pub use crate::argocd::SyncOptions;
pub use crate::forge::ForgeKind;
pub use crate::forge::GitHubApp;
pub use commit::{
    CommitOptions, CommitOutcome, GitOptions, PushSpec, PushTarget, WriteBackOutcome, commit,
};
pub use failed::{
    ConfigProblem, FailureKind, SyncAfterPushFailed, TargetsFailed, TargetsUnresolved,
};
pub use fields::{FieldSetOutcome, set_field};
pub use hold::{
    History, HistoryEntry, HistoryOptions, HoldOptions, HoldOutcome, RollbackOptions,
    TargetHistory, TargetRef, history, hold, rollback,
};
pub use hold_pr::{hold_pull_request, rollback_pull_request};
pub use init::{InitOptions, InitOutcome, init};
pub use plan::{Plan, PlanOptions, build as plan};
pub use pull_request::{PullRequestOptions, run_pull_request};
pub use record::record_rollback;
pub use rollback_wait::sync_rollback;
pub use run::{RunError, RunOptions, RunOutcome, run};
pub use select::{Selection, SelectionError};
pub use serve::{DEFAULT_SHUTDOWN_GRACE, ServeOptions, prepare_clone, serve};
pub use set::{SetOptions, SetOutcome, set};
pub use sync::{SyncOutcome, SyncRequest, sync};
pub use targets::{Listing, TargetRow, TargetsOptions, targets};
pub use validate::{CONFIG_SCHEMA, Problem, ValidateOptions, Validation, validate};
pub use wait_merged::{NotMerged, NotMergedReason, WaitMerged};

/// `apply`: the plan, written in place, with its provenance recorded for a later `commit`.
pub async fn apply(options: &PlanOptions) -> anyhow::Result<Plan> {
    let plan = plan::build(options).await?;
    plan.write(&options.repo)?;
    if plan.has_changes() {
        // A later `commit` adds where these values came from as trailers (see `git::record_applied`).
        if let Err(e) = crate::git::record_applied(
            &options.repo,
            &plan.report,
            options.mlflow.tracking_uri.as_deref(),
        ) {
            tracing::warn!("{e}");
        }
    }
    Ok(plan)
}
