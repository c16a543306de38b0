//! The plan: every configured target resolved against MLflow, turned into byte-exact edits of the
//! manifests, with a report and a unified diff. `plan` shows it, `apply` writes it, `run` commits it.
//!
//! A plan is computed completely before anything is written: every file is read, every target is
//! located in it and resolved, every file's new bytes are produced by the editor (which verifies its own
//! work). Only then may [`Plan::write`] touch the disk, and it first checks that no file changed since it
//! was read. So a target that fails to resolve, a gate that cannot be parsed or a refused edit means
//! that nothing is written at all, and the error names every target that failed and why.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::config::Config;
use crate::config::TargetConfig;
use crate::manifest::{self, Change, Edit, ModelField, Selector};
use crate::report::{Report, TargetReport, TargetStatus};
use crate::resolve::{self, Resolution, TargetRequest};
use crate::tracking::MlflowOptions;

/// What a plan needs: the repo, its configuration and where MLflow is, all resolved.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// The repo root (absolute).
    pub repo: PathBuf,
    /// The configuration: the targets, `uriRewrite`, the scheme-change rule.
    pub config: Config,
    /// The configuration file that was read, for messages.
    pub config_path: Option<PathBuf>,
    /// Where MLflow is.
    pub mlflow: MlflowOptions,
    /// How many MLflow requests at once.
    pub concurrency: usize,
}

/// What `plan` found and `apply` writes.
#[derive(Debug, Clone)]
pub struct Plan {
    /// One entry per configured target, in config order.
    pub report: Report,
    /// The files that change (only those).
    pub files: Vec<FileChange>,
}

/// One manifest's change.
#[derive(Debug, Clone, PartialEq)]
pub struct FileChange {
    /// Relative to the repo root.
    pub path: PathBuf,
    /// The bytes read.
    pub before: Vec<u8>,
    /// The bytes to write.
    pub after: Vec<u8>,
    /// The edits made.
    pub edits: Vec<Edit>,
    /// What each edit changed.
    pub changes: Vec<Change>,
}

/// Errors of a plan that a user can act on.
#[derive(Debug, thiserror::Error)]
pub(super) enum PlanError {
    /// No targets in the configuration.
    #[error("no targets configured{}: add `targets:` to modelbump.yaml (see the README, \"Configuration\")", config.as_ref().map(|p| format!(" in {}", p.display())).unwrap_or_default())]
    NoTargets {
        /// The config file read, if any.
        config: Option<PathBuf>,
    },
    /// Some targets failed; nothing is written.
    #[error("{failed} of {total} targets failed; nothing was written:\n{details}")]
    TargetsFailed {
        /// How many failed.
        failed: usize,
        /// How many there are.
        total: usize,
        /// One line per failure: the target, then why.
        details: String,
    },
    /// A file changed between the plan and the write.
    #[error("{path} changed on disk since it was read; nothing was written, run again")]
    ChangedOnDisk {
        /// The file.
        path: PathBuf,
    },
}

/// How a target is named in messages: `targets[0] (baseline-predictor in k8s/m.yaml)`.
pub(super) fn target_label(index: usize, target: &TargetConfig) -> String {
    format!(
        "targets[{index}] ({} in {})",
        target.name,
        target.file.display()
    )
}

