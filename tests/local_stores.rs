//! The local stores against MLflow itself: the same runs, models and registry are written by MLflow's
//! Python client into a real MLflow server (sqlite backend), a sqlite database and an `mlruns` folder; the
//! same queries (filters with every operator, orderings with ties, NaN and missing metrics, deleted and
//! unfinished runs, aliases, stages, versions, download URIs) are asked through MLflow and through
//! modelbump's REST, sqlite and file backends, and the answers must be identical. The server test is the
//! differential one: REST and `SqliteStore` read the very same database file.

use std::path::Path;

use modelbump::env::Env;
use modelbump::tracking::filestore::FileStore;
use modelbump::tracking::rest::{Connection, RestStore};
use modelbump::tracking::sqlite::SqliteStore;
use modelbump::tracking::{ArtifactListing, ArtifactOwner, RunQuery, TrackingStore};
use serde_json::{Value, json};

use crate::support::local_stores::{answers, mlflow_python, seed};
use crate::support::mlflow::{MlflowServer, ServerOptions};

/// The queries: MLflow's filter language over metrics, params, tags and attributes; orderings; the
/// registry. `seeded` gives the ids the store assigned.
pub fn queries(seeded: &Value) -> Value {
    let exp = |name: &str| seeded["experiments"][name].as_str().unwrap().to_string();
    let run = |name: &str| seeded["runs"][name].as_str().unwrap().to_string();
    let a = vec![exp("exp-a")];
    let ab = vec![exp("exp-a"), exp("exp-b")];
    let mut qs = Vec::new();
    let filters = [
        "",
        "attributes.status = 'FINISHED'",
        "status != 'FINISHED'",
        "metrics.acc > 0.85",
        "metrics.acc >= 0.9 AND attributes.status = 'FINISHED'",
        "metrics.acc < 0.9",
        "metrics.acc <= 0.9",
        "metrics.acc = 0.9",
        "metrics.acc != 0.9",
        "metrics.acc > -1",
        "metrics.loss <= 0.25 and metrics.acc >= 0",
        "params.variant = 'enhanced'",
        "params.variant != 'baseline'",
        "params.variant LIKE 'enh%'",
        "params.variant ILIKE 'enh%'",
        "params.variant LIKE 'base_line'",
        "params.variant ILIKE '%V2'",
        "params.lr = \"0.001\"",
        "tags.team = 'ml'",
        "tags.team ILIKE 'ML'",
        "tags.team LIKE 'ml%'",
        "tags.team LIKE 'ML%'",
        "tags.team LIKE 'ml_%'",
        "tags.tier IS NULL",
        "tags.tier IS NOT NULL AND params.lr IS NOT NULL",
        "tags.`team` = 'ML'",
        "tags.mlflow.runName = 'golf'",
        "tags.\"mlflow.runName\" LIKE 'g%'",
        "attributes.run_name = 'alpha'",
        "attributes.run_name LIKE '%o%'",
        "run_name ILIKE 'ECHO'",
        "attributes.start_time >= 2000 AND attributes.start_time < 7000",
        "attributes.end_time > 2600",
        "created = 2000",
        "attributes.artifact_uri LIKE '%artifacts'",
        "attributes.user_id != 'nobody'",
        // refused by MLflow and by the local stores alike
        "metrics.acc > 0.5 OR metrics.acc < 0.1",
        "params.lr > '0.1'",
        "attributes.colour = 'red'",
        "metrics.acc > 'high'",
    ];
    for f in filters {
        qs.push(json!({"op": "search", "experiment_ids": a, "filter": f}));
    }
    qs.push(json!({"op": "search", "experiment_ids": a,
        "filter": format!("attributes.run_id IN ('{}', '{}')", run("alpha"), run("bravo"))}));
    qs.push(json!({"op": "search", "experiment_ids": a,
        "filter": format!("attributes.run_id NOT IN ('{}')", run("alpha"))}));
    qs.push(
        json!({"op": "search", "experiment_ids": a, "filter": "params.variant IN ('enhanced')"}),
    );
    let orders: [&[&str]; 12] = [
        &["tags.mlflow.runName DESC"],
        &["metrics.acc DESC"],
        &["metrics.acc ASC"],
        &["metrics.acc"],
        &["attributes.start_time ASC"],
        &["attributes.start_time DESC"],
        &["params.variant ASC", "metrics.loss DESC"],
        &["tags.team DESC"],
        &["attributes.run_name"],
        &["metrics.loss DESC", "attributes.end_time"],
        &["attributes.status desc"],
        &["metrics.acc DOWN"],
    ];
    for o in orders {
        qs.push(json!({"op": "search", "experiment_ids": ab, "filter": "", "order_by": o}));
        qs.push(
            json!({"op": "search", "experiment_ids": a, "filter": "attributes.status = 'FINISHED'",
            "order_by": o, "max_results": 2}),
        );
    }
    qs.push(
        json!({"op": "search", "experiment_ids": ab, "filter": "metrics.acc > 0", "max_results": 1,
        "order_by": ["metrics.acc DESC"]}),
    );
    for name in seeded["runs"].as_object().unwrap().keys() {
        qs.push(json!({"op": "run", "run_id": run(name)}));
    }
    qs.push(json!({"op": "run", "run_id": "0123456789abcdef0123456789abcdef"}));
    for id in seeded["models"].as_object().unwrap().values() {
        qs.push(json!({"op": "logged_model", "model_id": id}));
    }
    qs.push(json!({"op": "logged_model", "model_id": "m-00000000000000000000000000000000"}));
    for (name, path) in [
        ("hotel", ""),
        ("hotel", "model"),
        ("alpha", ""),
        ("hotel", "nothing-here"),
    ] {
        qs.push(json!({"op": "artifacts", "run_id": run(name), "path": path}));
    }
    for (name, path) in [("alpha", ""), ("bravo", "")] {
        qs.push(json!({"op": "model_artifacts", "model_id": seeded["models"][name], "path": path}));
    }
    for alias in ["champion", "challenger", "nope", "latest", "Latest"] {
        qs.push(json!({"op": "alias", "name": "fin-model", "alias": alias}));
    }
    qs.push(json!({"op": "alias", "name": "no-such-model", "alias": "champion"}));
    qs.push(json!({"op": "alias", "name": "empty-model", "alias": "latest"}));
    for v in ["1", "2", "3", "99"] {
        qs.push(json!({"op": "version", "name": "fin-model", "version": v}));
        qs.push(json!({"op": "download_uri", "name": "fin-model", "version": v}));
    }
    for stage in [
        "Production",
        "Staging",
        "Archived",
        "None",
        "production",
        "Live",
    ] {
        qs.push(json!({"op": "stage", "name": "fin-model", "stage": stage}));
    }
    qs.push(json!({"op": "stage", "name": "empty-model", "stage": "Production"}));
    qs.push(json!({"op": "stage", "name": "no-such-model", "stage": "Production"}));
    qs.push(json!({"op": "search", "experiment_ids": [exp("exp-gone")], "filter": ""}));
    for name in ["exp-a", "exp-b", "exp-gone", "no-such-experiment"] {
        qs.push(json!({"op": "experiment_by_name", "name": name}));
    }
    Value::Array(qs)
}

