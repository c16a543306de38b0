//! `modelbump targets`: list every model URI field in the repo.
//!
//! A listing should not die on one broken, unrelated file: a file that cannot be read is reported as a
//! warning on stderr (file, line, reason) and the rest is listed, exit 0. When PATHs are given the user
//! asked about those files specifically, so a broken one fails the command (exit 1).

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use crate::cli::OutputFormat;
use crate::cli::exit::Outcome;
use crate::cli::settings::Settings;
use crate::discover::{self, Scan};
use crate::manifest::{self, Selector};

/// List every model URI field in the repo's YAML files
///
/// Walks the repo (skipping what .gitignore ignores), finds Seldon Core v2 Model, Seldon Core v1
/// SeldonDeployment graph nodes and KServe InferenceService components, and prints file, line, kind,
/// name (in the form `set` takes) and current URI, with the configured target that points at each.
/// A file that cannot be read is a warning on stderr and the listing goes on (exit 0); a PATH given
/// explicitly that cannot be read fails the command (exit 1).
///
/// Examples:
///   modelbump targets
///   modelbump targets -o json | jq -r '.targets[].uri'
///   modelbump -C ../gitops targets k8s/base
#[derive(Debug, Clone, Args)]
#[command(verbatim_doc_comment)]
pub struct TargetsArgs {
    /// Only these files or folders, relative to the repo [default: the whole repo]
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// One row of the listing; also the JSON shape (`{"targets":[...]}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetRow {
    /// The file, relative to the repo root.
    pub file: String,
    /// 1-based line of the value.
    pub line: usize,
    /// `Model`, `SeldonDeployment` or `InferenceService`.
    pub kind: String,
    /// The name as `set` takes it.
    pub name: String,
    /// The current URI.
    pub uri: String,
    /// The configured target(s) that point at this field (their `name:` as written in the config).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

#[derive(Serialize)]
struct Listing<'a> {
    targets: &'a [TargetRow],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    unreadable: Vec<Unreadable>,
}

#[derive(Serialize)]
struct Unreadable {
    file: String,
    line: Option<usize>,
    error: String,
}

/// Runs `targets`.
pub fn run(settings: &Settings, args: TargetsArgs) -> anyhow::Result<Outcome> {
    let roots = args
        .paths
        .iter()
        .map(|p| discover::resolve_in_repo(&settings.repo, p))
        .collect::<Result<Vec<_>, _>>()?;
    let scan = discover::scan(&settings.repo, &roots);
    if !roots.is_empty() && !scan.problems.is_empty() {
        let all: Vec<String> = scan.problems.iter().map(ToString::to_string).collect();
        anyhow::bail!("{}", all.join("\n"));
    }
    for problem in &scan.problems {
        tracing::warn!("{problem}; its model URIs (if any) are not listed");
    }
    if !scan.problems.is_empty() {
        tracing::warn!(
            "the listing is incomplete: {} file(s) could not be read (see above)",
            scan.problems.len()
        );
    }
    let rows = rows(settings, &scan, roots.is_empty());
    let mut out = std::io::stdout().lock();
    match settings.output {
        OutputFormat::Json => {
            let listing = Listing {
                targets: &rows,
                unreadable: scan
                    .problems
                    .iter()
                    .map(|p| Unreadable {
                        file: p.file.clone(),
                        line: match &p.error {
                            discover::ProblemKind::Edit(e) => e.line(),
                            discover::ProblemKind::Io(_) => None,
                        },
                        error: p.to_string(),
                    })
                    .collect(),
            };
            let mut text = serde_json::to_string_pretty(&listing).context("cannot render JSON")?;
            text.push('\n');
            out.write_all(text.as_bytes())?;
        }
        OutputFormat::Text => {
            if rows.is_empty() {
                tracing::info!(
                    "no model URI fields in {} YAML file(s) under {}",
                    scan.yaml_files,
                    settings.repo.display()
                );
            } else {
                out.write_all(render_table(&rows).as_bytes())?;
            }
        }
    }
    out.flush()?;
    Ok(Outcome::Success)
}

/// The rows, sorted by file then line, with the configured targets marked.
fn rows(settings: &Settings, scan: &Scan, whole_repo: bool) -> Vec<TargetRow> {
    let mut rows: Vec<TargetRow> = scan
        .files
        .iter()
        .flat_map(|f| {
            f.fields.iter().map(|field| TargetRow {
                file: f.file.clone(),
                line: field.line,
                kind: field.kind.to_string(),
                name: field.name.clone(),
                uri: field.value.clone(),
                target: None,
            })
        })
        .collect();
    for target in &settings.config.targets {
        let file = normalize(&target.file);
        let Some(found) = scan.files.iter().find(|f| f.file == file) else {
            if whole_repo {
                tracing::warn!(
                    "configured target {} ({file}) points at no model URI field: the file has none or was not found",
                    target.name
                );
            }
            continue;
        };
        let selector = Selector {
            name: target.name.clone(),
            kind: target.kind.clone(),
        };
        match manifest::select(&found.fields, &selector) {
            Ok(field) => {
                let label = if target.pinned {
                    format!("{} (pinned)", target.name)
                } else {
                    target.name.clone()
                };
                if let Some(row) = rows
                    .iter_mut()
                    .find(|r| r.file == file && r.line == field.line && r.name == field.name)
                {
                    row.target = Some(match row.target.take() {
                        Some(existing) => format!("{existing}, {label}"),
                        None => label,
                    });
                }
            }
            Err(e) => tracing::warn!("configured target {} ({file}): {e}", target.name),
        }
    }
    rows.sort_by(|a, b| a.file.cmp(&b.file).then(a.line.cmp(&b.line)));
    rows
}

/// A config `file:` as `targets` prints files: relative, `/`-separated, without `./`.
fn normalize(path: &Path) -> String {
    path.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// An aligned table: FILE:LINE, KIND, NAME, URI, TARGET.
pub fn render_table(rows: &[TargetRow]) -> String {
    let header = ["FILE:LINE", "KIND", "NAME", "URI", "TARGET"];
    let cells: Vec<[String; 5]> = rows
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
    let mut line = |cols: [&str; 5]| {
        let mut text = String::new();
        for (i, (cell, w)) in cols.iter().zip(widths).enumerate() {
            text.push_str(cell);
            if i + 1 < cols.len() {
                text.push_str(&" ".repeat(w - cell.chars().count() + 2));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header);
    for row in &cells {
        line([&row[0], &row[1], &row[2], &row[3], &row[4]]);
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

    #[test]
    fn config_paths_are_normalized() {
        assert_eq!(normalize(Path::new("./k8s/base/x.yaml")), "k8s/base/x.yaml");
    }
}
