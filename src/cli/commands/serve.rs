//! `modelbump serve`: the long-running receiver, [`crate::ops::serve`] on the command line.
//!
//! Before the settings are resolved, the working clone is made ready ([`prepare`]): cloned with
//! `--clone URL` into an empty `-C` folder, and refused when it holds uncommitted changes. The settings
//! (and `modelbump.yaml`) are then read from that clone as for `run`. SIGTERM and Ctrl-C ask for a
//! shutdown; the run in progress gets `MODELBUMP_SHUTDOWN_GRACE` (default
//! [`crate::ops::DEFAULT_SHUTDOWN_GRACE`]) to finish. Pull-request mode is resolved as for `run`
//! (`--pull-request`, `MODELBUMP_PULL_REQUEST`, `git.pullRequest`); `--wait-merged` is not offered: serve
//! opens and updates pull requests and goes on.

use clap::Args;

use crate::cli::GlobalArgs;
use crate::cli::args::{ArgoCdArgs, MlflowArgs, PushArgs, SigningArgs};
use crate::cli::exit::Outcome;
use crate::cli::settings::{self, LogFormat, Settings};
use crate::env::Env;
use crate::ops::{RunOptions, ServeOptions};

/// Run the pipeline when MLflow says so: a signed webhook receiver with a polling fallback
///
/// Listens for MLflow webhooks (POST /webhooks/mlflow, signed with MODELBUMP_MLFLOW_WEBHOOK_SECRET),
/// runs apply, commit, push and sync for the targets an event can affect, one run at a time, and
/// reconciles every target at start and every --interval. GET /healthz, /readyz and /metrics
/// (Prometheus) are for the platform. The -C folder is serve's own clone.
///
/// Examples:
///   MODELBUMP_MLFLOW_WEBHOOK_SECRET=... modelbump -C /var/lib/modelbump/gitops serve
///   modelbump -C /data/gitops serve --clone https://git.example.com/org/gitops.git --branch main
///   modelbump -C /data/gitops serve --listen 0.0.0.0:8080 --interval 10m --log-format json
///   modelbump -C /data/gitops serve --interval 0      webhooks only, no polling
///   modelbump -C /data/gitops serve --pull-request    a pull request per change, not a push
///   modelbump -C /data/gitops serve --record-environment production
#[derive(Debug, Clone, Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct ServeArgs {
    /// The address to listen on [default: 127.0.0.1:8080] [env: MODELBUMP_LISTEN=]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// How often to reconcile every target, e.g. 5m; 0 turns polling off (a reconciliation still runs at start) [default: 5m] [env: MODELBUMP_POLL_INTERVAL=]
    #[arg(long, value_name = "DURATION")]
    pub interval: Option<String>,
    /// Clone this repository into the -C folder when it is empty (credentials: MODELBUMP_GIT_TOKEN, MODELBUMP_GIT_SSH_KEY) [env: MODELBUMP_CLONE_URL=]
    #[arg(long = "clone", value_name = "URL")]
    pub clone_url: Option<String>,
    /// The format of the logs on stderr [default: text] [env: MODELBUMP_LOG_FORMAT=]
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
    /// The commit message's first lines; {count}, {models} and {files} are filled in [default: git.message from the config] [env: MODELBUMP_GIT_MESSAGE=]
    #[arg(short = 'm', long, value_name = "TEXT")]
    pub message: Option<String>,
    /// Where MLflow is
    #[command(flatten)]
    pub mlflow: MlflowArgs,
    /// Where to push
    #[command(flatten)]
    pub push_to: PushArgs,
    /// How commits are signed
    #[command(flatten)]
    pub signing: SigningArgs,
    /// Argo CD options
    #[command(flatten)]
    pub argocd: ArgoCdArgs,
    /// Open (or update) a pull request to the branch instead of pushing to it, as run --pull-request does [default: on when git.pullRequest is in the config] [env: MODELBUMP_PULL_REQUEST=]
    #[arg(long, help_heading = "Git")]
    pub pull_request: bool,
    /// Recording each deployment in MLflow
    #[command(flatten)]
    pub record: crate::cli::args::RecordArgs,
}

/// Makes the working clone ready before the settings are read from it.
pub(crate) fn prepare(global: &GlobalArgs, env: &Env, args: &ServeArgs) -> anyhow::Result<()> {
    let clone = settings::serve_clone(
        global,
        env,
        args.clone_url.clone(),
        args.push_to.branch.clone(),
    );
    crate::ops::prepare_clone(&clone.dir, clone.url.as_deref(), &clone.branch, env)
}

/// Runs `serve` until SIGTERM or Ctrl-C.
pub(crate) async fn run(settings: &Settings, args: ServeArgs) -> anyhow::Result<Outcome> {
    let options = ServeOptions {
        run: RunOptions {
            plan: crate::ops::PlanOptions {
                record: settings.record(
                    args.record.record_environment.clone(),
                    args.record.record_alias.clone(),
                )?,
                ..settings.plan(&args.mlflow)?
            },
            dry_run: false,
            git: settings.git(args.message.clone(), &args.signing)?,
            push: Some(settings.push(&args.push_to)?),
            argocd: settings.argocd(&args.argocd)?,
        },
        listen: settings.listen(args.listen.clone())?,
        interval: settings.poll_interval(args.interval.clone())?,
        webhook_secret: settings.mlflow_webhook_secret(),
        shutdown_grace: settings.shutdown_grace()?,
        pull_request: settings.pull_request(args.pull_request)?,
    };
    if options.pull_request.is_some() && matches!(settings.wait_merged(false, None), Ok(Some(_))) {
        tracing::warn!(
            "serve does not wait for pull requests to merge (git.pullRequest.waitMerged, MODELBUMP_WAIT_MERGED): it opens or updates them; sync on merge from the forge's side"
        );
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = terminate.recv() => tracing::info!("SIGTERM received"),
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupt received"),
        }
        let _ = stop.send(true);
    });
    crate::ops::serve(options, stopped).await?;
    Ok(Outcome::Success)
}