fn version_json(v: &modelbump::tracking::ModelVersion) -> Value {
    let mut aliases = v.aliases.clone();
    aliases.sort();
    json!({"name": v.name, "version": v.version, "source": v.source, "run_id": v.run_id, "status": v.status,
        "current_stage": v.current_stage, "aliases": aliases})
}

fn run_json(r: &modelbump::tracking::Run) -> Value {
    let metrics: serde_json::Map<String, Value> = r
        .metrics
        .iter()
        .map(|(k, v)| (k.clone(), if v.is_nan() { Value::Null } else { json!(v) }))
        .collect();
    let nan: Vec<&String> = r
        .metrics
        .iter()
        .filter(|(_, v)| v.is_nan())
        .map(|(k, _)| k)
        .collect();
    json!({"run_id": r.info.run_id, "run_name": r.info.run_name, "experiment_id": r.info.experiment_id,
        "status": r.info.status, "start_time": r.info.start_time, "end_time": r.info.end_time,
        "artifact_uri": r.info.artifact_uri, "lifecycle_stage": r.info.lifecycle_stage, "metrics": metrics,
        "metrics_nan": nan, "params": r.params, "tags": r.tags, "model_outputs": r.model_outputs})
}

/// The store's answer to one query, in the shape `local_stores.py` gives MLflow's.
pub async fn answer(store: &dyn TrackingStore, q: &Value) -> Value {
    let s = |k: &str| q[k].as_str().unwrap_or_default().to_string();
    let result: Result<Value, String> = async {
        let e = |e: modelbump::tracking::TrackingError| e.to_string();
        Ok(match q["op"].as_str().unwrap() {
            "search" => {
                let query = RunQuery {
                    experiment_ids: serde_json::from_value(q["experiment_ids"].clone()).unwrap(),
                    filter: s("filter"),
                    order_by: serde_json::from_value(q.get("order_by").cloned().unwrap_or(json!([]))).unwrap(),
                    max_results: q.get("max_results").and_then(Value::as_u64).unwrap_or(1000) as usize,
                };
                let runs = store.search_runs(&query).await.map_err(e)?;
                json!(runs.iter().map(|r| r.info.run_id.clone()).collect::<Vec<_>>())
            }
            "run" => store.run(&s("run_id")).await.map_err(e)?.map(|r| run_json(&r)).into(),
            "alias" => store
                .version_by_alias(&s("name"), &s("alias"))
                .await
                .map_err(e)?
                .map(|v| version_json(&v))
                .into(),
            "version" => store
                .model_version(&s("name"), &s("version"))
                .await
                .map_err(e)?
                .map(|v| version_json(&v))
                .into(),
            "stage" => json!(
                store
                    .latest_versions(&s("name"), &s("stage"))
                    .await
                    .map_err(e)?
                    .iter()
                    .map(version_json)
                    .collect::<Vec<_>>()
            ),
            "download_uri" => json!(store.download_uri(&s("name"), &s("version")).await.map_err(e)?),
            "artifacts" | "model_artifacts" => {
                let id = s(if q["op"] == "artifacts" { "run_id" } else { "model_id" });
                let owner = if q["op"] == "artifacts" {
                    ArtifactOwner::Run(&id)
                } else {
                    ArtifactOwner::LoggedModel(&id)
                };
                match store.list_artifacts(owner, &s("path")).await.map_err(e)? {
                    ArtifactListing::Listed(entries) => {
                        let mut v: Vec<(String, bool)> = entries.into_iter().map(|e| (e.path, e.is_dir)).collect();
                        v.sort();
                        json!(v)
                    }
                    ArtifactListing::Unavailable(why) => return Err(format!("unavailable: {why}")),
                }
            }
            "logged_model" => store
                .logged_model(&s("model_id"))
                .await
                .map_err(e)?
                .map(|m| {
                    json!({"model_id": m.model_id, "name": m.name, "experiment_id": m.experiment_id,
                        "source_run_id": m.source_run_id, "artifact_uri": m.artifact_uri})
                })
                .into(),
            "experiment_by_name" => store
                .experiment_by_name(&s("name"))
                .await
                .map_err(e)?
                .map(|x| {
                    json!({"experiment_id": x.experiment_id, "name": x.name,
                        "artifact_location": x.artifact_location, "lifecycle_stage": x.lifecycle_stage})
                })
                .into(),
            op => panic!("unknown op {op}"),
        })
    }
    .await;
    match result {
        Ok(v) => json!({"ok": v}),
        Err(message) => json!({"error": message}),
    }
}

