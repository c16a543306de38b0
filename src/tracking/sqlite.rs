//! MLflow's SQL tracking store, read directly from its sqlite file (`sqlite:///mlflow.db`).
//!
//! MLflow 3 writes to `sqlite:///mlflow.db` when no tracking URI is set, so a laptop run has no server to
//! ask. This backend opens that file read-only (`mode=ro`, never `immutable`: MLflow may be writing to it at
//! the same time, and sqlite must keep honouring its locks) and answers with the meaning of the REST API:
//! the same tables MLflow's SQLAlchemy store reads (`runs`, `latest_metrics`, `params`, `tags`, `inputs`
//! for logged-model outputs, `logged_models`, `model_versions`, `registered_model_aliases`), and the filter
//! language of [`super::filter`] in its SQL dialect. Runs are loaded per experiment and filtered in Rust
//! rather than translated into SQL: one evaluator for both local stores, checked against MLflow itself.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params_from_iter};

use super::filter::{Candidate, Dialect};
use super::local::{self, LATEST_ALIAS, check_filter, checked_stage, not_found, owner_artifacts};
use super::{
    ArtifactListing, ArtifactOwner, Experiment, LoggedModel, ModelVersion, Run, RunInfo, RunQuery,
    TrackingError, TrackingStore,
};

