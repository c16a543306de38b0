//! Writing a new value in the old value's style, and the checks on the new value itself.
//!
//! The rules are in the module doc of [`super`]. They are deliberately conservative: where there is any
//! doubt that a plain scalar would read back as the same string (under YAML 1.2, and under the YAML 1.1
//! rules that Kubernetes' Go decoder still applies), the value is quoted. The verify step checks the
//! outcome anyway; these rules make sure it does not have to refuse an edit that quoting would save.

use std::ops::Range;

use super::{EditError, ScalarStyle};

/// Checks that `uri` can be a model URI: not empty, no whitespace, no control or invisible formatting
/// characters (which could hide a different URI behind a familiar-looking one).
pub fn check_uri(uri: &str) -> Result<(), EditError> {
    let invalid = |reason: &str| {
        Err(EditError::InvalidUri {
            uri: uri.to_string(),
            reason: reason.to_string(),
        })
    };
    if uri.is_empty() {
        return invalid("it is empty");
    }
    if let Some(c) = uri.chars().find(|c| *c == '\n' || *c == '\r') {
        let _ = c;
        return invalid("it contains a line break");
    }
    if let Some(c) = uri.chars().find(|c| c.is_control()) {
        return invalid(&format!(
            "it contains the control character U+{:04X}",
            c as u32
        ));
    }
    if let Some(c) = uri.chars().find(|c| c.is_whitespace()) {
        return invalid(&format!("it contains whitespace (U+{:04X})", c as u32));
    }
    if let Some(c) = uri.chars().find(|c| is_invisible(*c)) {
        return invalid(&format!(
            "it contains the invisible formatting character U+{:04X}",
            c as u32
        ));
    }
    Ok(())
}

/// Zero-width and bidirectional formatting characters, the byte-order mark and non-characters.
fn is_invisible(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180B..=0x180F
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F
        | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFFB | 0xFFFE | 0xFFFF | 0xE0000..=0xE0FFF)
}

/// What to write where: a replacement for part of the old value's span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Splice {
    /// The bytes to replace, within the text that was parsed.
    pub range: Range<usize>,
    /// What to write there.
    pub text: String,
    /// The style of the value after the edit.
    pub style: ScalarStyle,
}

/// Why a value cannot be spliced (the caller adds the line and the name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpliceRefusal {
    /// The field has no value (`storageUri:` with nothing after it).
    Empty,
    /// A plain or quoted value written over several lines (YAML folds them into one, with a space or
    /// without, depending on the style and escapes).
    MultiLine,
    /// A block scalar holding more than one line.
    MultiLineBlock,
    /// A block scalar whose value ends with a line break (`|`, `>`, and the `+` chomping): the URI
    /// would be read with that line break.
    BlockLineBreak,
}

/// Whether a value, written as `written` in `style` and decoded as `value`, can be replaced in place by
/// a one-line URI without changing what the rest of the value means. Only a value that is one line
/// as written (plain, quoted) or one line without a final line break (a block scalar with `-`
/// chomping) can: anything else would be a guess about which part is the URI.
pub fn editable(written: &str, style: ScalarStyle, value: &str) -> Result<(), SpliceRefusal> {
    match style {
        ScalarStyle::Plain | ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => {
            if style == ScalarStyle::Plain && written.is_empty() {
                return Err(SpliceRefusal::Empty);
            }
            if written.contains(['\r', '\n']) {
                return Err(SpliceRefusal::MultiLine);
            }
        }
        ScalarStyle::Literal | ScalarStyle::Folded => {
            let content = value.trim_end_matches('\n');
            if content.is_empty() {
                return Err(SpliceRefusal::Empty);
            }
            if content.contains('\n') {
                return Err(SpliceRefusal::MultiLineBlock);
            }
            if content.len() != value.len() {
                return Err(SpliceRefusal::BlockLineBreak);
            }
        }
    }
    Ok(())
}