/// Both sides refused, or both gave the same value.
pub fn same(reference: &Value, ours: &Value) -> bool {
    match (reference.get("error"), ours.get("error")) {
        (Some(_), Some(_)) => true,
        (None, None) => reference == ours,
        _ => false,
    }
}

/// Compares every answer; on a difference, lists all of them with the query.
pub async fn assert_parity(
    label: &str,
    store: &dyn TrackingStore,
    queries: &Value,
    reference: &[Value],
) {
    let qs = queries.as_array().unwrap();
    assert_eq!(qs.len(), reference.len());
    let mut diffs = Vec::new();
    let mut refused = 0;
    for (q, r) in qs.iter().zip(reference) {
        let ours = answer(store, q).await;
        if ours.get("error").is_some() {
            refused += 1;
        }
        if !same(r, &ours) {
            diffs.push(format!("query {q}\n  mlflow: {r}\n  ours:   {ours}"));
        }
    }
    assert!(
        diffs.is_empty(),
        "{label}: {} of {} answers differ:\n{}",
        diffs.len(),
        qs.len(),
        diffs.join("\n")
    );
    // The queries must exercise both answers and refusals, or the comparison proves little.
    assert!(
        refused >= 5 && refused < qs.len() / 2,
        "{label}: {refused} refusals"
    );
    eprintln!(
        "{label}: {} answers identical ({refused} refusals)",
        qs.len()
    );
}

