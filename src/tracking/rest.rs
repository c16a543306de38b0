//! The MLflow REST backend of [`TrackingStore`], and the MLflow connection settings.
//!
//! [`Connection::from_parts`] is the one place where the connection is worked out, with the conventions
//! MLflow's own Python client has, so that a pipeline that already talks to MLflow needs nothing new:
//! the tracking URI (resolved by the command line: `--tracking-uri` > `MLFLOW_TRACKING_URI` >
//! `mlflow.trackingUri`); Basic auth when a user name and a
//! password are both known (each from `MLFLOW_TRACKING_USERNAME`/`_PASSWORD`, else `~/.mlflow/credentials`,
//! section `[mlflow]`), else a Bearer `MLFLOW_TRACKING_TOKEN`; `MLFLOW_TRACKING_INSECURE_TLS`,
//! `MLFLOW_TRACKING_SERVER_CERT_PATH`, `MLFLOW_TRACKING_CLIENT_CERT_PATH`, `MLFLOW_HTTP_REQUEST_TIMEOUT`
//! and `MLFLOW_HTTP_REQUEST_MAX_RETRIES`. User info written into the URI (`https://user:pass@host`) is
//! taken out of it and used as Basic credentials, so the URI can be shown.
//!
//! [`RestStore`] maps each trait method to one endpoint. The quirks it absorbs were measured against
//! MLflow 3.17.2: ids go as JSON strings, an empty search is `{}`, a missing alias is HTTP 400 (not 404),
//! unknown routes and server errors answer in HTML. Retries (connection errors, 429 with `Retry-After`,
//! 5xx) are [`crate::http::send_with_retry`]'s; a 4xx is final. Credentials are only ever in the
//! `Authorization` header and are scrubbed from any error body before it is shown.

use percent_encoding::percent_decode_str;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    ArtifactEntry, ArtifactListing, ArtifactOwner, Experiment, LoggedModel, ModelVersion, Run,
    RunInfo, RunQuery, TrackingError, TrackingStore,
};
use crate::env::Env;
use crate::http::{self, ClientOptions, RetryPolicy};
use crate::secret::{ExposeSecret, SecretString};

/// How modelbump authenticates to the tracking server.
#[derive(Debug, Clone)]
pub enum Auth {
    /// No credentials.
    None,
    /// HTTP Basic.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: SecretString,
    },
    /// `Authorization: Bearer <token>`.
    Bearer(SecretString),
}

/// Everything needed to talk to one tracking server, resolved once.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The server's base URL, without credentials and without a trailing slash.
    pub base: String,
    /// The credentials.
    pub auth: Auth,
    /// Timeout and TLS options.
    pub client: ClientOptions,
    /// Retries.
    pub retry: RetryPolicy,
}

