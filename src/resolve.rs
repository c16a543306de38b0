//! The resolver: which model each configured target should point at, and whether it may.
//!
//! For a `run:` target: the experiment (by name, or by id when it is all digits), then the best run among
//! the FINISHED ones (`attributes.status = 'FINISHED'` is always ANDed to the target's filter, because a
//! RUNNING or FAILED run may have logged a half-trained model), then the model of that run: its MLflow 3
//! logged model (`outputs.model_outputs` -> `logged-models/<id>` -> `artifact_uri`, picked by the target's
//! `model` name where there are several), else the MLflow 2 layout (`<run artifact_uri>/<model or "model">`).
//! For a `registered:` target: the version named by alias, number or stage, then its physical location
//! (`get-download-uri`, with `models:/` and `runs:/` sources resolved when the server echoes them).
//!
//! Before a URI is proposed, the pre-flight check lists the model's folder: it must hold an `MLmodel`.
//! A missing model is an error (the target fails, nothing is written); a store the server cannot list
//! is a warning in the report, because the model may be there and nobody could check. Where the model is
//! a logged model, the URI must also be that model's location (a registry version's source may point
//! elsewhere while naming the model).
//!
//! What MLflow reports is not trusted as a location to deploy ([`check_location`]): a `..` segment is
//! refused, and so are, unless the config allows them (`allowSchemeChange`), a local path or `file:` URI
//! (which the serving side cannot read) and a scheme other than the current value's (typically a
//! `uriRewrite` rule that is missing or did not match); the refusal shows the rule to add. These are
//! failures of the target, not `blocked`: the config, or MLflow, needs fixing.
//!
//! Gates (`require:`) are comparisons over `metrics.*`, `params.*`, `tags.*` and `attributes.*` of the
//! candidate's run, and the same over `deployed.*`: the run behind the URI deployed now, found from that
//! URI (a logged-model id `m-<hex>`, a run id, or a `models:/` registry reference in it). A failed gate
//! keeps the current URI and reports `blocked` with the reason: that is a decision, not a failure. The
//! gate language itself ([`Gate`]: parsing, evaluating) is in the `gates` submodule.
//!
//! Every question goes through [`CachedStore`] (in the `cache` submodule), which asks MLflow once per
//! distinct question, however many targets ask it, and bounds the requests in flight; the targets
//! themselves are resolved concurrently.

mod cache;
mod gates;
mod hints;
mod recorded;

use std::sync::Arc;

pub(crate) use cache::CachedStore;
pub(crate) use gates::{Deployed, Gate, GateError};
pub use recorded::RecordSettings;

use crate::config::{RegisteredSource, RunSource, TargetConfig, UriRewrite};
use crate::tracking::{
    ArtifactListing, ArtifactOwner, Experiment, LoggedModel, ModelVersion, Run, RunQuery,
    TrackingError, TrackingStore,
};

/// Requests in flight to the tracking server unless configured otherwise.
pub(crate) const DEFAULT_CONCURRENCY: usize = 8;

/// The order of runs unless the target says otherwise: the newest first.
pub(crate) const DEFAULT_ORDER: &str = "attributes.start_time DESC";

