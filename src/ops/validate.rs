//! `validate`: an offline check of `modelbump.yaml` that lists every problem at once, each with its line.
//!
//! The other commands stop at the first problem of the configuration, because they cannot go on; a
//! person fixing a config (or a pipeline's lint step) wants them all. So the file is read into the
//! position-keeping YAML tree of [`crate::manifest::tree`] and walked against the JSON Schema shipped in
//! `schemas/modelbump.schema.json` (embedded here, so that the keys an editor completes and the keys this
//! check accepts are one list; `tests/config_schema.rs` checks that list against the config structs both
//! ways). Every unknown key, wrong type and missing key is a problem; what remains is deserialized into
//! the config structs section by section and target by target, and then checked as the commands would
//! use it, with the commands' own checks and messages: the source rules of [`Config::problems`], each
//! manifest read, contained in the repo and the target's name found in it (as the plan does), each gate
//! parsed ([`crate::resolve::Gate`]), each run filter and order parsed (MLflow's search language, as the
//! local stores parse it), `uriRewrite` rules that can never apply, and the Argo CD duration, webhook URL
//! and CA file. Nothing is asked of MLflow, git or Argo CD.

use std::path::PathBuf;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::{Config, TargetConfig};
use crate::manifest::tree::{self, Node, NodeKind, Seg};
use crate::manifest::{self, ScalarStyle, Selector};

/// The JSON Schema of `modelbump.yaml`, as shipped in the repository.
pub const CONFIG_SCHEMA: &str = include_str!("../../schemas/modelbump.schema.json");

/// What to check.
#[derive(Debug, Clone)]
pub struct ValidateOptions {
    /// The repo root (absolute): target files are relative to it and must stay inside it.
    pub repo: PathBuf,
    /// The configuration file.
    pub config: PathBuf,
}

/// The outcome: every problem found, in the order of the file.
#[derive(Debug, Clone, Serialize)]
pub struct Validation {
    /// The configuration file, as given.
    pub config: String,
    /// True when there is no problem.
    pub valid: bool,
    /// How many targets the file configures.
    pub targets: usize,
    /// Every problem, sorted by line.
    pub problems: Vec<Problem>,
}

/// One problem of the configuration.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Problem {
    /// The configuration file.
    pub file: String,
    /// The 1-based line in it, where there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// What is wrong, and what to do.
    pub message: String,
}

/// Checks the configuration file; never fails: a file that cannot be read is a problem too.
pub fn validate(options: &ValidateOptions) -> Validation {
    let file = crate::discover::display_path(&options.repo, &options.config);
    let mut check = Check {
        file: file.clone(),
        problems: Vec::new(),
    };
    let targets = check.file_text(options);
    check.problems.sort_by_key(|p| p.line.unwrap_or(0));
    Validation {
        config: file,
        valid: check.problems.is_empty(),
        targets,
        problems: check.problems,
    }
}

struct Check {
    file: String,
    problems: Vec<Problem>,
}

impl Check {
    fn problem(&mut self, line: Option<usize>, message: impl Into<String>) {
        self.problems.push(Problem {
            file: self.file.clone(),
            line,
            message: message.into(),
        });
    }

