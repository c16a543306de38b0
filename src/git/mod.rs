//! Git write-back: commit the manifests modelbump changed, and push them without losing anyone's work.
//!
//! A newtype over git2 ([`GitRepo`]) with the few operations modelbump needs, shaped by three promises:
//!
//! - **Only our edits are committed.** A commit is built from the base commit's tree plus the rewritten
//!   blobs of the files we edit ([`git2::build::TreeUpdateBuilder`]), never from the index, so whatever
//!   else is staged or modified stays out, and untracked files are never looked at. This also keeps the
//!   cost of a commit independent of the number of files in the repository.
//! - **A commit is a function of a base.** The files to change and the function that rewrites a file's
//!   bytes are given once ([`Update`]); the local commit applies them to `HEAD`, and the commit pushed is
//!   always one built on the remote tip, pushed by id: the local commit when HEAD was that tip, else the
//!   same update applied to the tip (not a text rebase), again on the fresh tip after a rejected push,
//!   with a message computed from the new old values. So commits of the local branch that the remote
//!   lacks are never pushed. When the remote already holds the wanted values, nothing new is committed.
//! - **Signed when configured.** Every commit object is written by one function
//!   (`GitRepo::write_commit`, `signing.rs`), which signs it with the [`Update::signer`], so the
//!   commits made again after a rejected push are signed like the first.
//! - **Credentials never leak.** Tokens are [`SecretString`]s, remote URLs are redacted and every message
//!   that comes from git or the server is scrubbed of the token before it is shown.
//!
//! The manifest editor is not called from here: [`Update::rewrite`] is a function the caller provides,
//! so this layer is tested with real repositories on its own.

mod history;
mod holds;
mod identity;
mod lease;
mod message;
mod record;
mod remote;
mod signing;

pub use history::{ACTION_TRAILER, REASON_TRAILER, ValueChange};
pub use holds::{HOLDS_FILE, HoldEntry, Holds, HoldsError, now_rfc3339};
pub use identity::{Identity, IdentitySource};
pub use message::ModelChange;
pub(crate) use message::{DEFAULT_TEMPLATE, Provenance, render_message};
pub use record::record_applied;
pub(crate) use record::{
    AppliedRecord, clear_recorded, forget_own_commits, load_applied, own_commits,
    remember_own_commit,
};
pub use remote::{Credentials, PushBase, PushOutcome, PushRequest};
pub(crate) use remote::{UserInfo, split_remote_url, token_transport};
pub use signing::{Signer, Signing, SigningError};

use std::path::{Path, PathBuf};

use git2::{ObjectType, Oid, Repository};

use crate::secret::SecretString;

