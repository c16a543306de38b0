//! `modelbump sync`: have Argo CD sync the configured applications to the commit HEAD points at.
//!
//! The flags are [`crate::cli::args::ArgoCdArgs`], shared with `run`; [`crate::cli::settings`] resolves
//! them into [`crate::argocd::SyncOptions`], and [`crate::ops::sync`] talks to Argo CD. stdout gets one line per app (or `{"revision", "sync": [...]}` with
//! `-o json`), also when an app failed, so that a pipeline log shows every app's final state.

use std::io::Write;

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use crate::cli::OutputFormat;
use crate::cli::args::ArgoCdArgs;
use crate::cli::exit::Outcome;
use crate::cli::settings::Settings;
use crate::ops::SyncRequest;
use crate::report::SyncReport;

/// Ask Argo CD to sync the configured applications, over its API or with a signed webhook
///
/// API mode (ARGOCD_SERVER and ARGOCD_AUTH_TOKEN): refresh each app, sync it to the commit HEAD
/// points at (apps with automated sync are synced to their own target, which Argo CD requires), and
/// with --wait wait until it is Synced and Healthy at that commit, as `argocd app wait` decides.
/// Fails on 401/403/404, on a sync that ends Failed or Error, on an app that turns Degraded, and at
/// --timeout. Another operation already in progress is waited out.
///
/// Webhook mode (--webhook URL): post a GitHub-style push event for the commit, signed with
/// MODELBUMP_WEBHOOK_SECRET; needs no Argo CD token (--wait then needs one to watch the apps).
///
/// Examples:
///   ARGOCD_AUTH_TOKEN=... modelbump sync --wait --timeout 10m
///   modelbump sync --app financial-mlops-infrastructure --wait
///   MODELBUMP_WEBHOOK_SECRET=... modelbump sync --webhook https://argocd.example.com/api/webhook
#[derive(Debug, Clone, Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct SyncArgs {
    /// Options shared with `run`
    #[command(flatten)]
    pub argocd: ArgoCdArgs,
}

/// The JSON form of `sync`'s result.
#[derive(Serialize)]
struct SyncOutput<'a> {
    revision: &'a str,
    sync: &'a [SyncReport],
}

/// Runs `sync`.
pub(crate) async fn run(settings: &Settings, args: SyncArgs) -> anyhow::Result<Outcome> {
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
pub(crate) fn render_text(revision: &str, reports: &[SyncReport]) -> String {
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
