//! The configuration file, `modelbump.yaml`: what to deploy where.
//!
//! The schema is part of the user-facing contract (docs/configuration.md). Unknown keys are errors that
//! name the key and the line, because a typo such as `requires:` would otherwise silently disable a gate.
//! A file named with `--config` must exist; the default `modelbump.yaml` at the repo root is optional.
//! Every key is also in the JSON Schema `schemas/modelbump.schema.json` (which `validate` walks and
//! editors complete from) and in the table of docs/configuration.md; `tests/config_schema.rs` names each
//! key that is missing from either.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::manifest::{Template, YamlPath};

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
    /// What `plan`, `apply` and `run` do with a model URI last changed by hand (default `hold`).
    #[serde(default)]
    pub manual_changes: ManualChanges,
}

/// `manualChanges:` what to do with a managed model URI whose current value was last changed by a
/// commit modelbump did not make (an edit by hand).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ManualChanges {
    /// Keep it: the target is reported `held`, with the commit's author, date and subject, and is not
    /// changed until a modelbump commit changes it (`rollback`, `set` + `commit`) or the policy is
    /// `overwrite`.
    #[default]
    Hold,
    /// Deploy over it, as for any other value.
    Overwrite,
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
    /// Record each deployment in MLflow (tags on the run, the model version and the logged model, and an
    /// alias moved once Argo CD reports it healthy); off when absent. See `docs/rollback-and-holds.md`.
    pub record_deployments: Option<RecordDeploymentsConfig>,
}

/// `mlflow.recordDeployments:` the environment a deployment is recorded under, and the alias moved to the
/// version once it is healthy there.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RecordDeploymentsConfig {
    /// The environment's name, in the tag keys (`modelbump.<environment>.status`), e.g. `production`.
    pub environment: Option<String>,
    /// The registered model's alias moved to a healthy version (default: the environment's name).
    pub alias: Option<String>,
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
    /// The manifest, relative to the repo root. Empty (left out) only for a marker target, whose marked
    /// values are then found in the whole repo (see `docs/any-field.md`).
    #[serde(default)]
    pub file: PathBuf,
    /// `metadata.name`, or `NAME/COMPONENT`; for a path target its name; for a marker target the name
    /// its markers carry (`# {"$modelbump": "NAME"}`).
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
    /// A YAML path to the value in `file` (a path target), checked at load.
    #[serde(default, deserialize_with = "yaml_path")]
    pub path: Option<YamlPath>,
    /// The form of the value of a path or marker target (default `{uri}`), checked at load.
    #[serde(default, deserialize_with = "template")]
    pub template: Option<Template>,
    /// The document of a multi-document `file` the `path` is looked up in (from 0); folded into `path`
    /// when the config is loaded.
    pub document: Option<usize>,
    /// Free-form `key: value` labels that `--selector key=value` picks targets by (e.g. `variant: baseline`).
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
}

/// How a target finds its value(s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetForm {
    /// `file` + `name` (+ `kind`): a field of a known kind (or, when the file marks values with that
    /// name, those values).
    Named,
    /// `file` + `path`: the one value at the path.
    Path,
    /// No `file`: every value in the repo marked with the name.
    Marker,
}

/// A `path:`, parsed when the config is loaded so that an error carries the line.
fn yaml_path<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<YamlPath>, D::Error> {
    let Some(text) = Option::<String>::deserialize(de)? else {
        return Ok(None);
    };
    YamlPath::parse(&text)
        .map(Some)
        .map_err(|e| serde::de::Error::custom(format!("invalid path {text:?}: {e}")))
}

/// A `template:`, parsed when the config is loaded: an unknown placeholder is an error with the line.
fn template<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<Template>, D::Error> {
    let Some(text) = Option::<String>::deserialize(de)? else {
        return Ok(None);
    };
    Template::parse(&text)
        .map(Some)
        .map_err(|e| serde::de::Error::custom(e.to_string()))
}

impl TargetConfig {
    /// How this target finds its value(s).
    pub fn form(&self) -> TargetForm {
        if self.path.is_some() {
            TargetForm::Path
        } else if self.file.as_os_str().is_empty() {
            TargetForm::Marker
        } else {
            TargetForm::Named
        }
    }

    /// The form the value must have: the `template`, else the whole URI.
    pub fn value_template(&self) -> Template {
        self.template.clone().unwrap_or_else(Template::whole_uri)
    }

