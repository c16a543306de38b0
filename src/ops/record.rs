//! Recording deployments in MLflow (`mlflow.recordDeployments`): what `run`, `serve` and `rollback`
//! write, and when.
//!
//! After a push that carries a new model URI, the model's run, its registered model version (for a
//! `registered:` target) and its MLflow 3 logged model get the tags `modelbump.<env>.commit`, `.repo`,
//! `.file`, `.target`, `.at` and `.status` = `pushed`. Once Argo CD reports the apps Synced and Healthy
//! at that commit (`run --wait`, `rollback --wait`), `.status` becomes `healthy` and the environment's
//! alias of the registered model moves to the version; when the sync fails or an app turns Degraded,
//! `.status` becomes `failed` and the alias stays. A `rollback` marks the model it replaces
//! `rolled_back` and the restored one `pushed`. In pull-request mode the model reaches the branch
//! Argo CD deploys only through the merge, so an opened pull request records nothing, and
//! `--wait-merged` records `pushed` at the merge commit. [`DeployRecord`] carries one deploy from its
//! `pushed` to the verdict of its sync. Nothing is written when nothing was pushed, so a rerun with
//! nothing new adds nothing.
//!
//! The push is what matters: a record that cannot be written (a user who may only read, gets 403; a
//! server that is down; a local store) is a warning in the report's `recorded`, never a failure of the
//! command. After a 401/403 the remaining writes are skipped, since they would be refused the same way.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::report::{Recorded, RecordedWrite, TargetReport, TargetStatus};
use crate::resolve::RecordSettings;
use crate::tracking::record::{DeploymentLog, Tagged};
use crate::tracking::{MlflowOptions, TrackingError};

/// Where a target's model is recorded: the MLflow objects behind one changed target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Deployment {
    /// The target's name.
    pub(crate) target: String,
    /// Its file, relative to the repo root.
    pub(crate) file: String,
    /// The run the model came from.
    pub(crate) run_id: Option<String>,
    /// The registered model and version, for a `registered:` target.
    pub(crate) version: Option<(String, String)>,
    /// The MLflow 3 logged model.
    pub(crate) model_id: Option<String>,
}

impl Deployment {
    /// The model a report line deployed (its new URI), `None` when it names nothing MLflow knows.
    pub(crate) fn of(line: &TargetReport) -> Option<Self> {
        let model_id = line.model_id.clone().or_else(|| {
            line.new_uri
                .as_deref()
                .and_then(crate::resolve::logged_model_id_in)
        });
        let version = match (&line.registered_model, &line.model_version) {
            (Some(name), Some(version)) => Some((name.clone(), version.clone())),
            _ => None,
        };
        let deployment = Self {
            target: line.name.clone(),
            file: line.file.clone(),
            run_id: line.run_id.clone(),
            version,
            model_id,
        };
        (!deployment.objects().is_empty()).then_some(deployment)
    }

    /// What gets the tags.
    fn objects(&self) -> Vec<Tagged> {
        let mut objects = Vec::new();
        if let Some((name, version)) = &self.version {
            objects.push(Tagged::Version(name.clone(), version.clone()));
        }
        if let Some(run) = &self.run_id {
            objects.push(Tagged::Run(run.clone()));
        }
        if let Some(model) = &self.model_id {
            objects.push(Tagged::LoggedModel(model.clone()));
        }
        objects
    }
}

/// The models of a report's changed targets.
pub(crate) fn deployments(targets: &[TargetReport]) -> Vec<Deployment> {
    targets
        .iter()
        .filter(|t| t.status == TargetStatus::Changed)
        .filter_map(Deployment::of)
        .collect()
}

/// What a write records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stage {
    /// The commit reached the remote: where and when.
    Pushed {
        /// The pushed commit.
        commit: String,
        /// The remote's URL (redacted).
        repo: String,
    },
    /// Argo CD reported the apps Synced and Healthy at the commit: also moves the alias.
    Healthy,
    /// The sync failed, or an app turned Degraded.
    Failed,
    /// A rollback replaced this model.
    RolledBack,
}

/// Writes the record and collects the report's `recorded`.
pub(crate) struct Recorder {
    settings: RecordSettings,
    log: Option<Arc<dyn DeploymentLog>>,
    /// Set after a 401/403: the remaining writes are skipped.
    refused: bool,
    recorded: Recorded,
}

