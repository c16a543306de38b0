//! The use cases: `plan`, `apply`, `commit`, `run`, `sync`, `set` and `targets`, each a function that takes
//! plain, resolved options and returns a typed outcome. They never print, never read the process
//! environment and know nothing of the command line, so that anything (the command line, a long-running
//! service, a test) can drive the pipeline. Logs go through `tracing`.

mod commit;
mod plan;
mod pr_body;
mod pull_request;
mod run;
mod set;
mod sync;
mod targets;
mod wait_merged;

pub use crate::argocd::SyncOptions;
pub use crate::forge::ForgeKind;
pub use commit::{
    CommitOptions, CommitOutcome, GitOptions, PushSpec, PushTarget, WriteBackOutcome, commit,
};
pub use plan::{Plan, PlanOptions, build as plan};
pub use pull_request::{PullRequestOptions, run_pull_request};
pub use run::{RunError, RunOptions, RunOutcome, run};
pub use set::{SetOptions, SetOutcome, set};
pub use sync::{SyncOutcome, SyncRequest, sync};
pub use targets::{Listing, TargetRow, TargetsOptions, targets};
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
