//! The deployment MLflow has on record (`mlflow.recordDeployments`), for the `deployed.*` gates.
//!
//! Where modelbump records deployments, MLflow knows which model is live in an environment better than
//! the manifest's URI does: a URI rewritten to a serving bucket may name no run at all, and a URI can
//! name a run other than the one that was verified healthy. So the deployed model is, in this order:
//! for a `registered:` target, the version the environment's alias points at (moved only once Argo CD
//! reported it healthy); for a `run:` target, the newest run (by `modelbump.<env>.at`) of the
//! candidate's experiment tagged `modelbump.<env>.target` = the target and `modelbump.<env>.status` =
//! `healthy`. Without such a record, the resolver falls back to reading the URI ([`super::find_deployed`]).

use crate::config::TargetConfig;
use crate::tracking::{Run, RunQuery, TrackingError, TrackingStore};

/// The resolved `mlflow.recordDeployments`: the environment deployments are recorded under, and the alias
/// moved to a version once it is healthy there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSettings {
    /// The environment, in the tag keys (`modelbump.<environment>.status`).
    pub environment: String,
    /// The registered model alias for the environment.
    pub alias: String,
}

impl RecordSettings {
    /// The tag key `modelbump.<environment>.<field>`.
    pub fn key(&self, field: &str) -> String {
        format!("modelbump.{}.{field}", self.environment)
    }
}

/// How many recorded runs of a target are looked at for the newest healthy one.
const RECORDED_RUNS: usize = 50;

/// The run of the deployment on record for `target`, if there is one; `candidate` is the run the
/// resolver found (its experiment is searched).
pub(crate) async fn recorded_run(
    store: &dyn TrackingStore,
    record: &RecordSettings,
    target: &TargetConfig,
    candidate: Option<&Run>,
) -> Result<Option<Run>, TrackingError> {
    if let Some(registered) = &target.registered {
        let Some(version) = store
            .version_by_alias(&registered.name, &record.alias)
            .await?
        else {
            return Ok(None);
        };
        return match version.run_id {
            Some(run_id) => store.run(&run_id).await,
            None => Ok(None),
        };
    }
    let Some(candidate) = candidate else {
        return Ok(None);
    };
    if target.name.contains(['\'', '`', '\\']) {
        return Ok(None);
    }
    let filter = format!(
        "tags.`{}` = '{}' and tags.`{}` = 'healthy'",
        record.key("target"),
        target.name,
        record.key("status")
    );
    let found = store
        .search_runs(&RunQuery {
            experiment_ids: vec![candidate.info.experiment_id.clone()],
            filter,
            order_by: vec![super::DEFAULT_ORDER.to_string()],
            max_results: RECORDED_RUNS,
        })
        .await;
    let runs = match found {
        Ok(runs) => runs,
        // A local store whose filter support lacks something: no record to read there.
        Err(TrackingError::Filter { message, .. }) => {
            tracing::debug!("no deployment record read: {message}");
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let at = record.key("at");
    Ok(runs
        .into_iter()
        .max_by(|a, b| a.tags.get(&at).cmp(&b.tags.get(&at))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_the_environment() {
        let record = RecordSettings {
            environment: "production".into(),
            alias: "production".into(),
        };
        assert_eq!(record.key("status"), "modelbump.production.status");
    }
}
