//! A small YAML node tree built from granit-parser's events, keeping for every scalar its exact byte
//! span, style, tag and anchor.
//!
//! granit-parser is the *locating* parser: its spans are byte ranges into the source (checked by the
//! tests here with multi-byte text and CRLF), a quoted scalar's span ends at its closing quote and a block
//! scalar's span covers its content lines. The tree keeps only what the editor needs to find the model
//! URI fields and to refuse what it cannot edit safely (aliases, anchors, tags, flow context).
//!
//! Aliases stay aliases here, but their expanded size is counted while the tree is built, and text
//! whose aliases would expand beyond [`ALIAS_EXPANSION_LIMIT`] is refused: every command parses a
//! manifest here first, before the verifying parser (which expands aliases) may load it.

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

    /// What the editor reports of a value: the decoded text (`*name` for an alias), the style, the tag
    /// and the alias's name. A collection reads as an empty plain value.
    pub fn value_parts(&self) -> (String, ScalarStyle, Option<TagInfo>, Option<String>) {
        match &self.kind {
            NodeKind::Scalar { value, style, tag } => {
                (value.to_string(), *style, tag.clone(), None)
            }
            NodeKind::Alias(name) => (
                format!("*{name}"),
                ScalarStyle::Plain,
                None,
                Some(name.clone()),
            ),
            NodeKind::Seq(_) | NodeKind::Map(_) => (String::new(), ScalarStyle::Plain, None, None),
        }
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

/// One step of a path from a document's root to a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

/// Renders a path the way users read it: `spec.predictors[0].graph.modelUri`.
pub fn path_string(segs: &[Seg]) -> String {
    let mut out = String::new();
    for seg in segs {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The node at `segs` (keys and indexes) from `root`; `None` where the path leads nowhere or through
/// a duplicate key.
pub fn navigate<'t, 'a>(root: &'t Node<'a>, segs: &[Seg]) -> Option<&'t Node<'a>> {
    let mut node = root;
    for seg in segs {
        node = match seg {
            Seg::Key(k) => node.get(k).ok()??,
            Seg::Index(i) => node.items().get(*i)?,
        };
    }
    Some(node)
}

/// A collection being built: its node, its children so far, and what the alias budget needs.
struct Frame<'a> {
    node: Node<'a>,
    body: Body<'a>,
    flow: bool,
    /// The anchor id defined on the collection (`0`: none).
    anchor_id: usize,
    /// The collection's cost so far, aliases expanded (see [`ALIAS_EXPANSION_LIMIT`]).
    cost: u64,
}

enum Body<'a> {
    Seq(Vec<Node<'a>>),
    Map(Vec<(Node<'a>, Node<'a>)>, Option<Node<'a>>),
}

/// How much aliases may add to the parsed text once expanded, in (estimated) bytes: 16 MiB.
///
/// A parser that builds a tree (the verifying one, and every YAML decoder downstream) copies the
/// anchored node at each alias. Nested aliases make that exponential: a few hundred bytes of `&a [x,x,..]`,
/// `&b [*a,*a,..]`, ... ("billion laughs") expand to gigabytes. The cost of a node is its scalar bytes
/// plus [`NODE_COST`] per node, aliases counted at the cost of what they stand for; real manifests
/// stay kilobytes below the limit, while the budget keeps the verifying parser's trees within tens of
/// megabytes. Counting is linear in the text: each alias adds the cost recorded for its anchor.
pub const ALIAS_EXPANSION_LIMIT: u64 = 16 * 1024 * 1024;

/// The estimated overhead of one node in a loaded YAML tree, in bytes.
const NODE_COST: u64 = 64;

/// Parses `text` (a whole file or one piece of it) into documents.
///
/// Refuses text whose aliases expand beyond [`ALIAS_EXPANSION_LIMIT`], before any tree-building parser
/// sees it.
pub fn parse(text: &str) -> Result<Vec<Document<'_>>, EditError> {
    let options = granit_parser::options! { emit_anchor_events: true, emit_comments: false };
    parse_with(text, options, &mut Vec::new())
}

/// One comment of the parsed text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// Byte span of the comment, `#` included, line break excluded.
    pub span: Range<usize>,
    /// 1-based line in the parsed text.
    pub line: usize,
}

/// [`parse`], and the comments of the text in source order (for the markers, [`super::marker`]).
pub fn parse_with_comments(text: &str) -> Result<(Vec<Document<'_>>, Vec<Comment>), EditError> {
    let mut options = granit_parser::options! { emit_anchor_events: true, emit_comments: true };
    // Comments are buffered while the parser looks ahead; the text bounds them anyway.
    options.max_buffered_comment_events = usize::MAX;
    let mut comments = Vec::new();
    let docs = parse_with(text, options, &mut comments)?;
    Ok((docs, comments))
}

fn parse_with<'a>(
    text: &'a str,
    options: Options,
    comments: &mut Vec<Comment>,
) -> Result<Vec<Document<'a>>, EditError> {
    let mut docs = Vec::new();
    let mut stack: Vec<Frame<'_>> = Vec::new();
    let mut root: Option<Node<'_>> = None;
    let mut anchors: HashMap<usize, String> = HashMap::new();
    // Anchor id -> cost of the anchored node, aliases expanded; and what aliases added so far, over
    // the whole text (which is what the verifying parser loads at once).
    let mut anchor_costs: HashMap<usize, u64> = HashMap::new();
    let mut expanded: u64 = 0;
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
            Event::Scalar(value, style, anchor_id, tag) => {
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
                let cost = NODE_COST.saturating_add(value.len() as u64);
                if anchor_id != 0 {
                    anchor_costs.insert(anchor_id, cost);
                }
                add(
                    &mut stack,
                    &mut root,
                    new_node(NodeKind::Scalar { value, style, tag }),
                    cost,
                );
            }
            Event::Alias(id) => {
                let name = anchors.get(&id).cloned().unwrap_or_else(|| id.to_string());
                // An alias of a collection that is still open (a recursive alias) has no cost yet;
                // the tree-building parsers do not expand it either.
                let cost = anchor_costs.get(&id).copied().unwrap_or(NODE_COST);
                expanded = expanded.saturating_add(cost);
                if expanded > ALIAS_EXPANSION_LIMIT {
                    return Err(EditError::AliasExpansion {
                        line,
                        alias: name,
                        limit_mib: ALIAS_EXPANSION_LIMIT / (1024 * 1024),
                    });
                }
                add(&mut stack, &mut root, new_node(NodeKind::Alias(name)), cost);
            }
            Event::Anchor(id, name) => {
                anchors.insert(id, name.to_string());
                set_last_anchor(&mut stack, &mut root, name.to_string());
            }
            Event::SequenceStart(style, anchor_id, _)
            | Event::MappingStart(style, anchor_id, _) => {
                let flow = style == StructureStyle::Flow;
                flow_depth += usize::from(flow);
                let (kind, body) = if matches!(event, Event::SequenceStart(..)) {
                    (NodeKind::Seq(Vec::new()), Body::Seq(Vec::new()))
                } else {
                    (NodeKind::Map(Vec::new()), Body::Map(Vec::new(), None))
                };
                stack.push(Frame {
                    node: new_node(kind),
                    body,
                    flow,
                    anchor_id,
                    cost: NODE_COST,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(Frame {
                    mut node,
                    body,
                    flow,
                    anchor_id,
                    cost,
                }) = stack.pop()
                else {
                    continue;
                };
                node.kind = match body {
                    Body::Seq(items) => NodeKind::Seq(items),
                    Body::Map(entries, _) => NodeKind::Map(entries),
                };
                if anchor_id != 0 {
                    anchor_costs.insert(anchor_id, cost);
                }
                flow_depth -= usize::from(flow);
                add(&mut stack, &mut root, node, cost);
            }
            Event::Comment(..) => comments.push(Comment {
                span: range.clone(),
                line,
            }),
            // An unresolved alias is an error with the default options.
            _ => {}
        }
    }
    Ok(docs)
}

