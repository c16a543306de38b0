//! Value templates: what a field holds when it holds more (or less) than the whole model URI, e.g.
//! `--model={uri}` in a container argument or `{bucket}` and `{path}` in two fields.
//!
//! A template is text with placeholders in braces; `{{` and `}}` stand for a literal brace. The
//! placeholders are those of [`Placeholder`]:
//!
//! | placeholder       | value                                                                       |
//! | ----------------- | --------------------------------------------------------------------------- |
//! | `{uri}`           | the model's storage URI, as resolved (after any rewrite)                    |
//! | `{scheme}`        | the URI's scheme: `s3` in `s3://bucket/a/b`                                 |
//! | `{bucket}`        | the URI's authority: `bucket` in `s3://bucket/a/b`                          |
//! | `{path}`          | the URI after the authority, without the leading `/`: `a/b`                 |
//! | `{name}`          | the registered model's name                                                 |
//! | `{version}`       | the registered model version                                                |
//! | `{model_id}`      | the logged model's id (`m-...`)                                             |
//! | `{run_id}`        | the id of the run that produced the model                                   |
//! | `{experiment_id}` | the id of the run's experiment                                              |
//!
//! An unknown placeholder, an unclosed brace and a template without any placeholder are errors when the
//! template is parsed (at config load). Before a field is rewritten, its current value must match the
//! template ([`Template::matches`]): the literal parts exactly, each placeholder some non-empty text
//! (the same text wherever the same placeholder repeats), so that a field holding something else is
//! never overwritten.

use std::collections::BTreeMap;
use std::fmt;

/// A placeholder of a [`Template`] (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Placeholder {
    /// `{uri}`
    Uri,
    /// `{scheme}`
    Scheme,
    /// `{bucket}`
    Bucket,
    /// `{path}`
    Path,
    /// `{name}`
    Name,
    /// `{version}`
    Version,
    /// `{model_id}`
    ModelId,
    /// `{run_id}`
    RunId,
    /// `{experiment_id}`
    ExperimentId,
}

impl Placeholder {
    /// Every placeholder, in the order of the module doc.
    pub const ALL: [Placeholder; 9] = [
        Self::Uri,
        Self::Scheme,
        Self::Bucket,
        Self::Path,
        Self::Name,
        Self::Version,
        Self::ModelId,
        Self::RunId,
        Self::ExperimentId,
    ];

    /// The name written between the braces.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Uri => "uri",
            Self::Scheme => "scheme",
            Self::Bucket => "bucket",
            Self::Path => "path",
            Self::Name => "name",
            Self::Version => "version",
            Self::ModelId => "model_id",
            Self::RunId => "run_id",
            Self::ExperimentId => "experiment_id",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// One part of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Hole(Placeholder),
}

/// A parsed value template (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    written: String,
    parts: Vec<Part>,
}

/// Why a template does not parse or cannot be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// A `{name}` that is not a placeholder.
    #[error("template {template:?}: unknown placeholder {{{name}}}; the placeholders are {known}")]
    Unknown {
        /// The template.
        template: String,
        /// The unknown name.
        name: String,
        /// The known placeholders, comma-separated.
        known: String,
    },
    /// A brace that is not part of a placeholder or of `{{` / `}}`.
    #[error("template {template:?}: {reason} at character {}; write a literal brace as {{{{ or }}}}", at + 1)]
    Syntax {
        /// The template.
        template: String,
        /// Where (0-based, in characters).
        at: usize,
        /// What is wrong.
        reason: String,
    },
    /// A template without placeholders would write the same text for every model.
    #[error(
        "template {template:?} holds no placeholder; use {{uri}} (or another placeholder) where the model goes"
    )]
    NoPlaceholder {
        /// The template.
        template: String,
    },
    /// The value of a placeholder is not known for this model.
    #[error("template {template:?}: {{{placeholder}}} has no value: {reason}")]
    Missing {
        /// The template.
        template: String,
        /// The placeholder.
        placeholder: &'static str,
        /// Why.
        reason: String,
    },
}

/// What a template is rendered with: the resolved model. `{scheme}`, `{bucket}` and `{path}` are taken
/// from `uri`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateValues {
    /// The storage URI.
    pub uri: String,
    /// The registered model's name.
    pub name: Option<String>,
    /// The model version.
    pub version: Option<String>,
    /// The logged model's id.
    pub model_id: Option<String>,
    /// The run id.
    pub run_id: Option<String>,
    /// The experiment id.
    pub experiment_id: Option<String>,
}