fn assert_searches_return_runs(reference: &[Value], queries: &Value) {
    let non_empty = queries
        .as_array()
        .unwrap()
        .iter()
        .zip(reference)
        .filter(|(q, r)| q["op"] == "search" && r["ok"].as_array().is_some_and(|a| !a.is_empty()))
        .count();
    assert!(
        non_empty > 30,
        "only {non_empty} searches found runs: the seed is not what the queries expect"
    );
}

/// Seeds the store at `uri` with MLflow's client and asks MLflow the queries; returns the queries and
/// MLflow's answers, checked to find runs (so that an empty seed cannot pass as parity).
fn mlflow_reference(python: &Path, uri: &str, cwd: &Path) -> (Value, Vec<Value>) {
    let seeded = seed(python, uri, cwd);
    let qs = queries(&seeded);
    let reference = answers(python, uri, cwd, &qs);
    assert_searches_return_runs(&reference, &qs);
    (qs, reference)
}

fn sqlite_uri(path: &Path) -> String {
    format!("sqlite:///{}", path.display())
}

#[tokio::test]
async fn sqlite_store_reading_a_servers_database_answers_as_its_rest_api() {
    let python = mlflow_python();
    let server = MlflowServer::start(ServerOptions::default());
    let (qs, reference) = mlflow_reference(&python, &server.url, &server.dir);
    let rest = RestStore::new(
        Connection::from_parts(
            &server.url,
            &Env::from_pairs(Vec::<(String, String)>::new()),
        )
        .unwrap(),
    )
    .unwrap();
    assert_parity("REST", &rest, &qs, &reference).await;
    // The server keeps writing its database (and may hold it open): the reader opens it read-only beside it.
    let sqlite = SqliteStore::open(&server.dir.join("mlflow.db")).unwrap();
    assert_parity("sqlite beside the server", &sqlite, &qs, &reference).await;
    // And answer for answer against the REST backend itself.
    for q in qs.as_array().unwrap() {
        let (a, b) = (answer(&rest, q).await, answer(&sqlite, q).await);
        assert!(same(&a, &b), "query {q}\n  REST:   {a}\n  sqlite: {b}");
    }
}

#[tokio::test]
async fn sqlite_store_answers_as_mlflow_does() {
    let python = mlflow_python();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mlflow.db");
    let (qs, reference) = mlflow_reference(&python, &sqlite_uri(&db), dir.path());
    let before = std::fs::read(&db).unwrap();
    let store = SqliteStore::open(&db).unwrap();
    assert_parity("sqlite", &store, &qs, &reference).await;
    drop(store);
    assert_eq!(
        before,
        std::fs::read(&db).unwrap(),
        "the sqlite store must not write"
    );
}

