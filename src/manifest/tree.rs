//! A small YAML node tree built from granit-parser's events, keeping for every scalar its exact byte
//! span, style, tag and anchor.
//!
//! granit-parser is the *locating* parser: its spans are byte ranges into the source (checked by the
//! tests here with multi-byte text and CRLF), a quoted scalar's span ends at its closing quote and a block
//! scalar's span covers its content lines. The tree keeps only what the editor needs to find the model
//! URI fields and to refuse what it cannot edit safely (aliases, anchors, tags, flow context).

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;

use granit_parser::{Event, Options, Parser, ScalarStyle as GStyle, StructureStyle};

use super::{EditError, ScalarStyle};

/// One YAML node.
#[derive(Debug, Clone)]
pub struct Node<'a> {
    /// What it is.
    pub kind: NodeKind<'a>,
    /// Byte span in the parsed text (scalars: the value as written; collections: where they start).
    pub span: Range<usize>,
    /// 1-based line in the parsed text.
    pub line: usize,
    /// The anchor defined on the node (`&name`), if any.
    pub anchor: Option<String>,
    /// True when the node sits inside a flow collection (`{...}`, `[...]`).
    pub in_flow: bool,
}

/// The kinds of nodes.
#[derive(Debug, Clone)]
pub enum NodeKind<'a> {
    /// A scalar: decoded value, style, and its tag as written (`None` when untagged).
    Scalar {
        value: Cow<'a, str>,
        style: ScalarStyle,
        tag: Option<TagInfo>,
    },
    /// A sequence.
    Seq(Vec<Node<'a>>),
    /// A mapping, in source order (duplicate keys are kept; lookups refuse them).
    Map(Vec<(Node<'a>, Node<'a>)>),
    /// An alias (`*name`).
    Alias(String),
}

/// A scalar's tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagInfo {
    /// True for `!!str` (the core schema's string tag), the only tag the editor keeps a value under.
    pub is_core_str: bool,
    /// The tag as written, for messages.
    pub written: String,
}

/// One parsed document.
#[derive(Debug, Clone)]
pub struct Document<'a> {
    /// Its root node (`None` for an empty document).
    pub root: Option<Node<'a>>,
}

impl<'a> Node<'a> {
    /// The decoded text of a scalar (`None` for other nodes).
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// The value of `key` in a mapping. `Ok(None)` when the node is not a mapping or has no such key;
    /// an error when the key appears twice, which YAML forbids and parsers resolve differently.
    pub fn get(&self, key: &str) -> Result<Option<&Node<'a>>, EditError> {
        let NodeKind::Map(entries) = &self.kind else {
            return Ok(None);
        };
        let mut found: Option<&Node<'a>> = None;
        for (k, v) in entries {
            if k.as_str() == Some(key) {
                if found.is_some() {
                    return Err(EditError::InvalidYaml {
                        line: k.line,
                        message: format!("duplicate key {key:?} in a mapping"),
                    });
                }
                found = Some(v);
            }
        }
        Ok(found)
    }

    /// The string value of `key` when it is a scalar.
    pub fn get_str(&self, key: &str) -> Result<Option<&str>, EditError> {
        Ok(self.get(key)?.and_then(Node::as_str))
    }

    /// The items of a sequence (empty for other nodes).
    pub fn items(&self) -> &[Node<'a>] {
        match &self.kind {
            NodeKind::Seq(items) => items,
            _ => &[],
        }
    }

    /// The entries of a mapping (empty for other nodes).
    pub fn entries(&self) -> &[(Node<'a>, Node<'a>)] {
        match &self.kind {
            NodeKind::Map(entries) => entries,
            _ => &[],
        }
    }
}

enum Frame<'a> {
    Seq(Node<'a>, Vec<Node<'a>>, bool),
    Map(Node<'a>, Vec<(Node<'a>, Node<'a>)>, Option<Node<'a>>, bool),
}

/// Parses `text` (a whole file or one piece of it) into documents.
pub fn parse(text: &str) -> Result<Vec<Document<'_>>, EditError> {
    let options = granit_parser::options! { emit_anchor_events: true, emit_comments: false };
    parse_with(text, options)
}