impl Connection {
    /// Resolves the connection for `uri` with the environment `env` (and the credentials file under
    /// its `HOME`).
    pub fn from_parts(uri: &str, env: &Env) -> Result<Self, TrackingError> {
        let config = |m: String| TrackingError::Config(m);
        let mut url = url::Url::parse(uri).map_err(|e| {
            config(format!(
                "invalid tracking URI {}: {e}",
                crate::secret::redact_url(uri)
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(config(format!(
                "tracking URI {} is not http(s)",
                crate::secret::redact_url(uri)
            )));
        }
        let url_user = (!url.username().is_empty()).then(|| {
            percent_decode_str(url.username())
                .decode_utf8_lossy()
                .into_owned()
        });
        let url_password = url
            .password()
            .map(|p| percent_decode_str(p).decode_utf8_lossy().into_owned());
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let base = url.as_str().trim_end_matches('/').to_string();

        let (file_user, file_password) = read_credentials_file(env);
        let username = env
            .get("MLFLOW_TRACKING_USERNAME")
            .map(str::to_string)
            .or(url_user)
            .or(file_user);
        let password = env
            .get("MLFLOW_TRACKING_PASSWORD")
            .map(str::to_string)
            .or(url_password)
            .or(file_password);
        let auth = match (username, password) {
            (Some(username), Some(password)) => Auth::Basic {
                username,
                password: SecretString::from(password),
            },
            _ => match env.get("MLFLOW_TRACKING_TOKEN") {
                Some(token) => Auth::Bearer(SecretString::from(token.to_string())),
                None => Auth::None,
            },
        };

        let insecure = env.bool("MLFLOW_TRACKING_INSECURE_TLS").map_err(config)?;
        let ca_cert = env
            .get("MLFLOW_TRACKING_SERVER_CERT_PATH")
            .map(PathBuf::from);
        if insecure == Some(true) && ca_cert.is_some() {
            return Err(config(
                "MLFLOW_TRACKING_INSECURE_TLS and MLFLOW_TRACKING_SERVER_CERT_PATH contradict each other: set only one".into(),
            ));
        }
        let timeout = match env.get("MLFLOW_HTTP_REQUEST_TIMEOUT") {
            None => Duration::from_secs(120),
            Some(v) => match v.trim().parse::<f64>() {
                Ok(secs) if secs > 0.0 && secs.is_finite() => Duration::from_secs_f64(secs),
                _ => {
                    return Err(config(format!(
                        "MLFLOW_HTTP_REQUEST_TIMEOUT={v} is not a positive number of seconds"
                    )));
                }
            },
        };
        let max_retries = match env.get("MLFLOW_HTTP_REQUEST_MAX_RETRIES") {
            None => 7,
            Some(v) => v.trim().parse::<usize>().map_err(|_| {
                config(format!(
                    "MLFLOW_HTTP_REQUEST_MAX_RETRIES={v} is not a whole number"
                ))
            })?,
        };
        Ok(Self {
            base,
            auth,
            client: ClientOptions {
                timeout,
                ca_cert,
                client_cert: env
                    .get("MLFLOW_TRACKING_CLIENT_CERT_PATH")
                    .map(PathBuf::from),
                insecure: insecure.unwrap_or(false),
            },
            retry: RetryPolicy {
                max_retries,
                service: "MLflow",
                ..RetryPolicy::default()
            },
        })
    }

    /// Everything to scrub from what the server answers: the password and the forms the Basic header
    /// carries it in, or the token.
    fn secrets(&self) -> Vec<SecretString> {
        match &self.auth {
            Auth::None => vec![],
            Auth::Basic { username, password } => {
                let mut secrets = crate::secret::basic_forms(username, password);
                secrets.push(password.clone());
                secrets
            }
            Auth::Bearer(token) => vec![token.clone()],
        }
    }
}

/// `~/.mlflow/credentials`, section `[mlflow]`: `mlflow_tracking_username` and `mlflow_tracking_password`.
fn read_credentials_file(env: &Env) -> (Option<String>, Option<String>) {
    let Some(home) = env.home() else {
        return (None, None);
    };
    let Ok(text) = std::fs::read_to_string(home.join(".mlflow/credentials")) else {
        return (None, None);
    };
    parse_credentials(&text)
}

fn parse_credentials(text: &str) -> (Option<String>, Option<String>) {
    let mut in_section = false;
    let (mut user, mut password) = (None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') {
            in_section = line[1..line.len() - 1].trim() == "mlflow";
            continue;
        }
        if !in_section {
            continue;
        }
        let Some((key, value)) = line.split_once(['=', ':']) else {
            continue;
        };
        let value = value.trim().to_string();
        match key.trim().to_ascii_lowercase().as_str() {
            "mlflow_tracking_username" if !value.is_empty() => user = Some(value),
            "mlflow_tracking_password" if !value.is_empty() => password = Some(value),
            _ => {}
        }
    }
    (user, password)
}

/// The REST backend.
pub struct RestStore {
    conn: Connection,
    client: reqwest::Client,
    secrets: Vec<SecretString>,
}

/// An error answer that a caller may want to interpret (404, 400), with MLflow's error code.
struct ApiError {
    status: StatusCode,
    code: String,
    message: String,
}

impl RestStore {
    /// A store for the resolved connection.
    pub fn new(conn: Connection) -> Result<Self, TrackingError> {
        let client =
            http::build_client(&conn.client).map_err(|e| TrackingError::Config(e.to_string()))?;
        let secrets = conn.secrets();
        Ok(Self {
            conn,
            client,
            secrets,
        })
    }

    /// The connection.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    fn secret_refs(&self) -> Vec<&SecretString> {
        self.secrets.iter().collect()
    }

    fn scrub(&self, text: &str) -> String {
        crate::secret::scrub(text, &self.secret_refs())
    }

    fn excerpt(&self, body: &str, max: usize) -> String {
        http::scrubbed_excerpt(body, max, &self.secret_refs())
    }

    /// Sends one call; `Ok(Err(_))` is a 4xx answer other than 401/403, for the caller to interpret.
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        what: &str,
    ) -> Result<Result<Value, ApiError>, TrackingError> {
        self.call_with(&self.conn.retry, method, path, query, body, what)
            .await
    }

