//! A snapshot of the process environment, taken once at start-up.
//!
//! Settings are resolved from flags, this snapshot, the config file and defaults, in that order. Passing
//! the snapshot around (instead of calling `std::env::var` deep in the code) keeps the resolution
//! testable and makes every variable the tool reads visible at its call sites.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The environment variables, read once.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// Reads the process environment. Variables whose name or value is not UTF-8 are ignored.
    pub fn capture() -> Self {
        Self {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// An environment made of the given pairs, for tests.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The value of `name`, `None` when unset or empty (an empty variable means "not set" to users).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Every variable, for a program modelbump runs that follows its own conventions (the signing
    /// programs of `git::signing`), so that it sees the snapshot and nothing else.
    pub fn vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The value of `name` as a path, `None` when unset or empty.
    pub fn path(&self, name: &str) -> Option<PathBuf> {
        self.get(name).map(PathBuf::from)
    }

    /// The user's home folder, where `~/.mlflow/credentials` lives.
    pub fn home(&self) -> Option<PathBuf> {
        self.get("HOME").map(PathBuf::from)
    }

    /// Parses a boolean the way MLflow's client does: `true`/`false`/`1`/`0`, case-insensitive.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "true" | "1" => Ok(Some(true)),
                "false" | "0" => Ok(Some(false)),
                _ => Err(format!(
                    "{name}={v} is not a boolean: use true, false, 1 or 0"
                )),
            },
        }
    }
}