/// Errors of the git layer. Each names the repository, file, remote or branch involved and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The folder is not inside a git checkout.
    #[error(
        "{path} is not inside a git checkout ({message}); run modelbump in a clone of the GitOps repository, or pass -C DIR"
    )]
    NotARepo {
        /// The folder that was searched from.
        path: PathBuf,
        /// git's message.
        message: String,
    },
    /// The repository has no working tree.
    #[error("{path} is a bare repository; modelbump needs a checkout with a working tree")]
    Bare {
        /// The repository.
        path: PathBuf,
    },
    /// HEAD does not point at a commit yet.
    #[error(
        "{path} has no commit yet; commit the manifests once by hand before modelbump commits to it"
    )]
    NoCommits {
        /// The working tree.
        path: PathBuf,
    },
    /// HEAD is detached and no branch was named.
    #[error(
        "HEAD is detached in {path} (a revision was checked out, not a branch), so there is no branch to push to: pass --branch NAME (or set MODELBUMP_GIT_BRANCH, or git.branch in the config), or check out the branch"
    )]
    Detached {
        /// The working tree.
        path: PathBuf,
    },
    /// No author identity could be found.
    #[error(
        "no commit identity: set git.author (name, email) in the config, GIT_AUTHOR_NAME and GIT_AUTHOR_EMAIL, or user.name and user.email in {repo}'s git config"
    )]
    NoIdentity {
        /// The working tree.
        repo: PathBuf,
    },
    /// An identity is set but unusable.
    #[error("invalid commit identity from {source_name} ({name} <{email}>): {message}")]
    BadIdentity {
        /// Where the identity came from.
        source_name: String,
        /// The name.
        name: String,
        /// The email.
        email: String,
        /// git's message.
        message: String,
    },
    /// A file to commit is not in the base commit.
    #[error(
        "{file} is not tracked in {commit}; modelbump only commits changes to files that are already committed"
    )]
    NotTracked {
        /// The file, relative to the working tree.
        file: PathBuf,
        /// Which commit (HEAD, or the remote tip).
        commit: String,
    },
    /// The remote does not exist.
    #[error(
        "no remote named {remote:?} in {repo}; add it (git remote add {remote} URL) or pick another with --remote or git.remote"
    )]
    NoRemote {
        /// The remote name.
        remote: String,
        /// The working tree.
        repo: PathBuf,
    },
    /// The remote branch does not exist.
    #[error(
        "the branch {branch} does not exist on {remote} ({url}); push it once by hand, or pick another with --branch or git.branch"
    )]
    NoRemoteBranch {
        /// The remote.
        remote: String,
        /// Its URL, redacted.
        url: String,
        /// The branch.
        branch: String,
    },
    /// A token would go over plain HTTP to a host that is not this machine.
    #[error(
        "refusing to send a token (MODELBUMP_GIT_TOKEN, or the password in the remote's URL) in clear text over http:// to {host} ({url}); use an https:// remote URL"
    )]
    InsecureToken {
        /// The host.
        host: String,
        /// The remote URL, redacted.
        url: String,
    },
    /// The server refused the credentials.
    #[error("authentication to {url} failed: {hint}")]
    AuthFailed {
        /// The remote URL, redacted.
        url: String,
        /// What was tried and what to do.
        hint: String,
    },
    /// The server rejected the pushed reference for a reason a retry cannot fix (a hook, branch protection).
    #[error("{remote} ({url}) rejected the push to {branch}: {reason}{server}")]
    Rejected {
        /// The remote.
        remote: String,
        /// Its URL, redacted.
        url: String,
        /// The branch.
        branch: String,
        /// The server's status for the reference.
        reason: String,
        /// The server's messages (`remote: ...` lines), scrubbed, prefixed with a newline when present.
        server: String,
    },
    /// A branch modelbump force-updates (a pull request's head) holds another commit than the one it
    /// checked: someone else pushed to it.
    #[error(
        "{remote} ({url}): the branch {branch} is at {found}, not at {expected} as modelbump left it; someone else pushed to it, so modelbump leaves it alone: review and merge or close its pull request, or delete the branch, then run again"
    )]
    LeaseBroken {
        /// The remote.
        remote: String,
        /// Its URL, redacted.
        url: String,
        /// The branch.
        branch: String,
        /// The tip modelbump expected.
        expected: String,
        /// The tip the server has.
        found: String,
    },
    /// Every push attempt lost the race.
    #[error(
        "the push to {branch} on {remote} ({url}) was still rejected after {attempts} attempts ({reason}); other writers keep moving the branch: run again, or raise git.pushAttempts"
    )]
    RetriesExhausted {
        /// The remote.
        remote: String,
        /// Its URL, redacted.
        url: String,
        /// The branch.
        branch: String,
        /// How many pushes were made.
        attempts: u32,
        /// The last rejection.
        reason: String,
    },
    /// Moving the local branch to the remote tip would overwrite local changes.
    #[error(
        "cannot move {branch} to the remote tip: {message}; commit or stash the local changes in {repo} and run again"
    )]
    WorkingTreeBusy {
        /// The branch.
        branch: String,
        /// The working tree.
        repo: PathBuf,
        /// git's message.
        message: String,
    },
    /// A file goes through a filter driver, which libgit2 does not run.
    #[error(
        "{file} goes through the git filter {filter:?} (`filter={filter}` in .gitattributes, filter.{filter}.* in the git config), which modelbump cannot run (libgit2 runs only git's built-in conversions: line endings and ident), so it cannot compare the file with HEAD as git does nor store it as git would: change and commit this file with git itself, or take it out of the filter"
    )]
    FilterDriver {
        /// The file, relative to the working tree.
        file: PathBuf,
        /// The filter's name.
        filter: String,
    },
    /// Re-applying the edits to the remote tip failed.
    #[error("cannot re-apply the edits to {file} at the remote tip {commit}: {message}")]
    Reapply {
        /// The file.
        file: PathBuf,
        /// The remote tip.
        commit: String,
        /// Why.
        message: String,
    },
    /// A commit could not be signed (nothing was written).
    #[error(transparent)]
    Signing(#[from] SigningError),
    /// Any other git failure, with what was being done.
    #[error("git: {action} in {repo}: {message}")]
    Git {
        /// What was being done.
        action: String,
        /// The working tree.
        repo: PathBuf,
        /// git's message (scrubbed).
        message: String,
    },
}