impl Recorder {
    /// A recorder writing to the server `mlflow` names; a store it cannot write (a local one) becomes
    /// the first warning, and nothing is written.
    pub(crate) fn open(settings: &RecordSettings, mlflow: &MlflowOptions) -> Self {
        let mut recorder = Self {
            settings: settings.clone(),
            log: None,
            refused: false,
            recorded: Recorded {
                environment: settings.environment.clone(),
                ..Recorded::default()
            },
        };
        match crate::tracking::record::open(mlflow) {
            Ok(log) => recorder.log = Some(log),
            Err(e) => recorder.warn(e.to_string()),
        }
        recorder
    }

    fn warn(&mut self, text: String) {
        tracing::warn!("{text}");
        self.recorded.warnings.push(text);
    }

    /// Records `stage` for each of `deployments`.
    pub(crate) async fn write(&mut self, deployments: &[Deployment], stage: &Stage) {
        for deployment in deployments {
            let tags = self.tags(deployment, stage);
            for object in deployment.objects() {
                self.set_tags(&deployment.target, &object, &tags).await;
            }
            if *stage == Stage::Healthy
                && let Some((name, version)) = &deployment.version
            {
                self.move_alias(&deployment.target, name, version).await;
            }
        }
    }

    fn tags(&self, deployment: &Deployment, stage: &Stage) -> Vec<(String, String)> {
        let key = |field: &str| self.settings.key(field);
        let status = match stage {
            Stage::Pushed { commit, repo } => {
                return vec![
                    (key("commit"), commit.clone()),
                    (key("repo"), repo.clone()),
                    (key("file"), deployment.file.clone()),
                    (key("target"), deployment.target.clone()),
                    (key("at"), crate::git::now_rfc3339()),
                    (key("status"), "pushed".into()),
                ];
            }
            Stage::Healthy => "healthy",
            Stage::Failed => "failed",
            Stage::RolledBack => "rolled_back",
        };
        vec![(key("status"), status.into())]
    }

    async fn set_tags(&mut self, target: &str, object: &Tagged, tags: &[(String, String)]) {
        let Some(log) = self.log.clone().filter(|_| !self.refused) else {
            return;
        };
        match log.set_tags(object, tags).await {
            Ok(()) => self.recorded.writes.push(RecordedWrite {
                target: target.to_string(),
                entity: object.entity().to_string(),
                id: object.id(),
                tags: tags.iter().cloned().collect::<BTreeMap<_, _>>(),
                alias: None,
                version: None,
            }),
            Err(e) => self.failed(target, &e),
        }
    }

    async fn move_alias(&mut self, target: &str, name: &str, version: &str) {
        let Some(log) = self.log.clone().filter(|_| !self.refused) else {
            return;
        };
        let alias = self.settings.alias.clone();
        match log.set_alias(name, &alias, version).await {
            Ok(()) => self.recorded.writes.push(RecordedWrite {
                target: target.to_string(),
                entity: "registeredModel".into(),
                id: name.to_string(),
                tags: BTreeMap::new(),
                alias: Some(alias),
                version: Some(version.to_string()),
            }),
            Err(e) => self.failed(target, &e),
        }
    }

    fn failed(&mut self, target: &str, error: &TrackingError) {
        if let TrackingError::Unauthorized { status, .. } = error {
            self.refused = true;
            self.warn(format!(
                "the deployment of {target} was not recorded in MLflow (HTTP {status}: this MLflow user may not write there): {error}; the push stands; give the user EDIT permission on the experiment and the registered model, or remove mlflow.recordDeployments; the remaining record writes were skipped"
            ));
        } else {
            self.warn(format!(
                "the deployment of {target} was not fully recorded in MLflow: {error}; the push stands"
            ));
        }
    }

    /// The report's `recorded`.
    pub(crate) fn finish(self) -> Recorded {
        self.recorded
    }
}

/// The record of one deploy between its two writes: `pushed` is written once the commit is on the
/// branch Argo CD deploys from, the verdict ([`Stage::after_sync`]) once the sync is over.
pub struct DeployRecord {
    recorder: Recorder,
    deployments: Vec<Deployment>,
}

impl DeployRecord {
    /// Writes `pushed` (commit `commit` on `repo`) for `deployments`; `None`, nothing written, without
    /// the record or without a model MLflow knows.
    pub(crate) async fn pushed(
        settings: Option<&RecordSettings>,
        mlflow: &MlflowOptions,
        deployments: Vec<Deployment>,
        commit: &str,
        repo: String,
    ) -> Option<Self> {
        let settings = settings?;
        if deployments.is_empty() {
            return None;
        }
        let mut recorder = Recorder::open(settings, mlflow);
        let stage = Stage::Pushed {
            commit: commit.to_string(),
            repo,
        };
        recorder.write(&deployments, &stage).await;
        Some(Self {
            recorder,
            deployments,
        })
    }

