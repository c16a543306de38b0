//! The write-back shared by `commit` and `run`, and the `commit` use case.
//!
//! `commit` works from the working tree, so that `apply` then `commit` is the pipeline and `set` then
//! `commit --push` is a manual rollback. A file is committed only when its sole uncommitted differences are
//! model URI values: the URIs found in the working tree are re-applied to HEAD's version of the file with
//! the editor, and the result must equal the working tree byte for byte, taken in the form git stores
//! ([`GitRepo::stored_form`]: through line-ending and ident conversions, as `git status` compares). A target
//! named through a symlink is the file the link points to. The same edits are what a
//! push applies to the remote tip when HEAD is not that tip (the branch holds other commits, which are never
//! pushed) or when the push is rejected. The write-back itself ([`write_back`]) is shared with `run`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::config::Person;
use crate::env::Env;
use crate::git::{
    AppliedRecord, Credentials, GitRepo, Identity, ModelChange, PushBase, PushOutcome, PushRequest,
    Rewritten, Update, UserInfo,
};
use crate::git::{Signer, Signing};
use crate::manifest::{self, AnyEdit, Edit, Selector};
use crate::report::{Report, TargetReport, TargetStatus};

/// What every write-back needs, resolved by the caller.
#[derive(Debug, Clone)]
pub struct GitOptions {
    /// The repo folder (absolute); the git checkout is found from it.
    pub repo: PathBuf,
    /// The message's first lines (`{count}`, `{models}` and `{files}` are filled in); `None` is
    /// [`crate::git::DEFAULT_TEMPLATE`].
    pub message: Option<String>,
    /// The tracking URI named in the provenance trailers when the recorded provenance has none.
    pub tracking_uri: Option<String>,
    /// The configured author (`git.author`).
    pub author: Option<Person>,
    /// The environment snapshot: git's identity and credential variables, read with git's conventions.
    pub env: Env,
    /// Sign every commit with this key (`git.signing`); `None` commits unsigned.
    pub signing: Option<Signing>,
}

/// Where to push, as resolved from flags, environment and config (before the repo is looked at).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushSpec {
    /// The remote, a name or a URL (user info in it is used as credentials, never shown).
    pub remote: String,
    /// The branch; `None` is the checked-out branch.
    pub branch: Option<String>,
    /// How many pushes at most (1 or more).
    pub attempts: u32,
}

/// The `commit` use case's input.
#[derive(Debug, Clone)]
pub struct CommitOptions {
    /// Where and how to commit.
    pub git: GitOptions,
    /// The files named (the configured targets', then the user's), relative to the repo folder.
    pub files: Vec<PathBuf>,
    /// The configured path targets (file relative to the repo folder, name, path), whose values may
    /// change as model URIs do.
    pub path_targets: Vec<(PathBuf, String, manifest::YamlPath)>,
    /// Push after committing, there.
    pub push: Option<PushSpec>,
    /// With a target selection: the selected targets (file relative to the repo folder, name). Only
    /// their files are looked at (not the last apply's nor a scan), and a file holding uncommitted URI
    /// changes of other models is refused.
    pub selected: Option<Vec<(PathBuf, String)>>,
}

/// What `commit` did.
#[derive(Debug, Clone)]
pub struct CommitOutcome {
    /// The write-back.
    pub write_back: WriteBackOutcome,
    /// Where it pushed, if asked to.
    pub push: Option<PushTarget>,
    /// The report: one line per model URI committed, the commit and whether it was pushed.
    pub report: Report,
}

/// Where to push, checked against the repo.
#[derive(Debug, Clone)]
pub struct PushTarget {
    /// The remote's name, or its URL without user info: safe to show.
    pub remote: String,
    /// The user info the remote's URL carried, used as credentials.
    pub user_info: UserInfo,
    /// The remote branch.
    pub branch: String,
    /// How many pushes at most.
    pub attempts: u32,
}

