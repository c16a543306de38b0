//! `modelbump hold`, `release`, `rollback` and `history` (the use cases are in `ops/hold.rs`).

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::cli::OutputFormat;
use crate::cli::args::{PushArgs, SigningArgs};
use crate::cli::exit::Outcome;
use crate::cli::settings::Settings;
use crate::ops::{
    GitOptions, HistoryOptions, HoldOptions, HoldOutcome, PushSpec, RollbackOptions, TargetRef,
};
use crate::report::ReportCommand;

/// Hold a target: plan, apply and run leave it as it is (status `held`) until `modelbump release`
///
/// The hold is an entry of .modelbump/holds.yaml beside modelbump.yaml (who, when, why), committed
/// alone; with --push it is pushed like `commit --push`, re-applied on the fresh tip when the branch
/// moved, so every pipeline that updates the repository sees it.
///
/// Examples:
///   modelbump hold baseline-predictor --reason "latency regression, investigating" --push
///   modelbump -o json hold baseline-predictor --reason "freeze for the audit"
///   modelbump hold baseline-predictor --reason "freeze for the audit" --pull-request
#[derive(Debug, Clone, Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct HoldArgs {
    /// The target, by the name `modelbump targets` shows
    #[arg(value_name = "TARGET")]
    pub target: String,
    /// Why (recorded in the holds file and the commit message)
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    /// Which file, where to push, how to sign
    #[command(flatten)]
    pub commit: CommitArgs,
}

/// Release a target's hold: the next plan, apply or run updates it again
///
/// Examples:
///   modelbump release baseline-predictor --push
///   modelbump release baseline-predictor --pull-request
#[derive(Debug, Clone, Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct ReleaseArgs {
    /// The target, by the name `modelbump targets` shows
    #[arg(value_name = "TARGET")]
    pub target: String,
    /// Which file, where to push, how to sign
    #[command(flatten)]
    pub commit: CommitArgs,
}

/// Roll a target back to an earlier value and hold it there
///
/// Writes the earlier value byte-exactly (as `set` does), places a hold so that the next run does not
/// put the newer model back, and commits both, with `Modelbump-Action: rollback` and the reason as
/// trailers. --to previous is the value before the current one in the history of the file; --to
/// COMMIT is the value at that commit; anything else is taken as the URI itself.
///
/// Examples:
///   modelbump rollback baseline-predictor --reason "accuracy dropped online" --push
///   modelbump rollback baseline-predictor --to 3f2a9c1 --reason "back to last week's model" --push
///   modelbump rollback baseline-predictor --reason "accuracy dropped online" --pull-request
///   modelbump rollback baseline-predictor --to s3://bucket/m-1/artifacts/ --reason "known good"
///   modelbump rollback baseline-predictor --reason "latency regression" --push --record-environment production
///   modelbump rollback baseline-predictor --reason "accuracy dropped online" --push --wait --app serving
#[derive(Debug, Clone, Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct RollbackArgs {
    /// The target, by the name `modelbump targets` shows
    #[arg(value_name = "TARGET")]
    pub target: String,
    /// previous, a commit, or a URI
    #[arg(long, value_name = "previous|COMMIT|URI", default_value = "previous")]
    pub to: String,
    /// Why (recorded in the hold and the commit message)
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    /// Which file, where to push, how to sign
    #[command(flatten)]
    pub commit: CommitArgs,
    /// Where MLflow is (for mlflow.recordDeployments)
    #[command(flatten)]
    pub mlflow: crate::cli::args::MlflowArgs,
    /// Recording the rollback in MLflow
    #[command(flatten)]
    pub record: crate::cli::args::RecordArgs,
    /// Argo CD: with --wait (and --push), sync to the rollback's commit and wait until Healthy
    #[command(flatten)]
    pub argocd: crate::cli::args::ArgoCdArgs,
}

/// Every value the targets have had, newest first, from the git history of their files
///
/// Each change shows the commit, its date and author, old -> new, and the MLflow run, model version and
/// experiment from modelbump's trailers; a change without them is marked `manual`.
///
/// Examples:
///   modelbump history
///   modelbump history baseline-predictor
///   modelbump -o json history baseline-predictor | jq '.targets[0].changes[0]'
#[derive(Debug, Clone, Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct HistoryArgs {
    /// The targets, by the names `modelbump targets` shows [default: every configured target]
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
}

/// What `hold`, `release` and `rollback` share: the target's file, and how their commit is signed and
/// pushed.
#[derive(Debug, Clone, Args)]
pub(crate) struct CommitArgs {
    /// The target's file, where its name is configured in several
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Push after committing [env: MODELBUMP_PUSH=]
    #[arg(long)]
    pub push: bool,
    /// Where to push
    #[command(flatten)]
    pub push_to: PushArgs,
    /// How commits are signed
    #[command(flatten)]
    pub signing: SigningArgs,
    /// Commit on a head branch from the fresh base tip and open a pull request to the base branch
    /// instead of pushing to it [default: on when git.pullRequest is in the config] [env: MODELBUMP_PULL_REQUEST=]
    #[arg(long)]
    pub pull_request: bool,
}

