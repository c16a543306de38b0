//! The tracking store: where runs, logged models and registered model versions come from.
//!
//! One trait, [`TrackingStore`], with three backends: the MLflow REST API ([`rest`], `http(s)://`), MLflow's
//! SQL store read directly ([`sqlite`], `sqlite:///path`, and `mlflow.db` by default, as MLflow does), and
//! the file store ([`filestore`], `file:` or a path to `mlruns`). The selection logic (newest FINISHED run,
//! best by metric, alias, gates) lives in [`crate::resolve`] and is written once against the trait, so the
//! backends agree by construction on everything but the storage access; [`filter`] is MLflow's search
//! filter language for the local backends. [`local_uri`] picks the local backend a URI names, and
//! [`artifacts`] lists local artifact roots for both local backends, so the backends never import each
//! other. [`record`] is the one write access to MLflow (tags and aliases that record a deployment,
//! `mlflow.recordDeployments`), a port of its own so that the resolver's store stays read-only.

mod artifacts;
pub mod filestore;
pub(crate) mod filter;
mod local;
mod local_uri;
pub(crate) mod record;
pub mod rest;
pub mod sqlite;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::env::Env;

/// Where MLflow is, resolved by the caller (flag > environment > config > default).
#[derive(Debug, Clone, Default)]
pub struct MlflowOptions {
    /// The tracking URI; `None` looks for MLflow's default stores.
    pub tracking_uri: Option<String>,
    /// Where registry questions go, when another store than the tracking one (`MLFLOW_REGISTRY_URI`).
    pub registry_uri: Option<String>,
    /// The folder relative paths and the default stores are looked up from first (the current folder).
    pub cwd: PathBuf,
    /// The repo root: where the default stores are looked for when `cwd` has none.
    pub repo: PathBuf,
    /// The environment snapshot, for the credentials MLflow's own client reads
    /// (`MLFLOW_TRACKING_USERNAME`..., `~/.mlflow/credentials` under `HOME`).
    pub env: Env,
}

/// Opens the tracking store the options point at: `http(s)://` is the REST API; `sqlite:///`, `file:` and
/// plain paths are the local stores (relative paths from `cwd`, as MLflow resolves them).
/// With no URI set, MLflow 3's default: `./mlruns` when it holds experiments, else `./mlflow.db`, looked
/// for in `cwd`, then at the repo root. Where a registry URI names another store, registry questions go
/// there, as in MLflow's client.
pub(crate) fn open(options: &MlflowOptions) -> Result<Arc<dyn TrackingStore>, TrackingError> {
    let uri = options.tracking_uri.as_deref();
    let tracking = open_uri(uri, options)?;
    match options.registry_uri.as_deref().map(str::trim) {
        Some(registry) if !registry.is_empty() && Some(registry) != uri => {
            Ok(Arc::new(SplitStore {
                tracking,
                registry: open_uri(Some(registry), options)?,
            }))
        }
        _ => Ok(tracking),
    }
}

fn open_uri(
    uri: Option<&str>,
    options: &MlflowOptions,
) -> Result<Arc<dyn TrackingStore>, TrackingError> {
    let scheme = uri
        .and_then(|u| u.split_once("://"))
        .map(|(s, _)| s.to_ascii_lowercase());
    if let (Some(uri), Some("http" | "https")) = (uri, scheme.as_deref()) {
        let conn = rest::Connection::from_parts(uri, &options.env)?;
        return Ok(Arc::new(rest::RestStore::new(conn)?));
    }
    let base = if uri.is_none() && !local_uri::has_default_store(&options.cwd) {
        options.repo.clone()
    } else {
        options.cwd.clone()
    };
    match local_uri::open_local(uri, &base) {
        Some(opened) => opened.map(Arc::from),
        None => Err(TrackingError::Config(format!(
            "tracking URI {} is not one modelbump can open",
            crate::secret::redact_url(uri.unwrap_or_default())
        ))),
    }
}

