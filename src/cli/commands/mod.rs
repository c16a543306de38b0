//! One file per subcommand: its clap `Args` (whose doc comment is the help text) and its `run` function,
//! which resolves the settings into the options of a use case ([`crate::ops`]), calls it and renders the
//! outcome. No `env = ...` attribute: the variables are read from the snapshot by
//! [`crate::cli::settings`]; the help text names them as `[env: NAME=]`.

pub mod apply;
pub mod commit;
pub mod completions;
pub mod plan;
pub mod run;
pub mod set;
pub mod sync;
pub mod targets;

use clap::Args;

/// Where MLflow is; shared by `plan`, `apply` and `run`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "MLflow")]
pub struct MlflowArgs {
    /// The tracking URI: http(s)://server, sqlite:///path/mlflow.db, file:/path/mlruns or a path to mlruns
    /// [default: mlflow.trackingUri from the config, else ./mlflow.db or ./mlruns as MLflow does]
    /// [env: MLFLOW_TRACKING_URI=]
    #[arg(long = "tracking-uri", value_name = "URI")]
    pub tracking_uri: Option<String>,
}
