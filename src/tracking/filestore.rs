//! MLflow's file store (`./mlruns`), read directly.
//!
//! Older setups and `MLFLOW_ALLOW_FILE_STORE=true` write tracking data as a tree of small text files:
//! `mlruns/<exp>/meta.yaml`, `<exp>/<run>/{meta.yaml, metrics/<key>, params/<key>, tags/<key>,
//! outputs/<m-id>/meta.yaml}`, `<exp>/models/<m-id>/meta.yaml` for MLflow 3 logged models, and the registry
//! under `mlruns/models/<name>/{meta.yaml, version-N/meta.yaml}`. Deleted experiments live in `.trash/`.
//! This backend reads that tree (never writes) and answers with the meaning of the REST API, using the file
//! store's own rules where they differ from the SQL store's: the latest metric value is the maximum by
//! (step, timestamp, value) over the metric's lines, run status is stored as an integer, and the filter
//! language runs in its [`Dialect::File`] form.
//!
//! What both local stores share lives in [`super::local`] (and the artifact listing in
//! [`super::artifacts`]); [`super::local_uri`] picks the local store a tracking URI names.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::Deserialize;

use super::filter::{Candidate, Dialect};
use super::local::{self, LATEST_ALIAS, check_filter, checked_stage, owner_artifacts};
use super::{
    ArtifactListing, ArtifactOwner, Experiment, LoggedModel, ModelVersion, Run, RunInfo, RunQuery,
    TrackingError, TrackingStore,
};

/// Folders inside an experiment that are not runs.
const RESERVED_EXPERIMENT_FOLDERS: [&str; 4] = ["tags", "datasets", "traces", "models"];

/// An `mlruns` folder, read-only.
#[derive(Debug, Clone)]
pub struct FileStore {
    root: PathBuf,
}

/// A YAML scalar MLflow wrote either as a string or (older versions) as a number.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    fn into_string(self) -> String {
        match self {
            Scalar::Text(s) => s,
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }
}

#[derive(Debug, Deserialize)]
struct ExperimentMeta {
    experiment_id: Option<Scalar>,
    name: Option<String>,
    artifact_location: Option<String>,
    lifecycle_stage: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RunMeta {
    run_id: Option<String>,
    run_uuid: Option<String>,
    run_name: Option<String>,
    experiment_id: Option<Scalar>,
    user_id: Option<String>,
    status: Option<Scalar>,
    start_time: Option<i64>,
    end_time: Option<i64>,
    artifact_uri: Option<String>,
    lifecycle_stage: Option<String>,
}

#[derive(Debug, Deserialize)]
struct OutputMeta {
    destination_id: Option<String>,
    destination_type: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LoggedModelMeta {
    model_id: Option<String>,
    name: Option<String>,
    experiment_id: Option<Scalar>,
    source_run_id: Option<String>,
    artifact_location: Option<String>,
}

#[derive(Debug, Deserialize)]
struct VersionMeta {
    name: Option<String>,
    version: Option<Scalar>,
    source: Option<String>,
    run_id: Option<String>,
    status: Option<String>,
    current_stage: Option<String>,
    storage_location: Option<String>,
}

/// MLflow's `RunStatus` enum, as the file store writes it.
fn run_status(s: Option<Scalar>) -> String {
    match s {
        None => "RUNNING".into(),
        Some(Scalar::Int(1)) => "RUNNING".into(),
        Some(Scalar::Int(2)) => "SCHEDULED".into(),
        Some(Scalar::Int(3)) => "FINISHED".into(),
        Some(Scalar::Int(4)) => "FAILED".into(),
        Some(Scalar::Int(5)) => "KILLED".into(),
        Some(other) => other.into_string(),
    }
}

impl FileStore {
    /// Opens an `mlruns` folder; it must exist.
    pub fn open(root: &Path) -> Result<Self, TrackingError> {
        if !root.is_dir() {
            return Err(TrackingError::Store {
                store: root.display().to_string(),
                message: "no such folder; point MLFLOW_TRACKING_URI at an mlruns folder (file:///PATH/mlruns)".into(),
            });
        }
        let root = std::fs::canonicalize(root).map_err(|e| TrackingError::Store {
            store: root.display().to_string(),
            message: e.to_string(),
        })?;
        Ok(Self { root })
    }

