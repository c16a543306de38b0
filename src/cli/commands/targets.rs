//! `modelbump targets`: list every model URI field in the repo ([`crate::ops::targets`]).
//!
//! A file that cannot be read is a warning on stderr (file, line, reason) and the rest is listed, exit 0.
//! When PATHs are given the user asked about those files specifically, so a broken one fails (exit 1).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::cli::OutputFormat;
use crate::cli::exit::Outcome;
use crate::cli::settings::Settings;
use crate::ops::{TargetRow, TargetsOptions};

/// List every model URI field in the repo's YAML files
///
/// Walks the repo (skipping what .gitignore ignores), finds Seldon Core v2 Model, Seldon Core v1
/// SeldonDeployment graph nodes and KServe InferenceService components, and prints file, line, kind,
/// name (in the form `set` takes) and current URI, with the configured target that points at each.
/// Values marked `# {"$modelbump": "NAME"}` are listed as kind `marker` and configured path targets as
/// kind `path`, both by that NAME and with their YAML path (a PATH column; `path` in JSON).
/// A file that cannot be read is a warning on stderr and the listing goes on (exit 0); a PATH given
/// explicitly that cannot be read fails the command (exit 1).
///
/// Examples:
///   modelbump targets
///   modelbump targets -o json | jq -r '.targets[].uri'
///   modelbump -C ../gitops targets k8s/base
#[derive(Debug, Clone, Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct TargetsArgs {
    /// Only these files or folders, relative to the repo [default: the whole repo]
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// Runs `targets`.
pub(crate) fn run(settings: &Settings, args: TargetsArgs) -> anyhow::Result<Outcome> {
    let listing = crate::ops::targets(&TargetsOptions {
        repo: settings.repo.clone(),
        targets: settings.config.targets.clone(),
        paths: args.paths,
    })?;
    let mut out = std::io::stdout().lock();
    match settings.output {
        OutputFormat::Json => {
            let mut text = serde_json::to_string_pretty(&listing).context("cannot render JSON")?;
            text.push('\n');
            out.write_all(text.as_bytes())?;
        }
        OutputFormat::Text => {
            if listing.targets.is_empty() {
                tracing::info!(
                    "no model URI fields in {} YAML file(s) under {}",
                    listing.yaml_files,
                    settings.repo.display()
                );
            } else {
                out.write_all(render_table(&listing.targets).as_bytes())?;
            }
        }
    }
    out.flush()?;
    Ok(Outcome::Success)
}

/// An aligned table: FILE:LINE, KIND, NAME, URI, TARGET.
pub(crate) fn render_table(rows: &[TargetRow]) -> String {
    let header = ["FILE:LINE", "KIND", "NAME", "URI", "TARGET", "PATH"];
    // The PATH column only where a marked value or a path target is listed.
    let with_path = rows.iter().any(|r| r.path.is_some());
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                format!("{}:{}", r.file, r.line),
                r.kind.clone(),
                r.name.clone(),
                // A value that holds a line break (a block scalar that keeps one) is shown escaped.
                if r.uri.contains(char::is_control) {
                    format!("{:?}", r.uri)
                } else {
                    r.uri.clone()
                },
                r.target.clone().unwrap_or_else(|| "-".into()),
                r.path.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let columns = if with_path { 6 } else { 5 };
    let mut line = |cols: [&str; 6]| {
        let mut text = String::new();
        for (i, (cell, w)) in cols.iter().zip(widths).take(columns).enumerate() {
            text.push_str(cell);
            if i + 1 < columns {
                text.push_str(&" ".repeat(w - cell.chars().count() + 2));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header);
    for row in &cells {
        line([&row[0], &row[1], &row[2], &row[3], &row[4], &row[5]]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_aligned() {
        let row = |file: &str, name: &str, target: Option<&str>| TargetRow {
            file: file.into(),
            line: 12,
            kind: "Model".into(),
            name: name.into(),
            uri: "s3://b/é".into(),
            target: target.map(str::to_string),
            path: None,
        };
        let table = render_table(&[
            row("k8s/a.yaml", "baseline", Some("baseline")),
            row("b.yaml", "x", None),
        ]);
        assert_eq!(
            table,
            "FILE:LINE      KIND   NAME      URI       TARGET\n\
             k8s/a.yaml:12  Model  baseline  s3://b/é  baseline\n\
             b.yaml:12      Model  x         s3://b/é  -\n"
        );
    }
}
