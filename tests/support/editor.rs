//! Generators for the editor's property tests: YAML files with random formatting that record, while they
//! are written, the exact bytes of the model URI value, so that the test can check the editor's output
//! without trusting the editor's own parser.

use std::ops::Range;

use proptest::prelude::*;

/// How the URI value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    Single,
    Double,
    Literal,
    Folded,
}

/// One generated file.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The file's bytes.
    pub text: String,
    /// Where the target's value is written (quotes included; for a block scalar, its content line).
    pub span: Range<usize>,
    /// How it is written.
    pub style: Style,
    /// Whether it sits in a flow mapping.
    pub in_flow: bool,
    /// The target's name.
    pub name: String,
    /// The value, decoded.
    pub value: String,
    /// The line break used.
    pub eol: &'static str,
}

#[derive(Debug, Clone)]
pub struct Recipe {
    bom: bool,
    crlf: bool,
    final_newline: bool,
    leading_marker: bool,
    indent: usize,
    order: Vec<usize>,
    flow_spec: bool,
    style: Style,
    value: String,
    comment: Option<String>,
    trailing_spaces: usize,
    before: Vec<Other>,
    after: Vec<Other>,
    note: String,
    name_quoted: bool,
}

#[derive(Debug, Clone)]
pub enum Other {
    /// A Model whose name extends the target's (`NAME-v2`): must never be selected.
    LongerName(String),
    /// A ConfigMap with a `storageUri` data key: not a target.
    ConfigMap(String),
    /// A comment-only piece.
    Comment(String),
}

fn text() -> impl Strategy<Value = String> {
    // Printable text with multi-byte characters, no line breaks and no `#`-after-blank surprises in
    // comments (comments take anything).
    "[a-zA-Z0-9 é€😀ü/:._-]{0,20}"
}

/// Old values that are valid in every style (decoded form).
fn old_value() -> impl Strategy<Value = String> {
    "(s3|gs|pvc)://[a-z0-9]{1,8}/[a-zA-Z0-9é_./-]{0,20}"
}

/// New URIs, including characters that force quoting or escaping, and invalid ones.
pub fn new_uri() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "(s3|gs|https)://[a-z0-9]{1,8}/[a-zA-Z0-9é€_./?=&%~+-]{0,24}",
        2 => "[a-zA-Z0-9'\"\\\\#:,\\[\\]{}*&!|>@`%é-]{1,16}",
        1 => prop_oneof![Just("true".to_string()), Just("null".to_string()), Just("123".to_string()), Just("-x".to_string()), Just("s3://a:".to_string())],
        1 => "[a-z]{1,4}[ \t\u{7}\u{200b}][a-z]{0,4}",
    ]
}

fn other() -> impl Strategy<Value = Other> {
    prop_oneof![
        "[a-z]{1,3}".prop_map(Other::LongerName),
        old_value().prop_map(Other::ConfigMap),
        text().prop_map(Other::Comment),
    ]
}

fn style() -> impl Strategy<Value = Style> {
    prop_oneof![
        Just(Style::Plain),
        Just(Style::Single),
        Just(Style::Double),
        Just(Style::Literal),
        Just(Style::Folded)
    ]
}

prop_compose! {
    pub fn recipe()(
        bom in any::<bool>(),
        crlf in any::<bool>(),
        final_newline in any::<bool>(),
        leading_marker in any::<bool>(),
        indent in 1usize..5,
        order in Just(vec![0usize, 1, 2, 3]).prop_shuffle(),
        flow_spec in any::<bool>(),
        style in style(),
        value in old_value(),
        comment in proptest::option::of(text()),
        trailing_spaces in 0usize..3,
        before in proptest::collection::vec(other(), 0..3),
        after in proptest::collection::vec(other(), 0..3),
        note in text(),
        name_quoted in any::<bool>(),
    ) -> Recipe {
        Recipe { bom, crlf, final_newline, leading_marker, indent, order, flow_spec, style, value, comment,
                 trailing_spaces, before, after, note, name_quoted }
    }
}