/// Resolves every configured target and computes the edits; writes nothing.
pub async fn build(options: &PlanOptions) -> anyhow::Result<Plan> {
    let targets = &options.config.targets;
    if targets.is_empty() {
        return Err(PlanError::NoTargets {
            config: options.config_path.clone(),
        }
        .into());
    }
    // (target index, message): reported in config order.
    let mut failures: Vec<(usize, String)> = Vec::new();

    // Read and scan each file once, however many targets it holds.
    let mut files: BTreeMap<PathBuf, (Vec<u8>, Vec<ModelField>)> = BTreeMap::new();
    let mut unreadable: BTreeMap<PathBuf, String> = BTreeMap::new();
    for target in targets {
        if files.contains_key(&target.file) || unreadable.contains_key(&target.file) {
            continue;
        }
        match read_manifest(&options.repo, &target.file) {
            Ok(found) => {
                files.insert(target.file.clone(), found);
            }
            Err(e) => {
                unreadable.insert(target.file.clone(), format!("{e:#}"));
            }
        }
    }

    // Locate each target's field.
    let mut located: Vec<Option<ModelField>> = Vec::with_capacity(targets.len());
    let mut seen: BTreeMap<(PathBuf, usize), usize> = BTreeMap::new();
    for (i, target) in targets.iter().enumerate() {
        let Some((_, fields)) = files.get(&target.file) else {
            let why = unreadable.get(&target.file).cloned().unwrap_or_default();
            failures.push((i, format!("  {}: {why}", target_label(i, target))));
            located.push(None);
            continue;
        };
        let selector = Selector {
            name: target.name.clone(),
            kind: target.kind.clone(),
        };
        match manifest::select(fields, &selector) {
            Ok(field) => {
                if let Some(first) = seen.insert((target.file.clone(), field.span.start), i) {
                    failures.push((
                        i,
                        format!(
                            "  {}: the same field as targets[{first}] (line {}); keep one of them",
                            target_label(i, target),
                            field.line
                        ),
                    ));
                }
                located.push(Some(field.clone()));
            }
            Err(e) => {
                failures.push((
                    i,
                    format!(
                        "  {}: {}: {e}",
                        target_label(i, target),
                        target.file.display()
                    ),
                ));
                located.push(None);
            }
        }
    }

    // The holds in the repository: a held target is not resolved, and keeps its value.
    let holds = crate::git::Holds::load(&options.repo)?;
    let mut held: Vec<Option<crate::report::Hold>> = targets
        .iter()
        .map(|t| holds.find(&t.file, &t.name).map(|e| e.hold()))
        .collect();
    // And, under `manualChanges: hold`, a value last changed by hand.
    super::manual::hold_manual_changes(&options.repo, &options.config, &located, &mut held)?;

    // Resolve the targets that are not pinned nor held, all at once.
    let mut requests = Vec::new();
    let mut target_of: Vec<usize> = Vec::new();
    let mut request_of: Vec<Option<usize>> = vec![None; targets.len()];
    for (i, (target, field)) in targets.iter().zip(&located).enumerate() {
        if let Some(field) = field
            && !target.pinned
            && held[i].is_none()
        {
            request_of[i] = Some(requests.len());
            target_of.push(i);
            requests.push(TargetRequest {
                target: target.clone(),
                current_uri: field.value.clone(),
                allow_scheme_change: target.allows_scheme_change(&options.config),
            });
        }
    }
    let mut resolutions: Vec<Option<Resolution>> = vec![None; requests.len()];
    if !requests.is_empty() {
        let store =
            crate::tracking::open(&options.mlflow).context("cannot open the tracking store")?;
        let results = resolve::resolve_all(
            store,
            requests,
            &options.config.uri_rewrite,
            options.concurrency,
        )
        .await;
        for (r, result) in results.into_iter().enumerate() {
            match result {
                Ok(resolution) => resolutions[r] = Some(resolution),
                Err(e) => {
                    let i = target_of[r];
                    failures.push((i, format!("  {}: {e}", target_label(i, &targets[i]))));
                }
            }
        }
    }
    if !failures.is_empty() {
        failures.sort_by_key(|(i, _)| *i);
        return Err(PlanError::TargetsFailed {
            failed: failures.len(),
            total: targets.len(),
            details: failures
                .into_iter()
                .map(|(_, m)| m)
                .collect::<Vec<_>>()
                .join("\n"),
        }
        .into());
    }

    // The report, and the edits per file.
    let mut report = Report::default();
    let mut edits: BTreeMap<PathBuf, Vec<Edit>> = BTreeMap::new();
    for (i, target) in targets.iter().enumerate() {
        let field = located[i].as_ref().expect("located when nothing failed");
        let resolution = request_of[i].and_then(|r| resolutions[r].clone());
        let (status, new_uri, reason) = match &resolution {
            None if !target.pinned && held[i].is_some() => (
                TargetStatus::Held,
                field.value.clone(),
                held[i].as_ref().map(|h| format!("held: {}", h.reason)),
            ),
            None => (
                TargetStatus::Pinned,
                field.value.clone(),
                Some("pinned in the configuration".to_string()),
            ),
            Some(r) if r.blocked.is_some() => (
                TargetStatus::Blocked,
                field.value.clone(),
                r.blocked.clone(),
            ),
            Some(r) if r.uri == field.value => (TargetStatus::Unchanged, r.uri.clone(), None),
            Some(r) => (TargetStatus::Changed, r.uri.clone(), None),
        };
        if status == TargetStatus::Changed {
            edits.entry(target.file.clone()).or_default().push(Edit {
                selector: Selector {
                    name: target.name.clone(),
                    kind: target.kind.clone(),
                },
                uri: new_uri.clone(),
            });
        }
        report.targets.push(TargetReport {
            file: display_path(&target.file),
            kind: field.kind.as_str().to_string(),
            name: field.name.clone(),
            line: field.line,
            status,
            old_uri: Some(field.value.clone()),
            new_uri: Some(new_uri),
            run_id: resolution.as_ref().and_then(|r| r.run_id.clone()),
            model_version: resolution.as_ref().and_then(|r| r.model_version.clone()),
            model_id: resolution.as_ref().and_then(|r| r.model_id.clone()),
            experiment_id: resolution.as_ref().and_then(|r| r.experiment_id.clone()),
            reason,
            warnings: resolution.map(|r| r.warnings).unwrap_or_default(),
            hold: held[i].clone().filter(|_| status == TargetStatus::Held),
        });
    }

    let mut changes = Vec::new();
    for (path, file_edits) in edits {
        let (before, _) = &files[&path];
        let edited = manifest::apply(before, &file_edits)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
            .context("refusing to edit; nothing was written")?;
        if edited.bytes != *before {
            changes.push(FileChange {
                path,
                before: before.clone(),
                after: edited.bytes,
                edits: file_edits,
                changes: edited.changes,
            });
        }
    }
    Ok(Plan {
        report,
        files: changes,
    })
}

