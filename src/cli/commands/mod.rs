//! One file per subcommand: its clap `Args` (whose doc comment is the help text) and its `run` function,
//! which turns the arguments into a domain request, calls the core and renders the result.

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
    #[arg(long = "tracking-uri", env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub tracking_uri: Option<String>,
}
