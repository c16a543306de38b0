//! `modelbump apply`: `plan`, then write the manifests in place.

use std::path::PathBuf;

use clap::Args;

use crate::cli::args::{MlflowArgs, SelectArgs};
use crate::cli::exit::Outcome;
use crate::cli::settings::Settings;
use crate::report::ReportCommand;

/// Resolve every configured target against MLflow and write the manifests in place
///
/// If any target fails to resolve, nothing is written.
///
/// Examples:
///   modelbump apply
///   modelbump apply --tracking-uri http://localhost:5000 --report report.json
///   modelbump apply --target baseline-predictor
#[derive(Debug, Clone, Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct ApplyArgs {
    /// Where MLflow is
    #[command(flatten)]
    pub mlflow: MlflowArgs,
    /// Which targets
    #[command(flatten)]
    pub select: SelectArgs,
    /// Also write the JSON report to this file [env: MODELBUMP_REPORT=]
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

/// Runs `apply`.
pub(crate) async fn run(settings: &Settings, args: ApplyArgs) -> anyhow::Result<Outcome> {
    let report_file = settings.report(args.report.clone());
    let plan = crate::cli::outputs::planned(
        settings,
        &args.select,
        &args.mlflow,
        ReportCommand::Apply,
        report_file.as_deref(),
        |options| async move { crate::ops::apply(&options).await },
    )
    .await?;
    crate::cli::render::plan_output(
        ReportCommand::Apply,
        settings.output,
        settings.color,
        crate::cli::render::Tense::Done,
        report_file.as_deref(),
        &plan.report,
        |out| match plan.files.len() {
            0 => writeln!(out, "nothing to write"),
            1 => writeln!(out, "wrote 1 file"),
            n => writeln!(out, "wrote {n} files"),
        },
    )?;
    Ok(Outcome::Success)
}