    /// [`Self::call`] with its own retry policy.
    async fn call_with(
        &self,
        retry: &RetryPolicy,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        what: &str,
    ) -> Result<Result<Value, ApiError>, TrackingError> {
        let url = format!("{}/api/2.0/mlflow/{path}", self.conn.base);
        let started = std::time::Instant::now();
        let response = http::send_with_retry(retry, || {
            let mut request = self
                .client
                .request(method.clone(), &url)
                .header(reqwest::header::ACCEPT, "application/json");
            if !query.is_empty() {
                request = request.query(query);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            match &self.conn.auth {
                Auth::None => request,
                Auth::Basic { username, password } => {
                    request.basic_auth(username, Some(password.expose_secret()))
                }
                Auth::Bearer(token) => request.bearer_auth(token.expose_secret()),
            }
        })
        .await
        .map_err(|e| TrackingError::Unreachable {
            store: self.describe(),
            what: what.to_string(),
            message: self.scrub(&http::describe_transport_error(&e)),
        })?;
        let status = response.status();
        let text = http::read_body(response).await.map_err(|e| match e {
            http::BodyError::Transport(e) => TrackingError::Unreachable {
                store: self.describe(),
                what: what.to_string(),
                message: self.scrub(&http::describe_transport_error(&e)),
            },
            too_large @ http::BodyError::TooLarge => TrackingError::Protocol {
                store: self.describe(),
                what: what.to_string(),
                message: if status.is_success() {
                    too_large.to_string()
                } else {
                    format!("HTTP {}, and {too_large}", status.as_u16())
                },
            },
        })?;
        tracing::debug!(%status, path, elapsed_ms = started.elapsed().as_millis() as u64, "mlflow call");
        if status.is_success() {
            return serde_json::from_str(&text)
                .map(Ok)
                .map_err(|e| TrackingError::Protocol {
                    store: self.describe(),
                    what: what.to_string(),
                    message: format!("the body is not JSON ({e}): {}", self.excerpt(&text, 160)),
                });
        }
        let message = self.excerpt(&text, 300);
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(TrackingError::Unauthorized {
                store: self.describe(),
                status: status.as_u16(),
                what: what.to_string(),
                message,
            });
        }
        let code = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v.get("error_code")?.as_str().map(str::to_string));
        match code {
            Some(code) if status.is_client_error() => Ok(Err(ApiError {
                status,
                code,
                message,
            })),
            _ => Err(TrackingError::Http {
                store: self.describe(),
                status: status.as_u16(),
                what: what.to_string(),
                message,
            }),
        }
    }

    /// A call whose 404 `RESOURCE_DOES_NOT_EXIST` means "none".
    async fn get_optional(
        &self,
        path: &str,
        query: &[(&str, &str)],
        what: &str,
    ) -> Result<Option<Value>, TrackingError> {
        match self.call(Method::GET, path, query, None, what).await? {
            Ok(value) => Ok(Some(value)),
            Err(e) if e.status == StatusCode::NOT_FOUND => Ok(None),
            Err(e) => Err(self.refused(what, e)),
        }
    }

    async fn get_required(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        what: &str,
    ) -> Result<Value, TrackingError> {
        match self.call(method, path, query, body, what).await? {
            Ok(value) => Ok(value),
            Err(e) if e.status == StatusCode::NOT_FOUND => Err(TrackingError::NotFound {
                store: self.describe(),
                what: what.to_string(),
                detail: Some(e.message),
            }),
            Err(e) => Err(self.refused(what, e)),
        }
    }

    fn refused(&self, what: &str, e: ApiError) -> TrackingError {
        if e.status == StatusCode::BAD_REQUEST {
            TrackingError::Invalid {
                store: self.describe(),
                what: what.to_string(),
                message: e.message,
            }
        } else {
            TrackingError::Http {
                store: self.describe(),
                status: e.status.as_u16(),
                what: what.to_string(),
                message: format!("{}: {}", e.code, e.message),
            }
        }
    }

    /// `runs/log-batch` with tags only: sets `tags` on run `run_id` in one call.
    pub(crate) async fn set_run_tags(
        &self,
        run_id: &str,
        tags: &[(String, String)],
    ) -> Result<(), TrackingError> {
        let what = format!("setting tags on run {run_id}");
        let body = json!({"run_id": run_id, "tags": tag_list(tags)});
        self.get_required(Method::POST, "runs/log-batch", &[], Some(&body), &what)
            .await
            .map(drop)
    }

    /// `model-versions/set-tag`, once per tag (the API sets one at a time).
    pub(crate) async fn set_version_tags(
        &self,
        name: &str,
        version: &str,
        tags: &[(String, String)],
    ) -> Result<(), TrackingError> {
        let what = format!("setting tags on version {version} of registered model {name:?}");
        for (key, value) in tags {
            let body = json!({"name": name, "version": version, "key": key, "value": value});
            self.get_required(
                Method::POST,
                "model-versions/set-tag",
                &[],
                Some(&body),
                &what,
            )
            .await?;
        }
        Ok(())
    }

    /// `PATCH logged-models/<id>/tags`: sets `tags` on an MLflow 3 logged model in one call.
    pub(crate) async fn set_logged_model_tags(
        &self,
        model_id: &str,
        tags: &[(String, String)],
    ) -> Result<(), TrackingError> {
        let what = format!("setting tags on logged model {model_id}");
        let body = json!({"tags": tag_list(tags)});
        let path = format!("logged-models/{model_id}/tags");
        self.get_required(Method::PATCH, &path, &[], Some(&body), &what)
            .await
            .map(drop)
    }

    /// `POST registered-models/alias`: points `alias` of registered model `name` at `version`.
    pub(crate) async fn set_alias(
        &self,
        name: &str,
        alias: &str,
        version: &str,
    ) -> Result<(), TrackingError> {
        let what =
            format!("moving alias {alias:?} of registered model {name:?} to version {version}");
        let body = json!({"name": name, "alias": alias, "version": version});
        self.get_required(
            Method::POST,
            "registered-models/alias",
            &[],
            Some(&body),
            &what,
        )
        .await
        .map(drop)
    }

    fn parse<T: for<'de> Deserialize<'de>>(
        &self,
        value: Value,
        what: &str,
    ) -> Result<T, TrackingError> {
        serde_json::from_value(value).map_err(|e| TrackingError::Protocol {
            store: self.describe(),
            what: what.to_string(),
            message: format!("unexpected JSON: {e}"),
        })
    }
}

