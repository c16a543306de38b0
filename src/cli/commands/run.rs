//! `modelbump run`: the pipeline step (apply, commit, push, sync).
//!
//! The plan is computed completely first; `--dry-run` stops there. Before anything is written, everything
//! the later steps need is checked: the remote and the branch, Argo CD when `--wait` is given, the commit
//! identity, and each target file as the plan leaves it, which must differ from HEAD only in model URIs
//! (a file with other uncommitted edits is refused, nothing written). Those URIs are committed whether the
//! plan wrote them or an earlier step did (`apply`, a run whose commit failed), and the write-back `commit`
//! uses pushes them together with the edits of modelbump's own earlier commits that never reached the
//! remote: a rerun finishes what a failed run started. The report carries the commit and `pushed`; the
//! sync step fills `report.sync`.
//!
//! A pipeline reads the `--report` file for its output parameters, so the file is written whatever
//! happens: when a step fails, it holds what was known by then (the plan's targets, a commit made in the
//! checkout but not pushed, the sync lines) plus an `error` field with the message, and at the very least
//! `{"targets": [], "commit": null, "pushed": false, "sync": [], "error": "..."}`. A missing file would
//! turn a clear failure into a confusing one further down the pipeline.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use crate::cli::OutputFormat;
use crate::cli::commands::MlflowArgs;
use crate::cli::commands::commit::{
    PushArgs, PushTarget, Verdict, WriteBack, classify, commit_identity, write_back, write_text,
};
use crate::cli::commands::sync::ArgoCdArgs;
use crate::cli::exit::Outcome;
use crate::cli::settings::Settings;
use crate::git::{AppliedRecord, GitRepo};
use crate::manifest::{self, Edit};
use crate::report::{Report, TargetStatus};

/// The pipeline step: apply, commit, push and sync in one
///
/// Examples:
///   modelbump run --dry-run
///   modelbump run --report /tmp/modelbump-report.json
///   modelbump run -m "update: model URIs from training run baseline" --wait
#[derive(Debug, Clone, Args)]
#[command(verbatim_doc_comment)]
pub struct RunArgs {
    /// Where MLflow is
    #[command(flatten)]
    pub mlflow: MlflowArgs,
    /// Stop after the plan: show the diff, write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Also write the JSON report to this file
    #[arg(long, value_name = "FILE", env = "MODELBUMP_REPORT")]
    pub report: Option<PathBuf>,
    /// The message's first lines; {count}, {models} and {files} are filled in [default: git.message from the config]
    #[arg(short = 'm', long, value_name = "TEXT", env = "MODELBUMP_GIT_MESSAGE")]
    pub message: Option<String>,
    /// Commit but do not push. Without it, a push rejected because the branch moved is re-applied on the
    /// fresh remote tip and retried, up to git.pushAttempts / MODELBUMP_GIT_PUSH_ATTEMPTS times (default
    /// 20, enough for 20 writers at once), after a random delay of up to 0.3 s, doubling to at most 3 s
    #[arg(long)]
    pub no_push: bool,
    /// Where to push
    #[command(flatten)]
    pub push_to: PushArgs,
    /// Argo CD options
    #[command(flatten)]
    pub argocd: ArgoCdArgs,
}

/// What a run knew when it stopped, for the report of a failed run.
#[derive(Debug, Default)]
struct Progress {
    /// The report so far.
    report: Report,
    /// The JSON report is already on stdout.
    printed: bool,
}

/// The report of a failed run: the report so far and what went wrong.
#[derive(Serialize)]
struct FailedReport<'a> {
    #[serde(flatten)]
    report: &'a Report,
    error: String,
}

/// Runs `run`.
pub async fn run(settings: &Settings, args: RunArgs) -> anyhow::Result<Outcome> {
    let mut progress = Progress::default();
    let result = run_steps(settings, &args, &mut progress).await;
    if let Err(err) = &result {
        let failed = FailedReport {
            report: &progress.report,
            error: format!("{err:#}"),
        };
        let mut json = serde_json::to_string_pretty(&failed).expect("the report serializes");
        json.push('\n');
        if let Some(path) = &args.report
            && let Err(e) = crate::fsutil::write_atomic(path, json.as_bytes())
        {
            tracing::error!("cannot write the report to {}: {e}", path.display());
        }
        if settings.output == OutputFormat::Json && !progress.printed {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(json.as_bytes()).and_then(|()| out.flush());
        }
    }
    result
}

