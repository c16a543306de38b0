//! The proof of an edit, by a second, independent YAML implementation (yaml-rust2).
//!
//! The text before and after the edit are both loaded into trees. In the tree before, each edited value
//! must be the string the locating parser decoded (so the two parsers agree on what is being replaced);
//! it is then replaced by the expected new string, and the result must equal the tree after, document
//! for document. Any difference, anywhere, refuses the edit: a bug in the locating parser, in the splice
//! or in the quoting rules cannot silently change another value.
//!
//! yaml-rust2 expands aliases into copies; the text it loads has passed the locating parser's alias
//! budget first ([`super::tree::ALIAS_EXPANSION_LIMIT`]), so an alias bomb never reaches it.

use yaml_rust2::{Yaml, YamlLoader};

use super::EditError;
use super::source::BOM;
use super::tree::Seg;

/// One edited value, as the verifier needs it.
#[derive(Debug, Clone)]
pub struct Expected<'e> {
    /// The document, counted within the verified text.
    pub document: usize,
    /// The path from the document's root.
    pub path: &'e [Seg],
    /// The value before, as the locating parser decoded it.
    pub old: &'e str,
    /// The URI asked for: the edited value must read back as exactly this string (not as what the
    /// splice meant to write, so that a line break kept by a block scalar cannot slip through).
    pub new: &'e str,
    /// The line of the value (absolute), for messages.
    pub line: usize,
}

/// Checks that `after` is `before` with exactly the `expected` values replaced. `lines_before` turns the
/// verifier's line numbers into the file's.
pub fn verify(
    before: &str,
    after: &str,
    expected: &[Expected<'_>],
    lines_before: usize,
) -> Result<(), EditError> {
    let first_line = expected.first().map_or(1, |e| e.line);
    let mut old_docs = load(before).map_err(|e| EditError::InvalidYaml {
        line: lines_before + e.marker().line(),
        message: e.info().to_string(),
    })?;
    let new_docs = load(after).map_err(|e| EditError::VerifyFailed {
        line: first_line,
        message: format!(
            "the edited text does not parse ({} at line {})",
            e.info(),
            lines_before + e.marker().line()
        ),
    })?;
    if old_docs.len() != new_docs.len() {
        return Err(EditError::VerifyFailed {
            line: first_line,
            message: format!(
                "the edit changes the number of YAML documents from {} to {}",
                old_docs.len(),
                new_docs.len()
            ),
        });
    }
    for e in expected {
        let fail = |message: String| EditError::VerifyFailed {
            line: e.line,
            message,
        };
        let doc = old_docs
            .get_mut(e.document)
            .ok_or_else(|| fail("the second YAML parser does not see this document".into()))?;
        let slot = navigate(doc, e.path).ok_or_else(|| {
            fail("the second YAML parser does not see this field where the first one does".into())
        })?;
        match slot {
            Yaml::String(s) if s == e.old => *slot = Yaml::String(e.new.to_string()),
            other => {
                return Err(fail(format!(
                    "the two YAML parsers disagree about the current value: {:?} and {}",
                    e.old,
                    describe(other)
                )));
            }
        }
        let after_value = new_docs.get(e.document).and_then(|d| lookup(d, e.path));
        if after_value != Some(&Yaml::String(e.new.to_string())) {
            return Err(fail(format!(
                "the edited value reads back as {} instead of {:?}",
                after_value.map_or_else(|| "nothing".to_string(), describe),
                e.new
            )));
        }
    }
    if let Some(i) = (0..old_docs.len()).find(|&i| old_docs[i] != new_docs[i]) {
        return Err(EditError::VerifyFailed {
            line: first_line,
            message: format!(
                "the edit would change more than the model URI (document {} differs)",
                i + 1
            ),
        });
    }
    Ok(())
}

fn load(text: &str) -> Result<Vec<Yaml>, yaml_rust2::ScanError> {
    // yaml-rust2 reads a leading byte-order mark as part of the first key.
    YamlLoader::load_from_str(text.strip_prefix(BOM).unwrap_or(text))
}

fn navigate<'y>(mut node: &'y mut Yaml, path: &[Seg]) -> Option<&'y mut Yaml> {
    for seg in path {
        node = match (seg, node) {
            (Seg::Key(k), Yaml::Hash(h)) => h.get_mut(&Yaml::String(k.clone()))?,
            (Seg::Index(i), Yaml::Array(a)) => a.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(node)
}

fn lookup<'y>(mut node: &'y Yaml, path: &[Seg]) -> Option<&'y Yaml> {
    for seg in path {
        node = match (seg, node) {
            (Seg::Key(k), Yaml::Hash(h)) => h.get(&Yaml::String(k.clone()))?,
            (Seg::Index(i), Yaml::Array(a)) => a.get(*i)?,
            _ => return None,
        };
    }
    Some(node)
}

