//! `hold`, `release`, `rollback` and `history`: the decisions a person takes about one target, recorded
//! in the GitOps repository, and the record of the values it has had.
//!
//! A hold is an entry of the holds file ([`crate::git::HOLDS_FILE`]); placing or removing one is a
//! commit of that file alone (a rollback's commit also carries the manifest edit), made on HEAD and,
//! with a push, built again on the remote tip: the holds file is re-read there and only this entry is
//! added or removed, so two holds placed at once both survive a retried push. The checkout's copy of the
//! files must be unchanged from HEAD, so nothing uncommitted is swept into the commit.
//!
//! The commit messages carry `Modelbump-Action` (`hold`, `release`, `rollback`) and `Modelbump-Reason`
//! trailers, which `history` reads back.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use crate::config::TargetConfig;
use crate::git::{
    Credentials, GitRepo, HOLDS_FILE, HoldEntry, Holds, ModelChange, PushBase, PushOutcome,
    PushRequest, Rewritten, Update, ValueChange,
};
use crate::manifest::{self, AnyEdit, Edit, Selector};
use crate::ops::commit::{GitOptions, PushSpec, PushTarget, WriteBackOutcome, commit_identity};
use crate::report::{Hold, Report, TargetReport, TargetStatus};

use super::manual::read_value;

/// Which configured target a command names.
#[derive(Debug, Clone)]
pub struct TargetRef {
    /// The name, as `targets` shows it.
    pub name: String,
    /// The file, where the name is configured for several.
    pub file: Option<PathBuf>,
}

/// The input of `hold` and `release`.
#[derive(Debug, Clone)]
pub struct HoldOptions {
    /// Where and how to commit (the repo folder is `git.repo`).
    pub git: GitOptions,
    /// The configured targets.
    pub targets: Vec<TargetConfig>,
    /// The target.
    pub target: TargetRef,
    /// Why (`hold`); `None` releases the hold.
    pub reason: Option<String>,
    /// The `manualChanges` policy, to explain a `release` of a target held because it was changed by
    /// hand.
    pub manual_changes: crate::config::ManualChanges,
    /// Push after committing, there.
    pub push: Option<PushSpec>,
}

/// The input of `rollback`.
#[derive(Debug, Clone)]
pub struct RollbackOptions {
    /// Where and how to commit (the repo folder is `git.repo`).
    pub git: GitOptions,
    /// The configured targets.
    pub targets: Vec<TargetConfig>,
    /// The target.
    pub target: TargetRef,
    /// `previous`, a commit, or a URI.
    pub to: String,
    /// Why.
    pub reason: String,
    /// Push after committing, there.
    pub push: Option<PushSpec>,
}

/// What `hold`, `release` or `rollback` did.
#[derive(Debug, Clone)]
pub struct HoldOutcome {
    /// The report: the target's line (`held` with its hold, or `changed` for a rollback), the commit,
    /// whether it was pushed.
    pub report: Report,
    /// The write-back.
    pub write_back: WriteBackOutcome,
    /// Where it pushed.
    pub push: Option<PushTarget>,
    /// A rollback: where the value it replaced came from (modelbump's trailers), when known.
    pub replaced: Option<crate::git::Provenance>,
}

