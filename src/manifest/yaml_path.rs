//! YAML paths: where a field is in a document, as users write it in a path target
//! (`servingEngineSpec.modelSpec[name=llama3].modelURL`).
//!
//! # Syntax
//! - Keys are separated by dots: `spec.model.storageUri`.
//! - `[N]` is the item at index `N` (from 0) of a sequence: `args[11]`.
//! - `[key=value]` is every item of a sequence that is a mapping whose `key` holds the scalar `value`:
//!   `containers[name=server].env[name=MODEL_ID].value`.
//! - A key (or, inside brackets, a key or value) that is empty or holds a dot, a space, `[`, `]`, `=`, `"` or
//!   `\` is written in double quotes, with `\"` and `\\` for a quote and a backslash:
//!   `metadata.annotations."example.com/model"`.
//!
//! A path is looked up ([`YamlPath::lookup`]) in one document's tree; the editor looks it up in every
//! document of a file, or only in the one [`YamlPath::in_document`] names (a target's `document:`), and
//! wants exactly one value ([`super::find_path`]). Aliases are not followed: a
//! path through `*x` matches nothing there, and a path that ends at an alias matches it (and the edit
//! refuses it, as it refuses every alias).

use std::fmt;

use super::tree::Seg;
use super::tree::{Node, NodeKind};

/// One step of a [`YamlPath`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Step {
    /// The value of a mapping key.
    Key(String),
    /// The item at an index of a sequence.
    Index(usize),
    /// Every item of a sequence that is a mapping whose `key` holds the scalar `value`.
    Select {
        /// The key looked at in each item.
        key: String,
        /// The value it must hold.
        value: String,
    },
}

/// A parsed YAML path (see the module doc for the syntax).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct YamlPath {
    steps: Vec<Step>,
    /// The one document of the file the path is looked up in (from 0), `None` for every document.
    document: Option<usize>,
}

/// Why a path does not parse. `at` is the 0-based character position in the path as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid YAML path {path:?} at character {}: {reason}", at + 1)]
pub struct PathError {
    /// The path as given.
    pub path: String,
    /// Where the problem is (0-based, in characters).
    pub at: usize,
    /// What is wrong, and what is expected.
    pub reason: String,
}

/// One value a path reached.
#[derive(Debug, Clone)]
pub struct Match<'t, 'a> {
    /// The node (a scalar, an alias, or a collection).
    pub node: &'t Node<'a>,
    /// The concrete path to it (selections resolved to indexes).
    pub segs: Vec<Seg>,
}

impl YamlPath {
    /// Parses a path (see the module doc).
    pub fn parse(path: &str) -> Result<Self, PathError> {
        let chars: Vec<char> = path.chars().collect();
        let fail = |at: usize, reason: &str| PathError {
            path: path.to_string(),
            at,
            reason: reason.to_string(),
        };
        let mut steps = Vec::new();
        let mut i = 0;
        if chars.is_empty() {
            return Err(fail(
                0,
                "the path is empty; write keys separated by dots, e.g. spec.model.uri",
            ));
        }
        loop {
            // A key (not at the start if the path starts with a bracket, which is allowed for a
            // document that is a sequence).
            if !(i == 0 && chars[0] == '[') {
                let (key, next) = word(&chars, i, &['.', '[']).map_err(|(at, r)| fail(at, &r))?;
                if key.is_empty() {
                    return Err(fail(
                        i,
                        "a key is missing here (write an empty key as \"\")",
                    ));
                }
                steps.push(Step::Key(key.value));
                i = next;
            }
            while i < chars.len() && chars[i] == '[' {
                let (step, next) = bracket(&chars, i).map_err(|(at, r)| fail(at, &r))?;
                steps.push(step);
                i = next;
            }
            match chars.get(i) {
                None => break,
                Some('.') => {
                    i += 1;
                    if i == chars.len() {
                        return Err(fail(
                            i - 1,
                            "the path ends with a dot; a key must follow it",
                        ));
                    }
                }
                Some(c) => {
                    return Err(fail(
                        i,
                        &format!("expected `.`, `[` or the end of the path, found {c:?}"),
                    ));
                }
            }
        }
        Ok(Self {
            steps,
            document: None,
        })
    }

    /// The steps, in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// A path of plain keys and indexes, as the editor records where a value is.
    pub fn from_segs(segs: &[Seg]) -> Self {
        Self {
            steps: segs
                .iter()
                .map(|s| match s {
                    Seg::Key(k) => Step::Key(k.clone()),
                    Seg::Index(i) => Step::Index(*i),
                })
                .collect(),
            document: None,
        }
    }

