//! The command line: global options, the subcommands, logging set-up and the mapping of outcomes to exit
//! codes. Clap types stop here and in [`crate::cli::commands`]; the core receives resolved [`Settings`].

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub(crate) mod args;
pub(crate) mod color;
pub(crate) mod commands;
pub(crate) mod exit;
pub(crate) mod outputs;
pub(crate) mod render;
pub(crate) mod settings;
use crate::cli::settings::Settings;
use crate::env::Env;
use exit::Outcome;

const AFTER_HELP: &str = "\
Exit codes (docs/exit-codes.md):
  0  success, whether or not anything changed (blocked and pinned targets are decisions)
  1  failure: a target failed (no model, a refused edit), or anything not below
  2  usage or configuration error: bad flag, bad modelbump.yaml, unknown --target, a gate naming
     a metric, param or tag no run of the experiment has; fix the call or the config
  3  --detailed-exitcode: plan has changes pending; run committed a change
  4  unreachable: MLflow or Argo CD could not be reached (or answered 5xx); worth retrying
  5  push attempts exhausted: the branch kept moving, or a hook refused the push
  6  pushed, but the Argo CD sync failed or timed out
  7  not merged (pull-request mode)

Examples:
  modelbump targets                                   list every model URI in the repo
  modelbump set k8s/model.yaml baseline-predictor s3://bucket/m-1/artifacts/
  modelbump plan                                      show what MLflow would change, as a diff
  modelbump run --report /tmp/report.json             apply, commit, push and sync in one step
  modelbump -C /data/gitops serve                     deploy on MLflow webhooks, poll as a fallback

Environment: MODELBUMP_LOG (or RUST_LOG) sets the log filter; NO_COLOR disables colour.";

/// Point Seldon Core and KServe manifests at the right MLflow model, byte-exactly, then commit, push and
/// have Argo CD sync
#[derive(Debug, Parser)]
#[command(name = "modelbump", version, after_help = AFTER_HELP, propagate_version = true)]
pub(crate) struct Cli {
    /// Options every subcommand takes
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The subcommand
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand takes.
#[derive(Debug, Clone, Args)]
pub(crate) struct GlobalArgs {
    /// The GitOps checkout (or folder of manifests) to work in [default: the current directory] [env: MODELBUMP_REPO=]
    #[arg(short = 'C', long = "repo", global = true, value_name = "DIR")]
    pub repo: Option<PathBuf>,

    /// The configuration file [default: modelbump.yaml at the repo root, when it exists] [env: MODELBUMP_CONFIG=]
    #[arg(short = 'c', long = "config", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The format of stdout [env: MODELBUMP_OUTPUT=] [default: text]
    #[arg(short = 'o', long = "output", global = true, value_enum)]
    pub output: Option<OutputFormat>,

    /// More logs on stderr (-v info, -vv debug, -vvv trace)
    #[arg(short = 'v', long = "verbose", global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Only errors on stderr
    #[arg(short = 'q', long = "quiet", global = true)]
    pub quiet: bool,

    /// When to colour stdout and stderr: auto (on a terminal, unless NO_COLOR is set), always, never [env: MODELBUMP_COLOR=] [default: auto]
    #[arg(long = "color", global = true, value_enum, value_name = "WHEN")]
    pub color: Option<color::ColorChoice>,
}

/// The format of stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// Tables and diffs for people
    Text,
    /// One JSON document for programs
    Json,
}

/// The subcommands.
///
/// The variants carry no doc comments on purpose: clap lets a variant's doc override the help of its
/// `Args` struct, which would drop the long help and examples written there (one place per command).
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    #[allow(missing_docs)]
    Targets(commands::targets::TargetsArgs),
    #[allow(missing_docs)]
    Set(commands::set::SetArgs),
    #[allow(missing_docs)]
    Plan(commands::plan::PlanArgs),
    #[allow(missing_docs)]
    Apply(commands::apply::ApplyArgs),
    #[allow(missing_docs)]
    Commit(commands::commit::CommitArgs),
    #[allow(missing_docs)]
    Sync(commands::sync::SyncArgs),
    #[allow(missing_docs)]
    Run(commands::run::RunArgs),
    #[allow(missing_docs)]
    Completions(commands::completions::CompletionsArgs),
    #[allow(missing_docs)]
    Validate(commands::validate::ValidateArgs),
    Serve(commands::serve::ServeArgs),
    Init(commands::init::InitArgs),
    History(commands::hold::HistoryArgs),
    #[allow(missing_docs)]
    Rollback(commands::hold::RollbackArgs),
    #[allow(missing_docs)]
    Hold(commands::hold::HoldArgs),
    #[allow(missing_docs)]
    Release(commands::hold::ReleaseArgs),
}

