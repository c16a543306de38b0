//! The values one model URI field has had, read from the git history of its file.
//!
//! The walk visits the commits reachable from a start commit and, for each, compares only the blob id
//! of the one file with its parents' (two tree look-ups of that path: no diff of the whole tree, as
//! `git log -- FILE` does). Only the commits whose blob differs from every parent's are read, so the
//! cost beyond the walk itself is bounded by the commits that touch the file. The value is read from
//! each such blob by a function the caller gives (the manifest editor's field finder), once per blob.
//!
//! Each change carries what modelbump's trailers say about it (the MLflow run, model version and
//! experiment, a rollback's or hold's action and reason) and whether modelbump made it at all: a commit
//! whose message lists the change as `- NAME (FILE): OLD -> NEW` or carries a `Modelbump-Action`
//! trailer. A change without either was made by hand.

use std::collections::HashMap;
use std::path::Path;

use git2::Oid;

use super::{GitError, GitRepo, git_path};

/// The trailer that says which modelbump command made a commit other than an update.
pub const ACTION_TRAILER: &str = "Modelbump-Action";
/// The trailer with the reason of a rollback, hold or release.
pub const REASON_TRAILER: &str = "Modelbump-Reason";

/// One change of the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueChange {
    /// The commit.
    pub commit: Oid,
    /// The commit time, seconds since the epoch.
    pub time: i64,
    /// The author, `Name <email>`.
    pub author: String,
    /// The value before (`None`: the field did not exist).
    pub old: Option<String>,
    /// The value after (`None`: the field is gone).
    pub new: Option<String>,
    /// Trailers of the commit: `MLflow-Run-Id`, `MLflow-Model-Version`, `MLflow-Experiment`,
    /// `Modelbump-Action`, `Modelbump-Reason`, in the message's order.
    pub trailers: Vec<(String, String)>,
    /// modelbump made this change (see the module doc).
    pub by_modelbump: bool,
    /// The commit message's first line.
    pub subject: String,
}

impl ValueChange {
    /// The value of a trailer, if the commit has it.
    pub fn trailer(&self, key: &str) -> Option<&str> {
        self.trailers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// A change made by hand: not by modelbump (no change line, no `Modelbump-Action`), and of a value
    /// that existed before (the commit that added the field is not an edit of a managed value).
    pub fn is_manual(&self) -> bool {
        !self.by_modelbump && self.trailer(ACTION_TRAILER).is_none() && self.old.is_some()
    }

    /// The commit date, RFC 3339 (UTC, seconds).
    pub fn date(&self) -> String {
        let date = std::time::UNIX_EPOCH
            + std::time::Duration::from_secs(u64::try_from(self.time).unwrap_or_default());
        humantime::format_rfc3339_seconds(date).to_string()
    }
}

const KNOWN_TRAILERS: &[&str] = &[
    "MLflow-Run-Id",
    "MLflow-Model-Version",
    "MLflow-Experiment",
    ACTION_TRAILER,
    REASON_TRAILER,
];

impl GitRepo {
    /// The changes of the value `read` finds in `file` (relative to the working tree), newest first, in
    /// the history of `start`. `name` is the model's name, to recognise modelbump's change lines.
    pub fn value_history(
        &self,
        start: Oid,
        file: &Path,
        name: &str,
        read: &dyn Fn(&[u8]) -> Option<String>,
    ) -> Result<Vec<ValueChange>, GitError> {
        self.value_changes(start, file, name, read, usize::MAX)
    }

    /// The newest change of the value `read` finds in `file` in the history of `start` (see
    /// [`GitRepo::value_history`]): the walk stops at the first commit that changed it, so its cost is
    /// bounded by the commits since that change.
    pub fn last_value_change(
        &self,
        start: Oid,
        file: &Path,
        name: &str,
        read: &dyn Fn(&[u8]) -> Option<String>,
    ) -> Result<Option<ValueChange>, GitError> {
        Ok(self.value_changes(start, file, name, read, 1)?.pop())
    }

