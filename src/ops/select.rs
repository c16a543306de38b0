//! Target selection: which configured targets a command acts on (`--target NAME`, `--selector key=value`).
//!
//! A training pipeline trains one variant; it must deploy that variant and leave the others alone. A
//! selection narrows the configuration's `targets:` before anything is resolved, so an unselected target
//! is not resolved, not written, not committed and not in the report. Names are ORed (any of them),
//! selector pairs ANDed over each target's `labels:`, and the two together intersect. Every name must name
//! a target and every selector must match one: a typo in a pipeline parameter must fail loudly, listing
//! what exists, instead of deploying nothing and staying green.

use std::collections::BTreeMap;

use crate::config::{Config, TargetConfig};

/// Which targets to act on; empty selects every target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Target names (`targets[].name`); a target is selected when its name is one of them.
    pub names: Vec<String>,
    /// `key=value` pairs that must all be among a target's `labels:`.
    pub labels: Vec<(String, String)>,
}

/// A selection that cannot be satisfied or parsed: a usage error, with what exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    /// A `--selector` entry is not `key=value`.
    #[error("invalid selector {text:?}: write key=value, e.g. --selector variant=baseline")]
    BadSelector {
        /// As written.
        text: String,
    },
    /// A `--target` name matches no configured target.
    #[error("no configured target is named {}; the targets are:\n{known}", quoted(.names))]
    UnknownName {
        /// The names that match nothing.
        names: Vec<String>,
        /// The configured targets, one per line, with their labels.
        known: String,
    },
    /// The selector (with the names, if any) matches no configured target.
    #[error("no configured target matches {wanted}; the targets are:\n{known}")]
    NoMatch {
        /// The selection, as the user wrote it.
        wanted: String,
        /// The configured targets, one per line, with their labels.
        known: String,
    },
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Selection {
    /// True when nothing is selected explicitly (every target is acted on).
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.labels.is_empty()
    }

    /// Parses `key=value` entries (each may itself be comma-separated, as in `MODELBUMP_SELECTOR`).
    pub fn parse_labels<S: AsRef<str>>(
        entries: &[S],
    ) -> Result<Vec<(String, String)>, SelectionError> {
        let mut labels = Vec::new();
        for part in entries
            .iter()
            .flat_map(|e| e.as_ref().split(','))
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            match part.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() => {
                    labels.push((k.trim().to_string(), v.trim().to_string()));
                }
                _ => {
                    return Err(SelectionError::BadSelector {
                        text: part.to_string(),
                    });
                }
            }
        }
        Ok(labels)
    }

    /// Whether `target` is selected.
    pub fn matches(&self, target: &TargetConfig) -> bool {
        (self.names.is_empty() || self.names.contains(&target.name))
            && self
                .labels
                .iter()
                .all(|(k, v)| target.labels.get(k) == Some(v))
    }

    /// The configuration with only the selected targets, in config order; everything else is kept.
    pub fn apply(&self, config: &Config) -> Result<Config, SelectionError> {
        if self.is_empty() {
            return Ok(config.clone());
        }
        let unknown: Vec<String> = self
            .names
            .iter()
            .filter(|n| !config.targets.iter().any(|t| t.name == **n))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            return Err(SelectionError::UnknownName {
                names: unknown,
                known: listing(&config.targets),
            });
        }
        let targets: Vec<TargetConfig> = config
            .targets
            .iter()
            .filter(|t| self.matches(t))
            .cloned()
            .collect();
        if targets.is_empty() {
            return Err(SelectionError::NoMatch {
                wanted: self.describe(),
                known: listing(&config.targets),
            });
        }
        Ok(Config {
            targets,
            ..config.clone()
        })
    }

    /// The selection as flags: `--target a --selector k=v`.
    fn describe(&self) -> String {
        let mut parts: Vec<String> = self.names.iter().map(|n| format!("--target {n}")).collect();
        parts.extend(
            self.labels
                .iter()
                .map(|(k, v)| format!("--selector {k}={v}")),
        );
        parts.join(" ")
    }
}

/// One line per configured target: `  NAME (FILE) labels: k=v, ...`.
fn listing(targets: &[TargetConfig]) -> String {
    if targets.is_empty() {
        return "  (none: add `targets:` to modelbump.yaml)".to_string();
    }
    targets
        .iter()
        .map(|t| {
            let labels = label_text(&t.labels);
            format!(
                "  {} ({}){}",
                t.name,
                t.file.display(),
                if labels.is_empty() {
                    " no labels".to_string()
                } else {
                    format!(" labels: {labels}")
                }
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn label_text(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config() -> Config {
        Config::parse(
            "targets:\n  - {file: a.yaml, name: base, pinned: true, labels: {variant: baseline, tier: gold}}\n  - {file: a.yaml, name: enh, pinned: true, labels: {variant: enhanced}}\n  - {file: b.yaml, name: other, pinned: true}\n",
            Path::new("modelbump.yaml"),
        )
        .unwrap()
    }

    fn names(config: &Config) -> Vec<&str> {
        config.targets.iter().map(|t| t.name.as_str()).collect()
    }

    #[test]
    fn names_are_ored_labels_anded_and_both_intersect() {
        let c = config();
        let by_name = Selection {
            names: vec!["enh".into(), "other".into()],
            labels: vec![],
        };
        assert_eq!(names(&by_name.apply(&c).unwrap()), ["enh", "other"]);
        let by_labels = Selection {
            names: vec![],
            labels: Selection::parse_labels(&["variant=baseline,tier=gold"]).unwrap(),
        };
        assert_eq!(names(&by_labels.apply(&c).unwrap()), ["base"]);
        assert_eq!(names(&Selection::default().apply(&c).unwrap()).len(), 3);
    }

    #[test]
    fn what_matches_nothing_lists_the_targets_and_their_labels() {
        let c = config();
        let err = Selection {
            names: vec!["enhanced".into()],
            labels: vec![],
        }
        .apply(&c)
        .unwrap_err()
        .to_string();
        assert!(err.contains("named \"enhanced\""), "{err}");
        assert!(
            err.contains("enh (a.yaml) labels: variant=enhanced"),
            "{err}"
        );
        assert!(err.contains("other (b.yaml) no labels"), "{err}");
        let err = Selection {
            names: vec!["enh".into()],
            labels: vec![("variant".into(), "baseline".into())],
        }
        .apply(&c)
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("matches --target enh --selector variant=baseline"),
            "{err}"
        );
        let err = Selection::parse_labels(&["variant"]).unwrap_err();
        assert!(err.to_string().contains("key=value"), "{err}");
    }
}
