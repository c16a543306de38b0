//! The editor against real manifests: every model URI field of every file of the shared corpus is set
//! to a new value, and the output must be the input with exactly that value's bytes replaced.

use std::path::{Path, PathBuf};

use modelbump::manifest::{self, Edit, ScalarStyle, Selector};

use crate::support;

fn corpus_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_none_or(|e| e != "md") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// What the new value must look like in the file, written independently of the editor: the same quotes
/// as before, or for a block scalar the same line breaks after the one content line.
fn rendered(old_written: &str, style: ScalarStyle, uri: &str) -> String {
    match style {
        ScalarStyle::Plain => uri.to_string(),
        ScalarStyle::SingleQuoted => format!("'{}'", uri.replace('\'', "''")),
        ScalarStyle::DoubleQuoted => format!("\"{uri}\""),
        ScalarStyle::Literal | ScalarStyle::Folded => {
            let end = old_written.find(['\r', '\n']).unwrap_or(old_written.len());
            format!("{uri}{}", &old_written[end..])
        }
    }
}

#[test]
fn every_corpus_field_round_trips_byte_exactly() {
    let Some(shared) = support::shared_dir("every_corpus_field_round_trips_byte_exactly") else {
        return;
    };
    let corpus = shared.join("corpus");
    let mut listing = String::new();
    let mut edited = 0;
    for path in corpus_files(&corpus) {
        let rel = path.strip_prefix(&corpus).unwrap().display().to_string();
        let input = std::fs::read(&path).unwrap();
        let fields = manifest::find_fields(&input).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let text = String::from_utf8(input.clone()).unwrap();
        for (i, field) in fields.iter().enumerate() {
            listing.push_str(&format!(
                "{rel}:{} {} {} {} {:?} {:?}\n",
                field.line, field.kind, field.name, field.path, field.style, field.value
            ));
            // Non-ASCII on purpose: spans are bytes, not characters.
            let uri = format!("s3://modelbump-corpus/{i}/modèle-ü/artifacts/");
            let edit = Edit {
                selector: Selector {
                    name: field.name.clone(),
                    kind: Some(field.kind.to_string()),
                },
                uri: uri.clone(),
            };
            let out = manifest::apply(&input, &[edit])
                .unwrap_or_else(|e| panic!("{rel}: {}: {e}", field.name));
            let written = &text[field.span.clone()];
            let want = format!(
                "{}{}{}",
                &text[..field.span.start],
                rendered(written, field.style, &uri),
                &text[field.span.end..]
            );
            assert_eq!(
                String::from_utf8(out.bytes.clone()).unwrap(),
                want,
                "{rel}: {}",
                field.name
            );
            assert_eq!(out.changes.len(), 1);
            assert_eq!(out.changes[0].old, field.value);
            assert_eq!(out.changes[0].new, uri);
            // And back: the original bytes again.
            let back = Edit {
                selector: Selector {
                    name: field.name.clone(),
                    kind: Some(field.kind.to_string()),
                },
                uri: field.value.clone(),
            };
            let restored = manifest::apply(&out.bytes, &[back]).unwrap();
            assert_eq!(
                restored.bytes, input,
                "{rel}: {} does not restore",
                field.name
            );
            edited += 1;
        }
        // Setting every field at once is one pass with the same result as one at a time.
        if fields.len() > 1 {
            let edits: Vec<Edit> = fields
                .iter()
                .map(|f| Edit {
                    selector: Selector {
                        name: f.name.clone(),
                        kind: Some(f.kind.to_string()),
                    },
                    uri: format!("gs://all/{}", f.name),
                })
                .collect();
            let out = manifest::apply(&input, &edits).unwrap_or_else(|e| panic!("{rel}: {e}"));
            let mut want = text.clone();
            for f in fields.iter().rev() {
                let written = &text[f.span.clone()];
                want.replace_range(
                    f.span.clone(),
                    &rendered(written, f.style, &format!("gs://all/{}", f.name)),
                );
            }
            assert_eq!(String::from_utf8(out.bytes).unwrap(), want, "{rel}");
        }
    }
    assert!(edited >= 30, "only {edited} fields found in the corpus");
    insta::assert_snapshot!("corpus_fields", listing);
}

fn fixture(case: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(case)
}

/// A repo folder holding the fixture's input as `k8s/input.yaml`.
fn repo_with(case: &str) -> (tempfile::TempDir, PathBuf, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join("k8s")).unwrap();
    let input = std::fs::read(fixture(case).join("input.yaml")).unwrap();
    std::fs::write(repo.join("k8s/input.yaml"), &input).unwrap();
    (dir, repo, input)
}

/// Runs `set`, expects exit 1 with `message` on stderr, and the file byte-identical afterwards.
fn assert_refused(case: &str, args: &[&str], message: &str) {
    let (dir, repo, input) = repo_with(case);
    let out = support::modelbump(dir.path())
        .arg("-C")
        .arg(&repo)
        .arg("set")
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{case}: {stderr}");
    assert!(
        stderr.contains(message),
        "{case}: wanted {message:?} in\n{stderr}"
    );
    assert!(out.stdout.is_empty(), "{case}: nothing on stdout");
    assert_eq!(
        std::fs::read(repo.join("k8s/input.yaml")).unwrap(),
        input,
        "{case}: file changed"
    );
    let leftovers: Vec<_> = std::fs::read_dir(repo.join("k8s")).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "{case}: no temporary file left behind");
}