fn parse_with(text: &str, options: Options) -> Result<Vec<Document<'_>>, EditError> {
    let mut docs = Vec::new();
    let mut stack: Vec<Frame<'_>> = Vec::new();
    let mut root: Option<Node<'_>> = None;
    let mut anchors: HashMap<usize, String> = HashMap::new();
    let mut flow_depth = 0usize;
    for event in Parser::new_from_str_with_options(text, options) {
        let (event, span) = event.map_err(|e| EditError::InvalidYaml {
            line: e.marker().line(),
            message: e.info(),
        })?;
        let range = span.byte_range().unwrap_or(0..0);
        let line = span.start.line();
        let in_flow = flow_depth > 0;
        let new_node = |kind| Node {
            kind,
            span: range.clone(),
            line,
            anchor: None,
            in_flow,
        };
        match event {
            Event::StreamStart | Event::StreamEnd => {}
            Event::DocumentStart(..) => {
                root = None;
                anchors.clear();
            }
            Event::DocumentEnd => docs.push(Document { root: root.take() }),
            Event::Scalar(value, style, _anchor, tag) => {
                let tag = tag.map(|t| TagInfo {
                    is_core_str: t.is_yaml_core_schema_tag("str"),
                    written: t.to_string(),
                });
                let style = match style {
                    GStyle::Plain => ScalarStyle::Plain,
                    GStyle::SingleQuoted => ScalarStyle::SingleQuoted,
                    GStyle::DoubleQuoted => ScalarStyle::DoubleQuoted,
                    GStyle::Literal => ScalarStyle::Literal,
                    GStyle::Folded => ScalarStyle::Folded,
                };
                add(
                    &mut stack,
                    &mut root,
                    new_node(NodeKind::Scalar { value, style, tag }),
                );
            }
            Event::Alias(id) => {
                let name = anchors.get(&id).cloned().unwrap_or_else(|| id.to_string());
                add(&mut stack, &mut root, new_node(NodeKind::Alias(name)));
            }
            Event::Anchor(id, name) => {
                anchors.insert(id, name.to_string());
                set_last_anchor(&mut stack, &mut root, name.to_string());
            }
            Event::SequenceStart(style, ..) => {
                let flow = style == StructureStyle::Flow;
                flow_depth += usize::from(flow);
                stack.push(Frame::Seq(
                    new_node(NodeKind::Seq(Vec::new())),
                    Vec::new(),
                    flow,
                ));
            }
            Event::MappingStart(style, ..) => {
                let flow = style == StructureStyle::Flow;
                flow_depth += usize::from(flow);
                stack.push(Frame::Map(
                    new_node(NodeKind::Map(Vec::new())),
                    Vec::new(),
                    None,
                    flow,
                ));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, flow) = match stack.pop() {
                    Some(Frame::Seq(mut node, items, flow)) => {
                        node.kind = NodeKind::Seq(items);
                        (node, flow)
                    }
                    Some(Frame::Map(mut node, entries, _, flow)) => {
                        node.kind = NodeKind::Map(entries);
                        (node, flow)
                    }
                    None => continue,
                };
                flow_depth -= usize::from(flow);
                add(&mut stack, &mut root, node);
            }
            // Comments are not requested; an unresolved alias is an error with the default options.
            _ => {}
        }
    }
    Ok(docs)
}

/// Attaches a finished node to its parent (or makes it the document's root).
fn add<'a>(stack: &mut [Frame<'a>], root: &mut Option<Node<'a>>, node: Node<'a>) {
    match stack.last_mut() {
        Some(Frame::Seq(_, items, _)) => items.push(node),
        Some(Frame::Map(_, entries, pending, _)) => match pending.take() {
            Some(key) => entries.push((key, node)),
            None => *pending = Some(node),
        },
        None => *root = Some(node),
    }
}

/// Names the anchor of the node the parser just emitted: the last finished child, or the collection
/// just opened (its `Anchor` event comes before its children).
fn set_last_anchor(stack: &mut [Frame<'_>], root: &mut Option<Node<'_>>, name: String) {
    let Some(frame) = stack.last_mut() else {
        if let Some(node) = root {
            node.anchor = Some(name);
        }
        return;
    };
    match frame {
        Frame::Seq(node, items, _) => match items.last_mut() {
            Some(item) => item.anchor = Some(name),
            None => node.anchor = Some(name),
        },
        Frame::Map(node, entries, pending, _) => match (pending.as_mut(), entries.last_mut()) {
            (Some(key), _) => key.anchor = Some(name),
            (None, Some((_, value))) => value.anchor = Some(name),
            (None, None) => node.anchor = Some(name),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(text: &str) -> Node<'_> {
        parse(text).unwrap().remove(0).root.unwrap()
    }

    #[test]
    fn scalar_spans_are_byte_ranges_with_multibyte_text_and_crlf() {
        let text = "\u{feff}name: \"é€😀\"\r\nuri: s3://b/ü # c\r\n";
        let r = root(text);
        let name = r.get("name").unwrap().unwrap();
        assert_eq!(&text[name.span.clone()], "\"é€😀\"");
        let uri = r.get("uri").unwrap().unwrap();
        assert_eq!(&text[uri.span.clone()], "s3://b/ü");
        assert_eq!(uri.line, 2);
    }

    #[test]
    fn anchors_aliases_tags_and_flow_are_recorded() {
        let text = "a: &x v\nb: *x\nc: !!str w\nd: {e: f}\ng: &m\n  h: i\n";
        let r = root(text);
        assert_eq!(r.get("a").unwrap().unwrap().anchor.as_deref(), Some("x"));
        assert!(matches!(&r.get("b").unwrap().unwrap().kind, NodeKind::Alias(n) if n == "x"));
        let NodeKind::Scalar { tag, .. } = &r.get("c").unwrap().unwrap().kind else {
            panic!()
        };
        assert!(tag.as_ref().unwrap().is_core_str);
        let d = r.get("d").unwrap().unwrap();
        assert!(!d.in_flow);
        assert!(d.get("e").unwrap().unwrap().in_flow);
        assert!(
            !r.get("g")
                .unwrap()
                .unwrap()
                .get("h")
                .unwrap()
                .unwrap()
                .in_flow
        );
        assert_eq!(r.get("g").unwrap().unwrap().anchor.as_deref(), Some("m"));
    }

    #[test]
    fn duplicate_keys_are_refused_on_lookup() {
        let r = root("a: 1\nb: 2\na: 3\n");
        assert!(matches!(
            r.get("a"),
            Err(EditError::InvalidYaml { line: 3, .. })
        ));
        assert_eq!(r.get_str("b").unwrap(), Some("2"));
    }

    #[test]
    fn block_scalar_spans_cover_the_content_lines() {
        let text = "k: |\n  s3://x\nz: >-\n  y\n\nq: 1\n";
        let r = root(text);
        assert_eq!(&text[r.get("k").unwrap().unwrap().span.clone()], "s3://x\n");
        assert!(text[r.get("z").unwrap().unwrap().span.clone()].starts_with("y\n"));
    }

    #[test]
    fn a_syntax_error_has_a_line() {
        let err = parse("a: 1\nb: [\n").unwrap_err();
        assert!(matches!(err, EditError::InvalidYaml { .. }), "{err:?}");
    }
}