/// Errors a user can act on.
#[derive(Debug, thiserror::Error)]
pub(super) enum HoldError {
    /// No configured target has this name.
    #[error("no configured target is named {name}{}: name one of {known} (as `modelbump targets` shows them), or add it to modelbump.yaml", file.as_ref().map(|f| format!(" in {}", f.display())).unwrap_or_default())]
    Unknown {
        name: String,
        file: Option<PathBuf>,
        known: String,
    },
    /// Several configured targets have this name.
    #[error("{name} is configured in several files ({files}); say which with --file FILE")]
    Ambiguous { name: String, files: String },
    /// `release` of a target that is not held.
    #[error("{name} ({file}) is not held; nothing was changed")]
    NotHeld { name: String, file: String },
    /// `release` of a target held only because its value was changed by hand (`manualChanges: hold`).
    #[error(
        "{name} ({file}) has no hold to release in {holds}: it is held because its value was {reason} (manualChanges: hold); nothing was changed. To deploy over it, change the value with modelbump (`modelbump rollback {name} --reason TEXT` then `modelbump release {name}`, or `modelbump set` then `modelbump commit`), or set `manualChanges: overwrite` in modelbump.yaml"
    )]
    HeldByHand {
        name: String,
        file: String,
        holds: &'static str,
        reason: String,
    },
    /// The checkout's copy of a file to commit has uncommitted changes.
    #[error(
        "{file} has uncommitted changes; nothing was written: commit or stash them (git stash), or undo them (git checkout -- {file}), then run again"
    )]
    Uncommitted { file: String },
    /// `rollback --to previous` without an earlier value.
    #[error(
        "{name} ({file}) has no earlier value in the history of {file}; name the value with --to COMMIT or --to URI"
    )]
    NoPrevious { name: String, file: String },
}

/// Finds the configured target `wanted` names.
pub(super) fn find_target<'a>(
    targets: &'a [TargetConfig],
    wanted: &TargetRef,
) -> anyhow::Result<&'a TargetConfig> {
    let same_file = |t: &TargetConfig| {
        wanted
            .file
            .as_ref()
            .is_none_or(|f| HoldEntry::for_target(&t.file, &t.name).is_for(f, &t.name))
    };
    let found: Vec<&TargetConfig> = targets
        .iter()
        .filter(|t| t.name == wanted.name && same_file(t))
        .collect();
    match found.as_slice() {
        [one] => Ok(one),
        [] => Err(HoldError::Unknown {
            name: wanted.name.clone(),
            file: wanted.file.clone(),
            known: targets
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }
        .into()),
        many => Err(HoldError::Ambiguous {
            name: wanted.name.clone(),
            files: many
                .iter()
                .map(|t| t.file.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }
        .into()),
    }
}

impl HoldEntry {
    /// An entry for the target `name` of `file`, with no one, no time and no reason yet.
    pub(crate) fn for_target(file: &Path, name: &str) -> Self {
        Self {
            file: file.to_string_lossy().replace('\\', "/"),
            name: name.to_string(),
            by: String::new(),
            at: String::new(),
            reason: String::new(),
        }
    }
}

/// What a commit does to the holds file.
enum HoldChange {
    Place(HoldEntry),
    Release,
}

/// Places or releases a hold: the `hold` and `release` use cases.
pub fn hold(options: &HoldOptions) -> anyhow::Result<HoldOutcome> {
    hold_on(options, CommitOn::Head)
}

/// Where the commit of a hold, release or rollback is built.
#[derive(Debug, Clone, Copy)]
pub(super) enum CommitOn {
    /// On HEAD, written to the checkout (and pushed when asked).
    Head,
    /// On this commit (the fetched tip of a pull request's base branch), in the object database only:
    /// the checkout and its branch are not touched, nothing is pushed. A hold already there with the
    /// same author and reason is kept as it is, so that a rerun finds nothing to do.
    Base(git2::Oid),
}