    /// Reads and checks the file; returns how many targets it configures.
    fn file_text(&mut self, options: &ValidateOptions) -> usize {
        let bytes = match crate::fsutil::read_regular(&options.config) {
            Ok(bytes) => bytes,
            Err(e) => {
                self.problem(None, format!("cannot read config {}: {e}", self.file));
                return 0;
            }
        };
        let Ok(text) = String::from_utf8(bytes) else {
            self.problem(None, "not UTF-8 text");
            return 0;
        };
        let documents = match tree::parse(&text) {
            Ok(documents) => documents,
            Err(e) => {
                self.problem(e.line(), e.to_string());
                return 0;
            }
        };
        let mut roots = documents.iter().filter_map(|d| d.root.as_ref());
        let Some(root) = roots.next() else {
            // An empty file is an empty configuration, as the other commands read it.
            return 0;
        };
        if let Some(second) = roots.next() {
            self.problem(
                Some(second.line),
                "a second YAML document: the configuration is one document",
            );
        }
        let schema: Value =
            serde_json::from_str(CONFIG_SCHEMA).expect("the embedded schema is JSON");
        let walked = Walker {
            root: &schema,
            check: self,
        }
        .walk(root, &schema, &[]);
        let Some(Value::Object(mut top)) = walked else {
            return 0;
        };
        let target_values = match top.remove("targets") {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        };
        let count = root
            .get("targets")
            .ok()
            .flatten()
            .map_or(0, |n| n.items().len());
        let mut config: Config = match serde_json::from_value(Value::Object(top)) {
            Ok(config) => config,
            Err(e) => {
                self.problem(Some(root.line), e.to_string());
                Config::default()
            }
        };
        // Each target on its own, so that one bad entry does not hide the others' problems.
        let mut targets: Vec<(usize, TargetConfig)> = Vec::new();
        for (i, value) in target_values.into_iter().enumerate() {
            if value.is_null() {
                continue; // the walk reported it
            }
            let line = line_at(root, &[key("targets"), Seg::Index(i)]);
            match serde_json::from_value::<TargetConfig>(value) {
                Ok(target) => targets.push((i, target)),
                Err(e) => self.problem(line, format!("targets[{i}]: {e}")),
            }
        }
        self.semantics(options, root, &mut config, targets);
        count
    }

    /// What parsed, checked as the commands use it.
    fn semantics(
        &mut self,
        options: &ValidateOptions,
        root: &Node<'_>,
        config: &mut Config,
        targets: Vec<(usize, TargetConfig)>,
    ) {
        // The source rules, with the indexes of the file (entries that did not parse are left out).
        let indexes: Vec<usize> = targets.iter().map(|(i, _)| *i).collect();
        config.targets = targets.iter().map(|(_, t)| t.clone()).collect();
        for (k, message) in config.problems() {
            let i = indexes[k];
            let message = message.replacen(&format!("targets[{k}]"), &format!("targets[{i}]"), 1);
            self.problem(line_at(root, &[key("targets"), Seg::Index(i)]), message);
        }
        let mut manifests: std::collections::BTreeMap<
            PathBuf,
            Result<Vec<manifest::ModelField>, String>,
        > = std::collections::BTreeMap::new();
        for (i, target) in &targets {
            let at = |k: &str| line_at(root, &[key("targets"), Seg::Index(*i), key(k)]);
            let label = super::plan::target_label(*i, target);
            let fields = manifests.entry(target.file.clone()).or_insert_with(|| {
                super::plan::read_manifest(&options.repo, &target.file)
                    .map(|(_, fields)| fields)
                    .map_err(|e| format!("{e:#}"))
            });
            match fields {
                Err(why) => self.problem(at("file"), format!("{label}: {why}")),
                Ok(fields) => {
                    let selector = Selector {
                        name: target.name.clone(),
                        kind: target.kind.clone(),
                    };
                    if let Err(e) = manifest::select(fields, &selector) {
                        self.problem(
                            at("name"),
                            format!("{label}: {}: {e}", target.file.display()),
                        );
                    }
                }
            }
            for (j, gate) in target.require.iter().enumerate() {
                if let Err(e) = crate::resolve::Gate::parse(gate) {
                    let line = line_at(
                        root,
                        &[
                            key("targets"),
                            Seg::Index(*i),
                            key("require"),
                            Seg::Index(j),
                        ],
                    );
                    self.problem(line, format!("{label}: {e}"));
                }
            }
            if let Some(run) = &target.run {
                let at =
                    |k: &str| line_at(root, &[key("targets"), Seg::Index(*i), key("run"), key(k)]);
                if run.experiment.trim().is_empty() {
                    self.problem(at("experiment"), format!("{label}: `run.experiment` is empty: name the experiment (or give its id)"));
                }
                if let Some(filter) = run.filter.as_deref().filter(|f| !f.trim().is_empty())
                    && let Err(e) = crate::tracking::filter::parse_filter(filter)
                {
                    let e = crate::tracking::TrackingError::Filter {
                        filter: filter.to_string(),
                        message: e.message,
                    };
                    self.problem(at("filter"), format!("{label}: {e}"));
                }
                if let Err(e) =
                    crate::tracking::filter::parse_order_by_list(&crate::resolve::run_order(run))
                {
                    self.problem(
                        at("orderBy"),
                        format!(
                            "{label}: invalid orderBy {:?}: {}",
                            run.order_by.as_deref().unwrap_or_default(),
                            e.message
                        ),
                    );
                }
            }
            if let Some(registered) = &target.registered
                && registered.name.trim().is_empty()
            {
                let line = line_at(
                    root,
                    &[
                        key("targets"),
                        Seg::Index(*i),
                        key("registered"),
                        key("name"),
                    ],
                );
                self.problem(
                    line,
                    format!("{label}: `registered.name` is empty: name the registered model"),
                );
            }
        }
        self.rewrites(root, config);
        self.argocd(options, root, config);
    }

