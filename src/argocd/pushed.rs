//! What was pushed, read from the git checkout: the commit a sync goes to, its branch, parent,
//! message, time and changed files, and the URL of the remote it was pushed to. The webhook mode needs
//! all of it (a push event describes the commit); the API mode only the revision.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use super::{app, webhook};

/// What was pushed: the input of a sync.
#[derive(Debug, Clone)]
pub(crate) struct Pushed {
    /// The commit to sync to (a full SHA), or what `--revision` named.
    pub revision: String,
    /// The branch it was pushed to, when known.
    pub branch: Option<String>,
    /// Its first parent (the zero id for a root commit).
    pub before: String,
    /// Its message.
    pub message: String,
    /// Its commit time, RFC 3339.
    pub timestamp: String,
    /// The files it changed.
    pub changed_files: Vec<String>,
    /// The URL of the remote it was pushed to.
    pub remote_url: Option<String>,
}

impl Pushed {
    /// Reads the commit `revision` (default HEAD) of the repository at `dir`, the branch (`branch` as
    /// configured, else the checked-out one), and the URL of the push remote `remote`.
    pub(crate) fn from_repo(
        dir: &Path,
        revision: Option<&str>,
        branch: Option<&str>,
        remote: &str,
    ) -> anyhow::Result<Self> {
        let repo = match (git2::Repository::discover(dir), revision) {
            (Ok(repo), _) => repo,
            // With --revision and no checkout (a pipeline step that only syncs), the API mode has all it
            // needs; the webhook mode will say what it lacks.
            (Err(_), Some(rev)) => {
                return Ok(Self {
                    revision: rev.to_string(),
                    branch: branch.map(str::to_string),
                    before: webhook::ZERO_SHA.to_string(),
                    message: String::new(),
                    timestamp: now_rfc3339(),
                    changed_files: Vec::new(),
                    remote_url: None,
                });
            }
            (Err(err), None) => {
                return Err(anyhow::Error::new(err).context(format!(
                    "`sync` needs a git checkout to know the pushed commit; {} is not one (or pass --revision SHA)",
                    dir.display()
                )));
            }
        };
        let commit = match revision {
            None => repo
                .head()
                .and_then(|h| h.peel_to_commit())
                .context("cannot read the commit HEAD points at")?,
            Some(rev) => match repo.revparse_single(rev).and_then(|o| o.peel_to_commit()) {
                Ok(commit) => commit,
                // A revision the local clone does not have (a remote branch, a tag on the server) is
                // passed to Argo CD as written.
                Err(_) => {
                    return Ok(Self {
                        revision: rev.to_string(),
                        branch: branch_of(branch, &repo),
                        before: webhook::ZERO_SHA.to_string(),
                        message: String::new(),
                        timestamp: now_rfc3339(),
                        changed_files: Vec::new(),
                        remote_url: remote_url(remote, &repo),
                    });
                }
            },
        };
        // A branch or tag name stays a name: Argo CD resolves it on its side.
        let revision = match revision {
            Some(rev) if !app::is_full_sha(rev) && !looks_like_sha_prefix(rev) => rev.to_string(),
            _ => commit.id().to_string(),
        };
        let parent = commit.parent(0).ok();
        let before = parent
            .as_ref()
            .map(|p| p.id().to_string())
            .unwrap_or_else(|| webhook::ZERO_SHA.to_string());
        let changed_files = changed_files(&repo, &commit, parent.as_ref()).unwrap_or_default();
        let time = std::time::UNIX_EPOCH
            + Duration::from_secs(u64::try_from(commit.time().seconds()).unwrap_or(0));
        Ok(Self {
            revision,
            branch: branch_of(branch, &repo),
            before,
            message: commit.message().unwrap_or_default().to_string(),
            timestamp: humantime::format_rfc3339_seconds(time).to_string(),
            changed_files,
            remote_url: remote_url(remote, &repo),
        })
    }
}

fn looks_like_sha_prefix(text: &str) -> bool {
    text.len() >= 7 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

fn branch_of(branch: Option<&str>, repo: &git2::Repository) -> Option<String> {
    if let Some(branch) = branch {
        return Some(branch.to_string());
    }
    let head = repo.head().ok()?;
    if head.is_branch() {
        return head.shorthand().ok().map(str::to_string);
    }
    None
}

fn remote_url(name: &str, repo: &git2::Repository) -> Option<String> {
    let remote = repo.find_remote(name).ok()?;
    remote.url().ok().map(str::to_string)
}

fn changed_files(
    repo: &git2::Repository,
    commit: &git2::Commit<'_>,
    parent: Option<&git2::Commit<'_>>,
) -> Result<Vec<String>, git2::Error> {
    let new_tree = commit.tree()?;
    let old_tree = parent.map(|p| p.tree()).transpose()?;
    let diff = repo.diff_tree_to_tree(old_tree.as_ref(), Some(&new_tree), None)?;
    Ok(diff
        .deltas()
        .filter_map(|d| d.new_file().path().or_else(|| d.old_file().path()))
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .collect())
}
