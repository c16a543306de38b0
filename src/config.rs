//! The configuration file, `modelbump.yaml`: what to deploy where.
//!
//! The schema is part of the user-facing contract (README, "Configuration"). Unknown keys are errors that
//! name the key and the line, because a typo such as `requires:` would otherwise silently disable a gate.
//! A file named with `--config` must exist; the default `modelbump.yaml` at the repo root is optional.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The default file name, looked up at the repo root.
pub const DEFAULT_FILE: &str = "modelbump.yaml";

/// Errors reading or validating the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The config file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The YAML does not fit the schema (unknown key, wrong type, bad syntax).
    #[error("invalid config {path}: {message}")]
    Parse {
        /// The config file.
        path: PathBuf,
        /// The parser's message, with the line.
        message: String,
    },
    /// The YAML parsed but a value is not usable.
    #[error("invalid config {path}: {message}")]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        message: String,
    },
}

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    /// Where MLflow is.
    #[serde(default)]
    pub mlflow: MlflowConfig,
    /// The model URI fields to keep up to date.
    #[serde(default)]
    pub targets: Vec<TargetConfig>,
    /// Prefix mappings from what MLflow reports to what the serving side reads.
    #[serde(default)]
    pub uri_rewrite: Vec<UriRewrite>,
    /// Accept, for every target, a location whose scheme differs from the current value's, a local
    /// path or a `file:` URI included (refused by default: the serving side usually cannot read it).
    #[serde(default)]
    pub allow_scheme_change: bool,
    /// How to commit and push.
    #[serde(default)]
    pub git: GitConfig,
    /// Which Argo CD applications to sync.
    #[serde(default)]
    pub argocd: ArgoCdConfig,
}

/// `mlflow:`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MlflowConfig {
    /// The tracking URI (`http(s)://`, `sqlite:///`, `file:` or a path to `mlruns`).
    pub tracking_uri: Option<String>,
    /// Concurrent requests to the tracking server (default 8). Zero is refused as a parse error, with
    /// the line, as `MODELBUMP_MLFLOW_CONCURRENCY=0` is: no request could ever be sent.
    #[serde(default, deserialize_with = "positive")]
    pub concurrency: Option<std::num::NonZeroUsize>,
}

/// A positive whole number, with a message that says so.
fn positive<'de, D: serde::Deserializer<'de>>(
    de: D,
) -> Result<Option<std::num::NonZeroUsize>, D::Error> {
    let Some(n) = Option::<usize>::deserialize(de)? else {
        return Ok(None);
    };
    std::num::NonZeroUsize::new(n).map(Some).ok_or_else(|| {
        serde::de::Error::invalid_value(
            serde::de::Unexpected::Unsigned(0),
            &"a positive number of requests in flight",
        )
    })
}

/// One entry of `targets:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TargetConfig {
    /// The manifest, relative to the repo root.
    pub file: PathBuf,
    /// `metadata.name`, or `NAME/COMPONENT`.
    pub name: String,
    /// The resource kind, where the name alone is ambiguous in the file.
    pub kind: Option<String>,
    /// Take the model of a run.
    pub run: Option<RunSource>,
    /// Or a registered model version.
    pub registered: Option<RegisteredSource>,
    /// Gates: all must hold, else the target is `blocked`.
    #[serde(default)]
    pub require: Vec<String>,
    /// Keep the current URI whatever MLflow says (a manual pin or rollback); the target reports `pinned`.
    #[serde(default)]
    pub pinned: bool,
    /// The top-level `allowSchemeChange` for this target alone (it wins over the top-level value).
    pub allow_scheme_change: Option<bool>,
}

impl TargetConfig {
    /// Whether this target may receive a location of another scheme than its current value's, or a local
    /// one: its own `allowSchemeChange`, else the top-level one of `config`.
    pub fn allows_scheme_change(&self, config: &Config) -> bool {
        self.allow_scheme_change
            .unwrap_or(config.allow_scheme_change)
    }
}

/// `targets[].run:`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RunSource {
    /// Experiment name or id.
    pub experiment: String,
    /// An MLflow search filter, always ANDed with `attributes.status = 'FINISHED'`.
    pub filter: Option<String>,
    /// The order; default `attributes.start_time DESC` (newest first).
    pub order_by: Option<String>,
    /// Which logged model (MLflow 3) or artifact path (MLflow 2), where a run has several.
    pub model: Option<String>,
}

/// `targets[].registered:`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RegisteredSource {
    /// The registered model's name.
    pub name: String,
    /// An alias such as `champion`.
    pub alias: Option<String>,
    /// A version number.
    pub version: Option<VersionNumber>,
    /// A (deprecated) stage such as `Production`.
    pub stage: Option<String>,
}

