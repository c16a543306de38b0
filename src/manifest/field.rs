//! Fields anywhere: a value named by a YAML path ([`super::yaml_path`]) or by a marker comment
//! ([`super::marker`]), in any YAML file (Helm values, kustomize patches, container `args` and `env`,
//! other resource kinds).
//!
//! An edit here goes through the same splice and the same proof as an edit of a known kind's field
//! (see [`super`]): only the value's bytes change, the second parser must read exactly the new value
//! there and everything else as before, and the same values are refused (aliases, anchors, tags other
//! than `!!str`, empty values, values over several lines, block scalars that keep a line break, new
//! values with blanks or control characters). On top of that, the current value must have the form of
//! the field's [`Template`] (the whole URI by default), so that a field holding something else is
//! never overwritten.
//!
//! A path must match exactly one value over all the documents of the file (or in the one its
//! `document:` names); a marker name may mark several values, and an edit by marker changes them all. Every document of the file is parsed for a
//! path; for markers, only the documents that contain `$modelbump`.
//!
//! Values inside a string that is itself YAML or JSON (a RayService `serveConfigV2: |` block, the text
//! of an inline JSON6902 patch) are not looked into: a path stops at the string, which as a block of
//! several lines is refused as every such value is.

use std::fmt;
use std::ops::Range;

use super::source::{self, Piece};
use super::template::Template;
use super::tree::Seg;
use super::tree::{self, Comment, Document, Node, NodeKind, TagInfo};
use super::yaml_path::{Match, YamlPath};
use super::{EditError, Editable, Planned, ScalarStyle, marker, splice};

/// One scalar value found by a path or a marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalarField {
    /// 0-based index of the YAML document in the file.
    pub document: usize,
    /// 1-based line of the value.
    pub line: usize,
    /// Byte span of the value as written (quotes included).
    pub span: Range<usize>,
    /// The value, decoded (an alias reads `*name`).
    pub value: String,
    /// How the value is written.
    pub style: ScalarStyle,
    /// Where the value is, with list items by index: `spec.containers[0].env[1].value`.
    pub path: YamlPath,
}

/// A value carrying a marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkedField {
    /// The target the marker names.
    pub target: String,
    /// The value.
    pub field: ScalarField,
}

/// How an edit selects its field(s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldRef {
    /// The one value the path matches in the file.
    Path(YamlPath),
    /// Every value marked with this target name.
    Marker(String),
}

impl fmt::Display for FieldRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Path(p) => write!(f, "the value at {p}"),
            Self::Marker(name) => write!(f, "the value marked {name:?}"),
        }
    }
}

/// One requested change of a field anywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldEdit {
    /// Which field(s).
    pub at: FieldRef,
    /// The form the current value must have ([`Template::whole_uri`] for a field that holds the URI).
    pub template: Template,
    /// The new value, usually `template` rendered for the resolved model.
    pub value: String,
}

/// One value an edit changed (or left as it was, `old == new`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    /// The edit's selection.
    pub at: FieldRef,
    /// The field, as found before the edit.
    pub field: ScalarField,
    /// The value before.
    pub old: String,
    /// The value after.
    pub new: String,
}

/// The result of [`apply_fields`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldsEdited {
    /// The new file content (equal to the input when nothing changed).
    pub bytes: Vec<u8>,
    /// One entry per value selected, in the order of the edits.
    pub changes: Vec<FieldChange>,
}

/// A value with what the editor needs beyond [`ScalarField`].
#[derive(Debug, Clone)]
struct Spot {
    field: ScalarField,
    segs: Vec<Seg>,
    anchor: Option<String>,
    alias: Option<String>,
    tag: Option<TagInfo>,
    in_flow: bool,
    piece: usize,
}

