//! Argo CD: have the applications that deploy the GitOps repo pick up a pushed commit now, and tell
//! whether it came up Healthy.
//!
//! Two ways in, because pipelines have one or the other:
//! - the REST API (`ARGOCD_SERVER` + `ARGOCD_AUTH_TOKEN`): refresh each app, sync it (naming the pushed
//!   revision only where Argo CD accepts one), and with `--wait` wait with the completion rules of
//!   `argocd app wait` (see [`app::judge`]) until it is Synced and Healthy at that revision;
//! - a signed GitHub-style push event to `/api/webhook` ([`webhook`]), which needs no Argo CD account.
//!
//! Options arrive resolved (flag > environment > config > default, by the command line's settings
//! resolver) as [`SyncOptions`]. Every app is handled concurrently under one deadline
//! (`--timeout`), and every app gets a line in the report, also when some fail: a pipeline wants to see
//! which app is Degraded, not only that one is.
//!
//! The error types are in the `error` submodule, and reading what was pushed from the checkout
//! ([`Pushed::from_repo`]) in `pushed`; both are re-exported here.

pub(crate) mod app;
pub(crate) mod client;
mod error;
mod pushed;
pub(crate) mod webhook;

use std::path::Path;
use std::time::{Duration, Instant};

use url::Url;

pub(crate) use error::{ArgoCdError, SyncFailed};
pub(crate) use pushed::Pushed;

use crate::http::{self, ClientOptions, RetryPolicy};
use crate::report::SyncReport;
use crate::secret::{SecretString, redact_url};
use app::{Application, Verdict};
use client::{AppRef, Client, Failure, LastFailure, SyncRequest};
use webhook::PushedCommit;

/// How long `--wait` waits when neither `--timeout` nor `argocd.timeout` says.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// The Argo CD settings, resolved once (flag > environment > config > default).
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// The apps to sync.
    pub apps: Vec<AppRef>,
    /// The API server, if any.
    pub server: Option<Url>,
    /// `ARGOCD_AUTH_TOKEN`.
    pub token: Option<SecretString>,
    /// Wait for Synced and Healthy.
    pub wait: bool,
    /// The deadline of the whole sync, as given.
    pub timeout: Duration,
    /// The pause between two looks at an app.
    pub poll_interval: Duration,
    /// TLS options of the HTTP client.
    pub client: ClientOptions,
    /// Webhook mode: where to post the push event.
    pub webhook: Option<Url>,
    /// `MODELBUMP_WEBHOOK_SECRET`.
    pub webhook_secret: Option<SecretString>,
}

impl SyncOptions {
    /// True when Argo CD is configured at all (a server, a webhook or an app), which is when `run` ends
    /// with a sync.
    pub fn is_configured(&self) -> bool {
        self.server.is_some() || self.webhook.is_some() || !self.apps.is_empty()
    }
}

pub(crate) fn parse_duration(what: &'static str, text: &str) -> Result<Duration, ArgoCdError> {
    humantime::parse_duration(text.trim()).map_err(|e| ArgoCdError::BadDuration {
        what,
        value: text.to_string(),
        message: e.to_string(),
    })
}

/// The webhook URL; a bare server address gets Argo CD's `/api/webhook` path.
pub(crate) fn webhook_url(text: &str) -> Result<Url, ArgoCdError> {
    let mut url = Url::parse(text.trim()).map_err(|e| ArgoCdError::BadWebhook {
        url: redact_url(text),
        message: format!("{e} (expected https://host/api/webhook)"),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ArgoCdError::BadWebhook {
            url: redact_url(text),
            message: "expected an http(s):// URL".into(),
        });
    }
    if url.path() == "/" || url.path().is_empty() {
        url.set_path("/api/webhook");
    }
    Ok(url)
}

/// What `run` calls after a push: sync the configured apps to `revision`, announcing `changed_files`
/// (webhook mode) for the repository at `remote_url`.
///
/// On failure the error is a [`SyncFailed`] (reach it with `err.downcast_ref::<SyncFailed>()`) whose
/// `reports` still describe every app, for the report's `sync` field.
pub(crate) async fn sync_after_push(
    options: &SyncOptions,
    dir: &Path,
    branch: Option<&str>,
    revision: &str,
    changed_files: &[String],
    remote_url: &str,
) -> anyhow::Result<Vec<SyncReport>> {
    let mut pushed = Pushed::from_repo(dir, Some(revision), branch, "")?;
    pushed.changed_files = changed_files.to_vec();
    pushed.remote_url = Some(remote_url.to_string());
    Ok(sync(options, &pushed).await?)
}