/// [`hold`], with the commit built where `on` says.
pub(super) fn hold_on(options: &HoldOptions, on: CommitOn) -> anyhow::Result<HoldOutcome> {
    let root = &options.git.repo;
    let target = find_target(&options.targets, &options.target)?;
    let repo = GitRepo::discover(root)?;
    let identity = commit_identity(&options.git, &repo)?;
    let (change, template, status) = match &options.reason {
        Some(reason) => {
            let entry = HoldEntry {
                by: format!("{} <{}>", identity.author.0, identity.author.1),
                at: crate::git::now_rfc3339(),
                reason: reason.clone(),
                ..HoldEntry::for_target(&target.file, &target.name)
            };
            let template = message("hold", target, &[("Modelbump-Reason", reason)]);
            (HoldChange::Place(entry), template, TargetStatus::Held)
        }
        None => {
            let holds = match on {
                CommitOn::Head => Holds::load(root)?,
                CommitOn::Base(tip) => holds_at(&repo, root, tip)?,
            };
            if holds.find(&target.file, &target.name).is_none() {
                if options.manual_changes == crate::config::ManualChanges::Hold
                    && let Some(hold) = held_by_hand(&repo, root, target)?
                {
                    return Err(HoldError::HeldByHand {
                        name: target.name.clone(),
                        file: target.file.display().to_string(),
                        holds: HOLDS_FILE,
                        reason: hold.reason,
                    }
                    .into());
                }
                return Err(HoldError::NotHeld {
                    name: target.name.clone(),
                    file: target.file.display().to_string(),
                }
                .into());
            }
            let template = message("release", target, &[]);
            (HoldChange::Release, template, TargetStatus::Unchanged)
        }
    };
    let hold = match &change {
        HoldChange::Place(entry) => Some(entry.hold()),
        HoldChange::Release => None,
    };
    let push = resolve_push(&repo, options.push.as_ref())?;
    let outcome = commit_and_push(
        &options.git,
        &repo,
        identity.clone(),
        target,
        &change,
        None,
        template,
        push.as_ref(),
        on,
    )?;
    let current = read_value(
        &std::fs::read(root.join(&target.file)).unwrap_or_default(),
        target,
    );
    let line = TargetReport {
        old_uri: current.clone(),
        new_uri: current,
        reason: hold.as_ref().map(|h| format!("held: {}", h.reason)),
        hold,
        ..report_line(target, status)
    };
    Ok(HoldOutcome {
        report: Report {
            targets: vec![line],
            commit: outcome.commit.clone(),
            pushed: outcome.pushed,
            sync: Vec::new(),
            ..Report::default()
        },
        write_back: outcome,
        push,
        replaced: None,
    })
}

/// Writes an earlier value and holds the target: the `rollback` use case.
pub fn rollback(options: &RollbackOptions) -> anyhow::Result<HoldOutcome> {
    rollback_on(options, CommitOn::Head)
}