impl PushTarget {
    /// Checks the resolved `spec` against the repo: the remote exists, the branch is known.
    ///
    /// On a detached HEAD (how CI systems check out a revision) there is no checked-out branch to
    /// default to: the branch must be named, and the error says how.
    ///
    /// A remote given as a URL loses its user info here, so that nothing downstream can show it; a
    /// password in it that would go in clear text over `http://` to another machine is refused now,
    /// before anything is written. A remote that does not exist is an error here too, before anything is
    /// written or committed.
    pub fn resolve(repo: &GitRepo, spec: &PushSpec) -> anyhow::Result<Self> {
        let remote = spec.remote.clone();
        let (remote, user_info) = match crate::git::split_remote_url(&remote) {
            Some((url, info)) => {
                if info.password.is_some() {
                    crate::git::token_transport(&url)?;
                }
                (url, info)
            }
            None => (remote, UserInfo::default()),
        };
        repo.check_remote(&remote)?;
        let branch = match spec.branch.clone() {
            Some(b) => b,
            None => repo.current_branch()?,
        };
        Ok(Self {
            remote,
            user_info,
            branch,
            attempts: spec.attempts.max(1),
        })
    }
}

/// What a write-back did.
#[derive(Debug, Clone, Default)]
pub struct WriteBackOutcome {
    /// The commit that holds the changes (the one pushed, after any retry), if one was made.
    pub commit: Option<String>,
    /// The changes of that commit.
    pub changes: Vec<ModelChange>,
    /// Pushed, or the remote already held the wanted values.
    pub pushed: bool,
    /// How many pushes were made.
    pub push_attempts: u32,
    /// The remote branch already held the wanted values (no new commit was pushed).
    pub already_on_remote: bool,
    /// The commit made on the local branch when it is not the one pushed: the branch holds commits that
    /// were not pushed, and keeps them, with this copy of the edits on top.
    pub local_commit: Option<String>,
    /// modelbump's earlier commits that had not been pushed, whose edits this push carried.
    pub earlier: Vec<EarlierCommit>,
    /// How many commits of the local branch the remote lacks and that were not pushed.
    pub not_pushed: usize,
    /// The remote branch's tip after the push: the commit pushed, or the tip that held the values.
    pub remote_tip: Option<String>,
    /// What the checkout's HEAD is on afterwards: the branch, or `detached HEAD`.
    pub head_label: String,
    /// The commit HEAD points at afterwards.
    pub head: Option<String>,
    /// Edits left out of the commit pushed because the remote tip it was built on holds their target
    /// (a hold pushed while this write-back ran): per edit, the file (relative to the working tree), the
    /// name and the hold.
    pub held: Vec<(String, String, crate::report::Hold)>,
}

/// One of modelbump's own commits that was not on the remote (its push failed, or it was made without
/// one): `run` pushes its edits.
#[derive(Debug, Clone)]
pub struct EarlierCommit {
    /// The commit.
    pub id: git2::Oid,
    /// Per file: the edits it made.
    pub edits: BTreeMap<PathBuf, Vec<AnyEdit>>,
}

/// The files and edits to write back: the working tree already holds `edits` applied to HEAD's files.
pub(super) struct WriteBack<'a> {
    /// Per file (relative to the working tree): the edits that turn HEAD's version into the working tree's.
    pub files: BTreeMap<PathBuf, Vec<AnyEdit>>,
    /// Provenance of the new values.
    pub record: &'a AppliedRecord,
    /// Where to push, `None` to commit only.
    pub push: Option<PushTarget>,
    /// Push the edits of modelbump's own earlier commits that the remote lacks too (`run` finishes what an
    /// earlier attempt started); `commit` leaves every earlier commit for the user.
    pub finish_own_commits: bool,
    /// The configured path targets (file relative to the working tree, name, path): an earlier commit
    /// that changed their values holds model values only, as one that changed marked values does.
    pub path_targets: Vec<(PathBuf, String, manifest::YamlPath)>,
}

/// The author and committer of modelbump's commits; an error when none is set, which `run` checks before
/// it writes anything.
pub(super) fn commit_identity(options: &GitOptions, repo: &GitRepo) -> anyhow::Result<Identity> {
    let git_config = repo.raw().config().ok();
    Ok(Identity::resolve(
        options.author.as_ref(),
        &options.env,
        git_config.as_ref(),
        repo.workdir(),
    )?)
}

/// The signer of modelbump's commits (`git.signing`); its program runs with the environment snapshot.
pub(crate) fn commit_signer(options: &GitOptions) -> Option<Signer> {
    options
        .signing
        .clone()
        .map(|signing| Signer::new(signing, options.env.clone()))
}

