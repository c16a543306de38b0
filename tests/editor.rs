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