/// Tags as MLflow's requests carry them: `[{"key", "value"}]`.
fn tag_list(tags: &[(String, String)]) -> Vec<Value> {
    tags.iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect()
}

#[derive(Deserialize)]
struct ExperimentReply {
    experiment: Experiment,
}

#[derive(Deserialize)]
struct RunReply {
    run: RunJson,
}

#[derive(Deserialize, Default)]
struct SearchReply {
    #[serde(default)]
    runs: Vec<RunJson>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct RunJson {
    info: RunInfo,
    #[serde(default)]
    data: RunData,
    #[serde(default)]
    outputs: RunOutputs,
}

#[derive(Deserialize, Default)]
struct RunData {
    #[serde(default)]
    metrics: Vec<MetricJson>,
    #[serde(default)]
    params: Vec<KeyValue>,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

#[derive(Deserialize)]
struct MetricJson {
    key: String,
    value: Value,
}

#[derive(Deserialize)]
struct KeyValue {
    key: String,
    #[serde(default)]
    value: String,
}

#[derive(Deserialize, Default)]
struct RunOutputs {
    #[serde(default)]
    model_outputs: Vec<ModelOutput>,
}

#[derive(Deserialize)]
struct ModelOutput {
    model_id: String,
}

impl From<RunJson> for Run {
    fn from(run: RunJson) -> Self {
        Run {
            info: run.info,
            metrics: run
                .data
                .metrics
                .into_iter()
                .map(|m| (m.key, metric_value(&m.value)))
                .collect(),
            params: run
                .data
                .params
                .into_iter()
                .map(|p| (p.key, p.value))
                .collect(),
            tags: run
                .data
                .tags
                .into_iter()
                .map(|t| (t.key, t.value))
                .collect(),
            model_outputs: run
                .outputs
                .model_outputs
                .into_iter()
                .map(|m| m.model_id)
                .collect(),
        }
    }
}

/// MLflow writes non-finite metrics as the strings `"NaN"`, `"Infinity"`, `"-Infinity"`.
fn metric_value(value: &Value) -> f64 {
    match value {
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) => match s.as_str() {
            "Infinity" => f64::INFINITY,
            "-Infinity" => f64::NEG_INFINITY,
            other => other.parse().unwrap_or(f64::NAN),
        },
        _ => f64::NAN,
    }
}

#[derive(Deserialize)]
struct LoggedModelReply {
    model: LoggedModelJson,
}

#[derive(Deserialize)]
struct LoggedModelJson {
    info: LoggedModelInfo,
}

#[derive(Deserialize)]
struct LoggedModelInfo {
    model_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    experiment_id: String,
    #[serde(default)]
    source_run_id: Option<String>,
    #[serde(default)]
    artifact_uri: String,
}

#[derive(Deserialize)]
struct ListReply {
    #[serde(default)]
    files: Vec<FileJson>,
}

#[derive(Deserialize)]
struct FileJson {
    path: String,
    #[serde(default)]
    is_dir: bool,
}

#[derive(Deserialize)]
struct VersionReply {
    model_version: VersionJson,
}

#[derive(Deserialize)]
struct LatestReply {
    #[serde(default)]
    model_versions: Vec<VersionJson>,
}

#[derive(Deserialize)]
struct VersionJson {
    name: String,
    version: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    status: String,
    #[serde(default)]
    current_stage: String,
    #[serde(default)]
    aliases: Vec<String>,
}

impl From<VersionJson> for ModelVersion {
    fn from(v: VersionJson) -> Self {
        ModelVersion {
            name: v.name,
            version: v.version,
            source: v.source,
            run_id: v.run_id.filter(|r| !r.is_empty()),
            status: v.status,
            current_stage: v.current_stage,
            aliases: v.aliases,
        }
    }
}

#[async_trait]
impl TrackingStore for RestStore {
    fn describe(&self) -> String {
        self.conn.base.clone()
    }

