//! The part of Argo CD's `Application` that `sync` reads, and the rule that decides when a sync is done.
//!
//! Only the fields the decision needs are modelled, all optional, so that a newer Argo CD that adds or
//! drops fields does not break the client. The completion rule is the one `argocd app wait` applies
//! (see [`judge`]), written as a pure function of one snapshot of the application so that every branch
//! is unit-tested without a server.

use serde::Deserialize;

/// An Argo CD application, as returned by `GET /api/v1/applications/{name}` and by the sync call.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Application {
    /// `spec`
    pub spec: AppSpec,
    /// `status`
    pub status: AppStatus,
    /// A requested operation the controller has not finished taking up (non-null: a sync is pending).
    pub operation: Option<serde_json::Value>,
}

/// `spec`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct AppSpec {
    /// The single source.
    pub source: Option<AppSource>,
    /// The sources of a multi-source application.
    pub sources: Vec<AppSource>,
    /// `syncPolicy`
    pub sync_policy: Option<SyncPolicy>,
}

/// One source of an application.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct AppSource {
    /// The repository.
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    /// The branch, tag or commit the app follows (`HEAD` when empty).
    pub target_revision: Option<String>,
}

/// `spec.syncPolicy`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct SyncPolicy {
    /// Present when the app syncs by itself.
    pub automated: Option<Automated>,
}

/// `spec.syncPolicy.automated`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Automated {
    /// `false` switches automated sync off while keeping its settings (Argo CD 3).
    pub enabled: Option<bool>,
}

/// `status`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct AppStatus {
    /// `status.sync`
    pub sync: SyncStatus,
    /// `status.health`
    pub health: HealthStatus,
    /// The last (or current) operation.
    pub operation_state: Option<OperationState>,
    /// When the controller last compared the app with git.
    pub reconciled_at: Option<String>,
}

/// `status.sync`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct SyncStatus {
    /// Synced, OutOfSync or Unknown.
    pub status: Option<String>,
    /// The revision the comparison was made against.
    pub revision: Option<String>,
    /// The same, per source, for multi-source apps.
    pub revisions: Vec<String>,
}

/// `status.health`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct HealthStatus {
    /// Healthy, Progressing, Degraded, Suspended, Missing or Unknown.
    pub status: Option<String>,
    /// Why (deprecated upstream, still sent by some versions).
    pub message: Option<String>,
}

/// `status.operationState`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct OperationState {
    /// Running, Terminating, Failed, Error or Succeeded.
    pub phase: Option<String>,
    /// What happened, typically why it failed.
    pub message: Option<String>,
    /// When it started.
    pub started_at: Option<String>,
    /// When it ended (null while running).
    pub finished_at: Option<String>,
    /// The operation that was run.
    pub operation: Option<OperationSpec>,
    /// The result of a sync operation.
    pub sync_result: Option<SyncResult>,
}

/// `status.operationState.operation`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct OperationSpec {
    /// The sync operation.
    pub sync: Option<SyncOperation>,
}

/// `status.operationState.operation.sync`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct SyncOperation {
    /// A dry run changes nothing, so no reconcile follows it.
    pub dry_run: bool,
    /// The revision asked for.
    pub revision: Option<String>,
}

/// `status.operationState.syncResult`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct SyncResult {
    /// The revision the operation synced to.
    pub revision: Option<String>,
}

impl Application {
    /// True when the app syncs by itself: then Argo CD refuses a sync to any revision but its
    /// `targetRevision`, so the sync call must not name one.
    pub(crate) fn is_automated(&self) -> bool {
        self.spec
            .sync_policy
            .as_ref()
            .and_then(|p| p.automated.as_ref())
            .is_some_and(|a| a.enabled != Some(false))
    }

    /// True for a multi-source app, where one `revision` cannot name what each source should be at.
    pub(crate) fn is_multi_source(&self) -> bool {
        !self.spec.sources.is_empty()
    }

    /// `status.sync.status`, or `Unknown`.
    pub(crate) fn sync_status(&self) -> &str {
        self.status.sync.status.as_deref().unwrap_or("Unknown")
    }

    /// `status.health.status`, or `Unknown`.
    pub(crate) fn health_status(&self) -> &str {
        self.status.health.status.as_deref().unwrap_or("Unknown")
    }

    /// The phase of the last operation, if any.
    pub(crate) fn operation_phase(&self) -> Option<&str> {
        self.status
            .operation_state
            .as_ref()
            .and_then(|s| s.phase.as_deref())
    }

