//! `modelbump commit`: commit the changed target files, and push with `--push` (the use case is
//! [`crate::ops::commit`]); the text summary of a write-back is shared with `run`.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::cli::OutputFormat;
use crate::cli::args::{PushArgs, SelectArgs, SigningArgs};
use crate::cli::exit::Outcome;
use crate::cli::outputs;
use crate::cli::settings::Settings;
use crate::ops::CommitOptions;
use crate::ops::{PushTarget, WriteBackOutcome};
use crate::report::{Report, ReportCommand};

/// Commit the changed target files, with the changes and provenance trailers in the message
///
/// Only files whose sole uncommitted differences are model URI values are staged; a target file with
/// any other edit is refused. Nothing changed is success with "nothing to commit".
///
/// Which files: the configured target files, the files the last `apply` wrote, and the FILEs named
/// here; with none of those, every tracked YAML file with uncommitted changes. With --target or
/// --selector: only the selected targets' files, and a file that also holds uncommitted URI changes of
/// other models is refused.
///
/// Examples:
///   modelbump apply && modelbump commit --push
///   modelbump set k8s/model.yaml baseline-predictor s3://bucket/m-1/
///   modelbump commit --push -m "rollback: baseline-predictor to m-1"
///   modelbump commit --push --signing-format ssh --signing-key ~/.ssh/modelbump_signing
///   modelbump commit --push --target baseline-predictor --report /tmp/commit.json
#[derive(Debug, Clone, Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct CommitArgs {
    /// Manifests to commit (relative to the repo) in addition to the configured targets
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Push after committing (commit does not push by default; run does unless --no-push); a push rejected because the branch moved is re-applied on the fresh remote
    /// tip and retried, up to git.pushAttempts / MODELBUMP_GIT_PUSH_ATTEMPTS times (default 20, enough for
    /// 20 writers at once), after a random delay of up to 0.3 s, doubling to at most 3 s
    /// [env: MODELBUMP_PUSH=]
    #[arg(long)]
    pub push: bool,
    /// The message's first lines; {count}, {models} and {files} are filled in [default: git.message from the config] [env: MODELBUMP_GIT_MESSAGE=]
    #[arg(short = 'm', long, value_name = "TEXT")]
    pub message: Option<String>,
    /// Also write the JSON report to this file [env: MODELBUMP_REPORT=]
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Also write the pushed commit's SHA to this file (empty when nothing was pushed)
    #[arg(long, value_name = "FILE")]
    pub commit_file: Option<PathBuf>,
    /// Where to push
    #[command(flatten)]
    pub push_to: PushArgs,
    /// How commits are signed
    #[command(flatten)]
    pub signing: SigningArgs,
    /// Which targets
    #[command(flatten)]
    pub select: SelectArgs,
}

/// Runs `commit`.
pub(crate) async fn run(settings: &Settings, args: CommitArgs) -> anyhow::Result<Outcome> {
    let report_file = settings.report(args.report.clone());
    let commit_file = args.commit_file.clone();
    match commit(settings, args) {
        Ok(report) => {
            outputs::write_report(report_file.as_deref(), ReportCommand::Commit, &report, None)?;
            outputs::write_commit_file(commit_file.as_deref(), &report)?;
            Ok(Outcome::Success)
        }
        Err(err) => {
            let report = outputs::report_of(&err);
            if let Err(e) = outputs::write_commit_file(commit_file.as_deref(), &report) {
                tracing::error!("{e:#}");
            }
            Err(outputs::failed(
                settings,
                ReportCommand::Commit,
                report_file.as_deref(),
                &report,
                err,
            ))
        }
    }
}

/// Commits (and pushes), prints the outcome, and returns the report.
fn commit(settings: &Settings, args: CommitArgs) -> anyhow::Result<Report> {
    let selection = settings.selection(&args.select)?;
    let settings = &settings.selected(&args.select)?;
    let push = settings.push_requested(args.push);
    let options = CommitOptions {
        selected: (!selection.is_empty()).then(|| {
            settings
                .config
                .targets
                .iter()
                .map(|t| (t.file.clone(), t.name.clone()))
                .collect()
        }),
        git: settings.git(args.message, &args.signing)?,
        files: settings
            .config
            .targets
            .iter()
            .filter(|t| !t.file.as_os_str().is_empty())
            .map(|t| t.file.clone())
            .chain(args.files.into_iter().map(|f| settings.path_arg(f)))
            .collect(),
        path_targets: settings
            .config
            .targets
            .iter()
            .filter_map(|t| t.path.clone().map(|p| (t.file.clone(), t.name.clone(), p)))
            .collect(),
        push: if push {
            Some(settings.push(&args.push_to)?)
        } else {
            None
        },
    };
    let done = crate::ops::commit(&options)?;
    let mut out = std::io::stdout().lock();
    match settings.output {
        OutputFormat::Json => out.write_all(
            done.report
                .document(ReportCommand::Commit, None)
                .to_json()
                .as_bytes(),
        )?,
        OutputFormat::Text => write_text(&mut out, done.push.as_ref(), &done.write_back)?,
    }
    out.flush()?;
    Ok(done.report)
}

/// The text summary of a write-back, shared with `run`.
pub(crate) fn write_text(
    out: &mut impl Write,
    push: Option<&PushTarget>,
    outcome: &WriteBackOutcome,
) -> anyhow::Result<()> {
    let target = push
        .map(|p| format!("{} {}", p.remote, p.branch))
        .unwrap_or_default();
    for earlier in &outcome.earlier {
        let names: Vec<String> = earlier
            .edits
            .iter()
            .flat_map(|(file, edits)| {
                edits
                    .iter()
                    .map(move |e| format!("{} ({})", e.name(), crate::git::git_path(file)))
            })
            .collect();
        writeln!(
            out,
            "committed earlier in {} but not pushed until now: {}",
            crate::git::short_id(earlier.id),
            names.join(", ")
        )?;
    }
    if outcome.already_on_remote {
        writeln!(
            out,
            "{target} already holds these model URIs; nothing new to push"
        )?;
        return Ok(());
    }
    let Some(commit) = &outcome.commit else {
        writeln!(out, "nothing to commit")?;
        return Ok(());
    };
    let at_head = outcome.head.as_deref() == Some(commit.as_str());
    let on = if at_head || push.is_none() {
        outcome.head_label.clone()
    } else {
        format!("the tip of {target}")
    };
    writeln!(
        out,
        "committed {} on {on}: {} model URI{}",
        &commit[..12.min(commit.len())],
        outcome.changes.len(),
        if outcome.changes.len() == 1 { "" } else { "s" }
    )?;
    for c in &outcome.changes {
        writeln!(out, "  {} ({}): {} -> {}", c.name, c.file, c.old, c.new)?;
    }
    if let Some(local) = &outcome.local_commit {
        writeln!(
            out,
            "  and as {} on {}, on top of {} commit(s) that were not pushed",
            &local[..12.min(local.len())],
            outcome.head_label,
            outcome.not_pushed
        )?;
    }
    if let (Some(p), true) = (push, outcome.pushed) {
        let retries = match outcome.push_attempts {
            0 | 1 => String::new(),
            n => format!(" (attempt {n}, after the branch moved)"),
        };
        writeln!(out, "pushed to {} {}{retries}", p.remote, p.branch)?;
    }
    Ok(())
}
