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
use crate::manifest::{self, AnyChange, AnyEdit, Change, Edit, ModelField, Selector};
use crate::ops::failed::{FailureKind, TargetsFailed, TargetsUnresolved};
use crate::ops::fields::{self, FoundValue};
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
    /// `mlflow.recordDeployments`: where deployments are recorded (`run`), and read back by the
    /// `deployed.*` gates; `None` when off.
    pub record: Option<crate::resolve::RecordSettings>,
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
    /// What the edits of path and marker targets changed (one per value).
    pub field_changes: Vec<AnyChange>,
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
    /// A file changed between the plan and the write.
    #[error("{path} changed on disk since it was read; nothing was written, run again")]
    ChangedOnDisk {
        /// The file.
        path: PathBuf,
    },
}

/// How a target is named in messages: `targets[0] (baseline-predictor in k8s/m.yaml)`.
pub(super) fn target_label(index: usize, target: &TargetConfig) -> String {
    format!("targets[{index}] ({})", target.label())
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
    // (target index, message, kind): reported in config order.
    let mut failures: Vec<(usize, String, FailureKind)> = Vec::new();

    // Read and scan each file once, however many targets it holds.
    let mut files: BTreeMap<PathBuf, (Vec<u8>, Vec<ModelField>)> = BTreeMap::new();
    let mut unreadable: BTreeMap<PathBuf, String> = BTreeMap::new();
    for target in targets.iter().filter(|t| !t.file.as_os_str().is_empty()) {
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
    // Path and marker targets: their values (see `ops::fields`).
    let mut found_values: Vec<Option<Vec<FoundValue>>> = vec![None; targets.len()];
    let marked_files = if targets
        .iter()
        .any(|t| t.form() == crate::config::TargetForm::Marker)
    {
        marked_files(&options.repo, &mut files)
    } else {
        Vec::new()
    };
    for (i, target) in targets.iter().enumerate() {
        let marked_here = || {
            files.get(&target.file).is_some_and(|(bytes, _)| {
                fields::marked_in(bytes, &target.file, &target.name).is_ok_and(|m| !m.is_empty())
            })
        };
        if !fields::is_field_target(target, marked_here) {
            continue;
        }
        match locate_values(target, &files, &unreadable, &marked_files) {
            Ok(values) => found_values[i] = Some(values),
            Err(why) => failures.push((i, why, FailureKind::Target)),
        }
    }

    for (i, target) in targets.iter().enumerate() {
        if found_values[i].is_some() || failures.iter().any(|(f, _, _)| *f == i) {
            located.push(None);
            continue;
        }
        let Some((_, fields)) = files.get(&target.file) else {
            let why = unreadable.get(&target.file).cloned().unwrap_or_default();
            failures.push((i, why, FailureKind::Target));
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
                            "the same field as targets[{first}] (line {}); keep one of them",
                            field.line
                        ),
                        FailureKind::Config,
                    ));
                }
                located.push(Some(field.clone()));
            }
            Err(e) => {
                failures.push((
                    i,
                    format!("{}: {e}", target.file.display()),
                    FailureKind::Target,
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
    super::manual::hold_manual_path_changes(
        &options.repo,
        &options.config,
        &found_values,
        &mut held,
    )?;

    // Resolve the targets that are not pinned nor held, all at once.
    let mut requests = Vec::new();
    let mut target_of: Vec<usize> = Vec::new();
    let mut request_of: Vec<Option<usize>> = vec![None; targets.len()];
    for (i, (target, field)) in targets.iter().zip(&located).enumerate() {
        if let Some(values) = &found_values[i]
            && !target.pinned
        {
            if held[i].is_some() {
                continue;
            }
            match fields::current_uri(&target.value_template(), &values[0].value) {
                Ok(current) => {
                    request_of[i] = Some(requests.len());
                    target_of.push(i);
                    requests.push(TargetRequest {
                        target: target.clone(),
                        allow_scheme_change: target.allows_scheme_change(&options.config),
                        current_uri: current,
                        record: options.record.clone(),
                    });
                }
                Err(why) => failures.push((
                    i,
                    format!(
                        "{}:{}: {why}",
                        fields::normalize(&values[0].file),
                        values[0].line
                    ),
                    FailureKind::Target,
                )),
            }
            continue;
        }
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
                record: options.record.clone(),
            });
        }
    }
    let mut resolutions: Vec<Option<Resolution>> = vec![None; requests.len()];
    if !requests.is_empty() {
        let store = match crate::tracking::open(&options.mlflow) {
            Ok(store) => store,
            Err(e) => {
                let kind = FailureKind::of_tracking(&e);
                return Err(anyhow::Error::new(e).context(TargetsUnresolved { kind }));
            }
        };
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
                    failures.push((target_of[r], e.to_string(), FailureKind::of(&e)));
                }
            }
        }
    }
    failures.sort_by_key(|(i, _, _)| *i);

    // The report, and the edits per file.
    let mut report = Report::default();
    let mut edits: BTreeMap<PathBuf, Vec<Edit>> = BTreeMap::new();
    let mut field_edits: BTreeMap<PathBuf, Vec<AnyEdit>> = BTreeMap::new();
    let mut render_failures: Vec<(usize, String, FailureKind)> = Vec::new();
    for (i, target) in targets.iter().enumerate() {
        let resolution = request_of[i].and_then(|r| resolutions[r].clone());
        if let Some((_, why, _)) = failures.iter().find(|(f, _, _)| *f == i) {
            report
                .targets
                .push(failed_entry(target, located[i].as_ref(), why));
            continue;
        }
        if let Some(values) = &found_values[i] {
            match field_reports(
                target,
                values,
                resolution.as_ref(),
                held[i].as_ref(),
                &mut field_edits,
            ) {
                Ok(lines) => report.targets.extend(lines),
                Err(why) => {
                    report.targets.push(failed_entry(target, None, &why));
                    render_failures.push((i, why, FailureKind::Target));
                }
            }
            continue;
        }
        let field = located[i].as_ref().expect("located when it did not fail");
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
            registered_model: target.registered.as_ref().map(|r| r.name.clone()),
            alias: target.registered.as_ref().and_then(|r| r.alias.clone()),
            experiment: target.run.as_ref().map(|r| r.experiment.clone()),
            error: None,
        });
    }

    failures.extend(render_failures);
    if !failures.is_empty() {
        failures.sort_by_key(|(i, _, _)| *i);
        let kinds: Vec<FailureKind> = failures.iter().map(|(_, _, k)| *k).collect();
        return Err(TargetsFailed {
            failed: failures.len(),
            total: targets.len(),
            details: failures
                .iter()
                .map(|(i, why, _)| format!("  {}: {why}", target_label(*i, &targets[*i])))
                .collect::<Vec<_>>()
                .join("\n"),
            report,
            kind: TargetsFailed::kind_of(&kinds),
        }
        .into());
    }

    let mut changes = Vec::new();
    let paths: std::collections::BTreeSet<PathBuf> =
        edits.keys().chain(field_edits.keys()).cloned().collect();
    for path in paths {
        let file_edits = edits.remove(&path).unwrap_or_default();
        let more = field_edits.remove(&path).unwrap_or_default();
        let (before, _) = &files[&path];
        let refuse = |e: manifest::EditError| {
            anyhow::anyhow!("{}: {e}", fields::normalize(&path))
                .context("refusing to edit; nothing was written")
        };
        let mut after = before.clone();
        let mut known = Vec::new();
        if !file_edits.is_empty() {
            let edited = manifest::apply(before, &file_edits).map_err(refuse)?;
            after = edited.bytes;
            known = edited.changes;
        }
        let mut field_changes = Vec::new();
        if !more.is_empty() {
            let edited = manifest::apply_any(&after, &more).map_err(refuse)?;
            after = edited.bytes;
            field_changes = edited.changes;
        }
        if after != *before {
            changes.push(FileChange {
                path,
                before: before.clone(),
                after,
                edits: file_edits,
                changes: known,
                field_changes,
            });
        }
    }
    Ok(Plan {
        report,
        files: changes,
    })
}