/// Checks that commits can be signed when signing is configured (the key is there, usable without a
/// prompt, and signs a probe), so that `run` and `commit` stop before they write anything.
pub(crate) fn check_signing(options: &GitOptions) -> anyhow::Result<()> {
    if let Some(signer) = commit_signer(options) {
        signer.check().map_err(crate::git::GitError::from)?;
        tracing::debug!(
            "commits are signed with the {} key {}",
            signer.signing().format(),
            signer.signing().key_name()
        );
    }
    Ok(())
}

/// Commits `files` on the checked-out branch and pushes when asked.
///
/// The commit pushed is always built on the remote branch's tip: the local commit itself when HEAD was
/// that tip, else the same edits re-applied there with the editor (and again on the fresh tip after a
/// rejected push). So commits of the local branch that the remote lacks are never pushed: when there
/// are any that are not modelbump's own (`finish_own_commits`), the local branch keeps them with the
/// local commit on top, and a warning says so; otherwise it moves to the commit that landed.
pub(super) fn write_back(
    options: &GitOptions,
    repo: &GitRepo,
    request: WriteBack<'_>,
) -> anyhow::Result<WriteBackOutcome> {
    let head = repo.head_commit()?;
    if request.files.is_empty()
        && (request.push.is_none()
            || !request.finish_own_commits
            || crate::git::own_commits(repo).is_empty())
    {
        return Ok(WriteBackOutcome::default());
    }
    let template = options
        .message
        .clone()
        .unwrap_or_else(|| crate::git::DEFAULT_TEMPLATE.to_string());
    let tracking_uri = request
        .record
        .tracking_uri
        .clone()
        .or_else(|| options.tracking_uri.clone());
    let mut credentials = Credentials::from_env(&options.env);
    if let Some(target) = &request.push {
        credentials = credentials.with_user_info(&target.user_info);
    }
    let push = request.push.as_ref().map(|target| PushRequest {
        remote: target.remote.clone(),
        branch: target.branch.clone(),
        attempts: target.attempts,
        credentials: &credentials,
    });
    // Where a push starts, and the commits of HEAD that the remote lacks.
    let (tip, earlier, others) = match &push {
        Some(p) => {
            let tip = repo.remote_tip(p)?;
            let (earlier, others) =
                sort_unpushed(repo, tip, request.finish_own_commits, &request.path_targets)?;
            (Some(tip), earlier, others)
        }
        None => (None, Vec::new(), 0),
    };
    if request.files.is_empty() && earlier.is_empty() {
        return Ok(WriteBackOutcome::default());
    }
    let identity = commit_identity(options, repo)?;
    let signer = commit_signer(options);

    let local_rewrite = layered_rewrite(vec![&request.files], request.record, None);
    let local_update = Update {
        files: request.files.keys().cloned().collect(),
        rewrite: &local_rewrite,
        template: template.clone(),
        tracking_uri: tracking_uri.clone(),
        identity: identity.clone(),
        signer: signer.as_ref(),
    };
    let local = repo.commit_update(head, &local_update)?;
    let mut outcome = WriteBackOutcome::default();
    if let Some(committed) = &local {
        repo.advance_branch(head, committed.id, &local_update.files)?;
        // Until it is pushed, a later `run` recognises it as modelbump's and finishes the push.
        if let Err(e) = crate::git::remember_own_commit(repo, committed.id) {
            tracing::warn!("{e}");
        }
        let committed_files: Vec<String> = local_update
            .files
            .iter()
            .map(|f| crate::git::git_path(f))
            .collect();
        if let Err(e) = crate::git::clear_recorded(repo, &committed_files) {
            tracing::warn!("{e}");
        }
        // The result line says it; the log says it only with -vv.
        tracing::debug!(
            "committed {} on {}",
            crate::git::short_id(committed.id),
            head_label(repo)
        );
        outcome.commit = Some(committed.id.to_string());
        outcome.changes = committed.changes.clone();
    }
    let (Some(push), Some(tip)) = (push, tip) else {
        return Ok(outcome);
    };
    if local.is_none() && earlier.is_empty() {
        // Nothing to push; the caller warns about commits left unpushed.
        return Ok(outcome);
    }

    // The commit to push: modelbump's earlier edits (oldest first), then this one's, on the remote tip.
    let mut layers: Vec<&BTreeMap<PathBuf, Vec<AnyEdit>>> =
        earlier.iter().map(|e| &e.edits).collect();
    layers.push(&request.files);
    let files: std::collections::BTreeSet<PathBuf> =
        layers.iter().flat_map(|l| l.keys().cloned()).collect();
    // The holds of each tip the commit is built on are read first, and win over these edits.
    let guard = HoldGuard::new(repo, &options.repo);
    let files: Vec<PathBuf> = guard
        .as_ref()
        .map(|g| g.path.clone())
        .into_iter()
        .chain(files)
        .collect();
    let remote_rewrite = layered_rewrite(layers, request.record, guard.as_ref());
    let remote_update = Update {
        files,
        rewrite: &remote_rewrite,
        template,
        tracking_uri,
        identity,
        signer: signer.as_ref(),
    };
    let base = PushBase {
        tip,
        first: local.clone().filter(|_| tip == head),
        keep_local: others > 0,
    };
    let pushed = repo.push_update(base, &remote_update, &push);
    drop(remote_update);
    drop(remote_rewrite);
    let pushed = pushed.with_context(|| {
        let local = repo
            .head_commit()
            .map(crate::git::short_id)
            .unwrap_or_default();
        format!(
            "committed {local} in the checkout, but it is not on {} {}",
            push.remote, push.branch
        )
    })?;
    let landed = match &pushed {
        PushOutcome::Pushed {
            commit,
            committed,
            attempts,
        } => {
            outcome.commit = Some(commit.to_string());
            outcome.changes = committed.changes.clone();
            outcome.push_attempts = *attempts;
            outcome.remote_tip = Some(commit.to_string());
            Some(*commit)
        }
        PushOutcome::AlreadyThere { tip } => {
            outcome.commit = None;
            outcome.already_on_remote = true;
            outcome.remote_tip = Some(tip.to_string());
            None
        }
    };
    outcome.pushed = true;
    if let Some(guard) = &guard {
        outcome.held = guard.stopped.borrow().clone();
        for (file, name, hold) in &outcome.held {
            tracing::warn!(
                "{name} ({file}) was held on {} {} while this ran ({}, by {}); its edit was not pushed",
                push.remote,
                push.branch,
                hold.reason,
                hold.by
            );
        }
    }
    // Their edits are on the remote now: a later run must not push them again.
    let done: Vec<git2::Oid> = earlier
        .iter()
        .map(|e| e.id)
        .chain(local.as_ref().map(|c| c.id))
        .collect();
    if let Err(e) = crate::git::forget_own_commits(repo, &done) {
        tracing::warn!("{e}");
    }
    if others > 0 {
        outcome.not_pushed = others;
        outcome.local_commit = local
            .as_ref()
            .map(|c| c.id)
            .filter(|id| Some(*id) != landed)
            .map(|id| id.to_string());
        warn_kept_local(repo, &push, others, landed, outcome.local_commit.as_deref());
    }
    outcome.earlier = earlier;
    Ok(outcome)
}

