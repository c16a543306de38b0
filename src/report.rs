//! The JSON report (`-o json`, `--report FILE`): what each target resolved to, the commit, the push and
//! the sync. Its field names are part of the user-facing contract; pipelines parse it.

use anyhow::Context;
use serde::Serialize;

/// What happened to one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetStatus {
    /// The URI changes (or changed).
    Changed,
    /// MLflow's answer is already in the manifest.
    Unchanged,
    /// A gate or a check said no; `reason` says why. The current URI is kept.
    Blocked,
    /// The target is pinned by the config; the current URI is kept.
    Pinned,
}

/// One target's line of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetReport {
    /// The manifest, relative to the repo root.
    pub file: String,
    /// `Model`, `SeldonDeployment` or `InferenceService`.
    pub kind: String,
    /// The name as `set` takes it.
    pub name: String,
    /// 1-based line of the value.
    pub line: usize,
    /// What happened.
    pub status: TargetStatus,
    /// The URI before.
    pub old_uri: Option<String>,
    /// The URI after (equal to `old_uri` unless `changed`).
    pub new_uri: Option<String>,
    /// The MLflow run the model came from.
    pub run_id: Option<String>,
    /// The registered model version, where the source is the registry.
    pub model_version: Option<String>,
    /// The MLflow 3 logged model id, where there is one.
    pub model_id: Option<String>,
    /// The experiment id.
    pub experiment_id: Option<String>,
    /// Why it is `blocked` or `pinned`.
    pub reason: Option<String>,
    /// Things the user should know that did not stop the target (e.g. the artifact store could not be listed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// One Argo CD application's line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncReport {
    /// The application.
    pub app: String,
    /// `api` or `webhook`.
    pub mode: String,
    /// Synced, OutOfSync, Unknown (API mode).
    pub sync_status: Option<String>,
    /// Healthy, Progressing, Degraded, ... (API mode).
    pub health_status: Option<String>,
    /// The revision the app is synced to.
    pub revision: Option<String>,
    /// The last operation's phase.
    pub operation_phase: Option<String>,
    /// A message from Argo CD, or what went wrong.
    pub message: Option<String>,
}

/// The whole report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// One entry per configured target.
    pub targets: Vec<TargetReport>,
    /// The commit made, if any.
    pub commit: Option<String>,
    /// Whether the commit was pushed (or the remote already had the wanted values).
    pub pushed: bool,
    /// One entry per synced application.
    pub sync: Vec<SyncReport>,
    /// Pull-request mode: the pull request (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<PullRequestReport>,
}

/// The pull request of a run in pull-request mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PullRequestReport {
    /// `github`, `gitlab` or `gitea`.
    pub forge: String,
    /// Its web page (absent when none was needed).
    pub url: Option<String>,
    /// Its number (GitLab: the merge request's iid).
    pub number: Option<u64>,
    /// `open`, `closed` or `merged`.
    pub state: Option<String>,
    /// `opened`, `updated`, `unchanged`, or `none` when the base branch already holds the values.
    pub action: String,
    /// The head branch.
    pub head: String,
    /// The base branch.
    pub base: String,
    /// Why nothing was done, or what a person should know (a closed pull request).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// `--wait-merged` only: `merged`, `closedUnmerged` or `timedOut`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_result: Option<String>,
    /// `--wait-merged` only: the merge commit on the base branch, which Argo CD was synced to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merge_commit: Option<String>,
}

impl Report {
    /// The report as pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("the report serializes");
        text.push('\n');
        text
    }

    /// True when at least one target changes.
    pub fn has_changes(&self) -> bool {
        self.targets
            .iter()
            .any(|t| t.status == TargetStatus::Changed)
    }
}

/// Writes the report to `path` atomically (a pipeline reading it never sees half a file): the one
/// writer of every `--report` file.
pub fn write_file(path: &std::path::Path, report: &impl Serialize) -> anyhow::Result<()> {
    let mut json = serde_json::to_string_pretty(report).expect("the report serializes");
    json.push('\n');
    crate::fsutil::write_atomic(path, json.as_bytes())
        .with_context(|| format!("cannot write the report to {}", path.display()))?;
    Ok(())
}