async fn run_steps(
    settings: &Settings,
    args: &RunArgs,
    progress: &mut Progress,
) -> anyhow::Result<Outcome> {
    let plan = crate::plan::build(settings, &args.mlflow).await?;
    progress.report = plan.report.clone();
    if args.dry_run {
        let report = &progress.report;
        if let Some(path) = &args.report {
            write_report(path, report)?;
        }
        let mut out = std::io::stdout().lock();
        match settings.output {
            OutputFormat::Json => {
                out.write_all(report.to_json().as_bytes())?;
                progress.printed = true;
            }
            OutputFormat::Text => {
                out.write_all(plan.table().as_bytes())?;
                out.write_all(plan.diff().as_bytes())?;
            }
        }
        out.flush()?;
        return Ok(Outcome::Success);
    }

    let tracking_uri = crate::tracking::tracking_uri(settings, &args.mlflow);
    let repo = GitRepo::discover(&settings.repo)?;
    // Everything the steps below need is checked before anything is written: where to push, Argo CD
    // when asked to wait for it, the files to commit, and who commits them.
    let push = if args.no_push {
        None
    } else {
        Some(PushTarget::resolve(settings, &repo, &args.push_to)?)
    };
    let argocd = crate::argocd::is_configured(settings, &args.argocd)?;
    if args.argocd.wait && !argocd {
        anyhow::bail!(
            "--wait waits for Argo CD, but none is configured; nothing was written: name the apps (--app or argocd.apps) and the server (--server, ARGOCD_SERVER or argocd.server) or a --webhook, or drop --wait (MODELBUMP_SYNC_WAIT)"
        );
    }
    let head = repo.head_commit()?;
    let pending = pending_files(settings, &repo, head, &plan)?;
    if !pending.files.is_empty() {
        commit_identity(settings, &repo)?;
    }
    let report = &mut progress.report;
    if plan.has_changes() {
        plan.write(&settings.repo)?;
        // Should the commit below fail, a later `commit` still finds the provenance.
        if let Err(e) = crate::git::record_applied(&settings.repo, report, tracking_uri.as_deref())
        {
            tracing::warn!("{e}");
        }
    }
    for (file, name) in &pending.carried {
        add_warning(
            &repo,
            settings,
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
    let record =
        AppliedRecord::from_report(&repo, &settings.repo, &resolved, tracking_uri.as_deref());
    let written = write_back(
        settings,
        &repo,
        WriteBack {
            files: pending.files,
            record: &record,
            message: args.message.clone(),
            push: push.clone(),
            finish_own_commits: true,
        },
    );
    let outcome = match written {
        Ok(outcome) => outcome,
        Err(err) => {
            // A commit made before the push failed is real (pushed: false), as with --no-push.
            if let Ok(now) = repo.head_commit()
                && now != head
            {
                report.commit = Some(now.to_string());
            }
            return Err(err);
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
                    settings,
                    report,
                    &crate::git::git_path(file),
                    &edit.selector.name,
                    text,
                );
            }
        }
    }
    report.commit = outcome.commit.clone();
    report.pushed = outcome.pushed;
    if outcome.commit.is_none()
        && !outcome.already_on_remote
        && let Some(target) = &push
    {
        crate::cli::commands::commit::warn_unpushed(&repo, target);
    }

    // Sync when Argo CD is configured and what Argo CD should deploy is on the remote: the commit that
    // landed, the remote tip when it already held the values, else the unchanged checkout. `--no-push`
    // leaves nothing to sync.
    let mut sync_error = None;
    let mut synced_revision = None;
    if !args.no_push && argocd {
        let revision = match &outcome.remote_tip {
            Some(commit) => commit.clone(),
            None => repo.head_commit()?.to_string(),
        };
        let remote = push
            .as_ref()
            .map(|p| p.remote.clone())
            .or_else(|| settings.config.git.remote.clone())
            .unwrap_or_else(|| "origin".to_string());
        let remote_url = repo.remote_url(&remote).unwrap_or_default();
        let mut changed_files: Vec<String> = Vec::new();
        for change in &outcome.changes {
            if !changed_files.contains(&change.file) {
                changed_files.push(change.file.clone());
            }
        }
        match crate::argocd::sync_after_push(
            settings,
            &args.argocd,
            &revision,
            &changed_files,
            &remote_url,
        )
        .await
        {
            Ok(reports) => report.sync = reports,
            Err(err) => {
                // The report still gets a line per app, the failed ones included.
                if let Some(failed) = err.downcast_ref::<crate::argocd::SyncFailed>() {
                    report.sync = failed.reports.clone();
                }
                sync_error = Some(err);
            }
        }
        synced_revision = Some(revision);
    }

    if sync_error.is_none()
        && let Some(path) = &args.report
    {
        write_report(path, report)?;
    }
    let mut out = std::io::stdout().lock();
    match settings.output {
        // A failed sync's report, with its error, is written by the caller.
        OutputFormat::Json if sync_error.is_some() => {}
        OutputFormat::Json => {
            out.write_all(report.to_json().as_bytes())?;
            progress.printed = true;
        }
        OutputFormat::Text => {
            out.write_all(crate::plan::render_table(report).as_bytes())?;
            write_text(&mut out, &repo, push.as_ref(), &outcome)?;
            if let Some(revision) = &synced_revision {
                out.write_all(
                    crate::cli::commands::sync::render_text(revision, &report.sync).as_bytes(),
                )?;
            }
        }
    }
    out.flush()?;
    if let Some(err) = sync_error {
        let what = if report.pushed {
            "the changes are pushed, but the Argo CD sync failed"
        } else {
            "the Argo CD sync failed"
        };
        return Err(err.context(what));
    }
    Ok(Outcome::Success)
}