    /// How the target is named in messages: `NAME in FILE`, or `NAME (marked values)`.
    pub fn label(&self) -> String {
        match self.form() {
            TargetForm::Marker => format!("{} (marked values)", self.name),
            _ => format!("{} in {}", self.name, self.file.display()),
        }
    }

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
    /// Sign every commit (`format: ssh|openpgp`, `key`); see `docs/signing.md`.
    pub signing: Option<SigningConfig>,
    /// Pull-request mode (`run` commits on a head branch and opens a pull request); present turns it on.
    pub pull_request: Option<PullRequestConfig>,
    /// The forge the remote is on: `github`, `gitlab` or `gitea` (default: from the remote's host).
    pub forge: Option<String>,
    /// The forge's API base URL (default: from the remote's host).
    pub forge_api: Option<String>,
    /// Authenticate on GitHub as this GitHub App installation (push and API) instead of with a token.
    pub github_app: Option<GitHubAppConfig>,
}

/// `git.githubApp:` (each key also from its `MODELBUMP_GITHUB_APP_*` variable, which wins).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GitHubAppConfig {
    /// The app's id (a number or a string).
    pub app_id: Option<VersionNumber>,
    /// The installation's id (a number or a string).
    pub installation_id: Option<VersionNumber>,
    /// The app's private key, a PEM file (absolute, or relative to the working directory).
    pub private_key: Option<String>,
}

/// `git.signing:`
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SigningConfig {
    /// How commits are signed.
    pub format: Option<SigningFormat>,
    /// For `ssh`, the key file (relative to the repo root, or `~/...`); for `openpgp`, a key id,
    /// fingerprint or user id that `gpg --local-user` takes.
    pub key: Option<String>,
}

/// The signature formats, named as git's `gpg.format`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SigningFormat {
    /// An SSH key, signed with `ssh-keygen -Y sign`.
    Ssh,
    /// An OpenPGP key, signed with `gpg`.
    Openpgp,
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

/// The folder whose `modelbump.yaml` applies to `start`: `start` itself or the nearest folder above it
/// that holds one, looking no higher than the git repository's root (the first folder with a `.git`), as
/// git, cargo and uv look up their own files. Outside a git repository only `start` is looked at: with no
/// root to stop at, a stray file in a parent folder (`/tmp`, the home folder) would apply by accident.
/// `None` when no folder in that range holds the file.
pub fn discover(start: &Path) -> Option<PathBuf> {
    let in_git = start.ancestors().any(|dir| dir.join(".git").exists());
    for dir in start.ancestors() {
        if dir.join(DEFAULT_FILE).is_file() {
            return Some(dir.to_path_buf());
        }
        if !in_git || dir.join(".git").exists() {
            break;
        }
    }
    None
}

/// The parser's message for a user: the snippet labelled with the config file (not `<input>`), without
/// the parser's own `error: ` (the command line adds one), and for an unknown key the closest expected
/// one, taken from the list serde gives (so the keys are written once, in the structs above).
fn parse_message(err: &serde_saphyr::Error, path: &Path) -> String {
    let name = path.display().to_string();
    let rendered = err.render_with_options(serde_saphyr::render_options! {
        source_name: Some(&name),
    });
    let rendered = rendered.strip_prefix("error: ").unwrap_or(&rendered);
    let hint = match err.without_snippet() {
        serde_saphyr::Error::SerdeUnknownField {
            field, expected, ..
        } => crate::suggest::did_you_mean(field, expected.iter().copied()),
        _ => String::new(),
    };
    match rendered.split_once('\n') {
        Some((first, rest)) => format!("{first}{hint}\n{rest}"),
        None => format!("{rendered}{hint}"),
    }
}

