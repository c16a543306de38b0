//! The JSON Schema of `modelbump.yaml` (`schemas/modelbump.schema.json`), held to the code and the docs:
//!
//! - its keys are exactly the config structs' keys, checked both ways at every level: the structs' keys
//!   are read from serde's own "unknown field, expected one of ..." answer (no second list to drift), so
//!   a key added to a struct and not to the schema fails here, named with its path;
//! - every example configuration in the repository (`examples/`, the quickstart's, and every YAML block of
//!   the README and `docs/` that is a modelbump.yaml) validates against it, and parses as the commands
//!   parse it;
//! - every key of the schema has a row in the table of `docs/configuration.md`, and every row a key.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use modelbump::config::Config;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn schema() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(root().join("schemas/modelbump.schema.json")).unwrap(),
    )
    .unwrap()
}

fn resolve<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(r) => r
            .strip_prefix("#/")
            .unwrap()
            .split('/')
            .fold(root, |v, k| &v[k]),
        None => node,
    }
}

/// Every object of the schema that has properties: its path (`targets[].run`) and its keys.
fn objects(root: &Value) -> Vec<(Vec<String>, BTreeSet<String>)> {
    fn walk(
        root: &Value,
        node: &Value,
        path: Vec<String>,
        out: &mut Vec<(Vec<String>, BTreeSet<String>)>,
    ) {
        let node = resolve(root, node);
        if let Some(props) = node.get("properties").and_then(Value::as_object) {
            out.push((path.clone(), props.keys().cloned().collect()));
            for (k, v) in props {
                let mut sub = path.clone();
                sub.push(k.clone());
                walk(root, v, sub, out);
            }
        }
        if let Some(items) = node.get("items") {
            let mut sub = path;
            sub.push("[]".into());
            walk(root, items, sub, out);
        }
    }
    let mut out = Vec::new();
    walk(root, root, Vec::new(), &mut out);
    out
}

fn dotted(path: &[String]) -> String {
    let mut out = String::new();
    for seg in path {
        if seg == "[]" {
            out.push_str("[]");
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(seg);
        }
    }
    if out.is_empty() {
        "(top level)".into()
    } else {
        out
    }
}

/// The keys serde accepts at `path`: a probe key there, and the list serde answers with.
fn serde_keys(path: &[String]) -> BTreeSet<String> {
    let mut value = json!({"__probe__": 1});
    for seg in path.iter().rev() {
        value = if seg == "[]" {
            json!([value])
        } else {
            json!({ seg: value })
        };
    }
    let err = serde_json::from_value::<Config>(value)
        .expect_err("an unknown key is refused")
        .to_string();
    assert!(
        err.contains("unknown field `__probe__`"),
        "{}: serde did not refuse the probe key as unknown (is the struct missing deny_unknown_fields?): {err}",
        dotted(path)
    );
    let expected = err.split_once("expected").map_or("", |(_, rest)| rest);
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

#[test]
fn the_schema_has_every_config_key_and_no_other() {
    let schema = schema();
    let mut report = Vec::new();
    for (path, keys) in objects(&schema) {
        let serde = serde_keys(&path);
        for missing in serde.difference(&keys) {
            report.push(format!(
                "  {}: in the config structs, missing from the schema",
                dotted(&[path.clone(), vec![missing.clone()]].concat())
            ));
        }
        for extra in keys.difference(&serde) {
            report.push(format!(
                "  {}: in the schema, unknown to the config structs",
                dotted(&[path.clone(), vec![extra.clone()]].concat())
            ));
        }
    }
    assert!(
        report.is_empty(),
        "schemas/modelbump.schema.json and src/config.rs disagree; add each key to the schema (with a \
         description) and to the table of docs/configuration.md:\n{}",
        report.join("\n")
    );
}

#[test]
fn every_object_of_the_schema_is_closed() {
    // Editors flag a typo only where additional keys are refused, as the config structs refuse them.
    let schema = schema();
    fn walk(root: &Value, node: &Value, path: &str, open: &mut Vec<String>) {
        let node = resolve(root, node);
        if node.get("properties").is_some()
            && node.get("additionalProperties") != Some(&Value::Bool(false))
        {
            open.push(path.to_string());
        }
        for (k, v) in node
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            walk(root, v, &format!("{path}.{k}"), open);
        }
        if let Some(items) = node.get("items") {
            walk(root, items, &format!("{path}[]"), open);
        }
    }
    let mut open = Vec::new();
    walk(&schema, &schema, "", &mut open);
    assert!(
        open.is_empty(),
        "objects without additionalProperties: false: {open:?}"
    );
    // Every key has a description, which editors show.
    let mut undescribed = Vec::new();
    for (path, keys) in objects(&schema) {
        for key in keys {
            let mut node = &schema;
            for seg in path.iter().chain(std::iter::once(&key)) {
                node = resolve(&schema, node);
                node = if seg == "[]" {
                    &node["items"]
                } else {
                    &node["properties"][seg]
                };
            }
            if resolve(&schema, node).get("description").is_none() {
                undescribed.push(dotted(&[path.clone(), vec![key]].concat()));
            }
        }
    }
    assert!(
        undescribed.is_empty(),
        "keys without a description: {undescribed:?}"
    );
}