/// Why a target could not be resolved. The caller adds which target it was.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ResolveError {
    /// The tracking store failed or refused.
    #[error(transparent)]
    Tracking(#[from] TrackingError),
    /// No experiment of that name or id.
    #[error(
        "experiment {experiment:?} not found in {store}; check run.experiment (a name, or an id){hint}"
    )]
    NoExperiment {
        /// The experiment as configured.
        experiment: String,
        /// The store.
        store: String,
        /// `; did you mean ...?` with the closest experiment names, or empty.
        hint: String,
    },
    /// No registered model of that name.
    #[error("registered model {name:?} does not exist in {store}; check registered.name{hint}")]
    NoRegisteredModel {
        /// The registered model as configured.
        name: String,
        /// The store.
        store: String,
        /// `; did you mean ...?` with the closest registered model names, or empty.
        hint: String,
    },
    /// The experiment is deleted.
    #[error(
        "experiment {experiment:?} is deleted in {store}; restore it or point run.experiment elsewhere"
    )]
    DeletedExperiment {
        /// The experiment as configured.
        experiment: String,
        /// The store.
        store: String,
    },
    /// No FINISHED run matches.
    #[error("no FINISHED run in experiment {experiment:?} matches {filter:?}")]
    NoRun {
        /// The experiment.
        experiment: String,
        /// The whole filter sent.
        filter: String,
    },
    /// The run has no model (of that name).
    #[error("run {run_id} has no model{}: {detail}", name.as_deref().map(|n| format!(" named {n:?}")).unwrap_or_default())]
    NoModel {
        /// The run.
        run_id: String,
        /// The model name asked for.
        name: Option<String>,
        /// What was found instead.
        detail: String,
    },
    /// Several logged models and no `model:` to choose.
    #[error(
        "run {run_id} logged several models ({names}); set `model:` in the target's run source to pick one"
    )]
    AmbiguousModel {
        /// The run.
        run_id: String,
        /// Their names.
        names: String,
    },
    /// The pre-flight check found no `MLmodel`.
    #[error(
        "pre-flight: no MLmodel at {uri}; the model was not logged completely (found: {found})"
    )]
    NoMlmodel {
        /// The location checked.
        uri: String,
        /// What the listing held.
        found: String,
    },
    /// The registered model version does not exist.
    #[error("registered model {name:?} has no {what} in {store}{hint}")]
    NoVersion {
        /// The registered model.
        name: String,
        /// `alias "champion"`, `version 7`, `version in stage "Production"`.
        what: String,
        /// The store.
        store: String,
        /// For a missing alias, the aliases that exist (and the closest), or empty.
        hint: String,
    },
    /// A gate cannot be parsed.
    #[error(transparent)]
    BadGate(#[from] GateError),
    /// The registry's location is not the location of the logged model it names.
    #[error(
        "pre-flight: {uri} is not the location of logged model {model_id} ({location}), which the version names; refusing a location MLflow does not vouch for (fix the version's source in the registry)"
    )]
    NotTheModel {
        /// The location reported for the version.
        uri: String,
        /// The logged model.
        model_id: String,
        /// Where that model is.
        location: String,
    },
    /// The location cannot be deployed as it is (a `..` segment, a local path, another scheme).
    #[error("refusing {uri}: {problem}")]
    Location {
        /// The URI that would have been written.
        uri: String,
        /// Why, and what to change.
        problem: String,
    },
    /// The target has no source (pinned targets are not resolved).
    #[error("the target has no source")]
    NoSource,
    /// A gate names a metric, param or tag that no run of the experiment has: a misspelt key, which
    /// would otherwise block the target forever.
    #[error(
        "require {gate:?} names {field}, which no run of experiment {experiment} has (of the {checked} newest runs); fix the gate in modelbump.yaml{}",
        if known.is_empty() { String::new() } else { format!(" (they have: {})", known.join(", ")) }
    )]
    UnknownGateField {
        /// The gate as written.
        gate: String,
        /// `metrics.val_acuracy`.
        field: String,
        /// The experiment's id.
        experiment: String,
        /// How many runs were looked at.
        checked: usize,
        /// The keys of that kind the runs have (at most a screenful).
        known: Vec<String>,
    },
}

/// How many of the experiment's newest runs are looked at for a field a gate names.
const GATE_FIELD_RUNS: usize = 1000;

/// What the resolver asks of one target.
#[derive(Debug, Clone)]
pub struct TargetRequest {
    /// The configured target.
    pub target: TargetConfig,
    /// The URI in the manifest now.
    pub current_uri: String,
    /// Accept a location of another scheme than `current_uri`'s, or a local one
    /// ([`TargetConfig::allows_scheme_change`]).
    pub allow_scheme_change: bool,
    /// `mlflow.recordDeployments`: the `deployed.*` gates read the deployment on record first.
    pub record: Option<RecordSettings>,
}

/// What a target resolved to.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Resolution {
    /// The value to write: the candidate after `uriRewrite` and the current trailing-slash convention,
    /// or the current value when blocked.
    pub uri: String,
    /// The candidate as MLflow reported it.
    pub source_uri: String,
    /// The run the model came from.
    pub run_id: Option<String>,
    /// The experiment.
    pub experiment_id: Option<String>,
    /// The registered version, for registry targets.
    pub model_version: Option<String>,
    /// The MLflow 3 logged model id.
    pub model_id: Option<String>,
    /// The metrics of the run (for provenance).
    pub metrics: Vec<(String, f64)>,
    /// Why a gate blocked the change, if one did.
    pub blocked: Option<String>,
    /// Things the user should know.
    pub warnings: Vec<String>,
}

/// Resolves every request concurrently, asking the store once per distinct question with at most
/// `concurrency` requests in flight. One result per request, in order.
pub async fn resolve_all(
    store: Arc<dyn TrackingStore>,
    requests: Vec<TargetRequest>,
    rewrites: &[UriRewrite],
    concurrency: usize,
) -> Vec<Result<Resolution, ResolveError>> {
    let cached = Arc::new(CachedStore::new(store, concurrency));
    let rewrites = Arc::new(rewrites.to_vec());
    let mut set = tokio::task::JoinSet::new();
    let count = requests.len();
    for (i, request) in requests.into_iter().enumerate() {
        let cached = cached.clone();
        let rewrites = rewrites.clone();
        set.spawn(async move { (i, resolve_one(cached.as_ref(), &request, &rewrites).await) });
    }
    let mut results: Vec<Option<Result<Resolution, ResolveError>>> = vec![None; count];
    while let Some(joined) = set.join_next().await {
        let (i, result) = joined.expect("a resolver task does not panic");
        results[i] = Some(result);
    }
    tracing::debug!(
        calls = cached.calls(),
        targets = count,
        "resolved against the tracking store"
    );
    results.into_iter().map(|r| r.unwrap()).collect()
}

