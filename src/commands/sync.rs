//! `modelbump sync`: have Argo CD sync the configured applications.

use std::path::PathBuf;

use clap::Args;

use crate::exit::Outcome;
use crate::settings::Settings;

/// Ask Argo CD to sync the configured applications, over its API or with a signed webhook
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
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Argo CD")]
pub struct ArgoCdArgs {
    /// The application to sync (repeatable) [default: argocd.apps from the config]
    #[arg(long = "app", value_name = "NAME")]
    pub apps: Vec<String>,
    /// The Argo CD API server [default: argocd.server from the config]
    #[arg(long, env = "ARGOCD_SERVER", value_name = "HOST")]
    pub server: Option<String>,
    /// Wait until each app is Synced and Healthy at the pushed revision
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits, e.g. 30s, 5m [default: 5m]
    #[arg(long, value_name = "DURATION", env = "MODELBUMP_SYNC_TIMEOUT")]
    pub timeout: Option<String>,
    /// Skip verification of the server's TLS certificate
    #[arg(long, env = "ARGOCD_INSECURE")]
    pub insecure: bool,
    /// Use plain HTTP instead of HTTPS
    #[arg(long, env = "ARGOCD_PLAINTEXT")]
    pub plaintext: bool,
    /// A PEM bundle of CA certificates for the server
    #[arg(long, value_name = "FILE", env = "MODELBUMP_ARGOCD_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    /// Post a signed GitHub-style push event to this URL instead of calling the API
    #[arg(long, value_name = "URL", env = "MODELBUMP_WEBHOOK")]
    pub webhook: Option<String>,
    /// The revision to sync to [default: the commit HEAD points at]
    #[arg(long, value_name = "SHA")]
    pub revision: Option<String>,
}

/// Runs `sync`.
pub async fn run(_settings: &Settings, _args: SyncArgs) -> anyhow::Result<Outcome> {
    anyhow::bail!("`sync` is not built yet")
}