    async fn experiment_by_name(&self, name: &str) -> Result<Option<Experiment>, TrackingError> {
        let what = format!("experiment {name:?}");
        let reply = self
            .get_optional(
                "experiments/get-by-name",
                &[("experiment_name", name)],
                &what,
            )
            .await?;
        reply
            .map(|v| {
                self.parse::<ExperimentReply>(v, &what)
                    .map(|r| r.experiment)
            })
            .transpose()
    }

    async fn experiment_by_id(&self, id: &str) -> Result<Option<Experiment>, TrackingError> {
        let what = format!("experiment id {id}");
        match self
            .call(
                Method::GET,
                "experiments/get",
                &[("experiment_id", id)],
                None,
                &what,
            )
            .await?
        {
            Ok(v) => Ok(Some(self.parse::<ExperimentReply>(v, &what)?.experiment)),
            // A non-numeric id is refused with 400 by the SQL store: it does not exist either.
            Err(e)
                if e.status == StatusCode::NOT_FOUND
                    || (e.status == StatusCode::BAD_REQUEST
                        && e.code == "INVALID_PARAMETER_VALUE"
                        && !id.chars().all(|c| c.is_ascii_digit())) =>
            {
                Ok(None)
            }
            Err(e) => Err(self.refused(&what, e)),
        }
    }

