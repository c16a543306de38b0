//! `run`, the pipeline step: apply, commit, push and sync.
//!
//! The plan is computed completely first; a dry run stops there. Before anything is written, everything
//! the later steps need is checked: the remote and the branch, Argo CD when asked to wait for it, the commit
//! identity, and each target file as the plan leaves it, which must differ from HEAD only in model URIs
//! (a file with other uncommitted edits is refused, nothing written). Those URIs are committed whether the
//! plan wrote them or an earlier step did (`apply`, a run whose commit failed), and the write-back
//! ([`write_back`]) pushes them together with the edits of modelbump's own earlier commits that never
//! reached the remote: a rerun finishes what a failed run started. The report carries the commit and
//! `pushed`; the sync step fills `report.sync`.
//!
//! A failed run is a [`RunError`] that carries the report as far as it got (the plan's targets, a commit
//! made in the checkout but not pushed, the sync lines), so that the caller can still hand a pipeline
//! its report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::argocd::SyncOptions;
use crate::git::{AppliedRecord, GitRepo};
use crate::manifest::{self, AnyEdit};
use crate::ops::commit::{
    GitOptions, PushSpec, PushTarget, Verdict, WriteBack, WriteBackOutcome, classify_with,
    commit_identity, note_head, warn_unpushed, write_back,
};
use crate::ops::plan::{Plan, PlanOptions};
use crate::report::{Report, TargetStatus};

/// The input of `run`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// What to plan.
    pub plan: PlanOptions,
    /// Stop after the plan: write nothing.
    pub dry_run: bool,
    /// How to commit.
    pub git: GitOptions,
    /// Where to push; `None` commits without pushing (and so does not sync).
    pub push: Option<PushSpec>,
    /// Argo CD; a sync follows the push when it is configured.
    pub argocd: SyncOptions,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The report: the targets, the commit, `pushed`, the sync lines.
    pub report: Report,
    /// The plan it applied (on a dry run, the plan it would apply).
    pub plan: Plan,
    /// The write-back; `None` on a dry run.
    pub write_back: Option<WriteBackOutcome>,
    /// Where it pushed.
    pub push: Option<PushTarget>,
    /// The revision the Argo CD apps were synced to, when a sync ran.
    pub synced_revision: Option<String>,
}

/// A failed run: what went wrong, and the report as far as the run got.
#[derive(Debug)]
pub struct RunError {
    /// The report so far: the plan's targets, a commit made but not pushed (`pushed: false`), the sync
    /// lines of a failed sync. Empty when the plan itself failed.
    pub report: Report,
    /// Everything up to the sync, when only the sync failed.
    pub outcome: Option<Box<RunOutcome>>,
    /// What went wrong.
    pub source: anyhow::Error,
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.source)
    }
}

impl std::error::Error for RunError {}

/// Runs the pipeline step.
pub async fn run(options: &RunOptions) -> Result<RunOutcome, RunError> {
    let mut report = Report::default();
    let mut synced = None;
    run_steps(options, &mut report, &mut synced)
        .await
        .map_err(|source| RunError {
            report: synced.as_ref().map_or(report, |o| o.report.clone()),
            outcome: synced,
            source,
        })
}