/// Says that the local branch keeps commits that were not pushed, and how to look at them.
fn warn_kept_local(
    repo: &GitRepo,
    push: &PushRequest<'_>,
    others: usize,
    landed: Option<git2::Oid>,
    local: Option<&str>,
) {
    let (remote, branch) = (&push.remote, &push.branch);
    let pushed = match landed {
        Some(id) => format!(
            "the model URI edits were pushed alone as {}, built on the tip of {remote} {branch}",
            crate::git::short_id(id)
        ),
        None => format!("{remote} {branch} already holds the model URI edits"),
    };
    let copy = match local {
        Some(id) => format!(
            "; the local branch has them too, as {} on top of those commits (`git pull --rebase` drops that copy as already applied)",
            &id[..12.min(id.len())]
        ),
        None => String::new(),
    };
    tracing::warn!(
        "{} holds {others} commit(s) that {remote} {branch} does not have and that modelbump did not make (or whose edits it pushed already); they were not pushed: {pushed}{copy}. Review them with `git log {remote}/{branch}..HEAD`, and push them with `git push {remote} HEAD:{branch}` if they belong there",
        head_label(repo)
    );
}

/// Sorts the commits HEAD has and `tip` has not: with `finish_own`, modelbump's own (recorded in the
/// checkout and holding only model URI edits) with their edits; and how many others there are.
fn sort_unpushed(
    repo: &GitRepo,
    tip: git2::Oid,
    finish_own: bool,
    paths: &[(PathBuf, String, manifest::YamlPath)],
) -> anyhow::Result<(Vec<EarlierCommit>, usize)> {
    let unpushed = repo.unpushed(tip)?;
    if unpushed.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let own = if finish_own {
        crate::git::own_commits(repo)
    } else {
        Vec::new()
    };
    let mut earlier = Vec::new();
    let mut others = 0;
    for id in unpushed {
        let edits = if own.contains(&id) {
            own_edits(repo, id, paths)?
        } else {
            None
        };
        match edits {
            Some(edits) => earlier.push(EarlierCommit { id, edits }),
            None => others += 1,
        }
    }
    Ok((earlier, others))
}

