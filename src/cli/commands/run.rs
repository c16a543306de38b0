//! `modelbump run`: the pipeline step (apply, commit, push and sync), [`crate::ops::run`] on the command
//! line.
//!
//! A pipeline reads the `--report` file for its output parameters, so the file is written whatever
//! happens: when a step fails, it holds what was known by then (the plan's targets, a commit made in the
//! checkout but not pushed, the sync lines: the report the [`RunError`] carries) plus an `error` field
//! with the message (see `cli/outputs.rs`; with failed targets, each target's entry). A missing file
//! would turn a clear failure into a confusing one further down the pipeline. The same holds for the
//! `--commit-file`.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::cli::OutputFormat;
use crate::cli::args::ArgoCdArgs;
use crate::cli::args::MlflowArgs;
use crate::cli::args::PushArgs;
use crate::cli::args::{SelectArgs, SigningArgs};
use crate::cli::commands::commit::write_text;
use crate::cli::exit::Outcome;
use crate::cli::outputs;
use crate::cli::settings::Settings;
use crate::ops::{RunError, RunOptions, RunOutcome};
use crate::report::{Report, ReportCommand};

/// The pipeline step: apply, commit, push and sync in one
///
/// Examples:
///   modelbump run --dry-run
///   modelbump run --report /tmp/modelbump-report.json
///   modelbump run -m "update: model URIs from training run baseline" --wait
///   modelbump run --selector variant=baseline --commit-file /tmp/commit-sha
///   modelbump run --pull-request --wait-merged --merge-timeout 2h
///   modelbump run --wait --record-environment production
#[derive(Debug, Clone, Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct RunArgs {
    /// Where MLflow is
    #[command(flatten)]
    pub mlflow: MlflowArgs,
    /// Which targets
    #[command(flatten)]
    pub select: SelectArgs,
    /// Stop after the plan: show the diff, write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Also write the JSON report to this file [env: MODELBUMP_REPORT=]
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Also write the pushed commit's SHA to this file (empty when nothing was pushed), e.g. for an Argo
    /// Workflows output parameter
    #[arg(long, value_name = "FILE")]
    pub commit_file: Option<PathBuf>,
    /// In pull-request mode, also write the pull request's URL to this file (empty when there is none),
    /// e.g. for an Argo Workflows output parameter
    #[arg(long, value_name = "FILE")]
    pub pull_request_file: Option<PathBuf>,
    /// Exit 3 when the run committed a change (with --dry-run: when changes are pending), 0 when there
    /// was nothing to do
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// The message's first lines; {count}, {models} and {files} are filled in [default: git.message from the config] [env: MODELBUMP_GIT_MESSAGE=]
    #[arg(short = 'm', long, value_name = "TEXT", help_heading = "Git")]
    pub message: Option<String>,
    /// Commit but do not push (run pushes by default; commit pushes only with --push). Without it, a
    /// push rejected because the branch moved is re-applied on the fresh remote tip and retried, up to
    /// git.pushAttempts / MODELBUMP_GIT_PUSH_ATTEMPTS times (default 20, enough for 20 writers at once),
    /// after a random delay of up to 0.3 s, doubling to at most 3 s
    #[arg(long, help_heading = "Git")]
    pub no_push: bool,
    /// Where to push
    #[command(flatten)]
    pub push_to: PushArgs,
    /// How commits are signed
    #[command(flatten)]
    pub signing: SigningArgs,
    /// Argo CD options
    #[command(flatten)]
    pub argocd: ArgoCdArgs,
    /// Commit on a head branch from the fresh base tip and open (or update) a pull request to the base
    /// branch instead of pushing to it [default: on when git.pullRequest is in the config] [env: MODELBUMP_PULL_REQUEST=]
    #[arg(long, help_heading = "Git")]
    pub pull_request: bool,
    /// With --pull-request: wait until the pull request is merged, then sync Argo CD to the merge commit;
    /// closed without merging or not merged in time exits 7 [default: git.pullRequest.waitMerged] [env: MODELBUMP_WAIT_MERGED=]
    #[arg(long)]
    pub wait_merged: bool,
    /// How long --wait-merged waits, e.g. 30m, 2h [default: git.pullRequest.mergeTimeout, else 1h] [env: MODELBUMP_MERGE_TIMEOUT=]
    #[arg(long, value_name = "DURATION")]
    pub merge_timeout: Option<String>,
    /// Recording the deployment in MLflow
    #[command(flatten)]
    pub record: crate::cli::args::RecordArgs,
}

