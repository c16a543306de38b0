//! THE settings resolver: flags, the environment snapshot, `modelbump.yaml` and defaults, in that order,
//! turned into the plain option structs the use cases ([`crate::ops`]) take.
//!
//! Every precedence rule is written once, here, with [`pick`] (flag > environment > config) and the
//! environment is read only from the [`Env`] snapshot passed to `main_from`, so the command line is
//! hermetic: nothing in the process environment that the snapshot does not hold reaches a command. A
//! variable read the way clap would: empty means unset; a switch is off when it is `false`, `no`, `off`,
//! `0` (or `n`, `f`), on otherwise; a list is comma-separated.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::argocd::{self, ArgoCdError, SyncOptions};
use crate::cli::OutputFormat;
use crate::cli::args::{
    ArgoCdArgs, MlflowArgs, PushArgs, SelectArgs, SigningArgs, SigningFormatArg,
};
use crate::config::{Config, SigningFormat};
use crate::env::Env;
use crate::git::Signing;
use crate::http::ClientOptions;
use crate::ops::{GitOptions, PlanOptions, PushSpec, Selection};
use crate::secret::SecretString;
use crate::tracking::MlflowOptions;

/// The number of pushes when neither `git.pushAttempts` nor `MODELBUMP_GIT_PUSH_ATTEMPTS` is set: a push
/// is rejected only when another writer's push landed since it fetched, so one writer loses at most once
/// per other writer, and twenty attempts let twenty writers racing on one branch all land (see
/// the backoff in `git/remote.rs` for the delay between attempts).
pub(crate) const DEFAULT_PUSH_ATTEMPTS: u32 = 20;

/// The first value that is set, in precedence order: the flag, the environment, the config. Blank
/// strings count as unset (a pipeline parameter left empty), so the next source applies.
pub(crate) fn pick<T: Blank>(flag: Option<T>, env: Option<T>, config: Option<T>) -> Option<T> {
    flag.filter(|v| !v.is_blank())
        .or(env.filter(|v| !v.is_blank()))
        .or(config.filter(|v| !v.is_blank()))
}

/// Values that can be blank (an empty string); other values never are.
pub(crate) trait Blank {
    /// True for a value that means "not set".
    fn is_blank(&self) -> bool {
        false
    }
}

impl Blank for String {
    fn is_blank(&self) -> bool {
        self.trim().is_empty()
    }
}
impl Blank for PathBuf {
    fn is_blank(&self) -> bool {
        self.as_os_str().is_empty()
    }
}
impl Blank for bool {}
impl Blank for u32 {}
impl Blank for Vec<String> {
    fn is_blank(&self) -> bool {
        self.iter().all(|v| v.trim().is_empty())
    }
}
impl Blank for OutputFormat {}
impl Blank for LogFormat {}

/// The format of the logs on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Lines for people
    Text,
    /// One JSON object per line, for log collectors
    Json,
}

/// The log format: `--log-format` (serve) > `MODELBUMP_LOG_FORMAT` > text.
pub(crate) fn log_format(flag: Option<LogFormat>, env: &Env) -> Result<LogFormat, BadVariable> {
    let from_env = match env.get("MODELBUMP_LOG_FORMAT") {
        Some(v) => match v.trim().to_ascii_lowercase().as_str() {
            "" => None,
            "text" => Some(LogFormat::Text),
            "json" => Some(LogFormat::Json),
            _ => {
                return Err(BadVariable {
                    name: "MODELBUMP_LOG_FORMAT",
                    value: v.to_string(),
                    expected: "possible values: text, json",
                });
            }
        },
        None => None,
    };
    Ok(pick(flag, from_env, None).unwrap_or(LogFormat::Text))
}

/// The default of `--listen` / `MODELBUMP_LISTEN`.
pub(crate) const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// The default of `--interval` / `MODELBUMP_POLL_INTERVAL`.
pub(crate) const DEFAULT_POLL_INTERVAL: &str = "5m";

/// Where serve's working clone is and where it comes from, read before the settings (they are read
/// from the clone).
#[derive(Debug, Clone)]
pub(crate) struct ServeClone {
    /// `-C` > `MODELBUMP_REPO` > the current folder.
    pub dir: PathBuf,
    /// `--clone` > `MODELBUMP_CLONE_URL`.
    pub url: Option<String>,
    /// The branch to check out: `--branch` > `MODELBUMP_GIT_BRANCH` > `main`.
    pub branch: String,
}

/// Serve's working clone, from the flags and the environment.
pub(crate) fn serve_clone(
    global: &crate::cli::GlobalArgs,
    env: &Env,
    url: Option<String>,
    branch: Option<String>,
) -> ServeClone {
    ServeClone {
        dir: pick(global.repo.clone(), env.path("MODELBUMP_REPO"), None)
            .unwrap_or_else(|| PathBuf::from(".")),
        url: pick(
            url,
            env.get("MODELBUMP_CLONE_URL").map(str::to_string),
            None,
        ),
        branch: pick(
            branch,
            env.get("MODELBUMP_GIT_BRANCH").map(str::to_string),
            None,
        )
        .unwrap_or_else(|| "main".to_string()),
    }
}

/// A value in the environment that cannot be used: a usage error, as clap reports a bad flag.
#[derive(Debug, thiserror::Error)]
#[error("invalid value '{value}' for {name}: {expected}")]
pub(crate) struct BadVariable {
    name: &'static str,
    value: String,
    expected: &'static str,
}