    /// Writes the verdict of the sync, if there is one, and returns the report's `recorded`.
    pub(crate) async fn finish(mut self, verdict: Option<Stage>) -> Recorded {
        if let Some(stage) = verdict {
            self.recorder.write(&self.deployments, &stage).await;
        }
        self.recorder.finish()
    }
}

impl Stage {
    /// What a sync means for the record: `failed` when it failed, `healthy` when it waited for Synced
    /// and Healthy and got them, nothing when it did not wait (or did not run).
    pub(crate) fn after_sync(failed: bool, waited: bool) -> Option<Self> {
        if failed {
            Some(Self::Failed)
        } else if waited {
            Some(Self::Healthy)
        } else {
            None
        }
    }
}

/// Records a pushed rollback (`mlflow.recordDeployments`): the replaced model `rolled_back`, the restored
/// one `pushed`; fills `done.report.recorded` and returns the restored model's record, for the verdict
/// of a sync that follows. Nothing is written when the rollback pushed nothing new.
pub async fn record_rollback(
    done: &mut crate::ops::HoldOutcome,
    targets: &[crate::config::TargetConfig],
    settings: &RecordSettings,
    mlflow: &MlflowOptions,
) -> Option<DeployRecord> {
    let (Some(commit), Some(push)) = (&done.write_back.commit, &done.push) else {
        return None;
    };
    let line = done.report.targets.first()?;
    if !done.write_back.pushed || line.status != TargetStatus::Changed {
        return None;
    }
    let registered = targets
        .iter()
        .find(|t| t.name == line.name)
        .and_then(|t| t.registered.as_ref())
        .map(|r| r.name.clone());
    let restored = TargetReport {
        registered_model: registered.clone(),
        ..line.clone()
    };
    let replaced = done.replaced.clone().unwrap_or_default();
    let replaced = TargetReport {
        new_uri: line.old_uri.clone(),
        run_id: replaced.run_id,
        model_version: replaced.model_version,
        experiment_id: replaced.experiment_id,
        registered_model: registered,
        model_id: None,
        ..line.clone()
    };
    let repo = crate::git::GitRepo::discover(&mlflow.repo)
        .ok()
        .and_then(|r| r.remote_url(&push.remote))
        .unwrap_or_default();
    let mut recorder = Recorder::open(settings, mlflow);
    if let Some(replaced) = Deployment::of(&replaced) {
        recorder.write(&[replaced], &Stage::RolledBack).await;
    }
    let deployments: Vec<Deployment> = Deployment::of(&restored).into_iter().collect();
    let stage = Stage::Pushed {
        commit: commit.clone(),
        repo,
    };
    recorder.write(&deployments, &stage).await;
    done.report.recorded = Some(recorder.recorded.clone());
    Some(DeployRecord {
        recorder,
        deployments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(status: TargetStatus) -> TargetReport {
        TargetReport {
            new_uri: Some(
                "s3://mlflow-artifacts/1/models/m-0123456789abcdef0123456789abcdef/artifacts/"
                    .into(),
            ),
            run_id: Some("r1".into()),
            model_version: Some("3".into()),
            registered_model: Some("churn".into()),
            ..TargetReport::at("m.yaml".into(), "Model".into(), "m".into(), 1, status)
        }
    }

    #[test]
    fn a_changed_target_names_its_version_run_and_logged_model() {
        let found = deployments(&[line(TargetStatus::Changed), line(TargetStatus::Unchanged)]);
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].objects(),
            vec![
                Tagged::Version("churn".into(), "3".into()),
                Tagged::Run("r1".into()),
                Tagged::LoggedModel("m-0123456789abcdef0123456789abcdef".into()),
            ]
        );
    }

    #[test]
    fn a_target_naming_nothing_mlflow_knows_is_not_recorded() {
        let bare = TargetReport {
            new_uri: Some("s3://bucket/churn/".into()),
            ..TargetReport::at(
                "m.yaml".into(),
                "Model".into(),
                "m".into(),
                1,
                TargetStatus::Changed,
            )
        };
        assert!(Deployment::of(&bare).is_none());
    }
}