    /// True while an operation is pending or running, or has finished but the controller has not yet
    /// compared the app again (its status would still describe the state before the sync). These are the
    /// rules of `argocd app wait`.
    pub(crate) fn operation_in_progress(&self) -> bool {
        if self.operation.is_some() {
            return true;
        }
        let Some(state) = &self.status.operation_state else {
            return false;
        };
        let Some(finished) = state.finished_at.as_deref() else {
            return true;
        };
        let dry_run = state
            .operation
            .as_ref()
            .and_then(|o| o.sync.as_ref())
            .is_some_and(|s| s.dry_run);
        if dry_run {
            return false;
        }
        match self.status.reconciled_at.as_deref() {
            None => true,
            Some(reconciled) => is_before(reconciled, finished),
        }
    }

    /// True when the app is at `revision` (a full commit SHA); any revision passes when `revision` is a
    /// branch or tag name, which cannot be compared with the commit Argo CD reports.
    pub(crate) fn is_at(&self, revision: Option<&str>) -> bool {
        let Some(want) = revision.filter(|r| is_full_sha(r)) else {
            return true;
        };
        let sync = &self.status.sync;
        sync.revision
            .iter()
            .chain(sync.revisions.iter())
            .any(|r| r.eq_ignore_ascii_case(want))
    }
}

/// True for a 40-hex-digit (SHA-1) or 64-hex-digit (SHA-256) object id.
pub(crate) fn is_full_sha(text: &str) -> bool {
    matches!(text.len(), 40 | 64) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `a < b` for two Kubernetes timestamps (RFC 3339, UTC). Falls back to comparing the text, which orders
/// the `YYYY-MM-DDTHH:MM:SSZ` form correctly too.
fn is_before(a: &str, b: &str) -> bool {
    match (
        humantime::parse_rfc3339_weak(a),
        humantime::parse_rfc3339_weak(b),
    ) {
        (Ok(a), Ok(b)) => a < b,
        _ => a < b,
    }
}

/// What one look at the application says about the sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Synced and Healthy at the revision, no operation in progress.
    Done,
    /// Not there yet.
    Waiting,
    /// The app reached Degraded at the revision after the sync.
    Degraded,
    /// The sync operation ended Failed or Error.
    OperationFailed {
        /// `Failed` or `Error`.
        phase: String,
        /// Argo CD's message.
        message: String,
    },
}

