//! The manifest editor: finds the model URI fields of Seldon Core and KServe resources in YAML bytes and
//! replaces the bytes of their values, and nothing else.
//!
//! This is the core promise of modelbump: comments, key order, quoting, indentation, blank lines, `---`
//! markers, CRLF line breaks, a byte-order mark and a missing final newline all stay as they were. The
//! editor is pure (bytes in, bytes out): no file system, no network, no git, so that it can be tested
//! exhaustively and fuzzed.
//!
//! An edit is made in three steps: *locate* the exact byte span of each value with one YAML parser
//! (granit-parser, [`tree`]), *splice* the new value in the value's own style ([`splice`]), then *verify*
//! the result with a second, independent parser (yaml-rust2, [`verify`]): the re-parsed tree must equal
//! the original one except at the edited values, and the locating parser must find the same fields again.
//! Anything else is refused, so one parser's bug cannot silently corrupt a file.
//!
//! # Which fields
//! See [`kinds`]: Seldon Core v2 `Model` `spec.storageUri`; Seldon Core v1 `SeldonDeployment`
//! `spec.predictors[].graph.modelUri` through `children`; KServe `InferenceService`
//! `spec.{predictor,transformer,explainer}.model.storageUri` and `spec.<component>.<framework>.storageUri`
//! (also under the legacy group `serving.kubeflow.org`); KServe `TrainedModel` `spec.model.storageUri`;
//! KServe `LLMInferenceService` `spec.model.uri` and `spec.model.lora.adapters[].uri`;
//! in every document of the file and in the `items` of a `kind: List`.
//!
//! Any other value is reached through [`field`]: by a YAML path ([`yaml_path`]) or a marker comment
//! ([`marker`]), in the form of a value template ([`template`]), with the same splice and proof. Other kinds, documents that are
//! not mappings and resources without a URI are skipped.
//!
//! # Names
//! A field is named `metadata.name` when its resource has one URI field, `NAME/COMPONENT` when it has
//! several (the SeldonDeployment graph node's `name`; the KServe component `predictor`, `transformer`,
//! `explainer`; `model` or the LoRA adapter's `name` of an LLMInferenceService). Where a component repeats inside one resource the name is made unique with the predictor
//! (`NAME/PREDICTOR/NODE`) or the KServe shape (`NAME/predictor/model`, `NAME/predictor/sklearn`).
//! A selector also answers to the bare `NAME` and to `NAME/COMPONENT`, and matches whole names only
//! (`baseline-predictor` never selects `baseline-predictor-v2`). More than one match is an error that
//! lists the candidates and says how to pick one.
//!
//! # How the new value is written
//! - *Single-quoted* and *double-quoted* values stay so (`'` doubled; `\` and `"` escaped).
//! - A *plain* value stays plain unless plain could read back differently, in which case it is
//!   double-quoted (single-quoted if it holds `"` or `\`). That is when the value starts with a YAML
//!   indicator (`-?:,[]{}#&*!|>'"%@` and backtick; `-` only when a blank, a flow indicator in a flow
//!   collection or `--` follows, so that `--model=...` stays plain), ends with `:`, holds `: ` or ` #`, holds `,[]{}` inside
//!   a flow collection, or would resolve to something other than a string under YAML 1.2 or YAML 1.1 (as
//!   Kubernetes' decoder does): `null`, `~`, `true`/`false`/`yes`/`no`/`on`/`off`/`y`/`n` in any case,
//!   `<<`, `=`, and anything that starts like a number (a digit, a sign or `.` then a digit, `.inf`,
//!   `.nan`). The last rule over-approximates on purpose: quoting is always safe.
//! - A *literal* or *folded* block value (`|-`, `>-`) that reads as one line without a line break keeps
//!   its header, indentation and trailing blank lines; only the text of that line changes.
//! - The core string tag `!!str` (also written `!<tag:yaml.org,2002:str>`) stays: it says what a URI is
//!   anyway, and every YAML reader, Kubernetes' included, reads the value as the same string.
//! - What follows the value on its line (spaces, an inline comment) and everything else is kept.
//!
//! The proof compares what both parsers read after the edit with the URI asked for, exactly: a value
//! that would read as anything else (say, followed by a line break) is refused.
//!
//! # Refusals
//! Bytes that are not UTF-8, a carriage return not followed by a line feed, invalid YAML (including a
//! duplicate key on the way to a field), aliases that expand the text beyond
//! [`tree::ALIAS_EXPANSION_LIMIT`] (an alias bomb; refused by [`find_fields`] too, so by every
//! command), a URI value that is an alias (`*x`), carries an anchor (`&x`) or a tag other than `!!str`,
//! an empty value, a value written over several lines (plain or quoted), a block value of several
//! lines or one that keeps a line break after the URI (`|`, `>`, `|+`, `>+`), a new URI that is empty
//! or holds whitespace, control or invisible formatting characters, an unknown or ambiguous name, and
//! any edit the verify step rejects. Such values are refused also when the URI asked for is the one
//! they hold, so that the answer does not depend on the URI.
//!
//! # Speed
//! A file is cut into its documents at `---` lines ([`source`]) and only the documents that contain
//! `storageUri`, `modelUri` or `LLMInferenceService` are parsed; [`apply`] further skips documents that do not contain the
//! selected resource name (nor a `\`, behind which an escaped name could hide). A syntax error in a
//! document without a model URI is therefore not reported; that document's bytes are never changed.

pub mod any;
mod field;
pub mod kinds;
mod locate;
pub mod marker;
pub mod source;
pub mod splice;
pub mod template;
pub mod tree;
pub mod verify;
pub mod yaml_path;

