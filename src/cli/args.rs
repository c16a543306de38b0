//! The flags several subcommands share: where MLflow is, where to push, Argo CD. The settings resolver
//! ([`crate::cli::settings`]) reads them; the commands flatten them into their own `Args`.

use std::path::PathBuf;

use clap::Args;

/// Where MLflow is; shared by `plan`, `apply` and `run`. The heading is set on the argument, not as
/// `next_help_heading`, which would also file the command's own flags that follow under "MLflow".
#[derive(Debug, Clone, Args)]
pub(crate) struct MlflowArgs {
    /// The tracking URI: http(s)://server, sqlite:///path/mlflow.db, file:/path/mlruns or a path to mlruns
    /// [default: mlflow.trackingUri from the config, else ./mlflow.db or ./mlruns as MLflow does]
    /// [env: MLFLOW_TRACKING_URI=]
    #[arg(long = "tracking-uri", value_name = "URI", help_heading = "MLflow")]
    pub tracking_uri: Option<String>,
}

/// Where to push: the options `commit` and `run` share, so that a pipeline can switch between them
/// without renaming anything.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct PushArgs {
    /// The remote to push to, a name or a URL (user info in it is used as credentials, never shown) [default: git.remote, else origin] [env: MODELBUMP_GIT_REMOTE=]
    #[arg(long, value_name = "NAME|URL", help_heading = "Git")]
    pub remote: Option<String>,
    /// The branch to push to [default: git.branch, else the checked-out branch]; needed on a detached HEAD [env: MODELBUMP_GIT_BRANCH=]
    #[arg(long, value_name = "NAME", help_heading = "Git")]
    pub branch: Option<String>,
}

/// Argo CD options, shared by `sync` and `run`.
///
/// The switches read their variable as pipelines write it: empty, `false`, `no`, `off` or `0` is off,
/// anything else on.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Argo CD")]
pub(crate) struct ArgoCdArgs {
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

/// How commits are signed: the options `commit` and `run` share (`git.signing` in the config).
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct SigningArgs {
    /// Sign every commit with this key: for ssh a key file (a private key without passphrase, or a
    /// public key whose private key is in the ssh-agent), for openpgp a key id or fingerprint
    /// [default: git.signing.key] [env: MODELBUMP_GIT_SIGNING_KEY=]
    #[arg(long, value_name = "KEY", help_heading = "Signing")]
    pub signing_key: Option<String>,
    /// The signature format [default: git.signing.format] [env: MODELBUMP_GIT_SIGNING_FORMAT=]
    #[arg(long, value_name = "FORMAT", help_heading = "Signing")]
    pub signing_format: Option<SigningFormatArg>,
}

/// `--signing-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum SigningFormatArg {
    /// An SSH key (ssh-keygen -Y sign)
    Ssh,
    /// An OpenPGP key (gpg)
    Openpgp,
}

/// Which configured targets to act on; shared by `plan`, `apply`, `run` and `commit`. Unselected targets
/// are left alone entirely: not resolved, not written, not committed, not in the report.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct SelectArgs {
    /// Act only on the target of this name (targets[].name; repeatable, or comma-separated) [env: MODELBUMP_TARGETS=]
    #[arg(
        long = "target",
        value_name = "NAME",
        value_delimiter = ',',
        help_heading = "Target selection"
    )]
    pub targets: Vec<String>,
    /// Act only on targets with this label (targets[].labels; repeatable, all must match) [env: MODELBUMP_SELECTOR=]
    #[arg(
        long = "selector",
        value_name = "KEY=VALUE",
        value_delimiter = ',',
        help_heading = "Target selection"
    )]
    pub selector: Vec<String>,
}

/// `mlflow.recordDeployments` overrides: the options `run` and `rollback` share.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct RecordArgs {
    /// Record the deployment in MLflow under this environment: tags modelbump.<environment>.* on the run, model version and logged model [default: mlflow.recordDeployments.environment; off when unset] [env: MODELBUMP_RECORD_ENVIRONMENT=]
    #[arg(long, value_name = "NAME", help_heading = "MLflow record")]
    pub record_environment: Option<String>,
    /// The registered model alias moved to the version once it is healthy [default: mlflow.recordDeployments.alias, else the environment] [env: MODELBUMP_RECORD_ALIAS=]
    #[arg(long, value_name = "NAME", help_heading = "MLflow record")]
    pub record_alias: Option<String>,
}