/// Syncs every configured app to `pushed` (API or webhook mode), waiting when asked.
pub(crate) async fn sync(
    options: &SyncOptions,
    pushed: &Pushed,
) -> Result<Vec<SyncReport>, SyncFailed> {
    let deadline = Instant::now() + options.timeout;
    let http = http::build_client(&options.client).map_err(ArgoCdError::from)?;
    let retry = RetryPolicy {
        service: "Argo CD",
        ..RetryPolicy::default()
    };
    let api = || -> Result<Client, ArgoCdError> {
        let server = options.server.clone().ok_or(ArgoCdError::NoServer)?;
        let token = options.token.clone().ok_or_else(|| ArgoCdError::NoToken {
            server: redact_url(server.as_str()),
        })?;
        Ok(Client::new(http.clone(), server, token, retry.clone()))
    };
    if let Some(url) = &options.webhook {
        // Check what waiting needs before anything is sent.
        let waiter = if options.wait {
            if options.apps.is_empty() {
                return Err(ArgoCdError::NoApps.into());
            }
            Some(api()?)
        } else {
            None
        };
        let commit = pushed_commit(pushed)?;
        let delivery = webhook::send(&http, &retry, url, &commit, options.webhook_secret.as_ref());
        tokio::time::timeout_at(deadline.into(), delivery)
            .await
            .map_err(|_| ArgoCdError::WebhookUnreachable {
                url: redact_url(url.as_str()),
                message: format!(
                    "no answer within {}",
                    humantime::format_duration(options.timeout)
                ),
            })??;
        tracing::info!(url = %redact_url(url.as_str()), revision = %pushed.revision, "push event delivered");
        return match waiter {
            Some(client) => {
                sync_apps(
                    &client,
                    options,
                    &pushed.revision,
                    pushed.remote_url.as_deref(),
                    deadline,
                    Mode::WaitOnly,
                )
                .await
            }
            None => Ok(webhook_reports(options, url)),
        };
    }
    if options.apps.is_empty() {
        return Err(ArgoCdError::NoApps.into());
    }
    let client = api()?;
    sync_apps(
        &client,
        options,
        &pushed.revision,
        pushed.remote_url.as_deref(),
        deadline,
        Mode::Sync,
    )
    .await
}

fn pushed_commit(pushed: &Pushed) -> Result<PushedCommit, ArgoCdError> {
    let remote = pushed.remote_url.clone().unwrap_or_default();
    let html_url = webhook::html_url(&remote).ok_or_else(|| ArgoCdError::NoRepositoryUrl {
        remote: redact_url(&remote),
    })?;
    Ok(PushedCommit {
        html_url,
        branch: pushed.branch.clone().ok_or(ArgoCdError::NoBranch)?,
        before: pushed.before.clone(),
        after: pushed.revision.clone(),
        message: pushed.message.clone(),
        timestamp: pushed.timestamp.clone(),
        modified: pushed.changed_files.clone(),
    })
}

fn webhook_reports(options: &SyncOptions, url: &Url) -> Vec<SyncReport> {
    let message = format!(
        "push event delivered to {}; Argo CD refreshes the apps that watch the repository, and those with automated sync sync",
        redact_url(url.as_str())
    );
    let apps: Vec<String> = if options.apps.is_empty() {
        vec!["*".to_string()]
    } else {
        options.apps.iter().map(ToString::to_string).collect()
    };
    apps.into_iter()
        .map(|app| SyncReport {
            app,
            mode: "webhook".into(),
            sync_status: None,
            health_status: None,
            revision: None,
            operation_phase: None,
            message: Some(message.clone()),
        })
        .collect()
}

/// Whether `sync_apps` asks for a sync or only waits (after a webhook).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Sync,
    WaitOnly,
}

