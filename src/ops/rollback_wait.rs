//! `rollback --wait`: after a pushed rollback, sync Argo CD at the rollback's commit and wait until the
//! apps are Synced and Healthy there, as `run --wait` does after its push.
//!
//! A rollback is what someone runs when a model misbehaves online, so "pushed" is not the end of it:
//! the person (or pipeline) wants to know that the restored model serves again. With the deployment
//! record on, the verdict goes into MLflow as for `run`: the restored model `healthy` and the
//! environment's alias moved back to it, or `failed` with the alias left where it is. Only `--wait`
//! syncs: a rollback without it leaves the sync to Argo CD's own polling, as before.

use std::path::Path;

use crate::argocd::SyncOptions;
use crate::ops::HoldOutcome;
use crate::ops::record::{DeployRecord, Stage};

/// Syncs Argo CD to what the rollback pushed and waits (when `argocd.wait`), fills `done.report.sync`,
/// and writes the verdict of `record` (the restored model's record, from
/// [`crate::ops::record_rollback`]) into `done.report.recorded`. A failed sync is an error marked
/// [`crate::ops::SyncAfterPushFailed`]: the rollback is pushed, only the sync failed.
pub async fn sync_rollback(
    done: &mut HoldOutcome,
    argocd: &SyncOptions,
    root: &Path,
    record: Option<DeployRecord>,
) -> anyhow::Result<()> {
    let mut failed = None;
    let mut waited = false;
    if argocd.wait
        && let Some(target) = done.push.clone()
    {
        let repo = crate::git::GitRepo::discover(root)?;
        let revision = match (&done.write_back.remote_tip, &done.write_back.commit) {
            (Some(tip), _) => tip.clone(),
            (None, Some(commit)) => commit.clone(),
            (None, None) => repo.head_commit()?.to_string(),
        };
        let (reports, err) = super::run::sync_pushed(
            argocd,
            root,
            &repo,
            &target,
            &revision,
            &done.write_back.changes,
        )
        .await;
        done.report.sync = reports;
        waited = err.is_none();
        failed = err;
    }
    if let Some(record) = record {
        let verdict = Stage::after_sync(failed.is_some(), waited);
        done.report.recorded = Some(record.finish(verdict).await);
    }
    match failed {
        Some(err) => Err(err.context(crate::ops::SyncAfterPushFailed)),
        None => Ok(()),
    }
}