/// Renders `uri` to replace the scalar written as `text[span]` in `style`, decoded as `old`.
pub fn splice(
    text: &str,
    span: Range<usize>,
    style: ScalarStyle,
    old: &str,
    in_flow: bool,
    uri: &str,
) -> Result<Splice, SpliceRefusal> {
    editable(&text[span.clone()], style, old)?;
    match style {
        ScalarStyle::Plain => {
            let (text, style) = if plain_is_safe(uri, in_flow) {
                (uri.to_string(), ScalarStyle::Plain)
            } else if uri.contains(['"', '\\']) {
                (single_quoted(uri), ScalarStyle::SingleQuoted)
            } else {
                (double_quoted(uri), ScalarStyle::DoubleQuoted)
            };
            Ok(Splice {
                range: span,
                text,
                style,
            })
        }
        ScalarStyle::SingleQuoted => Ok(Splice {
            range: span,
            text: single_quoted(uri),
            style,
        }),
        ScalarStyle::DoubleQuoted => Ok(Splice {
            range: span,
            text: double_quoted(uri),
            style,
        }),
        ScalarStyle::Literal | ScalarStyle::Folded => {
            // The span covers the content lines; the value is that one line (`-` chomping, see
            // `editable`), followed by line breaks and blank lines that the chomping drops. Only the
            // line's text is replaced.
            let body = &text[span.clone()];
            let line_end = body.find(['\r', '\n']).unwrap_or(body.len());
            let rest = &body[line_end..];
            if &body[..line_end] != old
                || rest
                    .bytes()
                    .any(|b| !matches!(b, b'\r' | b'\n' | b' ' | b'\t'))
            {
                return Err(SpliceRefusal::MultiLineBlock);
            }
            Ok(Splice {
                range: span.start..span.start + line_end,
                text: uri.to_string(),
                style,
            })
        }
    }
}

/// `'...'` with `'` doubled: single quotes hold any printable text without escapes.
pub fn single_quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `"..."` with `\` and `"` escaped (control characters never reach here: [`check_uri`]).
pub fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Whether `s`, written as a plain scalar, reads back as the string `s` in every YAML resolver a
/// manifest meets (YAML 1.2 core schema, YAML 1.1 as in Go's yaml.v2 and PyYAML).
pub fn plain_is_safe(s: &str, in_flow: bool) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    // Indicators may not start a plain scalar. `-` may, when a non-blank follows (YAML 1.1 and 1.2
    // `ns-plain-first`): container arguments (`--model=...`) stay plain. `?` and `:` could as well; no
    // value needs them, so they are quoted.
    let dash_ok = first == '-'
        && !s.starts_with("---")
        && s[1..]
            .chars()
            .next()
            .is_some_and(|c| !(c.is_whitespace() || in_flow && ",[]{}".contains(c)));
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) && !dash_ok {
        return false;
    }
    // `: ` and ` #` end or break a plain scalar; a trailing `:` makes it a key. A URI has no blanks, so
    // only the trailing `:` can occur, but the rule is kept whole.
    if s.ends_with(':') || s.contains(": ") || s.contains(" #") || s.contains(":\t") {
        return false;
    }
    if in_flow && s.contains([',', '[', ']', '{', '}']) {
        return false;
    }
    !resolves_to_non_string(s)
}