#[test]
fn every_refusal_is_one_clear_error_and_the_file_is_untouched() {
    let f = "k8s/input.yaml";
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "refuse-invalid-yaml",
            "baseline-predictor",
            "s3://new",
            "error: k8s/input.yaml: line 8: invalid YAML: unclosed bracket",
        ),
        (
            "refuse-alias",
            "baseline-predictor",
            "s3://new",
            "error: k8s/input.yaml: line 8: the model URI of baseline-predictor is an alias (*approved)",
        ),
        (
            "refuse-anchor",
            "baseline-predictor",
            "s3://new",
            "error: k8s/input.yaml: line 6: the model URI of baseline-predictor is anchored (&uri)",
        ),
        (
            "refuse-lone-cr",
            "baseline-predictor",
            "s3://new",
            "error: k8s/input.yaml: line 1: lone carriage return",
        ),
        (
            "refuse-not-utf8",
            "baseline-predictor",
            "s3://new",
            "error: k8s/input.yaml: line 1: not UTF-8 text",
        ),
        (
            "refuse-unknown-name",
            "baseline",
            "s3://new",
            "error: k8s/input.yaml: no model named \"baseline\"; the models in this file are: baseline-predictor (Model, line 6), baseline-predictor-v2 (Model, line 15)",
        ),
        (
            "refuse-ambiguous-kind",
            "churn",
            "s3://new",
            "error: k8s/input.yaml: \"churn\" is ambiguous: Model churn (line 6), InferenceService churn (line 18); pick one with --kind",
        ),
        (
            "refuse-ambiguous-duplicate",
            "iris",
            "s3://new",
            "\"iris\" is ambiguous: Model iris (line 7), Model iris (line 17); several Model resources",
        ),
        (
            "refuse-duplicate-key",
            "baseline-predictor",
            "s3://new",
            "error: k8s/input.yaml: line 9: invalid YAML: duplicate key \"storageUri\"",
        ),
        (
            "refuse-tagged",
            "baseline-predictor",
            "s3://new",
            "error: k8s/input.yaml: line 6: cannot edit the model URI of baseline-predictor: the value carries the tag !secret",
        ),
        (
            "refuse-empty",
            "baseline-predictor",
            "s3://new",
            "error: k8s/input.yaml: line 6: cannot edit the model URI of baseline-predictor: the value is empty",
        ),
        (
            "refuse-multiline-block",
            "baseline-predictor",
            "s3://new",
            "error: k8s/input.yaml: line 7: cannot edit the model URI of baseline-predictor: the value is a block scalar of several lines",
        ),
        (
            "refuse-multiline-plain",
            "baseline-predictor",
            "s3://new",
            "error: k8s/input.yaml: line 6: cannot edit the model URI of baseline-predictor: the value is written over several lines; write the URI on the key's line (`storageUri: s3://...`)",
        ),
        (
            "refuse-multiline-quoted",
            "baseline-predictor",
            "s3://new",
            "error: k8s/input.yaml: line 6: cannot edit the model URI of baseline-predictor: the value is written over several lines",
        ),
        (
            // Also when the URI asked for is the one there (the value reads `s3://models/a`).
            "refuse-multiline-quoted",
            "baseline-predictor",
            "s3://models/a",
            "line 6: cannot edit the model URI of baseline-predictor: the value is written over several lines",
        ),
        (
            "refuse-block-line-break",
            "baseline-predictor",
            "s3://new",
            "error: k8s/input.yaml: line 7: cannot edit the model URI of baseline-predictor: the value is a block scalar (`|` or `>`) that keeps a line break after the URI",
        ),
        (
            "valid",
            "baseline-predictor",
            "s3://a\u{7}b",
            "invalid URI \"s3://a\\u{7}b\": it contains the control character U+0007",
        ),
        (
            "valid",
            "baseline-predictor",
            "s3://a\nb",
            "invalid URI \"s3://a\\nb\": it contains a line break",
        ),
        (
            "valid",
            "baseline-predictor",
            "s3://a b",
            "invalid URI \"s3://a b\": it contains whitespace",
        ),
        (
            "valid",
            "baseline-predictor",
            "s3://a\u{202e}b",
            "invisible formatting character U+202E",
        ),
        (
            "valid",
            "baseline-predictor",
            "",
            "invalid URI \"\": it is empty",
        ),
        (
            "valid",
            "baseline-predictor",
            "s3://x --kind Pod",
            "invalid URI",
        ),
    ];
    for (case, name, uri, message) in cases {
        assert_refused(case, &[f, name, uri], message);
    }
    assert_refused(
        "valid",
        &[f, "baseline-predictor", "s3://x", "--kind", "Pod"],
        "unknown kind \"Pod\"",
    );
    assert_refused(
        "refuse-ambiguous-kind",
        &[f, "churn", "s3://x", "--kind", "SeldonDeployment"],
        "no model named \"churn\" of kind SeldonDeployment",
    );
}

#[test]
fn paths_outside_the_repo_are_refused_also_through_a_symlink() {
    let (dir, repo, input) = repo_with("valid");
    let outside = dir.path().join("outside.yaml");
    std::fs::write(&outside, &input).unwrap();
    std::os::unix::fs::symlink(&outside, repo.join("k8s/link.yaml")).unwrap();
    for path in [
        "../outside.yaml",
        "k8s/link.yaml",
        "k8s/../../outside.yaml",
        outside.to_str().unwrap(),
    ] {
        let out = support::modelbump(dir.path())
            .args([
                "-C",
                repo.to_str().unwrap(),
                "set",
                path,
                "baseline-predictor",
                "s3://new",
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{path}: {stderr}");
        assert!(
            stderr.contains(&format!("error: {path} is outside the repo")),
            "{path}: {stderr}"
        );
        assert_eq!(
            std::fs::read(&outside).unwrap(),
            input,
            "{path}: the outside file changed"
        );
    }
}

#[test]
fn set_changes_only_the_value_and_reports_it() {
    let (dir, repo, input) = repo_with("valid");
    let file = repo.join("k8s/input.yaml");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let run = |extra: &[&str]| {
        support::modelbump(dir.path())
            .args(["-C", repo.to_str().unwrap()])
            .args(extra)
            .args([
                "set",
                "k8s/input.yaml",
                "baseline-predictor",
                "s3://models/m-2/artifacts/",
            ])
            .output()
            .unwrap()
    };
    let out = run(&[]);
    support::assert_success(&out);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "k8s/input.yaml:7 baseline-predictor: s3://models/a -> s3://models/m-2/artifacts/\n"
    );
    let text = String::from_utf8(input).unwrap();
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        text.replace(
            "s3://models/a # inline",
            "s3://models/m-2/artifacts/ # inline"
        )
    );
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o640
    );
    let modified = std::fs::metadata(&file).unwrap().modified().unwrap();

    // Again: unchanged, and the file is not rewritten.
    let out = run(&["-o", "json"]);
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let target = &report["targets"][0];
    assert_eq!(target["status"], "unchanged");
    assert_eq!(target["file"], "k8s/input.yaml");
    assert_eq!(target["line"], 7);
    assert_eq!(target["kind"], "Model");
    assert_eq!(target["name"], "baseline-predictor");
    assert_eq!(target["oldUri"], "s3://models/m-2/artifacts/");
    assert_eq!(target["newUri"], "s3://models/m-2/artifacts/");
    assert_eq!(report["commit"], serde_json::Value::Null);
    assert_eq!(report["pushed"], false);
    assert_eq!(
        std::fs::metadata(&file).unwrap().modified().unwrap(),
        modified
    );
}

fn targets_repo() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join("k8s/base")).unwrap();
    std::fs::create_dir_all(repo.join("ignored")).unwrap();
    std::fs::write(repo.join(".gitignore"), "ignored/\n").unwrap();
    let copy = |case: &str, to: &str| {
        std::fs::copy(fixture(case).join("input.yaml"), repo.join(to)).unwrap();
    };
    copy("refuse-unknown-name", "k8s/base/models.yaml");
    copy("refuse-ambiguous-kind", "k8s/churn.yml");
    copy("valid", "ignored/m.yaml");
    std::fs::write(
        repo.join("k8s/base/kustomization.yaml"),
        "resources: [models.yaml]\n",
    )
    .unwrap();
    (dir, repo)
}