/// Runs and logged models from one store, registered models from another (`MLFLOW_REGISTRY_URI`).
struct SplitStore {
    tracking: Arc<dyn TrackingStore>,
    registry: Arc<dyn TrackingStore>,
}

#[async_trait]
impl TrackingStore for SplitStore {
    fn describe(&self) -> String {
        format!(
            "{} (registry {})",
            self.tracking.describe(),
            self.registry.describe()
        )
    }
    async fn experiment_by_name(&self, name: &str) -> Result<Option<Experiment>, TrackingError> {
        self.tracking.experiment_by_name(name).await
    }
    async fn experiment_by_id(&self, id: &str) -> Result<Option<Experiment>, TrackingError> {
        self.tracking.experiment_by_id(id).await
    }
    async fn search_runs(&self, query: &RunQuery) -> Result<Vec<Run>, TrackingError> {
        self.tracking.search_runs(query).await
    }
    async fn run(&self, run_id: &str) -> Result<Option<Run>, TrackingError> {
        self.tracking.run(run_id).await
    }
    async fn logged_model(&self, model_id: &str) -> Result<Option<LoggedModel>, TrackingError> {
        self.tracking.logged_model(model_id).await
    }
    async fn list_artifacts(
        &self,
        owner: ArtifactOwner<'_>,
        path: &str,
    ) -> Result<ArtifactListing, TrackingError> {
        self.tracking.list_artifacts(owner, path).await
    }
    async fn version_by_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> Result<Option<ModelVersion>, TrackingError> {
        self.registry.version_by_alias(name, alias).await
    }
    async fn model_version(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Option<ModelVersion>, TrackingError> {
        self.registry.model_version(name, version).await
    }
    async fn latest_versions(
        &self,
        name: &str,
        stage: &str,
    ) -> Result<Vec<ModelVersion>, TrackingError> {
        self.registry.latest_versions(name, stage).await
    }
    async fn download_uri(&self, name: &str, version: &str) -> Result<String, TrackingError> {
        self.registry.download_uri(name, version).await
    }
    async fn experiment_names(&self) -> Result<Option<Vec<String>>, TrackingError> {
        self.tracking.experiment_names().await
    }
    async fn registered_model_names(&self) -> Result<Option<Vec<String>>, TrackingError> {
        self.registry.registered_model_names().await
    }
    async fn model_aliases(
        &self,
        name: &str,
    ) -> Result<Option<Vec<(String, String)>>, TrackingError> {
        self.registry.model_aliases(name).await
    }
}

/// An MLflow experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    /// The id, a string in MLflow 2 and 3 (`"1"`).
    pub experiment_id: String,
    /// The name.
    pub name: String,
    /// Root of the artifacts of its runs and logged models.
    #[serde(default)]
    pub artifact_location: String,
    /// `active` or `deleted`.
    #[serde(default)]
    pub lifecycle_stage: String,
}

/// A run's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// The run id.
    pub run_id: String,
    /// The run's name, if any.
    #[serde(default)]
    pub run_name: String,
    /// The experiment it belongs to.
    pub experiment_id: String,
    /// `RUNNING`, `SCHEDULED`, `FINISHED`, `FAILED` or `KILLED`.
    pub status: String,
    /// Milliseconds since the epoch.
    #[serde(default)]
    pub start_time: Option<i64>,
    /// Milliseconds since the epoch.
    #[serde(default)]
    pub end_time: Option<i64>,
    /// Where the run's artifacts are.
    #[serde(default)]
    pub artifact_uri: String,
    /// `active` or `deleted`.
    #[serde(default)]
    pub lifecycle_stage: String,
}

/// A run, with the latest value of each metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Metadata.
    pub info: RunInfo,
    /// The latest value of each metric.
    pub metrics: BTreeMap<String, f64>,
    /// Parameters.
    pub params: BTreeMap<String, String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// The ids of the MLflow 3 logged models this run produced (`outputs.model_outputs`).
    pub model_outputs: Vec<String>,
}