    /// Every node the path reaches from `root`, in document order; and, when it reaches none, how far
    /// it got (the longest prefix that matched something, as a path).
    pub fn lookup<'t, 'a>(&self, root: &'t Node<'a>) -> (Vec<Match<'t, 'a>>, usize) {
        let mut current = vec![Match {
            node: root,
            segs: Vec::new(),
        }];
        for (depth, step) in self.steps.iter().enumerate() {
            let mut next = Vec::new();
            for m in &current {
                match step {
                    Step::Key(key) => {
                        // Duplicate keys: every one is a match, which makes the lookup ambiguous
                        // rather than picking one as parsers disagree about which.
                        for (k, v) in m.node.entries() {
                            if k.as_str() == Some(key) {
                                next.push(m.then(v, Seg::Key(key.clone())));
                            }
                        }
                    }
                    Step::Index(i) => {
                        if let Some(item) = m.node.items().get(*i) {
                            next.push(m.then(item, Seg::Index(*i)));
                        }
                    }
                    Step::Select { key, value } => {
                        for (i, item) in m.node.items().iter().enumerate() {
                            let holds = item
                                .entries()
                                .iter()
                                .any(|(k, v)| k.as_str() == Some(key) && v.as_str() == Some(value));
                            if holds {
                                next.push(m.then(item, Seg::Index(i)));
                            }
                        }
                    }
                }
            }
            if next.is_empty() {
                return (next, depth);
            }
            current = next;
        }
        (current, self.steps.len())
    }

    /// A path of the given steps.
    pub fn from_steps(steps: Vec<Step>) -> Self {
        Self {
            steps,
            document: None,
        }
    }

    /// The same path, looked up only in the document at `index` (from 0) of a multi-document file.
    pub fn in_document(self, index: usize) -> Self {
        Self {
            document: Some(index),
            ..self
        }
    }

    /// The document the path is looked up in, `None` for every document.
    pub fn document(&self) -> Option<usize> {
        self.document
    }

    /// The first `n` steps, for messages.
    pub fn prefix(&self, n: usize) -> Self {
        Self {
            steps: self.steps[..n.min(self.steps.len())].to_vec(),
            document: None,
        }
    }
}

impl<'t, 'a> Match<'t, 'a> {
    fn then(&self, node: &'t Node<'a>, seg: Seg) -> Self {
        let mut segs = self.segs.clone();
        segs.push(seg);
        Match { node, segs }
    }

    /// Whether the node is a scalar or an alias (a value, not a collection).
    pub fn is_value(&self) -> bool {
        matches!(self.node.kind, NodeKind::Scalar { .. } | NodeKind::Alias(_))
    }
}

impl std::str::FromStr for YamlPath {
    type Err = PathError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for YamlPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.steps.iter().enumerate() {
            match step {
                Step::Key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(&quoted(k))?;
                }
                Step::Index(n) => write!(f, "[{n}]")?,
                Step::Select { key, value } => write!(f, "[{}={}]", quoted(key), quoted(value))?,
            }
        }
        Ok(())
    }
}

/// A key or value as written in a path: in double quotes where it needs them.
fn quoted(s: &str) -> String {
    let needs = s.is_empty()
        || s.chars()
            .any(|c| matches!(c, '.' | '[' | ']' | '=' | '"' | '\\') || c.is_whitespace());
    if !needs {
        return s.to_string();
    }
    super::splice::double_quoted(s)
}

/// A word read from a path, and whether it was quoted.
struct Word {
    value: String,
    quoted: bool,
}

impl Word {
    fn is_empty(&self) -> bool {
        self.value.is_empty() && !self.quoted
    }
}

/// Reads a key or value starting at `i`, up to one of `stops` (or the end). Returns the word and the
/// position after it.
fn word(chars: &[char], mut i: usize, stops: &[char]) -> Result<(Word, usize), (usize, String)> {
    if chars.get(i) == Some(&'"') {
        let start = i;
        i += 1;
        let mut value = String::new();
        loop {
            match chars.get(i) {
                None => return Err((start, "this quote is never closed".into())),
                Some('"') => {
                    return Ok((
                        Word {
                            value,
                            quoted: true,
                        },
                        i + 1,
                    ));
                }
                Some('\\') => match chars.get(i + 1) {
                    Some(c @ ('"' | '\\')) => {
                        value.push(*c);
                        i += 2;
                    }
                    _ => {
                        return Err((
                            i,
                            "only \\\" and \\\\ may follow a backslash in quotes".into(),
                        ));
                    }
                },
                Some(c) => {
                    value.push(*c);
                    i += 1;
                }
            }
        }
    }
    let mut value = String::new();
    while let Some(&c) = chars.get(i) {
        if stops.contains(&c) {
            break;
        }
        if c.is_whitespace() || matches!(c, '"' | '\\' | '[' | ']') {
            let what = if c.is_whitespace() {
                "a space".to_string()
            } else {
                format!("{c:?}")
            };
            return Err((
                i,
                format!("{what} here must be inside a double-quoted key or value (\"...\")"),
            ));
        }
        value.push(c);
        i += 1;
    }
    Ok((
        Word {
            value,
            quoted: false,
        },
        i,
    ))
}