/// The files of the repo that hold markers, read into `files` (the walk of `targets`).
fn marked_files(
    repo: &Path,
    files: &mut BTreeMap<PathBuf, (Vec<u8>, Vec<ModelField>)>,
) -> Vec<PathBuf> {
    let scan = crate::discover::scan(repo, &[]);
    let mut out = Vec::new();
    for f in scan.files.into_iter().filter(|f| !f.markers.is_empty()) {
        let path = PathBuf::from(&f.file);
        if !files.contains_key(&path)
            && let Ok(found) = read_manifest(repo, &path)
        {
            files.insert(path.clone(), found);
        }
        out.push(path);
    }
    out
}

/// The values of a path or marker target, or why there are none.
fn locate_values(
    target: &TargetConfig,
    files: &BTreeMap<PathBuf, (Vec<u8>, Vec<ModelField>)>,
    unreadable: &BTreeMap<PathBuf, String>,
    marked_files: &[PathBuf],
) -> Result<Vec<FoundValue>, String> {
    let one = |file: &PathBuf| -> Result<&Vec<u8>, String> {
        files
            .get(file)
            .map(|(bytes, _)| bytes)
            .ok_or_else(|| unreadable.get(file).cloned().unwrap_or_default())
    };
    let values = match (&target.path, target.form()) {
        (Some(path), _) => {
            vec![
                fields::at_path(one(&target.file)?, &target.file, path)
                    .map_err(|e| format!("{e:#}"))?,
            ]
        }
        (None, crate::config::TargetForm::Marker) => {
            let mut all = Vec::new();
            for file in marked_files {
                let bytes = one(file)?;
                all.extend(
                    fields::marked_in(bytes, file, &target.name).map_err(|e| format!("{e:#}"))?,
                );
            }
            if all.is_empty() {
                return Err(format!(
                    "no value in the repo is marked # {{\"$modelbump\": {:?}}}; add the marker after the value, or name the file and the path",
                    target.name
                ));
            }
            all
        }
        (None, _) => fields::marked_in(one(&target.file)?, &target.file, &target.name)
            .map_err(|e| format!("{e:#}"))?,
    };
    Ok(values)
}