    async fn search_runs(&self, query: &RunQuery) -> Result<Vec<Run>, TrackingError> {
        let what = format!(
            "runs in experiment {} matching {:?}",
            query.experiment_ids.join(","),
            query.filter
        );
        let mut runs = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let remaining = query.max_results.saturating_sub(runs.len());
            if remaining == 0 {
                break;
            }
            let mut body = json!({
                "experiment_ids": query.experiment_ids,
                "filter": query.filter,
                "order_by": query.order_by,
                "max_results": remaining.min(1000),
                "run_view_type": "ACTIVE_ONLY",
            });
            if let Some(token) = &token {
                body["page_token"] = json!(token);
            }
            let reply = self
                .get_required(Method::POST, "runs/search", &[], Some(&body), &what)
                .await?;
            let page: SearchReply = self.parse(reply, &what)?;
            let count = page.runs.len();
            runs.extend(page.runs.into_iter().map(Run::from));
            match page.next_page_token.filter(|t| !t.is_empty()) {
                Some(next) if count > 0 => token = Some(next),
                _ => break,
            }
        }
        runs.truncate(query.max_results);
        Ok(runs)
    }

    async fn run(&self, run_id: &str) -> Result<Option<Run>, TrackingError> {
        let what = format!("run {run_id}");
        let reply = self
            .get_optional("runs/get", &[("run_id", run_id)], &what)
            .await?;
        reply
            .map(|v| self.parse::<RunReply>(v, &what).map(|r| r.run.into()))
            .transpose()
    }

    async fn logged_model(&self, model_id: &str) -> Result<Option<LoggedModel>, TrackingError> {
        let what = format!("logged model {model_id}");
        let reply = self
            .get_optional(&format!("logged-models/{model_id}"), &[], &what)
            .await?;
        reply
            .map(|v| {
                self.parse::<LoggedModelReply>(v, &what).map(|r| {
                    let i = r.model.info;
                    LoggedModel {
                        model_id: i.model_id,
                        name: i.name,
                        experiment_id: i.experiment_id,
                        source_run_id: i.source_run_id.filter(|s| !s.is_empty()),
                        artifact_uri: i.artifact_uri,
                    }
                })
            })
            .transpose()
    }

    async fn list_artifacts(
        &self,
        owner: ArtifactOwner<'_>,
        path: &str,
    ) -> Result<ArtifactListing, TrackingError> {
        let (endpoint, query, what) = match owner {
            ArtifactOwner::Run(run_id) => (
                "artifacts/list".to_string(),
                vec![("run_id", run_id), ("path", path)],
                format!("artifacts of run {run_id} at {path:?}"),
            ),
            ArtifactOwner::LoggedModel(model_id) => (
                format!("logged-models/{model_id}/artifacts/directories"),
                if path.is_empty() {
                    vec![]
                } else {
                    vec![("artifact_directory_path", path)]
                },
                format!("artifacts of logged model {model_id}"),
            ),
        };
        // A store the server cannot read answers 500 every time: the full retry budget (half a minute
        // with the defaults) would be spent on each model for a check that is advisory there.
        let retry = RetryPolicy {
            max_retries: self.conn.retry.max_retries.min(2),
            ..self.conn.retry.clone()
        };
        match self
            .call_with(&retry, Method::GET, &endpoint, &query, None, &what)
            .await
        {
            Ok(Ok(v)) => {
                let list: ListReply = self.parse(v, &what)?;
                Ok(ArtifactListing::Listed(
                    list.files
                        .into_iter()
                        .map(|f| ArtifactEntry {
                            path: f.path,
                            is_dir: f.is_dir,
                        })
                        .collect(),
                ))
            }
            Ok(Err(e))
                if e.status == StatusCode::NOT_FOUND && e.code == "RESOURCE_DOES_NOT_EXIST" =>
            {
                Err(TrackingError::NotFound {
                    store: self.describe(),
                    what,
                    detail: Some(e.message),
                })
            }
            // The server reaches artifacts through its own credentials; a store it cannot read (S3
            // without access, for one) answers 500 in HTML. The model may still be there: say so.
            Ok(Err(e)) => Ok(ArtifactListing::Unavailable(format!(
                "HTTP {}: {}: {}",
                e.status.as_u16(),
                e.code,
                e.message
            ))),
            Err(TrackingError::Http {
                status, message, ..
            }) if status >= 500 => Ok(ArtifactListing::Unavailable(format!(
                "HTTP {status}: {message}"
            ))),
            Err(e) => Err(e),
        }
    }