    /// At most `limit` changes, newest first.
    fn value_changes(
        &self,
        start: Oid,
        file: &Path,
        name: &str,
        read: &dyn Fn(&[u8]) -> Option<String>,
        limit: usize,
    ) -> Result<Vec<ValueChange>, GitError> {
        let mut walk = self
            .repo
            .revwalk()
            .map_err(self.err("walking the history"))?;
        walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::TIME)
            .map_err(self.err("walking the history"))?;
        walk.push(start).map_err(self.err("walking the history"))?;
        let shown = git_path(file);
        let mut values: HashMap<Oid, Option<String>> = HashMap::new();
        let mut value_of = |blob: Option<Oid>| -> Result<Option<String>, GitError> {
            let Some(id) = blob else { return Ok(None) };
            if let Some(v) = values.get(&id) {
                return Ok(v.clone());
            }
            let bytes = self
                .repo
                .find_blob(id)
                .map_err(self.err(format!("reading {shown}")))?;
            let v = read(bytes.content());
            values.insert(id, v.clone());
            Ok(v)
        };
        let mut out = Vec::new();
        for id in walk {
            if out.len() >= limit {
                break;
            }
            let id = id.map_err(self.err("walking the history"))?;
            let commit = self
                .repo
                .find_commit(id)
                .map_err(self.err("reading a commit"))?;
            let blob = blob_id(&commit, file);
            let parents: Vec<Option<Oid>> = commit.parents().map(|p| blob_id(&p, file)).collect();
            // Unchanged from a parent (also the side of a merge that brought nothing new): skip.
            if parents.contains(&blob) || (parents.is_empty() && blob.is_none()) {
                continue;
            }
            let new = value_of(blob)?;
            let old = value_of(parents.first().copied().flatten())?;
            if new == old {
                continue;
            }
            let message = commit.message().unwrap_or_default().to_string();
            let trailers = trailers(&message);
            let change_line = format!(
                "- {name} ({shown}): {} -> {}",
                old.as_deref().unwrap_or_default(),
                new.as_deref().unwrap_or_default()
            );
            let by_modelbump = message.lines().any(|l| l == change_line)
                || trailers.iter().any(|(k, _)| k == ACTION_TRAILER);
            let author = commit.author();
            out.push(ValueChange {
                commit: id,
                time: commit.time().seconds(),
                author: format!(
                    "{} <{}>",
                    author.name().unwrap_or_default(),
                    author.email().unwrap_or_default()
                ),
                old,
                new,
                trailers,
                by_modelbump,
                subject: message.lines().next().unwrap_or_default().to_string(),
            });
        }
        Ok(out)
    }
}

/// The blob id of `file` in a commit's tree, `None` when absent.
fn blob_id(commit: &git2::Commit<'_>, file: &Path) -> Option<Oid> {
    let tree = commit.tree().ok()?;
    let entry = tree.get_path(file).ok()?;
    (entry.kind() == Some(git2::ObjectType::Blob)).then(|| entry.id())
}

/// The trailers modelbump reads, from the message's last paragraph.
fn trailers(message: &str) -> Vec<(String, String)> {
    let last = message.trim_end().rsplit("\n\n").next().unwrap_or_default();
    last.lines()
        .filter_map(|line| {
            let (key, value) = line.split_once(": ")?;
            KNOWN_TRAILERS
                .iter()
                .find(|k| k.eq_ignore_ascii_case(key.trim()))
                .map(|k| (k.to_string(), value.trim().to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailers_come_from_the_last_paragraph_only() {
        let message = "update: x\n\nMLflow-Run-Id: not-this\n- a (f): 1 -> 2\n\nMLflow-Run-Id: abc\nModelbump-Action: rollback\nModelbump-Reason: bad: latency\nSigned-off-by: x\n";
        assert_eq!(
            trailers(message),
            vec![
                ("MLflow-Run-Id".to_string(), "abc".to_string()),
                (ACTION_TRAILER.to_string(), "rollback".to_string()),
                (REASON_TRAILER.to_string(), "bad: latency".to_string()),
            ]
        );
    }
}