    /// The `mlruns` folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn store_err(&self, path: &Path, e: impl std::fmt::Display) -> TrackingError {
        TrackingError::Store {
            store: self.describe(),
            message: format!("{}: {e}", path.display()),
        }
    }

    fn read_yaml<T: for<'de> Deserialize<'de>>(&self, path: &Path) -> Result<T, TrackingError> {
        let text = std::fs::read_to_string(path).map_err(|e| self.store_err(path, e))?;
        serde_saphyr::from_str(&text).map_err(|e| self.store_err(path, e))
    }

    /// Experiment folders: active ones in the root, deleted ones in `.trash`.
    fn experiment_dirs(&self) -> Result<Vec<PathBuf>, TrackingError> {
        let mut out = Vec::new();
        for base in [self.root.clone(), self.root.join(".trash")] {
            let Ok(entries) = std::fs::read_dir(&base) else {
                continue;
            };
            for entry in entries {
                let entry = entry.map_err(|e| self.store_err(&base, e))?;
                let path = entry.path();
                let name = entry.file_name();
                if name == "models" || name == ".trash" || !path.join("meta.yaml").is_file() {
                    continue;
                }
                out.push(path);
            }
        }
        Ok(out)
    }

    fn experiment_at(&self, dir: &Path) -> Result<Experiment, TrackingError> {
        let meta: ExperimentMeta = self.read_yaml(&dir.join("meta.yaml"))?;
        Ok(Experiment {
            experiment_id: meta
                .experiment_id
                .map(Scalar::into_string)
                .unwrap_or_else(|| file_name(dir)),
            name: meta.name.unwrap_or_default(),
            artifact_location: meta.artifact_location.unwrap_or_default(),
            lifecycle_stage: meta.lifecycle_stage.unwrap_or_else(|| "active".into()),
        })
    }

    fn run_at(&self, dir: &Path) -> Result<Candidate, TrackingError> {
        let meta: RunMeta = self.read_yaml(&dir.join("meta.yaml"))?;
        let run_id = meta
            .run_id
            .or(meta.run_uuid)
            .unwrap_or_else(|| file_name(dir));
        let mut metrics = BTreeMap::new();
        let mut nan_metrics = Vec::new();
        for (key, path) in resource_files(&dir.join("metrics")) {
            let text = std::fs::read_to_string(&path).map_err(|e| self.store_err(&path, e))?;
            let value = latest_metric(&text).map_err(|e| self.store_err(&path, e))?;
            if value.is_nan() {
                nan_metrics.push(key.clone());
            }
            metrics.insert(key, value);
        }
        let read_all = |sub: &str| -> Result<BTreeMap<String, String>, TrackingError> {
            let mut out = BTreeMap::new();
            for (key, path) in resource_files(&dir.join(sub)) {
                out.insert(
                    key,
                    std::fs::read_to_string(&path).map_err(|e| self.store_err(&path, e))?,
                );
            }
            Ok(out)
        };
        let params = read_all("params")?;
        let tags = read_all("tags")?;
        let mut model_outputs = Vec::new();
        let outputs = dir.join("outputs");
        if let Ok(entries) = std::fs::read_dir(&outputs) {
            let mut dirs: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            dirs.sort();
            for out in dirs {
                let meta_path = out.join("meta.yaml");
                if !meta_path.is_file() {
                    continue;
                }
                let meta: OutputMeta = self.read_yaml(&meta_path)?;
                if meta.destination_type.as_deref() == Some("MODEL_OUTPUT")
                    && let Some(id) = meta.destination_id
                {
                    model_outputs.push(id);
                }
            }
        }
        Ok(Candidate {
            run: Run {
                info: RunInfo {
                    run_id,
                    run_name: meta.run_name.unwrap_or_default(),
                    experiment_id: meta
                        .experiment_id
                        .map(Scalar::into_string)
                        .unwrap_or_default(),
                    status: run_status(meta.status),
                    start_time: meta.start_time,
                    end_time: meta.end_time,
                    artifact_uri: meta.artifact_uri.unwrap_or_default(),
                    lifecycle_stage: meta.lifecycle_stage.unwrap_or_else(|| "active".into()),
                },
                metrics,
                params,
                tags,
                model_outputs,
            },
            user_id: meta.user_id,
            nan_metrics,
        })
    }

