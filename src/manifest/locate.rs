//! Finding the model URI fields of a file: which pieces to parse, and the names `set` and the config
//! use for each field.

use std::collections::HashMap;

use super::kinds::{self, RawField};
use super::source::{self, Piece};
use super::tree::{self, Seg, TagInfo};
use super::{EditError, ModelField};

/// A field with what the editor needs beyond the public [`ModelField`].
#[derive(Debug, Clone)]
pub(super) struct Located {
    /// The public description.
    pub field: ModelField,
    /// The path from the document's root.
    pub segs: Vec<Seg>,
    /// The node's anchor, if any.
    pub anchor: Option<String>,
    /// The alias, when the value is `*name`.
    pub alias: Option<String>,
    /// The tag, when the value has one.
    pub tag: Option<TagInfo>,
    /// Whether the value sits inside a flow collection.
    pub in_flow: bool,
    /// The index of the piece it was found in.
    pub piece: usize,
}

/// The fields of one file.
#[derive(Debug, Clone)]
pub(super) struct Found {
    /// The pieces the file was cut into (see [`source::split`]).
    pub pieces: Vec<Piece>,
    /// The fields, in file order.
    pub fields: Vec<Located>,
}

/// Which pieces to parse beyond those that mention `storageUri` or `modelUri`.
pub(super) enum Only<'n> {
    /// Every piece that can hold a field.
    All,
    /// Only pieces that also contain one of these names, or a backslash (behind which an escape sequence
    /// could hide a name).
    Mentioning(&'n [&'n [u8]]),
}

/// Finds the fields of the pieces of `text` that can hold one (see [`Only`]). When the pieces disagree
/// with the parser about where documents are, the whole file is parsed as one piece instead.
pub(super) fn locate(text: &str, only: &Only<'_>) -> Result<Found, EditError> {
    let pieces = source::split(text);
    match locate_in(text, &pieces, only)? {
        Some(fields) => Ok(Found { pieces, fields }),
        None => {
            let pieces = vec![source::whole(text)];
            let fields = locate_in(text, &pieces, only)?.unwrap_or_default();
            Ok(Found { pieces, fields })
        }
    }
}

/// `None` when a piece did not hold the number of documents the cut expected.
fn locate_in(
    text: &str,
    pieces: &[Piece],
    only: &Only<'_>,
) -> Result<Option<Vec<Located>>, EditError> {
    let mut wanted = source::pieces_holding_targets(text, pieces);
    if let Only::Mentioning(names) = only
        && !names.iter().any(|n| n.is_empty())
    {
        let mut mentions = source::pieces_containing(text, pieces, b"\\");
        for name in *names {
            for (m, hit) in mentions
                .iter_mut()
                .zip(source::pieces_containing(text, pieces, name))
            {
                *m |= hit;
            }
        }
        for (w, m) in wanted.iter_mut().zip(mentions) {
            *w &= m;
        }
    }
    let mut out = Vec::new();
    for (index, piece) in pieces.iter().enumerate() {
        if !wanted[index] {
            continue;
        }
        let body = &text[piece.range.clone()];
        match fields_of_piece(body, piece, index)? {
            Some(fields) => out.extend(fields),
            None => return Ok(None),
        }
    }
    Ok(Some(out))
}

/// The fields of one piece, with spans, lines and document numbers made absolute.
pub(super) fn fields_of_piece(
    body: &str,
    piece: &Piece,
    index: usize,
) -> Result<Option<Vec<Located>>, EditError> {
    let docs = tree::parse(body).map_err(|e| shift(e, piece.lines_before))?;
    if !piece.whole && docs.len() != usize::from(piece.has_document) {
        return Ok(None);
    }
    let mut out = Vec::new();
    for (d, doc) in docs.iter().enumerate() {
        let Some(root) = &doc.root else { continue };
        let raw = kinds::fields_of_document(root).map_err(|e| shift(e, piece.lines_before))?;
        out.extend(
            name_fields(&raw)
                .into_iter()
                .zip(raw.iter())
                .map(|(name, f)| {
                    // kinds yields only scalars and aliases.
                    let (decoded, style, tag, alias) = f.node.value_parts();
                    let start = piece.range.start;
                    Located {
                        field: ModelField {
                            kind: f.kind,
                            name,
                            resource: f.resource.clone(),
                            component: f.component.clone(),
                            document: piece.first_document + d,
                            line: piece.lines_before + f.node.line,
                            span: f.node.span.start + start..f.node.span.end + start,
                            value: decoded,
                            style,
                            path: tree::path_string(&f.path),
                        },
                        segs: f.path.clone(),
                        anchor: f.node.anchor.clone(),
                        alias,
                        tag,
                        in_flow: f.node.in_flow,
                        piece: index,
                    }
                }),
        );
    }
    Ok(Some(out))
}

/// Makes the line of a parse error absolute (`lines` lines before the piece).
pub(crate) fn shift(e: EditError, lines: usize) -> EditError {
    match e {
        EditError::InvalidYaml { line, message } => EditError::InvalidYaml {
            line: line + lines,
            message,
        },
        EditError::AliasExpansion {
            line,
            alias,
            limit_mib,
        } => EditError::AliasExpansion {
            line: line + lines,
            alias,
            limit_mib,
        },
        other => other,
    }
}

/// The name of each field: `metadata.name` where the resource has one URI field, `NAME/COMPONENT`
/// where it has several, and `NAME/QUALIFIER/COMPONENT` (Seldon: the predictor) or
/// `NAME/COMPONENT/QUALIFIER` (KServe: `model` or the framework) where a component name repeats.
fn name_fields(raw: &[RawField<'_, '_>]) -> Vec<String> {
    // Fields of one resource are adjacent: group by (resource start position).
    let mut per_resource: HashMap<(usize, &str), Vec<usize>> = HashMap::new();
    for (i, f) in raw.iter().enumerate() {
        per_resource
            .entry((resource_key(f), f.resource.as_str()))
            .or_default()
            .push(i);
    }
    let mut names = vec![String::new(); raw.len()];
    for members in per_resource.values() {
        for &i in members {
            let f = &raw[i];
            names[i] = if members.len() == 1 {
                f.resource.clone()
            } else {
                let component = f.component.clone().unwrap_or_default();
                let repeats = members
                    .iter()
                    .filter(|&&j| raw[j].component == f.component)
                    .count()
                    > 1;
                match (&f.qualifier, repeats, f.kind) {
                    (Some(q), true, kinds::ResourceKind::SeldonDeployment) => {
                        format!("{}/{q}/{component}", f.resource)
                    }
                    (Some(q), true, _) => format!("{}/{component}/{q}", f.resource),
                    _ => format!("{}/{component}", f.resource),
                }
            };
        }
    }
    names
}

/// Tells resources apart: the `items[i]` index of a `kind: List`, else the document itself.
fn resource_key(f: &RawField<'_, '_>) -> usize {
    match f.path.as_slice() {
        [Seg::Key(items), Seg::Index(i), ..] if items == "items" => *i + 1,
        _ => 0,
    }
}

/// The short forms a field also answers to: the bare resource name, and `NAME/COMPONENT` without the
/// qualifier.
pub(super) fn answers_to(field: &ModelField, name: &str) -> bool {
    if name == field.name || name == field.resource {
        return true;
    }
    match (&field.component, name.split_once('/')) {
        (Some(component), Some((resource, rest))) => {
            resource == field.resource && rest == component
        }
        _ => false,
    }
}
