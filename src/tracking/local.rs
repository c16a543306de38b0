//! What the two local backends ([`super::filestore`] and [`super::sqlite`]) share: the steps of the REST
//! API's meaning that do not depend on where the rows are stored.
//!
//! Both stores answer as MLflow's server would, so the filter check, the search over loaded candidates,
//! stage names, the `latest` alias and artifact listing of a run or logged model are written once here
//! (the listing of a local folder itself in [`super::artifacts`]);
//! each store only loads its rows. A fix to one of these steps then reaches both stores, which are tested
//! against MLflow itself.

use super::artifacts::list_local_artifacts;
use super::filter::{self, Candidate, Dialect};
use super::{ArtifactListing, ArtifactOwner, Run, RunQuery, TrackingError, TrackingStore};

/// The alias MLflow resolves to the highest live version, whatever the registry says.
pub(crate) const LATEST_ALIAS: &str = "latest";

/// MLflow's canonical stage names, matched case-insensitively as MLflow does.
pub(crate) fn canonical_stage(stage: &str) -> Option<&'static str> {
    match stage.to_ascii_lowercase().as_str() {
        "none" => Some("None"),
        "staging" => Some("Staging"),
        "production" => Some("Production"),
        "archived" => Some("Archived"),
        _ => None,
    }
}

/// The canonical name of `stage` for `get-latest-versions` of model `name`, or the error that names the
/// stages MLflow accepts.
pub(crate) fn checked_stage(
    store: String,
    name: &str,
    stage: &str,
) -> Result<&'static str, TrackingError> {
    canonical_stage(stage).ok_or_else(|| TrackingError::Invalid {
        store,
        what: format!("latest versions of registered model {name:?}"),
        message: format!("invalid stage {stage:?}; use one of None, Staging, Production, Archived"),
    })
}

/// `what` does not exist in `store`.
pub(crate) fn not_found(store: String, what: String) -> TrackingError {
    TrackingError::NotFound {
        store,
        what,
        detail: None,
    }
}

pub(crate) fn owner_what(owner: ArtifactOwner<'_>) -> String {
    match owner {
        ArtifactOwner::Run(id) => format!("run {id}"),
        ArtifactOwner::LoggedModel(id) => format!("logged model {id}"),
    }
}

pub(crate) fn filter_error(filter: &str, e: filter::FilterError) -> TrackingError {
    TrackingError::Filter {
        filter: filter.to_string(),
        message: e.message,
    }
}

/// Parses the query's filter only to refuse a bad one before any row is read, as MLflow does.
pub(crate) fn check_filter(query: &RunQuery) -> Result<(), TrackingError> {
    filter::parse_filter(&query.filter)
        .map(|_| ())
        .map_err(|e| filter_error(&query.filter, e))
}

/// The query's filter, order and limit applied to the runs a store loaded, in the store's dialect.
pub(crate) fn search(
    candidates: Vec<Candidate>,
    query: &RunQuery,
    dialect: Dialect,
) -> Result<Vec<Run>, TrackingError> {
    filter::search(
        candidates,
        &query.filter,
        &query.order_by,
        query.max_results,
        dialect,
    )
    .map_err(|e| filter_error(&query.filter, e))
}

/// `artifacts/list` under the artifact root of a run or logged model of `store`, which must exist.
pub(crate) async fn owner_artifacts<S: TrackingStore + ?Sized>(
    store: &S,
    owner: ArtifactOwner<'_>,
    path: &str,
) -> Result<ArtifactListing, TrackingError> {
    let root = match owner {
        ArtifactOwner::Run(id) => store.run(id).await?.map(|r| r.info.artifact_uri),
        ArtifactOwner::LoggedModel(id) => store.logged_model(id).await?.map(|m| m.artifact_uri),
    };
    match root {
        Some(root) => Ok(list_local_artifacts(&root, path)),
        None => Err(not_found(store.describe(), owner_what(owner))),
    }
}