async fn sync_apps(
    client: &Client,
    options: &SyncOptions,
    revision: &str,
    remote_url: Option<&str>,
    deadline: Instant,
    mode: Mode,
) -> Result<Vec<SyncReport>, SyncFailed> {
    let mut tasks = tokio::task::JoinSet::new();
    for (index, app) in options.apps.iter().enumerate() {
        let job = AppJob {
            client: client.clone(),
            app: app.clone(),
            revision: revision.to_string(),
            wait: options.wait || mode == Mode::WaitOnly,
            mode,
            deadline: deadline.into(),
            timeout: humantime::format_duration(options.timeout).to_string(),
            interval: options.poll_interval,
            remote_url: remote_url.map(str::to_string),
            failure: LastFailure::default(),
        };
        tasks.spawn(async move { (index, job.run().await) });
    }
    let mut results = Vec::with_capacity(options.apps.len());
    while let Some(joined) = tasks.join_next().await {
        results.push(joined.expect("a sync task does not panic"));
    }
    results.sort_by_key(|(index, _)| *index);
    let mut reports = Vec::with_capacity(results.len());
    let mut errors = Vec::new();
    for (_, (report, result)) in results {
        reports.push(report);
        if let Err(err) = result {
            errors.push(err);
        }
    }
    if errors.is_empty() {
        Ok(reports)
    } else {
        Err(SyncFailed { reports, errors })
    }
}

/// One app's sync: everything it needs, owned, so that apps run as concurrent tasks.
struct AppJob {
    client: Client,
    app: AppRef,
    revision: String,
    wait: bool,
    mode: Mode,
    deadline: tokio::time::Instant,
    timeout: String,
    interval: Duration,
    /// The URL of the remote the commit was pushed to, to warn about an app that deploys another repo.
    remote_url: Option<String>,
    /// What the calls last failed with while retried, for the timeout message.
    failure: LastFailure,
}

impl AppJob {
    async fn run(self) -> (SyncReport, Result<(), ArgoCdError>) {
        let mut last: Option<Application> = None;
        let result = match tokio::time::timeout_at(self.deadline, self.drive(&mut last)).await {
            Ok(result) => result,
            Err(_elapsed) => Err(ArgoCdError::Timeout {
                app: self.app.to_string(),
                timeout: self.timeout.clone(),
                revision: self.revision.clone(),
                last: describe_state(last.as_ref(), self.failure.get()),
                answered: last.is_some(),
            }),
        };
        let mut report = SyncReport {
            app: self.app.to_string(),
            mode: "api".into(),
            sync_status: last.as_ref().map(|a| a.sync_status().to_string()),
            health_status: last.as_ref().map(|a| a.health_status().to_string()),
            revision: last.as_ref().and_then(|a| a.status.sync.revision.clone()),
            operation_phase: last
                .as_ref()
                .and_then(|a| a.operation_phase())
                .map(str::to_string),
            message: last
                .as_ref()
                .and_then(|a| a.status.operation_state.as_ref())
                .and_then(|s| s.message.clone())
                .filter(|m| !m.is_empty()),
        };
        if let Err(err) = &result {
            report.message = Some(err.to_string());
        }
        (report, result)
    }

    /// Refresh, sync (waiting out another operation), then wait when asked. `last` always holds the
    /// latest look at the app, for the report and the timeout message.
    async fn drive(&self, last: &mut Option<Application>) -> Result<(), ArgoCdError> {
        let app = self.client.get(&self.app, true, &self.failure).await?;
        tracing::debug!(app = %self.app, sync = app.sync_status(), health = app.health_status(), "refreshed");
        *last = Some(app);
        let own_operation = match self.mode {
            Mode::WaitOnly if !last.as_ref().is_some_and(Application::is_automated) => {
                return Err(ArgoCdError::NotAutomated {
                    app: self.app.to_string(),
                });
            }
            Mode::WaitOnly => false,
            Mode::Sync => self.request_sync(last).await?,
        };
        if !self.wait {
            return Ok(());
        }
        let revision = Some(self.revision.as_str());
        loop {
            let current = last.as_ref().expect("set above");
            match app::judge(current, revision, own_operation) {
                Verdict::Done => {
                    tracing::info!(app = %self.app, "Synced and Healthy");
                    return Ok(());
                }
                Verdict::Degraded => {
                    return Err(ArgoCdError::Degraded {
                        app: self.app.to_string(),
                        revision: self.revision.clone(),
                        message: current.status.health.message.clone().unwrap_or_default(),
                    });
                }
                Verdict::OperationFailed { phase, message } => {
                    return Err(ArgoCdError::OperationFailed {
                        app: self.app.to_string(),
                        phase,
                        message,
                    });
                }
                Verdict::Waiting => {}
            }
            tokio::time::sleep(self.interval).await;
            *last = Some(self.client.get(&self.app, false, &self.failure).await?);
        }
    }