/// Attaches a finished node to its parent (or makes it the document's root), adding its cost.
fn add<'a>(stack: &mut [Frame<'a>], root: &mut Option<Node<'a>>, node: Node<'a>, cost: u64) {
    let Some(frame) = stack.last_mut() else {
        *root = Some(node);
        return;
    };
    frame.cost = frame.cost.saturating_add(cost);
    match &mut frame.body {
        Body::Seq(items) => items.push(node),
        Body::Map(entries, pending) => match pending.take() {
            Some(key) => entries.push((key, node)),
            None => *pending = Some(node),
        },
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
    match &mut frame.body {
        Body::Seq(items) => match items.last_mut() {
            Some(item) => item.anchor = Some(name),
            None => frame.node.anchor = Some(name),
        },
        Body::Map(entries, pending) => match (pending.as_mut(), entries.last_mut()) {
            (Some(key), _) => key.anchor = Some(name),
            (None, Some((_, value))) => value.anchor = Some(name),
            (None, None) => frame.node.anchor = Some(name),
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
    fn aliases_are_counted_expanded_and_a_bomb_is_refused_at_its_line() {
        // Ordinary anchors and aliases pass.
        let text = "base: &b {image: x, env: [a, b]}\none: *b\ntwo: *b\n";
        assert_eq!(parse(text).unwrap().len(), 1);
        // Each level repeats the one before ten times: 10^k copies of the first list at level k.
        let mut bomb = String::from("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..12 {
            let alias = format!("*l{}", level - 1);
            bomb.push_str(&format!(
                "l{level}: &l{level} [{}]\n",
                vec![alias; 10].join(", ")
            ));
        }
        let err = parse(&bomb).unwrap_err();
        let EditError::AliasExpansion { line, alias, .. } = &err else {
            panic!("{err:?}")
        };
        // 10^5 copies of `[x, ...]` (about 70 MB in a tree) cross the 16 MiB budget on line 6.
        assert_eq!((*line, alias.as_str()), (6, "l4"), "{err}");
    }

    #[test]
    fn a_syntax_error_has_a_line() {
        let err = parse("a: 1\nb: [\n").unwrap_err();
        assert!(matches!(err, EditError::InvalidYaml { .. }), "{err:?}");
    }
}