/// [`rollback`], with the commit built (and the history read) where `on` says.
pub(super) fn rollback_on(options: &RollbackOptions, on: CommitOn) -> anyhow::Result<HoldOutcome> {
    let root = &options.git.repo;
    let configured = find_target(&options.targets, &options.target)?;
    // A marker target found repo-wide is followed in its one marked file; the hold names it as
    // configured (as the plan looks it up).
    let located = super::fields::with_its_file(root, configured)?;
    let target = &located;
    let repo = GitRepo::discover(root)?;
    let identity = commit_identity(&options.git, &repo)?;
    let head = match on {
        CommitOn::Head => repo.head_commit()?,
        CommitOn::Base(tip) => tip,
    };
    let rel = repo
        .relative(root, &target.file)
        .with_context(|| format!("{} is outside the git checkout", target.file.display()))?;
    let read = |bytes: &[u8]| read_value(bytes, target);
    let changes = repo.value_history(head, &rel, &target.name, &read)?;
    let shown = target.file.display().to_string();
    let head_bytes = repo.blob_at(head, &rel)?.unwrap_or_default();
    // A path or marker target (else a known kind's field).
    let head_field = super::fields::value_in(&head_bytes, target);
    let any_field = head_field.is_some();
    let uri =
        match options.to.as_str() {
            "previous" => changes.first().and_then(|c| c.old.clone()).ok_or_else(|| {
                HoldError::NoPrevious {
                    name: target.name.clone(),
                    file: shown.clone(),
                }
            })?,
            to if !to.contains(':') && !to.contains('/') => {
                let commit = repo
                .raw()
                .revparse_single(to)
                .and_then(|o| o.peel_to_commit())
                .with_context(|| {
                    format!(
                        "--to {to} is neither `previous`, a commit of this repository, nor a URI"
                    )
                })?;
                let bytes = repo.blob_at(commit.id(), &rel)?.with_context(|| {
                    format!("{shown} does not exist at {to}; name another commit or a URI")
                })?;
                read(&bytes).with_context(|| {
                    format!(
                        "{} is not in {shown} at {to}; name another commit or a URI",
                        target.name
                    )
                })?
            }
            // A URI goes through the target's template (a path or marker target's value may hold
            // more than the URI); an earlier value is written as it was.
            uri if any_field => target
                .value_template()
                .render(&crate::manifest::TemplateValues {
                    uri: uri.to_string(),
                    ..Default::default()
                })
                .map_err(|e| anyhow::anyhow!("{} ({shown}): --to {uri}: {e}", target.name))?,
            uri => uri.to_string(),
        };
    // Where the restored value came from, when modelbump deployed it before.
    let provenance = changes
        .iter()
        .find(|c| c.new.as_deref() == Some(uri.as_str()))
        .map(provenance_of);
    let entry = HoldEntry {
        by: format!("{} <{}>", identity.author.0, identity.author.1),
        at: crate::git::now_rfc3339(),
        reason: format!("rollback: {}", options.reason),
        ..HoldEntry::for_target(&configured.file, &target.name)
    };
    let template = message(
        "rollback",
        target,
        &[
            ("Modelbump-Rollback-To", &options.to),
            ("Modelbump-Reason", &options.reason),
        ],
    );
    let edit = if let Some(head_value) = head_field {
        let value = head_value.with_context(|| {
            format!(
                "{} has no value in {shown} at HEAD to roll back",
                target.name
            )
        })?;
        let found = super::fields::FoundValue {
            file: target.file.clone(),
            at: match &target.path {
                Some(path) => crate::manifest::FieldRef::Path(path.clone()),
                None => crate::manifest::FieldRef::Marker(target.name.clone()),
            },
            line: 0,
            value,
        };
        // Any earlier value is accepted as it was written: the template is checked on the way
        // in, when it was deployed.
        super::fields::edit(
            &target.name,
            &found,
            &crate::manifest::Template::whole_uri(),
            &uri,
        )
    } else {
        AnyEdit::Model(Edit {
            selector: Selector {
                name: target.name.clone(),
                kind: target.kind.clone(),
            },
            uri: uri.clone(),
        })
    };
    let push = resolve_push(&repo, options.push.as_ref())?;
    let change = HoldChange::Place(entry.clone());
    let outcome = commit_and_push(
        &options.git,
        &repo,
        identity.clone(),
        configured,
        &change,
        Some((rel, edit, provenance.clone())),
        template,
        push.as_ref(),
        on,
    )?;
    let old = changes.first().and_then(|c| c.new.clone());
    let replaced = changes.first().map(provenance_of);
    let provenance = provenance.unwrap_or_default();
    let status = if old.as_deref() == Some(uri.as_str()) {
        TargetStatus::Unchanged
    } else {
        TargetStatus::Changed
    };
    let line = TargetReport {
        old_uri: old,
        new_uri: Some(uri),
        run_id: provenance.run_id,
        model_version: provenance.model_version,
        experiment_id: provenance.experiment_id,
        reason: Some(entry.reason.clone()),
        hold: Some(entry.hold()),
        ..report_line(target, status)
    };
    Ok(HoldOutcome {
        report: Report {
            targets: vec![line],
            commit: outcome.commit.clone(),
            pushed: outcome.pushed,
            sync: Vec::new(),
            ..Report::default()
        },
        write_back: outcome,
        push,
        replaced: replaced.filter(|p| !p.is_empty()),
    })
}

/// The holds file of the repo folder `root` at the commit `tip` (none when it is absent there).
fn holds_at(repo: &GitRepo, root: &Path, tip: git2::Oid) -> anyhow::Result<Holds> {
    let rel = repo
        .relative(root, Path::new(HOLDS_FILE))
        .context("the holds file is outside the git checkout")?;
    let bytes = repo.blob_at(tip, &rel)?.unwrap_or_default();
    Ok(Holds::parse(&bytes, HOLDS_FILE)?)
}

