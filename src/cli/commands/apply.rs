//! `modelbump apply`: `plan`, then write the manifests in place.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::cli::OutputFormat;
use crate::cli::args::MlflowArgs;
use crate::cli::exit::Outcome;
use crate::cli::settings::Settings;

/// Resolve every configured target against MLflow and write the manifests in place
///
/// If any target fails to resolve, nothing is written.
///
/// Examples:
///   modelbump apply
///   modelbump apply --tracking-uri http://localhost:5000 --report report.json
#[derive(Debug, Clone, Args)]
pub(crate) struct ApplyArgs {
    /// Where MLflow is
    #[command(flatten)]
    pub mlflow: MlflowArgs,
    /// Also write the JSON report to this file [env: MODELBUMP_REPORT=]
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

/// Runs `apply`.
pub(crate) async fn run(settings: &Settings, args: ApplyArgs) -> anyhow::Result<Outcome> {
    let plan = crate::ops::apply(&settings.plan(&args.mlflow)?).await?;
    if let Some(path) = settings.report(args.report) {
        crate::report::write_file(&path, &plan.report)?;
    }
    let mut out = std::io::stdout().lock();
    match settings.output {
        OutputFormat::Json => out.write_all(plan.report.to_json().as_bytes())?,
        OutputFormat::Text => {
            out.write_all(crate::cli::render::table(&plan.report).as_bytes())?;
            let n = plan.files.len();
            writeln!(
                out,
                "{}",
                match n {
                    0 => "nothing to write".to_string(),
                    1 => "wrote 1 file".to_string(),
                    n => format!("wrote {n} files"),
                }
            )?;
        }
    }
    out.flush()?;
    Ok(Outcome::Success)
}