impl Config {
    /// Parses a configuration from YAML text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let config: Config = serde_saphyr::from_str(text).map_err(|err| ConfigError::Parse {
            path: path.to_path_buf(),
            message: parse_message(&err, path),
        })?;
        config.validate(path)?;
        let mut config = config;
        for target in &mut config.targets {
            if let Some(document) = target.document {
                target.path = target.path.take().map(|p| p.in_document(document));
            }
        }
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
        match self.problems().into_iter().next() {
            Some((_, message)) => Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                message,
            }),
            None => Ok(()),
        }
    }

    /// Every value that parsed but is not usable, with the index of its target: the first one is what
    /// [`Config::parse`] refuses, and `validate` lists them all.
    pub(crate) fn problems(&self) -> Vec<(usize, String)> {
        let mut problems = Vec::new();
        for (i, target) in self.targets.iter().enumerate() {
            let what = format!("targets[{i}] ({})", target.label());
            if target.path.is_some() && target.file.as_os_str().is_empty() {
                problems.push((
                    i,
                    format!(
                        "{what} has a `path` but no `file`: name the file the path is looked up in"
                    ),
                ));
            }
            if target.document.is_some() && target.path.is_none() {
                problems.push((
                    i,
                    format!(
                        "{what} has a `document` but no `path`: `document` picks the document of a multi-document file a path is looked up in; add `path`, or drop `document`"
                    ),
                ));
            }
            if target.path.is_some() && target.kind.is_some() {
                problems.push((i, format!(
                    "{what} has both `path` and `kind`: a path target takes any value, drop `kind`"
                )));
            }
            if target.form() == TargetForm::Marker && target.kind.is_some() {
                problems.push((i, format!(
                    "{what} has a `kind` but no `file`: name the file, or drop `kind` to edit the values marked # {{\"$modelbump\": {:?}}} anywhere in the repo",
                    target.name
                )));
            }
            if target.name.trim().is_empty() {
                problems.push((i, format!("{what} has an empty `name`")));
            }
            match (&target.run, &target.registered) {
                (Some(_), Some(_)) => {
                    problems.push((
                        i,
                        format!("{what} has both `run` and `registered`: keep one"),
                    ));
                }
                (None, None) if !target.pinned => {
                    problems.push((i, format!(
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
                    problems.push((
                        i,
                        format!(
                            "{what}: `registered` needs exactly one of `alias`, `version` or `stage`"
                        ),
                    ));
                }
            }
        }
        problems
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
    fn a_key_typo_gets_a_suggestion_and_the_snippet_names_the_file() {
        let text = "mlflow:\n  trackingURI: http://h\n";
        let err = Config::parse(text, Path::new("conf/modelbump.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("did you mean `trackingUri`?"), "{err}");
        assert!(err.contains("--> conf/modelbump.yaml:2:3"), "{err}");
        assert!(!err.contains("<input>"), "{err}");
        assert_eq!(err.matches("error:").count(), 0, "{err}");
    }

    #[test]
    fn the_config_is_found_upwards_up_to_the_git_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("repo");
        let sub = root.join("k8s/base");
        std::fs::create_dir_all(&sub).unwrap();
        // Above the git root: never used.
        std::fs::write(tmp.path().join(DEFAULT_FILE), "{}").unwrap();
        assert_eq!(
            discover(&sub),
            None,
            "outside git only the folder itself counts"
        );
        std::fs::create_dir(root.join(".git")).unwrap();
        assert_eq!(discover(&sub), None, "the walk stops at the git root");
        std::fs::write(root.join(DEFAULT_FILE), "{}").unwrap();
        assert_eq!(discover(&sub), Some(root.clone()));
        assert_eq!(discover(&root), Some(root.clone()));
        std::fs::write(sub.join(DEFAULT_FILE), "{}").unwrap();
        assert_eq!(discover(&sub), Some(sub.clone()), "the nearest wins");
        assert_eq!(discover(tmp.path()), Some(tmp.path().to_path_buf()));
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

    #[test]
    fn signing_takes_a_format_and_a_key_and_nothing_else() {
        let text = "git:\n  signing: {format: ssh, key: keys/signing}\n";
        let config = Config::parse(text, Path::new("c.yaml")).unwrap();
        assert_eq!(
            config.git.signing,
            Some(SigningConfig {
                format: Some(SigningFormat::Ssh),
                key: Some("keys/signing".into()),
            })
        );
        let text = "git:\n  signing:\n    format: x509\n";
        let err = Config::parse(text, Path::new("c.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("x509") && err.contains("line 3"), "{err}");
        let text = "git:\n  signing: {format: openpgp, keyId: ABC}\n";
        let err = Config::parse(text, Path::new("c.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("keyId"), "{err}");
    }

    #[test]
    fn path_and_marker_targets_are_checked_at_load() {
        let text = "targets:\n  - name: llm\n    file: values.yaml\n    path: \"servingEngineSpec.modelSpec[name=llama3].modelURL\"\n    template: \"--model={uri}\"\n    pinned: true\n  - name: fraud\n    registered: {name: fraud, alias: champion}\n";
        let config = Config::parse(text, Path::new("c.yaml")).unwrap();
        assert_eq!(config.targets[0].form(), TargetForm::Path);
        assert_eq!(config.targets[1].form(), TargetForm::Marker);
        assert_eq!(
            config.targets[0].value_template().to_string(),
            "--model={uri}"
        );
        assert_eq!(config.targets[1].value_template().to_string(), "{uri}");

        let bad = "targets:\n  - name: llm\n    file: v.yaml\n    path: a.b\n    template: \"{uri}/{model}\"\n    pinned: true\n";
        let err = Config::parse(bad, Path::new("conf/modelbump.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("conf/modelbump.yaml"), "{err}");
        assert!(err.contains("line 5"), "{err}");
        assert!(err.contains("unknown placeholder {model}"), "{err}");

        let bad =
            "targets:\n  - name: llm\n    file: v.yaml\n    path: \"a[name=x\"\n    pinned: true\n";
        let err = Config::parse(bad, Path::new("c.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 4") && err.contains("invalid path"),
            "{err}"
        );

        let bad = "targets:\n  - name: llm\n    path: a.b\n    pinned: true\n";
        let err = Config::parse(bad, Path::new("c.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no `file`"), "{err}");
    }
}