pub use any::{AnyChange, AnyEdit, AnyEdited, apply_any, field_kind};
pub use field::{
    FieldChange, FieldEdit, FieldRef, FieldsEdited, MarkedField, ScalarField, apply_fields,
    find_markers, find_path,
};
pub use kinds::ResourceKind;
pub use template::{Template, TemplateError, TemplateValues};
pub use yaml_path::YamlPath;

use std::ops::Range;

/// How a scalar value is written in the YAML source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarStyle {
    /// `key: value`
    Plain,
    /// `key: 'value'`
    SingleQuoted,
    /// `key: "value"`
    DoubleQuoted,
    /// `key: |` followed by an indented block.
    Literal,
    /// `key: >` followed by an indented block.
    Folded,
}

/// One model URI field found in a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelField {
    /// The kind of resource that holds the field.
    pub kind: ResourceKind,
    /// The name `set` and the config take: `metadata.name`, or `NAME/COMPONENT` where one resource holds
    /// several URIs (a SeldonDeployment graph node, a KServe component).
    pub name: String,
    /// The resource's `metadata.name`.
    pub resource: String,
    /// The graph node or component, where the resource has several.
    pub component: Option<String>,
    /// 0-based index of the YAML document in the file.
    pub document: usize,
    /// 1-based line of the value.
    pub line: usize,
    /// Byte span of the value as written (quotes included).
    pub span: Range<usize>,
    /// The value, decoded: exactly the string a YAML parser reads (a block scalar keeps the line breaks
    /// its chomping indicator keeps; an alias reads `*name`).
    pub value: String,
    /// How the value is written.
    pub style: ScalarStyle,
    /// Where the field is, e.g. `spec.predictors[0].graph.children[1].modelUri`.
    pub path: String,
}

/// Which field an edit is for: a name as `set` takes it, optionally narrowed by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// `metadata.name` or `NAME/COMPONENT`.
    pub name: String,
    /// `Model`, `SeldonDeployment` or `InferenceService` (case-insensitive), where the name is ambiguous.
    pub kind: Option<String>,
}

/// One requested change: set the selected field to `uri`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// The field.
    pub selector: Selector,
    /// The new value.
    pub uri: String,
}

/// One value that an edit changed (or would leave as it is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The field, as found before the edit.
    pub field: ModelField,
    /// The value before.
    pub old: String,
    /// The value after.
    pub new: String,
}

/// The result of applying edits to one file's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edited {
    /// The new file content (equal to the input when nothing changed).
    pub bytes: Vec<u8>,
    /// One entry per edit, in the order of the edits.
    pub changes: Vec<Change>,
}

