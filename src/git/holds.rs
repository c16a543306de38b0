//! Holds: the targets that `plan`, `apply` and `run` leave alone, kept in the GitOps repository itself.
//!
//! A hold is a decision about what runs in production ("keep this model, whatever MLflow says"), so it
//! lives where every pipeline that updates the repository sees it and where it is reviewed and versioned
//! like the manifests: the file [`HOLDS_FILE`] beside `modelbump.yaml`. Each entry names the target
//! (its file, as the config writes it, and its name) and records who placed it, when and why.
//!
//! The file is written only by modelbump (`hold`, `release`, `rollback`), always as a whole from the
//! parsed entries ([`Holds::render`]), so that a merge of two holds placed at once is a matter of
//! re-reading the fresh tip's file and adding the entry again ([`Holds::place`]): a push retried on a
//! moved branch never drops someone else's hold. A person may still edit it by hand; an entry it cannot
//! read is an error that names the file and the line.

use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use crate::report::Hold;

/// The holds file, relative to the repo folder (the folder of `modelbump.yaml`).
pub const HOLDS_FILE: &str = ".modelbump/holds.yaml";

/// The file's first lines, so a reader knows what it is and how to change it.
const HEADER: &str = "# Targets that modelbump's plan, apply and run leave alone (status `held`).\n# Written by `modelbump hold` and `modelbump rollback`; an entry is removed by `modelbump release TARGET`.\n";

/// Errors reading the holds file.
#[derive(Debug, thiserror::Error)]
pub enum HoldsError {
    /// The YAML does not fit (unknown key, wrong type, bad syntax).
    #[error(
        "invalid holds file {path}: {message}; fix it or remove the entry (`modelbump release TARGET`)"
    )]
    Parse {
        /// The file.
        path: String,
        /// The parser's message, with the line.
        message: String,
    },
}

/// One held target.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldEntry {
    /// The manifest, relative to the repo folder, as the config's `file:` names it.
    pub file: String,
    /// The target's name (`metadata.name` or `NAME/COMPONENT`).
    pub name: String,
    /// Who placed it (`Name <email>`).
    pub by: String,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// Why.
    pub reason: String,
}

impl HoldEntry {
    /// The report's view of it.
    pub fn hold(&self) -> Hold {
        Hold {
            by: self.by.clone(),
            at: self.at.clone(),
            reason: self.reason.clone(),
        }
    }

    /// True when this entry holds the target `name` of `file` (both as the config writes them).
    pub fn is_for(&self, file: &Path, name: &str) -> bool {
        self.name == name && normalize(Path::new(&self.file)) == normalize(file)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HoldsFile {
    #[serde(default)]
    holds: Vec<HoldEntry>,
}

/// The holds of one version of the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holds {
    /// The entries, in the file's order.
    pub entries: Vec<HoldEntry>,
}

impl Holds {
    /// Reads the file's bytes; empty bytes (no file) are no holds. `shown` names the file in errors.
    pub fn parse(bytes: &[u8], shown: &str) -> Result<Self, HoldsError> {
        let text = String::from_utf8_lossy(bytes);
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let file: HoldsFile = serde_saphyr::from_str(&text).map_err(|e| HoldsError::Parse {
            path: shown.to_string(),
            message: e.to_string(),
        })?;
        Ok(Self {
            entries: file.holds,
        })
    }

    /// Reads the holds file of the repo folder `root` from the working tree (none when it is absent).
    pub fn load(root: &Path) -> Result<Self, HoldsError> {
        let path = root.join(HOLDS_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => Self::parse(&bytes, HOLDS_FILE),
            Err(_) => Ok(Self::default()),
        }
    }

    /// The hold on the target `name` of `file`, if any.
    pub fn find(&self, file: &Path, name: &str) -> Option<&HoldEntry> {
        self.entries.iter().find(|e| e.is_for(file, name))
    }

