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
/// `modelbump targets` to see the names); or the name of values marked `# {"$modelbump": "NAME"}` in
/// FILE, or of a path target configured for FILE (its `template` shapes the value). Exit 0 whether or not the value changed, 1 on any refusal.
///
/// Examples:
///   modelbump set k8s/base/financial-predictor-ab-test.yaml baseline-predictor \
///       s3://mlflow-artifacts/29/models/m-63118756949141cba59ab87e90e8a96a/artifacts/
///   modelbump set k8s/sdep.yaml iris/classifier gs://models/iris/v3
///   modelbump set k8s/churn.yaml churn s3://models/churn/v4 --kind InferenceService
///   modelbump set charts/llm/values.yaml llm-model s3://models/llm/v7
///   modelbump set k8s/models.yaml fraud s3://models/fraud/v2 --kind marker
#[derive(Debug, Clone, Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct SetArgs {
    /// The manifest, relative to the repo
    pub file: PathBuf,
    /// metadata.name, or NAME/COMPONENT (a SeldonDeployment graph node or a KServe component)
    pub name: String,
    /// The new storage URI
    pub uri: String,
    /// The resource kind, where the name alone is ambiguous (Model, SeldonDeployment, InferenceService),
    /// or `marker` or `path` for a marked value or a path target of the same name
    #[arg(long)]
    pub kind: Option<String>,
}

/// Runs `set`.
pub(crate) fn run(settings: &Settings, args: SetArgs) -> anyhow::Result<Outcome> {
    // FILE is relative to the folder it was typed in.
    let file = settings.path_arg(args.file);
    if let Some(done) = crate::ops::set_field(
        &settings.repo,
        &file,
        &args.name,
        &args.uri,
        &settings.config.targets,
        args.kind.as_deref(),
    )? {
        return print_field(settings, done);
    }
    let done = crate::ops::set(&SetOptions {
        repo: settings.repo.clone(),
        file,
        edit: Edit {
            selector: Selector {
                name: args.name,
                kind: args.kind,
            },
            uri: args.uri,
        },
    })?;
    // One value of a known kind: printed as a marked value or a path target's value is.
    let change = done.change;
    print_field(
        settings,
        crate::ops::FieldSetOutcome {
            file: done.file,
            kind: change.field.kind.to_string(),
            name: change.field.name,
            values: vec![(change.field.line, change.old, change.new)],
        },
    )
}

/// Prints what `set` did: one line (report entry) per value.
fn print_field(settings: &Settings, done: crate::ops::FieldSetOutcome) -> anyhow::Result<Outcome> {
    let mut out = std::io::stdout().lock();
    let status = |old: &str, new: &str| {
        if old == new {
            TargetStatus::Unchanged
        } else {
            TargetStatus::Changed
        }
    };
    match settings.output {
        OutputFormat::Json => {
            let report = Report {
                targets: done
                    .values
                    .iter()
                    .map(|(line, old, new)| TargetReport {
                        old_uri: Some(old.clone()),
                        new_uri: Some(new.clone()),
                        ..TargetReport::at(
                            done.file.clone(),
                            done.kind.clone(),
                            done.name.clone(),
                            *line,
                            status(old, new),
                        )
                    })
                    .collect(),
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
            for (line, old, new) in &done.values {
                let what = match status(old, new) {
                    TargetStatus::Changed => format!("{old} -> {new}"),
                    _ => format!("unchanged ({old})"),
                };
                writeln!(out, "{}:{line} {}: {what}", done.file, done.name)?;
            }
        }
    }
    out.flush()?;
    Ok(Outcome::Success)
}