/// A file's new content and the model changes it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewritten {
    /// The new bytes (equal to the input when the file already holds the wanted values).
    pub bytes: Vec<u8>,
    /// The model URIs that change, old -> new (unchanged ones left out).
    pub changes: Vec<ModelChange>,
}

/// The edits one run of modelbump wants committed: which files, and how to rewrite each from any base.
pub struct Update<'a> {
    /// The files, relative to the working tree.
    pub files: Vec<PathBuf>,
    /// Rewrites one file's bytes at a base commit into the wanted bytes (the manifest editor, re-applied).
    #[allow(clippy::type_complexity)]
    pub rewrite: &'a dyn Fn(&Path, &[u8]) -> anyhow::Result<Rewritten>,
    /// The message's first lines (a template with `{count}`, `{models}`, `{files}`).
    pub template: String,
    /// The tracking URI for the trailer (redacted when rendered).
    pub tracking_uri: Option<String>,
    /// Author and committer.
    pub identity: Identity,
    /// Signs every commit made for this update (`git.signing`), the re-applied ones too; `None` leaves
    /// them unsigned.
    pub signer: Option<&'a Signer>,
}

/// A commit that was made.
#[derive(Debug, Clone)]
pub struct Committed {
    /// Its id.
    pub id: Oid,
    /// The model changes it carries.
    pub changes: Vec<ModelChange>,
    /// Its message.
    pub message: String,
}

/// A git checkout opened by modelbump.
pub struct GitRepo {
    repo: Repository,
    workdir: PathBuf,
}

impl std::fmt::Debug for GitRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitRepo")
            .field("workdir", &self.workdir)
            .finish()
    }
}

impl GitRepo {
    /// Opens the checkout that holds `path` (the folder itself or any parent).
    pub fn discover(path: &Path) -> Result<Self, GitError> {
        let repo = Repository::discover(path).map_err(|e| GitError::NotARepo {
            path: path.to_path_buf(),
            message: e.message().to_string(),
        })?;
        let workdir = repo
            .workdir()
            .ok_or_else(|| GitError::Bare {
                path: repo.path().to_path_buf(),
            })?
            .to_path_buf();
        // `discover` returns the work dir with a trailing slash and without resolving links; settings
        // hold canonical paths, so canonicalize to make `strip_prefix` between them work.
        let workdir = workdir.canonicalize().unwrap_or(workdir);
        Ok(Self { repo, workdir })
    }

    /// The working tree's root.
    pub fn workdir(&self) -> &Path {
        &self.workdir
    }

    /// The git folder (`.git`, or the worktree's own folder).
    pub fn git_dir(&self) -> &Path {
        self.repo.path()
    }

    /// The underlying repository, for tests and benchmarks.
    pub fn raw(&self) -> &Repository {
        &self.repo
    }

    /// `path` (absolute, or relative to `base`) as a path relative to the working tree, `None` when outside.
    ///
    /// Symlinks are followed: a manifest named through a link is the file the link points to, which is
    /// what is edited and committed (git stores the link itself as a blob holding a path). A link that
    /// leads out of the working tree is outside. A path that does not exist is taken as written.
    pub fn relative(&self, base: &Path, path: &Path) -> Option<PathBuf> {
        let joined = if path.is_absolute() {
            path.to_path_buf()
        } else {
            base.join(path)
        };
        let normal = match crate::fsutil::contained(&self.workdir, &joined) {
            Ok(real) => real,
            Err(crate::fsutil::ContainmentError::Missing { lexical, .. }) => lexical,
            Err(_) => return None,
        };
        normal
            .strip_prefix(&self.workdir)
            .ok()
            .map(Path::to_path_buf)
    }