/// The model URI edits of one of modelbump's commits, `None` when it holds anything else: values of the
/// known kinds, marked values and the values at the `paths` of the configured path targets.
fn own_edits(
    repo: &GitRepo,
    id: git2::Oid,
    paths: &[(PathBuf, String, manifest::YamlPath)],
) -> anyhow::Result<Option<BTreeMap<PathBuf, Vec<AnyEdit>>>> {
    let Some((parent, files)) = repo.changed_files(id)? else {
        return Ok(None);
    };
    let mut edits = BTreeMap::new();
    for file in files {
        let (Some(before), Some(after)) = (repo.blob_at(parent, &file)?, repo.blob_at(id, &file)?)
        else {
            return Ok(None);
        };
        match classify_with(&before, &after, &super::fields::paths_in(paths, &file)) {
            Verdict::UriOnly(file_edits) => {
                edits.insert(file, file_edits);
            }
            Verdict::Unchanged | Verdict::Other(_) => return Ok(None),
        }
    }
    Ok(Some(edits))
}

/// The holds of the base a pushed commit is built on: the rewrite meets the holds file first (it is the
/// first file of the update) and reads them, then leaves out every edit to a held target. A push retried
/// on a fresh tip reads that tip's holds again, so a hold pushed while a run was under way wins.
pub(super) struct HoldGuard<'a> {
    repo: &'a GitRepo,
    /// The repo folder (hold entries name files relative to it).
    root: PathBuf,
    /// The holds file, relative to the working tree.
    path: PathBuf,
    /// The holds of the base being rewritten: the held file (relative to the working tree), the model's
    /// name, the hold.
    holds: std::cell::RefCell<Vec<(PathBuf, String, crate::report::Hold)>>,
    /// The edits left out on the last base: file (relative to the working tree), name, hold.
    stopped: std::cell::RefCell<Vec<(String, String, crate::report::Hold)>>,
}

impl<'a> HoldGuard<'a> {
    /// The guard of the repo folder `root`; `None` when the holds file would be outside the checkout.
    pub(super) fn new(repo: &'a GitRepo, root: &Path) -> Option<Self> {
        let path = repo.relative(root, Path::new(crate::git::HOLDS_FILE))?;
        Some(Self {
            repo,
            root: root.to_path_buf(),
            path,
            holds: Default::default(),
            stopped: Default::default(),
        })
    }

    /// The hold on the model `name` of `path` (relative to the working tree), if the base has one.
    fn hold_on(&self, path: &Path, name: &str) -> Option<crate::report::Hold> {
        self.holds
            .borrow()
            .iter()
            .find(|(file, held, _)| held == name && file == path)
            .map(|(_, _, hold)| hold.clone())
    }

    /// Reads the base's holds file, resolving each entry's file once rather than per edit.
    fn read(&self, bytes: &[u8], file: &str) -> anyhow::Result<()> {
        let holds = crate::git::Holds::parse(bytes, file)?;
        *self.holds.borrow_mut() = holds
            .entries
            .iter()
            .filter_map(|e| {
                let rel = self.repo.relative(&self.root, Path::new(&e.file))?;
                Some((rel, e.name.clone(), e.hold()))
            })
            .collect();
        Ok(())
    }
}

