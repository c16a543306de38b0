//! `init`: writes a first `modelbump.yaml` for a repository that has none, from the model locations
//! `targets` finds in it, so that a new user starts from their own repository instead of a blank page.
//!
//! Every field of a known kind becomes a `file` + `name` + `kind` target, every marker name a marker
//! target (`name` alone: its values are found in the whole repo), each with the file, line and current
//! value in a comment. A value that holds its URI after a prefix (`--model=s3://...`) gets the matching
//! `template`. So that the file loads as it is written (and `plan` shows every target as `pinned`),
//! each target is `pinned: true`, with commented examples of both sources (`run:` with the experiment,
//! `registered:` with an alias) to replace the pin with. An existing file is never overwritten; the file
//! is written atomically, and parsed with the config loader before it is.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::config::{Config, DEFAULT_FILE};
use crate::discover;

/// The input of `init`.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// The repo root (absolute).
    pub repo: PathBuf,
}

/// What `init` wrote.
#[derive(Debug, Clone)]
pub struct InitOutcome {
    /// The file written.
    pub file: PathBuf,
    /// How many targets it lists.
    pub targets: usize,
    /// Files that could not be read (their locations are missing from the file).
    pub unreadable: Vec<String>,
}

/// Errors of `init` a user acts on.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InitError {
    /// The file is there already.
    #[error(
        "{0} exists already; `modelbump init` never overwrites it: edit it, or move it away and run init again"
    )]
    Exists(PathBuf),
}

/// Writes `<repo>/modelbump.yaml`.
pub fn init(options: &InitOptions) -> anyhow::Result<InitOutcome> {
    let file = options.repo.join(DEFAULT_FILE);
    if file.symlink_metadata().is_ok() {
        return Err(InitError::Exists(file).into());
    }
    let scan = discover::scan(&options.repo, &[]);
    let (text, targets) = render(&scan);
    // What is written must load; a failure here is a bug, not a user error, and writes nothing.
    Config::parse(&text, &file)?;
    crate::fsutil::write_atomic(&file, text.as_bytes())?;
    Ok(InitOutcome {
        file,
        targets,
        unreadable: scan.problems.iter().map(ToString::to_string).collect(),
    })
}

/// A YAML double-quoted scalar (JSON's string syntax is YAML's).
fn quoted(text: &str) -> String {
    serde_json::to_string(text).expect("a string serialises")
}

/// A value as a comment shows it: on one line.
fn shown(value: &str) -> String {
    if value.contains(char::is_control) {
        format!("{value:?}")
    } else {
        value.to_string()
    }
}

/// The template of a value that holds a URI after a prefix (`--model=s3://...` -> `--model={uri}`).
fn template_of(value: &str) -> Option<String> {
    let at = value.find("://")?;
    let start = value[..at]
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
        .map_or(0, |i| i + 1);
    let prefix = &value[..start];
    (start > 0 && !prefix.contains(['{', '}'])).then(|| format!("{prefix}{{uri}}"))
}

fn sources(out: &mut String, experiment: &str) {
    let name = experiment.replace('/', "-");
    let _ = writeln!(
        out,
        "    pinned: true  # keeps the value as it is; replace with one source:\n    \
         # run:\n    #   experiment: {}\n    #   filter: \"metrics.accuracy > 0.9\"\n    \
         # registered:\n    #   name: {}\n    #   alias: champion",
        quoted(&name),
        quoted(&name)
    );
}

/// The file's text and the number of targets in it.
fn render(scan: &discover::Scan) -> (String, usize) {
    let mut out = String::new();
    out.push_str(
        "# modelbump.yaml, written by `modelbump init` from the model locations in this repository.\n\
         # Each target is pinned (left as it is) until you give it a source: replace `pinned: true`\n\
         # with `run:` or `registered:`, then check with `modelbump plan`.\n\
         # Configuration: README (\"Configuration\"); paths, markers and templates: docs/any-field.md.\n\
         mlflow: {}\n  # trackingUri: http://mlflow.example.com:5000\n",
    );
    let mut count = 0;
    let mut body = String::new();
    for f in &scan.files {
        for field in &f.fields {
            if f.markers.iter().any(|m| m.field.line == field.line) {
                continue;
            }
            count += 1;
            let _ = writeln!(
                body,
                "  # {}:{}  {}  now: {}\n  - file: {}\n    name: {}\n    kind: {}",
                f.file,
                field.line,
                field.kind,
                shown(&field.value),
                quoted(&f.file),
                quoted(&field.name),
                field.kind.as_str()
            );
            sources(&mut body, &field.resource);
        }
    }
    let mut names: Vec<&str> = scan
        .files
        .iter()
        .flat_map(|f| f.markers.iter().map(|m| m.target.as_str()))
        .collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        count += 1;
        let mut template = None;
        for f in &scan.files {
            for m in f.markers.iter().filter(|m| m.target == name) {
                let _ = writeln!(
                    body,
                    "  # {}:{}  marker at {}  now: {}",
                    f.file,
                    m.field.line,
                    m.field.path,
                    shown(&m.field.value)
                );
                template = template.or_else(|| template_of(&m.field.value));
            }
        }
        let _ = writeln!(body, "  - name: {}", quoted(name));
        if let Some(t) = template {
            let _ = writeln!(
                body,
                "    template: {}  # the value holds more than the URI",
                quoted(&t)
            );
        }
        sources(&mut body, name);
    }
    if count == 0 {
        out.push_str(
            "# No model location was found: add targets by file and path, or mark values with\n\
             # `# {\"$modelbump\": \"NAME\"}` and run `modelbump targets`.\ntargets: []\n",
        );
    } else {
        out.push_str("targets:\n");
        out.push_str(&body);
    }
    (out, count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn a_prefix_before_the_uri_becomes_a_template() {
        assert_eq!(
            template_of("--model=s3://b/m").as_deref(),
            Some("--model={uri}")
        );
        assert_eq!(
            template_of("load_parameters_path=gs://b/p").as_deref(),
            Some("load_parameters_path={uri}")
        );
        assert_eq!(template_of("s3://b/m"), None);
        assert_eq!(template_of("m-123"), None);
    }

    #[test]
    fn the_written_file_loads_and_lists_every_location() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().canonicalize().unwrap();
        std::fs::write(
            repo.join("model.yaml"),
            "apiVersion: mlops.seldon.io/v1alpha1\nkind: Model\nmetadata:\n  name: iris\nspec:\n  storageUri: s3://b/iris/1\n",
        )
        .unwrap();
        std::fs::write(
            repo.join("values.yaml"),
            "llm:\n  args:\n  - --model=s3://b/llm/1  # {\"$modelbump\": \"llm\"}\n",
        )
        .unwrap();
        let done = init(&InitOptions { repo: repo.clone() }).unwrap();
        assert_eq!(done.targets, 2);
        let text = std::fs::read_to_string(repo.join(DEFAULT_FILE)).unwrap();
        let config = Config::parse(&text, Path::new("modelbump.yaml")).unwrap();
        assert_eq!(config.targets.len(), 2);
        assert_eq!(config.targets[0].name, "iris");
        assert_eq!(config.targets[1].name, "llm");
        assert_eq!(
            config.targets[1].template.as_ref().map(|t| t.to_string()),
            Some("--model={uri}".to_string())
        );
        assert!(text.contains("now: s3://b/iris/1"), "{text}");
        assert!(text.contains("# registered:"), "{text}");
        let err = init(&InitOptions { repo }).unwrap_err().to_string();
        assert!(err.contains("never overwrites"), "{err}");
    }
}