#[test]
fn targets_lists_every_field_sorted_with_configured_targets() {
    let (dir, repo) = targets_repo();
    std::fs::write(
        repo.join("modelbump.yaml"),
        "targets:\n  - file: ./k8s/base/models.yaml\n    name: baseline-predictor-v2\n    pinned: true\n    run: {experiment: x}\n",
    )
    .unwrap();
    let out = support::modelbump(dir.path())
        .args(["-C", repo.to_str().unwrap(), "targets"])
        .output()
        .unwrap();
    support::assert_success(&out);
    insta::assert_snapshot!("targets_text", String::from_utf8(out.stdout).unwrap());

    let out = support::modelbump(dir.path())
        .args(["-C", repo.to_str().unwrap(), "-o", "json", "targets"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    insta::assert_json_snapshot!("targets_json", json);
}

#[test]
fn targets_warns_about_a_broken_file_and_goes_on_but_fails_when_it_was_named() {
    let (dir, repo) = targets_repo();
    std::fs::write(
        repo.join("k8s/broken.yaml"),
        "kind: Model\nspec:\n  storageUri: [s3://x\n",
    )
    .unwrap();
    let out = support::modelbump(dir.path())
        .args(["-C", repo.to_str().unwrap(), "targets"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("k8s/broken.yaml: line 3: invalid YAML"),
        "{stderr}"
    );
    assert!(stderr.contains("the listing is incomplete"), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        5,
        "header and four fields"
    );

    let out = support::modelbump(dir.path())
        .args([
            "-C",
            repo.to_str().unwrap(),
            "targets",
            "k8s/broken.yaml",
            "k8s/base",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: k8s/broken.yaml: line 3: invalid YAML"),
        "{stderr}"
    );

    // A named folder lists only what is inside it.
    let out = support::modelbump(dir.path())
        .args([
            "-C",
            repo.to_str().unwrap(),
            "-o",
            "json",
            "targets",
            "k8s/base",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = json["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["baseline-predictor", "baseline-predictor-v2"]);
}

/// A Model whose labels hold nine levels of anchors and aliases: 422 bytes that a parser expanding
/// aliases turns into 9^9 (387 million) nodes.
fn alias_bomb() -> String {
    let mut text = String::from("kind: Model\nmetadata:\n  name: m\n  labels:\n");
    text.push_str("    l0: &a [x,x,x,x,x,x,x,x,x]\n");
    let names = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'];
    for level in 1..names.len() {
        let alias = format!("*{}", names[level - 1]);
        text.push_str(&format!(
            "    l{level}: &{} [{}]\n",
            names[level],
            vec![alias; 9].join(",")
        ));
    }
    text.push_str("spec:\n  storageUri: s3://models/a\n");
    text
}

/// A repo with `file` as a configured, pinned target (so that plan, apply and run need no MLflow).
fn repo_targeting(file: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join("k8s")).unwrap();
    std::fs::write(
        repo.join("modelbump.yaml"),
        format!("targets:\n  - file: {file}\n    name: m\n    pinned: true\n    run: {{experiment: x}}\n"),
    )
    .unwrap();
    (dir, repo)
}

/// Runs every command that reads a manifest on `file` (configured as the target too), each made by
/// `command` and given a timeout so that none can hang the test, and checks its exit code and that
/// stderr holds `message`. Only `targets` without a PATH goes on past an unreadable file (exit 0).
fn assert_every_command_says(
    repo: &Path,
    file: &str,
    message: &str,
    command: impl Fn() -> assert_cmd::Command,
) {
    let commands: [(&[&str], i32); 6] = [
        (&["set", file, "m", "s3://models/b"], 1),
        (&["targets", file], 1),
        (&["targets"], 0),
        (&["plan"], 1),
        (&["apply"], 1),
        (&["run", "--no-push"], 1),
    ];
    for (args, code) in commands {
        let out = command()
            .arg("-C")
            .arg(repo)
            .args(args)
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

#[test]
fn an_alias_bomb_is_refused_in_bounded_memory_by_every_command() {
    let (dir, repo) = repo_targeting("k8s/bomb.yaml");
    let bomb = alias_bomb();
    std::fs::write(repo.join("k8s/bomb.yaml"), &bomb).unwrap();
    // 2 GB of address space: without a budget, the expansion fails an allocation within seconds
    // instead of growing to tens of gigabytes.
    assert_every_command_says(
        &repo,
        "k8s/bomb.yaml",
        "k8s/bomb.yaml: line 10: the aliases here (*e and those before it) expand this YAML to more \
         than 16 MiB, which no manifest needs and which would exhaust the memory of a YAML parser (an \
         alias bomb); write the repeated values out or use fewer nested aliases",
        || support::modelbump_with_memory_limit(dir.path(), 2_000_000),
    );
    assert_eq!(
        std::fs::read_to_string(repo.join("k8s/bomb.yaml")).unwrap(),
        bomb
    );
}

#[test]
fn a_fifo_is_refused_without_blocking_by_every_command() {
    let (dir, repo) = repo_targeting("k8s/fifo.yaml");
    let fifo = repo.join("k8s/fifo.yaml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // A reader of the FIFO would wait for a writer forever: the timeout ends it, and the assertions
    // then fail instead of the test hanging.
    assert_every_command_says(
        &repo,
        "k8s/fifo.yaml",
        "read k8s/fifo.yaml: it is a FIFO (named pipe), not a regular file; modelbump reads only regular files",
        || support::modelbump(dir.path()),
    );
    // The walk warns about the FIFO and says that the listing is incomplete.
    let out = support::modelbump(dir.path())
        .args(["-C", repo.to_str().unwrap(), "targets"])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("the listing is incomplete"), "{stderr}");
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
}

#[test]
fn a_read_only_manifest_is_refused_and_left_as_it_was() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let (dir, repo, input) = repo_with("valid");
    let file = repo.join("k8s/input.yaml");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o444)).unwrap();
    let inode = std::fs::metadata(&file).unwrap().ino();
    let out = support::modelbump(dir.path())
        .args(["-C", repo.to_str().unwrap()])
        .args(["set", "k8s/input.yaml", "baseline-predictor", "s3://new"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: cannot write k8s/input.yaml: it is read-only (mode 0444); modelbump does not replace a file you cannot write: make it writable (chmod u+w) and run again"),
        "{stderr}"
    );
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(meta.ino(), inode, "the file was not replaced");
    assert_eq!(meta.permissions().mode() & 0o777, 0o444);
    assert_eq!(std::fs::read(&file).unwrap(), input);
    // Setting the value it already holds writes nothing and is fine.
    let out = support::modelbump(dir.path())
        .args(["-C", repo.to_str().unwrap()])
        .args([
            "set",
            "k8s/input.yaml",
            "baseline-predictor",
            "s3://models/a",
        ])
        .output()
        .unwrap();
    support::assert_success(&out);
}

mod properties {
    use modelbump::manifest::{self, Edit, EditError, Selector};
    use proptest::prelude::*;
    use yaml_rust2::YamlLoader;

    use crate::support::editor::{Generated, Style, acceptable_uri, new_uri, recipe, render};

    fn single(s: &str) -> String {
        format!("'{}'", s.replace('\'', "''"))
    }

    fn double(s: &str) -> String {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    }

    /// The URI of the Model named `name`, read by a parser the editor does not use to locate.
    fn uri_of(text: &str, name: &str) -> Option<String> {
        let docs = YamlLoader::load_from_str(text.strip_prefix('\u{feff}').unwrap_or(text)).ok()?;
        docs.iter()
            .find(|d| {
                d["kind"].as_str() == Some("Model") && d["metadata"]["name"].as_str() == Some(name)
            })
            .and_then(|d| d["spec"]["storageUri"].as_str().map(str::to_string))
    }

    /// Whether `out` is `text` with only the generated value (at `g.span`) replaced by an acceptable
    /// rendering of `uri` in the value's style.
    fn only_the_value_changed(
        text: &str,
        g: &Generated,
        uri: &str,
        out: &str,
    ) -> Result<(), String> {
        let (head, tail) = (&text[..g.span.start], &text[g.span.end..]);
        if !(out.starts_with(head) && out.ends_with(tail) && out.len() >= head.len() + tail.len()) {
            return Err(format!(
                "bytes outside the value changed:\n{text:?}\n{out:?}"
            ));
        }
        let middle = &out[head.len()..out.len() - tail.len()];
        let acceptable: Vec<String> = if uri == g.value {
            vec![text[g.span.clone()].to_string()]
        } else {
            match g.style {
                Style::Plain => vec![uri.to_string(), double(uri), single(uri)],
                Style::Single => vec![single(uri)],
                Style::Double => vec![double(uri)],
                Style::Literal | Style::Folded => vec![uri.to_string()],
            }
        };
        if acceptable.iter().any(|a| a == middle) {
            Ok(())
        } else {
            Err(format!("{uri:?} written as {middle:?}"))
        }
    }

    proptest! {
        // 256 cases keep `cargo test` fast; PROPTEST_CASES=100000 for a long run.
        #![proptest_config(ProptestConfig {
            cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256),
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// The output is the input with exactly the value's bytes replaced (in an acceptable rendering),
        /// or a refusal of a URI that cannot be one. Never a silently different file.
        #[test]
        fn random_formatting_is_kept_byte_exactly(r in recipe(), uri in new_uri()) {
            let g = render(&r);
            let input = g.text.as_bytes();
            prop_assert_eq!(uri_of(&g.text, &g.name), Some(g.value.clone()), "generator: {}", g.text);

            let fields = manifest::find_fields(input).unwrap();
            let field = fields.iter().find(|f| f.name == g.name);
            prop_assert!(field.is_some(), "not found in {:?}", g.text);
            let field = field.unwrap();
            prop_assert_eq!(&field.value, &g.value);
            prop_assert_eq!(field.span.start, g.span.start);

            let edit = Edit { selector: Selector { name: g.name.clone(), kind: None }, uri: uri.clone() };
            match manifest::apply(input, &[edit]) {
                Ok(edited) => {
                    prop_assert!(acceptable_uri(&uri), "accepted {:?}", uri);
                    let out = String::from_utf8(edited.bytes).unwrap();
                    let checked = only_the_value_changed(&g.text, &g, &uri, &out);
                    prop_assert!(checked.is_ok(), "{}", checked.unwrap_err());
                    prop_assert_eq!(uri_of(&out, &g.name), Some(uri.clone()), "read back from {:?}", out);
                    prop_assert_eq!(edited.changes.len(), 1);
                    prop_assert_eq!(&edited.changes[0].old, &g.value);
                }
                Err(e) => {
                    prop_assert!(!acceptable_uri(&uri), "refused {:?} in {:?}: {}", uri, g.text, e);
                    prop_assert!(matches!(e, EditError::InvalidUri { .. }), "{}", e);
                }
            }
        }

        /// The same through a path target (`spec.storageUri`) or a marker on the value's line: exactly
        /// the value's bytes change; a path that matches the other Models' values too is refused.
        #[test]
        fn markers_and_path_targets_keep_random_formatting_byte_exactly(
            r in recipe(), uri in new_uri(), by_marker in any::<bool>()
        ) {
            let g = render(&r);
            let markable = matches!(g.style, Style::Plain | Style::Single | Style::Double) && !g.in_flow;
            let text = if by_marker && markable {
                let line_end = g.text[g.span.end..].find(['\r', '\n']).map_or(g.text.len(), |i| g.span.end + i);
                let rest = &g.text[g.span.end..line_end];
                let kept = rest.find(" #").map_or(rest, |i| &rest[..i]);
                format!("{}{kept}  # {{\"$modelbump\": \"t\"}}{}", &g.text[..g.span.end], &g.text[line_end..])
            } else {
                g.text.clone()
            };
            let input = text.as_bytes();
            let (at, several) = if by_marker && markable {
                (manifest::FieldRef::Marker("t".into()), false)
            } else {
                let models = manifest::find_fields(input).unwrap().len();
                (manifest::FieldRef::Path("spec.storageUri".parse().unwrap()), models > 1)
            };
            let edit = manifest::FieldEdit { at, template: manifest::Template::whole_uri(), value: uri.clone() };
            match manifest::apply_fields(input, &[edit]) {
                Ok(edited) => {
                    prop_assert!(acceptable_uri(&uri) && !several, "accepted {:?}", uri);
                    let out = String::from_utf8(edited.bytes).unwrap();
                    let checked = only_the_value_changed(&text, &g, &uri, &out);
                    prop_assert!(checked.is_ok(), "{}", checked.unwrap_err());
                    prop_assert_eq!(uri_of(&out, &g.name), Some(uri.clone()), "read back from {:?}", out);
                    prop_assert_eq!(&edited.changes[0].old, &g.value);
                }
                Err(e) if several => {
                    prop_assert!(matches!(e, EditError::PathAmbiguous { .. } | EditError::PathInSeveralDocuments { .. }) || !acceptable_uri(&uri), "{}", e);
                }
                Err(e) => {
                    prop_assert!(!acceptable_uri(&uri), "refused {:?} in {:?}: {}", uri, text, e);
                    prop_assert!(matches!(e, EditError::InvalidUri { .. }), "{}", e);
                }
            }
        }

        /// Arbitrary bytes never panic the editor, and whatever it returns is verified.
        #[test]
        fn arbitrary_input_is_refused_or_edited(bytes in proptest::collection::vec(any::<u8>(), 0..200), uri in new_uri()) {
            let mut input = b"kind: Model\nmetadata: {name: m}\nspec:\n  storageUri: ".to_vec();
            input.extend_from_slice(&bytes);
            let edit = Edit { selector: Selector { name: "m".into(), kind: None }, uri: uri.clone() };
            if let Ok(edited) = manifest::apply(&input, &[edit]) {
                let text = String::from_utf8(edited.bytes).unwrap();
                let read = uri_of(&text, "m");
                // Exactly the URI: not followed by a line break that a block scalar kept.
                prop_assert_eq!(read.as_deref(), Some(uri.as_str()), "{:?}", text);
            }
        }

        /// A block scalar is edited only where YAML reads it as the URI alone (`|-`, `>-`, one line);
        /// one that keeps a line break (`|`, `|+`, `>`, `>+`) or holds several lines is refused, never
        /// edited into a value with a line break.
        #[test]
        fn block_scalars_are_edited_only_where_they_read_as_the_uri_alone(
            folded in any::<bool>(),
            chomp in prop_oneof![Just(""), Just("-"), Just("+")],
            lines in 1usize..4,
            blank_after in 0usize..3,
            indent in 1usize..5,
            crlf in any::<bool>(),
            uri in new_uri(),
        ) {
            let eol = if crlf { "\r\n" } else { "\n" };
            let i = " ".repeat(indent);
            let mut input = format!(
                "kind: Model{eol}metadata: {{name: m}}{eol}spec:{eol}{i}storageUri: {}{chomp}{eol}",
                if folded { ">" } else { "|" }
            );
            for n in 0..lines {
                input.push_str(&format!("{i}{i}s3://models/{n}{eol}"));
            }
            input.push_str(&eol.repeat(blank_after));
            input.push_str(&format!("{i}server: mlserver{eol}"));
            let edit = Edit { selector: Selector { name: "m".into(), kind: None }, uri: uri.clone() };
            let editable = chomp == "-" && lines == 1;
            match manifest::apply(input.as_bytes(), &[edit]) {
                Ok(edited) => {
                    prop_assert!(editable && acceptable_uri(&uri), "accepted {:?} in {:?}", uri, input);
                    let out = String::from_utf8(edited.bytes).unwrap();
                    prop_assert_eq!(uri_of(&out, "m"), Some(uri.clone()), "{:?}", out);
                }
                Err(e) => {
                    prop_assert!(!editable || !acceptable_uri(&uri), "refused {:?} in {:?}: {}", uri, input, e);
                    if acceptable_uri(&uri) {
                        let msg = e.to_string();
                        prop_assert!(msg.contains("line 5: ") && msg.contains("write the URI on the key's line"), "{}", msg);
                    }
                }
            }
        }

        /// A plain or quoted value continued on another line is refused, never collapsed into one line.
        #[test]
        fn values_written_over_several_lines_are_refused(
            style in prop_oneof![Just(Style::Plain), Just(Style::Single), Just(Style::Double)],
            head in "s3://[a-z]{1,6}",
            tail in "[a-z0-9/]{1,6}",
            escaped_break in any::<bool>(),
            indent in 1usize..5,
            crlf in any::<bool>(),
            uri in new_uri(),
        ) {
            let eol = if crlf { "\r\n" } else { "\n" };
            let i = " ".repeat(indent);
            let continuation = format!("{eol}{i}{i}{tail}");
            let written = match style {
                Style::Plain => format!("{head}{continuation}"),
                Style::Single => format!("'{head}{continuation}'"),
                _ if escaped_break => format!("\"{head}\\{continuation}\""),
                _ => format!("\"{head}{continuation}\""),
            };
            let input = format!(
                "kind: Model{eol}metadata: {{name: m}}{eol}spec:{eol}{i}storageUri: {written}{eol}{i}server: mlserver{eol}"
            );
            prop_assume!(uri_of(&input, "m").is_some());
            let edit = Edit { selector: Selector { name: "m".into(), kind: None }, uri: uri.clone() };
            let result = manifest::apply(input.as_bytes(), &[edit]);
            prop_assert!(result.is_err(), "accepted {:?} in {:?}", uri, input);
            let err = result.unwrap_err();
            if acceptable_uri(&uri) {
                prop_assert!(
                    matches!(&err, EditError::Unsupported { line: 4, reason, .. } if reason.contains("written over several lines")),
                    "{}", err
                );
            }
        }
    }
}

/// What the editor must do with one model location of `beyond-crds/SOURCES.md`.
enum Expect {
    /// Set through a path target and through a marker: the template, and the new value to write.
    Edit(&'static str, &'static str),
    /// Refused, with this in the message (the same for the path and the marker).
    Refused(&'static str),
}

/// Every model location of `corpus/beyond-crds/SOURCES.md` that is a literal value (templates such as
/// `{{ }}`, `${VAR}` and `$(VAR)` are left out): file, line, YAML path, the value SOURCES.md gives, and
/// what must happen.
const BEYOND_CRDS: &[(&str, usize, &str, &str, Expect)] = {
    use Expect::*;
    const WORKFLOW: &str = "kserve__kserve/.github__workflows__e2e-test-llmisvc.yaml";
    const S3_OPT: &str = "s3://example-models/facebook/opt-125m";
    &[
        (
            "triton-inference-server__server/deploy__aws__values.yaml",
            32,
            "image.modelRepositoryPath",
            "s3://triton-inference-server-repository/model_repository",
            Edit("{uri}", "s3://b/m-1/artifacts"),
        ),
        (
            "triton-inference-server__server/deploy__oci__values.yaml",
            32,
            "image.modelRepositoryPath",
            "s3://https://<OCI_NAMESPACE>.compat.objectstorage.<OCI_REGION>.oraclecloud.com:443/triton-inference-server-repository",
            Edit(
                "s3://https://{bucket}/{path}",
                "s3://https://objectstorage.example:443/models/m-2",
            ),
        ),
        (
            "triton-inference-server__server/deploy__gke-marketplace-app__server-deployer__chart__triton__values.yaml",
            34,
            "modelRepositoryPath",
            "gs://triton_sample_models/26.07",
            Edit("{uri}", "gs://b/26.08"),
        ),
        (
            "SeldonIO__seldon-core/examples__batch__argo-workflows-batch__helm-charts__seldon-batch-workflow__values.yaml",
            22,
            "seldonDeployment.modelUri",
            "gs://seldon-models/v1.18.2/sklearn/iris",
            Edit("{uri}", "gs://b/iris/2"),
        ),
        (
            "SeldonIO__seldon-core/helm-charts__seldon-openvino__values.yaml",
            4,
            "openvino.model.src",
            "gs://seldon-models/openvino/squeezenet",
            Edit("gs://{path}", "gs://models/squeezenet/2"),
        ),
        (
            "SeldonIO__seldon-core/helm-charts__seldon-openvino__values.yaml",
            5,
            "openvino.model.path",
            "/opt/ml/squeezenet",
            Edit("/opt/ml/{name}", "/opt/ml/squeezenet-2"),
        ),
        (
            "SeldonIO__seldon-core/helm-charts__seldon-single-model__values.yaml",
            10,
            "model.uri",
            "",
            Refused("does not have the form of its template"),
        ),
        (
            "SeldonIO__seldon-core/scheduler__k8s__testing__mlserver__mlserver.yaml",
            168,
            "spec.template.spec.initContainers[0].args[0]",
            "gs://seldon-models/sklearn/iris-0.23.2/lr_model",
            Edit("{uri}", "gs://b/iris/m-3"),
        ),
        (
            "SeldonIO__seldon-core/scheduler__k8s__testing__mlserver__mlserver.yaml",
            100,
            "spec.template.spec.containers[0].env[name=MLSERVER_MODEL_URI].value",
            "/mnt/models",
            Edit("/mnt/{path}", "/mnt/models-2"),
        ),
        (
            "kserve__kserve/docs__samples__llmisvc__lora-adapters__test-examples__02-lora-multi-hf-cpu.yaml",
            8,
            "spec.model.uri",
            "hf://facebook/opt-125m",
            Edit("{uri}", "hf://facebook/opt-350m"),
        ),
        (
            "kserve__kserve/docs__samples__llmisvc__lora-adapters__test-examples__02-lora-multi-hf-cpu.yaml",
            15,
            "spec.model.lora.adapters[name=adapter-1].uri",
            "hf://edbeeching/opt-125m-lora",
            Edit("{uri}", "hf://a/lora-2"),
        ),
        (
            "kserve__kserve/docs__samples__llmisvc__lora-adapters__test-examples__02-lora-multi-hf-cpu.yaml",
            17,
            "spec.model.lora.adapters[name=adapter-2].uri",
            "hf://edbeeching/opt-125m-lora",
            Edit("{uri}", "hf://a/lora-3"),
        ),
        // The same path in both documents: a path cannot tell them apart, a marker can.
        (
            "kserve__kserve/docs__samples__multimodelserving__sklearn__trainedmodels.yaml",
            8,
            "spec.model.storageUri",
            "gs://kfserving-examples/models/sklearn/1.0/model",
            Edit("{uri}", "gs://b/sklearn/2"),
        ),
        (
            "kserve__kserve/docs__samples__multimodelserving__sklearn__trainedmodels.yaml",
            19,
            "spec.model.storageUri",
            "gs://kfserving-examples/models/sklearn/1.0/model",
            Edit("{uri}", "gs://b/sklearn/3"),
        ),
        (
            WORKFLOW,
            323,
            "jobs.test-llmisvc.steps[18].env.OPT_125M_MODEL_URI",
            S3_OPT,
            Edit("{uri}", "s3://m/1"),
        ),
        (
            WORKFLOW,
            335,
            "jobs.test-llmisvc.steps[19].env.OPT_125M_MODEL_URI",
            S3_OPT,
            Edit("{uri}", "s3://m/2"),
        ),
        (
            WORKFLOW,
            552,
            "jobs.test-llmisvc-wva-autoscaling-hpa.steps[16].env.OPT_125M_MODEL_URI",
            S3_OPT,
            Edit("{uri}", "s3://m/3"),
        ),
        (
            WORKFLOW,
            660,
            "jobs.test-llmisvc-autoscaling-direct-keda-and-wva-with-keda.steps[16].env.OPT_125M_MODEL_URI",
            S3_OPT,
            Edit("{uri}", "s3://m/4"),
        ),
        (
            WORKFLOW,
            670,
            "jobs.test-llmisvc-autoscaling-direct-keda-and-wva-with-keda.steps[17].env.OPT_125M_MODEL_URI",
            S3_OPT,
            Edit("{uri}", "s3://m/5"),
        ),
        (
            WORKFLOW,
            682,
            "jobs.test-llmisvc-autoscaling-direct-keda-and-wva-with-keda.steps[18].env.OPT_125M_MODEL_URI",
            S3_OPT,
            Edit("{uri}", "s3://m/6"),
        ),
        (
            WORKFLOW,
            164,
            "jobs.seed-model-cache.steps[5].run",
            "hf://facebook/opt-125m",
            Refused("block scalar of several lines"),
        ),
        (
            "kserve__modelmesh-serving/config__example-predictors__example-keras-mnist-predictor.yaml",
            21,
            "spec.path",
            "keras/mnist.h5",
            Edit("{path}", "keras/mnist-2.h5"),
        ),
        (
            "kserve__modelmesh-serving/config__example-predictors__example-keras-mnist-predictor.yaml",
            24,
            "spec.storage.s3.secretKey",
            "localMinIO",
            Edit("{bucket}", "remoteMinIO"),
        ),
        (
            "kserve__modelmesh-serving/config__samples__predictor_custom_complete.yaml",
            22,
            "spec.path",
            "sentiment_models/french",
            Edit("{path}", "sentiment_models/german"),
        ),
        (
            "kserve__modelmesh-serving/config__samples__predictor_custom_complete.yaml",
            25,
            "spec.storage.persistentVolumeClaim.claimName",
            "models-pvc",
            Edit("{bucket}", "models-pvc-2"),
        ),
        (
            "ray-project__kuberay/ray-operator__config__samples__ray-service.llm-serve.yaml",
            15,
            "spec.serveConfigV2",
            "Qwen/Qwen2.5-7B-Instruct",
            Refused("block scalar of several lines"),
        ),
        (
            "vllm-project__production-stack/tutorials__assets__values-04-multiple-models.yaml",
            7,
            "servingEngineSpec.modelSpec[name=llama3].modelURL",
            "meta-llama/Llama-3.1-8B-Instruct",
            Edit("{name}", "meta-llama/Llama-3.2-3B-Instruct"),
        ),
        (
            "vllm-project__production-stack/tutorials__assets__values-04-multiple-models.yaml",
            25,
            "servingEngineSpec.modelSpec[name=mistral].modelURL",
            "mistralai/Mistral-7B-Instruct-v0.2",
            Edit("{name}", "mistralai/Mistral-7B-Instruct-v0.3"),
        ),
        (
            "vllm-project__production-stack/deployment_on_cloud__oci__production_stack_specification.yaml",
            10,
            "servingEngineSpec.modelSpec[0].modelURL",
            "openai/gpt-oss-20b",
            Edit("{name}", "openai/gpt-oss-120b"),
        ),
        (
            "llm-d-incubation__llm-d-modelservice/charts__llm-d-modelservice__values.yaml",
            56,
            "modelArtifacts.name",
            "random/model",
            Edit("{name}", "random/model-2"),
        ),
        (
            "llm-d-incubation__llm-d-modelservice/examples__values-pd.yaml",
            10,
            "modelArtifacts.name",
            "facebook/opt-125m",
            Edit("{name}", "facebook/opt-350m"),
        ),
        (
            "llm-d-incubation__llm-d-modelservice/examples__values-gaudi.yaml",
            9,
            "modelArtifacts.uri",
            "pvc+hf://model-pvc/meta-llama/Llama-3.1-8B-Instruct",
            Edit("{uri}", "pvc+hf://model-pvc/meta-llama/Llama-3.2-3B"),
        ),
        (
            "llm-d-incubation__llm-d-modelservice/examples__values-gaudi.yaml",
            8,
            "modelArtifacts.name",
            "meta-llama/Llama-3.1-8B-Instruct",
            Edit("{name}", "meta-llama/Llama-3.2-3B"),
        ),
        (
            "sgl-project__ome/config__models__NousResearch__hermes-2-pro-llama-3-8b.yaml",
            20,
            "spec.storage.storageUri",
            "hf://NousResearch/Hermes-2-Pro-Llama-3-8B",
            Edit("{uri}", "hf://NousResearch/Hermes-3-Llama-3.1-8B"),
        ),
        (
            "sgl-project__ome/config__models__NousResearch__hermes-2-pro-llama-3-8b.yaml",
            21,
            "spec.storage.path",
            "/raid/models/NousResearch/hermes-2-pro-llama-3-8b",
            Edit("/raid/models/{path}", "/raid/models/NousResearch/hermes-3"),
        ),
        (
            "GoogleCloudPlatform__kubernetes-engine-samples/ai-ml__llm-serving-gemma__vllm__vllm-2b-awq__patch.yaml",
            33,
            "spec.template.spec.containers[name=inference-server].env[name=MODEL_ID].value",
            "google/gemma-2b-AWQ",
            Edit("{name}", "google/gemma-7b-AWQ"),
        ),
        (
            "GoogleCloudPlatform__kubernetes-engine-samples/ai-ml__llm-serving-gemma__tgi__tgi-7b-token__patch.yaml",
            36,
            "spec.template.spec.containers[0].env[name=MODEL_ID].value",
            "google/gemma-7b",
            Edit("{name}", "google/gemma-7b-it"),
        ),
        (
            "GoogleCloudPlatform__kubernetes-engine-samples/ai-ml__gke-ray__rayserve__llm__model-composition__ray-service.yaml",
            36,
            "spec.serveConfigV2",
            "meta-llama/Meta-Llama-3-8B-Instruct",
            Refused("block scalar of several lines"),
        ),
        (
            "GoogleCloudPlatform__kubernetes-engine-samples/ai-ml__gke-ray__rayserve__llm__model-composition__ray-service.yaml",
            37,
            "spec.serveConfigV2",
            "google/gemma-7b-it",
            Refused("block scalar of several lines"),
        ),
        (
            "kubernetes-sigs__wg-serving/serving-catalog__core__deployment__components__storage__vllm__base__deployment.patch.yaml",
            12,
            "spec.template.spec.containers[0].env[name=MODEL_PATH].value",
            "path/to/model",
            Edit("{path}", "models/m-4"),
        ),
        (
            "kubernetes-sigs__wg-serving/serving-catalog__core__deployment__components__storage__vllm__base__deployment.patch.yaml",
            23,
            "spec.template.spec.volumes[0].persistentVolumeClaim.claimName",
            "PVC_NAME",
            Edit("{bucket}", "models-pvc"),
        ),
        (
            "kubernetes-sigs__wg-serving/serving-catalog__core__deployment__jetstream__gemma-7b-it__base__deployment.patch.yaml",
            35,
            "spec.template.spec.containers[0].args[11]",
            "load_parameters_path=gs://$BUCKET_NAME/final/unscanned/gemma_7b-it/0/checkpoints/0/items",
            Edit(
                "load_parameters_path={uri}",
                "load_parameters_path=gs://ckpt/gemma_7b-it/m-5/items",
            ),
        ),
        (
            "kubeflow__pipelines/test_data__sdk_compiled_pipelines__valid__critical__modelcar.yaml",
            156,
            "root.inputDefinitions.parameters.model_uri.defaultValue",
            "oci://registry.domain.local/modelcar:test",
            Edit("{uri}", "oci://registry.domain.local/modelcar:v2"),
        ),
        (
            "kubeflow__pipelines/test_data__sdk_compiled_pipelines__valid__critical__modelcar.yaml",
            67,
            "deploymentSpec.executors.exec-build-model-car.container.command[6]",
            "oci://registry.domain.local/org/repo:v1.0",
            Refused("written over several lines"),
        ),
        (
            "anaconda__mlflow-adsp/helm__values.yaml",
            69,
            "model.uri",
            "",
            Refused("does not have the form of its template"),
        ),
        (
            "openvinotoolkit__model_server/extras__ovms-operator__config__samples__intel_v1alpha1_ovms.yaml",
            18,
            "spec.model_path",
            "gs://ovms-public-eu/resnet50-binary",
            Edit("{uri}", "gs://ovms/resnet50-2"),
        ),
        (
            "rh-aiservices-bu__rhoaibu-cluster/components__configs__maas__model-serving__base__phi-4.yaml",
            36,
            "spec.predictor.model.storage.key",
            "aws-connection-models",
            Edit("{bucket}", "aws-connection-models-2"),
        ),
        (
            "rh-aiservices-bu__rhoaibu-cluster/components__configs__maas__model-serving__base__phi-4.yaml",
            37,
            "spec.predictor.model.storage.path",
            "/microsoft/phi-4",
            Edit("/{path}", "/microsoft/phi-4-mini"),
        ),
        (
            "rh-aiservices-bu__llm-on-openshift/llm-servers__vllm__gpu__gitops__deployment.yaml",
            56,
            "spec.template.spec.containers[0].args[1]",
            "mistralai/Mistral-7B-Instruct-v0.2",
            Edit("{name}", "mistralai/Mistral-7B-Instruct-v0.3"),
        ),
        (
            "rh-aiservices-bu__llm-on-openshift/llm-servers__vllm__gpu__gitops__deployment.yaml",
            58,
            "spec.template.spec.containers[0].args[3]",
            "/models-cache",
            Edit("/{path}", "/models-cache-2"),
        ),
        (
            "bentoml__yatai-deployment/tests__e2e__example.yaml",
            11,
            "spec.tag",
            "iris_classifier:r4zint4b567i4usu",
            Edit("{name}:{version}", "iris_classifier:v2"),
        ),
        (
            "bentoml__yatai-deployment/tests__e2e__example.yaml",
            7,
            "spec.image",
            "quay.io/bentoml/iris_classifier:r4zint4b567i4usu",
            Edit(
                "quay.io/bentoml/{name}:{version}",
                "quay.io/bentoml/iris_classifier:v2",
            ),
        ),
        (
            "bentoml__yatai-deployment/tests__e2e__example.yaml",
            37,
            "spec.bento",
            "test-bento",
            Edit("{name}", "test-bento-2"),
        ),
    ]
};

/// `text` with a marker for `target` on the value's line: after the value, in place of a comment the
/// line has.
fn with_marker(text: &str, span: std::ops::Range<usize>, target: &str) -> String {
    let line_end = text[span.end..]
        .find('\n')
        .map_or(text.len(), |i| span.end + i);
    let line_end = if text[..line_end].ends_with('\r') {
        line_end - 1
    } else {
        line_end
    };
    let rest = &text[span.end..line_end];
    let marker = format!("  # {{\"$modelbump\": \"{target}\"}}");
    let kept = match rest.find(" #") {
        Some(i) => &rest[..i],
        None => rest,
    };
    format!("{}{kept}{marker}{}", &text[..span.end], &text[line_end..])
}

fn field_path_edit(path: &str, template: &str, value: &str) -> manifest::FieldEdit {
    manifest::FieldEdit {
        at: manifest::FieldRef::Path(path.parse().unwrap()),
        template: template.parse().unwrap(),
        value: value.into(),
    }
}

#[test]
fn every_literal_location_of_the_beyond_crds_corpus_by_path_and_by_marker() {
    let Some(shared) = support::shared_dir(
        "every_literal_location_of_the_beyond_crds_corpus_by_path_and_by_marker",
    ) else {
        return;
    };
    let corpus = shared.join("corpus/beyond-crds");
    let mut edited = 0;
    for (file, line, path, value, expect) in BEYOND_CRDS {
        let what = format!("{file}:{line} {path}");
        let input = std::fs::read(corpus.join(file)).unwrap_or_else(|e| panic!("{what}: {e}"));
        let text = String::from_utf8(input.clone()).unwrap();
        let yaml_path: manifest::YamlPath = path.parse().unwrap();
        // The value at the path: for a value inside a block or a multi-line string, the string that
        // holds it (which starts on an earlier line).
        let located = manifest::find_path(&input, &yaml_path);
        let (template, new) = match expect {
            Expect::Edit(template, new) => (*template, *new),
            Expect::Refused(why) => {
                let field = located.unwrap_or_else(|e| panic!("{what}: {e}"));
                assert!(field.value.contains(value), "{what}: {:?}", field.value);
                let err =
                    manifest::apply_fields(&input, &[field_path_edit(path, "{uri}", "s3://x/y")])
                        .unwrap_err();
                assert!(err.to_string().contains(why), "{what}: {err}");
                // A marker on the value's line: inside a string, it is text and marks nothing; on the
                // line of a value, the edit by marker is refused for the same reason.
                if field.line != *line {
                    let line_start = text.match_indices('\n').nth(line - 2).unwrap().0 + 1;
                    let at = line_start + text[line_start..].find(value).unwrap() + value.len();
                    // Inside a double-quoted string a quote is written `\"`.
                    let q = if field.style == ScalarStyle::DoubleQuoted {
                        "\\\""
                    } else {
                        "\""
                    };
                    let marker = format!("  # {{{q}$modelbump{q}: {q}t{q}}}");
                    let marked = format!("{}{marker}{}", &text[..at], &text[at..]);
                    assert!(
                        manifest::find_markers(marked.as_bytes())
                            .unwrap()
                            .is_empty(),
                        "{what}"
                    );
                } else {
                    let marked = with_marker(&text, field.span.clone(), "t");
                    let err = manifest::apply_fields(
                        marked.as_bytes(),
                        &[manifest::FieldEdit {
                            at: manifest::FieldRef::Marker("t".into()),
                            template: manifest::Template::whole_uri(),
                            value: "s3://x/y".into(),
                        }],
                    )
                    .unwrap_err();
                    assert!(err.to_string().contains(why), "{what} (marker): {err}");
                }
                continue;
            }
        };
        // By path, where the path is one value in the file.
        let two_documents = file.contains("trainedmodels");
        let field = if two_documents {
            let err = located.unwrap_err();
            assert!(
                err.to_string().contains("matches in 2 of them")
                    && err.to_string().contains("add `document: N`"),
                "{what}: {err}"
            );
            let fields = manifest::find_fields(&input).unwrap();
            let f = fields.iter().find(|f| f.line == *line).unwrap();
            // `document:` reaches it by path.
            let by_document =
                manifest::find_path(&input, &yaml_path.clone().in_document(f.document)).unwrap();
            assert_eq!(
                (by_document.line, &by_document.value),
                (*line, &f.value),
                "{what}"
            );
            manifest::ScalarField {
                document: f.document,
                line: f.line,
                span: f.span.clone(),
                value: f.value.clone(),
                style: f.style,
                path: yaml_path.clone(),
            }
        } else {
            let field = located.unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(
                (field.line, field.value.as_str()),
                (*line, *value),
                "{what}"
            );
            let out = manifest::apply_fields(&input, &[field_path_edit(path, template, new)])
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            let want = format!(
                "{}{}{}",
                &text[..field.span.start],
                rendered(&text[field.span.clone()], field.style, new),
                &text[field.span.end..]
            );
            assert_eq!(String::from_utf8(out.bytes).unwrap(), want, "{what}");
            field
        };
        // By marker, on a copy with the marker on the value's line.
        let marked = with_marker(&text, field.span.clone(), "the-target");
        let markers =
            manifest::find_markers(marked.as_bytes()).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(markers.len(), 1, "{what}");
        assert_eq!(
            (
                markers[0].target.as_str(),
                markers[0].field.line,
                markers[0].field.value.as_str()
            ),
            ("the-target", *line, *value),
            "{what}"
        );
        let edit = manifest::FieldEdit {
            at: manifest::FieldRef::Marker("the-target".into()),
            template: template.parse().unwrap(),
            value: new.into(),
        };
        let out = manifest::apply_fields(marked.as_bytes(), &[edit])
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let span = markers[0].field.span.clone();
        let want = format!(
            "{}{}{}",
            &marked[..span.start],
            rendered(&marked[span.clone()], markers[0].field.style, new),
            &marked[span.end..]
        );
        assert_eq!(
            String::from_utf8(out.bytes).unwrap(),
            want,
            "{what} (marker)"
        );
        edited += 1;
    }
    assert!(edited >= 45, "only {edited} locations edited");
}

#[test]
fn corpus_files_without_a_live_value_yield_no_targets() {
    let Some(shared) = support::shared_dir("corpus_files_without_a_live_value_yield_no_targets")
    else {
        return;
    };
    let file = shared.join(
        "corpus/beyond-crds/triton-inference-server__server/deploy__fleetcommand__values.yaml",
    );
    let input = std::fs::read(&file).unwrap();
    let text = String::from_utf8(input.clone()).unwrap();
    assert!(manifest::find_fields(&input).unwrap().is_empty());
    assert!(manifest::find_markers(&input).unwrap().is_empty());
    // The commented-out argument (line 44), marked: still no target, it is not live.
    let (n, l) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains("#- --model-repository=s3://"))
        .unwrap();
    assert_eq!(n + 1, 44);
    let marked = text.replacen(l, &format!("{l}  # {{\"$modelbump\": \"triton\"}}"), 1);
    assert!(
        manifest::find_markers(marked.as_bytes())
            .unwrap()
            .is_empty()
    );
    // The key above it holds no value (only comments follow it): nothing a path could edit.
    let err = manifest::apply_fields(
        &input,
        &[field_path_edit("image.serverArgs", "{uri}", "s3://x")],
    )
    .unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
}