#[tokio::test]
async fn file_store_answers_as_mlflow_does() {
    let python = mlflow_python();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    let uri = url::Url::from_file_path(&root).unwrap().to_string();
    let (qs, reference) = mlflow_reference(&python, &uri, dir.path());
    let store = FileStore::open(&root).unwrap();
    assert_parity("file store", &store, &qs, &reference).await;
}

#[test]
fn missing_stores_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let e = SqliteStore::open(&dir.path().join("nope.db"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("nope.db") && e.contains("MLFLOW_TRACKING_URI"),
        "{e}"
    );
    std::fs::write(dir.path().join("other.db"), b"").unwrap();
    let e = SqliteStore::open(&dir.path().join("other.db"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("not an MLflow tracking database"), "{e}");
    let e = FileStore::open(&dir.path().join("mlruns"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("mlruns") && e.contains("MLFLOW_TRACKING_URI"),
        "{e}"
    );
}

/// The quickstart's shipped store, read by the file store and judged by the resolver: the baseline
/// follows the newest finished baseline run (not the newer failed one), the enhanced predictor the
/// `champion` alias; MLflow 3 logged-model locations, the manifest's trailing slash kept.
#[tokio::test]
async fn quickstart_store_resolves_to_the_newest_models() {
    use modelbump::resolve::{TargetRequest, resolve_all};
    let fixtures = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    let (config, _) = modelbump::config::Config::load(&fixtures, None).unwrap();
    let store = std::sync::Arc::new(FileStore::open(&fixtures.join("mlruns")).unwrap());
    let requests = config
        .targets
        .iter()
        .zip([
            "s3://mlflow-artifacts/29/models/m-63118756949141cba59ab87e90e8a96a/artifacts/",
            "s3://mlflow-artifacts/29/models/m-d64ffcb77a684fbfa8597e439c920a07/artifacts/",
        ])
        .map(|(t, current)| TargetRequest {
            target: t.clone(),
            current_uri: current.to_string(),
            allow_scheme_change: t.allows_scheme_change(&config),
            record: None,
        })
        .collect();
    let results = resolve_all(store, requests, &config.uri_rewrite, 4).await;
    let got: Vec<(String, Option<String>, Option<String>)> = results
        .into_iter()
        .map(|r| {
            let r = r.unwrap();
            assert_eq!(r.blocked, None);
            (r.uri, r.run_id, r.model_version)
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "s3://mlflow-artifacts/29/models/m-7f3c2a91d4e84b6f9a0c5e1d2b3a4f56/artifacts/"
                    .to_string(),
                Some("3d2a7e6c1f4b4a8d0c9e5f3a2b1c0d9e".to_string()),
                None
            ),
            (
                "s3://mlflow-artifacts/29/models/m-a1b2c3d4e5f647188a9b0c1d2e3f4a5b/artifacts/"
                    .to_string(),
                Some("4e3b8f7d2a5c4b9e1d0f6a4b3c2d1e0f".to_string()),
                Some("2".to_string())
            ),
        ]
    );
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Runs `plan -o json` (which must succeed) in `repo` with `cmd`'s environment; returns the targets of
/// its report: (name, status, newUri).
fn planned(mut cmd: assert_cmd::Command, repo: &Path) -> Vec<(String, String, String)> {
    let out = cmd
        .current_dir(repo)
        .args(["plan", "-o", "json"])
        .output()
        .unwrap();
    crate::support::assert_success(&out);
    let report: Value = serde_json::from_slice(&out.stdout).expect("plan -o json prints JSON");
    report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let s = |k: &str| t[k].as_str().unwrap_or_default().to_string();
            (s("name"), s("status"), s("newUri"))
        })
        .collect()
}