    pub(crate) fn err(
        &self,
        action: impl Into<String>,
    ) -> impl FnOnce(git2::Error) -> GitError + '_ {
        let action = action.into();
        move |e| GitError::Git {
            action,
            repo: self.workdir.clone(),
            message: e.message().to_string(),
        }
    }

    /// The commit HEAD points at.
    pub fn head_commit(&self) -> Result<Oid, GitError> {
        match self.repo.head() {
            Ok(head) => head
                .peel_to_commit()
                .map(|c| c.id())
                .map_err(self.err("reading HEAD")),
            Err(e)
                if matches!(
                    e.code(),
                    git2::ErrorCode::UnbornBranch | git2::ErrorCode::NotFound
                ) =>
            {
                Err(GitError::NoCommits {
                    path: self.workdir.clone(),
                })
            }
            Err(e) => Err(self.err("reading HEAD")(e)),
        }
    }

    /// The checked-out branch's short name; an error when HEAD is detached.
    pub fn current_branch(&self) -> Result<String, GitError> {
        let head = self
            .repo
            .find_reference("HEAD")
            .map_err(self.err("reading HEAD"))?;
        match head.symbolic_target().ok().flatten() {
            Some(target) => Ok(target
                .strip_prefix("refs/heads/")
                .unwrap_or(target)
                .to_string()),
            None => Err(GitError::Detached {
                path: self.workdir.clone(),
            }),
        }
    }

    /// How many commits HEAD has that the last fetched state of `remote`/`branch` has not (no network).
    pub fn ahead_of_remote(&self, remote: &str, branch: &str) -> Option<usize> {
        let head = self.head_commit().ok()?;
        let tracking = self
            .repo
            .refname_to_id(&format!("refs/remotes/{remote}/{branch}"))
            .ok()?;
        self.repo
            .graph_ahead_behind(head, tracking)
            .ok()
            .map(|(ahead, _)| ahead)
    }

    /// The last fetched tip of `remote`/`branch` (no network), `None` when it was never fetched.
    pub fn tracking_tip(&self, remote: &str, branch: &str) -> Option<Oid> {
        self.repo
            .refname_to_id(&format!("refs/remotes/{remote}/{branch}"))
            .ok()
    }

    /// The commits HEAD has and `base` has not, oldest first.
    pub fn unpushed(&self, base: Oid) -> Result<Vec<Oid>, GitError> {
        let head = self.head_commit()?;
        let mut walk = self.repo.revwalk().map_err(self.err("listing commits"))?;
        walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)
            .and_then(|()| walk.push(head))
            .and_then(|()| walk.hide(base))
            .map_err(self.err("listing the commits the remote has not"))?;
        walk.collect::<Result<Vec<_>, _>>()
            .map_err(self.err("listing the commits the remote has not"))
    }

    /// A commit's only parent and the files it changes (added, deleted or modified), `None` for a merge
    /// or a root commit.
    pub fn changed_files(&self, commit: Oid) -> Result<Option<(Oid, Vec<PathBuf>)>, GitError> {
        let commit = self
            .repo
            .find_commit(commit)
            .map_err(self.err("reading a commit"))?;
        if commit.parent_count() != 1 {
            return Ok(None);
        }
        let parent = commit.parent(0).map_err(self.err("reading a commit"))?;
        let (old, new) = parent
            .tree()
            .and_then(|old| Ok((old, commit.tree()?)))
            .map_err(self.err("reading a commit's tree"))?;
        let diff = self
            .repo
            .diff_tree_to_tree(Some(&old), Some(&new), None)
            .map_err(self.err("comparing a commit with its parent"))?;
        let files = diff
            .deltas()
            .filter_map(|d| d.new_file().path().or(d.old_file().path()))
            .map(Path::to_path_buf)
            .collect();
        Ok(Some((parent.id(), files)))
    }

    /// True when `ancestor` is `commit` or one of its ancestors.
    pub fn contains(&self, commit: Oid, ancestor: Oid) -> bool {
        commit == ancestor
            || self
                .repo
                .graph_descendant_of(commit, ancestor)
                .unwrap_or(false)
    }

    /// The bytes of `file` in `commit`, `None` when the file is not there (or not a regular file).
    pub fn blob_at(&self, commit: Oid, file: &Path) -> Result<Option<Vec<u8>>, GitError> {
        let tree = self
            .repo
            .find_commit(commit)
            .and_then(|c| c.tree())
            .map_err(self.err("reading a commit's tree"))?;
        let entry = match tree.get_path(file) {
            Ok(entry) => entry,
            Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
            Err(e) => return Err(self.err(format!("looking up {}", file.display()))(e)),
        };
        if entry.kind() != Some(ObjectType::Blob)
            || entry.filemode() == i32::from(git2::FileMode::Link)
        {
            return Ok(None);
        }
        let blob = self
            .repo
            .find_blob(entry.id())
            .map_err(self.err(format!("reading {}", file.display())))?;
        Ok(Some(blob.content().to_vec()))
    }

    /// `work`, the working-tree bytes of `file` (relative to the working tree), in the form git stores:
    /// through the conversions `git add` and `git status` apply (`core.autocrlf`, the `text` and `eol`
    /// attributes, `ident`). HEAD's blob is in this form, so this is what is compared with it, what the
    /// edits are checked against, and (with the edits) what is committed.
    ///
    /// A file under a filter driver (`filter=NAME` with `filter.NAME.clean`, `.smudge` or `.process`
    /// configured) is refused with [`GitError::FilterDriver`]: libgit2 runs only its built-in
    /// conversions, so the form it would give is not git's.
    pub fn stored_form(&self, file: &Path, work: &[u8]) -> Result<Vec<u8>, GitError> {
        self.check_filter_driver(file)?;
        let shown = file.display();
        // The blob writer applies the conversions that the attributes and config give for `file`; the
        // blob lands in the object database, where `git add` would put it too.
        let mut writer = self
            .repo
            .blob_writer(Some(file))
            .map_err(self.err(format!("converting {shown}")))?;
        std::io::Write::write_all(&mut writer, work).map_err(|e| GitError::Git {
            action: format!("converting {shown}"),
            repo: self.workdir.clone(),
            message: e.to_string(),
        })?;
        let id = writer
            .commit()
            .map_err(self.err(format!("converting {shown}")))?;
        let blob = self
            .repo
            .find_blob(id)
            .map_err(self.err(format!("reading {shown}")))?;
        Ok(blob.content().to_vec())
    }

    /// Refuses a file that goes through a configured filter driver (see [`GitRepo::stored_form`]).
    fn check_filter_driver(&self, file: &Path) -> Result<(), GitError> {
        let shown = file.display();
        let value = self
            .repo
            .get_attr(file, "filter", git2::AttrCheckFlags::default())
            .map_err(self.err(format!("reading the attributes of {shown}")))?;
        let git2::AttrValue::String(filter) = git2::AttrValue::from_string(value) else {
            return Ok(());
        };
        // A filter named in .gitattributes but not configured is no conversion at all, for git too.
        let config = self
            .repo
            .config()
            .map_err(self.err("reading the git config"))?;
        let configured = ["clean", "smudge", "process"].iter().any(|key| {
            config
                .get_string(&format!("filter.{filter}.{key}"))
                .is_ok_and(|command| !command.trim().is_empty())
        });
        if configured {
            return Err(GitError::FilterDriver {
                file: file.to_path_buf(),
                filter: filter.to_string(),
            });
        }
        Ok(())
    }

    /// The tracked YAML files whose working-tree content differs from HEAD or the index.
    ///
    /// This walks the whole index (one `lstat` per tracked YAML file), so it is only used when no target
    /// files are known; the pipeline path names its files and never calls it.
    pub fn modified_yaml_files(&self) -> Result<Vec<PathBuf>, GitError> {
        let mut opts = git2::StatusOptions::new();
        opts.include_untracked(false)
            .include_ignored(false)
            .exclude_submodules(true)
            .pathspec("*.yaml")
            .pathspec("*.yml");
        let statuses = self
            .repo
            .statuses(Some(&mut opts))
            .map_err(self.err("reading the status"))?;
        let wanted = git2::Status::WT_MODIFIED | git2::Status::INDEX_MODIFIED;
        Ok(statuses
            .iter()
            .filter(|s| s.status().intersects(wanted))
            .filter_map(|s| s.path().ok().map(PathBuf::from))
            .collect())
    }

    /// Applies the update to `base`: a new commit whose parent is `base`, whose tree is `base`'s with the
    /// rewritten files, and whose message lists the changes. `None` when `base` already holds the wanted
    /// values. Refs are not touched.
    pub fn commit_update(
        &self,
        base: Oid,
        update: &Update<'_>,
    ) -> Result<Option<Committed>, GitError> {
        let base_commit = self
            .repo
            .find_commit(base)
            .map_err(self.err("reading the base commit"))?;
        let base_tree = base_commit
            .tree()
            .map_err(self.err("reading the base tree"))?;
        let short = short_id(base);
        let mut builder = git2::build::TreeUpdateBuilder::new();
        let mut changes = Vec::new();
        let mut touched = 0usize;
        for file in &update.files {
            let Ok(entry) = base_tree.get_path(file) else {
                // A file the base lacks is created when the rewrite makes something of nothing (the
                // holds file); for a manifest, whose edits cannot apply to nothing, it is an error.
                let not_tracked = || GitError::NotTracked {
                    file: file.clone(),
                    commit: short.clone(),
                };
                let rewritten = (update.rewrite)(file, &[]).map_err(|_| not_tracked())?;
                if rewritten.bytes.is_empty() {
                    continue;
                }
                let blob = self
                    .repo
                    .blob(&rewritten.bytes)
                    .map_err(self.err(format!("storing {}", file.display())))?;
                builder.upsert(git_path(file), blob, git2::FileMode::Blob);
                touched += 1;
                changes.extend(rewritten.changes);
                continue;
            };
            let old = self
                .repo
                .find_blob(entry.id())
                .map_err(self.err(format!("reading {}", file.display())))?;
            let rewritten =
                (update.rewrite)(file, old.content()).map_err(|e| GitError::Reapply {
                    file: file.clone(),
                    commit: short.clone(),
                    message: format!("{e:#}"),
                })?;
            if rewritten.bytes == old.content() {
                continue;
            }
            let blob = self
                .repo
                .blob(&rewritten.bytes)
                .map_err(self.err(format!("storing {}", file.display())))?;
            let mode = match entry.filemode() {
                m if m == i32::from(git2::FileMode::BlobExecutable) => {
                    git2::FileMode::BlobExecutable
                }
                _ => git2::FileMode::Blob,
            };
            builder.upsert(git_path(file), blob, mode);
            touched += 1;
            changes.extend(rewritten.changes);
        }
        if touched == 0 {
            return Ok(None);
        }
        let tree_id = builder
            .create_updated(&self.repo, &base_tree)
            .map_err(self.err("building the commit's tree"))?;
        let tree = self
            .repo
            .find_tree(tree_id)
            .map_err(self.err("reading the new tree"))?;
        let message = render_message(&update.template, &changes, update.tracking_uri.as_deref());
        let author = update
            .identity
            .author()
            .map_err(self.err("making the author signature"))?;
        let committer = update
            .identity
            .committer()
            .map_err(self.err("making the committer signature"))?;
        let id = self.write_commit(
            &author,
            &committer,
            &message,
            &tree,
            &[&base_commit],
            update.signer,
        )?;
        Ok(Some(Committed {
            id,
            changes,
            message,
        }))
    }

    /// Moves the checked-out branch (or a detached HEAD) from `from` to `to` when the working tree already
    /// holds `to`'s content for `files` (the commit was built from the working tree): the index entries of
    /// those files are refreshed, then the ref moves; nothing else is read or written.
    ///
    /// The index is written first, so that HEAD never points at the new commit while the index still holds
    /// the old files: a process killed in between would leave every committed file staged as a revert, and
    /// a later plain `git commit` would undo the deploy. Killed between the two writes instead, the index
    /// holds the new files staged on the old HEAD, which is the same edit and commits as such. A locked
    /// index (another git command running) stops here with nothing moved.
    pub fn advance_branch(&self, from: Oid, to: Oid, files: &[PathBuf]) -> Result<(), GitError> {
        let branch_ref = self.head_ref_name()?;
        let stamp = self.index_stamp();
        let mut index = self.repo.index().map_err(self.err("reading the index"))?;
        let previous: Vec<Option<git2::IndexEntry>> =
            files.iter().map(|f| index.get_path(f, 0)).collect();
        for file in files {
            index
                .add_path(file)
                .map_err(self.err(format!("staging {}", file.display())))?;
        }
        self.smudge_racy_entries(&mut index, stamp)?;
        index.write().map_err(|e| GitError::Git {
            action: "writing the index (if no other git command is running, delete .git/index.lock); nothing was committed".into(),
            repo: self.workdir.clone(),
            message: e.message().to_string(),
        })?;
        if let Err(e) =
            self.repo
                .reference_matching(&branch_ref, to, true, from, "modelbump: commit")
        {
            // Put the entries back, so that the index matches the HEAD that did not move.
            for entry in previous.into_iter().flatten() {
                let _ = index.add(&entry);
            }
            let _ = index.write();
            return Err(self.err(format!("moving {branch_ref}"))(e));
        }
        Ok(())
    }

    /// The second in which the index file was last written, before we rewrite it.
    fn index_stamp(&self) -> Option<u64> {
        let modified = std::fs::metadata(self.repo.path().join("index"))
            .ok()?
            .modified()
            .ok()?;
        Some(
            modified
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?
                .as_secs(),
        )
    }

    /// Marks the entries git would consider "racily clean" so that git re-reads their content.
    ///
    /// git trusts an entry's cached stat data unless the entry is as new as the index file, compared in
    /// whole seconds; libgit2 compares nanoseconds when it rewrites the index and so does not smudge an
    /// entry whose file changed (to the same size) later in the same second as the previous index write.
    /// After our rewrite, the index is a second newer and git would report such a file as unmodified.
    /// Zeroing the cached size, as git itself does, makes the next `git status` compare the content.
    fn smudge_racy_entries(
        &self,
        index: &mut git2::Index,
        stamp: Option<u64>,
    ) -> Result<(), GitError> {
        let Some(stamp) = stamp else {
            return Ok(());
        };
        let racy: Vec<git2::IndexEntry> = index
            .iter()
            .filter(|e| {
                e.file_size != 0 && u64::try_from(e.mtime.seconds()).is_ok_and(|s| s >= stamp)
            })
            .filter(|e| (e.flags >> 12) & 0x3 == 0)
            .collect();
        for mut entry in racy {
            entry.file_size = 0;
            index.add(&entry).map_err(self.err("updating the index"))?;
        }
        Ok(())
    }

    /// Moves the checked-out branch or a detached HEAD (and the working tree and index) from HEAD to
    /// `to`, refusing when a file that differs between the two has local changes.
    pub fn move_branch(&self, to: Oid) -> Result<(), GitError> {
        let branch_ref = self.head_ref_name()?;
        let from = self.head_commit()?;
        if from == to {
            return Ok(());
        }
        let target = self
            .repo
            .find_commit(to)
            .map_err(self.err("reading the remote tip"))?;
        let stamp = self.index_stamp();
        let mut checkout = git2::build::CheckoutBuilder::new();
        checkout.safe();
        // The baseline of a checkout is HEAD's tree: only files that differ between HEAD and `to` are
        // written, and a safe checkout refuses to overwrite any of them that holds local changes.
        self.repo
            .checkout_tree(target.as_object(), Some(&mut checkout))
            .map_err(|e| GitError::WorkingTreeBusy {
                branch: branch_ref.trim_start_matches("refs/heads/").to_string(),
                repo: self.workdir.clone(),
                message: e.message().to_string(),
            })?;
        self.repo
            .reference_matching(
                &branch_ref,
                to,
                true,
                from,
                "modelbump: move to the remote tip",
            )
            .map_err(self.err(format!("moving {branch_ref}")))?;
        // The checkout rewrote the index: keep git's racy-entry check working (see smudge_racy_entries).
        let mut index = self.repo.index().map_err(self.err("reading the index"))?;
        self.smudge_racy_entries(&mut index, stamp)?;
        index.write().map_err(self.err("writing the index"))?;
        Ok(())
    }

    /// The reference a new commit moves: the checked-out branch (`refs/heads/NAME`), or `HEAD` itself
    /// when it is detached. CI systems and Argo's git artifacts check out a revision as a detached HEAD;
    /// a commit there goes on top of HEAD, as `git commit` does, and is pushed to the branch named.
    pub(crate) fn head_ref_name(&self) -> Result<String, GitError> {
        let head = self
            .repo
            .find_reference("HEAD")
            .map_err(self.err("reading HEAD"))?;
        Ok(head
            .symbolic_target()
            .ok()
            .flatten()
            .unwrap_or("HEAD")
            .to_string())
    }

    /// True when HEAD points at a commit directly rather than at a branch.
    pub fn is_detached(&self) -> bool {
        self.repo.head_detached().unwrap_or(false)
    }
}

/// A path as git writes it in trees: `/`-separated.
pub(crate) fn git_path(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The first 12 hex digits of a commit id, for messages.
pub(crate) fn short_id(id: Oid) -> String {
    id.to_string()[..12].to_string()
}

/// The secrets of the git layer, for scrubbing text from git and servers.
pub(crate) fn scrub(text: &str, token: Option<&SecretString>) -> String {
    match token {
        Some(token) => crate::secret::scrub(text, &[token]),
        None => text.to_string(),
    }
}