    async fn version_by_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> Result<Option<ModelVersion>, TrackingError> {
        let what = format!("alias {alias:?} of registered model {name:?}");
        match self
            .call(
                Method::GET,
                "registered-models/alias",
                &[("name", name), ("alias", alias)],
                None,
                &what,
            )
            .await?
        {
            Ok(v) => Ok(Some(
                self.parse::<VersionReply>(v, &what)?.model_version.into(),
            )),
            // MLflow answers a missing alias with 400 INVALID_PARAMETER_VALUE, a missing model with 404.
            Err(e)
                if e.status == StatusCode::NOT_FOUND
                    || (e.status == StatusCode::BAD_REQUEST
                        && e.code == "INVALID_PARAMETER_VALUE") =>
            {
                Ok(None)
            }
            Err(e) => Err(self.refused(&what, e)),
        }
    }

    async fn model_version(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Option<ModelVersion>, TrackingError> {
        let what = format!("version {version} of registered model {name:?}");
        let reply = self
            .get_optional(
                "model-versions/get",
                &[("name", name), ("version", version)],
                &what,
            )
            .await?;
        reply
            .map(|v| {
                self.parse::<VersionReply>(v, &what)
                    .map(|r| r.model_version.into())
            })
            .transpose()
    }

    async fn latest_versions(
        &self,
        name: &str,
        stage: &str,
    ) -> Result<Vec<ModelVersion>, TrackingError> {
        let what = format!("latest {stage} version of registered model {name:?}");
        let body = json!({ "name": name, "stages": [stage] });
        let reply = self
            .get_required(
                Method::POST,
                "registered-models/get-latest-versions",
                &[],
                Some(&body),
                &what,
            )
            .await?;
        let latest: LatestReply = self.parse(reply, &what)?;
        Ok(latest
            .model_versions
            .into_iter()
            .map(ModelVersion::from)
            .collect())
    }

    async fn download_uri(&self, name: &str, version: &str) -> Result<String, TrackingError> {
        let what = format!("download URI of version {version} of registered model {name:?}");
        let reply = self
            .get_required(
                Method::GET,
                "model-versions/get-download-uri",
                &[("name", name), ("version", version)],
                None,
                &what,
            )
            .await?;
        reply
            .get("artifact_uri")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| TrackingError::Protocol {
                store: self.describe(),
                what,
                message: "no artifact_uri in the answer".into(),
            })
    }

    async fn experiment_names(&self) -> Result<Option<Vec<String>>, TrackingError> {
        let body = serde_json::json!({"max_results": 1000, "view_type": "ACTIVE_ONLY"});
        let reply = self
            .get_required(
                Method::POST,
                "experiments/search",
                &[],
                Some(&body),
                "the experiments",
            )
            .await?;
        Ok(Some(names_in(&reply, "experiments")))
    }

    async fn registered_model_names(&self) -> Result<Option<Vec<String>>, TrackingError> {
        let reply = self
            .get_required(
                Method::GET,
                "registered-models/search",
                &[("max_results", "1000")],
                None,
                "the registered models",
            )
            .await?;
        Ok(Some(names_in(&reply, "registered_models")))
    }