impl Spot {
    fn new(node: &Node<'_>, segs: Vec<Seg>, piece: &Piece, index: usize, document: usize) -> Self {
        let (value, style, tag, alias) = node.value_parts();
        let start = piece.range.start;
        Spot {
            field: ScalarField {
                document,
                line: piece.lines_before + node.line,
                span: node.span.start + start..node.span.end + start,
                value,
                style,
                path: YamlPath::from_segs(&segs),
            },
            segs,
            anchor: node.anchor.clone(),
            alias,
            tag,
            in_flow: node.in_flow,
            piece: index,
        }
    }

    fn editable<'x>(&'x self, text: &'x str, name: &'x str) -> Editable<'x> {
        let key = self
            .segs
            .iter()
            .rev()
            .find_map(|s| match s {
                Seg::Key(k) => Some(k.as_str()),
                Seg::Index(_) => None,
            })
            .unwrap_or("key");
        Editable {
            name,
            line: self.field.line,
            alias: self.alias.as_deref(),
            anchor: self.anchor.as_deref(),
            tag: self.tag.as_ref(),
            written: &text[self.field.span.clone()],
            style: self.field.style,
            value: &self.field.value,
            key,
        }
    }
}

/// The parsed documents of the wanted pieces of a file.
struct Parsed<'a> {
    pieces: Vec<Piece>,
    /// (piece index, absolute document index, document)
    docs: Vec<(usize, usize, Document<'a>)>,
    /// (piece index, comment)
    comments: Vec<(usize, Comment)>,
}

/// Parses the pieces `want` selects (all of them when the cut is unsafe), with their comments when
/// `comments` is set.
fn parse<'a>(
    text: &'a str,
    want: &dyn Fn(&str) -> bool,
    comments: bool,
) -> Result<Parsed<'a>, EditError> {
    let pieces = source::split(text);
    if let Some(parsed) = parse_pieces(text, pieces, want, comments)? {
        return Ok(parsed);
    }
    let whole = vec![source::whole(text)];
    Ok(parse_pieces(text, whole, want, comments)?.expect("a whole file is one piece"))
}

fn parse_pieces<'a>(
    text: &'a str,
    pieces: Vec<Piece>,
    want: &dyn Fn(&str) -> bool,
    with_comments: bool,
) -> Result<Option<Parsed<'a>>, EditError> {
    let mut docs = Vec::new();
    let mut comments = Vec::new();
    for (index, piece) in pieces.iter().enumerate() {
        let body = &text[piece.range.clone()];
        if !want(body) {
            continue;
        }
        let shift = |e: EditError| super::locate::shift(e, piece.lines_before);
        let (parsed, found) = if with_comments {
            tree::parse_with_comments(body).map_err(shift)?
        } else {
            (tree::parse(body).map_err(shift)?, Vec::new())
        };
        if !piece.whole && parsed.len() != usize::from(piece.has_document) {
            return Ok(None);
        }
        for (d, doc) in parsed.into_iter().enumerate() {
            docs.push((index, piece.first_document + d, doc));
        }
        comments.extend(found.into_iter().map(|c| (index, c)));
    }
    Ok(Some(Parsed {
        pieces,
        docs,
        comments,
    }))
}

/// The one value `path` matches in the file's documents (see [`YamlPath`]): an error naming the path
/// when it matches nothing, several values, or a mapping or a sequence.
pub fn find_path(bytes: &[u8], path: &YamlPath) -> Result<ScalarField, EditError> {
    let text = source::check(bytes)?;
    let parsed = parse(text, &|_| true, false)?;
    Ok(path_spot(&parsed, path)?.field)
}