/// An MLflow 3 logged model (`models/m-<uuid>`).
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedModel {
    /// `m-<uuid>`.
    pub model_id: String,
    /// The name given at `log_model` time (the artifact path of MLflow 2).
    pub name: String,
    /// The experiment.
    pub experiment_id: String,
    /// The run that produced it, if any.
    pub source_run_id: Option<String>,
    /// Where its files (`MLmodel`, ...) are.
    pub artifact_uri: String,
}

/// A registered model version.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelVersion {
    /// The registered model's name.
    pub name: String,
    /// The version number, as MLflow writes it (a string).
    pub version: String,
    /// Where it came from: `models:/m-<id>`, `runs:/<run>/<path>` or a storage URI.
    pub source: String,
    /// The run that produced it, if known.
    pub run_id: Option<String>,
    /// `READY`, `PENDING_REGISTRATION` or `FAILED_REGISTRATION`.
    pub status: String,
    /// The deprecated stage (`None`, `Staging`, `Production`, `Archived`).
    pub current_stage: String,
    /// Aliases pointing at this version.
    pub aliases: Vec<String>,
}

/// A file or folder in an artifact listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactEntry {
    /// Path relative to the listed root.
    pub path: String,
    /// A folder.
    pub is_dir: bool,
}

/// What a listing of an artifact location found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactListing {
    /// The store listed the location.
    Listed(Vec<ArtifactEntry>),
    /// The store cannot list that location (e.g. an S3 root the server has no access to); the message says
    /// why. Callers report this as a warning: the model may exist, but nobody checked.
    Unavailable(String),
}

/// A query for runs: the experiments, an MLflow filter and an order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RunQuery {
    /// Experiment ids.
    pub experiment_ids: Vec<String>,
    /// The whole filter, status condition included.
    pub filter: String,
    /// Order clauses, e.g. `attributes.start_time DESC`.
    pub order_by: Vec<String>,
    /// How many runs at most.
    pub max_results: usize,
}

/// Errors of any backend. Each names the server or store, and the object that was asked for.
///
/// `Clone` because the resolver asks each distinct question once and hands the same answer, error
/// included, to every target that asked it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TrackingError {
    /// The object does not exist (HTTP 404 `RESOURCE_DOES_NOT_EXIST`, or not in the local store).
    #[error("{what} not found in {store}{}", detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    NotFound {
        /// The store (a redacted URL or path).
        store: String,
        /// What was asked for, e.g. `experiment "churn"`.
        what: String,
        /// The server's message.
        detail: Option<String>,
    },
    /// The request was refused as invalid (HTTP 400), e.g. a bad filter or a missing alias.
    #[error("{store} refused {what}: {message}")]
    Invalid {
        /// The store.
        store: String,
        /// What was asked.
        what: String,
        /// The server's message.
        message: String,
    },
    /// Credentials missing or wrong (HTTP 401/403).
    #[error(
        "{store} answered {status} for {what}: {message}; check MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN"
    )]
    Unauthorized {
        /// The store.
        store: String,
        /// HTTP status.
        status: u16,
        /// What was asked.
        what: String,
        /// A short excerpt of the body.
        message: String,
    },
    /// Any other HTTP error, after retries where they apply.
    #[error("{store} answered HTTP {status} for {what}: {message}")]
    Http {
        /// The store.
        store: String,
        /// HTTP status.
        status: u16,
        /// What was asked.
        what: String,
        /// A short excerpt of the body (it may be HTML).
        message: String,
    },
    /// The server could not be reached, or did not answer in time, after retries.
    #[error("cannot reach {store} for {what}: {message}")]
    Unreachable {
        /// The store.
        store: String,
        /// What was asked.
        what: String,
        /// Why.
        message: String,
    },
    /// The answer was not what MLflow sends (truncated JSON, missing fields).
    #[error("unexpected answer from {store} for {what}: {message}")]
    Protocol {
        /// The store.
        store: String,
        /// What was asked.
        what: String,
        /// Why.
        message: String,
    },
    /// A local store could not be read, or holds data modelbump does not understand.
    #[error("cannot read {store}: {message}")]
    Store {
        /// The store.
        store: String,
        /// Why.
        message: String,
    },
    /// A filter uses something the local backends do not support.
    #[error("unsupported filter {filter:?}: {message}")]
    Filter {
        /// The filter.
        filter: String,
        /// What is not supported, and what to write instead.
        message: String,
    },
    /// The configuration of the connection is unusable (bad URI, TLS options that contradict).
    #[error("{0}")]
    Config(String),
}