    fn run_dirs(&self, exp_dir: &Path) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(exp_dir) else {
            return Vec::new();
        };
        let mut out: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .filter(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                !RESERVED_EXPERIMENT_FOLDERS.contains(&name.as_ref())
                    && e.path().join("meta.yaml").is_file()
            })
            .map(|e| e.path())
            .collect();
        out.sort();
        out
    }

    fn find_run_dir(&self, run_id: &str) -> Result<Option<PathBuf>, TrackingError> {
        if !valid_id(run_id) {
            return Ok(None);
        }
        for exp in self.experiment_dirs()? {
            let dir = exp.join(run_id);
            if dir.join("meta.yaml").is_file() {
                return Ok(Some(dir));
            }
        }
        Ok(None)
    }

    fn registry_dir(&self) -> PathBuf {
        self.root.join("models")
    }

    fn version_at(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Option<(ModelVersion, Option<String>)>, TrackingError> {
        if !valid_name(name) || !version.chars().all(|c| c.is_ascii_digit()) || version.is_empty() {
            return Ok(None);
        }
        let model_dir = self.registry_dir().join(name);
        let path = model_dir
            .join(format!("version-{version}"))
            .join("meta.yaml");
        if !path.is_file() {
            return Ok(None);
        }
        let meta: VersionMeta = self.read_yaml(&path)?;
        let stage = meta.current_stage.unwrap_or_else(|| "None".into());
        if stage == "Deleted_Internal" {
            return Ok(None);
        }
        let version = meta
            .version
            .map(Scalar::into_string)
            .unwrap_or_else(|| version.into());
        let mut aliases: Vec<String> = self
            .aliases(name)?
            .into_iter()
            .filter(|(_, v)| *v == version)
            .map(|(a, _)| a)
            .collect();
        aliases.sort();
        Ok(Some((
            ModelVersion {
                name: meta.name.unwrap_or_else(|| name.into()),
                version,
                source: meta.source.unwrap_or_default(),
                run_id: meta.run_id.filter(|s| !s.is_empty()),
                status: meta.status.unwrap_or_else(|| "READY".into()),
                current_stage: stage,
                aliases,
            },
            meta.storage_location,
        )))
    }

    /// alias -> version of a registered model: one file per alias under `aliases/`, holding the version
    /// (the `aliases:` map in the model's meta.yaml is a copy MLflow does not read back).
    fn aliases(&self, name: &str) -> Result<BTreeMap<String, String>, TrackingError> {
        let mut out = BTreeMap::new();
        for (alias, path) in resource_files(&self.registry_dir().join(name).join("aliases")) {
            let version = std::fs::read_to_string(&path).map_err(|e| self.store_err(&path, e))?;
            out.insert(alias, version.trim().to_string());
        }
        Ok(out)
    }

    /// Every live version of a registered model, by ascending version number.
    fn all_versions(&self, name: &str) -> Result<Vec<ModelVersion>, TrackingError> {
        let dir = self.registry_dir().join(name);
        let mut numbers: Vec<u64> = std::fs::read_dir(&dir)
            .map_err(|e| self.store_err(&dir, e))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_prefix("version-")
                    .and_then(|n| n.parse::<u64>().ok())
            })
            .collect();
        numbers.sort_unstable();
        let mut out = Vec::new();
        for n in numbers {
            if let Some((mv, _)) = self.version_at(name, &n.to_string())? {
                out.push(mv);
            }
        }
        Ok(out)
    }

    fn model_exists(&self, name: &str) -> bool {
        valid_name(name) && self.registry_dir().join(name).join("meta.yaml").is_file()
    }

    fn not_found(&self, what: String) -> TrackingError {
        local::not_found(self.describe(), what)
    }
}