/// Decides whether the sync to `revision` is done, still going, or has failed.
///
/// `own_operation` says the last operation is the one this run started (or waited for), so a Failed
/// phase is ours to report; otherwise only an operation that synced to `revision` counts, so that a
/// stale failure from before the push does not fail a webhook-triggered sync.
pub(crate) fn judge(app: &Application, revision: Option<&str>, own_operation: bool) -> Verdict {
    if app.operation_in_progress() {
        return Verdict::Waiting;
    }
    if let Some(state) = &app.status.operation_state
        && let Some(phase @ ("Failed" | "Error")) = state.phase.as_deref()
    {
        let synced_to = state
            .sync_result
            .as_ref()
            .and_then(|r| r.revision.as_deref())
            .or_else(|| {
                state
                    .operation
                    .as_ref()
                    .and_then(|o| o.sync.as_ref())
                    .and_then(|s| s.revision.as_deref())
            });
        let ours = own_operation
            || revision.is_some_and(|want| synced_to.is_some_and(|r| r.eq_ignore_ascii_case(want)));
        if ours {
            return Verdict::OperationFailed {
                phase: phase.to_string(),
                message: state.message.clone().unwrap_or_default(),
            };
        }
    }
    if !app.is_at(revision) {
        return Verdict::Waiting;
    }
    match (app.sync_status(), app.health_status()) {
        ("Synced", "Healthy") => Verdict::Done,
        (_, "Degraded") => Verdict::Degraded,
        _ => Verdict::Waiting,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REV: &str = "0123456789abcdef0123456789abcdef01234567";
    const OLD: &str = "89abcdef0123456789abcdef0123456789abcdef";

    fn app(json: serde_json::Value) -> Application {
        serde_json::from_value(json).unwrap()
    }

    fn settled(sync: &str, health: &str, revision: &str) -> Application {
        app(serde_json::json!({
            "status": {
                "sync": {"status": sync, "revision": revision},
                "health": {"status": health},
                "operationState": {"phase": "Succeeded", "startedAt": "2026-01-01T00:00:00Z",
                    "finishedAt": "2026-01-01T00:00:05Z", "syncResult": {"revision": revision}},
                "reconciledAt": "2026-01-01T00:00:06Z"
            }
        }))
    }

    #[test]
    fn synced_and_healthy_at_the_revision_is_done() {
        assert_eq!(
            judge(&settled("Synced", "Healthy", REV), Some(REV), true),
            Verdict::Done
        );
    }

    #[test]
    fn another_revision_is_not_done() {
        assert_eq!(
            judge(&settled("Synced", "Healthy", OLD), Some(REV), true),
            Verdict::Waiting
        );
        // A branch name cannot be compared with a commit.
        assert_eq!(
            judge(&settled("Synced", "Healthy", OLD), Some("main"), true),
            Verdict::Done
        );
    }

    #[test]
    fn a_pending_operation_is_in_progress() {
        let mut a = settled("Synced", "Healthy", REV);
        a.operation = Some(serde_json::json!({"sync": {"revision": REV}}));
        assert!(a.operation_in_progress());
        assert_eq!(judge(&a, Some(REV), true), Verdict::Waiting);
    }

    #[test]
    fn a_running_operation_is_in_progress() {
        let mut a = settled("Synced", "Healthy", REV);
        let state = a.status.operation_state.as_mut().unwrap();
        state.finished_at = None;
        state.phase = Some("Running".into());
        assert_eq!(judge(&a, Some(REV), true), Verdict::Waiting);
    }

    #[test]
    fn a_finished_operation_not_yet_reconciled_is_in_progress() {
        let mut a = settled("Synced", "Healthy", REV);
        a.status.reconciled_at = Some("2026-01-01T00:00:04Z".into());
        assert_eq!(judge(&a, Some(REV), true), Verdict::Waiting);
        a.status.reconciled_at = None;
        assert_eq!(judge(&a, Some(REV), true), Verdict::Waiting);
        // A dry run is not followed by a reconcile.
        a.status.operation_state.as_mut().unwrap().operation = Some(OperationSpec {
            sync: Some(SyncOperation {
                dry_run: true,
                revision: None,
            }),
        });
        assert_eq!(judge(&a, Some(REV), true), Verdict::Done);
    }

    #[test]
    fn degraded_at_the_revision_fails_but_not_before_the_sync_reached_it() {
        assert_eq!(
            judge(&settled("Synced", "Degraded", REV), Some(REV), true),
            Verdict::Degraded
        );
        assert_eq!(
            judge(&settled("Synced", "Degraded", OLD), Some(REV), true),
            Verdict::Waiting
        );
    }

    #[test]
    fn a_failed_operation_fails_when_it_is_ours_or_at_the_revision() {
        let mut a = settled("OutOfSync", "Healthy", OLD);
        let state = a.status.operation_state.as_mut().unwrap();
        state.phase = Some("Failed".into());
        state.message = Some("one or more objects failed to apply".into());
        state.sync_result = Some(SyncResult {
            revision: Some(OLD.into()),
        });
        assert_eq!(
            judge(&a, Some(REV), true),
            Verdict::OperationFailed {
                phase: "Failed".into(),
                message: "one or more objects failed to apply".into()
            }
        );
        // A stale failure at an older revision does not fail a webhook-triggered wait.
        assert_eq!(judge(&a, Some(REV), false), Verdict::Waiting);
        a.status.operation_state.as_mut().unwrap().sync_result = Some(SyncResult {
            revision: Some(REV.into()),
        });
        assert!(matches!(
            judge(&a, Some(REV), false),
            Verdict::OperationFailed { .. }
        ));
    }

    #[test]
    fn automated_and_multi_source() {
        let a = app(serde_json::json!({"spec": {"syncPolicy": {"automated": {"prune": true}}}}));
        assert!(a.is_automated());
        let a = app(serde_json::json!({"spec": {"syncPolicy": {"automated": {"enabled": false}}}}));
        assert!(!a.is_automated());
        let a = app(serde_json::json!({"spec": {"syncPolicy": {}}}));
        assert!(!a.is_automated());
        let a = app(serde_json::json!({"spec": {"sources": [{"repoURL": "https://x"}]}}));
        assert!(a.is_multi_source());
    }

    #[test]
    fn timestamps_compare_as_times() {
        assert!(is_before("2026-01-01T00:00:04Z", "2026-01-01T00:00:05Z"));
        assert!(!is_before("2026-01-01T00:00:05Z", "2026-01-01T00:00:05Z"));
        assert!(is_before("2026-01-01T00:00:04.5Z", "2026-01-01T00:00:05Z"));
    }
}