/// Why the editor refused. Positions are 1-based lines; the caller adds the file name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The file is not valid YAML.
    #[error("line {line}: invalid YAML: {message}")]
    InvalidYaml {
        /// Where the parser stopped.
        line: usize,
        /// The parser's message.
        message: String,
    },
    /// The file is not UTF-8.
    #[error("line {line}: not UTF-8 text (invalid byte at offset {offset})")]
    NotUtf8 {
        /// The line of the first invalid byte.
        line: usize,
        /// Its byte offset.
        offset: usize,
    },
    /// A line break is a lone CR, which YAML parsers and editors disagree about.
    #[error(
        "line {line}: lone carriage return (CR without LF) as a line break; convert the file to LF or CRLF line breaks"
    )]
    LoneCr {
        /// The line.
        line: usize,
    },
    /// The model URI is an alias or carries an anchor: editing it would change other places too.
    #[error(
        "line {line}: the model URI of {name} is {what}; write the URI out in place to let modelbump edit it"
    )]
    Alias {
        /// The line.
        line: usize,
        /// The target's name.
        name: String,
        /// `an alias (*x)` or `anchored (&x)`.
        what: String,
    },
    /// Aliases expand the text beyond [`tree::ALIAS_EXPANSION_LIMIT`]: an alias bomb ("billion laughs")
    /// that would exhaust the memory of any parser that loads it.
    #[error(
        "line {line}: the aliases here (*{alias} and those before it) expand this YAML to more than {limit_mib} MiB, \
         which no manifest needs and which would exhaust the memory of a YAML parser (an alias bomb); \
         write the repeated values out or use fewer nested aliases"
    )]
    AliasExpansion {
        /// The line of the alias that crossed the limit.
        line: usize,
        /// Its name.
        alias: String,
        /// The limit, in MiB.
        limit_mib: u64,
    },
    /// The new URI cannot be a model URI.
    #[error("invalid URI {uri:?}: {reason}")]
    InvalidUri {
        /// The URI as given (control characters escaped by `{:?}`).
        uri: String,
        /// Why.
        reason: String,
    },
    /// No field has that name.
    #[error("no model named {name:?}{kind}; the models in this file are: {available}", kind = kind.as_deref().map(|k| format!(" of kind {k}")).unwrap_or_default())]
    UnknownName {
        /// The name asked for.
        name: String,
        /// The kind asked for, if any.
        kind: Option<String>,
        /// The names that exist, comma-separated (or `none`).
        available: String,
    },
    /// Several fields match the name.
    #[error("{name:?} is ambiguous: {candidates}; {hint}")]
    Ambiguous {
        /// The name asked for.
        name: String,
        /// The candidates, with kind and line.
        candidates: String,
        /// How to pick one.
        hint: String,
    },
    /// The re-parse of the edited file did not match the original except at the edited values.
    #[error("line {line}: refusing the edit: {message}")]
    VerifyFailed {
        /// The line of the edited value.
        line: usize,
        /// What differed.
        message: String,
    },
    /// `--kind` (or a config `kind:`) names no kind the editor knows.
    #[error(
        "unknown kind {kind:?}; the kinds are Model, SeldonDeployment, InferenceService, TrainedModel and LLMInferenceService"
    )]
    UnknownKind {
        /// The kind as given.
        kind: String,
    },
    /// The field is there but its value cannot be edited in place.
    #[error("line {line}: cannot edit the model URI of {name}: {reason}")]
    Unsupported {
        /// The line of the value.
        line: usize,
        /// The target's name.
        name: String,
        /// Why, and what to do.
        reason: String,
    },
    /// A path target's path reaches no value in any document of the file.
    #[error("the path {path} matches nothing in this file: {reason}")]
    PathNotFound {
        /// The path as written.
        path: String,
        /// How far it got.
        reason: String,
    },
    /// A path target's path reaches more than one value.
    #[error(
        "the path {path} matches {count} values ({matches}); it must match one: select list items by a \
         key's value (`[name=...]`) or by index (`[0]`)"
    )]
    PathAmbiguous {
        /// The path as written.
        path: String,
        /// How many values.
        count: usize,
        /// Each value's line and concrete path.
        matches: String,
    },
    /// A path target's path (without `document:`) reaches values in several documents of the file.
    #[error(
        "the file has {documents} documents and the path {path} matches in {count} of them ({matches}); \
         it must match one: add `document: N` to the target (the document's index, counted from 0 like \
         `[N]`), or use a marker"
    )]
    PathInSeveralDocuments {
        /// The path as written.
        path: String,
        /// How many documents the file has.
        documents: usize,
        /// How many of them hold a match.
        count: usize,
        /// Each match's document, line and concrete path.
        matches: String,
    },
    /// A path target's `document:` is not a document of the file.
    #[error(
        "the target names document {document} (counted from 0), but the file has {documents} \
         document(s); fix `document:`"
    )]
    NoSuchDocument {
        /// The index asked for.
        document: usize,
        /// How many documents the file has.
        documents: usize,
    },
    /// A path target's path reaches a mapping or a sequence, not a value.
    #[error(
        "line {line}: the path {path} leads to {what}, not to a value; extend the path to the value"
    )]
    PathNotAValue {
        /// The line of the node.
        line: usize,
        /// The path as written.
        path: String,
        /// `a mapping` or `a sequence`.
        what: String,
    },
    /// A comment that starts like a marker is not one, or marks no single value.
    #[error("line {line}: {reason}")]
    BadMarker {
        /// The line of the comment.
        line: usize,
        /// Why, and what to write.
        reason: String,
    },
    /// No marker names the target.
    #[error(
        "no value is marked {{\"$modelbump\": {name:?}}} in this file; the markers here are: {available}"
    )]
    UnknownMarker {
        /// The target name asked for.
        name: String,
        /// The names of the markers in the file, comma-separated (or `none`).
        available: String,
    },
    /// The field holds something else than the template's form: never overwritten.
    #[error(
        "line {line}: {at} holds {current:?}, which does not have the form of its template {template:?}, \
         so modelbump will not replace it with {new:?}; fix the value or the template"
    )]
    TemplateMismatch {
        /// The line of the value.
        line: usize,
        /// How the field was selected (`path ...`, `marker ...`).
        at: String,
        /// The template.
        template: String,
        /// The value in the file.
        current: String,
        /// The value that would have been written.
        new: String,
    },
    /// Two edits select the same field with different URIs.
    #[error("line {line}: {name} is selected by two edits, with {first:?} and {second:?}")]
    Conflict {
        /// The line of the value.
        line: usize,
        /// The target's name.
        name: String,
        /// The first URI.
        first: String,
        /// The second URI.
        second: String,
    },
}

impl EditError {
    /// The 1-based line the error is about, where there is one.
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::InvalidYaml { line, .. }
            | Self::NotUtf8 { line, .. }
            | Self::LoneCr { line }
            | Self::Alias { line, .. }
            | Self::AliasExpansion { line, .. }
            | Self::VerifyFailed { line, .. }
            | Self::Unsupported { line, .. }
            | Self::PathNotAValue { line, .. }
            | Self::BadMarker { line, .. }
            | Self::TemplateMismatch { line, .. }
            | Self::Conflict { line, .. } => Some(*line),
            Self::InvalidUri { .. }
            | Self::UnknownName { .. }
            | Self::Ambiguous { .. }
            | Self::UnknownKind { .. }
            | Self::PathNotFound { .. }
            | Self::PathAmbiguous { .. }
            | Self::PathInSeveralDocuments { .. }
            | Self::NoSuchDocument { .. }
            | Self::UnknownMarker { .. } => None,
        }
    }
}

/// Every model URI field in a file's bytes, in file order.
///
/// Fails on what makes the file unreadable (not UTF-8, a lone CR, invalid YAML or an alias bomb in a
/// document that holds `storageUri` or `modelUri`).
pub fn find_fields(bytes: &[u8]) -> Result<Vec<ModelField>, EditError> {
    let text = source::check(bytes)?;
    let found = locate::locate(text, &locate::Only::All)?;
    Ok(found.fields.into_iter().map(|l| l.field).collect())
}

/// The one field a selector picks: an error when none or several match (see the module doc, *Names*).
pub fn select<'f>(
    fields: &'f [ModelField],
    selector: &Selector,
) -> Result<&'f ModelField, EditError> {
    select_index(fields.iter(), selector).map(|i| &fields[i])
}