/// What `run` commits.
struct Pending {
    /// Per file (relative to the working tree): the edits that turn HEAD's version into what the file
    /// holds once the plan is written.
    files: BTreeMap<PathBuf, Vec<Edit>>,
    /// The models (file relative to the working tree, name) whose value the working tree held already,
    /// written by an earlier step and not committed.
    carried: Vec<(String, String)>,
}

/// Compares each target file, as the plan leaves it, with HEAD: a file whose only differences are model
/// URIs is committed, whether the plan wrote them or an earlier step did (an `apply`, a `run` that
/// failed to commit); a file with other uncommitted edits is refused, nothing written, when the plan
/// changes it or it holds uncommitted model URIs too. Other edits alone are left as they are.
fn pending_files(
    settings: &Settings,
    repo: &GitRepo,
    head: git2::Oid,
    plan: &crate::plan::Plan,
) -> anyhow::Result<Pending> {
    let relative = |path: &Path| {
        repo.relative(&settings.repo, path).with_context(|| {
            format!(
                "{} is outside the git checkout {}",
                path.display(),
                repo.workdir().display()
            )
        })
    };
    let mut candidates: Vec<(PathBuf, Option<&crate::plan::FileChange>)> = Vec::new();
    for change in &plan.files {
        candidates.push((relative(&change.path)?, Some(change)));
    }
    for target in &settings.config.targets {
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
        match classify(&committed, &after) {
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
    settings: &Settings,
    report: &mut Report,
    file: &str,
    name: &str,
    text: String,
) {
    let target = report.targets.iter_mut().find(|t| {
        t.name == name
            && t.status != TargetStatus::Changed
            && repo
                .relative(&settings.repo, Path::new(&t.file))
                .is_some_and(|p| crate::git::git_path(&p) == file)
    });
    if let Some(target) = target {
        target.warnings.push(text);
    }
}

fn write_report(path: &std::path::Path, report: &crate::report::Report) -> anyhow::Result<()> {
    crate::fsutil::write_atomic(path, report.to_json().as_bytes())
        .with_context(|| format!("cannot write the report to {}", path.display()))?;
    Ok(())
}