/// Whether a plain scalar would be read as null, a boolean, a number, a date or a merge key by a YAML
/// 1.1 or 1.2 resolver. Over-approximates: anything that starts like a number counts.
fn resolves_to_non_string(s: &str) -> bool {
    const WORDS: [&str; 13] = [
        "null", "~", "true", "false", "yes", "no", "on", "off", "y", "n", "<<", "=", "",
    ];
    let lower = s.to_ascii_lowercase();
    if WORDS.contains(&lower.as_str()) {
        return true;
    }
    let unsigned = lower.strip_prefix(['+', '-']).unwrap_or(&lower);
    if unsigned.starts_with(|c: char| c.is_ascii_digit()) {
        return true;
    }
    if let Some(after_dot) = unsigned.strip_prefix('.') {
        return after_dot.starts_with(|c: char| c.is_ascii_digit())
            || after_dot == "inf"
            || after_dot == "nan";
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_with_blanks_controls_or_invisible_characters_are_refused() {
        assert!(check_uri("s3://bucket/m-1/artifacts/").is_ok());
        assert!(check_uri("gs://bücket/ü").is_ok());
        for bad in [
            "",
            "s3://a b",
            "s3://a\nb",
            "s3://a\rb",
            "s3://a\tb",
            "s3://a\u{7}",
            "s3://a\u{85}b",
            "s3://\u{202e}a",
            "s3://a\u{200b}",
            "s3://a\u{a0}",
        ] {
            assert!(
                matches!(check_uri(bad), Err(EditError::InvalidUri { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn plain_values_are_quoted_only_where_plain_would_read_differently() {
        for ok in [
            "s3://b/m-1/artifacts/",
            "gs://x/y?raw=true",
            "pvc://vol/path",
            "/mnt/models",
            "a#b",
            "x:y",
            "--model=s3://a/b",
            "-x",
        ] {
            assert!(plain_is_safe(ok, false), "{ok}");
        }
        for quoted in [
            "true",
            "No",
            "null",
            "~",
            "123",
            "1e3",
            "-1",
            ".5",
            ".inf",
            "0x1F",
            "2024-01-01",
            "*a",
            "&a",
            "!t",
            "- a",
            "-",
            "---x",
            "-.inf",
            "[a]",
            "a:",
            "'a",
            "\"a",
            "%x",
            "@x",
            "`x",
            "|",
            ">",
            "#x",
            "<<",
            "=",
        ] {
            assert!(!plain_is_safe(quoted, false), "{quoted}");
        }
        assert!(plain_is_safe("s3://a,b", false));
        assert!(!plain_is_safe("s3://a,b", true));
        assert!(!plain_is_safe("s3://a{b}", true));
        assert!(!plain_is_safe("-[a", true));
    }

    #[test]
    fn each_style_is_kept() {
        let text = "a: 'x'\nb: \"y\"\nc: z\n";
        let s = splice(text, 3..6, ScalarStyle::SingleQuoted, "x", false, "it's").unwrap();
        assert_eq!(s.text, "'it''s'");
        let s = splice(
            text,
            10..13,
            ScalarStyle::DoubleQuoted,
            "y",
            false,
            "a\"b\\c",
        )
        .unwrap();
        assert_eq!(s.text, r#""a\"b\\c""#);
        let s = splice(text, 17..18, ScalarStyle::Plain, "z", false, "s3://n").unwrap();
        assert_eq!((s.text.as_str(), s.style), ("s3://n", ScalarStyle::Plain));
        let s = splice(text, 17..18, ScalarStyle::Plain, "z", false, "true").unwrap();
        assert_eq!(
            (s.text.as_str(), s.style),
            ("\"true\"", ScalarStyle::DoubleQuoted)
        );
        let s = splice(text, 17..18, ScalarStyle::Plain, "z", false, "1\"").unwrap();
        assert_eq!(
            (s.text.as_str(), s.style),
            ("'1\"'", ScalarStyle::SingleQuoted)
        );
    }

    #[test]
    fn block_scalars_keep_header_indentation_and_line_breaks() {
        let text = "k: |-\r\n  s3://x\r\n\r\nz: 1\r\n";
        let start = text.find("s3").unwrap();
        let s = splice(
            text,
            start..start + 8,
            ScalarStyle::Literal,
            "s3://x",
            false,
            "gs://y",
        )
        .unwrap();
        assert_eq!(s.range, start..start + 6);
        let text = "k: |\n  s3://x\n  more\n";
        let start = text.find("s3").unwrap();
        let err = splice(
            text,
            start..text.len(),
            ScalarStyle::Literal,
            "s3://x\nmore\n",
            false,
            "gs://y",
        );
        assert_eq!(err, Err(SpliceRefusal::MultiLineBlock));
    }

    #[test]
    fn an_empty_value_is_refused() {
        let err = splice("k:\n", 1..1, ScalarStyle::Plain, "", false, "s3://x");
        assert_eq!(err, Err(SpliceRefusal::Empty));
    }
}