fn select_index<'f>(
    fields: impl Iterator<Item = &'f ModelField> + Clone,
    selector: &Selector,
) -> Result<usize, EditError> {
    let kind = match &selector.kind {
        Some(k) => {
            Some(ResourceKind::parse(k).ok_or_else(|| EditError::UnknownKind { kind: k.clone() })?)
        }
        None => None,
    };
    let matches: Vec<(usize, &ModelField)> = fields
        .clone()
        .enumerate()
        .filter(|(_, f)| kind.is_none_or(|k| f.kind == k) && locate::answers_to(f, &selector.name))
        .collect();
    match matches.as_slice() {
        [(i, _)] => Ok(*i),
        [] => {
            let mut available: Vec<String> = Vec::new();
            for f in fields {
                let entry = format!("{} ({}, line {})", f.name, f.kind, f.line);
                if !available.contains(&entry) {
                    available.push(entry);
                }
            }
            Err(EditError::UnknownName {
                name: selector.name.clone(),
                kind: kind.map(|k| k.as_str().to_string()),
                available: if available.is_empty() {
                    "none".into()
                } else {
                    available.join(", ")
                },
            })
        }
        many => {
            let candidates = many
                .iter()
                .map(|(_, f)| format!("{} {} (line {})", f.kind, f.name, f.line))
                .collect::<Vec<_>>()
                .join(", ");
            let mut kinds: Vec<ResourceKind> = many.iter().map(|(_, f)| f.kind).collect();
            kinds.sort();
            kinds.dedup();
            let mut names: Vec<&str> = many.iter().map(|(_, f)| f.name.as_str()).collect();
            names.sort();
            names.dedup();
            let hint = if kinds.len() > 1 {
                format!(
                    "pick one with --kind {} (or `kind:` in the config)",
                    kinds
                        .iter()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join("|")
                )
            } else if names.len() > 1 {
                format!("name one of them: {}", names.join(", "))
            } else {
                format!(
                    "several {} resources in this file have that name and modelbump cannot tell them apart; \
                     give them distinct names or put them in separate files",
                    kinds[0]
                )
            };
            Err(EditError::Ambiguous {
                name: selector.name.clone(),
                candidates,
                hint,
            })
        }
    }
}

/// Applies all `edits` to one file's bytes in one pass (see the module doc for the rules).
///
/// `Edited::changes` has one entry per edit, in order, also where the value is already the wanted one
/// (`old == new`). Nothing is returned but a verified result or an error.
pub fn apply(bytes: &[u8], edits: &[Edit]) -> Result<Edited, EditError> {
    let text = source::check(bytes)?;
    for edit in edits {
        splice::check_uri(&edit.uri)?;
    }
    // Only the documents that mention a selected resource need parsing; the names are DNS labels, so
    // only an escape sequence (`\`) could hide one.
    let names: Vec<&[u8]> = edits
        .iter()
        .map(|e| {
            e.selector
                .name
                .split('/')
                .next()
                .unwrap_or_default()
                .as_bytes()
        })
        .collect();
    let mut found = locate::locate(text, &locate::Only::Mentioning(&names))?;
    let mut chosen = match choose(&found.fields, edits) {
        Ok(chosen) => chosen,
        Err(_) => {
            // Name every field in the error (or find a name the shortcut missed).
            found = locate::locate(text, &locate::Only::All)?;
            choose(&found.fields, edits)?
        }
    };

    // One splice per distinct field; the same field twice must want the same URI.
    let mut planned: Vec<Planned<'_>> = Vec::new();
    let mut seen: Vec<(usize, &str)> = Vec::new();
    for (edit, &i) in edits.iter().zip(&chosen) {
        let located = &found.fields[i];
        let field = &located.field;
        if let Some((_, first)) = seen.iter().find(|(j, _)| *j == i) {
            if *first != edit.uri {
                return Err(EditError::Conflict {
                    line: field.line,
                    name: field.name.clone(),
                    first: first.to_string(),
                    second: edit.uri.clone(),
                });
            }
            continue;
        }
        seen.push((i, &edit.uri));
        check_editable(&located.editable(text))?;
        if field.value == edit.uri {
            continue;
        }
        let piece = &found.pieces[located.piece];
        let body = &text[piece.range.clone()];
        let local = field.span.start - piece.range.start..field.span.end - piece.range.start;
        let s = splice::splice(
            body,
            local,
            field.style,
            &field.value,
            located.in_flow,
            &edit.uri,
        )
        .map_err(|refusal| unsupported(&located.editable(text), refusal))?;
        planned.push(Planned {
            piece: located.piece,
            document: field.document,
            segs: &located.segs,
            old: &field.value,
            new: &edit.uri,
            line: field.line,
            splice: s,
        });
    }

    let output = if planned.is_empty() {
        bytes.to_vec()
    } else {
        rebuild(text, &found.pieces, &mut planned)?.into_bytes()
    };
    let changes = edits
        .iter()
        .zip(chosen.iter_mut())
        .map(|(edit, &mut i)| Change {
            field: found.fields[i].field.clone(),
            old: found.fields[i].field.value.clone(),
            new: edit.uri.clone(),
        })
        .collect();
    Ok(Edited {
        bytes: output,
        changes,
    })
}

/// The field index each edit selects.
fn choose(fields: &[locate::Located], edits: &[Edit]) -> Result<Vec<usize>, EditError> {
    edits
        .iter()
        .map(|e| select_index(fields.iter().map(|l| &l.field), &e.selector))
        .collect()
}

/// What the checks on a value before an edit need to know about it.
pub(crate) struct Editable<'x> {
    /// The target's name, or how the field was selected, for messages.
    pub name: &'x str,
    /// The line of the value.
    pub line: usize,
    /// The alias, when the value is `*name`.
    pub alias: Option<&'x str>,
    /// The anchor on the value.
    pub anchor: Option<&'x str>,
    /// The tag on the value.
    pub tag: Option<&'x tree::TagInfo>,
    /// The value as written.
    pub written: &'x str,
    /// Its style.
    pub style: ScalarStyle,
    /// The value, decoded.
    pub value: &'x str,
    /// The key the value is under, for the hint (`storageUri`).
    pub key: &'x str,
}