impl TemplateValues {
    /// The value of one placeholder, or why there is none.
    pub fn get(&self, p: Placeholder) -> Result<String, String> {
        let split = || -> Result<(&str, &str, &str), String> {
            let (scheme, rest) = self
                .uri
                .split_once("://")
                .ok_or_else(|| format!("the URI {:?} has no scheme (`scheme://`)", self.uri))?;
            let (bucket, path) = rest.split_once('/').unwrap_or((rest, ""));
            Ok((scheme, bucket, path))
        };
        let known = |v: &Option<String>, what: &str| {
            v.clone()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("the resolved model has no {what}"))
        };
        let value = match p {
            Placeholder::Uri => Ok(self.uri.clone()),
            Placeholder::Scheme => split().map(|(s, _, _)| s.to_string()),
            Placeholder::Bucket => split().map(|(_, b, _)| b.to_string()),
            Placeholder::Path => split().map(|(_, _, p)| p.to_string()),
            Placeholder::Name => known(&self.name, "registered model name"),
            Placeholder::Version => known(&self.version, "model version"),
            Placeholder::ModelId => known(&self.model_id, "logged model id"),
            Placeholder::RunId => known(&self.run_id, "run id"),
            Placeholder::ExperimentId => known(&self.experiment_id, "experiment id"),
        }?;
        if value.is_empty() {
            return Err(format!("it would be empty (from the URI {:?})", self.uri));
        }
        Ok(value)
    }
}

impl Template {
    /// The template of a field that holds the whole URI.
    pub fn whole_uri() -> Self {
        Self {
            written: "{uri}".into(),
            parts: vec![Part::Hole(Placeholder::Uri)],
        }
    }

    /// Parses a template (see the module doc).
    pub fn parse(template: &str) -> Result<Self, TemplateError> {
        let chars: Vec<char> = template.chars().collect();
        let syntax = |at: usize, reason: &str| TemplateError::Syntax {
            template: template.to_string(),
            at,
            reason: reason.to_string(),
        };
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut i = 0;
        while i < chars.len() {
            match (chars[i], chars.get(i + 1)) {
                ('{', Some('{')) | ('}', Some('}')) => {
                    literal.push(chars[i]);
                    i += 2;
                }
                ('{', _) => {
                    let close = chars[i + 1..]
                        .iter()
                        .position(|&c| c == '}')
                        .map(|n| i + 1 + n)
                        .ok_or_else(|| syntax(i, "this `{` is never closed"))?;
                    let name: String = chars[i + 1..close].iter().collect();
                    let hole =
                        Placeholder::parse(name.trim()).ok_or_else(|| TemplateError::Unknown {
                            template: template.to_string(),
                            name: name.clone(),
                            known: Placeholder::ALL
                                .iter()
                                .map(|p| format!("{{{}}}", p.as_str()))
                                .collect::<Vec<_>>()
                                .join(", "),
                        })?;
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Hole(hole));
                    i = close + 1;
                }
                ('}', _) => return Err(syntax(i, "this `}` closes nothing")),
                (c, _) => {
                    literal.push(c);
                    i += 1;
                }
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        if !parts.iter().any(|p| matches!(p, Part::Hole(_))) {
            return Err(TemplateError::NoPlaceholder {
                template: template.to_string(),
            });
        }
        Ok(Self {
            written: template.to_string(),
            parts,
        })
    }

    /// The placeholders the template uses, each once, in order of appearance.
    pub fn placeholders(&self) -> Vec<Placeholder> {
        let mut out = Vec::new();
        for part in &self.parts {
            if let Part::Hole(p) = part
                && !out.contains(p)
            {
                out.push(*p);
            }
        }
        out
    }

    /// Whether `current` is a value of this template: the literal parts as they are, each placeholder
    /// non-empty text, the same text where a placeholder repeats.
    pub fn matches(&self, current: &str) -> bool {
        self.capture(current).is_some()
    }

    /// The text each placeholder stands for in `current`, if it matches (the first way it matches).
    pub fn capture(&self, current: &str) -> Option<BTreeMap<Placeholder, String>> {
        let mut bound = BTreeMap::new();
        capture(&self.parts, current, &mut bound).then_some(bound)
    }

    /// The value for a resolved model.
    pub fn render(&self, values: &TemplateValues) -> Result<String, TemplateError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Hole(p) => {
                    let value = values.get(*p).map_err(|reason| TemplateError::Missing {
                        template: self.written.clone(),
                        placeholder: p.as_str(),
                        reason,
                    })?;
                    out.push_str(&value);
                }
            }
        }
        Ok(out)
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.written
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