    /// A rule that an earlier rule always wins over never applies: the first matching prefix is used.
    fn rewrites(&mut self, root: &Node<'_>, config: &Config) {
        for (j, rule) in config.uri_rewrite.iter().enumerate() {
            if let Some(k) = (0..j).find(|&k| rule.from.starts_with(&config.uri_rewrite[k].from)) {
                let line = line_at(root, &[key("uriRewrite"), Seg::Index(j)]);
                self.problem(
                    line,
                    format!(
                        "uriRewrite[{j}] (from {:?}) never applies: uriRewrite[{k}] (from {:?}) comes first and matches every location it matches; put the longer prefix first",
                        rule.from, config.uri_rewrite[k].from
                    ),
                );
            }
        }
    }

    fn argocd(&mut self, options: &ValidateOptions, root: &Node<'_>, config: &Config) {
        let at = |k: &str| line_at(root, &[key("argocd"), key(k)]);
        let argocd = &config.argocd;
        if let Some(timeout) = &argocd.timeout
            && let Err(e) = crate::argocd::parse_duration("argocd.timeout", timeout)
        {
            self.problem(at("timeout"), e.to_string());
        }
        if let Some(webhook) = &argocd.webhook
            && let Err(e) = crate::argocd::webhook_url(webhook)
        {
            self.problem(at("webhook"), e.to_string());
        }
        if let Some(ca) = &argocd.ca_cert {
            let path = options.repo.join(ca);
            if !path.is_file() {
                self.problem(
                    at("caCert"),
                    format!("argocd.caCert {}: no such file (relative paths are read from the repo root)", ca.display()),
                );
            }
        }
    }
}

fn key(k: &str) -> Seg {
    Seg::Key(k.to_string())
}

fn line_at(root: &Node<'_>, segs: &[Seg]) -> Option<usize> {
    tree::navigate(root, segs).map(|n| n.line)
}

/// Walks the YAML tree along the schema: problems are recorded, and what fits comes back as JSON for
/// the config structs (unknown keys and values of the wrong type left out).
struct Walker<'s, 'c> {
    root: &'s Value,
    check: &'c mut Check,
}