impl locate::Located {
    fn editable<'x>(&'x self, text: &'x str) -> Editable<'x> {
        let field = &self.field;
        Editable {
            name: &field.name,
            line: field.line,
            alias: self.alias.as_deref(),
            anchor: self.anchor.as_deref(),
            tag: self.tag.as_ref(),
            written: &text[field.span.clone()],
            style: field.style,
            value: &field.value,
            key: field.path.rsplit('.').next().unwrap_or("storageUri"),
        }
    }
}

/// Refuses values that cannot be edited in place: aliases, anchored values, tags other than `!!str`,
/// and values that are not one line (see [`splice::editable`]). Checked also when the value already
/// is the wanted one, so that the answer does not depend on the URI.
pub(crate) fn check_editable(v: &Editable<'_>) -> Result<(), EditError> {
    if let Some(alias) = v.alias {
        return Err(EditError::Alias {
            line: v.line,
            name: v.name.to_string(),
            what: format!("an alias (*{alias})"),
        });
    }
    if let Some(anchor) = v.anchor {
        return Err(EditError::Alias {
            line: v.line,
            name: v.name.to_string(),
            what: format!("anchored (&{anchor})"),
        });
    }
    if let Some(tag) = v.tag.filter(|t| !t.is_core_str) {
        return Err(EditError::Unsupported {
            line: v.line,
            name: v.name.to_string(),
            reason: format!(
                "the value carries the tag {}; remove it or make it !!str",
                tag.written
            ),
        });
    }
    splice::editable(v.written, v.style, v.value).map_err(|refusal| unsupported(v, refusal))
}

/// The error for a value the splice cannot replace, saying what to write instead.
pub(crate) fn unsupported(v: &Editable<'_>, refusal: splice::SpliceRefusal) -> EditError {
    let one_line = format!("write the URI on the key's line (`{}: s3://...`)", v.key);
    EditError::Unsupported {
        line: v.line,
        name: v.name.to_string(),
        reason: match refusal {
            splice::SpliceRefusal::Empty => {
                "the value is empty; write a placeholder URI there first".into()
            }
            splice::SpliceRefusal::MultiLine => {
                format!("the value is written over several lines; {one_line}")
            }
            splice::SpliceRefusal::MultiLineBlock => {
                format!("the value is a block scalar of several lines; {one_line}")
            }
            splice::SpliceRefusal::BlockLineBreak => format!(
                "the value is a block scalar (`|` or `>`) that keeps a line break after the URI, so \
                 YAML reads the URI followed by a line break; {one_line}, or strip the line break with `|-`"
            ),
        },
    }
}

/// One value an edit rewrites, with what the proof needs about it.
#[derive(Debug, Clone)]
pub(crate) struct Planned<'p> {
    /// The piece it is in.
    pub piece: usize,
    /// Its document (absolute).
    pub document: usize,
    /// Where it is, from the document's root.
    pub segs: &'p [tree::Seg],
    /// The value before, as the locating parser decoded it.
    pub old: &'p str,
    /// The value it must read as after the edit (not what the splice meant to write).
    pub new: &'p str,
    /// Its line (absolute).
    pub line: usize,
    /// What to write.
    pub splice: splice::Splice,
}