/// The steps; `progress` holds the report as far as they got, `synced` everything but a failed sync.
async fn run_steps(
    options: &RunOptions,
    progress: &mut Report,
    synced: &mut Option<Box<RunOutcome>>,
) -> anyhow::Result<RunOutcome> {
    let plan = crate::ops::plan::build(&options.plan).await?;
    *progress = plan.report.clone();
    if options.dry_run {
        return Ok(RunOutcome {
            report: plan.report.clone(),
            plan,
            write_back: None,
            push: None,
            synced_revision: None,
        });
    }
    let root = &options.plan.repo;
    let tracking_uri = options.plan.mlflow.tracking_uri.clone();
    let repo = GitRepo::discover(root)?;
    // Everything the steps below need is checked before anything is written: where to push, Argo CD
    // when asked to wait for it, the files to commit, and who commits them.
    let push = match &options.push {
        Some(spec) => Some(PushTarget::resolve(&repo, spec)?),
        None => None,
    };
    let argocd = options.argocd.is_configured();
    if options.argocd.wait && !argocd {
        return Err(crate::ops::ConfigProblem(
            "--wait waits for Argo CD, but none is configured; nothing was written: name the apps (--app or argocd.apps) and the server (--server, ARGOCD_SERVER or argocd.server) or a --webhook, or drop --wait (MODELBUMP_SYNC_WAIT)".into(),
        )
        .into());
    }
    let head = repo.head_commit()?;
    let pending = pending_files(root, &options.plan.config.targets, &repo, head, &plan)?;
    if !pending.files.is_empty() {
        commit_identity(&options.git, &repo)?;
        crate::ops::commit::check_signing(&options.git)?;
    }
    let report = progress;
    if plan.has_changes() {
        plan.write(root)?;
        // Should the commit below fail, a later `commit` still finds the provenance.
        if let Err(e) = crate::git::record_applied(root, report, tracking_uri.as_deref()) {
            tracing::warn!("{e}");
        }
    }
    for (file, name) in &pending.carried {
        add_warning(
            &repo,
            root,
            report,
            file,
            name,
            "written earlier but not committed; committed with this run".into(),
        );
    }
    // The values the plan found already written carry their provenance too.
    let mut resolved = report.clone();
    for target in &mut resolved.targets {
        if target.status == TargetStatus::Unchanged {
            target.status = TargetStatus::Changed;
        }
    }
    let record = AppliedRecord::from_report(&repo, root, &resolved, tracking_uri.as_deref());
    let written = write_back(
        &options.git,
        &repo,
        WriteBack {
            files: pending.files,
            record: &record,
            push: push.clone(),
            finish_own_commits: true,
            path_targets: super::fields::path_targets(&repo, root, &options.plan.config.targets),
        },
    );
    let mut outcome = match written {
        Ok(outcome) => outcome,
        Err(err) => {
            // A commit made before the push failed is real (pushed: false), as without a push.
            if let Ok(now) = repo.head_commit()
                && now != head
            {
                report.commit = Some(now.to_string());
            }
            return Err(suggest_pull_request(err));
        }
    };
    for earlier in &outcome.earlier {
        for (file, edits) in &earlier.edits {
            for edit in edits {
                let text = format!(
                    "committed earlier in {} but not pushed; pushed with this run",
                    crate::git::short_id(earlier.id)
                );
                add_warning(
                    &repo,
                    root,
                    report,
                    &crate::git::git_path(file),
                    edit.name(),
                    text,
                );
            }
        }
    }
    report.commit = outcome.commit.clone();
    report.pushed = outcome.pushed;
    mark_held(&repo, root, report, &outcome.held);
    if outcome.commit.is_none()
        && !outcome.already_on_remote
        && let Some(target) = &push
    {
        warn_unpushed(&repo, target);
    }
    note_head(&repo, &mut outcome);
    // The record of what this run pushed (nothing pushed, nothing recorded).
    let mut recorder = None;
    if outcome.pushed
        && let (Some(commit), Some(target)) = (&outcome.commit, &push)
    {
        let deployments = crate::ops::record::deployments(&report.targets);
        let settings = options.plan.record.as_ref();
        let remote = repo.remote_url(&target.remote).unwrap_or_default();
        recorder = crate::ops::record::DeployRecord::pushed(
            settings,
            &options.plan.mlflow,
            deployments,
            commit,
            remote,
        )
        .await;
    }

    // Sync when Argo CD is configured and what Argo CD should deploy is on the remote: the commit that
    // landed, the remote tip when it already held the values, else the unchanged checkout. Without a
    // push there is nothing to sync.
    let mut sync_error = None;
    let mut synced_revision = None;
    if let Some(target) = push.as_ref().filter(|_| argocd) {
        let revision = match &outcome.remote_tip {
            Some(commit) => commit.clone(),
            None => repo.head_commit()?.to_string(),
        };
        let (reports, failed) = sync_pushed(
            &options.argocd,
            root,
            &repo,
            target,
            &revision,
            &outcome.changes,
        )
        .await;
        report.sync = reports;
        sync_error = failed;
        synced_revision = Some(revision);
    }
    if let Some(record) = recorder {
        let waited = synced_revision.is_some() && options.argocd.wait;
        let verdict = crate::ops::record::Stage::after_sync(sync_error.is_some(), waited);
        report.recorded = Some(record.finish(verdict).await);
    }
    let done = RunOutcome {
        report: report.clone(),
        plan,
        write_back: Some(outcome),
        push,
        synced_revision,
    };
    if let Some(err) = sync_error {
        *synced = Some(Box::new(done));
        return Err(if report.pushed {
            err.context(crate::ops::SyncAfterPushFailed)
        } else {
            err.context("the Argo CD sync failed")
        });
    }
    Ok(done)
}