fn single(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn double(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Writes the file a recipe describes.
pub fn render(r: &Recipe) -> Generated {
    const NAME: &str = "target-model";
    let eol: &'static str = if r.crlf { "\r\n" } else { "\n" };
    let i = " ".repeat(r.indent);
    let mut out = String::new();
    if r.bom {
        out.push('\u{feff}');
    }
    let mut first = true;
    let mut sep = |out: &mut String| {
        if !first || r.leading_marker {
            out.push_str("---");
            out.push_str(eol);
        }
        first = false;
    };
    for o in &r.before {
        sep(&mut out);
        other_doc(&mut out, o, NAME, &i, eol);
    }
    sep(&mut out);
    // A flow mapping cannot hold a block scalar.
    let style = if r.flow_spec && matches!(r.style, Style::Literal | Style::Folded) {
        Style::Double
    } else {
        r.style
    };
    let mut span = 0..0;
    for &part in &r.order {
        match part {
            0 => out.push_str(&format!("apiVersion: mlops.seldon.io/v1alpha1{eol}")),
            1 => out.push_str(&format!("kind: Model{eol}")),
            2 => {
                let name = if r.name_quoted {
                    double(NAME)
                } else {
                    NAME.to_string()
                };
                out.push_str(&format!(
                    "metadata:{eol}{i}name: {name}{eol}{i}annotations:{eol}{i}{i}note: {}{eol}",
                    single(&r.note)
                ));
            }
            _ => {
                let comment = r
                    .comment
                    .as_ref()
                    .map(|c| format!(" #{c}"))
                    .unwrap_or_default();
                let trailing = " ".repeat(r.trailing_spaces);
                if r.flow_spec {
                    out.push_str("spec: {storageUri: ");
                    let start = out.len();
                    out.push_str(&written(style, &r.value));
                    span = start..out.len();
                    out.push_str(&format!(", server: mlserver}}{trailing}{comment}{eol}"));
                } else {
                    out.push_str(&format!("spec:{eol}{i}storageUri: "));
                    match style {
                        Style::Literal | Style::Folded => {
                            let header = if style == Style::Literal { "|-" } else { ">-" };
                            out.push_str(&format!("{header}{trailing}{comment}{eol}{i}{i}"));
                            let start = out.len();
                            out.push_str(&r.value);
                            span = start..out.len();
                            out.push_str(eol);
                        }
                        _ => {
                            let start = out.len();
                            out.push_str(&written(style, &r.value));
                            span = start..out.len();
                            out.push_str(&format!("{trailing}{comment}{eol}"));
                        }
                    }
                    out.push_str(&format!("{i}server: mlserver{eol}"));
                }
            }
        }
    }
    for o in &r.after {
        sep(&mut out);
        other_doc(&mut out, o, NAME, &i, eol);
    }
    if !r.final_newline && out.ends_with(eol) && span.end < out.len() - eol.len() {
        out.truncate(out.len() - eol.len());
    }
    Generated {
        text: out,
        span,
        style,
        in_flow: r.flow_spec,
        name: NAME.to_string(),
        value: r.value.clone(),
        eol,
    }
}

fn written(style: Style, value: &str) -> String {
    match style {
        Style::Plain => value.to_string(),
        Style::Single => single(value),
        _ => double(value),
    }
}

fn other_doc(out: &mut String, o: &Other, name: &str, i: &str, eol: &str) {
    match o {
        Other::LongerName(suffix) => out.push_str(&format!(
            "apiVersion: mlops.seldon.io/v1alpha1{eol}kind: Model{eol}metadata:{eol}{i}name: {name}-{suffix}{eol}spec:{eol}{i}storageUri: s3://other/{suffix}{eol}"
        )),
        Other::ConfigMap(v) => out.push_str(&format!(
            "apiVersion: v1{eol}kind: ConfigMap{eol}metadata: {{name: {name}}}{eol}data:{eol}{i}storageUri: {}{eol}",
            double(v)
        )),
        Other::Comment(c) => out.push_str(&format!("# {c}{eol}")),
    }
}

/// Whether a URI is one the editor must accept (no blanks, controls or invisible characters).
pub fn acceptable_uri(uri: &str) -> bool {
    !uri.is_empty()
        && !uri.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c as u32, 0x200B..=0x200F | 0xFEFF)
        })
}