impl CommitArgs {
    /// Pull-request mode, as `run` resolves it, with the push remote it needs; `None` when off.
    fn pull_request_mode(
        &self,
        settings: &Settings,
    ) -> anyhow::Result<Option<(crate::ops::PullRequestOptions, PushSpec)>> {
        match settings.pull_request(self.pull_request)? {
            Some(pr) => Ok(Some((pr, settings.push(&self.push_to)?))),
            None => Ok(None),
        }
    }

    /// The git options, the target named `target`, and the push when asked for.
    fn resolve(
        self,
        settings: &Settings,
        target: String,
    ) -> anyhow::Result<(GitOptions, TargetRef, Option<PushSpec>)> {
        let push = settings.push_requested(self.push);
        Ok((
            settings.git(None, &self.signing)?,
            TargetRef {
                name: target,
                file: self.file,
            },
            push.then(|| settings.push(&self.push_to)).transpose()?,
        ))
    }
}

/// Runs `hold`.
pub(crate) async fn run_hold(settings: &Settings, args: HoldArgs) -> anyhow::Result<Outcome> {
    let pr = args.commit.pull_request_mode(settings)?;
    let (git, target, push) = args.commit.resolve(settings, args.target)?;
    let options = HoldOptions {
        git,
        targets: settings.config.targets.clone(),
        target,
        reason: Some(args.reason),
        manual_changes: settings.config.manual_changes,
        push,
    };
    let done = hold_either(options, pr).await?;
    print(settings, ReportCommand::Hold, "held", &done)
}

/// Runs `release`.
pub(crate) async fn run_release(settings: &Settings, args: ReleaseArgs) -> anyhow::Result<Outcome> {
    let pr = args.commit.pull_request_mode(settings)?;
    let (git, target, push) = args.commit.resolve(settings, args.target)?;
    let options = HoldOptions {
        git,
        targets: settings.config.targets.clone(),
        target,
        reason: None,
        manual_changes: settings.config.manual_changes,
        push,
    };
    let done = hold_either(options, pr).await?;
    print(settings, ReportCommand::Release, "released", &done)
}

/// `hold`/`release` on the checkout, or in pull-request mode.
async fn hold_either(
    options: HoldOptions,
    pr: Option<(crate::ops::PullRequestOptions, PushSpec)>,
) -> anyhow::Result<HoldOutcome> {
    match pr {
        Some((pr, push)) => {
            let options = HoldOptions {
                push: Some(push),
                ..options
            };
            crate::ops::hold_pull_request(&options, &pr).await
        }
        None => crate::ops::hold(&options),
    }
}

/// Runs `rollback`.
pub(crate) async fn run_rollback(
    settings: &Settings,
    args: RollbackArgs,
) -> anyhow::Result<Outcome> {
    if let Some(pr) = args.commit.pull_request_mode(settings)? {
        return run_rollback_pr(settings, args, pr).await;
    }
    let record = settings.record(args.record.record_environment, args.record.record_alias)?;
    let mlflow = settings.mlflow(&args.mlflow);
    let argocd = settings.argocd(&args.argocd)?;
    let (git, target, push) = args.commit.resolve(settings, args.target)?;
    if argocd.wait && push.is_none() {
        return Err(crate::ops::ConfigProblem(
            "--wait waits for Argo CD to deploy the rollback, which needs it pushed; nothing was written: add --push (MODELBUMP_PUSH=true), or drop --wait (MODELBUMP_SYNC_WAIT)".into(),
        )
        .into());
    }
    if argocd.wait && !argocd.is_configured() {
        return Err(crate::ops::ConfigProblem(
            "--wait waits for Argo CD, but none is configured; nothing was written: name the apps (--app or argocd.apps) and the server (--server, ARGOCD_SERVER or argocd.server) or a --webhook, or drop --wait (MODELBUMP_SYNC_WAIT)".into(),
        )
        .into());
    }
    let mut done = crate::ops::rollback(&RollbackOptions {
        git,
        targets: settings.config.targets.clone(),
        target,
        to: args.to,
        reason: args.reason,
        push,
    })?;
    let recorded = match &record {
        Some(record) => {
            crate::ops::record_rollback(&mut done, &settings.config.targets, record, &mlflow).await
        }
        None => None,
    };
    let synced = crate::ops::sync_rollback(&mut done, &argocd, &settings.repo, recorded).await;
    let printed = print(
        settings,
        ReportCommand::Rollback,
        "rolled back and held",
        &done,
    );
    synced?;
    printed
}