impl<'s> Walker<'s, '_> {
    /// Follows a local `$ref` (`#/$defs/NAME`).
    fn resolve(&self, schema: &'s Value) -> &'s Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(reference) => reference
                .strip_prefix("#/")
                .map(|p| p.split('/').fold(self.root, |v, k| &v[k]))
                .unwrap_or(schema),
            None => schema,
        }
    }

    fn walk(&mut self, node: &Node<'_>, schema: &'s Value, path: &[Seg]) -> Option<Value> {
        let schema = self.resolve(schema);
        let types: Vec<&str> = match &schema["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let here = if path.is_empty() {
            "the top level".to_string()
        } else {
            format!("`{}`", tree::path_string(path))
        };
        match &node.kind {
            NodeKind::Alias(name) => {
                self.check.problem(
                    Some(node.line),
                    format!("{here} is an alias (*{name}); validate cannot check it: write the value out"),
                );
                None
            }
            NodeKind::Map(entries) if types.contains(&"object") => {
                let properties = schema["properties"].as_object();
                let mut out = Map::new();
                for (k, v) in entries {
                    let Some(name) = k.as_str() else {
                        self.check
                            .problem(Some(k.line), format!("a key in {here} that is not text"));
                        continue;
                    };
                    if out.contains_key(name) {
                        self.check
                            .problem(Some(k.line), format!("duplicate key `{name}` in {here}"));
                        continue;
                    }
                    let Some(sub) = properties.and_then(|p| p.get(name)) else {
                        let expected: Vec<String> = properties
                            .map(|p| p.keys().map(|k| format!("`{k}`")).collect())
                            .unwrap_or_default();
                        self.check.problem(
                            Some(k.line),
                            format!(
                                "unknown key `{name}` in {here}: expected one of {}",
                                expected.join(", ")
                            ),
                        );
                        continue;
                    };
                    let mut sub_path = path.to_vec();
                    sub_path.push(Seg::Key(name.to_string()));
                    if let Some(value) = self.walk(v, sub, &sub_path)
                        && !value.is_null()
                    {
                        out.insert(name.to_string(), value);
                    }
                }
                let mut complete = true;
                for required in schema["required"].as_array().into_iter().flatten() {
                    if let Some(r) = required.as_str()
                        && !out.contains_key(r)
                        && !entries.iter().any(|(k, _)| k.as_str() == Some(r))
                    {
                        self.check
                            .problem(Some(node.line), format!("{here} needs `{r}`"));
                        complete = false;
                    }
                }
                // An entry without its required keys is left out; its other problems are listed.
                complete.then_some(Value::Object(out))
            }
            NodeKind::Seq(items) if types.contains(&"array") => {
                let item_schema = &schema["items"];
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let mut sub_path = path.to_vec();
                    sub_path.push(Seg::Index(i));
                    // Keep the indexes: a left-out entry is a null in its place.
                    out.push(
                        self.walk(item, item_schema, &sub_path)
                            .unwrap_or(Value::Null),
                    );
                }
                Some(Value::Array(out))
            }
            NodeKind::Scalar { value, style, .. } => {
                let plain = *style == ScalarStyle::Plain;
                if plain && matches!(value.as_ref(), "" | "~" | "null" | "Null" | "NULL") {
                    return Some(Value::Null); // unset, as the config structs read it
                }
                if types.contains(&"integer")
                    && plain
                    && let Ok(n) = value.parse::<i64>()
                {
                    if let Some(min) = schema["minimum"].as_i64()
                        && n < min
                    {
                        self.check.problem(
                            Some(node.line),
                            format!("{here} must be at least {min}, not {n}"),
                        );
                        return None;
                    }
                    return Some(Value::from(n));
                }
                if types.contains(&"boolean") && plain {
                    match value.as_ref() {
                        "true" | "True" | "TRUE" => return Some(Value::Bool(true)),
                        "false" | "False" | "FALSE" => return Some(Value::Bool(false)),
                        _ => {}
                    }
                }
                if types.contains(&"string") {
                    if let Some(min) = schema["minLength"].as_u64()
                        && (value.chars().count() as u64) < min
                    {
                        self.check
                            .problem(Some(node.line), format!("{here} must not be empty"));
                        return None;
                    }
                    return Some(Value::String(value.to_string()));
                }
                self.mistyped(node, &types, &here, &format!("{value:?}"));
                None
            }
            NodeKind::Map(_) => {
                self.mistyped(node, &types, &here, "a mapping");
                None
            }
            NodeKind::Seq(_) => {
                self.mistyped(node, &types, &here, "a list");
                None
            }
        }
    }

    fn mistyped(&mut self, node: &Node<'_>, types: &[&str], here: &str, found: &str) {
        let expected: Vec<&str> = types
            .iter()
            .map(|t| match *t {
                "object" => "a mapping",
                "array" => "a list",
                "boolean" => "true or false",
                "integer" => "a whole number",
                "string" => "text",
                other => other,
            })
            .collect();
        self.check.problem(
            Some(node.line),
            format!("{here} must be {}, not {found}", expected.join(" or ")),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(config: &str, files: &[(&str, &str)]) -> Validation {
        let repo = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = repo.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let config_path = repo.path().join("modelbump.yaml");
        std::fs::write(&config_path, config).unwrap();
        validate(&ValidateOptions {
            repo: repo.path().canonicalize().unwrap(),
            config: config_path,
        })
    }

    const MODEL: &str = "apiVersion: mlops.seldon.io/v1alpha1\nkind: Model\nmetadata:\n  name: m\nspec:\n  storageUri: s3://b/m/\n";

    fn lines_and_messages(v: &Validation) -> Vec<(Option<usize>, String)> {
        v.problems
            .iter()
            .map(|p| (p.line, p.message.clone()))
            .collect()
    }

    #[test]
    fn a_good_config_has_no_problem() {
        let v = check(
            "targets:\n  - file: k8s/m.yaml\n    name: m\n    run: {experiment: e, filter: \"params.v = 'a'\", orderBy: metrics.acc DESC}\n    require: [\"metrics.acc >= 0.6\"]\nargocd: {timeout: 10m}\n",
            &[("k8s/m.yaml", MODEL)],
        );
        assert!(v.valid, "{:?}", v.problems);
        assert_eq!(v.targets, 1);
    }

    #[test]
    fn every_problem_is_listed_with_its_line() {
        let v = check(
            "mlflow:\n  trackingURI: http://h\ntargets:\n  - file: k8s/m.yaml\n    name: x\n    requires: []\n    run: {experiment: e}\n  - file: k8s/m.yaml\n    name: m\n    run: {experiment: e}\n    require: [\"metrics.acc >== 1\"]\n  - file: ../outside.yaml\n    name: m\n    pinned: yes\nargocd:\n  timeout: ten minutes\n",
            &[("k8s/m.yaml", MODEL)],
        );
        let got = lines_and_messages(&v);
        let lines: Vec<Option<usize>> = got.iter().map(|(l, _)| *l).collect();
        let expected = [2, 5, 6, 11, 12, 12, 14, 16].map(Some);
        assert_eq!(lines, expected, "{got:#?}");
        for (k, wanted) in [
            "unknown key `trackingURI` in `mlflow`",
            "targets[0] (x in k8s/m.yaml)",
            "unknown key `requires` in `targets[0]`",
            "invalid gate",
            // `pinned: yes` is not a switch, so the target has no source either.
            "targets[2] (m in ../outside.yaml) has no source",
            "../outside.yaml is outside the repo",
            "`targets[2].pinned` must be true or false",
            "argocd.timeout",
        ]
        .iter()
        .enumerate()
        {
            assert!(got[k].1.contains(wanted), "{k}: {got:#?}");
        }
        assert!(!v.valid);
    }

    #[test]
    fn sources_rewrites_and_missing_files() {
        let v = check(
            "targets:\n  - file: k8s/none.yaml\n    name: m\n    run: {experiment: e}\n    registered: {name: r, alias: a}\n  - file: k8s/m.yaml\n    name: m\n    run: {experiment: e, filter: \"params.a = 'x' OR params.b = 'y'\"}\nuriRewrite:\n  - {from: \"s3://\", to: \"gs://\"}\n  - {from: \"s3://bucket/\", to: \"gs://other/\"}\n",
            &[("k8s/m.yaml", MODEL)],
        );
        let got = lines_and_messages(&v);
        assert!(
            got.iter()
                .any(|(l, m)| *l == Some(2) && m.contains("has both `run` and `registered`")),
            "{got:#?}"
        );
        assert!(
            got.iter()
                .any(|(l, m)| *l == Some(2) && m.contains("k8s/none.yaml")),
            "{got:#?}"
        );
        assert!(
            got.iter()
                .any(|(l, m)| *l == Some(8) && m.contains("filter")),
            "{got:#?}"
        );
        assert!(
            got.iter().any(|(l, m)| *l == Some(11)
                && m.contains("uriRewrite[1]")
                && m.contains("never applies")),
            "{got:#?}"
        );
    }

    #[test]
    fn the_schema_and_the_walk_agree_on_types() {
        let v = check(
            "mlflow: {concurrency: 0}\ngit: {pushAttempts: many, author: {name: a}}\ntargets: {file: a}\n",
            &[],
        );
        let got = lines_and_messages(&v);
        for wanted in [
            "`mlflow.concurrency` must be at least 1",
            "`git.pushAttempts` must be a whole number",
            "`git.author` needs `email`",
            "`targets` must be a list",
        ] {
            assert!(
                got.iter().any(|(_, m)| m.contains(wanted)),
                "{wanted}: {got:#?}"
            );
        }
    }
}