/// A push the server refused for a reason a retry cannot fix (a protected branch, a hook) says that
/// pull-request mode exists.
fn suggest_pull_request(err: anyhow::Error) -> anyhow::Error {
    let rejected = err.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<crate::git::GitError>(),
            Some(crate::git::GitError::Rejected { .. })
        )
    });
    if rejected {
        err.context(
            "the remote refused the push; if the branch is protected (changes only through pull requests), run with --pull-request (MODELBUMP_PULL_REQUEST=true, or git.pullRequest in modelbump.yaml) to push a head branch and open a pull request instead",
        )
    } else {
        err
    }
}

/// What `run` commits.
struct Pending {
    /// Per file (relative to the working tree): the edits that turn HEAD's version into what the file
    /// holds once the plan is written.
    files: BTreeMap<PathBuf, Vec<AnyEdit>>,
    /// The models (file relative to the working tree, name) whose value the working tree held already,
    /// written by an earlier step and not committed.
    carried: Vec<(String, String)>,
}

/// Compares each target file, as the plan leaves it, with HEAD: a file whose only differences are model
/// URIs is committed, whether the plan wrote them or an earlier step did (an `apply`, a `run` that
/// failed to commit); a file with other uncommitted edits is refused, nothing written, when the plan
/// changes it or it holds uncommitted model URIs too. Other edits alone are left as they are.
fn pending_files(
    root: &Path,
    targets: &[crate::config::TargetConfig],
    repo: &GitRepo,
    head: git2::Oid,
    plan: &Plan,
) -> anyhow::Result<Pending> {
    let relative = |path: &Path| {
        repo.relative(root, path).with_context(|| {
            format!(
                "{} is outside the git checkout {}",
                path.display(),
                repo.workdir().display()
            )
        })
    };
    let mut candidates: Vec<(PathBuf, Option<&crate::ops::plan::FileChange>)> = Vec::new();
    for change in &plan.files {
        candidates.push((relative(&change.path)?, Some(change)));
    }
    // A marker target without `file:` has its files in the plan.
    for target in targets.iter().filter(|t| !t.file.as_os_str().is_empty()) {
        let rel = relative(&target.file)?;
        if !candidates.iter().any(|(p, _)| *p == rel) {
            candidates.push((rel, None));
        }
    }
    let mut pending = Pending {
        files: BTreeMap::new(),
        carried: Vec::new(),
    };
    let mut refused = Vec::new();
    for (rel, change) in candidates {
        let shown = crate::git::git_path(&rel);
        let Some(committed) = repo.blob_at(head, &rel)? else {
            if change.is_some() {
                refused.push(format!("{shown} is not committed"));
            }
            continue;
        };
        let work = match change {
            Some(change) => change.before.clone(),
            None => match std::fs::read(repo.workdir().join(&rel)) {
                Ok(bytes) => bytes,
                Err(_) => continue,
            },
        };
        // Compared as git does: the working-tree bytes through git's conversions (line endings, ident),
        // and a file under a filter driver libgit2 cannot run is refused here, before anything is written.
        let work = repo.stored_form(&rel, &work)?;
        let after = match change {
            Some(change) => repo.stored_form(&rel, &change.after)?,
            None => work.clone(),
        };
        let uncommitted = uri_differences(&committed, &work);
        let paths: Vec<(String, manifest::YamlPath)> = targets
            .iter()
            .filter(|t| !t.file.as_os_str().is_empty())
            .filter(|t| relative(&t.file).ok().as_ref() == Some(&rel))
            .filter_map(|t| t.path.clone().map(|p| (t.name.clone(), p)))
            .collect();
        match classify_with(&committed, &after, &paths) {
            Verdict::Unchanged => {}
            Verdict::UriOnly(edits) => {
                pending
                    .carried
                    .extend(uncommitted.into_iter().map(|name| (shown.clone(), name)));
                pending.files.insert(rel, edits);
            }
            Verdict::Other(why) if change.is_some() || !uncommitted.is_empty() => {
                refused.push(format!("{shown} has uncommitted changes: {why}"));
            }
            Verdict::Other(why) => tracing::debug!("leaving {shown} alone: {why}"),
        }
    }
    if !refused.is_empty() {
        anyhow::bail!(
            "refusing to run, nothing was written:\n  {}\nrun commits only model URI edits: commit or stash the other changes first (git commit, git stash), or undo them (git checkout -- FILE), then run again",
            refused.join("\n  ")
        );
    }
    Ok(pending)
}

