//! `sync`: have Argo CD sync the configured applications to a commit of the checkout (HEAD by default).

use std::path::PathBuf;

use crate::argocd::{self, Pushed, SyncFailed, SyncOptions};
use crate::report::SyncReport;

/// The input of `sync`.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    /// Argo CD.
    pub options: SyncOptions,
    /// The repo folder.
    pub repo: PathBuf,
    /// The revision to sync to; `None` is the commit HEAD points at.
    pub revision: Option<String>,
    /// The branch pushed to, when configured; else the checked-out one.
    pub branch: Option<String>,
    /// The push remote's name, whose URL the webhook announces.
    pub remote: String,
}

/// What `sync` did: the revision and, per app, a line, also when some failed.
#[derive(Debug)]
pub struct SyncOutcome {
    /// The revision synced to.
    pub revision: String,
    /// The lines, or the failure (which still has a line per app).
    pub result: Result<Vec<SyncReport>, SyncFailed>,
}

/// Syncs the configured apps.
pub async fn sync(request: &SyncRequest) -> anyhow::Result<SyncOutcome> {
    let pushed = Pushed::from_repo(
        &request.repo,
        request.revision.as_deref(),
        request.branch.as_deref(),
        &request.remote,
    )?;
    let result = argocd::sync(&request.options, &pushed).await;
    Ok(SyncOutcome {
        revision: pushed.revision,
        result,
    })
}