/// Writes the splices piece by piece, verifying each edited piece, and checks that the edited file cuts
/// into the same pieces.
pub(crate) fn rebuild(
    text: &str,
    pieces: &[source::Piece],
    planned: &mut [Planned<'_>],
) -> Result<String, EditError> {
    planned.sort_by_key(|p| p.splice.range.start);
    let mut out = String::with_capacity(text.len() + 64);
    for (p, piece) in pieces.iter().enumerate() {
        let body = &text[piece.range.clone()];
        let mine: Vec<&Planned<'_>> = planned.iter().filter(|e| e.piece == p).collect();
        if mine.is_empty() {
            out.push_str(body);
            continue;
        }
        let mut new_body = String::with_capacity(body.len() + 64);
        let mut at = 0;
        for e in &mine {
            new_body.push_str(&body[at..e.splice.range.start]);
            new_body.push_str(&e.splice.text);
            at = e.splice.range.end;
        }
        new_body.push_str(&body[at..]);

        // The locating parser first: it also refuses an alias bomb before the verifying parser,
        // which expands aliases, loads the text.
        relocate(body, &new_body, piece, p, &mine)?;
        // Each edited value must read back as exactly the value asked for, not as what the splice
        // meant to write.
        let expected: Vec<verify::Expected<'_>> = mine
            .iter()
            .map(|e| verify::Expected {
                document: e.document - piece.first_document,
                path: e.segs,
                old: e.old,
                new: e.new,
                line: e.line,
            })
            .collect();
        verify::verify(body, &new_body, &expected, piece.lines_before)?;
        out.push_str(&new_body);
    }
    let first_line = planned[0].line;
    let cut_before = pieces.len();
    let cut_after = if pieces.iter().any(|p| p.whole) {
        1
    } else {
        source::split(&out).len()
    };
    if cut_before != cut_after {
        return Err(EditError::VerifyFailed {
            line: first_line,
            message: "the edit would move a document boundary".into(),
        });
    }
    Ok(out)
}

/// The locating parser must find the edited values where they were, with the new values and the same
/// tags, and the same model URI fields of the known kinds, unchanged unless edited.
fn relocate(
    body: &str,
    new_body: &str,
    piece: &source::Piece,
    p: usize,
    mine: &[&Planned<'_>],
) -> Result<(), EditError> {
    let line = mine[0].line;
    let fail = |message: String| EditError::VerifyFailed { line, message };
    let before = locate::fields_of_piece(body, piece, p)?.unwrap_or_default();
    let after = locate::fields_of_piece(new_body, piece, p)
        .map_err(|e| fail(format!("the edited text does not parse: {e}")))?
        .ok_or_else(|| fail("the edit changes the documents of the file".into()))?;
    if before.len() != after.len() {
        return Err(fail(
            "the edit changes which model URI fields the file has".into(),
        ));
    }
    for (b, a) in before.iter().zip(&after) {
        // The same field, with the same tag (a kept `!!str` stays `!!str`).
        let same_place = b.field.name == a.field.name
            && b.field.kind == a.field.kind
            && b.field.document == a.field.document
            && b.field.path == a.field.path
            && b.tag == a.tag;
        let edited = mine
            .iter()
            .find(|e| e.document == b.field.document && e.segs == b.segs.as_slice());
        let want = edited.map_or(b.field.value.as_str(), |e| e.new);
        if !same_place || a.field.value != want {
            return Err(fail(format!(
                "after the edit, {} at {} reads {:?} instead of {:?}",
                a.field.name, a.field.path, a.field.value, want
            )));
        }
    }
    // Every edited value, wherever it is (a known field or not).
    let old_docs = tree::parse(body)?;
    let new_docs =
        tree::parse(new_body).map_err(|e| fail(format!("the edited text does not parse: {e}")))?;
    if old_docs.len() != new_docs.len() {
        return Err(fail("the edit changes the documents of the file".into()));
    }
    for e in mine {
        let d = e.document - piece.first_document;
        let scalar = |docs: &[tree::Document<'_>]| {
            docs.get(d)
                .and_then(|doc| doc.root.as_ref())
                .and_then(|root| tree::navigate(root, e.segs))
                .and_then(|node| match &node.kind {
                    tree::NodeKind::Scalar { value, tag, .. } => {
                        Some((value.to_string(), tag.clone(), node.anchor.clone()))
                    }
                    _ => None,
                })
        };
        let (Some((_, old_tag, _)), Some((value, new_tag, anchor))) =
            (scalar(&old_docs), scalar(&new_docs))
        else {
            return Err(fail(format!(
                "after the edit, the value at {} is no longer a scalar",
                tree::path_string(e.segs)
            )));
        };
        if value != e.new || old_tag != new_tag || anchor.is_some() {
            return Err(fail(format!(
                "after the edit, the value at {} reads {value:?} instead of {:?}",
                tree::path_string(e.segs),
                e.new
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const AB_TEST: &str = "\
---
apiVersion: mlops.seldon.io/v1alpha1
kind: Model
metadata:
  name: baseline-predictor
spec:
  storageUri: s3://mlflow-artifacts/29/models/m-1/artifacts/ # pinned by hand
  requirements:
  - mlflow

---
apiVersion: mlops.seldon.io/v1alpha1
kind: Model
metadata:
  name: baseline-predictor-v2
spec:
  storageUri: \"s3://mlflow-artifacts/29/models/m-2/artifacts/\"
";

    fn edit(name: &str, uri: &str) -> Edit {
        Edit {
            selector: Selector {
                name: name.into(),
                kind: None,
            },
            uri: uri.into(),
        }
    }

    fn edit_kind(name: &str, kind: &str, uri: &str) -> Edit {
        Edit {
            selector: Selector {
                name: name.into(),
                kind: Some(kind.into()),
            },
            uri: uri.into(),
        }
    }

    /// The output must be the input with exactly the given span replaced.
    fn assert_only(input: &str, output: &[u8], span: Range<usize>, with: &str) {
        let mut want = input.as_bytes()[..span.start].to_vec();
        want.extend_from_slice(with.as_bytes());
        want.extend_from_slice(&input.as_bytes()[span.end..]);
        assert_eq!(
            String::from_utf8_lossy(output),
            String::from_utf8_lossy(&want)
        );
    }

    #[test]
    fn finds_fields_with_lines_spans_and_documents() {
        let fields = find_fields(AB_TEST.as_bytes()).unwrap();
        assert_eq!(fields.len(), 2);
        assert_eq!(fields[0].name, "baseline-predictor");
        assert_eq!(fields[0].line, 7);
        assert_eq!(fields[0].document, 0);
        assert_eq!(fields[0].style, ScalarStyle::Plain);
        assert_eq!(
            &AB_TEST[fields[0].span.clone()],
            "s3://mlflow-artifacts/29/models/m-1/artifacts/"
        );
        assert_eq!(fields[1].name, "baseline-predictor-v2");
        assert_eq!(fields[1].document, 1);
        assert_eq!(fields[1].line, 17);
        assert_eq!(fields[1].style, ScalarStyle::DoubleQuoted);
        assert_eq!(fields[1].path, "spec.storageUri");
    }

    #[test]
    fn a_name_never_matches_a_longer_name() {
        let out = apply(
            AB_TEST.as_bytes(),
            &[edit("baseline-predictor", "s3://new/")],
        )
        .unwrap();
        let field = &find_fields(AB_TEST.as_bytes()).unwrap()[0];
        assert_only(AB_TEST, &out.bytes, field.span.clone(), "s3://new/");
        assert_eq!(out.changes.len(), 1);
        assert_eq!(
            out.changes[0].old,
            "s3://mlflow-artifacts/29/models/m-1/artifacts/"
        );
        assert_eq!(out.changes[0].new, "s3://new/");
    }

    #[test]
    fn several_edits_in_one_pass_and_unchanged_values_are_reported() {
        let edits = [
            edit("baseline-predictor-v2", "gs://b/ü"),
            edit(
                "baseline-predictor",
                "s3://mlflow-artifacts/29/models/m-1/artifacts/",
            ),
        ];
        let out = apply(AB_TEST.as_bytes(), &edits).unwrap();
        let want = AB_TEST.replace(
            "\"s3://mlflow-artifacts/29/models/m-2/artifacts/\"",
            "\"gs://b/ü\"",
        );
        assert_eq!(String::from_utf8(out.bytes).unwrap(), want);
        assert_eq!(out.changes.len(), 2);
        assert_eq!(out.changes[1].old, out.changes[1].new);
        assert_eq!(out.changes[0].field.name, "baseline-predictor-v2");
    }

    #[test]
    fn keeps_crlf_bom_comments_and_a_missing_final_newline() {
        let input = "\u{feff}apiVersion: mlops.seldon.io/v1alpha1\r\nkind: Model\r\nmetadata:\r\n  name: m\r\nspec:\r\n  storageUri: 's3://a'   # keep\r\n  server: mlserver";
        let out = apply(input.as_bytes(), &[edit("m", "s3://it's")]).unwrap();
        assert_eq!(
            String::from_utf8(out.bytes).unwrap(),
            input.replace("'s3://a'", "'s3://it''s'")
        );
    }

    #[test]
    fn plain_values_are_quoted_where_plain_would_not_read_back() {
        let input = "kind: Model\nmetadata: {name: m}\nspec:\n  storageUri: s3://a\n";
        let out = apply(input.as_bytes(), &[edit("m", "true")]).unwrap();
        assert_eq!(
            String::from_utf8(out.bytes).unwrap(),
            input.replace("s3://a", "\"true\"")
        );
        let flow = "kind: Model\nmetadata: {name: m}\nspec: {storageUri: s3://a, server: x}\n";
        let out = apply(flow.as_bytes(), &[edit("m", "s3://a,b")]).unwrap();
        assert_eq!(
            String::from_utf8(out.bytes).unwrap(),
            flow.replace("s3://a,", "\"s3://a,b\",")
        );
    }

    #[test]
    fn block_scalars_keep_their_style() {
        let input =
            "kind: Model\nmetadata:\n  name: m\nspec:\n  storageUri: >-\n    s3://a\n  server: x\n";
        let out = apply(input.as_bytes(), &[edit("m", "s3://b")]).unwrap();
        assert_eq!(
            String::from_utf8(out.bytes).unwrap(),
            input.replace("s3://a", "s3://b")
        );
    }

    const SDEP: &str = "\
apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata:
  name: iris
spec:
  predictors:
  - name: main
    graph:
      name: router
      modelUri: gs://models/router
      children:
      - name: classifier
        modelUri: gs://models/classifier # the model
        children: []
";

    #[test]
    fn seldon_graph_nodes_are_named_and_found_through_children() {
        let fields = find_fields(SDEP.as_bytes()).unwrap();
        let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["iris/router", "iris/classifier"]);
        assert_eq!(
            fields[1].path,
            "spec.predictors[0].graph.children[0].modelUri"
        );
        let out = apply(
            SDEP.as_bytes(),
            &[edit("iris/classifier", "gs://models/v2")],
        )
        .unwrap();
        assert_only(SDEP, &out.bytes, fields[1].span.clone(), "gs://models/v2");
        let err = apply(SDEP.as_bytes(), &[edit("iris", "gs://x")]).unwrap_err();
        let EditError::Ambiguous {
            candidates, hint, ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert!(candidates.contains("iris/router (line 10)"), "{candidates}");
        assert!(hint.contains("iris/classifier"), "{hint}");
    }

    #[test]
    fn repeated_graph_node_names_get_the_predictor() {
        let input = "\
kind: SeldonDeployment
metadata: {name: d}
spec:
  predictors:
    - graph: {name: wines, modelUri: gs://a}
      name: a
    - graph: {name: wines, modelUri: gs://b}
      name: b
";
        let fields = find_fields(input.as_bytes()).unwrap();
        let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["d/a/wines", "d/b/wines"]);
        assert!(matches!(
            apply(input.as_bytes(), &[edit("d/wines", "gs://c")]),
            Err(EditError::Ambiguous { .. })
        ));
        let out = apply(input.as_bytes(), &[edit("d/b/wines", "gs://c")]).unwrap();
        assert_eq!(
            String::from_utf8(out.bytes).unwrap(),
            input.replace("gs://b", "gs://c")
        );
    }

    const ISVC: &str = "\
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: churn
spec:
  predictor:
    model:
      modelFormat: {name: sklearn}
      storageUri: \"s3://models/churn\"
  transformer:
    containers:
    - image: t
  explainer:
    alibi:
      storageUri: s3://models/explainer
";

    #[test]
    fn kserve_components_and_legacy_framework_shapes() {
        let fields = find_fields(ISVC.as_bytes()).unwrap();
        let names: Vec<(&str, &str)> = fields
            .iter()
            .map(|f| (f.name.as_str(), f.path.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("churn/predictor", "spec.predictor.model.storageUri"),
                ("churn/explainer", "spec.explainer.alibi.storageUri")
            ]
        );
        let out = apply(
            ISVC.as_bytes(),
            &[edit_kind("churn/predictor", "inferenceservice", "s3://m/2")],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out.bytes).unwrap(),
            ISVC.replace("s3://models/churn", "s3://m/2")
        );
    }

    #[test]
    fn the_same_name_in_two_kinds_is_ambiguous_until_a_kind_is_given() {
        let input = format!(
            "{}---\n{}",
            AB_TEST.replace("baseline-predictor-v2", "other"),
            ISVC.replace("churn", "baseline-predictor")
        );
        let err = apply(input.as_bytes(), &[edit("baseline-predictor", "s3://x")]).unwrap_err();
        let EditError::Ambiguous {
            hint, candidates, ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert!(hint.contains("--kind"), "{hint}");
        assert!(
            candidates.contains("Model baseline-predictor (line 7)"),
            "{candidates}"
        );
        let out = apply(
            input.as_bytes(),
            &[edit_kind("baseline-predictor", "Model", "s3://x")],
        )
        .unwrap();
        assert_eq!(out.changes[0].field.kind, ResourceKind::SeldonModel);
        assert!(matches!(
            apply(
                input.as_bytes(),
                &[edit_kind("baseline-predictor", "Pod", "s3://x")]
            ),
            Err(EditError::UnknownKind { .. })
        ));
    }

    #[test]
    fn unknown_names_list_what_exists() {
        let err = apply(AB_TEST.as_bytes(), &[edit("baseline", "s3://x")]).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(
                "baseline-predictor (Model, line 7), baseline-predictor-v2 (Model, line 17)"
            ),
            "{msg}"
        );
    }

    #[test]
    fn lists_other_kinds_and_non_mapping_documents_are_skipped() {
        let input = "\
- a
- b
---
just text
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: c}
  data: {storageUri: s3://not-a-target}
- apiVersion: mlops.seldon.io/v1alpha1
  kind: Model
  metadata: {name: in-list}
  spec:
    storageUri: s3://a
---
apiVersion: mlops.seldon.io/v1alpha1
kind: Model
metadata: {name: no-uri, annotations: {x: '{{ .Values.x }}'}}
spec: {server: x}
";
        let fields = find_fields(input.as_bytes()).unwrap();
        assert_eq!(fields.len(), 1);
        assert_eq!(fields[0].name, "in-list");
        assert_eq!(fields[0].document, 2);
        assert_eq!(fields[0].path, "items[1].spec.storageUri");
        let out = apply(input.as_bytes(), &[edit("in-list", "s3://b")]).unwrap();
        assert_eq!(
            String::from_utf8(out.bytes).unwrap(),
            input.replace("s3://a", "s3://b")
        );
    }

    #[test]
    fn refusals() {
        let model =
            |uri: &str| format!("kind: Model\nmetadata:\n  name: m\nspec:\n  storageUri: {uri}\n");
        let cases: Vec<(String, Edit, &str)> = vec![
            (model("&u s3://a"), edit("m", "s3://b"), "anchored (&u)"),
            (
                format!("x: &u s3://a\n{}", model("*u")),
                edit("m", "s3://b"),
                "an alias (*u)",
            ),
            (model("!custom s3://a"), edit("m", "s3://b"), "tag"),
            (model(""), edit("m", "s3://b"), "empty"),
            (
                model("|\n    s3://a\n    s3://b"),
                edit("m", "s3://b"),
                "several lines",
            ),
            (
                model("|\n    s3://a"),
                edit("m", "s3://b"),
                "keeps a line break after the URI",
            ),
            (
                model(">+\n    s3://a\n\n"),
                edit("m", "s3://b"),
                "keeps a line break after the URI",
            ),
            (
                model("s3://a\n    /b"),
                edit("m", "s3://b"),
                "written over several lines",
            ),
            (
                format!(
                    "%TAG !! tag:example.com,2000:\n---\n{}",
                    model("!!str s3://a")
                ),
                edit("m", "s3://b"),
                "the tag tag:example.com,2000:str",
            ),
            (model("s3://a"), edit("m", "s3://a b"), "whitespace"),
            (model("s3://a"), edit("m", "s3://a\nb"), "line break"),
            (
                model("s3://a") + "spec: 2\n",
                edit("m", "s3://b"),
                "duplicate key",
            ),
            (model("[s3://a"), edit("m", "s3://b"), "invalid YAML"),
        ];
        for (input, e, want) in cases {
            let err = apply(input.as_bytes(), std::slice::from_ref(&e)).unwrap_err();
            assert!(err.to_string().contains(want), "{input:?}: {err}");
        }
        let input = model("s3://a");
        let err = apply(
            input.as_bytes(),
            &[edit("m", "s3://b"), edit("m", "s3://c")],
        )
        .unwrap_err();
        assert!(
            matches!(err, EditError::Conflict { line: 5, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn a_block_scalar_value_is_exactly_what_yaml_reads() {
        let input = "kind: Model\nmetadata:\n  name: m\nspec:\n  storageUri: |+\n    s3://a\n\n";
        let fields = find_fields(input.as_bytes()).unwrap();
        assert_eq!(fields[0].value, "s3://a\n\n");
        // Not "unchanged": the value is not the URI.
        let err = apply(input.as_bytes(), &[edit("m", "s3://a")]).unwrap_err();
        assert!(
            matches!(err, EditError::Unsupported { line: 6, .. }),
            "{err}"
        );
    }

    #[test]
    fn the_core_string_tag_is_kept_and_proven() {
        for tag in ["!!str", "!<tag:yaml.org,2002:str>"] {
            let input =
                format!("kind: Model\nmetadata:\n  name: m\nspec:\n  storageUri: {tag} s3://a\n");
            let out = apply(input.as_bytes(), &[edit("m", "true")]).unwrap();
            assert_eq!(
                String::from_utf8(out.bytes).unwrap(),
                input.replace("s3://a", "\"true\"")
            );
        }
    }

    #[test]
    fn big_files_are_cut_but_every_document_counts() {
        let mut input = String::new();
        for i in 0..50 {
            input.push_str(&format!(
                "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\n"
            ));
            input.push_str(&format!("---\napiVersion: mlops.seldon.io/v1alpha1\nkind: Model\nmetadata:\n  name: m{i}\nspec:\n  storageUri: s3://m/{i}\n"));
        }
        let fields = find_fields(input.as_bytes()).unwrap();
        assert_eq!(fields.len(), 50);
        assert_eq!(fields[49].document, 99);
        assert_eq!(
            fields[49].line,
            input
                .lines()
                .position(|l| l == "  storageUri: s3://m/49")
                .unwrap()
                + 1
        );
        let out = apply(input.as_bytes(), &[edit("m4", "s3://new")]).unwrap();
        assert_eq!(
            String::from_utf8(out.bytes).unwrap(),
            input.replace("s3://m/4\n", "s3://new\n")
        );
        assert_eq!(out.changes[0].field.document, 9);
    }
}