/// A registry version, written as a number or a string in YAML.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum VersionNumber {
    /// `version: 7`
    Number(u64),
    /// `version: "7"`
    Text(String),
}

impl std::fmt::Display for VersionNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Number(n) => write!(f, "{n}"),
            Self::Text(s) => f.write_str(s),
        }
    }
}

/// One entry of `uriRewrite:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UriRewrite {
    /// The prefix MLflow reports, e.g. `mlflow-artifacts:/`.
    pub from: String,
    /// What the serving side reads instead, e.g. `s3://mlflow-artifacts/`.
    pub to: String,
}

/// `git:`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GitConfig {
    /// The remote to push to (default `origin`).
    pub remote: Option<String>,
    /// The branch to push (default: the checked-out branch).
    pub branch: Option<String>,
    /// Author (and committer) of the commits.
    pub author: Option<Person>,
    /// The commit message template; the changes and provenance trailers are added below it.
    pub message: Option<String>,
    /// How many pushes at most when the branch keeps moving (default 20: enough for 20 writers at once).
    pub push_attempts: Option<u32>,
    /// Pull-request mode (`run` commits on a head branch and opens a pull request); present turns it on.
    pub pull_request: Option<PullRequestConfig>,
    /// The forge the remote is on: `github`, `gitlab` or `gitea` (default: from the remote's host).
    pub forge: Option<String>,
    /// The forge's API base URL (default: from the remote's host).
    pub forge_api: Option<String>,
}

/// `git.pullRequest:` (an empty mapping `{}` turns the mode on with the defaults).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PullRequestConfig {
    /// The branch the pull request goes to (default: `git.branch`, else the checked-out branch).
    pub base: Option<String>,
    /// Labels added when the pull request is opened.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Reviewers requested when it is opened (`user`, or `org/team` on GitHub).
    #[serde(default)]
    pub reviewers: Vec<String>,
    /// Open it as a draft.
    pub draft: Option<bool>,
    /// Wait until the pull request is merged, then sync Argo CD to the merge commit (`--wait-merged`).
    pub wait_merged: Option<bool>,
    /// How long `--wait-merged` waits, e.g. `30m`, `2h` (default 1h).
    pub merge_timeout: Option<String>,
}

/// A commit identity.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Person {
    /// Name.
    pub name: String,
    /// Email.
    pub email: String,
}

/// `argocd:`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ArgoCdConfig {
    /// The Argo CD API server (host[:port] or URL).
    pub server: Option<String>,
    /// The applications to sync.
    #[serde(default)]
    pub apps: Vec<String>,
    /// Skip TLS verification.
    pub insecure: Option<bool>,
    /// Use plain HTTP.
    pub plaintext: Option<bool>,
    /// A PEM CA bundle for the server's certificate.
    pub ca_cert: Option<PathBuf>,
    /// Post a signed push event here instead of calling the API.
    pub webhook: Option<String>,
    /// How long `--wait` waits (e.g. `5m`).
    pub timeout: Option<String>,
    /// The namespace of the Application objects, where they are not in Argo CD's own.
    pub app_namespace: Option<String>,
}

