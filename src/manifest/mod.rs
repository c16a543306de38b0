//! The manifest editor: finds the model URI fields of Seldon Core and KServe resources in YAML bytes and
//! replaces the bytes of their values, and nothing else.
//!
//! This is the core promise of modelbump: comments, key order, quoting, indentation, blank lines, `---`
//! markers, CRLF line breaks and a missing final newline all stay as they were. The editor is pure (bytes
//! in, bytes out): no file system, no network, no git, so that it can be tested exhaustively and fuzzed.
//!
//! An edit is made in three steps: *locate* the exact byte span of each value with one YAML parser,
//! *splice* the new value in the value's own style, then *verify* the result with a second, independent
//! parser: the re-parsed tree must equal the original one except at the edited values. Anything else is
//! refused, so one parser's bug cannot silently corrupt a file.
//!
//! (Interface only: the implementation lands with the editor.)

pub mod kinds;

pub use kinds::ResourceKind;

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
    /// The value, decoded.
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
}