/// The files under a run's `metrics/`, `params/` or `tags/` folder, keyed by their path relative to it
/// (keys may hold `/`, which the file store turns into sub-folders).
fn resource_files(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.filter_map(|e| e.ok()) {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(rel) = p.strip_prefix(dir) {
                let key = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push((key, p));
            }
        }
    }
    out.sort();
    out
}

/// The latest value of a metric file: lines `<timestamp> <value> [<step>]` (or five fields with a
/// dataset, where MLflow reads the step as 0), the maximum by (step, timestamp, value) as MLflow's file
/// store computes it (Python's `max`, so a NaN value never displaces an equal step and timestamp).
fn latest_metric(text: &str) -> Result<f64, String> {
    let mut best: Option<(i64, i64, f64)> = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let parts: Vec<&str> = line.split(' ').collect();
        if ![2, 3, 5].contains(&parts.len()) {
            return Err(format!(
                "line {}: expected 2, 3 or 5 fields, found {}",
                n + 1,
                parts.len()
            ));
        }
        let ts: i64 = parts[0]
            .parse()
            .map_err(|_| format!("line {}: bad timestamp", n + 1))?;
        let value =
            parse_python_float(parts[1]).ok_or_else(|| format!("line {}: bad value", n + 1))?;
        let step: i64 = if parts.len() == 3 {
            parts[2]
                .parse()
                .map_err(|_| format!("line {}: bad step", n + 1))?
        } else {
            0
        };
        let cand = (step, ts, value);
        best = Some(match best {
            None => cand,
            Some(cur) => {
                let greater = cand.0 > cur.0
                    || (cand.0 == cur.0 && (cand.1 > cur.1 || (cand.1 == cur.1 && cand.2 > cur.2)));
                if greater { cand } else { cur }
            }
        });
    }
    best.map(|b| b.2).ok_or_else(|| "no data".to_string())
}

fn parse_python_float(s: &str) -> Option<f64> {
    s.parse::<f64>().ok()
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Run and logged-model ids are hex/uuid-like; refuse anything that could walk out of the store.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains('/') && !name.contains('\\')
}

#[async_trait]
impl TrackingStore for FileStore {
    fn describe(&self) -> String {
        format!("file://{}", self.root.display())
    }

    async fn experiment_by_name(&self, name: &str) -> Result<Option<Experiment>, TrackingError> {
        for dir in self.experiment_dirs()? {
            let exp = self.experiment_at(&dir)?;
            if exp.name == name {
                return Ok(Some(exp));
            }
        }
        Ok(None)
    }

    async fn experiment_by_id(&self, id: &str) -> Result<Option<Experiment>, TrackingError> {
        if !valid_id(id) {
            return Ok(None);
        }
        for base in [self.root.clone(), self.root.join(".trash")] {
            let dir = base.join(id);
            if dir.join("meta.yaml").is_file() {
                return Ok(Some(self.experiment_at(&dir)?));
            }
        }
        Ok(None)
    }

    async fn search_runs(&self, query: &RunQuery) -> Result<Vec<Run>, TrackingError> {
        check_filter(query)?;
        let mut candidates = Vec::new();
        for id in &query.experiment_ids {
            if !valid_id(id) {
                continue;
            }
            // A deleted experiment's folder moves to .trash with its runs still active; MLflow's file
            // store searches it there too.
            let Some(exp_dir) = [self.root.join(id), self.root.join(".trash").join(id)]
                .into_iter()
                .find(|d| d.join("meta.yaml").is_file())
            else {
                continue;
            };
            for dir in self.run_dirs(&exp_dir) {
                let cand = self.run_at(&dir)?;
                // MLflow ignores a run whose meta.yaml names another experiment.
                if &cand.run.info.experiment_id != id || cand.run.info.lifecycle_stage != "active" {
                    continue;
                }
                candidates.push(cand);
            }
        }
        local::search(candidates, query, Dialect::File)
    }

    async fn run(&self, run_id: &str) -> Result<Option<Run>, TrackingError> {
        match self.find_run_dir(run_id)? {
            Some(dir) => Ok(Some(self.run_at(&dir)?.run)),
            None => Ok(None),
        }
    }