impl Config {
    /// Parses a configuration from YAML text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let config: Config = serde_saphyr::from_str(text).map_err(|err| ConfigError::Parse {
            path: path.to_path_buf(),
            message: err.to_string(),
        })?;
        config.validate(path)?;
        Ok(config)
    }

    /// Loads the configuration: `explicit` must exist; otherwise `<repo>/modelbump.yaml` is read when
    /// present and an empty configuration is used when not. Returns the file that was read, if any.
    pub fn load(
        repo: &Path,
        explicit: Option<&Path>,
    ) -> Result<(Self, Option<PathBuf>), ConfigError> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => {
                let default = repo.join(DEFAULT_FILE);
                if !default.exists() {
                    return Ok((Self::default(), None));
                }
                default
            }
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        Ok((Self::parse(&text, &path)?, Some(path)))
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        for (i, target) in self.targets.iter().enumerate() {
            let what = format!(
                "targets[{i}] ({} in {})",
                target.name,
                target.file.display()
            );
            match (&target.run, &target.registered) {
                (Some(_), Some(_)) => {
                    return Err(invalid(format!(
                        "{what} has both `run` and `registered`: keep one"
                    )));
                }
                (None, None) if !target.pinned => {
                    return Err(invalid(format!(
                        "{what} has no source: add `run:` (experiment, filter, orderBy) or `registered:` (name and alias, version or stage), or `pinned: true`"
                    )));
                }
                _ => {}
            }
            if let Some(reg) = &target.registered {
                let picks = [
                    reg.alias.is_some(),
                    reg.version.is_some(),
                    reg.stage.is_some(),
                ]
                .iter()
                .filter(|b| **b)
                .count();
                if picks != 1 {
                    return Err(invalid(format!(
                        "{what}: `registered` needs exactly one of `alias`, `version` or `stage`"
                    )));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTRACT_EXAMPLE: &str = r#"
mlflow:
  trackingUri: http://mlflow.mlflow.svc.cluster.local:5000
targets:
  - file: k8s/base/financial-predictor-ab-test.yaml
    name: baseline-predictor
    kind: Model
    run:
      experiment: financial-mlops-pytorch-baseline
      filter: "params.model_variant = 'baseline'"
      orderBy: "attributes.start_time DESC"
      model: model
    require:
      - "metrics.val_accuracy >= 0.6"
  - file: k8s/base/financial-predictor-ab-test.yaml
    name: enhanced-predictor
    registered:
      name: financial-predictor
      alias: champion
uriRewrite:
  - from: "mlflow-artifacts:/"
    to: "s3://mlflow-artifacts/"
allowSchemeChange: false
git:
  remote: origin
  branch: main
  author: {name: modelbump, email: modelbump@example.invalid}
  message: "update: model URIs from MLflow"
argocd:
  server: argocd.example.com
  apps: [financial-mlops-infrastructure]
"#;

    #[test]
    fn parses_the_contract_example() {
        let config = Config::parse(CONTRACT_EXAMPLE, Path::new("modelbump.yaml")).unwrap();
        assert_eq!(config.targets.len(), 2);
        assert_eq!(
            config.targets[0].run.as_ref().unwrap().order_by.as_deref(),
            Some("attributes.start_time DESC")
        );
        assert_eq!(
            config.targets[1]
                .registered
                .as_ref()
                .unwrap()
                .alias
                .as_deref(),
            Some("champion")
        );
        assert_eq!(config.uri_rewrite[0].to, "s3://mlflow-artifacts/");
        assert_eq!(config.argocd.apps, vec!["financial-mlops-infrastructure"]);
        assert!(!config.targets[0].allows_scheme_change(&config));
    }

    #[test]
    fn allow_scheme_change_per_target_wins_over_the_top_level() {
        let text = "allowSchemeChange: true\ntargets:\n  - {file: a.yaml, name: m, pinned: true}\n  - {file: a.yaml, name: n, pinned: true, allowSchemeChange: false}\n";
        let config = Config::parse(text, Path::new("c.yaml")).unwrap();
        assert!(config.targets[0].allows_scheme_change(&config));
        assert!(!config.targets[1].allows_scheme_change(&config));
        let text =
            "targets:\n  - {file: a.yaml, name: m, pinned: true, allowSchemeChanges: true}\n";
        let err = Config::parse(text, Path::new("c.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("allowSchemeChanges"), "{err}");
    }

    #[test]
    fn unknown_key_names_the_key_and_line() {
        let text = "targets:\n  - file: a.yaml\n    name: m\n    requires: []\n";
        let err = Config::parse(text, Path::new("modelbump.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("requires"), "{err}");
        assert!(err.contains("line 4") || err.contains("4:"), "{err}");
    }

    #[test]
    fn a_target_needs_exactly_one_source() {
        let text = "targets:\n  - file: a.yaml\n    name: m\n";
        let err = Config::parse(text, Path::new("c.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("has no source"), "{err}");
    }

    #[test]
    fn registered_needs_exactly_one_selector() {
        let text = "targets:\n  - file: a.yaml\n    name: m\n    registered: {name: x, alias: a, version: 3}\n";
        let err = Config::parse(text, Path::new("c.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("exactly one"), "{err}");
    }

    #[test]
    fn zero_concurrency_is_refused_with_the_line() {
        // MODELBUMP_MLFLOW_CONCURRENCY=0 is refused too: no request could ever be sent.
        let text = "mlflow:\n  trackingUri: http://h\n  concurrency: 0\n";
        let err = Config::parse(text, Path::new("conf/modelbump.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("conf/modelbump.yaml"), "{err}");
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("concurrency"), "{err}");
        let config = Config::parse("mlflow: {concurrency: 3}\n", Path::new("c.yaml")).unwrap();
        assert_eq!(
            config.mlflow.concurrency.map(|n| n.to_string()).as_deref(),
            Some("3")
        );
        let config = Config::parse("mlflow: {concurrency: null}\n", Path::new("c.yaml")).unwrap();
        assert!(config.mlflow.concurrency.is_none());
    }
}