/// The rewrite of a write-back: applies each layer of edits in turn with the editor (modelbump's earlier
/// commits, oldest first, then the working tree's), so the last value of a model wins, and reports each
/// model's change from the base's value to that last one, with its provenance. With a `guard`, the
/// holds file is read (and kept as it is) and edits to held targets are left out.
pub(super) fn layered_rewrite<'a>(
    layers: Vec<&'a BTreeMap<PathBuf, Vec<AnyEdit>>>,
    record: &'a AppliedRecord,
    guard: Option<&'a HoldGuard<'a>>,
) -> impl Fn(&Path, &[u8]) -> anyhow::Result<Rewritten> + 'a {
    move |path: &Path, bytes: &[u8]| {
        let file = crate::git::git_path(path);
        if let Some(guard) = guard.filter(|g| g.path == path) {
            guard.read(bytes, &file)?;
            guard.stopped.borrow_mut().clear();
            return Ok(Rewritten {
                bytes: bytes.to_vec(),
                changes: Vec::new(),
            });
        }
        let mut current = bytes.to_vec();
        let mut changes: Vec<ModelChange> = Vec::new();
        for edits in layers.iter().filter_map(|layer| layer.get(path)) {
            let mut kept: Vec<AnyEdit> = Vec::with_capacity(edits.len());
            for edit in edits {
                match guard.and_then(|g| g.hold_on(path, edit.name())) {
                    Some(hold) => {
                        let guard = guard.expect("a hold comes from the guard");
                        let mut stopped = guard.stopped.borrow_mut();
                        if !stopped
                            .iter()
                            .any(|(f, n, _)| *f == file && n == edit.name())
                        {
                            stopped.push((file.clone(), edit.name().to_string(), hold));
                        }
                    }
                    None => kept.push(edit.clone()),
                }
            }
            if kept.is_empty() {
                continue;
            }
            let edited =
                manifest::apply_any(&current, &kept).map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
            for c in edited.changes {
                let kind = c.kind;
                match changes
                    .iter_mut()
                    .find(|m| m.name == c.name && m.kind == kind)
                {
                    Some(seen) => seen.new = c.new,
                    None => changes.push(ModelChange {
                        name: c.name,
                        kind,
                        file: file.clone(),
                        line: c.line,
                        old: c.old,
                        new: c.new,
                        provenance: None,
                    }),
                }
            }
            current = edited.bytes;
        }
        changes.retain(|c| c.old != c.new);
        for c in &mut changes {
            c.provenance = record.provenance(&file, &c.name, &c.new);
        }
        Ok(Rewritten {
            bytes: current,
            changes,
        })
    }
}

/// Why a candidate file is not committed.
pub(crate) enum Verdict {
    /// No uncommitted change.
    Unchanged,
    /// Only model URI values changed: these edits reproduce the working tree from HEAD.
    UriOnly(Vec<AnyEdit>),
    /// Something else changed too; the text says what.
    Other(String),
}

/// Compares HEAD's version of a file with the working tree's, accepting besides the known kinds' fields
/// the marked values of the file and the values at the `paths` of its path targets (name, path) (see
/// [`super::fields::differences`]).
pub(crate) fn classify_with(
    head: &[u8],
    work: &[u8],
    paths: &[(String, manifest::YamlPath)],
) -> Verdict {
    if head == work {
        return Verdict::Unchanged;
    }
    let (before, after) = match (manifest::find_fields(head), manifest::find_fields(work)) {
        (Ok(b), Ok(a)) => (b, a),
        (Err(e), _) => return Verdict::Other(format!("HEAD's version cannot be read: {e}")),
        (_, Err(e)) => return Verdict::Other(format!("it cannot be read: {e}")),
    };
    let same_fields = before.len() == after.len()
        && before
            .iter()
            .zip(&after)
            .all(|(b, a)| b.kind == a.kind && b.name == a.name && b.path == a.path);
    if !same_fields {
        return Verdict::Other(
            "models were added, removed or renamed, not only their URIs changed".into(),
        );
    }
    let mut edits: Vec<AnyEdit> = before
        .iter()
        .zip(&after)
        .filter(|(b, a)| b.value != a.value)
        .map(|(_, a)| {
            AnyEdit::Model(Edit {
                selector: Selector {
                    name: a.name.clone(),
                    kind: Some(a.kind.as_str().to_string()),
                },
                uri: a.value.clone(),
            })
        })
        .collect();
    match super::fields::differences(head, work, paths) {
        Ok(more) => edits.extend(more),
        Err(why) => return Verdict::Other(why),
    }
    if edits.is_empty() {
        return Verdict::Other("it has edits, but none to a model URI".into());
    }
    match manifest::apply_any(head, &edits) {
        Ok(edited) if edited.bytes == work => Verdict::UriOnly(edits),
        Ok(_) => Verdict::Other("it has edits besides model URI values".into()),
        Err(e) => Verdict::Other(format!("its new URIs cannot be re-applied: {e}")),
    }
}