/// The hold `manualChanges: hold` gives the target's value in the checkout, if it was made by hand.
fn held_by_hand(
    repo: &GitRepo,
    root: &Path,
    target: &TargetConfig,
) -> anyhow::Result<Option<Hold>> {
    let Ok(bytes) = std::fs::read(root.join(&target.file)) else {
        return Ok(None);
    };
    let Some(current) = read_value(&bytes, target) else {
        return Ok(None);
    };
    super::manual::manual_hold(repo, repo.head_commit()?, root, target, &current)
}

/// The provenance trailers of a change.
/// The report line of `target` (its file, kind and name as configured; no line: the value was written
/// by the editor, not located for a report) with `status`, to be filled in.
fn report_line(target: &TargetConfig, status: TargetStatus) -> TargetReport {
    TargetReport::at(
        target.file.to_string_lossy().replace('\\', "/"),
        super::fields::kind_of(target),
        target.name.clone(),
        0,
        status,
    )
}

fn provenance_of(change: &ValueChange) -> crate::git::Provenance {
    crate::git::Provenance {
        run_id: change.trailer("MLflow-Run-Id").map(str::to_string),
        model_version: change.trailer("MLflow-Model-Version").map(str::to_string),
        experiment_id: change.trailer("MLflow-Experiment").map(str::to_string),
    }
}

/// A commit message: `ACTION: NAME (FILE)`, then the trailers.
fn message(action: &str, target: &TargetConfig, extra: &[(&str, &str)]) -> String {
    let one_line = |s: &str| s.replace(['\r', '\n'], " ");
    let mut text = format!(
        "{action}: {} ({})\n\n{}: {action}\n",
        target.name,
        target.file.display(),
        crate::git::ACTION_TRAILER
    );
    for (key, value) in extra {
        text.push_str(&format!("{key}: {}\n", one_line(value)));
    }
    text
}

fn resolve_push(repo: &GitRepo, spec: Option<&PushSpec>) -> anyhow::Result<Option<PushTarget>> {
    spec.map(|s| PushTarget::resolve(repo, s)).transpose()
}