/// MLflow's sqlite tracking database, opened read-only.
pub struct SqliteStore {
    path: PathBuf,
    conn: Mutex<Connection>,
    /// Tables that carry MLflow's `workspace` column (3.x): only the `default` workspace is read, as a
    /// client without a workspace sees it.
    workspaced: Vec<&'static str>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

const RUN_COLUMNS: &str = "r.run_uuid, r.name, r.experiment_id, r.status, r.start_time, r.end_time, r.artifact_uri, r.lifecycle_stage, r.user_id";

impl SqliteStore {
    /// Opens `path` read-only. The file must exist and hold MLflow's schema.
    pub fn open(path: &Path) -> Result<Self, TrackingError> {
        let store = format!("sqlite:///{}", path.display());
        if !path.is_file() {
            return Err(TrackingError::Store {
                store,
                message: "no such database file; check MLFLOW_TRACKING_URI (sqlite:///ABSOLUTE/PATH or sqlite:///RELATIVE/PATH)".into(),
            });
        }
        let abs = std::fs::canonicalize(path).map_err(|e| TrackingError::Store {
            store: store.clone(),
            message: e.to_string(),
        })?;
        // A file: URI so that `mode=ro` applies; the path is percent-encoded by `url`.
        let mut uri = url::Url::from_file_path(&abs).map_err(|()| TrackingError::Store {
            store: store.clone(),
            message: "cannot turn the path into a file URI".into(),
        })?;
        uri.set_query(Some("mode=ro"));
        let conn = Connection::open_with_flags(
            uri.as_str(),
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| TrackingError::Store {
            store: store.clone(),
            message: e.to_string(),
        })?;
        // MLflow's server waits on its own writers the same way.
        let _ = conn.busy_timeout(std::time::Duration::from_secs(20));
        let store_name = format!("sqlite:///{}", abs.display());
        let sql_err = |e: rusqlite::Error| TrackingError::Store {
            store: store_name.clone(),
            message: format!("{e}; is this an MLflow tracking database?"),
        };
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(sql_err)?;
        for needed in ["experiments", "runs", "latest_metrics", "params", "tags"] {
            if !tables.iter().any(|t| t == needed) {
                return Err(TrackingError::Store {
                    store: store_name,
                    message: format!(
                        "not an MLflow tracking database (no `{needed}` table); point MLFLOW_TRACKING_URI at the file MLflow writes"
                    ),
                });
            }
        }
        let mut workspaced = Vec::new();
        for table in [
            "experiments",
            "registered_models",
            "model_versions",
            "registered_model_aliases",
        ] {
            let has: bool = conn
                .query_row(
                    "SELECT COUNT(*) FROM pragma_table_info(?1) WHERE name = 'workspace'",
                    [table],
                    |r| r.get::<_, i64>(0),
                )
                .map(|n| n > 0)
                .unwrap_or(false);
            if has {
                workspaced.push(table);
            }
        }
        Ok(Self {
            path: abs,
            conn: Mutex::new(conn),
            workspaced,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn store_err(&self, e: impl std::fmt::Display) -> TrackingError {
        TrackingError::Store {
            store: self.describe(),
            message: e.to_string(),
        }
    }

    fn ws(&self, table: &str, alias: &str) -> String {
        if self.workspaced.contains(&table) {
            format!(" AND {alias}.workspace = 'default'")
        } else {
            String::new()
        }
    }

    fn with_conn<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, TrackingError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&conn).map_err(|e| self.store_err(e))
    }

    fn experiment_where(
        &self,
        clause: &str,
        value: &dyn rusqlite::ToSql,
    ) -> Result<Option<Experiment>, TrackingError> {
        let sql = format!(
            "SELECT e.experiment_id, e.name, e.artifact_location, e.lifecycle_stage FROM experiments e WHERE {clause}{}",
            self.ws("experiments", "e")
        );
        self.with_conn(|c| {
            c.query_row(&sql, [value], |r| {
                Ok(Experiment {
                    experiment_id: r.get::<_, i64>(0)?.to_string(),
                    name: r.get(1)?,
                    artifact_location: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                    lifecycle_stage: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                })
            })
            .optional()
        })
    }

    /// Loads runs selected by `where_sql` (on alias `r`) with their metrics, params, tags and outputs.
    fn load_runs(
        &self,
        where_sql: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<Candidate>, TrackingError> {
        self.with_conn(|c| {
            let mut candidates: Vec<Candidate> = Vec::new();
            let mut index: HashMap<String, usize> = HashMap::new();
            let mut stmt = c.prepare(&format!(
                "SELECT {RUN_COLUMNS} FROM runs r WHERE {where_sql}"
            ))?;
            let mut rows = stmt.query(params_from_iter(args.iter()))?;
            while let Some(r) = rows.next()? {
                let run_id: String = r.get(0)?;
                index.insert(run_id.clone(), candidates.len());
                candidates.push(Candidate {
                    run: Run {
                        info: RunInfo {
                            run_id,
                            run_name: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                            experiment_id: r.get::<_, i64>(2)?.to_string(),
                            status: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                            start_time: r.get(4)?,
                            end_time: r.get(5)?,
                            artifact_uri: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
                            lifecycle_stage: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
                        },
                        metrics: Default::default(),
                        params: Default::default(),
                        tags: Default::default(),
                        model_outputs: Vec::new(),
                    },
                    user_id: r.get(8)?,
                    nan_metrics: Vec::new(),
                });
            }
            if candidates.is_empty() {
                return Ok(candidates);
            }
            let sub = format!("SELECT r.run_uuid FROM runs r WHERE {where_sql}");
            let metrics = format!(
                "SELECT run_uuid, key, value, is_nan FROM latest_metrics WHERE run_uuid IN ({sub})"
            );
            rows_of_runs(c, args, &index, &metrics, &mut |i, r| {
                let key: String = r.get(1)?;
                let is_nan: bool = r.get::<_, Option<bool>>(3)?.unwrap_or(false);
                let value: f64 = r.get::<_, Option<f64>>(2)?.unwrap_or(f64::NAN);
                let cand = &mut candidates[i];
                if is_nan {
                    cand.nan_metrics.push(key.clone());
                    cand.run.metrics.insert(key, f64::NAN);
                } else {
                    cand.run.metrics.insert(key, value);
                }
                Ok(())
            })?;
            for (table, is_param) in [("params", true), ("tags", false)] {
                let sql =
                    format!("SELECT run_uuid, key, value FROM {table} WHERE run_uuid IN ({sub})");
                rows_of_runs(c, args, &index, &sql, &mut |i, r| {
                    let key: String = r.get(1)?;
                    let value: String = r.get::<_, Option<String>>(2)?.unwrap_or_default();
                    let run = &mut candidates[i].run;
                    if is_param {
                        run.params.insert(key, value);
                    } else {
                        run.tags.insert(key, value);
                    }
                    Ok(())
                })?;
            }
            // MLflow 3 logged models a run produced: `inputs` rows from the run to a MODEL_OUTPUT.
            if has_table(c, "inputs")? {
                let outputs = format!(
                    "SELECT source_id, destination_id FROM inputs WHERE source_type = 'RUN_OUTPUT' \
                     AND destination_type = 'MODEL_OUTPUT' AND source_id IN ({sub}) ORDER BY rowid"
                );
                rows_of_runs(c, args, &index, &outputs, &mut |i, r| {
                    candidates[i].run.model_outputs.push(r.get(1)?);
                    Ok(())
                })?;
            }
            Ok(candidates)
        })
    }

    fn version_row(
        &self,
        name: &str,
        version: i64,
    ) -> Result<Option<(ModelVersion, Option<String>)>, TrackingError> {
        let sql = format!(
            "SELECT v.name, v.version, v.source, v.run_id, v.status, v.current_stage, v.storage_location \
             FROM model_versions v WHERE v.name = ?1 AND v.version = ?2 AND v.current_stage != 'Deleted_Internal'{}",
            self.ws("model_versions", "v")
        );
        let alias_sql = format!(
            "SELECT a.alias FROM registered_model_aliases a WHERE a.name = ?1 AND a.version = ?2{} ORDER BY a.alias",
            self.ws("registered_model_aliases", "a")
        );
        self.with_conn(|c| {
            let Some((mut mv, storage)) = c
                .query_row(&sql, rusqlite::params![name, version], |r| {
                    Ok((
                        ModelVersion {
                            name: r.get(0)?,
                            version: r.get::<_, i64>(1)?.to_string(),
                            source: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                            run_id: r.get::<_, Option<String>>(3)?.filter(|s| !s.is_empty()),
                            status: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                            current_stage: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
                            aliases: Vec::new(),
                        },
                        r.get::<_, Option<String>>(6)?,
                    ))
                })
                .optional()?
            else {
                return Ok(None);
            };
            let mut stmt = c.prepare(&alias_sql)?;
            mv.aliases = stmt
                .query_map(rusqlite::params![name, version], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            Ok(Some((mv, storage)))
        })
    }

    fn registered_model_exists(&self, name: &str) -> Result<bool, TrackingError> {
        let sql = format!(
            "SELECT COUNT(*) FROM registered_models m WHERE m.name = ?1{}",
            self.ws("registered_models", "m")
        );
        self.with_conn(|c| {
            c.query_row(&sql, [name], |r| r.get::<_, i64>(0))
                .map(|n| n > 0)
        })
    }

    fn parse_version(&self, name: &str, version: &str) -> Result<i64, TrackingError> {
        version
            .trim()
            .parse::<i64>()
            .map_err(|_| TrackingError::Invalid {
                store: self.describe(),
                what: format!("version {version:?} of registered model {name:?}"),
                message: "a version is a whole number".into(),
            })
    }
}

#[async_trait]
impl TrackingStore for SqliteStore {
    fn describe(&self) -> String {
        format!("sqlite:///{}", self.path.display())
    }

    async fn experiment_by_name(&self, name: &str) -> Result<Option<Experiment>, TrackingError> {
        self.experiment_where("e.name = ?1", &name)
    }

    async fn experiment_by_id(&self, id: &str) -> Result<Option<Experiment>, TrackingError> {
        let Ok(id) = id.trim().parse::<i64>() else {
            return Ok(None);
        };
        self.experiment_where("e.experiment_id = ?1", &id)
    }

    async fn search_runs(&self, query: &RunQuery) -> Result<Vec<Run>, TrackingError> {
        let mut ids = Vec::new();
        for id in &query.experiment_ids {
            ids.push(
                id.trim()
                    .parse::<i64>()
                    .map_err(|_| TrackingError::Invalid {
                        store: self.describe(),
                        what: "runs/search".into(),
                        message: format!("experiment id {id:?} is not a number"),
                    })?,
            );
        }
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // Validate the filter before touching the database, so a bad filter fails the same on any store.
        check_filter(query)?;
        let placeholders = vec!["?"; ids.len()].join(", ");
        let args: Vec<&dyn rusqlite::ToSql> =
            ids.iter().map(|i| i as &dyn rusqlite::ToSql).collect();
        let candidates = self.load_runs(
            &format!("r.experiment_id IN ({placeholders}) AND r.lifecycle_stage = 'active'"),
            &args,
        )?;
        local::search(candidates, query, Dialect::Sql)
    }

    async fn run(&self, run_id: &str) -> Result<Option<Run>, TrackingError> {
        Ok(self
            .load_runs("r.run_uuid = ?1", &[&run_id])?
            .into_iter()
            .next()
            .map(|c| c.run))
    }

    async fn logged_model(&self, model_id: &str) -> Result<Option<LoggedModel>, TrackingError> {
        if !self.with_conn(|c| has_table(c, "logged_models"))? {
            return Ok(None);
        }
        self.with_conn(|c| {
            c.query_row(
                "SELECT model_id, name, experiment_id, source_run_id, artifact_location FROM logged_models WHERE model_id = ?1",
                [model_id],
                |r| {
                    Ok(LoggedModel {
                        model_id: r.get(0)?,
                        name: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                        experiment_id: r.get::<_, i64>(2)?.to_string(),
                        source_run_id: r.get::<_, Option<String>>(3)?.filter(|s| !s.is_empty()),
                        artifact_uri: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                    })
                },
            )
            .optional()
        })
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
        if alias.eq_ignore_ascii_case(LATEST_ALIAS) {
            // MLflow resolves `latest` itself: the highest version that is not deleted.
            let sql = format!(
                "SELECT MAX(v.version) FROM model_versions v WHERE v.name = ?1 AND v.current_stage != 'Deleted_Internal'{}",
                self.ws("model_versions", "v")
            );
            let latest: Option<i64> =
                self.with_conn(|c| c.query_row(&sql, [name], |r| r.get(0)))?;
            return match latest {
                Some(v) => Ok(self.version_row(name, v)?.map(|(mv, _)| mv)),
                None => Ok(None),
            };
        }
        let sql = format!(
            "SELECT a.version FROM registered_model_aliases a WHERE a.name = ?1 AND a.alias = ?2{}",
            self.ws("registered_model_aliases", "a")
        );
        let version: Option<i64> =
            self.with_conn(|c| c.query_row(&sql, [name, alias], |r| r.get(0)).optional())?;
        match version {
            Some(v) => Ok(self.version_row(name, v)?.map(|(mv, _)| mv)),
            None => Ok(None),
        }
    }

    async fn model_version(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Option<ModelVersion>, TrackingError> {
        let v = self.parse_version(name, version)?;
        Ok(self.version_row(name, v)?.map(|(mv, _)| mv))
    }

    async fn latest_versions(
        &self,
        name: &str,
        stage: &str,
    ) -> Result<Vec<ModelVersion>, TrackingError> {
        let stage = checked_stage(self.describe(), name, stage)?;
        if !self.registered_model_exists(name)? {
            return Err(not_found(
                self.describe(),
                format!("registered model {name:?}"),
            ));
        }
        let sql = format!(
            "SELECT MAX(v.version) FROM model_versions v WHERE v.name = ?1 AND v.current_stage = ?2{}",
            self.ws("model_versions", "v")
        );
        let latest: Option<i64> =
            self.with_conn(|c| c.query_row(&sql, [name, stage], |r| r.get(0)))?;
        match latest {
            Some(v) => Ok(self
                .version_row(name, v)?
                .map(|(mv, _)| mv)
                .into_iter()
                .collect()),
            None => Ok(Vec::new()),
        }
    }

    async fn download_uri(&self, name: &str, version: &str) -> Result<String, TrackingError> {
        let v = self.parse_version(name, version)?;
        let Some((mv, storage)) = self.version_row(name, v)? else {
            return Err(not_found(
                self.describe(),
                format!("version {version} of registered model {name:?}"),
            ));
        };
        // MLflow answers `storage_location or source`: the resolved location of a `models:/m-<id>` source,
        // and a `runs:/` source as it is (the resolver turns that into the run's artifact URI + path).
        Ok(storage.filter(|s| !s.is_empty()).unwrap_or(mv.source))
    }

    async fn experiment_names(&self) -> Result<Option<Vec<String>>, TrackingError> {
        let sql = format!(
            "SELECT e.name FROM experiments e WHERE e.lifecycle_stage = 'active'{}",
            self.ws("experiments", "e")
        );
        self.names(&sql).map(Some)
    }

    async fn registered_model_names(&self) -> Result<Option<Vec<String>>, TrackingError> {
        let sql = format!(
            "SELECT m.name FROM registered_models m WHERE 1 = 1{}",
            self.ws("registered_models", "m")
        );
        self.names(&sql).map(Some)
    }

    async fn model_aliases(
        &self,
        name: &str,
    ) -> Result<Option<Vec<(String, String)>>, TrackingError> {
        if !self
            .registered_model_names()
            .await?
            .unwrap_or_default()
            .iter()
            .any(|n| n == name)
        {
            return Ok(None);
        }
        let sql = format!(
            "SELECT a.alias, a.version FROM registered_model_aliases a WHERE a.name = ?1{} ORDER BY a.alias",
            self.ws("registered_model_aliases", "a")
        );
        self.with_conn(|c| {
            c.prepare(&sql)?
                .query_map([name], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.to_string()))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map(Some)
    }
}

impl SqliteStore {
    /// The first column of `sql`'s rows, as text.
    fn names(&self, sql: &str) -> Result<Vec<String>, TrackingError> {
        self.with_conn(|c| {
            c.prepare(sql)?
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
    }
}

/// Whether the database has table `name` (older MLflow schemas lack some).
fn has_table(c: &Connection, name: &str) -> rusqlite::Result<bool> {
    c.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [name],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

/// Runs `sql`, whose first column is a run id and whose parameters are `args`, and hands each row of a
/// run in `index` to `each` with the run's position; rows of other runs are skipped.
fn rows_of_runs(
    c: &Connection,
    args: &[&dyn rusqlite::ToSql],
    index: &HashMap<String, usize>,
    sql: &str,
    each: &mut dyn FnMut(usize, &rusqlite::Row<'_>) -> rusqlite::Result<()>,
) -> rusqlite::Result<()> {
    let mut stmt = c.prepare(sql)?;
    let mut rows = stmt.query(params_from_iter(args.iter()))?;
    while let Some(r) = rows.next()? {
        let Some(&i) = index.get(&r.get::<_, String>(0)?) else {
            continue;
        };
        each(i, r)?;
    }
    Ok(())
}
