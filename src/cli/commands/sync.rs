//! `modelbump sync`: have Argo CD sync the configured applications to the commit HEAD points at.
//!
//! The flags live here because `run` shares them ([`ArgoCdArgs`]); [`crate::cli::settings`] resolves
//! them into [`crate::argocd::SyncOptions`], and [`crate::ops::sync`] talks to Argo CD. stdout gets one line per app (or `{"revision", "sync": [...]}` with
//! `-o json`), also when an app failed, so that a pipeline log shows every app's final state.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use crate::cli::OutputFormat;
use crate::cli::exit::Outcome;
use crate::cli::settings::Settings;
use crate::ops::SyncRequest;
use crate::report::SyncReport;

/// Ask Argo CD to sync the configured applications, over its API or with a signed webhook
///
/// API mode (ARGOCD_SERVER and ARGOCD_AUTH_TOKEN): refresh each app, sync it to the commit HEAD points
/// at (apps with automated sync are synced to their own target, which Argo CD requires), and with --wait
/// wait until it is Synced and Healthy at that commit, as `argocd app wait` decides. Fails on 401/403/404,
/// on a sync that ends Failed or Error, on an app that turns Degraded, and at --timeout. Another
/// operation already in progress is waited out.
///
/// Webhook mode (--webhook URL): post a GitHub-style push event for the commit, signed with
/// MODELBUMP_WEBHOOK_SECRET; needs no Argo CD token (--wait then needs one to watch the apps).
///
/// Examples:
///   ARGOCD_AUTH_TOKEN=... modelbump sync --wait --timeout 10m
///   modelbump sync --app financial-mlops-infrastructure --wait
///   MODELBUMP_WEBHOOK_SECRET=... modelbump sync --webhook https://argocd.example.com/api/webhook
#[derive(Debug, Clone, Args)]
pub struct SyncArgs {
    /// Options shared with `run`
    #[command(flatten)]
    pub argocd: ArgoCdArgs,
}

/// Argo CD options, shared by `sync` and `run`.
///
/// The switches read their variable as pipelines write it: empty, `false`, `no`, `off` or `0` is off,
/// anything else on.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Argo CD")]
pub struct ArgoCdArgs {
    /// The application to sync, NAME or NAMESPACE/NAME (repeatable) [default: argocd.apps from the config] [env: MODELBUMP_ARGOCD_APPS=]
    #[arg(long = "app", value_name = "NAME", value_delimiter = ',')]
    pub apps: Vec<String>,
    /// The namespace of the Application objects, where it is not Argo CD's own [default: argocd.appNamespace] [env: MODELBUMP_ARGOCD_APP_NAMESPACE=]
    #[arg(long, value_name = "NAMESPACE")]
    pub app_namespace: Option<String>,
    /// The Argo CD API server, host[:port] or URL [default: argocd.server from the config] [env: ARGOCD_SERVER=]
    #[arg(long, value_name = "HOST")]
    pub server: Option<String>,
    /// Wait until each app is Synced and Healthy at the pushed revision [env: MODELBUMP_SYNC_WAIT=]
    #[arg(long)]
    pub wait: bool,
    /// How long the sync may take, waiting included, e.g. 30s, 5m [default: argocd.timeout, else 5m] [env: MODELBUMP_SYNC_TIMEOUT=]
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Skip verification of the server's TLS certificate [env: ARGOCD_INSECURE=]
    #[arg(long)]
    pub insecure: bool,
    /// Use plain HTTP instead of HTTPS [env: ARGOCD_PLAINTEXT=]
    #[arg(long)]
    pub plaintext: bool,
    /// A PEM bundle of CA certificates for the server [env: MODELBUMP_ARGOCD_CA_CERT=]
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Post a signed GitHub-style push event to this URL instead of calling the API [env: MODELBUMP_WEBHOOK=]
    #[arg(long, value_name = "URL")]
    pub webhook: Option<String>,
    /// The revision to sync to [default: the commit HEAD points at]
    #[arg(long, value_name = "SHA")]
    pub revision: Option<String>,
}

/// The JSON form of `sync`'s result.
#[derive(Serialize)]
struct SyncOutput<'a> {
    revision: &'a str,
    sync: &'a [SyncReport],
}

/// Runs `sync`.
pub async fn run(settings: &Settings, args: SyncArgs) -> anyhow::Result<Outcome> {
    let done = crate::ops::sync(&SyncRequest {
        options: settings.argocd(&args.argocd)?,
        repo: settings.repo.clone(),
        revision: args.argocd.revision.clone(),
        branch: settings.branch(None),
        remote: settings.remote(None),
    })
    .await?;
    let result = done.result;
    let reports = match &result {
        Ok(reports) => reports.as_slice(),
        Err(failed) => failed.reports.as_slice(),
    };
    if !reports.is_empty() || result.is_ok() {
        print(settings.output, &done.revision, reports).context("cannot write to stdout")?;
    }
    match result {
        Ok(_) => Ok(Outcome::Success),
        Err(failed) => Err(anyhow::Error::new(failed)),
    }
}

fn print(output: OutputFormat, revision: &str, reports: &[SyncReport]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match output {
        OutputFormat::Json => {
            let mut text = serde_json::to_string_pretty(&SyncOutput {
                revision,
                sync: reports,
            })
            .expect("the sync report serializes");
            text.push('\n');
            out.write_all(text.as_bytes())
        }
        OutputFormat::Text => out.write_all(render_text(revision, reports).as_bytes()),
    }
}

/// One line per app: name, sync, health, revision, operation phase, message.
pub fn render_text(revision: &str, reports: &[SyncReport]) -> String {
    let width = reports.iter().map(|r| r.app.len()).max().unwrap_or(0);
    let mut text = format!("revision {revision}\n");
    for report in reports {
        let mut line = format!("{:width$}  ", report.app);
        if report.mode == "webhook" {
            line.push_str("webhook");
        } else {
            line.push_str(&format!(
                "{:10} {:11} {}",
                report.sync_status.as_deref().unwrap_or("-"),
                report.health_status.as_deref().unwrap_or("-"),
                report
                    .revision
                    .as_deref()
                    .map(|r| &r[..r.len().min(12)])
                    .unwrap_or("-"),
            ));
            if let Some(phase) = &report.operation_phase {
                line.push_str(&format!("  operation {phase}"));
            }
        }
        if let Some(message) = &report.message {
            line.push_str(&format!("  {message}"));
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}