/// Reads `[N]` or `[key=value]` starting at the `[` at `i`.
fn bracket(chars: &[char], i: usize) -> Result<(Step, usize), (usize, String)> {
    let open = i;
    let inner = i + 1;
    // An index.
    let digits: String = chars[inner..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    if !digits.is_empty() && chars.get(inner + digits.len()) == Some(&']') {
        let n = digits
            .parse::<usize>()
            .map_err(|_| (inner, format!("the index {digits} is too large")))?;
        return Ok((Step::Index(n), inner + digits.len() + 1));
    }
    let (key, at) = word(chars, inner, &['=', ']'])?;
    if key.is_empty() {
        return Err((
            inner,
            "expected an index `[0]` or a selection `[key=value]`".into(),
        ));
    }
    if chars.get(at) != Some(&'=') {
        return Err((
            open,
            "a bracket holds an index `[0]` or a selection `[key=value]` (e.g. [name=server])"
                .into(),
        ));
    }
    let (value, end) = word(chars, at + 1, &[']'])?;
    if value.is_empty() {
        return Err((
            at + 1,
            "the value to select by is missing (write an empty value as \"\")".into(),
        ));
    }
    if chars.get(end) != Some(&']') {
        return Err((open, "this bracket is never closed with `]`".into()));
    }
    Ok((
        Step::Select {
            key: key.value,
            value: value.value,
        },
        end + 1,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::tree;

    fn p(s: &str) -> YamlPath {
        YamlPath::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn parses_keys_indexes_selections_and_quoted_keys() {
        assert_eq!(
            p("spec.template.spec.containers[name=server].env[name=MODEL_ID].value").steps(),
            [
                Step::Key("spec".into()),
                Step::Key("template".into()),
                Step::Key("spec".into()),
                Step::Key("containers".into()),
                Step::Select {
                    key: "name".into(),
                    value: "server".into()
                },
                Step::Key("env".into()),
                Step::Select {
                    key: "name".into(),
                    value: "MODEL_ID".into()
                },
                Step::Key("value".into()),
            ]
        );
        assert_eq!(
            p(r#"a."b.c d"[3][2]."x\"y".z"#).steps(),
            [
                Step::Key("a".into()),
                Step::Key("b.c d".into()),
                Step::Index(3),
                Step::Index(2),
                Step::Key("x\"y".into()),
                Step::Key("z".into()),
            ]
        );
        assert_eq!(
            p(r#"[0].l[k="a b"]"#).steps(),
            [
                Step::Index(0),
                Step::Key("l".into()),
                Step::Select {
                    key: "k".into(),
                    value: "a b".into()
                },
            ]
        );
        assert_eq!(
            p("a[name=v1.2]").steps()[1],
            Step::Select {
                key: "name".into(),
                value: "v1.2".into()
            }
        );
    }

    #[test]
    fn display_reads_back_as_the_same_path() {
        for s in [
            "spec.model.storageUri",
            "servingEngineSpec.modelSpec[name=llama3].modelURL",
            r#"a."b.c d"[3]."x\"y\\"[k="a=b"].""[""="x]"]"#,
            "[0].a",
        ] {
            let path = p(s);
            assert_eq!(path.to_string(), s);
            assert_eq!(p(&path.to_string()), path);
        }
    }

    #[test]
    fn errors_say_where_and_what() {
        for (bad, at, want) in [
            ("", 0, "empty"),
            ("a..b", 2, "key is missing"),
            ("a.", 1, "ends with a dot"),
            ("a b", 1, "a space"),
            ("a[x]", 1, "index `[0]` or a selection"),
            ("a[1", 1, "index `[0]` or a selection"),
            ("a[k=v", 1, "never closed"),
            ("a[k=]", 4, "value to select by is missing"),
            ("a.\"b", 2, "quote is never closed"),
            ("a[0]b", 4, "expected `.`, `[` or the end"),
            ("a[]", 2, "expected an index"),
        ] {
            let err = YamlPath::parse(bad).unwrap_err();
            assert_eq!(
                (err.at, err.reason.contains(want)),
                (at, true),
                "{bad:?}: {err}"
            );
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn lookup_resolves_selections_to_indexes_and_reports_how_far_it_got() {
        let text = "spec:\n  containers:\n  - name: a\n    args: [x, y]\n  - name: b\n    env:\n    - {name: M, value: v}\n  - name: b\n";
        let docs = tree::parse(text).unwrap();
        let root = docs[0].root.as_ref().unwrap();
        let (found, _) = p("spec.containers[name=b].env[name=M].value").lookup(root);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].node.as_str(), Some("v"));
        assert_eq!(
            YamlPath::from_segs(&found[0].segs).to_string(),
            "spec.containers[1].env[0].value"
        );
        let (found, _) = p("spec.containers[0].args[1]").lookup(root);
        assert_eq!(found[0].node.as_str(), Some("y"));
        let (found, _) = p("spec.containers[name=b]").lookup(root);
        assert_eq!(found.len(), 2);
        let (found, depth) = p("spec.containers[name=c].env").lookup(root);
        assert!(found.is_empty());
        assert_eq!(
            p("spec.containers[name=c].env").prefix(depth).to_string(),
            "spec.containers"
        );
    }
}
