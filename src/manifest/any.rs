//! Edits of both sorts in one list: a field of a known kind named by [`Selector`](super::Selector)
//! ([`super::apply`]) and a value anywhere named by a path or a marker ([`super::apply_fields`]), so that
//! the write-back (commit, push, re-application on a fresh remote tip) carries them alike.
//!
//! [`apply_any`] applies the known-kind edits first, then the others, each step with its own proof; the
//! changes of both come back in one shape, [`AnyChange`], named as the report names them: a known field
//! by its kind and name, a path or marker target by `path` or `marker` and the target's name.

use super::{Edit, EditError, FieldEdit, FieldRef, apply, apply_fields};

/// One edit of either sort.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyEdit {
    /// A field of a known kind.
    Model(Edit),
    /// A value at a path or carrying a marker.
    Field {
        /// The target's name (for a marker, the name the marker carries).
        name: String,
        /// The edit.
        edit: FieldEdit,
    },
}

impl AnyEdit {
    /// The name the report and the commit message use.
    pub fn name(&self) -> &str {
        match self {
            Self::Model(edit) => &edit.selector.name,
            Self::Field { name, .. } => name,
        }
    }
}

/// The kind a report line shows for an edit by path or by marker.
pub fn field_kind(at: &FieldRef) -> &'static str {
    match at {
        FieldRef::Path(_) => "path",
        FieldRef::Marker(_) => "marker",
    }
}

/// One value an [`AnyEdit`] changed (or left as it was).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnyChange {
    /// `Model`, `InferenceService`, ... for a known field; `path` or `marker` otherwise.
    pub kind: String,
    /// The field's name (known kinds) or the target's name.
    pub name: String,
    /// 1-based line of the value.
    pub line: usize,
    /// The value before.
    pub old: String,
    /// The value after.
    pub new: String,
}

/// The result of [`apply_any`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnyEdited {
    /// The new bytes.
    pub bytes: Vec<u8>,
    /// The known fields' changes (in edit order), then the others' (one per value).
    pub changes: Vec<AnyChange>,
}

/// Applies `edits` to one file's bytes: the known-kind edits in one pass, then the path and marker
/// edits in another, each verified by the second parser.
pub fn apply_any(bytes: &[u8], edits: &[AnyEdit]) -> Result<AnyEdited, EditError> {
    let mut models = Vec::new();
    let mut fields = Vec::new();
    let mut names = Vec::new();
    for edit in edits {
        match edit {
            AnyEdit::Model(e) => models.push(e.clone()),
            AnyEdit::Field { name, edit } => {
                fields.push(edit.clone());
                names.push(name.clone());
            }
        }
    }
    let mut current = bytes.to_vec();
    let mut changes = Vec::new();
    if !models.is_empty() {
        let edited = apply(&current, &models)?;
        changes.extend(edited.changes.into_iter().map(|c| AnyChange {
            kind: c.field.kind.to_string(),
            name: c.field.name,
            line: c.field.line,
            old: c.old,
            new: c.new,
        }));
        current = edited.bytes;
    }
    if !fields.is_empty() {
        let edited = apply_fields(&current, &fields)?;
        for c in edited.changes {
            let index = fields.iter().position(|f| f.at == c.at).unwrap_or(0);
            changes.push(AnyChange {
                kind: field_kind(&c.at).to_string(),
                name: names[index].clone(),
                line: c.field.line,
                old: c.old,
                new: c.new,
            });
        }
        current = edited.bytes;
    }
    Ok(AnyEdited {
        bytes: current,
        changes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Selector, Template, YamlPath};

    const TWO: &str = "\
apiVersion: mlops.seldon.io/v1alpha1
kind: Model
metadata:
  name: m
spec:
  storageUri: s3://a/1   # the model
---
apiVersion: apps/v1
kind: Deployment
spec:
  args:
  - --model=s3://b/1  # {\"$modelbump\": \"llm\"}
  - --port=1
";

    #[test]
    fn both_sorts_in_one_list_change_only_their_bytes() {
        let edits = vec![
            AnyEdit::Field {
                name: "llm".into(),
                edit: FieldEdit {
                    at: FieldRef::Marker("llm".into()),
                    template: Template::parse("--model={uri}").unwrap(),
                    value: "--model=s3://b/2".into(),
                },
            },
            AnyEdit::Model(Edit {
                selector: Selector {
                    name: "m".into(),
                    kind: None,
                },
                uri: "s3://a/2".into(),
            }),
        ];
        let out = apply_any(TWO.as_bytes(), &edits).unwrap();
        assert_eq!(
            String::from_utf8(out.bytes).unwrap(),
            TWO.replace("s3://a/1", "s3://a/2")
                .replace("s3://b/1", "s3://b/2")
        );
        let kinds: Vec<(&str, &str, usize)> = out
            .changes
            .iter()
            .map(|c| (c.kind.as_str(), c.name.as_str(), c.line))
            .collect();
        assert_eq!(kinds, vec![("Model", "m", 6), ("marker", "llm", 12)]);
        assert_eq!(edits[0].name(), "llm");

        let by_path = AnyEdit::Field {
            name: "port".into(),
            edit: FieldEdit {
                at: FieldRef::Path(YamlPath::parse("spec.args[1]").unwrap()),
                template: Template::parse("--model={uri}").unwrap(),
                value: "--model=s3://c".into(),
            },
        };
        let err = apply_any(TWO.as_bytes(), &[by_path])
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 13"), "{err}");
        assert!(err.contains("--port=1"), "{err}");
    }
}
