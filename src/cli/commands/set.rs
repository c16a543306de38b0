//! `modelbump set FILE NAME URI`: set one model's URI by name, without MLflow ([`crate::ops::set`]).

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::cli::OutputFormat;
use crate::cli::exit::Outcome;
use crate::cli::settings::Settings;
use crate::manifest::{Edit, Selector};
use crate::ops::SetOptions;
use crate::report::{Report, TargetReport, TargetStatus};

/// Set one model's URI by resource name, no MLflow involved
///
/// For manual pins, rollbacks and scripts. Only the bytes of the value change (quotes, comments and
/// line breaks stay); the edit is verified by re-parsing and written atomically, and only when the
/// bytes differ. NAME is metadata.name, or NAME/COMPONENT where a resource holds several URIs (run
/// `modelbump targets` to see the names). Exit 0 whether or not the value changed, 1 on any refusal.
///
/// Examples:
///   modelbump set k8s/base/financial-predictor-ab-test.yaml baseline-predictor \
///       s3://mlflow-artifacts/29/models/m-63118756949141cba59ab87e90e8a96a/artifacts/
///   modelbump set k8s/sdep.yaml iris/classifier gs://models/iris/v3
///   modelbump set k8s/churn.yaml churn s3://models/churn/v4 --kind InferenceService
#[derive(Debug, Clone, Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct SetArgs {
    /// The manifest, relative to the repo
    pub file: PathBuf,
    /// metadata.name, or NAME/COMPONENT (a SeldonDeployment graph node or a KServe component)
    pub name: String,
    /// The new storage URI
    pub uri: String,
    /// The resource kind, where the name alone is ambiguous (Model, SeldonDeployment, InferenceService)
    #[arg(long)]
    pub kind: Option<String>,
}

/// Runs `set`.
pub(crate) fn run(settings: &Settings, args: SetArgs) -> anyhow::Result<Outcome> {
    let done = crate::ops::set(&SetOptions {
        repo: settings.repo.clone(),
        file: args.file,
        edit: Edit {
            selector: Selector {
                name: args.name,
                kind: args.kind,
            },
            uri: args.uri,
        },
    })?;
    let (file, change, status) = (done.file, done.change, done.status);
    let mut out = std::io::stdout().lock();
    match settings.output {
        OutputFormat::Json => {
            let report = Report {
                targets: vec![TargetReport {
                    old_uri: Some(change.old.clone()),
                    new_uri: Some(change.new.clone()),
                    ..TargetReport::at(
                        file.clone(),
                        change.field.kind.to_string(),
                        change.field.name.clone(),
                        change.field.line,
                        status,
                    )
                }],
                ..Report::default()
            };
            out.write_all(
                report
                    .document(crate::report::ReportCommand::Set, None)
                    .to_json()
                    .as_bytes(),
            )?;
        }
        OutputFormat::Text => {
            let what = match status {
                TargetStatus::Changed => format!("{} -> {}", change.old, change.new),
                _ => format!("unchanged ({})", change.old),
            };
            writeln!(
                out,
                "{file}:{} {}: {what}",
                change.field.line, change.field.name
            )?;
        }
    }
    out.flush()?;
    Ok(Outcome::Success)
}
