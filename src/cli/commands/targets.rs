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
        paths: args
            .paths
            .into_iter()
            .map(|p| settings.path_arg(p))
            .collect(),
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

/// The widest a cell of the text table gets: a longer value (a stray 120 KB string in some YAML file) is
/// elided in the middle, so that it neither pads every other row nor hides where it ends. `-o json` has
/// the full values.
const MAX_CELL: usize = 100;

/// `text`, or its start and end around a `…` when it is longer than [`MAX_CELL`] characters.
fn elide(text: String) -> String {
    let n = text.chars().count();
    if n <= MAX_CELL {
        return text;
    }
    let keep = MAX_CELL - 1;
    let head: String = text.chars().take(keep / 2).collect();
    let tail: String = text.chars().skip(n - (keep - keep / 2)).collect();
    format!("{head}…{tail}")
}

/// An aligned table: FILE:LINE, KIND, NAME, URI, TARGET, each cell at most [`MAX_CELL`] characters.
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
            .map(elide)
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
    fn a_huge_value_is_elided_and_pads_nothing() {
        let row = |name: &str, uri: String| TargetRow {
            file: "a.yaml".into(),
            line: 1,
            kind: "Model".into(),
            name: name.into(),
            uri,
            target: None,
            path: None,
        };
        let huge = format!("s3://b/{}/end", "x".repeat(120_000));
        let table = render_table(&[row("big", huge), row("small", "s3://b/m/".into())]);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines.iter().all(|l| l.chars().count() < 200), "{table}");
        assert!(
            lines[1].contains("s3://b/xxx") && lines[1].contains("…") && lines[1].contains("x/end")
        );
        assert_eq!(lines[1].find("s3://"), lines[2].find("s3://"));
    }

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