/// Resolves one target.
pub(crate) async fn resolve_one(
    store: &dyn TrackingStore,
    request: &TargetRequest,
    rewrites: &[UriRewrite],
) -> Result<Resolution, ResolveError> {
    let gates = request
        .target
        .require
        .iter()
        .map(|g| Gate::parse(g))
        .collect::<Result<Vec<_>, _>>()?;
    let mut found = match (&request.target.run, &request.target.registered) {
        (Some(run), _) => from_run(store, run).await?,
        (None, Some(reg)) => from_registry(store, reg).await?,
        (None, None) => return Err(ResolveError::NoSource),
    };
    let uri = keep_slash_convention(&request.current_uri, &rewrite(&found.source_uri, rewrites));
    if uri != request.current_uri {
        check_location(&found.source_uri, &uri, request, rewrites)?;
    }
    found.resolution.uri = uri;
    if found.resolution.uri == request.current_uri || gates.is_empty() {
        return Ok(found.resolution);
    }
    let mut deployed = Deployed::Unknown;
    if gates.iter().any(Gate::uses_deployed) {
        let on_record = match &request.record {
            Some(record) => {
                recorded::recorded_run(store, record, &request.target, found.run.as_ref()).await?
            }
            None => None,
        };
        deployed = match on_record {
            Some(run) => Deployed::Run(Box::new(run)),
            None => find_deployed(store, &request.current_uri).await?,
        };
    }
    let mut failures = Vec::new();
    for gate in &gates {
        if let Err(why) = gate.check(found.run.as_ref(), &deployed) {
            if let Some(run) = &found.run {
                check_fields_exist(store, gate, run).await?;
            }
            failures.push(format!("require {:?}: {why}", gate.text));
        }
    }
    if !failures.is_empty() {
        found.resolution.blocked = Some(failures.join("; "));
        found.resolution.uri = request.current_uri.clone();
    }
    Ok(found.resolution)
}

/// Fails with [`ResolveError::UnknownGateField`] when `gate` names a field of the candidate that `run`
/// lacks and no other run of its experiment has either (among the newest [`GATE_FIELD_RUNS`]).
async fn check_fields_exist(
    store: &dyn TrackingStore,
    gate: &Gate,
    run: &Run,
) -> Result<(), ResolveError> {
    let missing = gate.missing_fields(run);
    if missing.is_empty() {
        return Ok(());
    }
    let experiment = run.info.experiment_id.clone();
    let runs = store
        .search_runs(&RunQuery {
            experiment_ids: vec![experiment.clone()],
            filter: String::new(),
            order_by: vec![DEFAULT_ORDER.to_string()],
            max_results: GATE_FIELD_RUNS,
        })
        .await?;
    for field in missing {
        if runs.iter().any(|r| field.present_in(r)) {
            continue;
        }
        let mut known: Vec<String> = runs
            .iter()
            .flat_map(|r| field.keys_in(r))
            .map(str::to_string)
            .collect();
        known.sort();
        known.dedup();
        known.truncate(20);
        return Err(ResolveError::UnknownGateField {
            gate: gate.text.clone(),
            field: field.to_string(),
            experiment,
            checked: runs.len(),
            known,
        });
    }
    Ok(())
}

struct Found {
    resolution: Resolution,
    source_uri: String,
    run: Option<Run>,
}

async fn experiment(store: &dyn TrackingStore, wanted: &str) -> Result<Experiment, ResolveError> {
    let by_id = !wanted.is_empty() && wanted.chars().all(|c| c.is_ascii_digit());
    let mut found = if by_id {
        store.experiment_by_id(wanted).await?
    } else {
        None
    };
    if found.is_none() {
        found = store.experiment_by_name(wanted).await?;
    }
    let Some(experiment) = found else {
        return Err(ResolveError::NoExperiment {
            experiment: wanted.to_string(),
            store: store.describe(),
            hint: hints::experiment(store, wanted).await,
        });
    };
    if experiment.lifecycle_stage == "deleted" {
        return Err(ResolveError::DeletedExperiment {
            experiment: wanted.to_string(),
            store: store.describe(),
        });
    }
    Ok(experiment)
}

/// The filter sent for a run source: the status condition ANDed with the user's filter (MLflow's filter
/// language has AND only, no parentheses, so a plain conjunction is exact).
pub(crate) fn run_filter(source: &RunSource) -> String {
    let status = "attributes.status = 'FINISHED'";
    match source
        .filter
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty())
    {
        Some(filter) => format!("{status} AND {filter}"),
        None => status.to_string(),
    }
}

/// The order clauses of a run source (comma-separated in the config).
pub(crate) fn run_order(source: &RunSource) -> Vec<String> {
    let order = source
        .order_by
        .as_deref()
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .unwrap_or(DEFAULT_ORDER);
    order
        .split(',')
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect()
}

