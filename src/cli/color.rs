//! Colour on a terminal: whether to use it, and the few styles the text output uses.
//!
//! Precedence: `--color auto|always|never`, then `MODELBUMP_COLOR` (same values), then `NO_COLOR` (set
//! and not empty: never), then auto, which colours a stream only when it is a terminal. stdout and
//! stderr are decided apart, so `modelbump plan | less` has plain text while the logs on the terminal
//! keep their colour. Without colour the text is byte for byte what it is with it, less the escape
//! codes: colour never carries meaning that the words do not, and padding is computed on the plain text.

use clap::ValueEnum;

use crate::env::Env;

/// When to colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ColorChoice {
    /// On a terminal, unless NO_COLOR is set
    Auto,
    /// Always, also into a pipe or a file
    Always,
    /// Never
    Never,
}

/// A value of `MODELBUMP_COLOR` that is not one of the choices.
#[derive(Debug, thiserror::Error)]
#[error("invalid value '{0}' for MODELBUMP_COLOR: possible values: auto, always, never")]
pub(crate) struct BadColor(pub(crate) String);

/// Whether to colour a stream that is (`is_tty`) or is not a terminal.
pub(crate) fn enabled(
    flag: Option<ColorChoice>,
    env: &Env,
    is_tty: bool,
) -> Result<bool, BadColor> {
    let from_env = match env
        .get("MODELBUMP_COLOR")
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        Some(v) => Some(ColorChoice::from_str(v, true).map_err(|_| BadColor(v.to_string()))?),
        None => None,
    };
    Ok(match flag.or(from_env).unwrap_or(ColorChoice::Auto) {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => is_tty && env.get("NO_COLOR").is_none_or(str::is_empty),
    })
}

/// The styles of the text output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// A change: `changed`, an added diff line.
    Added,
    /// A removed diff line, a failure.
    Removed,
    /// Kept on purpose: `blocked`.
    Warn,
    /// Informational: `pinned`, hunk headers.
    Info,
    /// Nothing to do: `unchanged`.
    Dim,
    /// Headings: the summary line, file headers of the diff.
    Bold,
}

/// `text` in `style` when `on`, else `text` as it is.
pub(crate) fn paint(on: bool, style: Style, text: &str) -> String {
    if !on || text.is_empty() {
        return text.to_string();
    }
    let code = match style {
        Style::Added => "32",
        Style::Removed => "31",
        Style::Warn => "33",
        Style::Info => "36",
        Style::Dim => "2",
        Style::Bold => "1",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// A unified diff with `+`, `-` and `@@` lines coloured when `on`.
pub(crate) fn diff(on: bool, text: &str) -> String {
    if !on {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.split_inclusive('\n') {
        let (body, end) = match line.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (line, ""),
        };
        let style =
            if body.starts_with("diff --git") || body.starts_with("+++") || body.starts_with("---")
            {
                Some(Style::Bold)
            } else if body.starts_with('+') {
                Some(Style::Added)
            } else if body.starts_with('-') {
                Some(Style::Removed)
            } else if body.starts_with("@@") {
                Some(Style::Info)
            } else {
                None
            };
        match style {
            Some(style) => out.push_str(&paint(true, style, body)),
            None => out.push_str(body),
        }
        out.push_str(end);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn flag_beats_variable_beats_no_color_beats_auto() {
        assert!(enabled(None, &env(&[]), true).unwrap());
        assert!(!enabled(None, &env(&[]), false).unwrap());
        assert!(!enabled(None, &env(&[("NO_COLOR", "1")]), true).unwrap());
        assert!(enabled(None, &env(&[("NO_COLOR", "")]), true).unwrap());
        assert!(
            enabled(
                None,
                &env(&[("MODELBUMP_COLOR", "always"), ("NO_COLOR", "1")]),
                false
            )
            .unwrap()
        );
        assert!(!enabled(None, &env(&[("MODELBUMP_COLOR", "never")]), true).unwrap());
        assert!(
            !enabled(
                Some(ColorChoice::Never),
                &env(&[("MODELBUMP_COLOR", "always")]),
                true
            )
            .unwrap()
        );
        assert!(enabled(Some(ColorChoice::Always), &env(&[("NO_COLOR", "1")]), false).unwrap());
        assert!(enabled(None, &env(&[("MODELBUMP_COLOR", "sometimes")]), true).is_err());
    }

    #[test]
    fn plain_text_is_untouched_and_diffs_are_coloured_per_line() {
        assert_eq!(paint(false, Style::Added, "changed"), "changed");
        assert_eq!(
            paint(true, Style::Added, "changed"),
            "\x1b[32mchanged\x1b[0m"
        );
        let text = "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new\n same\n";
        assert_eq!(diff(false, text), text);
        let coloured = diff(true, text);
        assert!(coloured.contains("\x1b[31m-old\x1b[0m\n"), "{coloured:?}");
        assert!(coloured.contains("\x1b[32m+new\x1b[0m\n"), "{coloured:?}");
        assert!(coloured.ends_with(" same\n"));
    }
}
