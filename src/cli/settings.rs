//! Settings resolved once, before any work: flag > environment > config file > default.
//!
//! The global options are resolved here into [`Settings`], which every command receives. Options that
//! belong to one domain (MLflow connection, git credentials, Argo CD) are resolved by that domain's module
//! from the same inputs (`Settings::env`, `Settings::config`, the command's flags), so that each
//! precedence rule is written once, next to the code that uses it.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::cli::{GlobalArgs, OutputFormat};
use crate::config::Config;
use crate::env::Env;

/// The resolved global settings.
#[derive(Debug, Clone)]
pub struct Settings {
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
}

impl Settings {
    /// Resolves the global options.
    pub fn resolve(global: &GlobalArgs, env: Env) -> anyhow::Result<Self> {
        let repo_arg = global.repo.clone().unwrap_or_else(|| PathBuf::from("."));
        let repo = repo_arg
            .canonicalize()
            .with_context(|| format!("cannot open repo folder {}", repo_arg.display()))?;
        anyhow::ensure!(repo.is_dir(), "repo {} is not a folder", repo.display());
        let (config, config_path) = Config::load(&repo, global.config.as_deref())?;
        Ok(Self {
            repo,
            config,
            config_path,
            output: global.output,
            env,
        })
    }

    /// A path relative to the repo root, for messages and reports (unchanged when outside the repo).
    pub fn relative<'a>(&self, path: &'a Path) -> &'a Path {
        path.strip_prefix(&self.repo).unwrap_or(path)
    }
}
