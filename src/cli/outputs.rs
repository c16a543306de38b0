//! What a command leaves for a pipeline besides its exit code: the `--report` file and the `--commit-file`,
//! written whatever happens (a file from an earlier run is always replaced, so a pipeline never reads a
//! stale one), and the JSON report on stdout with `-o json`, also on failure.
//!
//! A failed command's report holds what was known: with failed targets, every target (the failed ones
//! with status `failed` and their `error`); otherwise no targets; in both cases the top-level `error`.

use std::io::Write;
use std::path::Path;

use crate::cli::OutputFormat;
use crate::cli::settings::Settings;
use crate::ops::TargetsFailed;
use crate::report::{Report, ReportCommand};

/// The report a failed command had got to: the targets' entries when targets failed, else none.
pub(crate) fn report_of(err: &anyhow::Error) -> Report {
    err.downcast_ref::<TargetsFailed>()
        .map(|failed| failed.report.clone())
        .unwrap_or_default()
}

/// The plan (or apply) of the selected targets, `op` run on their options; on failure the report is
/// written (and printed with `-o json`) before the error is handed back.
pub(crate) async fn planned<F, Fut>(
    settings: &Settings,
    select: &crate::cli::args::SelectArgs,
    mlflow: &crate::cli::args::MlflowArgs,
    command: ReportCommand,
    report_file: Option<&Path>,
    op: F,
) -> anyhow::Result<crate::ops::Plan>
where
    F: FnOnce(crate::ops::PlanOptions) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<crate::ops::Plan>>,
{
    let options = settings
        .selected(select)
        .and_then(|selected| selected.plan(mlflow));
    let result = match options {
        Ok(options) => op(options).await,
        Err(e) => Err(e),
    };
    result.map_err(|err| {
        let report = report_of(&err);
        failed(settings, command, report_file, &report, err)
    })
}

/// Writes `report` to the `--report` file, when there is one, atomically.
pub(crate) fn write_report(
    path: Option<&Path>,
    command: ReportCommand,
    report: &Report,
    error: Option<&str>,
) -> anyhow::Result<()> {
    match path {
        Some(path) => crate::report::write_file(path, &report.document(command, error)),
        None => Ok(()),
    }
}

/// Writes the `--commit-file`: the commit that is on the remote when the report says it was pushed,
/// else nothing (an empty file), so that a pipeline's output parameter is never a stale SHA.
pub(crate) fn write_commit_file(path: Option<&Path>, report: &Report) -> anyhow::Result<()> {
    let sha = match (&report.commit, report.pushed) {
        (Some(commit), true) => commit.as_str(),
        _ => "",
    };
    write_output(path, "commit file", sha)
}

/// Writes the `--pull-request-file`: the pull request's web page in pull-request mode, else nothing (an
/// empty file), so that a pipeline's output parameter is never a stale URL.
pub(crate) fn write_pull_request_file(path: Option<&Path>, report: &Report) -> anyhow::Result<()> {
    let url = report
        .pull_request
        .as_ref()
        .and_then(|pr| pr.url.as_deref())
        .unwrap_or("");
    write_output(path, "pull-request file", url)
}

/// Writes one output parameter's file atomically, when one was asked for.
fn write_output(path: Option<&Path>, what: &str, text: &str) -> anyhow::Result<()> {
    let Some(path) = path else {
        return Ok(());
    };
    crate::fsutil::write_atomic(path, text.as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot write the {what} {}: {e:#}", path.display()))?;
    Ok(())
}

/// A command failed with `err`: writes the report (and the commit file) with the error, prints the
/// JSON report on stdout with `-o json`, and hands `err` back for the exit code. A report that cannot be
/// written is logged; the command's own error is what the caller must see.
pub(crate) fn failed(
    settings: &Settings,
    command: ReportCommand,
    report_file: Option<&Path>,
    report: &Report,
    err: anyhow::Error,
) -> anyhow::Error {
    let message = format!("{err:#}");
    if let Err(e) = write_report(report_file, command, report, Some(&message)) {
        tracing::error!("{e:#}");
    }
    if settings.output == OutputFormat::Json {
        let mut out = std::io::stdout().lock();
        let _ = out
            .write_all(
                report
                    .document(command, Some(&message))
                    .to_json()
                    .as_bytes(),
            )
            .and_then(|()| out.flush());
    }
    err
}

/// The settings could not be resolved (a bad `modelbump.yaml`, a bad variable): the command never ran,
/// but a `--report` (or `MODELBUMP_REPORT`) and `--commit-file` it was given are still replaced, so a
/// pipeline does not read a file an earlier run left.
pub(crate) fn settings_failed(
    command: &crate::cli::Command,
    env: &crate::env::Env,
    err: &anyhow::Error,
) {
    use crate::cli::Command;
    let (kind, report, commit_file) = match command {
        Command::Plan(args) => (ReportCommand::Plan, args.report.clone(), None),
        Command::Apply(args) => (ReportCommand::Apply, args.report.clone(), None),
        Command::Commit(args) => (
            ReportCommand::Commit,
            args.report.clone(),
            args.commit_file.clone(),
        ),
        Command::Run(args) => (
            ReportCommand::Run,
            args.report.clone(),
            args.commit_file.clone(),
        ),
        _ => return,
    };
    let report = crate::cli::settings::pick(report, env.path("MODELBUMP_REPORT"), None);
    let message = format!("{err:#}");
    if let Err(e) = write_report(report.as_deref(), kind, &Report::default(), Some(&message)) {
        tracing::error!("{e:#}");
    }
    if let Err(e) = write_commit_file(commit_file.as_deref(), &Report::default()) {
        tracing::error!("{e:#}");
    }
}
