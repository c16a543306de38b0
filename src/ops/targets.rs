//! `targets`: list every model URI field in the repo.
//!
//! A listing should not die on one broken, unrelated file: a file that cannot be read is reported as a
//! warning in the log (file, line, reason) and in the listing, and the rest is listed. When paths are
//! given the user asked about those files specifically, so a broken one fails.

use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use crate::config::TargetConfig;
use crate::discover::{self, Scan};
use crate::manifest::{self, Selector};

/// The input of `targets`.
#[derive(Debug, Clone)]
pub struct TargetsOptions {
    /// The repo folder (absolute).
    pub repo: PathBuf,
    /// The configured targets, to mark the rows they point at.
    pub targets: Vec<TargetConfig>,
    /// Only these files or folders, relative to the repo; empty is the whole repo.
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
    /// The YAML path of a marked value or a path target's value (`kind` `marker` or `path`; `name` is
    /// then the marker's or the target's name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// The listing; also the JSON shape.
#[derive(Debug, Clone, Serialize)]
pub struct Listing {
    /// The rows, sorted by file then line.
    pub targets: Vec<TargetRow>,
    /// The files that could not be read (only when the whole repo or a folder was listed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<Unreadable>,
    /// How many YAML files were read.
    #[serde(skip)]
    pub yaml_files: usize,
}

/// A file that could not be read.
#[derive(Debug, Clone, Serialize)]
pub struct Unreadable {
    /// The file.
    pub file: String,
    /// The line, when the problem has one.
    pub line: Option<usize>,
    /// What went wrong.
    pub error: String,
}

/// Lists the model URI fields.
pub fn targets(options: &TargetsOptions) -> anyhow::Result<Listing> {
    let roots = options
        .paths
        .iter()
        .map(|p| discover::resolve_in_repo(&options.repo, p))
        .collect::<Result<Vec<_>, _>>()?;
    let scan = discover::scan(&options.repo, &roots);
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
    Ok(Listing {
        targets: rows(&options.targets, &scan, &options.repo, &roots),
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
        yaml_files: scan.yaml_files,
    })
}

/// The rows, sorted by file then line, with the configured targets marked.
fn rows(targets: &[TargetConfig], scan: &Scan, repo: &Path, roots: &[PathBuf]) -> Vec<TargetRow> {
    let whole_repo = roots.is_empty();
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
                path: None,
            })
        })
        .collect();
    rows.extend(super::fields::listing_rows(targets, scan, repo, roots));
    for target in targets
        .iter()
        .filter(|t| t.form() == crate::config::TargetForm::Named)
    {
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
        if found.markers.iter().any(|m| m.target == target.name) {
            // The file marks values with this name: the target is those, listed as markers.
            continue;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_paths_are_normalized() {
        assert_eq!(normalize(Path::new("./k8s/base/x.yaml")), "k8s/base/x.yaml");
    }
}
