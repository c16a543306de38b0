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
    /// A hold in the repository (`modelbump hold`, `rollback`, or a change made by hand) keeps the
    /// current URI; `hold` says who placed it, when and why.
    Held,
    /// The target could not be resolved, located or edited; `error` says why. Nothing was written.
    Failed,
}

/// Who held a target, when and why (the report's `hold`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hold {
    /// Who placed it (`Name <email>`).
    pub by: String,
    /// When (RFC 3339).
    pub at: String,
    /// Why.
    pub reason: String,
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
    /// The hold that keeps the current URI, when the status is `held`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold: Option<Hold>,
    /// The registered model, where the source is the registry (`registered.name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registered_model: Option<String>,
    /// The alias the version was picked by (`registered.alias`), where there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// The experiment as configured (`run.experiment`: a name, or an id), where the source is a run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experiment: Option<String>,
    /// Why the target `failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl TargetReport {
    /// A target at `file:line` with `status`, everything else unknown (to be filled in).
    pub fn at(file: String, kind: String, name: String, line: usize, status: TargetStatus) -> Self {
        Self {
            file,
            kind,
            name,
            line,
            status,
            old_uri: None,
            new_uri: None,
            run_id: None,
            model_version: None,
            model_id: None,
            experiment_id: None,
            reason: None,
            warnings: Vec::new(),
            registered_model: None,
            alias: None,
            experiment: None,
            error: None,
            hold: None,
        }
    }
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
    /// `mlflow.recordDeployments`: what was written to MLflow about this deployment (absent when the
    /// record is off, or nothing was pushed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded: Option<Recorded>,
}

/// The report's `recorded`: the writes to MLflow that record a deployment, and what could not be
/// written (a warning each: the push stands either way).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Recorded {
    /// The environment (`mlflow.recordDeployments.environment`).
    pub environment: String,
    /// Each write, in order.
    pub writes: Vec<RecordedWrite>,
    /// What could not be written, naming the server and the object.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// One write to MLflow: tags on an object, or an alias moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedWrite {
    /// The target (its name as `set` takes it).
    pub target: String,
    /// `run`, `modelVersion`, `loggedModel` or `registeredModel` (an alias).
    pub entity: String,
    /// The run id, `NAME/VERSION`, the logged model id, or the registered model's name.
    pub id: String,
    /// The tags set (absent for an alias).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tags: std::collections::BTreeMap<String, String>,
    /// The alias moved (registeredModel only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// The version the alias now points at (registeredModel only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
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

/// The version of the report's layout, `schemaVersion` in every report. It changes only when a field is
/// removed, renamed or changes meaning; adding a field or a status value does not change it (readers
/// ignore what they do not know). `schemas/report.schema.json` is the layout of this version.
pub const SCHEMA_VERSION: u32 = 1;

/// The command that wrote a report; it decides which fields the report has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportCommand {
    /// `plan`: the targets only.
    Plan,
    /// `apply`: the targets only.
    Apply,
    /// `commit`: the targets committed, the commit and `pushed`.
    Commit,
    /// `run`: everything.
    Run,
    /// `set`: the target set, the commit fields empty.
    Set,
    /// `hold`: the target held, the commit and `pushed` (or the pull request).
    Hold,
    /// `release`: the target released, the commit and `pushed` (or the pull request).
    Release,
    /// `rollback`: the target rolled back and held, the commit, `pushed`, the sync with `--wait` and what
    /// was recorded in MLflow.
    Rollback,
}

impl ReportCommand {
    /// The fields of [`Report`] this command does not produce, left out of its report.
    fn omitted(self) -> &'static [&'static str] {
        match self {
            Self::Plan | Self::Apply => &["commit", "pushed", "sync"],
            Self::Commit | Self::Set | Self::Hold | Self::Release => &["sync"],
            Self::Run | Self::Rollback => &[],
        }
    }
}

/// How many targets ended in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Every target in the report.
    pub total: usize,
    /// `changed`.
    pub changed: usize,
    /// `unchanged`.
    pub unchanged: usize,
    /// `blocked`.
    pub blocked: usize,
    /// `pinned`.
    pub pinned: usize,
    /// `held`.
    pub held: usize,
    /// `failed`.
    pub failed: usize,
}

/// The report as written: the version, the command, the counts, [`Report`]'s fields that the command
/// produces, and the error when the command failed. What `-o json` prints and `--report` writes; valid
/// against `schemas/report.schema.json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Document<'a> {
    schema_version: u32,
    command: ReportCommand,
    summary: Summary,
    #[serde(flatten)]
    body: serde_json::Map<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

impl Document<'_> {
    /// Pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("the report serializes");
        text.push('\n');
        text
    }
}

impl Report {
    /// The counts per status.
    pub fn summary(&self) -> Summary {
        let mut summary = Summary {
            total: self.targets.len(),
            ..Summary::default()
        };
        for target in &self.targets {
            let count = match target.status {
                TargetStatus::Changed => &mut summary.changed,
                TargetStatus::Unchanged => &mut summary.unchanged,
                TargetStatus::Blocked => &mut summary.blocked,
                TargetStatus::Pinned => &mut summary.pinned,
                TargetStatus::Held => &mut summary.held,
                TargetStatus::Failed => &mut summary.failed,
            };
            *count += 1;
        }
        summary
    }

    /// The report of `command`, with `error` when the command failed.
    pub fn document<'a>(&self, command: ReportCommand, error: Option<&'a str>) -> Document<'a> {
        let mut body = match serde_json::to_value(self).expect("the report serializes") {
            serde_json::Value::Object(map) => map,
            _ => unreachable!("a struct serializes to an object"),
        };
        for field in command.omitted() {
            body.remove(*field);
        }
        Document {
            schema_version: SCHEMA_VERSION,
            command,
            summary: self.summary(),
            body,
            error,
        }
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