    async fn logged_model(&self, model_id: &str) -> Result<Option<LoggedModel>, TrackingError> {
        if !valid_id(model_id) {
            return Ok(None);
        }
        for exp in self.experiment_dirs()? {
            let path = exp.join("models").join(model_id).join("meta.yaml");
            if !path.is_file() {
                continue;
            }
            let meta: LoggedModelMeta = self.read_yaml(&path)?;
            return Ok(Some(LoggedModel {
                model_id: meta.model_id.unwrap_or_else(|| model_id.into()),
                name: meta.name.unwrap_or_default(),
                experiment_id: meta
                    .experiment_id
                    .map(Scalar::into_string)
                    .unwrap_or_else(|| file_name(&exp)),
                source_run_id: meta.source_run_id.filter(|s| !s.is_empty()),
                artifact_uri: meta.artifact_location.unwrap_or_default(),
            }));
        }
        Ok(None)
    }

    async fn list_artifacts(
        &self,
        owner: ArtifactOwner<'_>,
        path: &str,
    ) -> Result<ArtifactListing, TrackingError> {
        owner_artifacts(self, owner, path).await
    }

    async fn version_by_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> Result<Option<ModelVersion>, TrackingError> {
        if !self.model_exists(name) {
            return Ok(None);
        }
        if alias.eq_ignore_ascii_case(LATEST_ALIAS) {
            return Ok(self.all_versions(name)?.into_iter().next_back());
        }
        match self.aliases(name)?.get(alias) {
            Some(v) => Ok(self.version_at(name, v)?.map(|(mv, _)| mv)),
            None => Ok(None),
        }
    }

    async fn model_version(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Option<ModelVersion>, TrackingError> {
        Ok(self.version_at(name, version.trim())?.map(|(mv, _)| mv))
    }

    async fn latest_versions(
        &self,
        name: &str,
        stage: &str,
    ) -> Result<Vec<ModelVersion>, TrackingError> {
        let stage = checked_stage(self.describe(), name, stage)?;
        if !self.model_exists(name) {
            return Err(self.not_found(format!("registered model {name:?}")));
        }
        let dir = self.registry_dir().join(name);
        let mut best: Option<(u64, ModelVersion)> = None;
        for entry in std::fs::read_dir(&dir)
            .map_err(|e| self.store_err(&dir, e))?
            .filter_map(|e| e.ok())
        {
            let fname = entry.file_name().to_string_lossy().into_owned();
            let Some(n) = fname
                .strip_prefix("version-")
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            if let Some((mv, _)) = self.version_at(name, &n.to_string())?
                && mv.current_stage == stage
                && best.as_ref().is_none_or(|(b, _)| n > *b)
            {
                best = Some((n, mv));
            }
        }
        Ok(best.map(|(_, mv)| mv).into_iter().collect())
    }

    async fn download_uri(&self, name: &str, version: &str) -> Result<String, TrackingError> {
        let Some((mv, storage)) = self.version_at(name, version.trim())? else {
            return Err(self.not_found(format!("version {version} of registered model {name:?}")));
        };
        // As MLflow: `storage_location or source`, a `runs:/` source echoed for the resolver to expand.
        Ok(storage.filter(|s| !s.is_empty()).unwrap_or(mv.source))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_metric_is_the_max_by_step_then_timestamp_then_value() {
        assert_eq!(
            latest_metric("10 0.7 0\n11 0.95 1\n12 0.8 2\n10 0.7 0\n").unwrap(),
            0.8
        );
        assert_eq!(latest_metric("75 0.6 3\n74 0.65 3\n").unwrap(), 0.6);
        assert_eq!(latest_metric("1 0.5 0\n1 0.4 0\n").unwrap(), 0.5);
        assert!(latest_metric("60 nan 0\n").unwrap().is_nan());
        assert_eq!(latest_metric("5 1.0\n").unwrap(), 1.0);
        assert!(latest_metric("5\n").is_err());
        assert!(latest_metric("").is_err());
    }
}