impl std::str::FromStr for Template {
    type Err = TemplateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Backtracking match of `parts` against `text`. Templates hold a handful of parts, so the search is
/// tiny.
fn capture(parts: &[Part], text: &str, bound: &mut BTreeMap<Placeholder, String>) -> bool {
    match parts.split_first() {
        None => text.is_empty(),
        Some((Part::Literal(lit), rest)) => text
            .strip_prefix(lit.as_str())
            .is_some_and(|t| capture(rest, t, bound)),
        Some((Part::Hole(p), rest)) => {
            if let Some(value) = bound.get(p).cloned() {
                return text
                    .strip_prefix(value.as_str())
                    .is_some_and(|t| capture(rest, t, bound));
            }
            // Non-empty text: every end from the second character's start to the end of the text.
            let ends = text.char_indices().skip(1).map(|(i, _)| i);
            for end in ends.chain(std::iter::once(text.len())).filter(|&e| e > 0) {
                bound.insert(*p, text[..end].to_string());
                if capture(rest, &text[end..], bound) {
                    return true;
                }
                bound.remove(p);
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Template {
        Template::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    fn values() -> TemplateValues {
        TemplateValues {
            uri: "gs://bucket/final/m-1/artifacts".into(),
            name: Some("gemma".into()),
            version: Some("7".into()),
            model_id: Some("m-1".into()),
            run_id: Some("r1".into()),
            experiment_id: None,
        }
    }

    #[test]
    fn renders_every_placeholder_and_literal_braces() {
        let v = values();
        assert_eq!(
            t("--model={uri}").render(&v).unwrap(),
            "--model=gs://bucket/final/m-1/artifacts"
        );
        assert_eq!(
            t("load_parameters_path={uri}").render(&v).unwrap(),
            "load_parameters_path=gs://bucket/final/m-1/artifacts"
        );
        assert_eq!(
            t("{scheme}|{bucket}|{path}").render(&v).unwrap(),
            "gs|bucket|final/m-1/artifacts"
        );
        assert_eq!(
            t("models:/{name}/{version} {model_id} {run_id}")
                .render(&v)
                .unwrap(),
            "models:/gemma/7 m-1 r1"
        );
        assert_eq!(
            t("{{x}}={uri}").render(&v).unwrap(),
            "{x}=gs://bucket/final/m-1/artifacts"
        );
        let err = t("{experiment_id}").render(&v).unwrap_err();
        assert!(err.to_string().contains("no experiment id"), "{err}");
        let bare = TemplateValues {
            uri: "/mnt/models".into(),
            ..Default::default()
        };
        assert!(
            t("{bucket}")
                .render(&bare)
                .unwrap_err()
                .to_string()
                .contains("no scheme")
        );
    }

    #[test]
    fn unknown_placeholders_and_stray_braces_are_errors() {
        let err = Template::parse("--model={url}").unwrap_err();
        assert!(
            matches!(&err, TemplateError::Unknown { name, .. } if name == "url"),
            "{err}"
        );
        assert!(err.to_string().contains("{uri}, {scheme}"), "{err}");
        assert!(matches!(
            Template::parse("a{uri"),
            Err(TemplateError::Syntax { at: 1, .. })
        ));
        assert!(matches!(
            Template::parse("a}{uri}"),
            Err(TemplateError::Syntax { at: 1, .. })
        ));
        assert!(matches!(
            Template::parse("plain"),
            Err(TemplateError::NoPlaceholder { .. })
        ));
        assert!(matches!(
            Template::parse("{{uri}}"),
            Err(TemplateError::NoPlaceholder { .. })
        ));
    }

    #[test]
    fn matching_needs_the_literal_parts_and_non_empty_placeholders() {
        let arg = t("--model={uri}");
        assert!(arg.matches("--model=s3://a/b"));
        assert!(!arg.matches("--model="));
        assert!(!arg.matches("--port=8000"));
        assert!(!arg.matches("x--model=s3://a"));
        let kv = t("load_parameters_path={uri}");
        assert!(kv.matches("load_parameters_path=gs://$BUCKET_NAME/final/items"));
        let two = t("{bucket}/{path}");
        assert_eq!(
            two.capture("b/x/y")
                .unwrap()
                .into_iter()
                .collect::<Vec<_>>(),
            [
                (Placeholder::Bucket, "b".to_string()),
                (Placeholder::Path, "x/y".to_string())
            ]
        );
        let twice = t("{uri} and {uri}");
        assert!(twice.matches("a and a"));
        assert!(!twice.matches("a and b"));
        assert!(Template::whole_uri().matches("s3://x"));
        assert!(!Template::whole_uri().matches(""));
        assert!(t("é{uri}ü").matches("éxü"));
    }
}