async fn from_run(store: &dyn TrackingStore, source: &RunSource) -> Result<Found, ResolveError> {
    let experiment = experiment(store, &source.experiment).await?;
    let query = RunQuery {
        experiment_ids: vec![experiment.experiment_id.clone()],
        filter: run_filter(source),
        order_by: run_order(source),
        max_results: 1,
    };
    let runs = store.search_runs(&query).await?;
    let Some(run) = runs.into_iter().next() else {
        return Err(ResolveError::NoRun {
            experiment: source.experiment.clone(),
            filter: query.filter,
        });
    };
    let (uri, model_id, mut warnings) = model_of_run(store, &run, source.model.as_deref()).await?;
    warnings.extend(preflight(store, &uri, model_id.as_deref(), Some(&run)).await?);
    Ok(Found {
        resolution: Resolution {
            source_uri: uri.clone(),
            run_id: Some(run.info.run_id.clone()),
            experiment_id: Some(experiment.experiment_id),
            model_id,
            metrics: run.metrics.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            warnings,
            ..Resolution::default()
        },
        source_uri: uri,
        run: Some(run),
    })
}

/// The model URI of a run, its logged-model id (MLflow 3), and warnings.
async fn model_of_run(
    store: &dyn TrackingStore,
    run: &Run,
    name: Option<&str>,
) -> Result<(String, Option<String>, Vec<String>), ResolveError> {
    let run_id = &run.info.run_id;
    let mut logged: Vec<LoggedModel> = Vec::new();
    for id in &run.model_outputs {
        if let Some(model) = store.logged_model(id).await? {
            logged.push(model);
        }
    }
    let candidates: Vec<&LoggedModel> = logged
        .iter()
        .filter(|m| name.is_none_or(|n| m.name == n))
        .collect();
    let mut warnings = Vec::new();
    if let Some(last) = candidates.last() {
        let mut names: Vec<&str> = candidates.iter().map(|m| m.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        if names.len() > 1 {
            return Err(ResolveError::AmbiguousModel {
                run_id: run_id.clone(),
                names: names.join(", "),
            });
        }
        if candidates.len() > 1 {
            warnings.push(format!(
                "run {run_id} logged {} models named {:?}; taking the last one, {}",
                candidates.len(),
                last.name,
                last.model_id
            ));
        }
        return Ok((
            last.artifact_uri.clone(),
            Some(last.model_id.clone()),
            warnings,
        ));
    }
    // MLflow 2 layout: the model is a folder of the run's artifacts.
    let path = name.unwrap_or("model");
    let uri = format!("{}/{path}", run.info.artifact_uri.trim_end_matches('/'));
    match store
        .list_artifacts(ArtifactOwner::Run(run_id), path)
        .await?
    {
        ArtifactListing::Listed(entries) if has_mlmodel(&entries, path) => {
            Ok((uri, None, warnings))
        }
        ArtifactListing::Listed(_) => {
            let mut detail = if logged.is_empty() {
                format!("no logged model, and no MLmodel under the artifact path {path:?}")
            } else {
                format!(
                    "its logged models are named {}, and there is no MLmodel under the artifact path {path:?}",
                    logged
                        .iter()
                        .map(|m| format!("{:?}", m.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            if name.is_none() {
                detail.push_str("; set `model:` to the artifact path or logged model name");
            }
            Err(ResolveError::NoModel {
                run_id: run_id.clone(),
                name: name.map(str::to_string),
                detail,
            })
        }
        ArtifactListing::Unavailable(why) => {
            warnings.push(format!(
                "could not list the artifacts of run {run_id} ({why}); assuming the MLflow 2 layout {uri} unchecked"
            ));
            Ok((uri, None, warnings))
        }
    }
}

fn has_mlmodel(entries: &[crate::tracking::ArtifactEntry], dir: &str) -> bool {
    let dir = dir.trim_matches('/');
    entries.iter().any(|e| {
        !e.is_dir
            && (e.path == "MLmodel"
                || e.path
                    .strip_prefix(dir)
                    .is_some_and(|rest| rest == "/MLmodel"))
    })
}

/// Checks that `uri` holds an `MLmodel`, and is the location of the logged model `model_id` when there
/// is one; returns warnings (a store that cannot be listed).
async fn preflight(
    store: &dyn TrackingStore,
    uri: &str,
    model_id: Option<&str>,
    run: Option<&Run>,
) -> Result<Vec<String>, ResolveError> {
    let (owner, path) = if let Some(id) = model_id {
        // Listing by id checks the model, not the URI: they must be one.
        if let Some(model) = store.logged_model(id).await?
            && !same_location(&model.artifact_uri, uri)
        {
            return Err(ResolveError::NotTheModel {
                uri: uri.to_string(),
                model_id: id.to_string(),
                location: model.artifact_uri,
            });
        }
        (ArtifactOwner::LoggedModel(id), String::new())
    } else if let Some(run) = run
        && let Some(rest) = uri.strip_prefix(run.info.artifact_uri.trim_end_matches('/'))
        && (rest.is_empty() || rest.starts_with('/'))
    {
        (
            ArtifactOwner::Run(&run.info.run_id),
            rest.trim_matches('/').to_string(),
        )
    } else {
        return Ok(vec![format!(
            "pre-flight skipped: {uri} is neither a logged model nor under its run's artifacts, so MLflow cannot list it"
        )]);
    };
    match store.list_artifacts(owner, &path).await {
        Ok(ArtifactListing::Listed(entries)) if has_mlmodel(&entries, &path) => Ok(vec![]),
        Ok(ArtifactListing::Listed(entries)) => Err(ResolveError::NoMlmodel {
            uri: uri.to_string(),
            found: if entries.is_empty() {
                "nothing".into()
            } else {
                entries
                    .iter()
                    .take(5)
                    .map(|e| e.path.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        }),
        Ok(ArtifactListing::Unavailable(why)) => Ok(vec![format!(
            "pre-flight: the tracking server could not list {uri} ({why}); the MLmodel was not checked"
        )]),
        Err(TrackingError::NotFound { .. }) => Err(ResolveError::NoMlmodel {
            uri: uri.to_string(),
            found: "nothing".into(),
        }),
        Err(e) => Err(e.into()),
    }
}

async fn from_registry(
    store: &dyn TrackingStore,
    source: &RegisteredSource,
) -> Result<Found, ResolveError> {
    let name = &source.name;
    let no_version = |what: String| ResolveError::NoVersion {
        name: name.clone(),
        what,
        store: store.describe(),
        hint: String::new(),
    };
    let version: ModelVersion = if let Some(alias) = &source.alias {
        match store.version_by_alias(name, alias).await? {
            Some(version) => version,
            None => return Err(hints::missing_alias(store, name, alias).await),
        }
    } else if let Some(number) = &source.version {
        let number = number.to_string();
        match store.model_version(name, &number).await? {
            Some(version) => version,
            None => {
                return Err(hints::missing_model(store, name)
                    .await
                    .unwrap_or_else(|| no_version(format!("version {number}"))));
            }
        }
    } else if let Some(stage) = &source.stage {
        let mut versions = store.latest_versions(name, stage).await?;
        versions.sort_by_key(|v| v.version.parse::<u64>().unwrap_or(0));
        match versions.pop() {
            Some(version) => version,
            None => {
                return Err(hints::missing_model(store, name)
                    .await
                    .unwrap_or_else(|| no_version(format!("version in stage {stage:?}"))));
            }
        }
    } else {
        return Err(ResolveError::NoSource);
    };
    let mut uri = store.download_uri(name, &version.version).await?;
    let mut model_id = logged_model_id_in(&version.source).or_else(|| logged_model_id_in(&uri));
    let mut run_id = version.run_id.clone();
    // The server echoes sources it does not resolve itself; resolve them as MLflow's client would.
    if let Some(id) = uri.strip_prefix("models:/").map(str::to_string)
        && id.starts_with("m-")
    {
        let model = store.logged_model(&id).await?.ok_or_else(|| {
            no_version(format!(
                "logged model {id} behind version {}",
                version.version
            ))
        })?;
        uri = model.artifact_uri;
        model_id = Some(model.model_id);
        run_id = run_id.or(model.source_run_id);
    } else if let Some(rest) = uri.strip_prefix("runs:/").map(str::to_string) {
        let (rid, path) = rest.split_once('/').unwrap_or((rest.as_str(), ""));
        let run = store
            .run(rid)
            .await?
            .ok_or_else(|| no_version(format!("run {rid} behind version {}", version.version)))?;
        uri = format!("{}/{}", run.info.artifact_uri.trim_end_matches('/'), path)
            .trim_end_matches('/')
            .to_string();
        run_id = Some(rid.to_string());
    }
    if run_id.is_none()
        && let Some(id) = &model_id
        && let Some(model) = store.logged_model(id).await?
    {
        run_id = model.source_run_id;
    }
    let run = match &run_id {
        Some(id) => store.run(id).await?,
        None => None,
    };
    let warnings = preflight(store, &uri, model_id.as_deref(), run.as_ref()).await?;
    Ok(Found {
        resolution: Resolution {
            source_uri: uri.clone(),
            run_id: run_id.clone(),
            experiment_id: run.as_ref().map(|r| r.info.experiment_id.clone()),
            model_version: Some(version.version.clone()),
            model_id,
            metrics: run
                .as_ref()
                .map(|r| r.metrics.iter().map(|(k, v)| (k.clone(), *v)).collect())
                .unwrap_or_default(),
            warnings,
            ..Resolution::default()
        },
        source_uri: uri,
        run,
    })
}

/// `m-<32 hex>` as a path segment (or after `models:/`).
pub(crate) fn logged_model_id_in(uri: &str) -> Option<String> {
    uri.split(['/', ':', '@'])
        .find(|seg| {
            seg.len() == 34
                && seg.starts_with("m-")
                && seg[2..].bytes().all(|b| b.is_ascii_hexdigit())
        })
        .map(str::to_string)
}

/// A 32-hex path segment: a run id.
fn run_id_in(uri: &str) -> Option<String> {
    uri.split('/')
        .find(|seg| seg.len() == 32 && seg.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_string)
}

/// Applies the first `uriRewrite` whose `from` prefixes `uri`.
pub(crate) fn rewrite(uri: &str, rewrites: &[UriRewrite]) -> String {
    for r in rewrites {
        if let Some(rest) = uri.strip_prefix(r.from.as_str()) {
            return format!("{}{rest}", r.to);
        }
    }
    uri.to_string()
}

/// True when two locations are the same folder: trailing slashes aside, and `file://` aside for a local
/// path.
fn same_location(a: &str, b: &str) -> bool {
    fn normal(uri: &str) -> &str {
        let uri = uri.trim_end_matches('/');
        uri.strip_prefix("file://")
            .filter(|path| path.starts_with('/'))
            .unwrap_or(uri)
    }
    normal(a) == normal(b)
}

/// Refuses a location that cannot be deployed as it is: `source` is what MLflow reported, `uri` what
/// would be written (after `uriRewrite`). A `..` segment is always refused; a local path or `file:` URI,
/// and a scheme other than the current value's, unless the target allows a scheme change.
pub(crate) fn check_location(
    source: &str,
    uri: &str,
    request: &TargetRequest,
    rewrites: &[UriRewrite],
) -> Result<(), ResolveError> {
    let refuse = |problem: String| ResolveError::Location {
        uri: uri.to_string(),
        problem,
    };
    if has_parent_segment(source) || has_parent_segment(uri) {
        return Err(refuse(format!(
            "MLflow reports the location {source}, whose `..` segment may point outside the artifact store; fix the artifact location of the experiment (or the source of the model version) in MLflow"
        )));
    }
    if request.allow_scheme_change {
        return Ok(());
    }
    let current = request.current_uri.trim();
    let new_scheme = scheme_of(uri);
    let problem = if matches!(new_scheme.as_deref(), None | Some("file")) {
        "it is a local path, which the serving side cannot read".to_string()
    } else if !current.is_empty() && scheme_of(current) != new_scheme {
        format!(
            "its scheme {}: differs from the current value's ({current})",
            new_scheme.as_deref().unwrap_or_default()
        )
    } else {
        return Ok(());
    };
    let fix = match rewrites
        .iter()
        .find(|r| source.starts_with(r.from.as_str()))
    {
        Some(rule) => format!(
            "MLflow reports {source} and the uriRewrite rule {{from: {:?}, to: {:?}}} made it this; correct that rule",
            rule.from, rule.to
        ),
        None => {
            let (from, to) = suggested_rule(source, current);
            let unmatched = match rewrites.len() {
                0 => String::new(),
                1 => " (the one uriRewrite rule does not match it)".to_string(),
                n => format!(" (none of the {n} uriRewrite rules matches it)"),
            };
            format!(
                "MLflow reports it as is{unmatched}; add a uriRewrite rule that maps it to what the serving side reads, e.g. {{from: {from:?}, to: {to:?}}}"
            )
        }
    };
    Err(refuse(format!(
        "{problem}. {fix}, or set `allowSchemeChange: true` on the target to deploy it as it is"
    )))
}

/// True when a path segment of `uri` is `..` (also percent-encoded).
fn has_parent_segment(uri: &str) -> bool {
    uri.split(['/', '\\'])
        .any(|segment| segment.to_ascii_lowercase().replace("%2e", ".") == "..")
}

/// The scheme of a URI, lower-cased; `None` for a plain path (a one-letter "scheme" is a Windows drive).
fn scheme_of(uri: &str) -> Option<String> {
    let (scheme, _) = uri.split_once(':')?;
    let mut chars = scheme.chars();
    let valid = scheme.len() > 1
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then(|| scheme.to_ascii_lowercase())
}

/// The `uriRewrite` rule (`from`, `to`) that would map `source` to where `current` lives: the artifact
/// roots of both where MLflow's layout shows them ([`artifact_root`]), else the scheme and host.
fn suggested_rule(source: &str, current: &str) -> (String, String) {
    let from = artifact_root(source)
        .map(str::to_string)
        .unwrap_or_else(|| scheme_and_host(source));
    let to = artifact_root(current)
        .map(str::to_string)
        .or_else(|| scheme_of(current).map(|_| scheme_and_host(current)))
        .unwrap_or_else(|| "s3://<bucket>/<prefix>/".to_string());
    (from, to)
}

/// The part of `uri` before `models/m-<id>` (a logged model) or `<run id>/artifacts` (a run), and
/// before the experiment id in front of them when there is one: the server's artifact root, or the
/// experiment's own artifact location.
fn artifact_root(uri: &str) -> Option<&str> {
    let mut segments = Vec::new();
    let mut offset = 0;
    for segment in uri.split('/') {
        segments.push((offset, segment));
        offset += segment.len() + 1;
    }
    let i = (1..segments.len().saturating_sub(1)).find(|&i| {
        let (here, next) = (segments[i].1, segments[i + 1].1);
        let logged_model = here == "models" && next.starts_with("m-");
        let run =
            here.len() == 32 && here.bytes().all(|b| b.is_ascii_hexdigit()) && next == "artifacts";
        logged_model || run
    })?;
    let before = segments[i - 1].1;
    let experiment_id = !before.is_empty() && before.bytes().all(|b| b.is_ascii_digit());
    let start = if experiment_id && i >= 2 {
        segments[i - 1].0
    } else {
        segments[i].0
    };
    Some(&uri[..start])
}

/// `scheme://host/` of a URI, `scheme:/` without a host, or the folder of a plain path.
fn scheme_and_host(uri: &str) -> String {
    if let Some((scheme, rest)) = uri.split_once("://") {
        let host = rest.split('/').next().unwrap_or_default();
        return format!("{scheme}://{host}/");
    }
    if let Some(scheme) = scheme_of(uri) {
        return format!("{scheme}:/");
    }
    match uri.trim_end_matches('/').rsplit_once('/') {
        Some((folder, _)) => format!("{folder}/"),
        None => uri.to_string(),
    }
}

/// Gives `new` the current value's trailing-slash convention, so the diff shows only what changed.
pub(crate) fn keep_slash_convention(current: &str, new: &str) -> String {
    if current.is_empty() {
        return new.to_string();
    }
    match (current.ends_with('/'), new.ends_with('/')) {
        (true, false) => format!("{new}/"),
        (false, true) => new.trim_end_matches('/').to_string(),
        _ => new.to_string(),
    }
}

pub(crate) async fn find_deployed(
    store: &dyn TrackingStore,
    current: &str,
) -> Result<Deployed, ResolveError> {
    let mut run_id = None;
    if let Some(id) = logged_model_id_in(current) {
        match store.logged_model(&id).await? {
            Some(model) => match model.source_run_id {
                Some(r) => run_id = Some(r),
                None => {
                    return Ok(Deployed::Missing(format!(
                        "the deployed logged model {id} has no source run"
                    )));
                }
            },
            None => {
                return Ok(Deployed::Missing(format!(
                    "the deployed logged model {id} is not in the tracking store"
                )));
            }
        }
    } else if let Some(reference) = current.strip_prefix("models:/") {
        let reference = reference.trim_end_matches('/');
        let version = if let Some((name, alias)) = reference.split_once('@') {
            store.version_by_alias(name, alias).await?
        } else if let Some((name, number)) = reference.rsplit_once('/') {
            store.model_version(name, number).await?
        } else {
            None
        };
        run_id = version.and_then(|v| v.run_id);
    } else if let Some(id) = run_id_in(current) {
        run_id = Some(id);
    }
    let Some(run_id) = run_id else {
        return Ok(Deployed::Unknown);
    };
    Ok(match store.run(&run_id).await? {
        Some(run) => Deployed::Run(Box::new(run)),
        None => Deployed::Missing(format!(
            "the deployed run {run_id} is not in the tracking store"
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrite_and_trailing_slash() {
        let rw = vec![UriRewrite {
            from: "mlflow-artifacts:/".into(),
            to: "s3://mlflow-artifacts/".into(),
        }];
        let new = rewrite("mlflow-artifacts:/29/models/m-1/artifacts", &rw);
        assert_eq!(new, "s3://mlflow-artifacts/29/models/m-1/artifacts");
        assert_eq!(
            keep_slash_convention("s3://x/old/", &new),
            format!("{new}/")
        );
        assert_eq!(
            keep_slash_convention("s3://x/old", "s3://y/new/"),
            "s3://y/new"
        );
        assert_eq!(keep_slash_convention("", "s3://y/new/"), "s3://y/new/");
        assert_eq!(rewrite("s3://other/x", &rw), "s3://other/x");
    }

    fn request(current: &str, allow_scheme_change: bool) -> TargetRequest {
        TargetRequest {
            target: TargetConfig {
                file: "m.yaml".into(),
                name: "m".into(),
                kind: None,
                run: None,
                registered: None,
                require: vec![],
                pinned: false,
                allow_scheme_change: None,
                path: None,
                template: None,
                document: None,
                labels: Default::default(),
            },
            current_uri: current.into(),
            allow_scheme_change,
            record: None,
        }
    }

    #[test]
    fn locations_that_cannot_be_deployed_are_refused() {
        let current = "s3://mlflow-artifacts/1/models/m-0/artifacts/";
        let check = |source: &str, allow: bool, rewrites: &[UriRewrite]| {
            let uri = keep_slash_convention(current, &rewrite(source, rewrites));
            check_location(source, &uri, &request(current, allow), rewrites)
                .map_err(|e| e.to_string())
        };
        assert!(check("s3://mlflow-artifacts/2/models/m-1/artifacts", false, &[]).is_ok());
        for dots in [
            "s3://bucket/../../etc",
            "s3://b/a/%2E%2e/etc",
            "/srv/a/../../etc",
        ] {
            let err = check(dots, true, &[]).unwrap_err();
            assert!(err.contains("`..` segment"), "{dots}: {err}");
        }
        for local in [
            "file:///etc",
            "/etc/passwd",
            "file:/srv/mlruns/1/models/m-1/artifacts",
        ] {
            let err = check(local, false, &[]).unwrap_err();
            assert!(err.contains("a local path"), "{local}: {err}");
            assert!(err.contains("allowSchemeChange: true"), "{local}: {err}");
            assert!(check(local, true, &[]).is_ok(), "{local}");
        }
        let err = check("mlflow-artifacts:/7/models/m-9/artifacts", false, &[]).unwrap_err();
        assert!(
            err.contains(r#"e.g. {from: "mlflow-artifacts:/", to: "s3://mlflow-artifacts/"}"#),
            "{err}"
        );
        assert!(
            err.contains("its scheme mlflow-artifacts: differs"),
            "{err}"
        );
        let rules = [UriRewrite {
            from: "/srv/other/".into(),
            to: "s3://other/".into(),
        }];
        let err = check("/srv/mlflow/7/models/m-9/artifacts", false, &rules).unwrap_err();
        assert!(
            err.contains("the one uriRewrite rule does not match it"),
            "{err}"
        );
        assert!(
            err.contains(r#"{from: "/srv/mlflow/", to: "s3://mlflow-artifacts/"}"#),
            "{err}"
        );
        // The rule maps the local root: accepted.
        let rules = [UriRewrite {
            from: "/srv/mlflow/".into(),
            to: "s3://mlflow-artifacts/".into(),
        }];
        assert!(check("/srv/mlflow/7/models/m-9/artifacts", false, &rules).is_ok());
        // A rule that maps to another scheme is named.
        let rules = [UriRewrite {
            from: "/srv/mlflow/".into(),
            to: "gs://models/".into(),
        }];
        let err = check("/srv/mlflow/7/models/m-9/artifacts", false, &rules).unwrap_err();
        assert!(
            err.contains(r#"the uriRewrite rule {from: "/srv/mlflow/", to: "gs://models/"}"#),
            "{err}"
        );
        // No current value: nothing to compare the scheme with.
        let uri = "gs://b/1/models/m-1/artifacts";
        assert!(check_location(uri, uri, &request("", false), &[]).is_ok());
    }

    #[test]
    fn schemes_and_artifact_roots() {
        assert_eq!(scheme_of("S3://b/x").as_deref(), Some("s3"));
        assert_eq!(
            scheme_of("mlflow-artifacts:/1").as_deref(),
            Some("mlflow-artifacts")
        );
        assert_eq!(scheme_of("/etc/passwd"), None);
        assert_eq!(scheme_of("C:/models"), None);
        assert_eq!(
            artifact_root("s3://b/prefix/12/models/m-0123/artifacts/"),
            Some("s3://b/prefix/")
        );
        assert_eq!(
            artifact_root("/srv/mlruns/3/0123456789abcdef0123456789abcdef/artifacts/model"),
            Some("/srv/mlruns/")
        );
        assert_eq!(artifact_root("s3://b/some/model"), None);
        assert_eq!(
            artifact_root("/srv/exp-location/models/m-0123/artifacts"),
            Some("/srv/exp-location/")
        );
        assert_eq!(scheme_and_host("gs://bucket/a/b"), "gs://bucket/");
        assert_eq!(scheme_and_host("/srv/models/x"), "/srv/models/");
        assert!(same_location("file:///srv/m/", "/srv/m"));
        assert!(!same_location("s3://a/m", "s3://a/n"));
    }

    #[test]
    fn ids_in_uris() {
        let id = "m-0123456789abcdef0123456789abcdef";
        assert_eq!(
            logged_model_id_in(&format!("s3://mlflow-artifacts/29/models/{id}/artifacts/")),
            Some(id.to_string())
        );
        assert_eq!(
            logged_model_id_in(&format!("models:/{id}")),
            Some(id.to_string())
        );
        assert_eq!(logged_model_id_in("s3://b/m-123/artifacts"), None);
        assert_eq!(
            run_id_in("s3://b/1/0123456789abcdef0123456789abcdef/artifacts/model"),
            Some("0123456789abcdef0123456789abcdef".into())
        );
    }

    #[test]
    fn filter_and_order() {
        let src = RunSource {
            experiment: "e".into(),
            filter: Some("params.v = 'a'".into()),
            order_by: Some("metrics.acc DESC, attributes.start_time DESC".into()),
            model: None,
        };
        assert_eq!(
            run_filter(&src),
            "attributes.status = 'FINISHED' AND params.v = 'a'"
        );
        assert_eq!(
            run_order(&src),
            vec!["metrics.acc DESC", "attributes.start_time DESC"]
        );
    }
}