fn validator() -> jsonschema::Validator {
    jsonschema::draft202012::new(&schema()).expect("the schema is a valid draft 2020-12 schema")
}

/// The YAML blocks (```yaml) of a Markdown file that are modelbump configurations: a mapping with
/// `targets`, `mlflow` or `uriRewrite` at the top and no `apiVersion`.
fn config_blocks(markdown: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(markdown).unwrap();
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        match &mut current {
            None if line.trim_start() == "```yaml" => current = Some((i + 2, String::new())),
            Some((start, body)) if line.trim_start() == "```" => {
                blocks.push((*start, std::mem::take(body)));
                current = None;
            }
            Some((_, body)) => {
                body.push_str(line);
                body.push('\n');
            }
            None => {}
        }
    }
    blocks
        .into_iter()
        .filter(|(_, body)| {
            let Ok(Value::Object(map)) = serde_saphyr::from_str::<Value>(body) else {
                return false;
            };
            !map.contains_key("apiVersion")
                && ["targets", "mlflow", "uriRewrite"]
                    .iter()
                    .any(|k| map.contains_key(*k))
        })
        .collect()
}

#[test]
fn every_example_config_validates_against_the_schema() {
    let validator = validator();
    let mut examples: Vec<(String, String)> = [
        "examples/modelbump.yaml",
        "examples/quickstart/modelbump.yaml",
    ]
    .iter()
    .map(|p| {
        (
            p.to_string(),
            std::fs::read_to_string(root().join(p)).unwrap(),
        )
    })
    .collect();
    for file in crate::doc_links::pages() {
        for (line, body) in config_blocks(&file) {
            let name = file.strip_prefix(root()).unwrap().display().to_string();
            examples.push((format!("{name}:{line}"), body));
        }
    }
    // The README's tour and the complete example of docs/configuration.md at least.
    let from_docs: Vec<&String> = examples
        .iter()
        .map(|(n, _)| n)
        .filter(|n| n.ends_with(".md") || n.contains(".md:"))
        .collect();
    assert!(
        from_docs.iter().any(|n| n.starts_with("README.md:"))
            && from_docs
                .iter()
                .any(|n| n.starts_with("docs/configuration.md:")),
        "{from_docs:?}"
    );
    let mut failures = Vec::new();
    for (name, text) in &examples {
        let value: Value = serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        if !errors.is_empty() {
            failures.push(format!("{name}:\n    {}", errors.join("\n    ")));
        }
        // And the commands read it as the schema does.
        if let Err(e) = Config::parse(text, Path::new(name)) {
            failures.push(format!("{name}: the commands refuse it: {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_schema_refuses_what_the_commands_refuse() {
    let validator = validator();
    for (text, why) in [
        ("mlflow: {trackingURI: http://h}\n", "a misspelt key"),
        (
            "targets: [{file: a.yaml, name: m, requires: []}]\n",
            "a misspelt target key",
        ),
        (
            "targets: [{name: m, path: a.b, pinned: true}]\n",
            "a path target without file",
        ),
        ("mlflow: {concurrency: 0}\n", "zero concurrency"),
        ("git: {author: {name: a}}\n", "an author without email"),
        (
            "allowSchemeChange: yes please\n",
            "a switch that is not true or false",
        ),
    ] {
        let value: Value = serde_saphyr::from_str(text).unwrap();
        assert!(!validator.is_valid(&value), "{why}: {text}");
        assert!(
            Config::parse(text, Path::new("c.yaml")).is_err(),
            "{why}: {text}"
        );
    }
}

#[test]
fn every_key_has_a_row_in_the_configuration_table() {
    let schema = schema();
    let mut keys = BTreeSet::new();
    for (path, names) in objects(&schema) {
        for name in names {
            keys.insert(dotted(&[path.clone(), vec![name]].concat()));
        }
    }
    let page = std::fs::read_to_string(root().join("docs/configuration.md")).unwrap();
    let section = page.split_once("\n## Keys\n").expect("a Keys section").1;
    let table = section.split_once("\n## ").map_or(section, |(s, _)| s);
    let rows: BTreeSet<String> = table
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once("` |").map(|(k, _)| k.to_string()))
        .collect();
    let missing: Vec<&String> = keys.difference(&rows).collect();
    let unknown: Vec<&String> = rows.difference(&keys).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "docs/configuration.md, section Keys: rows missing for {missing:?}; rows for keys the schema lacks: {unknown:?}"
    );
}