fn path_spot(parsed: &Parsed<'_>, path: &YamlPath) -> Result<Spot, EditError> {
    let mut found: Vec<Spot> = Vec::new();
    let mut deepest = 0;
    let mut values: Vec<Spot> = Vec::new();
    let documents = parsed.docs.len();
    if let Some(wanted) = path.document()
        && wanted >= documents
    {
        return Err(EditError::NoSuchDocument {
            document: wanted,
            documents,
        });
    }
    for (p, document, doc) in &parsed.docs {
        if path.document().is_some_and(|d| d != *document) {
            continue;
        }
        let Some(root) = &doc.root else { continue };
        let (matches, depth) = path.lookup(root);
        deepest = deepest.max(depth);
        for Match { node, segs } in matches {
            let spot = Spot::new(node, segs, &parsed.pieces[*p], *p, *document);
            if matches!(node.kind, NodeKind::Scalar { .. } | NodeKind::Alias(_)) {
                values.push(spot);
            } else {
                found.push(spot);
            }
        }
    }
    let total = values.len() + found.len();
    match (values.len(), total) {
        (1, 1) => Ok(values.remove(0)),
        (0, 0) => Err(EditError::PathNotFound {
            path: path.to_string(),
            reason: if deepest == 0 {
                format!("no document has {}", path.prefix(1))
            } else {
                format!(
                    "{} is there, but nothing under it matches {}",
                    path.prefix(deepest),
                    YamlPath::from_steps(path.steps()[deepest..].to_vec())
                )
            },
        }),
        (0, 1) => {
            let spot = &found[0];
            let what = if parsed_is_seq(parsed, spot) {
                "a sequence"
            } else {
                "a mapping"
            };
            Err(EditError::PathNotAValue {
                line: spot.field.line,
                path: path.to_string(),
                what: what.into(),
            })
        }
        _ if documents_of(&values, &found).len() > 1 => {
            let mut all: Vec<&Spot> = values.iter().chain(&found).collect();
            all.sort_by_key(|s| s.field.span.start);
            Err(EditError::PathInSeveralDocuments {
                path: path.to_string(),
                documents,
                count: documents_of(&values, &found).len(),
                matches: all
                    .iter()
                    .map(|s| {
                        format!(
                            "document {}: line {} {}",
                            s.field.document, s.field.line, s.field.path
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
        _ => {
            let mut all: Vec<&Spot> = values.iter().chain(&found).collect();
            all.sort_by_key(|s| s.field.span.start);
            Err(EditError::PathAmbiguous {
                path: path.to_string(),
                count: total,
                matches: all
                    .iter()
                    .map(|s| format!("line {} {}", s.field.line, s.field.path))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
    }
}

/// The documents the spots are in, each once, in order.
fn documents_of(values: &[Spot], found: &[Spot]) -> Vec<usize> {
    let mut docs: Vec<usize> = values
        .iter()
        .chain(found)
        .map(|s| s.field.document)
        .collect();
    docs.sort_unstable();
    docs.dedup();
    docs
}

/// Whether the collection a path reached is a sequence (for the message).
fn parsed_is_seq(parsed: &Parsed<'_>, spot: &Spot) -> bool {
    parsed
        .docs
        .iter()
        .find(|(p, d, _)| *p == spot.piece && *d == spot.field.document)
        .and_then(|(_, _, doc)| doc.root.as_ref())
        .and_then(|root| tree::navigate(root, &spot.segs))
        .is_some_and(|n| matches!(n.kind, NodeKind::Seq(_)))
}

/// Every marked value of the file, in file order (see [`super::marker`] for the rules). Fails on a
/// comment that starts like a marker but is none, and on a marker that marks no single value.
pub fn find_markers(bytes: &[u8]) -> Result<Vec<MarkedField>, EditError> {
    let text = source::check(bytes)?;
    if !source::may_hold_marker(text.as_bytes()) {
        return Ok(Vec::new());
    }
    let parsed = parse(text, &|body| source::may_hold_marker(body.as_bytes()), true)?;
    Ok(marked_spots(text, &parsed)?
        .into_iter()
        .map(|(target, spot)| MarkedField {
            target,
            field: spot.field,
        })
        .collect())
}

fn marked_spots(text: &str, parsed: &Parsed<'_>) -> Result<Vec<(String, Spot)>, EditError> {
    let mut out = Vec::new();
    for (p, comment) in &parsed.comments {
        let piece = &parsed.pieces[*p];
        let start = piece.range.start + comment.span.start;
        let end = piece.range.start + comment.span.end;
        let payload = text[start..end]
            .strip_prefix('#')
            .unwrap_or(&text[start..end]);
        let line = piece.lines_before + comment.line;
        let Some(target) = marker::parse_comment(payload).map_err(|r| marker::bad(line, r))? else {
            continue;
        };
        // A comment with the line to itself is a commented-out line: not live.
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        if text[line_start..start]
            .trim_start_matches(source::BOM)
            .trim_matches([' ', '\t'])
            .is_empty()
        {
            continue;
        }
        let mut on_line: Vec<Spot> = Vec::new();
        for (dp, document, doc) in &parsed.docs {
            if dp != p {
                continue;
            }
            if let Some(root) = &doc.root {
                values_ending_on(
                    root,
                    &mut Vec::new(),
                    comment.line,
                    piece,
                    *p,
                    *document,
                    text,
                    &mut on_line,
                );
            }
        }
        match on_line.len() {
            1 => out.push((target, on_line.remove(0))),
            0 => {
                return Err(marker::bad(
                    line,
                    format!(
                        "the marker for {target:?} is on a line without a one-line scalar value; put it \
                         after the value it marks (`key: value  # {{\"$modelbump\": \"{target}\"}}` or \
                         `- value  # ...`); a mapping, a list or a block scalar (`|`, `>`) cannot be marked"
                    ),
                ));
            }
            n => {
                return Err(marker::bad(
                    line,
                    format!(
                        "the marker for {target:?} is on a line with {n} values ({}); write the marked \
                         value on a line of its own",
                        on_line
                            .iter()
                            .map(|s| format!("{:?}", s.field.value))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
    }
    out.sort_by_key(|(_, s)| s.field.span.start);
    Ok(out)
}

/// Collects the values (mapping values and sequence items, scalars or aliases, never keys) whose
/// written text ends on `line` (relative to the piece).
#[allow(clippy::too_many_arguments)]
fn values_ending_on(
    node: &Node<'_>,
    segs: &mut Vec<Seg>,
    line: usize,
    piece: &Piece,
    p: usize,
    document: usize,
    text: &str,
    out: &mut Vec<Spot>,
) {
    let visit = |child: &Node<'_>, seg: Seg, segs: &mut Vec<Seg>, out: &mut Vec<Spot>| {
        segs.push(seg);
        match &child.kind {
            NodeKind::Scalar { .. } | NodeKind::Alias(_) => {
                let body = &text[piece.range.clone()];
                let written = body[child.span.clone()].trim_end_matches(['\r', '\n']);
                let end_line = child.line + written.matches('\n').count();
                // A block scalar's text starts below its header: it ends on no line a comment can share.
                let block = matches!(
                    &child.kind,
                    NodeKind::Scalar {
                        style: ScalarStyle::Literal | ScalarStyle::Folded,
                        ..
                    }
                );
                if end_line == line && !block {
                    out.push(Spot::new(child, segs.clone(), piece, p, document));
                }
            }
            _ => values_ending_on(child, segs, line, piece, p, document, text, out),
        }
        segs.pop();
    };
    match &node.kind {
        NodeKind::Map(entries) => {
            for (k, v) in entries {
                if let Some(key) = k.as_str() {
                    visit(v, Seg::Key(key.to_string()), segs, out);
                }
            }
        }
        NodeKind::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                visit(item, Seg::Index(i), segs, out);
            }
        }
        _ => {}
    }
}

/// Applies `edits` to one file's bytes in one pass, with the proof of [`super::apply`] (see the module
/// doc). Nothing is returned but a verified result or an error.
pub fn apply_fields(bytes: &[u8], edits: &[FieldEdit]) -> Result<FieldsEdited, EditError> {
    let text = source::check(bytes)?;
    for edit in edits {
        splice::check_uri(&edit.value)?;
    }
    let markers = edits.iter().any(|e| matches!(e.at, FieldRef::Marker(_)));
    let parsed = parse(text, &|_| true, markers)?;
    let marked = if markers {
        marked_spots(text, &parsed)?
    } else {
        Vec::new()
    };

    // Each edit's spots; one spot per value across edits.
    let mut spots: Vec<Spot> = Vec::new();
    let mut chosen: Vec<Vec<usize>> = Vec::new();
    for edit in edits {
        let found: Vec<Spot> = match &edit.at {
            FieldRef::Path(path) => vec![path_spot(&parsed, path)?],
            FieldRef::Marker(name) => {
                let mine: Vec<Spot> = marked
                    .iter()
                    .filter(|(t, _)| t == name)
                    .map(|(_, s)| s.clone())
                    .collect();
                if mine.is_empty() {
                    let mut names: Vec<&str> = marked.iter().map(|(t, _)| t.as_str()).collect();
                    names.dedup();
                    return Err(EditError::UnknownMarker {
                        name: name.clone(),
                        available: if names.is_empty() {
                            "none".into()
                        } else {
                            names.join(", ")
                        },
                    });
                }
                mine
            }
        };
        let mut indexes = Vec::new();
        for spot in found {
            let i = match spots.iter().position(|s| s.field.span == spot.field.span) {
                Some(i) => i,
                None => {
                    spots.push(spot);
                    spots.len() - 1
                }
            };
            indexes.push(i);
        }
        chosen.push(indexes);
    }

    let mut wanted: Vec<Option<&str>> = vec![None; spots.len()];
    let mut planned: Vec<Planned<'_>> = Vec::new();
    let names: Vec<String> = edits.iter().map(|e| e.at.to_string()).collect();
    for ((edit, indexes), name) in edits.iter().zip(&chosen).zip(&names) {
        for &i in indexes {
            let spot = &spots[i];
            if let Some(first) = wanted[i] {
                if first != edit.value {
                    return Err(EditError::Conflict {
                        line: spot.field.line,
                        name: name.clone(),
                        first: first.to_string(),
                        second: edit.value.clone(),
                    });
                }
                continue;
            }
            wanted[i] = Some(&edit.value);
            let editable = spot.editable(text, name);
            super::check_editable(&editable)?;
            if !edit.template.matches(&spot.field.value) {
                return Err(EditError::TemplateMismatch {
                    line: spot.field.line,
                    at: name.clone(),
                    template: edit.template.to_string(),
                    current: spot.field.value.clone(),
                    new: edit.value.clone(),
                });
            }
            if spot.field.value == edit.value {
                continue;
            }
            let piece = &parsed.pieces[spot.piece];
            let body = &text[piece.range.clone()];
            let local =
                spot.field.span.start - piece.range.start..spot.field.span.end - piece.range.start;
            let s = splice::splice(
                body,
                local,
                spot.field.style,
                &spot.field.value,
                spot.in_flow,
                &edit.value,
            )
            .map_err(|refusal| super::unsupported(&editable, refusal))?;
            planned.push(Planned {
                piece: spot.piece,
                document: spot.field.document,
                segs: &spot.segs,
                old: &spot.field.value,
                new: &edit.value,
                line: spot.field.line,
                splice: s,
            });
        }
    }
    let output = if planned.is_empty() {
        bytes.to_vec()
    } else {
        super::rebuild(text, &parsed.pieces, &mut planned)?.into_bytes()
    };
    let changes = edits
        .iter()
        .zip(&chosen)
        .flat_map(|(edit, indexes)| {
            indexes.iter().map(|&i| FieldChange {
                at: edit.at.clone(),
                field: spots[i].field.clone(),
                old: spots[i].field.value.clone(),
                new: edit.value.clone(),
            })
        })
        .collect();
    Ok(FieldsEdited {
        bytes: output,
        changes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATCH: &str = "\
# Licence header
apiVersion: apps/v1
kind: Deployment
metadata:
  name: vllm  # keep
spec:
  template:
    spec:
      containers:
      - name: sidecar
        image: x
      - name: inference-server
        args:
        - --model=$(MODEL_ID)
        - \"--port=8000\"
        - load_parameters_path=gs://b/ckpt/0/items
        env:
        - name: MODEL_ID
          value: google/gemma-2b-AWQ   # the model
        - {name: OTHER, value: 'x'}
";

    fn path(s: &str) -> YamlPath {
        YamlPath::parse(s).unwrap()
    }

    fn at_path(p: &str, template: &str, value: &str) -> FieldEdit {
        FieldEdit {
            at: FieldRef::Path(path(p)),
            template: Template::parse(template).unwrap(),
            value: value.into(),
        }
    }

    fn at_marker(name: &str, value: &str) -> FieldEdit {
        FieldEdit {
            at: FieldRef::Marker(name.into()),
            template: Template::whole_uri(),
            value: value.into(),
        }
    }

    /// `input` with `old` (which must occur once) replaced by `new`.
    fn replaced(input: &str, old: &str, new: &str) -> String {
        assert_eq!(input.matches(old).count(), 1, "{old}");
        input.replace(old, new)
    }

    #[test]
    fn a_path_selects_list_items_by_a_keys_value_and_edits_only_the_value() {
        let p = "spec.template.spec.containers[name=inference-server].env[name=MODEL_ID].value";
        let field = find_path(PATCH.as_bytes(), &path(p)).unwrap();
        assert_eq!(
            (field.line, field.value.as_str(), field.style),
            (19, "google/gemma-2b-AWQ", ScalarStyle::Plain)
        );
        assert_eq!(
            field.path.to_string(),
            "spec.template.spec.containers[1].env[0].value"
        );
        let out = apply_fields(
            PATCH.as_bytes(),
            &[at_path(p, "{uri}", "hf://google/gemma-7b")],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out.bytes).unwrap(),
            replaced(PATCH, "google/gemma-2b-AWQ", "hf://google/gemma-7b")
        );
        assert_eq!(out.changes[0].old, "google/gemma-2b-AWQ");
    }

    #[test]
    fn container_args_are_edited_through_their_template() {
        let edits = [
            at_path(
                "spec.template.spec.containers[1].args[2]",
                "load_parameters_path={uri}",
                "load_parameters_path=gs://new/ckpt",
            ),
            at_path(
                "spec.template.spec.containers[1].args[1]",
                "--port={version}",
                "--port=9",
            ),
        ];
        let out = apply_fields(PATCH.as_bytes(), &edits).unwrap();
        let want = replaced(
            &replaced(PATCH, "gs://b/ckpt/0/items", "gs://new/ckpt"),
            "\"--port=8000\"",
            "\"--port=9\"",
        );
        assert_eq!(String::from_utf8(out.bytes).unwrap(), want);
        // A field that holds something else than the template's form is never overwritten.
        let err = apply_fields(
            PATCH.as_bytes(),
            &[at_path(
                "spec.template.spec.containers[1].args[0]",
                "--model={uri}",
                "--model=s3://x",
            )],
        )
        .unwrap();
        assert_eq!(err.changes.len(), 1);
        let err = apply_fields(
            PATCH.as_bytes(),
            &[at_path(
                "spec.template.spec.containers[1].args[1]",
                "--model={uri}",
                "--model=s3://x",
            )],
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err, EditError::TemplateMismatch { line: 15, .. })
                && msg.contains("\"--port=8000\"")
                && msg.contains("\"--model=s3://x\""),
            "{msg}"
        );
    }

    #[test]
    fn a_path_must_match_exactly_one_value() {
        let err = find_path(
            PATCH.as_bytes(),
            &path("spec.template.spec.containers[name=nope].image"),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the path spec.template.spec.containers[name=nope].image matches nothing in this file: \
             spec.template.spec.containers is there, but nothing under it matches [name=nope].image"
        );
        let err = find_path(PATCH.as_bytes(), &path("status.x")).unwrap_err();
        assert!(err.to_string().ends_with("no document has status"), "{err}");
        let err = find_path(
            PATCH.as_bytes(),
            &path("spec.template.spec.containers[1].env[name=MODEL_ID]"),
        )
        .unwrap_err();
        assert!(
            matches!(err, EditError::PathNotAValue { line: 18, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("a mapping"), "{err}");
        let two = format!("{PATCH}---\n{PATCH}");
        let err = find_path(two.as_bytes(), &path("metadata.name")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the file has 2 documents and the path metadata.name matches in 2 of them (document 0: line 5 \
             metadata.name, document 1: line 26 metadata.name); it must match one: add `document: N` to \
             the target (the document's index, counted from 0 like `[N]`), or use a marker"
        );
        // `document:` picks one; an index the file does not have is refused.
        let second = find_path(two.as_bytes(), &path("metadata.name").in_document(1)).unwrap();
        assert_eq!((second.line, second.document), (26, 1));
        let err = find_path(two.as_bytes(), &path("metadata.name").in_document(2)).unwrap_err();
        assert!(
            matches!(
                err,
                EditError::NoSuchDocument {
                    document: 2,
                    documents: 2
                }
            ),
            "{err}"
        );
        let err = find_path(
            PATCH.as_bytes(),
            &path("spec.template.spec.containers[1].args"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("a sequence"), "{err}");
    }

    #[test]
    fn markers_mark_values_in_mappings_and_sequences() {
        let input = "\
servingEngineSpec:
  modelSpec:
  - name: llama3
    modelURL: \"meta-llama/Llama-3.1-8B-Instruct\" # {\"$modelbump\": \"llama\"}
    args: [--x, y]
  - name: other
    modelURL: a/b
#   modelURL: \"x/y\"  # {\"$modelbump\": \"llama\"}
extra:
  - --model=s3://a/b   # {\"$modelbump\":\"arg\"}
  - same: s3://m       #{ \"$modelbump\" : \"twice\" }
  - s3://m # {\"$modelbump\": \"twice\"}
";
        let marked = find_markers(input.as_bytes()).unwrap();
        let rows: Vec<(&str, usize, String)> = marked
            .iter()
            .map(|m| (m.target.as_str(), m.field.line, m.field.path.to_string()))
            .collect();
        assert_eq!(
            rows,
            [
                (
                    "llama",
                    4,
                    "servingEngineSpec.modelSpec[0].modelURL".to_string()
                ),
                ("arg", 10, "extra[0]".to_string()),
                ("twice", 11, "extra[1].same".to_string()),
                ("twice", 12, "extra[2]".to_string()),
            ]
        );
        let edits = [
            at_marker("llama", "mistralai/Mistral-7B"),
            FieldEdit {
                at: FieldRef::Marker("arg".into()),
                template: Template::parse("--model={uri}").unwrap(),
                value: "--model=gs://c/d".into(),
            },
            at_marker("twice", "s3://n"),
        ];
        let out = apply_fields(input.as_bytes(), &edits).unwrap();
        let want = input
            .replace(
                "\"meta-llama/Llama-3.1-8B-Instruct\"",
                "\"mistralai/Mistral-7B\"",
            )
            .replace("--model=s3://a/b", "--model=gs://c/d")
            .replace("s3://m ", "s3://n ");
        assert_eq!(String::from_utf8(out.bytes).unwrap(), want);
        assert_eq!(out.changes.len(), 4);
        let err = apply_fields(input.as_bytes(), &[at_marker("lama", "x")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no value is marked {\"$modelbump\": \"lama\"} in this file; the markers here are: llama, arg, twice"
        );
    }

    #[test]
    fn markers_that_mark_no_single_value_are_errors_with_the_line() {
        for (input, line, want) in [
            (
                "a:\n  b: 1 # {\"$modelbump\": x}\n",
                2,
                "not one JSON object",
            ),
            (
                "a: # {\"$modelbump\": \"x\"}\n  b: 1\n",
                1,
                "without a one-line scalar value",
            ),
            (
                "a: |- # {\"$modelbump\": \"x\"}\n  s3://b\n",
                1,
                "without a one-line scalar value",
            ),
            (
                "a: [s3://x, s3://y] # {\"$modelbump\": \"x\"}\n",
                1,
                "with 2 values (\"s3://x\", \"s3://y\")",
            ),
        ] {
            let err = find_markers(input.as_bytes()).unwrap_err();
            assert_eq!(err.line(), Some(line), "{input:?}: {err}");
            assert!(err.to_string().contains(want), "{input:?}: {err}");
        }
        // A key's line with the value on the next lines, and quoted text that looks like a marker.
        let input = "k: 'a # {\"$modelbump\": \"x\"}'\n";
        assert!(find_markers(input.as_bytes()).unwrap().is_empty());
    }

    #[test]
    fn the_same_refusals_as_every_edit() {
        for (input, want) in [
            ("x: &a s3://a # {\"$modelbump\": \"m\"}\n", "anchored (&a)"),
            (
                "y: &a s3://a\nx: *a # {\"$modelbump\": \"m\"}\n",
                "an alias (*a)",
            ),
            ("x: !custom s3://a # {\"$modelbump\": \"m\"}\n", "tag"),
            (
                "x: \"s3://a\n  b\" # {\"$modelbump\": \"m\"}\n",
                "several lines",
            ),
            (
                "x: \"\" # {\"$modelbump\": \"m\"}\n",
                "does not have the form of its template \"{uri}\"",
            ),
        ] {
            let err = apply_fields(input.as_bytes(), &[at_marker("m", "s3://b")]).unwrap_err();
            assert!(err.to_string().contains(want), "{input:?}: {err}");
        }
        let err = apply_fields(
            b"x: s3://a # {\"$modelbump\": \"m\"}\n",
            &[at_marker("m", "s3://a b")],
        )
        .unwrap_err();
        assert!(matches!(err, EditError::InvalidUri { .. }), "{err}");
        // A string that is itself YAML is not looked into: the path stops at the block.
        let ray = "spec:\n  serveConfigV2: |\n    applications:\n    - args: {model_source: Qwen/Qwen2.5}\n";
        let err = find_path(
            ray.as_bytes(),
            &path("spec.serveConfigV2.applications[0].args.model_source"),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("spec.serveConfigV2 is there, but nothing under it matches"),
            "{err}"
        );
        let err = apply_fields(
            ray.as_bytes(),
            &[at_path("spec.serveConfigV2", "{uri}", "s3://x")],
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("block scalar of several lines"),
            "{err}"
        );
    }

    #[test]
    fn a_path_and_a_marker_on_the_same_value_must_agree() {
        let input = "m:\n  uri: s3://a # {\"$modelbump\": \"m\"}\n";
        let out = apply_fields(
            input.as_bytes(),
            &[
                at_marker("m", "s3://b"),
                at_path("m.uri", "{uri}", "s3://b"),
            ],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out.bytes).unwrap(),
            input.replace("s3://a", "s3://b")
        );
        let err = apply_fields(
            input.as_bytes(),
            &[
                at_marker("m", "s3://b"),
                at_path("m.uri", "{uri}", "s3://c"),
            ],
        )
        .unwrap_err();
        assert!(matches!(err, EditError::Conflict { line: 2, .. }), "{err}");
    }
}