/// The report lines of a path or marker target (one per value) and its edits.
fn field_reports(
    target: &TargetConfig,
    values: &[FoundValue],
    resolution: Option<&Resolution>,
    hold: Option<&crate::report::Hold>,
    edits: &mut BTreeMap<PathBuf, Vec<AnyEdit>>,
) -> Result<Vec<TargetReport>, String> {
    let template = target.value_template();
    let new_value = match resolution {
        Some(r) if r.blocked.is_none() => Some(fields::render(target, r)?),
        _ => None,
    };
    let mut lines = Vec::new();
    for value in values {
        let (status, new, reason) = match (resolution, &new_value) {
            (None, _) if !target.pinned && hold.is_some() => (
                TargetStatus::Held,
                value.value.clone(),
                hold.map(|h| format!("held: {}", h.reason)),
            ),
            (None, _) => (
                TargetStatus::Pinned,
                value.value.clone(),
                Some("pinned in the configuration".to_string()),
            ),
            (Some(r), None) => (
                TargetStatus::Blocked,
                value.value.clone(),
                r.blocked.clone(),
            ),
            (Some(_), Some(new)) if *new == value.value => {
                (TargetStatus::Unchanged, new.clone(), None)
            }
            (Some(_), Some(new)) => (TargetStatus::Changed, new.clone(), None),
        };
        if status == TargetStatus::Changed {
            let list = edits.entry(value.file.clone()).or_default();
            let edit = fields::edit(&target.name, value, &template, &new);
            if !list.contains(&edit) {
                list.push(edit);
            }
        }
        lines.push(TargetReport {
            file: display_path(&value.file),
            kind: manifest::field_kind(&value.at).to_string(),
            name: target.name.clone(),
            line: value.line,
            status,
            old_uri: Some(value.value.clone()),
            new_uri: Some(new),
            run_id: resolution.and_then(|r| r.run_id.clone()),
            model_version: resolution.and_then(|r| r.model_version.clone()),
            model_id: resolution.and_then(|r| r.model_id.clone()),
            experiment_id: resolution.and_then(|r| r.experiment_id.clone()),
            reason,
            warnings: resolution.map(|r| r.warnings.clone()).unwrap_or_default(),
            hold: hold.cloned().filter(|_| status == TargetStatus::Held),
            registered_model: target.registered.as_ref().map(|r| r.name.clone()),
            alias: target.registered.as_ref().and_then(|r| r.alias.clone()),
            experiment: target.run.as_ref().map(|r| r.experiment.clone()),
            error: None,
        });
    }
    Ok(lines)
}

/// The report entry of a target that failed: what is known of it, status `failed` and the error.
fn failed_entry(target: &TargetConfig, field: Option<&ModelField>, why: &str) -> TargetReport {
    TargetReport {
        old_uri: field.map(|f| f.value.clone()),
        registered_model: target.registered.as_ref().map(|r| r.name.clone()),
        alias: target.registered.as_ref().and_then(|r| r.alias.clone()),
        experiment: target.run.as_ref().map(|r| r.experiment.clone()),
        error: Some(why.to_string()),
        ..TargetReport::at(
            display_path(&target.file),
            field
                .map(|f| f.kind.as_str().to_string())
                .or_else(|| target.kind.clone())
                .unwrap_or_default(),
            field
                .map(|f| f.name.clone())
                .unwrap_or_else(|| target.name.clone()),
            field.map_or(0, |f| f.line),
            TargetStatus::Failed,
        )
    }
}

fn display_path(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

/// Reads a manifest named relative to the repo, refusing paths that leave it (also through a symlink).
pub(super) fn read_manifest(
    repo: &Path,
    file: &Path,
) -> anyhow::Result<(Vec<u8>, Vec<ModelField>)> {
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
                field_changes: vec![],
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
