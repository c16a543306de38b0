//! `modelbump run`: the pipeline step (apply, commit, push, sync).
//!
//! The plan is computed completely first; `--dry-run` stops there. Before anything is written, each file
//! the plan changes must be exactly HEAD's version (compared as git does, through its line-ending and
//! ident conversions: [`GitRepo::stored_form`]), so that the commit carries modelbump's edits and
//! nothing else (a file with other uncommitted edits is refused, nothing written). Then the plan is
//! written, committed and pushed with the write-back `commit` uses: a rejected push re-applies the plan's
//! edits to the fresh remote tip. The report carries the commit and `pushed`; the sync step fills
//! `report.sync`.
//!
//! A pipeline reads the `--report` file for its output parameters, so the file is written whatever
//! happens: when a step fails, it holds what was known by then (the plan's targets, a commit made in the
//! checkout but not pushed, the sync lines) plus an `error` field with the message, and at the very least
//! `{"targets": [], "commit": null, "pushed": false, "sync": [], "error": "..."}`. A missing file would
//! turn a clear failure into a confusing one further down the pipeline.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use crate::cli::OutputFormat;
use crate::commands::MlflowArgs;
use crate::commands::commit::{
    PushArgs, PushTarget, WriteBack, WriteBackOutcome, write_back, write_text,
};
use crate::commands::sync::ArgoCdArgs;
use crate::exit::Outcome;
use crate::git::{AppliedRecord, GitRepo};
use crate::report::Report;
use crate::settings::Settings;

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
    /// Commit but do not push
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
    let report = &mut progress.report;
    if args.dry_run {
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
    let mut push = None;
    let mut outcome = WriteBackOutcome::default();
    if plan.has_changes() {
        let head = repo.head_commit()?;
        let mut files = BTreeMap::new();
        let mut refused = Vec::new();
        for file in &plan.files {
            let rel = repo.relative(&settings.repo, &file.path).with_context(|| {
                format!(
                    "{} is outside the git checkout {}",
                    file.path.display(),
                    repo.workdir().display()
                )
            })?;
            let shown = crate::git::git_path(&rel);
            // Compared as git does: the working-tree bytes through git's conversions (line endings...).
            match repo.blob_at(head, &rel)? {
                Some(committed) if repo.stored_form(&rel, &file.before)? == committed => {}
                Some(_) => refused.push(format!("{shown} has uncommitted changes")),
                None => refused.push(format!("{shown} is not committed")),
            }
            files.insert(rel, file.edits.clone());
        }
        if !refused.is_empty() {
            anyhow::bail!(
                "refusing to run, nothing was written:\n  {}\nrun commits only its own edits: commit or stash the other changes first (or use apply, then commit them yourself)",
                refused.join("\n  ")
            );
        }
        if !args.no_push {
            push = Some(PushTarget::resolve(settings, &repo, &args.push_to)?);
        }
        plan.write(&settings.repo)?;
        // Should the commit below fail (no identity, say), a later `commit` still finds the provenance.
        if let Err(e) = crate::git::record_applied(&settings.repo, report, tracking_uri.as_deref())
        {
            tracing::warn!("{e}");
        }
        let record =
            AppliedRecord::from_report(&repo, &settings.repo, report, tracking_uri.as_deref());
        let written = write_back(
            settings,
            &repo,
            WriteBack {
                files,
                record: &record,
                message: args.message.clone(),
                push: push.clone(),
            },
        );
        outcome = match written {
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
    }
    report.commit = outcome.commit.clone();
    report.pushed = outcome.pushed;
    if !plan.has_changes()
        && !args.no_push
        && let Ok(target) = PushTarget::resolve(settings, &repo, &args.push_to)
    {
        crate::commands::commit::warn_unpushed(&repo, &target);
    }

    // Sync when Argo CD is configured and what Argo CD should deploy is on the remote. After the
    // write-back HEAD is that commit in every case: the pushed commit, the remote tip when the remote
    // already held the values, or the unchanged checkout. `--no-push` leaves nothing to sync.
    let mut sync_error = None;
    let mut synced_revision = None;
    if !args.no_push && crate::argocd::is_configured(settings, &args.argocd)? {
        let revision = match &outcome.commit {
            Some(commit) => commit.clone(),
            None => repo.head_commit()?.to_string(),
        };
        let remote = push
            .as_ref()
            .map(|p| p.remote.clone())
            .or_else(|| settings.config.git.remote.clone())
            .unwrap_or_else(|| "origin".to_string());
        let remote_url = repo.remote_url(&remote).unwrap_or_default();
        let changed_files: Vec<String> = if plan.has_changes() {
            plan.files
                .iter()
                .filter_map(|f| repo.relative(&settings.repo, &f.path))
                .map(|p| crate::git::git_path(&p))
                .collect()
        } else {
            Vec::new()
        };
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
            out.write_all(plan.table().as_bytes())?;
            if plan.has_changes() {
                write_text(&mut out, &repo, push.as_ref(), &outcome)?;
            } else {
                writeln!(out, "nothing to commit")?;
            }
            if let Some(revision) = &synced_revision {
                out.write_all(
                    crate::commands::sync::render_text(revision, &report.sync).as_bytes(),
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

fn write_report(path: &std::path::Path, report: &crate::report::Report) -> anyhow::Result<()> {
    crate::fsutil::write_atomic(path, report.to_json().as_bytes())
        .with_context(|| format!("cannot write the report to {}", path.display()))?;
    Ok(())
}