/// The global settings before the configuration is read.
#[derive(Debug, Clone)]
pub(crate) struct Location {
    /// The repo root (absolute, canonical).
    pub repo: PathBuf,
    /// The configuration file named by `-c` or `MODELBUMP_CONFIG`, if any.
    pub config: Option<PathBuf>,
    /// The format of stdout.
    pub output: OutputFormat,
    /// Whether stdout is coloured.
    pub color: bool,
    /// The folder started in, relative to the repo root (empty at the root).
    pub subdir: PathBuf,
}

/// The resolved global settings, and the resolver of every command's options.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The repo root (absolute, canonical).
    pub repo: PathBuf,
    /// The configuration (empty when no file was found).
    pub config: Config,
    /// The configuration file that was read, if any.
    pub config_path: Option<PathBuf>,
    /// The format of stdout.
    pub output: OutputFormat,
    /// The environment, read once.
    pub env: Env,
    /// Whether stdout is coloured ([`crate::cli::color`]).
    pub color: bool,
    /// The folder started in, relative to `repo`, when the config was found above it (else empty): the
    /// base of the paths given on the command line.
    pub subdir: PathBuf,
}

impl Settings {
    /// Resolves the global options: `-C` > `MODELBUMP_REPO` > the current folder, `-c` >
    /// `MODELBUMP_CONFIG` > the nearest `modelbump.yaml` at or above it (up to the git root),
    /// `-o` > `MODELBUMP_OUTPUT` > text.
    pub(crate) fn resolve(global: &crate::cli::GlobalArgs, env: Env) -> anyhow::Result<Self> {
        let Location {
            repo,
            config: config_arg,
            output,
            color,
            subdir,
        } = Self::locate(global, &env)?;
        let (config, config_path) = Config::load(&repo, config_arg.as_deref())?;
        if !subdir.as_os_str().is_empty()
            && let Some(path) = &config_path
        {
            tracing::debug!("using {}, found above {}", path.display(), subdir.display());
        }
        Ok(Self {
            repo,
            config,
            config_path,
            output,
            env,
            color,
            subdir,
        })
    }

    /// The global options without reading the configuration: what `validate` needs, which reads the
    /// file itself to list every problem in it.
    pub(crate) fn locate(global: &crate::cli::GlobalArgs, env: &Env) -> anyhow::Result<Location> {
        let output = match env.get("MODELBUMP_OUTPUT") {
            Some(v) => Some(match v.to_ascii_lowercase().as_str() {
                "text" => OutputFormat::Text,
                "json" => OutputFormat::Json,
                _ => {
                    return Err(BadVariable {
                        name: "MODELBUMP_OUTPUT",
                        value: v.to_string(),
                        expected: "possible values: text, json",
                    }
                    .into());
                }
            }),
            None => None,
        };
        let output = pick(global.output, output, None).unwrap_or(OutputFormat::Text);
        let color = crate::cli::color::enabled(
            global.color,
            env,
            std::io::IsTerminal::is_terminal(&std::io::stdout()),
        )
        .map_err(|bad| BadVariable {
            name: "MODELBUMP_COLOR",
            value: bad.0,
            expected: "possible values: auto, always, never",
        })?;
        let repo_arg = pick(global.repo.clone(), env.path("MODELBUMP_REPO"), None)
            .unwrap_or_else(|| PathBuf::from("."));
        let repo = repo_arg
            .canonicalize()
            .with_context(|| format!("cannot open repo folder {}", repo_arg.display()))?;
        anyhow::ensure!(repo.is_dir(), "repo {} is not a folder", repo.display());
        let config_arg = pick(global.config.clone(), env.path("MODELBUMP_CONFIG"), None);
        // Without an explicit file, the nearest modelbump.yaml at or above the folder (up to the git
        // root) applies, and its folder is the repo root: its `file:` paths are relative to it, as ever.
        // Paths given on the command line keep meaning what they meant from the folder started in.
        let start = repo;
        let repo = match config_arg {
            None => crate::config::discover(&start).unwrap_or_else(|| start.clone()),
            Some(_) => start.clone(),
        };
        let subdir = start
            .strip_prefix(&repo)
            .unwrap_or(Path::new(""))
            .to_path_buf();
        Ok(Location {
            repo,
            config: config_arg,
            output,
            color,
            subdir,
        })
    }

    /// A path given on the command line, relative to the repo root: relative paths were written from the
    /// folder started in ([`Self::subdir`]).
    pub(crate) fn path_arg(&self, path: PathBuf) -> PathBuf {
        if path.is_absolute() || self.subdir.as_os_str().is_empty() {
            path
        } else {
            self.subdir.join(path)
        }
    }