fn describe(y: &Yaml) -> String {
    match y {
        Yaml::String(s) => format!("the string {s:?}"),
        Yaml::Integer(i) => format!("the integer {i}"),
        Yaml::Real(r) => format!("the number {r}"),
        Yaml::Boolean(b) => format!("the boolean {b}"),
        Yaml::Null => "null".into(),
        Yaml::Array(_) => "a sequence".into(),
        Yaml::Hash(_) => "a mapping".into(),
        Yaml::Alias(_) => "an alias".into(),
        Yaml::BadValue => "an unreadable value".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(keys: &[&str]) -> Vec<Seg> {
        keys.iter().map(|k| Seg::Key((*k).into())).collect()
    }

    #[test]
    fn accepts_exactly_the_expected_change() {
        let p = path(&["spec", "storageUri"]);
        let e = [Expected {
            document: 0,
            path: &p,
            old: "s3://a",
            new: "s3://b",
            line: 2,
        }];
        verify(
            "spec:\n  storageUri: s3://a # c\n",
            "spec:\n  storageUri: s3://b # c\n",
            &e,
            0,
        )
        .unwrap();
    }

    /// Verifies an edit of `spec.storageUri` (line 2) from `old` to `new`, and expects a refusal.
    fn assert_refused(before: &str, after: &str, old: &str, new: &str) {
        let p = path(&["spec", "storageUri"]);
        let e = [Expected {
            document: 0,
            path: &p,
            old,
            new,
            line: 2,
        }];
        let err = verify(before, after, &e, 0);
        assert!(
            matches!(err, Err(EditError::VerifyFailed { .. })),
            "{before:?} -> {after:?}: {err:?}"
        );
    }

    #[test]
    fn refuses_any_other_difference() {
        assert_refused(
            "spec:\n  storageUri: s3://a\nx: 1\n",
            "spec:\n  storageUri: s3://b\nx: 2\n",
            "s3://a",
            "s3://b",
        );
        // The value reads back as a boolean: refused.
        assert_refused(
            "spec:\n  storageUri: s3://a\n",
            "spec:\n  storageUri: true\n",
            "s3://a",
            "true",
        );
        // A new document appears.
        assert_refused(
            "spec:\n  storageUri: s3://a\n",
            "spec:\n  storageUri: s3://b\n---\na: 1\n",
            "s3://a",
            "s3://b",
        );
    }

    #[test]
    fn refuses_when_the_parsers_disagree_about_the_old_value() {
        let p = path(&["k"]);
        let e = [Expected {
            document: 0,
            path: &p,
            old: "1",
            new: "s3://b",
            line: 1,
        }];
        let err = verify("k: 1\n", "k: s3://b\n", &e, 0);
        assert!(
            matches!(err, Err(EditError::VerifyFailed { .. })),
            "{err:?}"
        );
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_key() {
        let p = path(&["k"]);
        let e = [Expected {
            document: 0,
            path: &p,
            old: "a",
            new: "b",
            line: 1,
        }];
        verify("\u{feff}k: a\r\n", "\u{feff}k: b\r\n", &e, 0).unwrap();
    }
}