/// Commits the holds file change (and a rollback's manifest edit) on HEAD, writes the result to the
/// checkout, and pushes the same change built on the remote tip when asked; or builds it where `on`
/// says only.
#[allow(clippy::too_many_arguments)]
fn commit_and_push(
    git: &GitOptions,
    repo: &GitRepo,
    identity: crate::git::Identity,
    target: &TargetConfig,
    change: &HoldChange,
    edit: Option<(PathBuf, AnyEdit, Option<crate::git::Provenance>)>,
    template: String,
    push: Option<&PushTarget>,
    on: CommitOn,
) -> anyhow::Result<WriteBackOutcome> {
    // A key that cannot sign stops the command before anything is written.
    crate::ops::commit::check_signing(git)?;
    let signer = crate::ops::commit::commit_signer(git);
    let root = &git.repo;
    let head = repo.head_commit()?;
    let holds_path = repo
        .relative(root, Path::new(HOLDS_FILE))
        .context("the holds file is outside the git checkout")?;
    let mut files = vec![holds_path.clone()];
    if let Some((rel, _, _)) = &edit {
        files.push(rel.clone());
    }
    // Nothing uncommitted may be swept in: the checkout's copies must be HEAD's.
    for file in files.iter().filter(|_| matches!(on, CommitOn::Head)) {
        let committed = repo.blob_at(head, file)?;
        let work = std::fs::read(repo.workdir().join(file)).ok();
        let work = match work {
            Some(bytes) => Some(repo.stored_form(file, &bytes)?),
            None => None,
        };
        if committed != work {
            return Err(HoldError::Uncommitted {
                file: crate::git::git_path(file),
            }
            .into());
        }
    }
    let rewrite = |path: &Path, bytes: &[u8]| -> anyhow::Result<Rewritten> {
        if path == holds_path {
            let mut holds = Holds::parse(bytes, HOLDS_FILE)?;
            match change {
                HoldChange::Place(entry)
                    if matches!(on, CommitOn::Base(_))
                        && holds
                            .find(&target.file, &target.name)
                            .is_some_and(|h| h.by == entry.by && h.reason == entry.reason) =>
                {
                    return Ok(Rewritten {
                        bytes: bytes.to_vec(),
                        changes: Vec::new(),
                    });
                }
                HoldChange::Place(entry) => holds.place(entry.clone()),
                HoldChange::Release => {
                    if holds.release(&target.file, &target.name).is_none() {
                        return Ok(Rewritten {
                            bytes: bytes.to_vec(),
                            changes: Vec::new(),
                        });
                    }
                }
            }
            return Ok(Rewritten {
                bytes: holds.render().into_bytes(),
                changes: Vec::new(),
            });
        }
        let (_, edit, provenance) = edit.as_ref().context("no edit for this file")?;
        let file = crate::git::git_path(path);
        let edited = manifest::apply_any(bytes, std::slice::from_ref(edit))
            .map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
        let changes = edited
            .changes
            .into_iter()
            .filter(|c| c.old != c.new)
            .map(|c| ModelChange {
                name: c.name,
                kind: c.kind,
                file: file.clone(),
                line: c.line,
                old: c.old,
                new: c.new,
                provenance: provenance.clone(),
            })
            .collect();
        Ok(Rewritten {
            bytes: edited.bytes,
            changes,
        })
    };
    let update = Update {
        files: files.clone(),
        rewrite: &rewrite,
        template,
        tracking_uri: git.tracking_uri.clone(),
        identity,
        signer: signer.as_ref(),
    };
    let mut outcome = WriteBackOutcome::default();
    if let CommitOn::Base(tip) = on {
        if let Some(committed) = repo.commit_update(tip, &update)? {
            outcome.commit = Some(committed.id.to_string());
            outcome.changes = committed.changes;
        }
        return Ok(outcome);
    }
    let local = repo.commit_update(head, &update)?;
    if let Some(committed) = &local {
        // The checkout gets the committed files, then the branch moves (see `advance_branch`).
        for file in &files {
            if let Some(bytes) = repo.blob_at(committed.id, file)? {
                let full = repo.workdir().join(file);
                if let Some(dir) = full.parent() {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("cannot create {}", dir.display()))?;
                }
                crate::fsutil::write_atomic(&full, &bytes)?;
            }
        }
        repo.advance_branch(head, committed.id, &files)?;
        outcome.commit = Some(committed.id.to_string());
        outcome.changes = committed.changes.clone();
    }
    let (Some(target), Some(_)) = (push, &local) else {
        crate::ops::commit::note_head(repo, &mut outcome);
        return Ok(outcome);
    };
    let credentials = Credentials::from_env(&git.env).with_user_info(&target.user_info);
    let request = PushRequest {
        remote: target.remote.clone(),
        branch: target.branch.clone(),
        attempts: target.attempts,
        credentials: &credentials,
    };
    let tip = repo.remote_tip(&request)?;
    // Commits of the branch the remote lacks, besides this one, stay local and unpushed.
    let others = repo.unpushed(tip)?.len().saturating_sub(1);
    let base = PushBase {
        tip,
        first: local.clone().filter(|_| tip == head),
        keep_local: others > 0,
    };
    match repo.push_update(base, &update, &request).with_context(|| {
        format!(
            "committed in the checkout, but it is not on {} {}",
            target.remote, target.branch
        )
    })? {
        PushOutcome::Pushed {
            commit,
            committed,
            attempts,
        } => {
            outcome.commit = Some(commit.to_string());
            outcome.changes = committed.changes;
            outcome.push_attempts = attempts;
            outcome.remote_tip = Some(commit.to_string());
        }
        PushOutcome::AlreadyThere { tip } => {
            outcome.already_on_remote = true;
            outcome.remote_tip = Some(tip.to_string());
        }
    }
    outcome.pushed = true;
    if others > 0 {
        tracing::warn!(
            "the branch holds {others} commit(s) that {} {} does not have; they were not pushed, only this change was (review them with `git log {}/{}..HEAD`)",
            target.remote,
            target.branch,
            target.remote,
            target.branch
        );
    }
    crate::ops::commit::note_head(repo, &mut outcome);
    Ok(outcome)
}

