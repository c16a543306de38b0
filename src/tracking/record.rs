//! Write access to MLflow for recording deployments (`mlflow.recordDeployments`): tags on runs, model
//! versions and MLflow 3 logged models, and moving a registered model's alias.
//!
//! This is the only place modelbump writes to MLflow, and it is a port of its own ([`DeploymentLog`])
//! rather than part of [`TrackingStore`], which is read-only by design: the resolver cannot write by
//! mistake. Only a tracking server (`http(s)://`) is written to. The local stores (`sqlite:///`, `file:`,
//! `./mlruns`) are refused with a message ([`open`]): modelbump reads them directly, and writing MLflow's
//! own database behind its back is a risk the record does not justify; a record is for a shared server
//! that the serving side's users look at.
//!
//! [`TrackingStore`]: super::TrackingStore

use std::sync::Arc;

use async_trait::async_trait;

use super::rest::{Connection, RestStore};
use super::{MlflowOptions, TrackingError};

/// What a tag is set on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tagged {
    /// A run, by id.
    Run(String),
    /// A registered model version: the model's name and the version number.
    Version(String, String),
    /// An MLflow 3 logged model, by id (`m-<uuid>`).
    LoggedModel(String),
}

impl Tagged {
    /// The report's `entity`.
    pub(crate) fn entity(&self) -> &'static str {
        match self {
            Self::Run(_) => "run",
            Self::Version(..) => "modelVersion",
            Self::LoggedModel(_) => "loggedModel",
        }
    }

    /// The report's `id`: the run id, `NAME/VERSION` or the logged model id.
    pub(crate) fn id(&self) -> String {
        match self {
            Self::Run(id) | Self::LoggedModel(id) => id.clone(),
            Self::Version(name, version) => format!("{name}/{version}"),
        }
    }
}

/// Writes the record of a deployment to MLflow.
#[async_trait]
pub(crate) trait DeploymentLog: Send + Sync {
    /// Sets `tags` on `what`, replacing earlier values of the same keys.
    async fn set_tags(&self, what: &Tagged, tags: &[(String, String)])
    -> Result<(), TrackingError>;
    /// Points `alias` of registered model `name` at `version`.
    async fn set_alias(&self, name: &str, alias: &str, version: &str) -> Result<(), TrackingError>;
}

#[async_trait]
impl DeploymentLog for RestStore {
    async fn set_tags(
        &self,
        what: &Tagged,
        tags: &[(String, String)],
    ) -> Result<(), TrackingError> {
        match what {
            Tagged::Run(id) => self.set_run_tags(id, tags).await,
            Tagged::Version(name, version) => self.set_version_tags(name, version, tags).await,
            Tagged::LoggedModel(id) => self.set_logged_model_tags(id, tags).await,
        }
    }

    async fn set_alias(&self, name: &str, alias: &str, version: &str) -> Result<(), TrackingError> {
        RestStore::set_alias(self, name, alias, version).await
    }
}

/// Runs and logged models on the tracking server, registered models on the registry server
/// (`MLFLOW_REGISTRY_URI`), as MLflow's own client splits them.
struct Split {
    tracking: RestStore,
    registry: RestStore,
}

#[async_trait]
impl DeploymentLog for Split {
    async fn set_tags(
        &self,
        what: &Tagged,
        tags: &[(String, String)],
    ) -> Result<(), TrackingError> {
        match what {
            Tagged::Version(..) => self.registry.set_tags(what, tags).await,
            _ => self.tracking.set_tags(what, tags).await,
        }
    }

    async fn set_alias(&self, name: &str, alias: &str, version: &str) -> Result<(), TrackingError> {
        DeploymentLog::set_alias(&self.registry, name, alias, version).await
    }
}

/// Opens the server the record is written to; a local store, or no tracking URI, is refused with a
/// message that says what to do.
pub(crate) fn open(options: &MlflowOptions) -> Result<Arc<dyn DeploymentLog>, TrackingError> {
    let tracking = rest_store(options.tracking_uri.as_deref(), options)?;
    match options.registry_uri.as_deref().map(str::trim) {
        Some(registry)
            if !registry.is_empty() && Some(registry) != options.tracking_uri.as_deref() =>
        {
            Ok(Arc::new(Split {
                tracking,
                registry: rest_store(Some(registry), options)?,
            }))
        }
        _ => Ok(Arc::new(tracking)),
    }
}

fn rest_store(uri: Option<&str>, options: &MlflowOptions) -> Result<RestStore, TrackingError> {
    let server = uri.filter(|u| {
        let lower = u.trim().to_ascii_lowercase();
        lower.starts_with("http://") || lower.starts_with("https://")
    });
    let Some(uri) = server else {
        return Err(TrackingError::Config(format!(
            "mlflow.recordDeployments writes to an MLflow tracking server, and the tracking URI {} is a local store (or unset); nothing was recorded: point MLFLOW_TRACKING_URI (or mlflow.trackingUri) at the server, or remove mlflow.recordDeployments",
            uri.map(crate::secret::redact_url)
                .unwrap_or_else(|| "(none)".into())
        )));
    };
    RestStore::new(Connection::from_parts(uri, &options.env)?)
}