/// With no tracking URI anywhere, `plan` reads `./mlruns` as MLflow 3 would, and writes nothing.
#[test]
fn plan_without_a_tracking_uri_reads_mlruns_in_the_current_folder() {
    let fixtures = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(repo.join("k8s/base")).unwrap();
    let manifest = repo.join("k8s/base/financial-predictor-ab-test.yaml");
    std::fs::copy(fixtures.join("financial-predictor-ab-test.yaml"), &manifest).unwrap();
    std::fs::copy(fixtures.join("modelbump.yaml"), repo.join("modelbump.yaml")).unwrap();
    copy_tree(&fixtures.join("mlruns"), &repo.join("mlruns"));
    let before = std::fs::read(&manifest).unwrap();
    assert_eq!(
        planned(crate::support::modelbump(tmp.path()), &repo),
        [
            (
                "baseline-predictor".to_string(),
                "changed".to_string(),
                "s3://mlflow-artifacts/29/models/m-7f3c2a91d4e84b6f9a0c5e1d2b3a4f56/artifacts/"
                    .to_string()
            ),
            (
                "enhanced-predictor".to_string(),
                "changed".to_string(),
                "s3://mlflow-artifacts/29/models/m-a1b2c3d4e5f647188a9b0c1d2e3f4a5b/artifacts/"
                    .to_string()
            ),
        ]
    );
    assert_eq!(before, std::fs::read(&manifest).unwrap());
    // An empty folder has no default store: the error says what to set.
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(empty.join("k8s/base")).unwrap();
    for f in [
        "modelbump.yaml",
        "k8s/base/financial-predictor-ab-test.yaml",
    ] {
        std::fs::copy(repo.join(f), empty.join(f)).unwrap();
    }
    let out = crate::support::modelbump(tmp.path())
        .current_dir(&empty)
        .args(["plan"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("MLFLOW_TRACKING_URI") && stderr.contains("mlflow.db"),
        "{stderr}"
    );
}

/// `plan` against MLflow's own sqlite database (`MLFLOW_TRACKING_URI=sqlite:///...`), no server: a run
/// target and an alias target resolve to the logged models' locations; the database is not touched.
#[test]
fn plan_reads_mlflows_sqlite_database_without_a_server() {
    let python = mlflow_python();
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("mlflow.db");
    let seeded = seed(&python, &sqlite_uri(&db), tmp.path());
    let model = |name: &str| seeded["models"][name].as_str().unwrap().to_string();
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::write(
        repo.join("models.yaml"),
        "apiVersion: mlops.seldon.io/v1alpha1\nkind: Model\nmetadata:\n  name: newest-enhanced\nspec:\n  storageUri: s3://old/a\n---\napiVersion: mlops.seldon.io/v1alpha1\nkind: Model\nmetadata:\n  name: champion\nspec:\n  storageUri: s3://old/b\n",
    )
    .unwrap();
    // The store's artifacts are local paths: mapped to the bucket the serving side reads, as a real
    // deployment does (a local path is refused otherwise).
    let root = format!("{}/mlruns/", tmp.path().canonicalize().unwrap().display());
    std::fs::write(
        repo.join("modelbump.yaml"),
        format!("targets:\n  - file: models.yaml\n    name: newest-enhanced\n    run:\n      experiment: exp-a\n      filter: \"params.variant = 'enhanced'\"\n  - file: models.yaml\n    name: champion\n    registered:\n      name: fin-model\n      alias: champion\nuriRewrite:\n  - {{from: \"{root}\", to: \"s3://mlflow-artifacts/\"}}\n"),
    )
    .unwrap();
    let before = std::fs::read(&db).unwrap();
    let mut cmd = crate::support::modelbump(tmp.path());
    cmd.env("MLFLOW_TRACKING_URI", sqlite_uri(&db));
    let artifacts = |m: String| format!("s3://mlflow-artifacts/1/models/{m}/artifacts");
    let got = planned(cmd, &repo);
    // bravo is the newest FINISHED 'enhanced' run (delta failed, india was killed); champion is version 1.
    assert_eq!(
        got[0],
        (
            "newest-enhanced".into(),
            "changed".into(),
            artifacts(model("bravo"))
        )
    );
    assert_eq!(
        got[1],
        (
            "champion".into(),
            "changed".into(),
            artifacts(model("alpha"))
        )
    );
    assert_eq!(
        before,
        std::fs::read(&db).unwrap(),
        "plan wrote to MLflow's database"
    );
}