    /// A switch from the environment, read as clap's `FalseyValueParser` does.
    pub(crate) fn switch(&self, name: &str) -> bool {
        self.env.get(name).is_some_and(|v| {
            !matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "" | "n" | "no" | "f" | "false" | "off" | "0"
            )
        })
    }

    /// The switch `name` when the environment sets it, else `default` (the config's word).
    fn switch_or(&self, name: &str, default: bool) -> bool {
        match self.env.get(name) {
            Some(_) => self.switch(name),
            None => default,
        }
    }

    /// A string from the environment.
    pub(crate) fn var(&self, name: &str) -> Option<String> {
        self.env.get(name).map(str::to_string)
    }

    /// Whether `commit` pushes: `--push` > `MODELBUMP_PUSH` (a switch).
    pub(crate) fn push_requested(&self, flag: bool) -> bool {
        flag || self.switch("MODELBUMP_PUSH")
    }

    /// The target selection: `--target` > `MODELBUMP_TARGETS`, `--selector` > `MODELBUMP_SELECTOR` (each
    /// comma-separated).
    pub(crate) fn selection(
        &self,
        args: &SelectArgs,
    ) -> Result<Selection, crate::ops::SelectionError> {
        let list =
            |v: Option<String>| v.map(|v| v.split(',').map(str::to_string).collect::<Vec<_>>());
        let names = pick(
            Some(args.targets.clone()),
            list(self.var("MODELBUMP_TARGETS")),
            None,
        )
        .unwrap_or_default();
        let selector = pick(
            Some(args.selector.clone()),
            list(self.var("MODELBUMP_SELECTOR")),
            None,
        )
        .unwrap_or_default();
        Ok(Selection {
            names: names
                .iter()
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty())
                .collect(),
            labels: Selection::parse_labels(&selector)?,
        })
    }

    /// These settings with only the selected targets in the configuration.
    pub(crate) fn selected(&self, args: &SelectArgs) -> anyhow::Result<Settings> {
        let selection = self.selection(args)?;
        Ok(Settings {
            config: selection.apply(&self.config)?,
            ..self.clone()
        })
    }

    /// The `--report` file: `--report` > `MODELBUMP_REPORT`.
    pub(crate) fn report(&self, flag: Option<PathBuf>) -> Option<PathBuf> {
        pick(flag, self.env.path("MODELBUMP_REPORT"), None)
    }

    /// The commit message template: `-m` > `MODELBUMP_GIT_MESSAGE` > `git.message`.
    pub(crate) fn message(&self, flag: Option<String>) -> Option<String> {
        pick(
            flag,
            self.var("MODELBUMP_GIT_MESSAGE"),
            self.config.git.message.clone(),
        )
    }

    /// The tracking URI: `--tracking-uri` > `MLFLOW_TRACKING_URI` > `mlflow.trackingUri`, trimmed.
    pub(crate) fn tracking_uri(&self, flag: Option<String>) -> Option<String> {
        pick(
            flag,
            self.var("MLFLOW_TRACKING_URI"),
            self.config.mlflow.tracking_uri.clone(),
        )
        .map(|u| u.trim().to_string())
    }

    /// Where MLflow is.
    pub(crate) fn mlflow(&self, args: &MlflowArgs) -> MlflowOptions {
        MlflowOptions {
            tracking_uri: self.tracking_uri(args.tracking_uri.clone()),
            registry_uri: self.var("MLFLOW_REGISTRY_URI"),
            cwd: std::env::current_dir().unwrap_or_else(|_| self.repo.clone()),
            repo: self.repo.clone(),
            env: self.env.clone(),
        }
    }

    /// What a plan needs.
    pub(crate) fn plan(&self, args: &MlflowArgs) -> anyhow::Result<PlanOptions> {
        let concurrency = match self.env.get("MODELBUMP_MLFLOW_CONCURRENCY") {
            Some(v) => v.trim().parse().ok().filter(|n| *n > 0).with_context(|| {
                format!("MODELBUMP_MLFLOW_CONCURRENCY={v} is not a positive whole number")
            })?,
            None => self
                .config
                .mlflow
                .concurrency
                .map(std::num::NonZeroUsize::get)
                .unwrap_or(crate::resolve::DEFAULT_CONCURRENCY),
        };
        Ok(PlanOptions {
            repo: self.repo.clone(),
            config: self.config.clone(),
            config_path: self.config_path.clone(),
            mlflow: self.mlflow(args),
            concurrency,
            record: self.record(None, None)?,
        })
    }

    /// `mlflow.recordDeployments`, `None` when off: the environment is `--record-environment` >
    /// `MODELBUMP_RECORD_ENVIRONMENT` > `mlflow.recordDeployments.environment`; the alias is
    /// `--record-alias` > `MODELBUMP_RECORD_ALIAS` > `mlflow.recordDeployments.alias` > the environment.
    pub(crate) fn record(
        &self,
        environment: Option<String>,
        alias: Option<String>,
    ) -> anyhow::Result<Option<crate::resolve::RecordSettings>> {
        let config = self.config.mlflow.record_deployments.as_ref();
        let environment = pick(
            environment,
            self.var("MODELBUMP_RECORD_ENVIRONMENT"),
            config.and_then(|c| c.environment.clone()),
        )
        .map(|e| e.trim().to_string());
        let alias = pick(
            alias,
            self.var("MODELBUMP_RECORD_ALIAS"),
            config.and_then(|c| c.alias.clone()),
        )
        .map(|a| a.trim().to_string());
        let Some(environment) = environment else {
            if config.is_some() || alias.is_some() {
                return Err(crate::ops::ConfigProblem(
                    "mlflow.recordDeployments needs an environment name: set mlflow.recordDeployments.environment (or MODELBUMP_RECORD_ENVIRONMENT, --record-environment), e.g. production".into(),
                )
                .into());
            }
            return Ok(None);
        };
        let plain = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if !plain(&environment) {
            return Err(crate::ops::ConfigProblem(format!(
                "the record's environment {environment:?} (mlflow.recordDeployments.environment, MODELBUMP_RECORD_ENVIRONMENT or --record-environment) must be letters, digits, '_' or '-': it goes into MLflow tag keys such as modelbump.<environment>.status"
            ))
            .into());
        }
        let alias = alias.unwrap_or_else(|| environment.clone());
        let reserved = alias == "latest"
            || (alias.len() > 1
                && alias.starts_with(['v', 'V'])
                && alias[1..].chars().all(|c| c.is_ascii_digit()));
        if !plain(&alias) || reserved {
            return Err(crate::ops::ConfigProblem(format!(
                "the record's alias {alias:?} (mlflow.recordDeployments.alias, MODELBUMP_RECORD_ALIAS or --record-alias) is not one MLflow accepts: letters, digits, '_' or '-', and not 'latest' or 'v<number>'"
            ))
            .into());
        }
        Ok(Some(crate::resolve::RecordSettings { environment, alias }))
    }

    /// How to commit: `message` is the `-m` flag, `signing` the signing flags.
    pub(crate) fn git(
        &self,
        message: Option<String>,
        signing: &SigningArgs,
    ) -> anyhow::Result<GitOptions> {
        Ok(GitOptions {
            repo: self.repo.clone(),
            message: self.message(message),
            tracking_uri: self.tracking_uri(None),
            author: self.config.git.author.clone(),
            env: self.env.clone(),
            signing: self.signing(signing)?,
        })
    }

    /// How commits are signed: `--signing-format` > `MODELBUMP_GIT_SIGNING_FORMAT` > `git.signing.format`,
    /// and the key likewise; `None` when no format is set anywhere. An SSH key file named in the config
    /// is relative to the repo root, one named by a flag or variable to the current folder; `~/` is the
    /// home folder.
    pub(crate) fn signing(&self, args: &SigningArgs) -> anyhow::Result<Option<Signing>> {
        let config = self.config.git.signing.clone().unwrap_or_default();
        let env_format = match self.env.get("MODELBUMP_GIT_SIGNING_FORMAT") {
            Some(v) => Some(match v.trim().to_ascii_lowercase().as_str() {
                "ssh" => SigningFormat::Ssh,
                "openpgp" => SigningFormat::Openpgp,
                _ => {
                    return Err(BadVariable {
                        name: "MODELBUMP_GIT_SIGNING_FORMAT",
                        value: v.to_string(),
                        expected: "possible values: ssh, openpgp",
                    }
                    .into());
                }
            }),
            None => None,
        };
        let flag_format = args.signing_format.map(|f| match f {
            SigningFormatArg::Ssh => SigningFormat::Ssh,
            SigningFormatArg::Openpgp => SigningFormat::Openpgp,
        });
        let flag_key = pick(args.signing_key.clone(), None, None);
        let env_key = self.var("MODELBUMP_GIT_SIGNING_KEY");
        let from_config = flag_key.is_none() && env_key.is_none();
        let key = pick(flag_key, env_key, config.key.clone());
        let Some(format) = flag_format.or(env_format).or(config.format) else {
            anyhow::ensure!(
                key.is_none(),
                "a signing key is set (--signing-key, MODELBUMP_GIT_SIGNING_KEY or git.signing.key) but no format: set git.signing.format (MODELBUMP_GIT_SIGNING_FORMAT, --signing-format) to ssh or openpgp"
            );
            return Ok(None);
        };
        let Some(key) = key.map(|k| k.trim().to_string()) else {
            anyhow::bail!(
                "commits are to be signed ({}) but no key is set: set git.signing.key (MODELBUMP_GIT_SIGNING_KEY, --signing-key) to {}",
                match format {
                    SigningFormat::Ssh => "git.signing.format ssh",
                    SigningFormat::Openpgp => "git.signing.format openpgp",
                },
                match format {
                    SigningFormat::Ssh => "the SSH key file",
                    SigningFormat::Openpgp => "the OpenPGP key id or fingerprint",
                }
            );
        };
        Ok(Some(match format {
            SigningFormat::Openpgp => Signing::OpenPgp { key },
            SigningFormat::Ssh => {
                let path = match (key.strip_prefix("~/"), self.env.home()) {
                    (Some(rest), Some(home)) => home.join(rest),
                    _ => PathBuf::from(&key),
                };
                let base = if from_config {
                    self.repo.clone()
                } else {
                    std::env::current_dir().unwrap_or_else(|_| self.repo.clone())
                };
                Signing::Ssh {
                    key: base.join(path),
                }
            }
        }))
    }

    /// The push remote's name or URL: `--remote` > `MODELBUMP_GIT_REMOTE` > `git.remote` > `origin`.
    pub(crate) fn remote(&self, flag: Option<String>) -> String {
        pick(
            flag,
            self.var("MODELBUMP_GIT_REMOTE"),
            self.config.git.remote.clone(),
        )
        .unwrap_or_else(|| "origin".to_string())
    }

    /// The branch pushed to: `--branch` > `MODELBUMP_GIT_BRANCH` > `git.branch` (else the checked-out one).
    pub(crate) fn branch(&self, flag: Option<String>) -> Option<String> {
        pick(
            flag,
            self.var("MODELBUMP_GIT_BRANCH"),
            self.config.git.branch.clone(),
        )
    }

    /// Where to push: the remote, the branch, and `MODELBUMP_GIT_PUSH_ATTEMPTS` > `git.pushAttempts` > 20.
    pub(crate) fn push(&self, args: &PushArgs) -> anyhow::Result<PushSpec> {
        let attempts = match self.env.get("MODELBUMP_GIT_PUSH_ATTEMPTS") {
            Some(v) => v.parse::<u32>().ok().filter(|n| *n >= 1).with_context(|| {
                format!("MODELBUMP_GIT_PUSH_ATTEMPTS={v} is not a number of attempts (1 or more)")
            })?,
            None => self
                .config
                .git
                .push_attempts
                .unwrap_or(DEFAULT_PUSH_ATTEMPTS)
                .max(1),
        };
        Ok(PushSpec {
            remote: self.remote(args.remote.clone()),
            branch: self.branch(args.branch.clone()),
            attempts,
        })
    }

    /// Where serve listens: `--listen` > `MODELBUMP_LISTEN` > 127.0.0.1:8080.
    pub(crate) fn listen(&self, flag: Option<String>) -> anyhow::Result<std::net::SocketAddr> {
        let text = pick(flag, self.var("MODELBUMP_LISTEN"), None)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        text.trim().parse().with_context(|| {
            format!("--listen / MODELBUMP_LISTEN {text:?} is not an address such as 127.0.0.1:8080 or 0.0.0.0:8080")
        })
    }

    /// How often serve reconciles: `--interval` > `MODELBUMP_POLL_INTERVAL` > 5m; `0` is never.
    pub(crate) fn poll_interval(
        &self,
        flag: Option<String>,
    ) -> anyhow::Result<Option<std::time::Duration>> {
        let text = pick(flag, self.var("MODELBUMP_POLL_INTERVAL"), None)
            .unwrap_or_else(|| DEFAULT_POLL_INTERVAL.to_string());
        if text.trim() == "0" {
            return Ok(None);
        }
        let every = argocd::parse_duration("--interval (MODELBUMP_POLL_INTERVAL)", &text)?;
        Ok((!every.is_zero()).then_some(every))
    }

    /// How long serve lets the run in progress go on after SIGTERM: `MODELBUMP_SHUTDOWN_GRACE` > 20s.
    pub(crate) fn shutdown_grace(&self) -> anyhow::Result<std::time::Duration> {
        match self.var("MODELBUMP_SHUTDOWN_GRACE") {
            Some(text) => Ok(argocd::parse_duration("MODELBUMP_SHUTDOWN_GRACE", &text)?),
            None => Ok(crate::ops::DEFAULT_SHUTDOWN_GRACE),
        }
    }

    /// The secret MLflow signs webhook deliveries with: `MODELBUMP_MLFLOW_WEBHOOK_SECRET`.
    pub(crate) fn mlflow_webhook_secret(&self) -> Option<SecretString> {
        self.env
            .get("MODELBUMP_MLFLOW_WEBHOOK_SECRET")
            .filter(|v| !v.is_empty())
            .map(SecretString::from)
    }

    /// Pull-request mode, `None` when off: `--pull-request` > `MODELBUMP_PULL_REQUEST` (a switch) > the
    /// presence of `git.pullRequest`; the forge: `MODELBUMP_FORGE` > `git.forge` (else from the remote's
    /// host); its API: `MODELBUMP_FORGE_API` > `git.forgeApi`.
    pub(crate) fn pull_request(
        &self,
        flag: bool,
    ) -> anyhow::Result<Option<crate::ops::PullRequestOptions>> {
        let git = &self.config.git;
        let on = flag || self.switch_or("MODELBUMP_PULL_REQUEST", git.pull_request.is_some());
        if !on {
            return Ok(None);
        }
        let forge = match pick(None, self.var("MODELBUMP_FORGE"), git.forge.clone()) {
            Some(name) => Some(crate::ops::ForgeKind::parse(&name).ok_or(BadVariable {
                name: "MODELBUMP_FORGE",
                value: name,
                expected: "possible values (MODELBUMP_FORGE or git.forge): github, gitlab, gitea",
            })?),
            None => None,
        };
        let config = git.pull_request.clone().unwrap_or_default();
        Ok(Some(crate::ops::PullRequestOptions {
            base: config.base,
            labels: config.labels,
            reviewers: config.reviewers,
            draft: config.draft.unwrap_or(false),
            forge,
            forge_api: pick(None, self.var("MODELBUMP_FORGE_API"), git.forge_api.clone()),
            timeout: None,
            wait_merged: None,
            github_app: self.github_app()?,
        }))
    }

    /// GitHub App auth, `None` when no part of it is set: each of `MODELBUMP_GITHUB_APP_ID`,
    /// `MODELBUMP_GITHUB_APP_INSTALLATION_ID`, `MODELBUMP_GITHUB_APP_PRIVATE_KEY` > its key under
    /// `git.githubApp`; a part without the others is a usage error naming what is missing.
    pub(crate) fn github_app(&self) -> anyhow::Result<Option<crate::ops::GitHubApp>> {
        let config = self.config.git.github_app.clone().unwrap_or_default();
        let parts = [
            (
                "MODELBUMP_GITHUB_APP_ID",
                "git.githubApp.appId",
                pick(
                    None,
                    self.var("MODELBUMP_GITHUB_APP_ID"),
                    config.app_id.map(|v| v.to_string()),
                ),
            ),
            (
                "MODELBUMP_GITHUB_APP_INSTALLATION_ID",
                "git.githubApp.installationId",
                pick(
                    None,
                    self.var("MODELBUMP_GITHUB_APP_INSTALLATION_ID"),
                    config.installation_id.map(|v| v.to_string()),
                ),
            ),
            (
                "MODELBUMP_GITHUB_APP_PRIVATE_KEY",
                "git.githubApp.privateKey",
                pick(
                    None,
                    self.var("MODELBUMP_GITHUB_APP_PRIVATE_KEY"),
                    config.private_key,
                ),
            ),
        ];
        if parts.iter().all(|(_, _, value)| value.is_none()) {
            return Ok(None);
        }
        let missing: Vec<String> = parts
            .iter()
            .filter(|(_, _, value)| value.is_none())
            .map(|(var, key, _)| format!("{var} ({key})"))
            .collect();
        if !missing.is_empty() {
            return Err(crate::ops::ConfigProblem(format!(
                "GitHub App auth needs the app id, the installation id and the private key file; missing: {}",
                missing.join(", ")
            ))
            .into());
        }
        let [
            (_, _, Some(app_id)),
            (_, _, Some(installation_id)),
            (_, _, Some(key)),
        ] = parts
        else {
            unreachable!("every part is set")
        };
        Ok(Some(crate::ops::GitHubApp {
            app_id,
            installation_id,
            private_key: std::path::PathBuf::from(key),
        }))
    }

    /// `--wait-merged`, `None` when off: the flag > `MODELBUMP_WAIT_MERGED` (a switch) >
    /// `git.pullRequest.waitMerged`; how long: `--merge-timeout` > `MODELBUMP_MERGE_TIMEOUT` >
    /// `git.pullRequest.mergeTimeout` > 1h; the first pause between polls: `MODELBUMP_MERGE_POLL_INTERVAL`
    /// > 10s.
    pub(crate) fn wait_merged(
        &self,
        flag: bool,
        timeout: Option<String>,
    ) -> anyhow::Result<Option<crate::ops::WaitMerged>> {
        let config = self.config.git.pull_request.clone().unwrap_or_default();
        let on =
            flag || self.switch_or("MODELBUMP_WAIT_MERGED", config.wait_merged.unwrap_or(false));
        if !on {
            return Ok(None);
        }
        let duration = |name: &'static str, text: String| {
            humantime::parse_duration(text.trim()).map_err(|_| BadVariable {
                name,
                value: text,
                expected: "a duration such as 45s, 30m or 2h",
            })
        };
        let timeout = match pick(
            timeout,
            self.var("MODELBUMP_MERGE_TIMEOUT"),
            config.merge_timeout,
        ) {
            Some(text) => duration(
                "--merge-timeout (MODELBUMP_MERGE_TIMEOUT, git.pullRequest.mergeTimeout)",
                text,
            )?,
            None => crate::ops::WaitMerged::DEFAULT_TIMEOUT,
        };
        let poll_interval = match self.var("MODELBUMP_MERGE_POLL_INTERVAL") {
            Some(text) => duration("MODELBUMP_MERGE_POLL_INTERVAL", text)?,
            None => crate::ops::WaitMerged::DEFAULT_POLL_INTERVAL,
        };
        Ok(Some(crate::ops::WaitMerged {
            timeout,
            poll_interval,
        }))
    }

    /// The Argo CD options: each flag > its variable > `argocd.*` > default.
    pub(crate) fn argocd(&self, args: &ArgoCdArgs) -> Result<SyncOptions, ArgoCdError> {
        let config = &self.config.argocd;
        let env = &self.env;
        let app_namespace = pick(
            args.app_namespace.clone(),
            self.var("MODELBUMP_ARGOCD_APP_NAMESPACE"),
            config.app_namespace.clone(),
        );
        let names = pick(
            Some(args.apps.clone()),
            self.var("MODELBUMP_ARGOCD_APPS")
                .map(|v| v.split(',').map(str::to_string).collect()),
            Some(config.apps.clone()),
        )
        .unwrap_or_default();
        let apps = names
            .iter()
            .filter(|n| !n.trim().is_empty())
            .map(|n| argocd::client::AppRef::parse(n.trim(), app_namespace.as_deref()))
            .collect();
        let plaintext = args.plaintext || self.switch("ARGOCD_PLAINTEXT");
        let plaintext = plaintext || config.plaintext.unwrap_or(false);
        let server = pick(
            args.server.clone(),
            self.var("ARGOCD_SERVER"),
            config.server.clone(),
        )
        .map(|s| argocd::client::server_url(&s, plaintext))
        .transpose()?;
        let timeout = match pick(
            args.timeout.clone(),
            self.var("MODELBUMP_SYNC_TIMEOUT"),
            config.timeout.clone(),
        ) {
            Some(text) => argocd::parse_duration("--timeout", &text)?,
            None => argocd::DEFAULT_TIMEOUT,
        };
        let poll_interval = match env.get("MODELBUMP_SYNC_POLL_INTERVAL") {
            Some(text) => argocd::parse_duration("MODELBUMP_SYNC_POLL_INTERVAL", text)?,
            None => argocd::client::DEFAULT_POLL_INTERVAL,
        };
        let config_ca = config.ca_cert.as_ref().map(|p| {
            if p.is_absolute() {
                p.clone()
            } else {
                self.repo.join(p)
            }
        });
        let ca_cert = pick(
            args.ca_cert.clone(),
            self.env.path("MODELBUMP_ARGOCD_CA_CERT"),
            config_ca,
        );
        let webhook = pick(
            args.webhook.clone(),
            self.var("MODELBUMP_WEBHOOK"),
            config.webhook.clone(),
        )
        .map(|s| argocd::webhook_url(&s))
        .transpose()?;
        let insecure = args.insecure || self.switch("ARGOCD_INSECURE");
        Ok(SyncOptions {
            apps,
            server,
            token: env.get("ARGOCD_AUTH_TOKEN").map(SecretString::from),
            wait: args.wait || self.switch("MODELBUMP_SYNC_WAIT"),
            timeout,
            poll_interval,
            client: ClientOptions {
                ca_cert,
                insecure: insecure || config.insecure.unwrap_or(false),
                ..ClientOptions::default()
            },
            webhook,
            webhook_secret: env.get("MODELBUMP_WEBHOOK_SECRET").map(SecretString::from),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::argocd::client::AppRef;
    use std::time::Duration;

    fn settings(config: &str, env: &[(&str, &str)]) -> Settings {
        Settings {
            repo: PathBuf::from("/repo"),
            config: Config::parse(config, std::path::Path::new("modelbump.yaml")).unwrap(),
            config_path: None,
            output: OutputFormat::Text,
            env: Env::from_pairs(env.iter().copied()),
            color: false,
            subdir: PathBuf::new(),
        }
    }

    fn args() -> ArgoCdArgs {
        ArgoCdArgs {
            apps: Vec::new(),
            app_namespace: None,
            server: None,
            wait: false,
            timeout: None,
            insecure: false,
            plaintext: false,
            ca_cert: None,
            webhook: None,
            revision: None,
        }
    }
    #[test]
    fn the_record_is_off_unless_an_environment_is_named_and_the_alias_defaults_to_it() {
        let off = settings("", &[]);
        assert_eq!(off.record(None, None).unwrap(), None);
        let on = |environment: &str, alias: &str| {
            Some(crate::resolve::RecordSettings {
                environment: environment.into(),
                alias: alias.into(),
            })
        };
        let config = "mlflow:\n  recordDeployments:\n    environment: staging\n";
        assert_eq!(
            settings(config, &[]).record(None, None).unwrap(),
            on("staging", "staging")
        );
        // flag > variable > config, for each key.
        let s = settings(
            config,
            &[
                ("MODELBUMP_RECORD_ENVIRONMENT", "production"),
                ("MODELBUMP_RECORD_ALIAS", "champion"),
            ],
        );
        assert_eq!(s.record(None, None).unwrap(), on("production", "champion"));
        assert_eq!(
            s.record(Some("canary".into()), Some("".into())).unwrap(),
            on("canary", "champion")
        );
        // The variable alone turns the record on.
        let s = settings("", &[("MODELBUMP_RECORD_ENVIRONMENT", "production")]);
        assert_eq!(
            s.record(None, None).unwrap(),
            on("production", "production")
        );
    }

    #[test]
    fn a_record_without_environment_or_with_names_mlflow_refuses_is_a_config_error() {
        let empty = settings("mlflow:\n  recordDeployments: {alias: prod}\n", &[]);
        let err = empty.record(None, None).unwrap_err();
        assert!(err.is::<crate::ops::ConfigProblem>());
        assert!(
            err.to_string().contains("needs an environment name"),
            "{err}"
        );
        let s = settings("", &[]);
        for (environment, alias) in [("prod.eu", "prod"), ("prod", "latest"), ("prod", "v3")] {
            let err = s
                .record(Some(environment.into()), Some(alias.into()))
                .unwrap_err();
            assert!(
                err.is::<crate::ops::ConfigProblem>(),
                "{environment} {alias}"
            );
        }
        assert!(s.record(Some("prod".into()), Some("v3a".into())).is_ok());
    }

    const CONFIG: &str = "argocd:\n  server: argocd.example.com\n  apps: [a, team/b]\n  appNamespace: apps\n  timeout: 90s\n  caCert: certs/ca.pem\n  plaintext: true\n";

    #[test]
    fn the_config_fills_what_flags_and_environment_leave_open() {
        let s = settings(CONFIG, &[("ARGOCD_AUTH_TOKEN", "t")]);
        let o = s.argocd(&args()).unwrap();
        assert_eq!(
            o.apps,
            vec![
                AppRef::parse("a", Some("apps")),
                AppRef::parse("team/b", None)
            ]
        );
        assert_eq!(o.server.unwrap().as_str(), "http://argocd.example.com/");
        assert_eq!(o.timeout, Duration::from_secs(90));
        assert_eq!(o.client.ca_cert, Some(PathBuf::from("/repo/certs/ca.pem")));
        assert!(o.token.is_some());
        assert!(o.webhook.is_none());
    }

    #[test]
    fn flags_win_over_the_config_and_blank_values_mean_unset() {
        let s = settings(CONFIG, &[]);
        let mut a = args();
        a.apps = vec!["c".into()];
        a.server = Some("https://other.example.com:8443".into());
        a.timeout = Some("2m".into());
        let o = s.argocd(&a).unwrap();
        assert_eq!(o.apps, vec![AppRef::parse("c", Some("apps"))]);
        assert_eq!(
            o.server.unwrap().as_str(),
            "https://other.example.com:8443/"
        );
        assert_eq!(o.timeout, Duration::from_secs(120));
        assert!(o.token.is_none());

        // What a pipeline passes for a parameter left empty.
        a.apps = vec![String::new()];
        a.server = Some(String::new());
        a.timeout = Some(String::new());
        let o = s.argocd(&a).unwrap();
        assert_eq!(o.apps.len(), 2);
        assert_eq!(o.server.unwrap().as_str(), "http://argocd.example.com/");
        assert_eq!(o.timeout, Duration::from_secs(90));
    }

    #[test]
    fn defaults_and_bad_values() {
        let s = settings("{}", &[]);
        let o = s.argocd(&args()).unwrap();
        assert!(!o.is_configured());
        assert_eq!(o.timeout, argocd::DEFAULT_TIMEOUT);
        assert_eq!(o.poll_interval, argocd::client::DEFAULT_POLL_INTERVAL);

        let mut a = args();
        a.timeout = Some("soon".into());
        let err = s.argocd(&a).unwrap_err().to_string();
        assert!(err.contains("invalid --timeout \"soon\""), "{err}");

        a.timeout = None;
        a.webhook = Some("https://argocd.example.com".into());
        let o = s.argocd(&a).unwrap();
        assert!(o.is_configured());
        assert_eq!(
            o.webhook.unwrap().as_str(),
            "https://argocd.example.com/api/webhook"
        );
        a.webhook = Some("argocd.example.com/api/webhook".into());
        assert!(s.argocd(&a).is_err());
    }

    #[test]
    fn variables_fill_what_flags_leave_open_and_switches_read_as_clap_did() {
        let s = settings(
            CONFIG,
            &[
                ("MODELBUMP_ARGOCD_APPS", "x, ,y"),
                ("ARGOCD_SERVER", "env.example.com"),
                ("MODELBUMP_SYNC_WAIT", "off"),
                ("ARGOCD_INSECURE", "yes"),
            ],
        );
        let o = s.argocd(&args()).unwrap();
        assert_eq!(
            o.apps,
            vec![
                AppRef::parse("x", Some("apps")),
                AppRef::parse("y", Some("apps"))
            ]
        );
        assert_eq!(o.server.unwrap().as_str(), "http://env.example.com/");
        assert!(!o.wait);
        assert!(o.client.insecure);
        for (value, on) in [
            ("", false),
            ("0", false),
            ("No", false),
            ("1", true),
            ("true", true),
        ] {
            let s = settings("{}", &[("MODELBUMP_SYNC_WAIT", value)]);
            assert_eq!(s.argocd(&args()).unwrap().wait, on, "{value:?}");
        }
        let mut a = args();
        a.server = Some("flag.example.com".into());
        assert_eq!(
            s.argocd(&a).unwrap().server.unwrap().as_str(),
            "http://flag.example.com/"
        );
    }

    #[test]
    fn serve_settings_defaults_flags_and_variables() {
        let s = settings("{}", &[]);
        assert_eq!(s.listen(None).unwrap().to_string(), "127.0.0.1:8080");
        assert_eq!(
            s.poll_interval(None).unwrap(),
            Some(Duration::from_secs(300))
        );
        assert!(s.mlflow_webhook_secret().is_none());
        let s = settings(
            "{}",
            &[
                ("MODELBUMP_LISTEN", "0.0.0.0:9000"),
                ("MODELBUMP_POLL_INTERVAL", "0"),
                ("MODELBUMP_MLFLOW_WEBHOOK_SECRET", "s"),
            ],
        );
        assert_eq!(s.listen(None).unwrap().to_string(), "0.0.0.0:9000");
        assert_eq!(
            s.listen(Some("[::1]:81".into())).unwrap().to_string(),
            "[::1]:81"
        );
        assert_eq!(s.poll_interval(None).unwrap(), None);
        assert_eq!(
            s.poll_interval(Some("30s".into())).unwrap(),
            Some(Duration::from_secs(30))
        );
        assert!(s.mlflow_webhook_secret().is_some());
        assert!(s.listen(Some("localhost".into())).is_err());
        assert!(s.poll_interval(Some("soon".into())).is_err());
        let env = Env::from_pairs([("MODELBUMP_LOG_FORMAT", "JSON")]);
        assert_eq!(log_format(None, &env).unwrap(), LogFormat::Json);
        assert_eq!(
            log_format(Some(LogFormat::Text), &env).unwrap(),
            LogFormat::Text
        );
        let env = Env::from_pairs([("MODELBUMP_LOG_FORMAT", "xml")]);
        assert!(log_format(None, &env).is_err());
    }

    #[test]
    fn flag_beats_variable_beats_config_beats_default() {
        let s = settings(
            "git:\n  remote: cfg\n  branch: cfgb\n",
            &[("MODELBUMP_GIT_REMOTE", "env")],
        );
        assert_eq!(s.remote(Some("flag".into())), "flag");
        assert_eq!(s.remote(Some(String::new())), "env");
        assert_eq!(s.remote(None), "env");
        assert_eq!(s.branch(None).as_deref(), Some("cfgb"));
        assert_eq!(settings("{}", &[]).remote(None), "origin");
        assert_eq!(settings("{}", &[]).branch(None), None);
    }

    #[test]
    fn signing_is_resolved_flag_over_env_over_config() {
        let none = SigningArgs::default();
        assert_eq!(settings("", &[]).signing(&none).unwrap(), None);
        // A config key is relative to the repo root.
        let config = "git:\n  signing: {format: ssh, key: keys/signer}\n";
        assert_eq!(
            settings(config, &[]).signing(&none).unwrap(),
            Some(Signing::Ssh {
                key: PathBuf::from("/repo/keys/signer")
            })
        );
        let home = settings(
            "git:\n  signing: {format: ssh, key: ~/.ssh/signer}\n",
            &[("HOME", "/home/ci")],
        );
        assert_eq!(
            home.signing(&none).unwrap(),
            Some(Signing::Ssh {
                key: PathBuf::from("/home/ci/.ssh/signer")
            })
        );
        let env = [
            ("MODELBUMP_GIT_SIGNING_FORMAT", "OpenPGP"),
            ("MODELBUMP_GIT_SIGNING_KEY", "ABCDEF0123456789"),
        ];
        assert_eq!(
            settings(config, &env).signing(&none).unwrap(),
            Some(Signing::OpenPgp {
                key: "ABCDEF0123456789".into()
            })
        );
        let flags = SigningArgs {
            signing_key: Some("/keys/other".into()),
            signing_format: Some(SigningFormatArg::Ssh),
        };
        assert_eq!(
            settings(config, &env).signing(&flags).unwrap(),
            Some(Signing::Ssh {
                key: PathBuf::from("/keys/other")
            })
        );
    }

    #[test]
    fn signing_needs_both_a_format_and_a_key() {
        let error = |config: &str, env: &[(&str, &str)]| {
            settings(config, env)
                .signing(&SigningArgs::default())
                .unwrap_err()
        };
        let err = error("git:\n  signing: {format: openpgp}\n", &[]).to_string();
        assert!(
            err.contains("no key") && err.contains("git.signing.key"),
            "{err}"
        );
        let err = error("", &[("MODELBUMP_GIT_SIGNING_KEY", "/k")]).to_string();
        assert!(
            err.contains("no format") && err.contains("ssh or openpgp"),
            "{err}"
        );
        let err = error("", &[("MODELBUMP_GIT_SIGNING_FORMAT", "x509")]);
        assert!(err.downcast_ref::<BadVariable>().is_some(), "{err}");
        assert!(err.to_string().contains("ssh, openpgp"), "{err}");
    }
}
