//! [`CachedStore`]: the resolver's view of the tracking store. Every distinct question is asked once,
//! however many targets ask it (concurrent askers wait for the one answer), with at most `concurrency`
//! questions in flight.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::{OnceCell, Semaphore};

use crate::tracking::{
    ArtifactListing, ArtifactOwner, Experiment, LoggedModel, ModelVersion, Run, RunQuery,
    TrackingError, TrackingStore,
};

/// The distinct questions asked of the store.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Question {
    ExperimentByName(String),
    ExperimentById(String),
    Search(RunQuery),
    Run(String),
    LoggedModel(String),
    ListRun(String, String),
    ListModel(String, String),
    Alias(String, String),
    Version(String, String),
    Latest(String, String),
    Download(String, String),
}

#[derive(Debug, Clone)]
enum Answer {
    Experiment(Option<Experiment>),
    Runs(Vec<Run>),
    Run(Option<Run>),
    LoggedModel(Option<LoggedModel>),
    Listing(ArtifactListing),
    Version(Option<ModelVersion>),
    Versions(Vec<ModelVersion>),
    Uri(String),
}

/// One question's answer, filled by the first asker; later askers wait for it.
type AnswerCell = OnceCell<Result<Answer, TrackingError>>;

/// A [`TrackingStore`] that asks its inner store once per distinct question (concurrent askers of the
/// same question wait for the one answer) and keeps at most `concurrency` questions in flight.
pub(crate) struct CachedStore {
    inner: Arc<dyn TrackingStore>,
    permits: Semaphore,
    answers: Mutex<HashMap<Question, Arc<AnswerCell>>>,
    calls: AtomicUsize,
}

impl CachedStore {
    /// Wraps `inner`.
    pub(crate) fn new(inner: Arc<dyn TrackingStore>, concurrency: usize) -> Self {
        Self {
            inner,
            permits: Semaphore::new(concurrency.max(1)),
            answers: Mutex::new(HashMap::new()),
            calls: AtomicUsize::new(0),
        }
    }

    /// How many questions reached the inner store.
    pub(crate) fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }

    async fn ask<F, Fut>(&self, question: Question, f: F) -> Result<Answer, TrackingError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Answer, TrackingError>>,
    {
        let cell = self
            .answers
            .lock()
            .unwrap()
            .entry(question)
            .or_default()
            .clone();
        cell.get_or_init(|| async {
            let _permit = self.permits.acquire().await.expect("never closed");
            self.calls.fetch_add(1, Ordering::Relaxed);
            f().await
        })
        .await
        .clone()
    }
}

macro_rules! answer {
    ($value:expr, $variant:ident) => {
        match $value? {
            Answer::$variant(v) => Ok(v),
            other => unreachable!("answer {other:?} to the wrong question"),
        }
    };
}

#[async_trait]
impl TrackingStore for CachedStore {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    async fn experiment_by_name(&self, name: &str) -> Result<Option<Experiment>, TrackingError> {
        answer!(
            self.ask(Question::ExperimentByName(name.into()), || async {
                self.inner
                    .experiment_by_name(name)
                    .await
                    .map(Answer::Experiment)
            })
            .await,
            Experiment
        )
    }

    async fn experiment_by_id(&self, id: &str) -> Result<Option<Experiment>, TrackingError> {
        answer!(
            self.ask(Question::ExperimentById(id.into()), || async {
                self.inner
                    .experiment_by_id(id)
                    .await
                    .map(Answer::Experiment)
            })
            .await,
            Experiment
        )
    }

    async fn search_runs(&self, query: &RunQuery) -> Result<Vec<Run>, TrackingError> {
        answer!(
            self.ask(Question::Search(query.clone()), || async {
                self.inner.search_runs(query).await.map(Answer::Runs)
            })
            .await,
            Runs
        )
    }

    async fn run(&self, run_id: &str) -> Result<Option<Run>, TrackingError> {
        answer!(
            self.ask(Question::Run(run_id.into()), || async {
                self.inner.run(run_id).await.map(Answer::Run)
            })
            .await,
            Run
        )
    }

    async fn logged_model(&self, model_id: &str) -> Result<Option<LoggedModel>, TrackingError> {
        answer!(
            self.ask(Question::LoggedModel(model_id.into()), || async {
                self.inner
                    .logged_model(model_id)
                    .await
                    .map(Answer::LoggedModel)
            })
            .await,
            LoggedModel
        )
    }

    async fn list_artifacts(
        &self,
        owner: ArtifactOwner<'_>,
        path: &str,
    ) -> Result<ArtifactListing, TrackingError> {
        let question = match owner {
            ArtifactOwner::Run(id) => Question::ListRun(id.into(), path.into()),
            ArtifactOwner::LoggedModel(id) => Question::ListModel(id.into(), path.into()),
        };
        answer!(
            self.ask(question, || async {
                self.inner
                    .list_artifacts(owner, path)
                    .await
                    .map(Answer::Listing)
            })
            .await,
            Listing
        )
    }

    async fn version_by_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> Result<Option<ModelVersion>, TrackingError> {
        answer!(
            self.ask(Question::Alias(name.into(), alias.into()), || async {
                self.inner
                    .version_by_alias(name, alias)
                    .await
                    .map(Answer::Version)
            })
            .await,
            Version
        )
    }

    async fn model_version(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Option<ModelVersion>, TrackingError> {
        answer!(
            self.ask(Question::Version(name.into(), version.into()), || async {
                self.inner
                    .model_version(name, version)
                    .await
                    .map(Answer::Version)
            })
            .await,
            Version
        )
    }

    async fn latest_versions(
        &self,
        name: &str,
        stage: &str,
    ) -> Result<Vec<ModelVersion>, TrackingError> {
        answer!(
            self.ask(Question::Latest(name.into(), stage.into()), || async {
                self.inner
                    .latest_versions(name, stage)
                    .await
                    .map(Answer::Versions)
            })
            .await,
            Versions
        )
    }

    async fn download_uri(&self, name: &str, version: &str) -> Result<String, TrackingError> {
        answer!(
            self.ask(Question::Download(name.into(), version.into()), || async {
                self.inner
                    .download_uri(name, version)
                    .await
                    .map(Answer::Uri)
            })
            .await,
            Uri
        )
    }

    // Asked only to word an error, once per failed target: not worth a cache entry.
    async fn experiment_names(&self) -> Result<Option<Vec<String>>, TrackingError> {
        let _permit = self.permits.acquire().await;
        self.inner.experiment_names().await
    }

    async fn registered_model_names(&self) -> Result<Option<Vec<String>>, TrackingError> {
        let _permit = self.permits.acquire().await;
        self.inner.registered_model_names().await
    }

    async fn model_aliases(
        &self,
        name: &str,
    ) -> Result<Option<Vec<(String, String)>>, TrackingError> {
        let _permit = self.permits.acquire().await;
        self.inner.model_aliases(name).await
    }
}