    async fn model_aliases(
        &self,
        name: &str,
    ) -> Result<Option<Vec<(String, String)>>, TrackingError> {
        let what = format!("registered model {name:?}");
        let Some(reply) = self
            .get_optional("registered-models/get", &[("name", name)], &what)
            .await?
        else {
            return Ok(None);
        };
        let aliases = reply
            .pointer("/registered_model/aliases")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|a| {
                        Some((
                            a.get("alias")?.as_str()?.to_string(),
                            a.get("version")?.as_str()?.to_string(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Some(aliases))
    }
}

/// The `name` of each object in the list `key` of a search answer (an empty search answers `{}`).
fn names_in(reply: &Value, key: &str) -> Vec<String> {
    reply
        .get(key)
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|o| o.get("name")?.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn basic_needs_both_username_and_password_else_token() {
        let c = Connection::from_parts(
            "http://h:5000/",
            &env(&[
                ("MLFLOW_TRACKING_USERNAME", "u"),
                ("MLFLOW_TRACKING_TOKEN", "t"),
            ]),
        )
        .unwrap();
        assert!(matches!(c.auth, Auth::Bearer(_)));
        assert_eq!(c.base, "http://h:5000");
        let c = Connection::from_parts(
            "http://h:5000",
            &env(&[
                ("MLFLOW_TRACKING_USERNAME", "u"),
                ("MLFLOW_TRACKING_PASSWORD", "p"),
                ("MLFLOW_TRACKING_TOKEN", "t"),
            ]),
        )
        .unwrap();
        assert!(matches!(c.auth, Auth::Basic { ref username, .. } if username == "u"));
    }

    #[test]
    fn credentials_in_the_uri_move_to_basic_auth() {
        let c =
            Connection::from_parts("https://bob:s%40cret@h.example/mlflow/", &env(&[])).unwrap();
        assert_eq!(c.base, "https://h.example/mlflow");
        match c.auth {
            Auth::Basic { username, password } => {
                assert_eq!(username, "bob");
                assert_eq!(password.expose_secret(), "s@cret");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn credentials_file_fills_what_the_environment_lacks() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".mlflow")).unwrap();
        std::fs::write(
            home.path().join(".mlflow/credentials"),
            "[other]\nmlflow_tracking_username = no\n[mlflow]\nmlflow_tracking_username = fileuser\nmlflow_tracking_password = filepass\n",
        )
        .unwrap();
        let e = env(&[
            ("HOME", home.path().to_str().unwrap()),
            ("MLFLOW_TRACKING_USERNAME", "envuser"),
        ]);
        let c = Connection::from_parts("http://h", &e).unwrap();
        match c.auth {
            Auth::Basic { username, password } => {
                assert_eq!(username, "envuser");
                assert_eq!(password.expose_secret(), "filepass");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn tls_and_timeout_variables() {
        let c = Connection::from_parts(
            "https://h",
            &env(&[
                ("MLFLOW_TRACKING_INSECURE_TLS", "TRUE"),
                ("MLFLOW_HTTP_REQUEST_TIMEOUT", "5"),
                ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0"),
            ]),
        )
        .unwrap();
        assert!(c.client.insecure);
        assert_eq!(c.client.timeout, Duration::from_secs(5));
        assert_eq!(c.retry.max_retries, 0);
        let err = Connection::from_parts(
            "https://h",
            &env(&[
                ("MLFLOW_TRACKING_INSECURE_TLS", "true"),
                ("MLFLOW_TRACKING_SERVER_CERT_PATH", "/ca.pem"),
            ]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("contradict"), "{err}");
        let err = Connection::from_parts(
            "https://h",
            &env(&[("MLFLOW_TRACKING_INSECURE_TLS", "yes")]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("not a boolean"), "{err}");
        let err = Connection::from_parts(
            "https://h",
            &env(&[("MLFLOW_HTTP_REQUEST_TIMEOUT", "soon")]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("MLFLOW_HTTP_REQUEST_TIMEOUT"), "{err}");
    }

    #[test]
    fn non_finite_metrics() {
        assert!(metric_value(&json!("NaN")).is_nan());
        assert_eq!(metric_value(&json!("-Infinity")), f64::NEG_INFINITY);
        assert_eq!(metric_value(&json!(0.5)), 0.5);
    }
}