/// The models whose URI differs between two versions of a file (found in both at the same place).
fn uri_differences(before: &[u8], after: &[u8]) -> Vec<String> {
    let (Ok(before), Ok(after)) = (manifest::find_fields(before), manifest::find_fields(after))
    else {
        return Vec::new();
    };
    after
        .iter()
        .filter(|a| {
            before.iter().any(|b| {
                b.kind == a.kind && b.name == a.name && b.path == a.path && b.value != a.value
            })
        })
        .map(|a| a.name.clone())
        .collect()
}

/// Adds `text` to the warnings of the report's target `name` in `file` (relative to the working tree),
/// unless the plan changes that target anyway.
fn add_warning(
    repo: &GitRepo,
    root: &Path,
    report: &mut Report,
    file: &str,
    name: &str,
    text: String,
) {
    let target = report.targets.iter_mut().find(|t| {
        t.name == name
            && t.status != TargetStatus::Changed
            && repo
                .relative(root, Path::new(&t.file))
                .is_some_and(|p| crate::git::git_path(&p) == file)
    });
    if let Some(target) = target {
        target.warnings.push(text);
    }
}

/// Marks as `held` the targets whose edit the push left out because the remote tip held them (a hold
/// pushed while this run was under way): their value on the remote is the one they had.
fn mark_held(
    repo: &GitRepo,
    root: &Path,
    report: &mut Report,
    held: &[(String, String, crate::report::Hold)],
) {
    for (file, name, hold) in held {
        let target = report.targets.iter_mut().find(|t| {
            t.name == *name
                && repo
                    .relative(root, Path::new(&t.file))
                    .is_some_and(|p| crate::git::git_path(&p) == *file)
        });
        if let Some(target) = target {
            target.status = TargetStatus::Held;
            target.new_uri.clone_from(&target.old_uri);
            target.reason = Some(format!("held: {}", hold.reason));
            target.hold = Some(hold.clone());
        }
    }
}

/// Syncs Argo CD to `revision`, which was pushed to `target`, for the apps that deploy the files of
/// `changes`: a line per app (the failed ones included), and the error when the sync failed.
pub(super) async fn sync_pushed(
    argocd: &crate::argocd::SyncOptions,
    root: &Path,
    repo: &GitRepo,
    target: &PushTarget,
    revision: &str,
    changes: &[crate::git::ModelChange],
) -> (Vec<crate::report::SyncReport>, Option<anyhow::Error>) {
    let remote_url = repo.remote_url(&target.remote).unwrap_or_default();
    let mut changed_files: Vec<String> = Vec::new();
    for change in changes {
        if !changed_files.contains(&change.file) {
            changed_files.push(change.file.clone());
        }
    }
    match crate::argocd::sync_after_push(
        argocd,
        root,
        Some(&target.branch),
        revision,
        &changed_files,
        &remote_url,
    )
    .await
    {
        Ok(reports) => (reports, None),
        // The report still gets a line per app, the failed ones included.
        Err(err) => match err.downcast_ref::<crate::argocd::SyncFailed>() {
            Some(failed) => (failed.reports.clone(), Some(err)),
            None => (Vec::new(), Some(err)),
        },
    }
}