/// `rollback` in pull-request mode: the commit goes to a head branch and a pull request (no MLflow
/// record: the commit reaches the branch through a merge).
async fn run_rollback_pr(
    settings: &Settings,
    args: RollbackArgs,
    (pr, push): (crate::ops::PullRequestOptions, PushSpec),
) -> anyhow::Result<Outcome> {
    if settings.argocd(&args.argocd)?.wait {
        return Err(crate::ops::ConfigProblem(
            "--wait waits for Argo CD to deploy the rollback, but in pull-request mode it reaches the branch only when its pull request is merged; nothing was written: drop --wait (MODELBUMP_SYNC_WAIT), merge the pull request, then let Argo CD sync (or run `modelbump sync --wait`)".into(),
        )
        .into());
    }
    let (git, target, _) = args.commit.resolve(settings, args.target)?;
    let done = crate::ops::rollback_pull_request(
        &RollbackOptions {
            git,
            targets: settings.config.targets.clone(),
            target,
            to: args.to,
            reason: args.reason,
            push: Some(push),
        },
        &pr,
    )
    .await?;
    print(
        settings,
        ReportCommand::Rollback,
        "rolled back and held",
        &done,
    )
}

/// Prints the outcome: the report document of `command` (`-o json`, as `run` prints, with
/// `schemaVersion`, `command` and `summary`), or a line per target and then the pull request (in
/// pull-request mode) or what was committed, pushed, synced and recorded.
fn print(
    settings: &Settings,
    command: ReportCommand,
    what: &str,
    done: &HoldOutcome,
) -> anyhow::Result<Outcome> {
    let mut out = std::io::stdout().lock();
    match settings.output {
        OutputFormat::Json => {
            out.write_all(done.report.document(command, None).to_json().as_bytes())?
        }
        OutputFormat::Text => {
            write_lines(&mut out, what, done)?;
            match &done.report.pull_request {
                Some(pr) => {
                    out.write_all(crate::cli::commands::run::pull_request_text(pr).as_bytes())?
                }
                None => write_pushed_synced_recorded(&mut out, done)?,
            }
        }
    }
    out.flush()?;
    Ok(Outcome::Success)
}

/// What was committed and pushed, the sync (with `--wait`) and what was recorded in MLflow.
fn write_pushed_synced_recorded(out: &mut impl Write, done: &HoldOutcome) -> anyhow::Result<()> {
    crate::cli::commands::commit::write_text(out, done.push.as_ref(), &done.write_back)?;
    if !done.report.sync.is_empty() {
        let revision = done.write_back.commit.as_deref().unwrap_or_default();
        out.write_all(
            crate::cli::commands::sync::render_text(revision, &done.report.sync).as_bytes(),
        )?;
    }
    if let Some(recorded) = &done.report.recorded {
        out.write_all(crate::cli::commands::run::render_recorded(recorded).as_bytes())?;
    }
    Ok(())
}

/// One line per target: `WHAT NAME (FILE)`, with `OLD -> NEW` when the value changed.
fn write_lines(out: &mut impl Write, what: &str, done: &HoldOutcome) -> anyhow::Result<()> {
    for t in &done.report.targets {
        match (&t.old_uri, &t.new_uri) {
            (Some(old), Some(new)) if old != new => {
                writeln!(out, "{what} {} ({}): {old} -> {new}", t.name, t.file)?;
            }
            _ => writeln!(out, "{what} {} ({})", t.name, t.file)?,
        }
    }
    Ok(())
}

/// Runs `history`.
pub(crate) fn run_history(settings: &Settings, args: HistoryArgs) -> anyhow::Result<Outcome> {
    let history = crate::ops::history(&HistoryOptions {
        repo: settings.repo.clone(),
        targets: settings.config.targets.clone(),
        names: args.targets,
    })?;
    let mut out = std::io::stdout().lock();
    match settings.output {
        OutputFormat::Json => {
            let mut text = serde_json::to_string_pretty(&history)?;
            text.push('\n');
            out.write_all(text.as_bytes())?;
        }
        OutputFormat::Text => {
            for t in &history.targets {
                writeln!(
                    out,
                    "{} ({}): {}",
                    t.name,
                    t.file,
                    t.current.as_deref().unwrap_or("(absent)")
                )?;
                if let Some(h) = &t.hold {
                    writeln!(out, "  held since {} by {}: {}", h.at, h.by, h.reason)?;
                }
                for c in &t.changes {
                    let mut provenance = Vec::new();
                    if let Some(v) = &c.model_version {
                        provenance.push(format!("version {v}"));
                    }
                    if let Some(r) = &c.run_id {
                        provenance.push(format!("run {r}"));
                    }
                    if let Some(r) = &c.reason {
                        provenance.push(format!("reason: {r}"));
                    }
                    let provenance = if provenance.is_empty() {
                        String::new()
                    } else {
                        format!(" [{}]", provenance.join(", "))
                    };
                    writeln!(
                        out,
                        "  {} {} {:<8} {} -> {}  {}{provenance}",
                        &c.commit[..12.min(c.commit.len())],
                        c.date,
                        c.action,
                        c.old.as_deref().unwrap_or("(none)"),
                        c.new.as_deref().unwrap_or("(none)"),
                        c.author
                    )?;
                }
            }
        }
    }
    out.flush()?;
    Ok(Outcome::Success)
}
