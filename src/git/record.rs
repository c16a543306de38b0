//! What one modelbump process leaves for a later one, in the git folder (`<git dir>/modelbump/`), where it
//! is never committed or reported by `git status`.
//!
//! - `last-apply.json`: provenance handed from `apply` to a later `commit` process. `apply` and `commit`
//!   are often separate pipeline steps, and only `apply` knows which MLflow run or registry version a URI
//!   came from. `commit` uses an entry for trailers only when the value it commits equals the entry's new
//!   URI, so a record left over from an older apply is ignored.
//! - `own-commits`: the commits modelbump made in this checkout whose edits are not known to be on the
//!   remote yet (a push that failed, `--no-push`), one id per line. `run` pushes the edits of such
//!   commits and of no other, so a commit is recognised as modelbump's by its id: one a user made, amended
//!   or rebased is never taken for it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{GitError, GitRepo, Provenance};
use crate::report::{Report, TargetStatus};

const RECORD_DIR: &str = "modelbump";
const RECORD_FILE: &str = "last-apply.json";
const OWN_COMMITS_FILE: &str = "own-commits";
/// The most ids the own-commits record keeps (the oldest are dropped): a bound on its size.
const OWN_COMMITS_KEPT: usize = 200;

/// The recorded provenance of the last writes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AppliedRecord {
    /// The tracking URI the values came from, redacted.
    pub tracking_uri: Option<String>,
    /// One entry per changed target.
    pub targets: Vec<RecordedTarget>,
}

/// One changed target of an `apply`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RecordedTarget {
    /// The manifest, relative to the working tree, `/`-separated.
    pub file: String,
    /// The resource kind.
    pub kind: String,
    /// The name as `set` takes it.
    pub name: String,
    /// The URI written.
    pub new_uri: String,
    /// The MLflow run.
    pub run_id: Option<String>,
    /// The registry version.
    pub model_version: Option<String>,
    /// The experiment id.
    pub experiment_id: Option<String>,
}

impl AppliedRecord {
    /// The provenance of `name` in `file` when the recorded new URI is `value` (else the record is stale).
    pub(crate) fn provenance(&self, file: &str, name: &str, value: &str) -> Option<Provenance> {
        self.targets
            .iter()
            .find(|t| t.file == file && t.name == name && t.new_uri == value)
            .map(|t| Provenance {
                run_id: t.run_id.clone(),
                model_version: t.model_version.clone(),
                experiment_id: t.experiment_id.clone(),
            })
            .filter(|p| !p.is_empty())
    }

    /// The files the record mentions.
    pub(crate) fn files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = self
            .targets
            .iter()
            .map(|t| PathBuf::from(&t.file))
            .collect();
        files.dedup();
        files
    }
}

fn record_path(repo: &GitRepo) -> PathBuf {
    repo.git_dir().join(RECORD_DIR).join(RECORD_FILE)
}

impl AppliedRecord {
    /// The changed targets of `report` (paths relative to `repo_dir`) with their provenance.
    pub(crate) fn from_report(
        repo: &GitRepo,
        repo_dir: &Path,
        report: &Report,
        tracking_uri: Option<&str>,
    ) -> Self {
        let targets = report
            .targets
            .iter()
            .filter(|t| t.status == TargetStatus::Changed)
            .filter_map(|target| {
                let new_uri = target.new_uri.clone()?;
                let file = repo.relative(repo_dir, Path::new(&target.file))?;
                Some(RecordedTarget {
                    file: super::git_path(&file),
                    kind: target.kind.clone(),
                    name: target.name.clone(),
                    new_uri,
                    run_id: target.run_id.clone(),
                    model_version: target.model_version.clone(),
                    experiment_id: target.experiment_id.clone(),
                })
            })
            .collect();
        Self {
            tracking_uri: tracking_uri.map(crate::secret::redact_url),
            targets,
        }
    }
}