/// Runs `run`.
pub(crate) async fn run(settings: &Settings, args: RunArgs) -> anyhow::Result<Outcome> {
    let report_path = settings.report(args.report.clone());
    let result = match options(settings, &args) {
        Ok(options) => match pull_request_options(settings, &args) {
            Ok(Some(pr)) => crate::ops::run_pull_request(&options, &pr).await,
            Ok(None) => crate::ops::run(&options).await,
            Err(source) => Err(RunError {
                report: Report::default(),
                outcome: None,
                source,
            }),
        },
        Err(source) => Err(RunError {
            report: Report::default(),
            outcome: None,
            source,
        }),
    };
    match result {
        Ok(done) => {
            outputs::write_report(
                report_path.as_deref(),
                ReportCommand::Run,
                &done.report,
                None,
            )?;
            outputs::write_commit_file(args.commit_file.as_deref(), &done.report)?;
            outputs::write_pull_request_file(args.pull_request_file.as_deref(), &done.report)?;
            render(settings, &done)?;
            let changed = if args.dry_run {
                done.plan.has_changes()
            } else {
                done.report.commit.is_some()
            };
            Ok(if args.detailed_exitcode && changed {
                Outcome::ChangesPending
            } else {
                Outcome::Success
            })
        }
        Err(err) => {
            // Only the sync failed: what was done is shown as on success, the error after it.
            if let Some(done) = &err.outcome
                && settings.output == OutputFormat::Text
            {
                render(settings, done)?;
            }
            let report = if err.report.targets.is_empty() && err.report.commit.is_none() {
                outputs::report_of(&err.source)
            } else {
                err.report
            };
            if let Err(e) = outputs::write_commit_file(args.commit_file.as_deref(), &report) {
                tracing::error!("{e:#}");
            }
            if let Err(e) =
                outputs::write_pull_request_file(args.pull_request_file.as_deref(), &report)
            {
                tracing::error!("{e:#}");
            }
            Err(outputs::failed(
                settings,
                ReportCommand::Run,
                report_path.as_deref(),
                &report,
                err.source,
            ))
        }
    }
}

/// The options of the run, resolved.
fn options(settings: &Settings, args: &RunArgs) -> anyhow::Result<RunOptions> {
    let settings = &settings.selected(&args.select)?;
    let mut plan = settings.plan(&args.mlflow)?;
    plan.record = settings.record(
        args.record.record_environment.clone(),
        args.record.record_alias.clone(),
    )?;
    Ok(RunOptions {
        plan,
        dry_run: args.dry_run,
        git: settings.git(args.message.clone(), &args.signing)?,
        push: if args.no_push || args.dry_run {
            None
        } else {
            Some(settings.push(&args.push_to)?)
        },
        argocd: settings.argocd(&args.argocd)?,
    })
}

/// Pull-request mode with its `--wait-merged`, `None` when off; waiting without it is an error.
fn pull_request_options(
    settings: &Settings,
    args: &RunArgs,
) -> anyhow::Result<Option<crate::ops::PullRequestOptions>> {
    let wait = settings.wait_merged(args.wait_merged, args.merge_timeout.clone())?;
    match settings.pull_request(args.pull_request)? {
        Some(mut pr) => {
            pr.wait_merged = wait;
            Ok(Some(pr))
        }
        None if wait.is_some() => anyhow::bail!(
            "--wait-merged waits for a pull request, but pull-request mode is off; nothing was written: add --pull-request (MODELBUMP_PULL_REQUEST=true, or git.pullRequest in modelbump.yaml), or drop --wait-merged (MODELBUMP_WAIT_MERGED, git.pullRequest.waitMerged)"
        ),
        None if settings.github_app()?.is_some() => Err(crate::ops::ConfigProblem(
            "GitHub App auth (MODELBUMP_GITHUB_APP_ID, git.githubApp) is used in pull-request mode only, and pull-request mode is off; nothing was written: add --pull-request (MODELBUMP_PULL_REQUEST=true, or git.pullRequest in modelbump.yaml), or push with MODELBUMP_GIT_TOKEN and drop the app settings".into(),
        )
        .into()),
        None => Ok(None),
    }
}

