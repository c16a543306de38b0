//! `modelbump set FILE NAME URI`: set one model's URI by name, without MLflow.
//!
//! The file is resolved inside the repo (a path that leaves it, also through a symlink, is refused),
//! read only if it is a regular file, edited by the pure editor and written atomically only when its
//! bytes change, and only if the user may write it (see [`crate::fsutil`]). Errors name the file and
//! the line: `error: k8s/x.yaml: line 12: ...`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::cli::OutputFormat;
use crate::cli::exit::Outcome;
use crate::cli::settings::Settings;
use crate::discover;
use crate::fsutil;
use crate::manifest::{self, Edit, Selector};
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
pub struct SetArgs {
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
pub fn run(settings: &Settings, args: SetArgs) -> anyhow::Result<Outcome> {
    let path = discover::resolve_in_repo(&settings.repo, &args.file)?;
    let file = discover::display_path(&settings.repo, &path);
    let bytes = fsutil::read_regular(&path).with_context(|| format!("cannot read {file}"))?;
    let edit = Edit {
        selector: Selector {
            name: args.name.clone(),
            kind: args.kind.clone(),
        },
        uri: args.uri.clone(),
    };
    let edited = manifest::apply(&bytes, &[edit]).map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
    let change = edited
        .changes
        .into_iter()
        .next()
        .context("the editor reported no change")?;
    if edited.bytes != bytes {
        fsutil::check_writable(&path).with_context(|| format!("cannot write {file}"))?;
        fsutil::write_atomic(&path, &edited.bytes)?;
    }
    let status = if change.old == change.new {
        TargetStatus::Unchanged
    } else {
        TargetStatus::Changed
    };
    let mut out = std::io::stdout().lock();
    match settings.output {
        OutputFormat::Json => {
            let report = Report {
                targets: vec![TargetReport {
                    file: file.clone(),
                    kind: change.field.kind.to_string(),
                    name: change.field.name.clone(),
                    line: change.field.line,
                    status,
                    old_uri: Some(change.old.clone()),
                    new_uri: Some(change.new.clone()),
                    run_id: None,
                    model_version: None,
                    model_id: None,
                    experiment_id: None,
                    reason: None,
                    warnings: Vec::new(),
                }],
                ..Report::default()
            };
            out.write_all(report.to_json().as_bytes())?;
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