/// Commits the changed target files (and pushes them when asked): the `commit` use case.
pub fn commit(options: &CommitOptions) -> anyhow::Result<CommitOutcome> {
    let repo = GitRepo::discover(&options.git.repo)?;
    let head = repo.head_commit()?;
    check_signing(&options.git)?;
    let record = crate::git::load_applied(&repo);

    // Named files: the configured targets, the last apply's files and the FILE arguments; they must be
    // clean apart from model URIs. Without any, every modified tracked YAML file is looked at, and those
    // that are not URI-only are left alone.
    let mut named: Vec<PathBuf> = Vec::new();
    for file in &options.files {
        let rel = repo.relative(&options.git.repo, file).with_context(|| {
            format!(
                "{} is outside the git checkout {}",
                file.display(),
                repo.workdir().display()
            )
        })?;
        if !named.contains(&rel) {
            named.push(rel);
        }
    }
    for file in record.files() {
        if options.selected.is_none() && !named.contains(&file) {
            named.push(file);
        }
    }
    let scanned = named.is_empty();
    let candidates = if scanned {
        repo.modified_yaml_files()?
    } else {
        named
    };

    let mut files: BTreeMap<PathBuf, Vec<AnyEdit>> = BTreeMap::new();
    let mut refused: Vec<String> = Vec::new();
    for path in candidates {
        if files.contains_key(&path) {
            continue;
        }
        let shown = crate::git::git_path(&path);
        let Some(head_bytes) = repo.blob_at(head, &path)? else {
            if repo.workdir().join(&path).exists() {
                tracing::warn!(
                    "{shown} is not committed yet; modelbump only commits changes to committed files"
                );
            }
            continue;
        };
        let work = match std::fs::read(repo.workdir().join(&path)) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                refused.push(format!("{shown} was deleted"));
                continue;
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {shown}")),
        };
        // Compared as git does: the working-tree bytes through git's conversions (line endings...).
        let work = match repo.stored_form(&path, &work) {
            Ok(work) => work,
            Err(e @ crate::git::GitError::FilterDriver { .. }) if scanned => {
                tracing::debug!("leaving {shown} alone: {e}");
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let paths: Vec<(String, manifest::YamlPath)> = options
            .path_targets
            .iter()
            .filter(|(file, _, _)| repo.relative(&options.git.repo, file).as_ref() == Some(&path))
            .map(|(_, name, p)| (name.clone(), p.clone()))
            .collect();
        match classify_with(&head_bytes, &work, &paths) {
            Verdict::Unchanged => {}
            Verdict::UriOnly(edits) => {
                if let Some(others) = unselected(options, &repo, &path, &edits) {
                    refused.push(format!(
                        "{shown}: it also holds uncommitted URI changes of {others}, which are not selected"
                    ));
                    continue;
                }
                files.insert(path, edits);
            }
            Verdict::Other(why) if scanned => {
                tracing::debug!("leaving {shown} alone: {why}");
            }
            Verdict::Other(why) => refused.push(format!("{shown}: {why}")),
        }
    }
    if !refused.is_empty() {
        anyhow::bail!(
            "refusing to commit, nothing was committed:\n  {}\nmodelbump commits only model URI changes: commit or stash the other changes (git stash, git commit), or undo them (git checkout -- FILE), then run modelbump commit again",
            refused.join("\n  ")
        );
    }
    let push = match &options.push {
        Some(spec) => Some(PushTarget::resolve(&repo, spec)?),
        None => None,
    };
    let mut outcome = write_back(
        &options.git,
        &repo,
        WriteBack {
            files,
            record: &record,
            push: push.clone(),
            finish_own_commits: false,
            path_targets: options
                .path_targets
                .iter()
                .filter_map(|(file, name, path)| {
                    let rel = repo.relative(&options.git.repo, file)?;
                    Some((rel, name.clone(), path.clone()))
                })
                .collect(),
        },
    )?;
    if outcome.commit.is_none()
        && let Some(target) = &push
    {
        warn_unpushed(&repo, target);
    }
    note_head(&repo, &mut outcome);
    let report = Report {
        targets: target_reports(&options.git.repo, &repo, &outcome.changes),
        commit: outcome.commit.clone(),
        pushed: outcome.pushed,
        sync: Vec::new(),
        ..Default::default()
    };
    Ok(CommitOutcome {
        write_back: outcome,
        push,
        report,
    })
}

/// With a selection, the models of `edits` in `path` (relative to the working tree) that are not
/// selected, named for a message; `None` when every edit is of a selected target.
fn unselected(
    options: &CommitOptions,
    repo: &GitRepo,
    path: &Path,
    edits: &[AnyEdit],
) -> Option<String> {
    let selected = options.selected.as_ref()?;
    let others: Vec<&str> = edits
        .iter()
        .filter(|e| {
            !selected.iter().any(|(file, name)| {
                name == e.name()
                    && repo
                        .relative(&options.git.repo, file)
                        .is_some_and(|rel| rel == path)
            })
        })
        .map(|e| e.name())
        .collect();
    (!others.is_empty()).then(|| others.join(", "))
}

/// Fills in what HEAD is on after a write-back, for the caller's messages.
pub(super) fn note_head(repo: &GitRepo, outcome: &mut WriteBackOutcome) {
    outcome.head_label = head_label(repo);
    outcome.head = repo.head_commit().ok().map(|h| h.to_string());
}

/// Warns, when nothing new was committed and so nothing was pushed, that HEAD holds commits the
/// remote branch has not (as last fetched: no network): a commit made without `--push`, a push that
/// failed, a rollback committed by hand. They are not pushed for the user, because they may hold
/// changes modelbump did not make and cannot vouch for; the warning says how to look at them and how to
/// push them.
pub(super) fn warn_unpushed(repo: &GitRepo, target: &PushTarget) {
    let Some(ahead) = repo
        .ahead_of_remote(&target.remote, &target.branch)
        .filter(|n| *n > 0)
    else {
        return;
    };
    let (remote, branch) = (&target.remote, &target.branch);
    tracing::warn!(
        "nothing new to commit, so nothing was pushed, but {} is {ahead} commit(s) ahead of {remote}/{branch}: commits made earlier and not pushed. modelbump pushes only the commits it makes; review them with `git log {remote}/{branch}..HEAD`, then push them with `git push {remote} HEAD:{branch}` if they belong there",
        repo.current_branch().unwrap_or_else(|_| "HEAD".to_string()),
    );
}

/// The report's target lines for a write-back's changes (paths relative to the repo folder).
pub(super) fn target_reports(
    root: &Path,
    repo: &GitRepo,
    changes: &[ModelChange],
) -> Vec<TargetReport> {
    changes
        .iter()
        .map(|c| {
            let abs = repo.workdir().join(&c.file);
            let file = abs
                .strip_prefix(root)
                .map(crate::git::git_path)
                .unwrap_or_else(|_| c.file.clone());
            let provenance = c.provenance.clone().unwrap_or_default();
            TargetReport {
                old_uri: Some(c.old.clone()),
                new_uri: Some(c.new.clone()),
                run_id: provenance.run_id,
                model_version: provenance.model_version,
                experiment_id: provenance.experiment_id,
                ..TargetReport::at(
                    file,
                    c.kind.clone(),
                    c.name.clone(),
                    c.line,
                    TargetStatus::Changed,
                )
            }
        })
        .collect()
}

/// What a commit lands on, for messages: the branch, or `detached HEAD`.
fn head_label(repo: &GitRepo) -> String {
    repo.current_branch()
        .unwrap_or_else(|_| "detached HEAD".to_string())
}