fn display_path(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

/// Reads a manifest named relative to the repo, refusing paths that leave it (also through a symlink).
fn read_manifest(repo: &Path, file: &Path) -> anyhow::Result<(Vec<u8>, Vec<ModelField>)> {
    let real = crate::fsutil::contained(repo, file)?;
    let bytes = crate::fsutil::read_regular(&real)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let fields =
        manifest::find_fields(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    Ok((bytes, fields))
}

impl Plan {
    /// True when a file changes.
    pub fn has_changes(&self) -> bool {
        !self.files.is_empty()
    }

    /// The unified diff of every changed file, `a/` and `b/` paths relative to the repo.
    pub fn diff(&self) -> String {
        let mut out = String::new();
        for file in &self.files {
            let before = String::from_utf8_lossy(&file.before);
            let after = String::from_utf8_lossy(&file.after);
            let path = display_path(&file.path);
            out.push_str(&format!("diff --git a/{path} b/{path}\n"));
            let diff = similar::TextDiff::from_lines(before.as_ref(), after.as_ref());
            out.push_str(
                &diff
                    .unified_diff()
                    .context_radius(3)
                    .header(&format!("a/{path}"), &format!("b/{path}"))
                    .to_string(),
            );
        }
        out
    }

    /// Writes every changed file atomically. Checks first that each file still holds the bytes the
    /// plan was made from, so nothing is written over a concurrent change, and that the user may write
    /// it (a read-only file is refused, not replaced); if a write fails midway, the files already
    /// written are put back.
    pub fn write(&self, repo: &Path) -> anyhow::Result<()> {
        for file in &self.files {
            let full = repo.join(&file.path);
            let current = crate::fsutil::read_regular(&full)
                .with_context(|| format!("cannot read {}", file.path.display()))?;
            if current != file.before {
                return Err(PlanError::ChangedOnDisk {
                    path: file.path.clone(),
                }
                .into());
            }
            crate::fsutil::check_writable(&full).with_context(|| {
                format!("cannot write {}; nothing was written", file.path.display())
            })?;
        }
        // A manifest named through a symlink is written where the link points (read_manifest checked
        // that this is inside the repo): replacing the link by a file would change what git tracks.
        let target = |file: &FileChange| {
            let path = repo.join(&file.path);
            path.canonicalize().unwrap_or(path)
        };
        for (n, file) in self.files.iter().enumerate() {
            if let Err(e) = crate::fsutil::write_atomic(&target(file), &file.after) {
                for done in &self.files[..n] {
                    let _ = crate::fsutil::write_atomic(&target(done), &done.before);
                }
                return Err(e).context("nothing was written (files already written were restored)");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_for(path: &str, before: &str, after: &str) -> Plan {
        Plan {
            report: Report::default(),
            files: vec![FileChange {
                path: PathBuf::from(path),
                before: before.as_bytes().to_vec(),
                after: after.as_bytes().to_vec(),
                edits: vec![],
                changes: vec![],
            }],
        }
    }

    #[test]
    fn diff_has_git_style_paths_and_only_the_changed_line() {
        let plan = plan_for(
            "k8s/m.yaml",
            "a: 1\nstorageUri: s3://old/\nb: 2\n",
            "a: 1\nstorageUri: s3://new/\nb: 2\n",
        );
        assert_eq!(
            plan.diff(),
            "diff --git a/k8s/m.yaml b/k8s/m.yaml\n--- a/k8s/m.yaml\n+++ b/k8s/m.yaml\n@@ -1,3 +1,3 @@\n a: 1\n-storageUri: s3://old/\n+storageUri: s3://new/\n b: 2\n"
        );
    }

    #[test]
    fn write_refuses_a_file_changed_since_the_plan_and_writes_nothing() {
        let repo = tempfile::tempdir().unwrap();
        std::fs::write(repo.path().join("a.yaml"), "x: old\n").unwrap();
        std::fs::write(repo.path().join("b.yaml"), "y: edited by someone\n").unwrap();
        let mut plan = plan_for("a.yaml", "x: old\n", "x: new\n");
        plan.files
            .extend(plan_for("b.yaml", "y: old\n", "y: new\n").files);
        let err = plan.write(repo.path()).unwrap_err().to_string();
        assert!(err.contains("b.yaml changed on disk"), "{err}");
        assert_eq!(
            std::fs::read_to_string(repo.path().join("a.yaml")).unwrap(),
            "x: old\n",
            "all or nothing"
        );
        std::fs::write(repo.path().join("b.yaml"), "y: old\n").unwrap();

        // A read-only file is refused before anything is written, root or not.
        use std::os::unix::fs::PermissionsExt;
        let b = repo.path().join("b.yaml");
        std::fs::set_permissions(&b, std::fs::Permissions::from_mode(0o444)).unwrap();
        let err = format!("{:#}", plan.write(repo.path()).unwrap_err());
        assert!(
            err.contains("cannot write b.yaml; nothing was written: it is read-only (mode 0444)"),
            "{err}"
        );
        assert_eq!(
            std::fs::read_to_string(repo.path().join("a.yaml")).unwrap(),
            "x: old\n",
            "all or nothing"
        );
        std::fs::set_permissions(&b, std::fs::Permissions::from_mode(0o644)).unwrap();
        plan.write(repo.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(repo.path().join("b.yaml")).unwrap(),
            "y: new\n"
        );
    }
}