    /// Argo CD resolves the revision in the app's own repository: a commit pushed elsewhere is unknown
    /// there, and the sync fails with a message that does not say why.
    fn warn_if_another_repository(&self, app: &Application) {
        let (Some(remote), Some(source)) = (&self.remote_url, &app.spec.source) else {
            return;
        };
        let (Some(pushed), Some(deployed)) = (
            webhook::html_url(remote),
            webhook::html_url(&source.repo_url),
        ) else {
            return;
        };
        if !pushed.eq_ignore_ascii_case(&deployed) {
            tracing::warn!(
                "application {} deploys {deployed}, not {pushed} where {} was pushed; Argo CD may not find that revision",
                self.app,
                self.revision
            );
        }
    }

    /// Posts the sync; "another operation is already in progress" is waited out and the sync asked
    /// again, unless that operation already brought the app to the revision. Returns whether the last
    /// operation is the one asked for here.
    async fn request_sync(&self, last: &mut Option<Application>) -> Result<bool, ArgoCdError> {
        loop {
            let current = last.as_ref().expect("fetched before");
            // Argo CD refuses a revision other than the target of an automated app, and one revision
            // cannot describe the sources of a multi-source app.
            let revision = (!current.is_automated() && !current.is_multi_source())
                .then(|| self.revision.clone());
            if revision.is_some() {
                self.warn_if_another_repository(current);
            }
            let request = SyncRequest {
                name: self.app.name.clone(),
                revision,
                app_namespace: self.app.namespace.clone(),
            };
            match self.client.sync(&self.app, &request, &self.failure).await {
                Ok(app) => {
                    tracing::info!(app = %self.app, revision = request.revision.as_deref().unwrap_or("(its target)"), "sync requested");
                    *last = Some(app);
                    return Ok(true);
                }
                Err(ArgoCdError::OperationInProgress { .. }) => {
                    tracing::info!(app = %self.app, "another operation is in progress; waiting for it to end");
                    loop {
                        tokio::time::sleep(self.interval).await;
                        let app = self.client.get(&self.app, false, &self.failure).await?;
                        let busy = app.operation_in_progress();
                        *last = Some(app);
                        if !busy {
                            break;
                        }
                    }
                    let current = last.as_ref().expect("just set");
                    if current.is_at(Some(&self.revision))
                        && app::is_full_sha(&self.revision)
                        && current.sync_status() == "Synced"
                    {
                        tracing::info!(app = %self.app, "the other operation synced the revision");
                        return Ok(true);
                    }
                }
                Err(err) => return Err(err),
            }
        }
    }
}

/// `sync S, health H[, operation P]`, then what the calls failed with since, for the timeout message.
fn describe_state(app: Option<&Application>, failure: Option<Failure>) -> String {
    let Some(app) = app else {
        return match failure {
            None => "no answer from Argo CD yet; check that the server is reachable".to_string(),
            Some(Failure::NoAnswer(why)) => {
                format!("no answer from Argo CD yet ({why}); check that the server is reachable")
            }
            Some(Failure::Answered(answer)) => format!("Argo CD answered {answer}"),
        };
    };
    let mut text = format!("sync {}, health {}", app.sync_status(), app.health_status());
    if let Some(phase) = app.operation_phase() {
        text.push_str(&format!(", operation {phase}"));
    }
    match failure {
        None => {}
        Some(Failure::NoAnswer(why)) => text.push_str(&format!("; since then no answer ({why})")),
        Some(Failure::Answered(answer)) => {
            text.push_str(&format!("; since then Argo CD answered {answer}"))
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn the_timeout_says_what_the_server_last_answered() {
        let answered =
            Failure::Answered("HTTP 500 to the refresh of application a (GET /x): down".into());
        assert_eq!(
            describe_state(None, Some(answered.clone())),
            "Argo CD answered HTTP 500 to the refresh of application a (GET /x): down"
        );
        assert_eq!(
            describe_state(
                None,
                Some(Failure::NoAnswer(
                    "the refresh of application a (GET /x): connection failed".into()
                ))
            ),
            "no answer from Argo CD yet (the refresh of application a (GET /x): connection failed); check that the server is reachable"
        );
        assert_eq!(
            describe_state(None, None),
            "no answer from Argo CD yet; check that the server is reachable"
        );
        let app: Application = serde_json::from_value(serde_json::json!({
            "status": {"sync": {"status": "OutOfSync"}, "health": {"status": "Healthy"}}
        }))
        .unwrap();
        assert_eq!(
            describe_state(Some(&app), None),
            "sync OutOfSync, health Healthy"
        );
        assert_eq!(
            describe_state(Some(&app), Some(answered)),
            "sync OutOfSync, health Healthy; since then Argo CD answered HTTP 500 to the refresh of application a (GET /x): down"
        );
    }
}