/// Read access to MLflow's tracking data and model registry.
///
/// Every backend has the same meaning as the MLflow REST API of the same name; the REST backend is the
/// reference.
#[async_trait]
pub trait TrackingStore: Send + Sync {
    /// A description for messages: the redacted tracking URI or the store's path.
    fn describe(&self) -> String;
    /// `experiments/get-by-name`; `Ok(None)` when it does not exist.
    async fn experiment_by_name(&self, name: &str) -> Result<Option<Experiment>, TrackingError>;
    /// `experiments/get`; `Ok(None)` when it does not exist.
    async fn experiment_by_id(&self, id: &str) -> Result<Option<Experiment>, TrackingError>;
    /// `runs/search`, all pages up to `query.max_results`.
    async fn search_runs(&self, query: &RunQuery) -> Result<Vec<Run>, TrackingError>;
    /// `runs/get`; `Ok(None)` when it does not exist.
    async fn run(&self, run_id: &str) -> Result<Option<Run>, TrackingError>;
    /// `logged-models/<id>`; `Ok(None)` when it does not exist.
    async fn logged_model(&self, model_id: &str) -> Result<Option<LoggedModel>, TrackingError>;
    /// `artifacts/list` of a run (`run_id`, `path`); for a logged model, its id and a path inside it.
    async fn list_artifacts(
        &self,
        owner: ArtifactOwner<'_>,
        path: &str,
    ) -> Result<ArtifactListing, TrackingError>;
    /// `registered-models/alias`; `Ok(None)` when the model or the alias does not exist.
    async fn version_by_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> Result<Option<ModelVersion>, TrackingError>;
    /// `model-versions/get`; `Ok(None)` when it does not exist.
    async fn model_version(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Option<ModelVersion>, TrackingError>;
    /// `registered-models/get-latest-versions` for one stage.
    async fn latest_versions(
        &self,
        name: &str,
        stage: &str,
    ) -> Result<Vec<ModelVersion>, TrackingError>;
    /// `model-versions/get-download-uri`: the physical location of a version.
    async fn download_uri(&self, name: &str, version: &str) -> Result<String, TrackingError>;
    /// The names of the active experiments (one page of `experiments/search`), for a "did you mean" in
    /// messages; `Ok(None)` when this store cannot list them.
    async fn experiment_names(&self) -> Result<Option<Vec<String>>, TrackingError> {
        Ok(None)
    }
    /// The names of the registered models (one page of `registered-models/search`), for messages;
    /// `Ok(None)` when this store cannot list them.
    async fn registered_model_names(&self) -> Result<Option<Vec<String>>, TrackingError> {
        Ok(None)
    }
    /// The aliases of registered model `name` as (alias, version), from `registered-models/get`, for
    /// messages; `Ok(None)` when the model does not exist or this store cannot tell.
    async fn model_aliases(
        &self,
        _name: &str,
    ) -> Result<Option<Vec<(String, String)>>, TrackingError> {
        Ok(None)
    }
}

/// Whose artifacts to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactOwner<'a> {
    /// A run's artifacts.
    Run(&'a str),
    /// An MLflow 3 logged model's artifacts.
    LoggedModel(&'a str),
}
