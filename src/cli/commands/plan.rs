//! `modelbump plan`: resolve every configured target and show what would change.

use std::path::PathBuf;

use clap::Args;

use crate::cli::args::{MlflowArgs, SelectArgs};
use crate::cli::exit::Outcome;
use crate::cli::settings::Settings;
use crate::report::ReportCommand;

/// Resolve every configured target against MLflow and show what would change; writes nothing
///
/// Prints one line per target (status, file:line, name, the new URI or the reason, where it came
/// from), a summary line ("2 to change, 1 blocked"), then the diff.
///
/// Examples:
///   modelbump plan
///   modelbump plan -o json --report /tmp/plan.json
///   modelbump plan --detailed-exitcode || [ $? -eq 3 ] && echo "changes pending"
///   modelbump plan --selector variant=baseline
#[derive(Debug, Clone, Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct PlanArgs {
    /// Where MLflow is
    #[command(flatten)]
    pub mlflow: MlflowArgs,
    /// Which targets
    #[command(flatten)]
    pub select: SelectArgs,
    /// Exit 3 when changes are pending (0 when none, 1 on failure)
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Also write the JSON report to this file [env: MODELBUMP_REPORT=]
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

/// Runs `plan`.
pub(crate) async fn run(settings: &Settings, args: PlanArgs) -> anyhow::Result<Outcome> {
    let report_file = settings.report(args.report.clone());
    let plan = crate::cli::outputs::planned(
        settings,
        &args.select,
        &args.mlflow,
        ReportCommand::Plan,
        report_file.as_deref(),
        |options| async move { crate::ops::plan(&options).await },
    )
    .await?;
    crate::cli::render::plan_output(
        ReportCommand::Plan,
        settings.output,
        settings.color,
        crate::cli::render::Tense::Planned,
        report_file.as_deref(),
        &plan.report,
        |out| {
            if plan.has_changes() {
                out.write_all(b"\n")?;
                out.write_all(crate::cli::color::diff(settings.color, &plan.diff()).as_bytes())?;
            }
            Ok(())
        },
    )?;
    Ok(if args.detailed_exitcode && plan.report.has_changes() {
        Outcome::ChangesPending
    } else {
        Outcome::Success
    })
}