/// Records what an `apply` (or `run`) wrote in `repo_dir`: the changed targets of `report` with their
/// provenance. Entries for other models are kept; a folder that is not a git checkout records nothing.
pub fn record_applied(
    repo_dir: &Path,
    report: &Report,
    tracking_uri: Option<&str>,
) -> Result<(), GitError> {
    let Ok(repo) = GitRepo::discover(repo_dir) else {
        return Ok(());
    };
    let fresh = AppliedRecord::from_report(&repo, repo_dir, report, tracking_uri);
    if fresh.targets.is_empty() {
        return Ok(());
    }
    let mut record = load_applied(&repo);
    record.targets.retain(|old| {
        !fresh
            .targets
            .iter()
            .any(|new| new.file == old.file && new.name == old.name)
    });
    record.targets.extend(fresh.targets);
    if fresh.tracking_uri.is_some() {
        record.tracking_uri = fresh.tracking_uri;
    }
    write(&repo, &record)
}

/// Reads the record; empty when there is none or it cannot be read (it only ever adds trailers).
pub(crate) fn load_applied(repo: &GitRepo) -> AppliedRecord {
    let path = record_path(repo);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            tracing::warn!("ignoring {}: {e}", path.display());
            AppliedRecord::default()
        }),
        Err(_) => AppliedRecord::default(),
    }
}

/// Drops the entries of `files` (they were committed).
pub(crate) fn clear_recorded(repo: &GitRepo, files: &[String]) -> Result<(), GitError> {
    let mut record = load_applied(repo);
    let before = record.targets.len();
    record.targets.retain(|t| !files.contains(&t.file));
    if record.targets.len() == before {
        return Ok(());
    }
    write(repo, &record)
}

fn write(repo: &GitRepo, record: &AppliedRecord) -> Result<(), GitError> {
    let mut json = serde_json::to_string_pretty(record).expect("the record serializes");
    json.push('\n');
    write_file(repo, &record_path(repo), json.as_bytes())
}

/// Writes one of the records atomically, creating the folder.
fn write_file(repo: &GitRepo, path: &Path, bytes: &[u8]) -> Result<(), GitError> {
    let io = |message: String| GitError::Git {
        action: format!("writing {}", path.display()),
        repo: repo.workdir().to_path_buf(),
        message,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io(e.to_string()))?;
    }
    crate::fsutil::write_atomic(path, bytes)
        .map(drop)
        .map_err(|e| io(e.to_string()))
}

fn own_commits_path(repo: &GitRepo) -> PathBuf {
    repo.git_dir().join(RECORD_DIR).join(OWN_COMMITS_FILE)
}

/// The commits modelbump made here whose edits are not known to be on the remote, oldest first.
pub(crate) fn own_commits(repo: &GitRepo) -> Vec<git2::Oid> {
    std::fs::read_to_string(own_commits_path(repo))
        .unwrap_or_default()
        .lines()
        .filter_map(|line| git2::Oid::from_str(line.trim()).ok())
        .collect()
}

/// Records that modelbump made `commit` (before it is pushed).
pub(crate) fn remember_own_commit(repo: &GitRepo, commit: git2::Oid) -> Result<(), GitError> {
    let mut ids = own_commits(repo);
    ids.retain(|id| *id != commit);
    ids.push(commit);
    let skip = ids.len().saturating_sub(OWN_COMMITS_KEPT);
    write_own_commits(repo, &ids[skip..])
}

/// Drops `commits` from the record (their edits are on the remote now).
pub(crate) fn forget_own_commits(repo: &GitRepo, commits: &[git2::Oid]) -> Result<(), GitError> {
    let mut ids = own_commits(repo);
    let before = ids.len();
    ids.retain(|id| !commits.contains(id));
    if ids.len() == before {
        return Ok(());
    }
    write_own_commits(repo, &ids)
}

fn write_own_commits(repo: &GitRepo, ids: &[git2::Oid]) -> Result<(), GitError> {
    let text: String = ids.iter().map(|id| format!("{id}\n")).collect();
    write_file(repo, &own_commits_path(repo), text.as_bytes())
}