/// The input of `history`.
#[derive(Debug, Clone)]
pub struct HistoryOptions {
    /// The repo folder (absolute).
    pub repo: PathBuf,
    /// The configured targets.
    pub targets: Vec<TargetConfig>,
    /// The targets to show (names); empty is every configured target.
    pub names: Vec<String>,
}

/// `history`'s result; also its JSON shape (`{"targets":[...]}`).
#[derive(Debug, Clone, Serialize)]
pub struct History {
    /// One entry per target, in config order.
    pub targets: Vec<TargetHistory>,
}

/// The values of one target.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetHistory {
    /// The target's name.
    pub name: String,
    /// Its file, relative to the repo folder.
    pub file: String,
    /// The value at HEAD.
    pub current: Option<String>,
    /// The hold on it in the checkout, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold: Option<Hold>,
    /// Every change, newest first.
    pub changes: Vec<HistoryEntry>,
}

/// One change of a target's value.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// The commit.
    pub commit: String,
    /// The commit date (RFC 3339, UTC).
    pub date: String,
    /// The author, `Name <email>`.
    pub author: String,
    /// The value before (`null` when the field was added).
    pub old: Option<String>,
    /// The value after (`null` when the field was removed).
    pub new: Option<String>,
    /// What made it: `update` (`run`, `commit`), `rollback`, `added` (the commit that added the field),
    /// or `manual` (a commit without modelbump's change line or trailers).
    pub action: String,
    /// The MLflow run, from the trailers.
    pub run_id: Option<String>,
    /// The registered model version, from the trailers.
    pub model_version: Option<String>,
    /// The experiment, from the trailers.
    pub experiment_id: Option<String>,
    /// A rollback's reason, from the trailers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl HistoryEntry {
    fn from_change(change: &ValueChange) -> Self {
        let provenance = provenance_of(change);
        let action = match (
            change.trailer(crate::git::ACTION_TRAILER),
            change.by_modelbump,
        ) {
            (Some(action), _) => action.to_string(),
            (None, true) => "update".to_string(),
            (None, false) if change.is_manual() => "manual".to_string(),
            (None, false) => "added".to_string(),
        };
        Self {
            commit: change.commit.to_string(),
            date: change.date(),
            author: change.author.clone(),
            old: change.old.clone(),
            new: change.new.clone(),
            action,
            run_id: provenance.run_id,
            model_version: provenance.model_version,
            experiment_id: provenance.experiment_id,
            reason: change
                .trailer(crate::git::REASON_TRAILER)
                .map(str::to_string),
        }
    }
}

/// Every value each target has had, newest first: the `history` use case.
pub fn history(options: &HistoryOptions) -> anyhow::Result<History> {
    let repo = GitRepo::discover(&options.repo)?;
    let head = repo.head_commit()?;
    let holds = Holds::load(&options.repo)?;
    let chosen: Vec<&TargetConfig> = if options.names.is_empty() {
        options.targets.iter().collect()
    } else {
        options
            .names
            .iter()
            .map(|n| {
                find_target(
                    &options.targets,
                    &TargetRef {
                        name: n.clone(),
                        file: None,
                    },
                )
            })
            .collect::<anyhow::Result<_>>()?
    };
    let mut out = Vec::new();
    for configured in chosen {
        let located = super::fields::with_its_file(&options.repo, configured)?;
        let target = &located;
        let rel = repo
            .relative(&options.repo, &target.file)
            .with_context(|| format!("{} is outside the git checkout", target.file.display()))?;
        let read = |bytes: &[u8]| read_value(bytes, target);
        let changes = repo.value_history(head, &rel, &target.name, &read)?;
        let current = repo.blob_at(head, &rel)?.and_then(|b| read(&b));
        out.push(TargetHistory {
            name: target.name.clone(),
            file: target.file.to_string_lossy().replace('\\', "/"),
            current,
            hold: holds
                .find(&configured.file, &target.name)
                .map(HoldEntry::hold),
            changes: changes.iter().map(HistoryEntry::from_change).collect(),
        });
    }
    Ok(History { targets: out })
}