/// The result line of pull-request mode.
pub(crate) fn pull_request_text(pr: &crate::report::PullRequestReport) -> String {
    let mut text = match (&pr.number, &pr.url) {
        (Some(number), Some(url)) => format!(
            "pull request #{number} ({}, {}): {url}\n  {} -> {}\n",
            pr.action,
            pr.state.as_deref().unwrap_or("unknown"),
            pr.head,
            pr.base
        ),
        _ => format!("no pull request: {} -> {}\n", pr.head, pr.base),
    };
    if let Some(note) = &pr.note {
        text.push_str(&format!("  {note}\n"));
    }
    text
}

fn render(settings: &Settings, done: &RunOutcome) -> anyhow::Result<()> {
    use crate::cli::render::{Tense, summary, table};
    crate::cli::render::log_warnings(&done.report);
    let color = settings.color;
    let mut out = std::io::stdout().lock();
    match (settings.output, &done.write_back) {
        (OutputFormat::Json, _) => out.write_all(
            done.report
                .document(ReportCommand::Run, None)
                .to_json()
                .as_bytes(),
        )?,
        (OutputFormat::Text, None) => {
            out.write_all(table(&done.report, color).as_bytes())?;
            out.write_all(summary(&done.report, Tense::Planned, color).as_bytes())?;
            match &done.report.pull_request {
                Some(pr) => out.write_all(pull_request_text(pr).as_bytes())?,
                None => {
                    out.write_all(crate::cli::color::diff(color, &done.plan.diff()).as_bytes())?
                }
            }
            if let Some(revision) = &done.synced_revision {
                out.write_all(
                    crate::cli::commands::sync::render_text(revision, &done.report.sync).as_bytes(),
                )?;
            }
            if let Some(recorded) = &done.report.recorded {
                out.write_all(render_recorded(recorded).as_bytes())?;
            }
        }
        (OutputFormat::Text, Some(written)) => {
            out.write_all(table(&done.report, color).as_bytes())?;
            out.write_all(summary(&done.report, Tense::Done, color).as_bytes())?;
            write_text(&mut out, done.push.as_ref(), written)?;
            if let Some(revision) = &done.synced_revision {
                out.write_all(
                    crate::cli::commands::sync::render_text(revision, &done.report.sync).as_bytes(),
                )?;
            }
            if let Some(recorded) = &done.report.recorded {
                out.write_all(render_recorded(recorded).as_bytes())?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// The text form of the report's `recorded`: one line per write to MLflow (the status it set, or the
/// alias it moved), and each warning.
pub(crate) fn render_recorded(recorded: &crate::report::Recorded) -> String {
    use std::fmt::Write as _;
    let mut text = format!(
        "recorded in MLflow ({}): {} write{}\n",
        recorded.environment,
        recorded.writes.len(),
        if recorded.writes.len() == 1 { "" } else { "s" }
    );
    let status = format!("modelbump.{}.status", recorded.environment);
    for write in &recorded.writes {
        let what = match (&write.alias, &write.version, write.tags.get(&status)) {
            (Some(alias), Some(version), _) => format!("alias {alias} -> version {version}"),
            (_, _, Some(status)) => format!("status {status}"),
            _ => format!("{} tags", write.tags.len()),
        };
        let _ = writeln!(text, "  {} {}: {what}", write.entity, write.id);
    }
    for warning in &recorded.warnings {
        let _ = writeln!(text, "  warning: {warning}");
    }
    text
}

#[cfg(test)]
mod record_tests {
    use super::*;

    #[test]
    fn recorded_writes_and_warnings_read_as_one_line_each() {
        let recorded = crate::report::Recorded {
            environment: "production".into(),
            writes: vec![
                crate::report::RecordedWrite {
                    target: "iris".into(),
                    entity: "run".into(),
                    id: "r1".into(),
                    tags: [(
                        "modelbump.production.status".to_string(),
                        "healthy".to_string(),
                    )]
                    .into(),
                    alias: None,
                    version: None,
                },
                crate::report::RecordedWrite {
                    target: "iris".into(),
                    entity: "registeredModel".into(),
                    id: "churn".into(),
                    tags: Default::default(),
                    alias: Some("production".into()),
                    version: Some("7".into()),
                },
            ],
            warnings: vec!["HTTP 403".into()],
        };
        assert_eq!(
            render_recorded(&recorded),
            "recorded in MLflow (production): 2 writes\n  run r1: status healthy\n  registeredModel churn: alias production -> version 7\n  warning: HTTP 403\n"
        );
    }
}