/// Runs the process: parse, set up logging, dispatch, map the outcome to an exit code.
pub fn main() -> ExitCode {
    main_from(std::env::args_os(), Env::capture())
}

/// [`main`] with explicit arguments (the program name first) and environment: the binary in-process, for
/// the quickstart example and for embedding. A usage error exits the process with code 2, as the binary does.
pub fn main_from<I, T>(args: I, env: Env) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = Cli::parse_from(args);
    let log_flag = match &cli.command {
        Command::Serve(args) => args.log_format,
        _ => None,
    };
    let log_format = match settings::log_format(log_flag, &env) {
        Ok(format) => format,
        Err(err) => {
            eprintln!("error: {err:#}");
            return ExitCode::from(exit::USAGE);
        }
    };
    init_logging(&cli.global, &env, log_format);
    match run(cli, env) {
        Ok(outcome) => outcome.into(),
        Err(err) if exit::is_broken_pipe(&err) => ExitCode::from(exit::SUCCESS),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(exit::code_of(&err))
        }
    }
}

fn run(cli: Cli, env: Env) -> anyhow::Result<Outcome> {
    if let Command::Completions(args) = &cli.command {
        return commands::completions::run(args);
    }
    if let Command::Validate(args) = cli.command {
        let location = Settings::locate(&cli.global, &env)?;
        return commands::validate::run(&location, args);
    }
    if let Command::Serve(args) = &cli.command {
        commands::serve::prepare(&cli.global, &env, args)?;
    }
    let settings = match Settings::resolve(&cli.global, env.clone()) {
        Ok(settings) => settings,
        Err(err) => {
            outputs::settings_failed(&cli.command, &env, &err);
            return Err(err);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Targets(args) => commands::targets::run(&settings, args),
            Command::Set(args) => commands::set::run(&settings, args),
            Command::Plan(args) => commands::plan::run(&settings, args).await,
            Command::Apply(args) => commands::apply::run(&settings, args).await,
            Command::Commit(args) => commands::commit::run(&settings, args).await,
            Command::Sync(args) => commands::sync::run(&settings, args).await,
            Command::Run(args) => commands::run::run(&settings, args).await,
            Command::Serve(args) => commands::serve::run(&settings, args).await,
            Command::Init(args) => commands::init::run(&settings, args),
            Command::History(args) => commands::hold::run_history(&settings, args),
            Command::Rollback(args) => commands::hold::run_rollback(&settings, args).await,
            Command::Hold(args) => commands::hold::run_hold(&settings, args).await,
            Command::Release(args) => commands::hold::run_release(&settings, args).await,
            Command::Completions(_) => unreachable!("handled before the runtime starts"),
            Command::Validate(_) => unreachable!("handled before the runtime starts"),
        }
    })
}

fn init_logging(global: &GlobalArgs, env: &Env, format: settings::LogFormat) {
    use tracing_subscriber::EnvFilter;
    let default = if global.quiet {
        "error"
    } else {
        match global.verbose {
            0 => "warn,modelbump=info",
            1 => "info",
            2 => "info,modelbump=debug",
            _ => "trace",
        }
    };
    let filter = env
        .get("MODELBUMP_LOG")
        .or_else(|| env.get("RUST_LOG"))
        .filter(|_| global.verbose == 0 && !global.quiet)
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    if format == settings::LogFormat::Json {
        let _ = tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_target(false)
            .try_init();
        return;
    }
    // A bad MODELBUMP_COLOR is reported by the settings resolver; the logs go without colour meanwhile.
    let color = color::enabled(global.color, env, std::io::stderr().is_terminal()).unwrap_or(false);
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .without_time()
        .with_target(false)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