    /// Places `entry`, replacing an earlier hold on the same target.
    pub fn place(&mut self, entry: HoldEntry) {
        let file = PathBuf::from(&entry.file);
        match self
            .entries
            .iter_mut()
            .find(|e| e.is_for(&file, &entry.name))
        {
            Some(old) => *old = entry,
            None => self.entries.push(entry),
        }
    }

    /// Removes the hold on the target `name` of `file`; returns it.
    pub fn release(&mut self, file: &Path, name: &str) -> Option<HoldEntry> {
        let at = self.entries.iter().position(|e| e.is_for(file, name))?;
        Some(self.entries.remove(at))
    }

    /// The file's text: a header, then one entry per hold, each value a double-quoted scalar (JSON
    /// string syntax is valid YAML), so nothing a reason holds can break the file.
    pub fn render(&self) -> String {
        let mut out = String::from(HEADER);
        if self.entries.is_empty() {
            out.push_str("holds: []\n");
            return out;
        }
        out.push_str("holds:\n");
        let q = |s: &str| serde_json::to_string(s).expect("a string serializes");
        for e in &self.entries {
            out.push_str(&format!("  - file: {}\n", q(&e.file)));
            out.push_str(&format!("    name: {}\n", q(&e.name)));
            out.push_str(&format!("    by: {}\n", q(&e.by)));
            out.push_str(&format!("    at: {}\n", q(&e.at)));
            out.push_str(&format!("    reason: {}\n", q(&e.reason)));
        }
        out
    }
}

/// A config path without `./` parts, `/`-separated, for comparing.
fn normalize(path: &Path) -> String {
    let parts: Vec<String> = path
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

/// The time now as RFC 3339 (UTC, seconds), for `at`.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(file: &str, name: &str, reason: &str) -> HoldEntry {
        HoldEntry {
            file: file.into(),
            name: name.into(),
            by: "Jane <jane@example.invalid>".into(),
            at: "2026-11-27T19:00:00Z".into(),
            reason: reason.into(),
        }
    }

    #[test]
    fn render_then_parse_is_the_same_holds_whatever_the_reason_holds() {
        let mut holds = Holds::default();
        holds.place(entry(
            "k8s/m.yaml",
            "a",
            "bad: \"latency\"\n# not a comment",
        ));
        holds.place(entry("./k8s/m.yaml", "b", "ok"));
        let text = holds.render();
        assert_eq!(Holds::parse(text.as_bytes(), "h").unwrap(), holds);
        assert_eq!(
            holds.find(Path::new("k8s/m.yaml"), "b").unwrap().reason,
            "ok"
        );
    }

    #[test]
    fn place_replaces_and_release_removes_only_that_target() {
        let mut holds = Holds::default();
        holds.place(entry("k8s/m.yaml", "a", "first"));
        holds.place(entry("k8s/m.yaml", "b", "other"));
        holds.place(entry("./k8s/m.yaml", "a", "second"));
        assert_eq!(holds.entries.len(), 2);
        assert_eq!(holds.entries[0].reason, "second");
        assert!(holds.release(Path::new("k8s/m.yaml"), "a").is_some());
        assert!(holds.release(Path::new("k8s/m.yaml"), "a").is_none());
        assert_eq!(holds.entries.len(), 1);
        assert_eq!(Holds::parse(holds.render().as_bytes(), "h").unwrap(), holds);
        holds.release(Path::new("k8s/m.yaml"), "b");
        assert!(
            Holds::parse(holds.render().as_bytes(), "h")
                .unwrap()
                .entries
                .is_empty()
        );
    }

    #[test]
    fn a_broken_file_names_itself_and_the_line() {
        let err = Holds::parse(b"holds:\n  - file: a\n    nme: b\n", HOLDS_FILE)
            .unwrap_err()
            .to_string();
        assert!(err.contains(HOLDS_FILE), "{err}");
        assert!(err.contains("nme"), "{err}");
        assert!(Holds::parse(b"", "h").unwrap().entries.is_empty());
    }
}
