//! Path and marker targets in the use cases: finding their values for the plan, for `set` and for
//! `targets`, and recognising their edits when a file is checked before a commit.
//!
//! A target entry of `modelbump.yaml` takes one of three forms ([`TargetForm`]): `file` + `name` names a
//! field of a known kind, unless the file marks values with that name (`# {"$modelbump": "NAME"}`), in
//! which case it is those values; `file` + `path` is the one value at that YAML path; `name` alone is
//! every value marked with that name anywhere in the repo (found by the same walk as `targets`).
//!
//! The value of such a target may hold more than the URI (`template: "--model={uri}"`): the URI the
//! resolver compares against (scheme check, trailing slash, "already deployed") is read back from the
//! current value through the template; where the template has no `{uri}` (nor `{scheme}` and
//! `{bucket}`), there is no current URI to compare with and the scheme check only refuses local paths.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::{TargetConfig, TargetForm};
use crate::manifest::template::Placeholder;
use crate::manifest::{
    self, AnyEdit, FieldEdit, FieldRef, Template, TemplateValues, YamlPath, find_markers, find_path,
};

impl FoundValue {
    /// How a message names it: `path P` for a path target, nothing more for a marked value.
    fn described(&self) -> String {
        match &self.at {
            FieldRef::Path(path) => format!("path {path}, "),
            FieldRef::Marker(_) => String::new(),
        }
    }
}

/// One value a path or marker target points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FoundValue {
    /// The file, relative to the repo root.
    pub file: PathBuf,
    /// How the editor selects it.
    pub at: FieldRef,
    /// 1-based line.
    pub line: usize,
    /// The current value.
    pub value: String,
}

/// Whether `target` is edited through [`manifest::apply_fields`]: a path target, a repo-wide marker
/// target, or a named target whose file marks values with its name. `marked` tells whether the file
/// holds such markers (only asked for a named target).
pub(crate) fn is_field_target(target: &TargetConfig, marked: impl FnOnce() -> bool) -> bool {
    match target.form() {
        TargetForm::Path | TargetForm::Marker => true,
        TargetForm::Named => marked(),
    }
}

/// The marked values of one file whose marker carries `name`.
pub(crate) fn marked_in(bytes: &[u8], file: &Path, name: &str) -> anyhow::Result<Vec<FoundValue>> {
    let markers = find_markers(bytes).map_err(|e| anyhow::anyhow!("{}: {e}", display(file)))?;
    Ok(markers
        .into_iter()
        .filter(|m| m.target == name)
        .map(|m| FoundValue {
            file: file.to_path_buf(),
            at: FieldRef::Marker(name.to_string()),
            line: m.field.line,
            value: m.field.value,
        })
        .collect())
}

/// The value of a path target in its file's bytes.
pub(crate) fn at_path(bytes: &[u8], file: &Path, path: &YamlPath) -> anyhow::Result<FoundValue> {
    let field = find_path(bytes, path).map_err(|e| anyhow::anyhow!("{}: {e}", display(file)))?;
    Ok(FoundValue {
        file: file.to_path_buf(),
        at: FieldRef::Path(path.clone()),
        line: field.line,
        value: field.value,
    })
}

/// The URI a current value holds according to its template: `{uri}`, else `{scheme}://{bucket}/{path}`;
/// empty when the template says neither (there is then no URI to compare with).
pub(crate) fn current_uri(template: &Template, value: &str) -> Result<String, String> {
    let captured = template.capture(value).ok_or_else(|| {
        format!("the current value {value:?} does not have the form of the template {template}")
    })?;
    if let Some(uri) = captured.get(&Placeholder::Uri) {
        return Ok(uri.clone());
    }
    match (
        captured.get(&Placeholder::Scheme),
        captured.get(&Placeholder::Bucket),
    ) {
        (Some(scheme), Some(bucket)) => Ok(match captured.get(&Placeholder::Path) {
            Some(path) => format!("{scheme}://{bucket}/{path}"),
            None => format!("{scheme}://{bucket}"),
        }),
        _ => Ok(String::new()),
    }
}

/// The value to write for a resolved model.
pub(crate) fn render(
    target: &TargetConfig,
    resolution: &crate::resolve::Resolution,
) -> Result<String, String> {
    let values = TemplateValues {
        uri: resolution.uri.clone(),
        name: target.registered.as_ref().map(|r| r.name.clone()),
        version: resolution.model_version.clone(),
        model_id: resolution.model_id.clone(),
        run_id: resolution.run_id.clone(),
        experiment_id: resolution.experiment_id.clone(),
    };
    target
        .value_template()
        .render(&values)
        .map_err(|e| e.to_string())
}

/// The edit that sets `found` to `value`.
pub(crate) fn edit(name: &str, found: &FoundValue, template: &Template, value: &str) -> AnyEdit {
    AnyEdit::Field {
        name: name.to_string(),
        edit: FieldEdit {
            at: found.at.clone(),
            template: template.clone(),
            value: value.to_string(),
        },
    }
}

/// The edits that turn `head` into `work` at marked values and at the given path targets' values
/// (name, path), for the check before a commit: `Err` says what else differs around them (markers
/// added, removed or moved). A path that does not match in both versions is not one of this file's
/// values and is left out.
pub(crate) fn differences(
    head: &[u8],
    work: &[u8],
    paths: &[(String, YamlPath)],
) -> Result<Vec<AnyEdit>, String> {
    let mut edits = Vec::new();
    let (before, after) = match (find_markers(head), find_markers(work)) {
        (Ok(b), Ok(a)) => (b, a),
        (Err(e), _) => return Err(format!("HEAD's version cannot be read: {e}")),
        (_, Err(e)) => return Err(format!("it cannot be read: {e}")),
    };
    let same = before.len() == after.len()
        && before
            .iter()
            .zip(&after)
            .all(|(b, a)| b.target == a.target && b.field.path == a.field.path);
    if !same {
        return Err("markers were added, removed or moved, not only marked values changed".into());
    }
    let mut seen: BTreeMap<(String, String), ()> = BTreeMap::new();
    for (b, a) in before.iter().zip(&after) {
        if b.field.value != a.field.value
            && seen
                .insert((a.target.clone(), a.field.value.clone()), ())
                .is_none()
        {
            edits.push(AnyEdit::Field {
                name: a.target.clone(),
                edit: FieldEdit {
                    at: FieldRef::Marker(a.target.clone()),
                    template: Template::whole_uri(),
                    value: a.field.value.clone(),
                },
            });
        }
    }
    for (name, path) in paths {
        let (Ok(b), Ok(a)) = (find_path(head, path), find_path(work, path)) else {
            continue;
        };
        if b.value != a.value {
            edits.push(AnyEdit::Field {
                name: name.clone(),
                edit: FieldEdit {
                    at: FieldRef::Path(path.clone()),
                    template: Template::whole_uri(),
                    value: a.value,
                },
            });
        }
    }
    Ok(edits)
}

/// The configured path targets as (file relative to the git working tree, name, path): what a check of
/// a commit (its own unpushed commits for `run`, a head branch for pull-request mode) accepts as model
/// values besides the known kinds and the markers.
pub(crate) fn path_targets(
    repo: &crate::git::GitRepo,
    root: &Path,
    targets: &[TargetConfig],
) -> Vec<(PathBuf, String, YamlPath)> {
    targets
        .iter()
        .filter_map(|t| {
            let path = t.path.clone()?;
            let rel = repo.relative(root, &t.file)?;
            Some((rel, t.name.clone(), path))
        })
        .collect()
}

/// The (name, path) of the path targets in `file` (relative to the working tree).
pub(crate) fn paths_in(
    all: &[(PathBuf, String, YamlPath)],
    file: &Path,
) -> Vec<(String, YamlPath)> {
    all.iter()
        .filter(|(f, _, _)| f == file)
        .map(|(_, name, path)| (name.clone(), path.clone()))
        .collect()
}

/// The edit that gives the value of a report line of kind `path` or `marker` its new value, for a
/// commit built again elsewhere (a pull request's head branch on the base's fresh tip); `None` when no
/// configured target owns the line or it has no new value.
pub(crate) fn edit_of_line(
    targets: &[TargetConfig],
    line: &crate::report::TargetReport,
) -> Option<AnyEdit> {
    let value = line.new_uri.clone()?;
    let target = targets.iter().find(|t| {
        t.name == line.name
            && match (line.kind.as_str(), &t.path) {
                ("path", Some(_)) => normalize(&t.file) == line.file,
                ("marker", None) => {
                    t.form() == TargetForm::Marker || normalize(&t.file) == line.file
                }
                _ => false,
            }
    })?;
    let at = match &target.path {
        Some(path) => FieldRef::Path(path.clone()),
        None => FieldRef::Marker(target.name.clone()),
    };
    Some(AnyEdit::Field {
        name: target.name.clone(),
        edit: FieldEdit {
            at,
            template: target.value_template(),
            value,
        },
    })
}

/// The YAML path of each path or marker change of a commit (`None` for the known kinds), read from the
/// committed version of its file (`blob`), for the pull request's body.
pub(crate) fn yaml_paths_of(
    changes: &[crate::git::ModelChange],
    targets: &[TargetConfig],
    blob: impl Fn(&str) -> Option<Vec<u8>>,
) -> Vec<Option<String>> {
    changes
        .iter()
        .map(|c| match c.kind.as_str() {
            "path" => targets
                .iter()
                .find(|t| t.name == c.name && t.path.is_some())
                .and_then(|t| t.path.as_ref())
                .map(ToString::to_string),
            "marker" => {
                let bytes = blob(&c.file)?;
                find_markers(&bytes)
                    .ok()?
                    .into_iter()
                    .find(|m| m.target == c.name && m.field.line == c.line)
                    .map(|m| m.field.path.to_string())
            }
            _ => None,
        })
        .collect()
}

/// The value a path or marker target has in one version of its file: `Some(None)` when the target is
/// one but the version holds no such value, `None` when the target names a known kind's field (the
/// caller reads that). For `history`, `rollback` and `hold`, which read a target's value in every
/// version of its file.
pub(crate) fn value_in(bytes: &[u8], target: &TargetConfig) -> Option<Option<String>> {
    if let Some(path) = &target.path {
        return Some(find_path(bytes, path).ok().map(|f| f.value));
    }
    let marked = find_markers(bytes)
        .ok()
        .and_then(|m| m.into_iter().find(|m| m.target == target.name));
    match (target.form(), marked) {
        (_, Some(m)) => Some(Some(m.field.value)),
        (TargetForm::Marker, None) => Some(None),
        _ => None,
    }
}

/// `target` with the file its values are in: itself, unless it is a marker target found repo-wide,
/// whose one marked file is looked up in the checkout (`history` and `rollback` follow one file). An
/// error when its markers are in no file or in several.
pub(crate) fn with_its_file(repo: &Path, target: &TargetConfig) -> anyhow::Result<TargetConfig> {
    if target.form() != TargetForm::Marker {
        return Ok(target.clone());
    }
    let scan = crate::discover::scan(repo, &[]);
    let files: Vec<&str> = scan
        .files
        .iter()
        .filter(|f| f.markers.iter().any(|m| m.target == target.name))
        .map(|f| f.file.as_str())
        .collect();
    match files.as_slice() {
        [one] => Ok(TargetConfig {
            file: PathBuf::from(one),
            ..target.clone()
        }),
        [] => anyhow::bail!(
            "no file in the repo marks a value # {{\"$modelbump\": {:?}}}; add the marker, or give the target a `file:` and a `path:`",
            target.name
        ),
        many => anyhow::bail!(
            "{} marks values in several files ({}); history and rollback follow one file: configure one target per file (`file:` and `name: {}`)",
            target.name,
            many.join(", "),
            target.name
        ),
    }
}

/// The kind a report shows for a target: `path`, `marker`, or the configured kind.
pub(crate) fn kind_of(target: &TargetConfig) -> String {
    match target.form() {
        TargetForm::Path => "path".into(),
        TargetForm::Marker => "marker".into(),
        TargetForm::Named => target.kind.clone().unwrap_or_default(),
    }
}

/// A relative path without `.` components, `/`-separated.
pub(crate) fn normalize(path: &Path) -> String {
    path.components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// The rows `targets` lists for marked values (kind `marker`, the marker's name) and for configured path
/// targets (kind `path`, the target's name) whose file is under `roots` (all when empty).
pub(crate) fn listing_rows(
    targets: &[TargetConfig],
    scan: &crate::discover::Scan,
    repo: &Path,
    roots: &[PathBuf],
) -> Vec<super::TargetRow> {
    let mut rows = Vec::new();
    for f in &scan.files {
        for m in &f.markers {
            let owners: Vec<String> = targets
                .iter()
                .filter(|t| {
                    t.name == m.target
                        && t.path.is_none()
                        && (t.form() == TargetForm::Marker || normalize(&t.file) == f.file)
                })
                .map(|t| {
                    if t.pinned {
                        format!("{} (pinned)", t.name)
                    } else {
                        t.name.clone()
                    }
                })
                .collect();
            rows.push(super::TargetRow {
                file: f.file.clone(),
                line: m.field.line,
                kind: "marker".into(),
                name: m.target.clone(),
                uri: m.field.value.clone(),
                target: (!owners.is_empty()).then(|| owners.join(", ")),
                path: Some(m.field.path.to_string()),
            });
        }
    }
    for target in targets {
        let Some(path) = &target.path else { continue };
        let Ok(real) = crate::discover::resolve_in_repo(repo, &target.file) else {
            tracing::warn!(
                "configured target {} ({}) points at no file",
                target.name,
                normalize(&target.file)
            );
            continue;
        };
        if !roots.is_empty() && !roots.iter().any(|r| real.starts_with(r)) {
            continue;
        }
        let found = crate::fsutil::read_regular(&real)
            .map_err(anyhow::Error::from)
            .and_then(|bytes| at_path(&bytes, &target.file, path));
        match found {
            Ok(value) => rows.push(super::TargetRow {
                file: normalize(&target.file),
                line: value.line,
                kind: "path".into(),
                name: target.name.clone(),
                uri: value.value,
                target: Some(if target.pinned {
                    format!("{} (pinned)", target.name)
                } else {
                    target.name.clone()
                }),
                path: Some(path.to_string()),
            }),
            Err(e) => tracing::warn!("configured target {}: {e:#}", target.name),
        }
    }
    rows
}

fn display(file: &Path) -> String {
    normalize(file)
}

/// What `set FILE NAME URI` did to a path or marker target.
#[derive(Debug, Clone)]
pub struct FieldSetOutcome {
    /// The file as shown to users.
    pub file: String,
    /// `path` or `marker`.
    pub kind: String,
    /// The target's name.
    pub name: String,
    /// One (line, old, new) per value.
    pub values: Vec<(usize, String, String)>,
}

/// `set FILE NAME URI` for a marker name in FILE or a configured path target of FILE; `Ok(None)` when
/// NAME is neither (the caller then reports the known-kind error).
///
/// `kind` is `--kind`: `marker` or `path` picks that sort of target only; another kind leaves NAME to the
/// known kinds (`Ok(None)`). Without it, a NAME that is both a marker or path target and a known kind's
/// field in FILE is an error that lists both and says how to pick, never a silent preference.
pub fn set_field(
    repo: &Path,
    file: &Path,
    name: &str,
    uri: &str,
    targets: &[TargetConfig],
    kind: Option<&str>,
) -> anyhow::Result<Option<FieldSetOutcome>> {
    let want = match kind {
        None => None,
        Some(k @ ("marker" | "path")) => Some(k),
        Some(_) => return Ok(None),
    };
    use anyhow::Context;
    let path = crate::discover::resolve_in_repo(repo, file)?;
    let shown = crate::discover::display_path(repo, &path);
    let bytes =
        crate::fsutil::read_regular(&path).with_context(|| format!("cannot read {shown}"))?;
    let configured = targets.iter().find(|t| {
        t.name == name && (t.form() == TargetForm::Marker || normalize(&t.file) == shown)
    });
    let marked = marked_in(&bytes, Path::new(&shown), name)?;
    let found: Vec<FoundValue> = if !marked.is_empty() && want != Some("path") {
        marked
    } else if let Some(path) = configured
        .and_then(|t| t.path.as_ref())
        .filter(|_| want != Some("marker"))
    {
        vec![at_path(&bytes, Path::new(&shown), path)?]
    } else if let Some(k) = want {
        anyhow::bail!(
            "{shown}: no {k} target is named {name}: {}; run `modelbump targets {shown}` to see the names",
            if k == "marker" {
                format!("no value in it is marked # {{\"$modelbump\": {name:?}}}")
            } else {
                "no path target of this file has that name in modelbump.yaml".to_string()
            }
        );
    } else {
        return Ok(None);
    };
    if want.is_none()
        && let Ok(fields) = manifest::find_fields(&bytes)
    {
        let known: Vec<&manifest::ModelField> = fields.iter().filter(|f| f.name == name).collect();
        if !known.is_empty() {
            let sort = manifest::field_kind(&found[0].at);
            let both = known
                .iter()
                .map(|f| {
                    format!(
                        "the {} field at line {} (--kind {})",
                        f.kind, f.line, f.kind
                    )
                })
                .chain(found.iter().map(|f| {
                    format!(
                        "the {sort} value at line {} ({}--kind {sort})",
                        f.line,
                        f.described()
                    )
                }))
                .collect::<Vec<_>>()
                .join(" and ");
            anyhow::bail!(
                "{shown}: {name} names both {both}; nothing was changed: say which with --kind"
            );
        }
    }
    let template = configured.map_or_else(Template::whole_uri, TargetConfig::value_template);
    let value = template
        .render(&TemplateValues {
            uri: uri.to_string(),
            ..TemplateValues::default()
        })
        .map_err(|e| anyhow::anyhow!("{shown}: {name}: {e}"))?;
    let edits: Vec<AnyEdit> = found
        .iter()
        .take(1)
        .map(|f| edit(name, f, &template, &value))
        .collect();
    let edited =
        manifest::apply_any(&bytes, &edits).map_err(|e| anyhow::anyhow!("{shown}: {e}"))?;
    if edited.bytes != bytes {
        crate::fsutil::check_writable(&path).with_context(|| format!("cannot write {shown}"))?;
        crate::fsutil::write_atomic(&path, &edited.bytes)?;
    }
    let kind = manifest::field_kind(&found[0].at).to_string();
    Ok(Some(FieldSetOutcome {
        file: shown,
        kind,
        name: name.to_string(),
        values: edited
            .changes
            .into_iter()
            .map(|c| (c.line, c.old, c.new))
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_uri_is_read_back_through_the_template() {
        let t = Template::parse("--model={uri}").unwrap();
        assert_eq!(current_uri(&t, "--model=s3://b/m").unwrap(), "s3://b/m");
        let t = Template::parse("{scheme}://{bucket}/{path}").unwrap();
        assert_eq!(current_uri(&t, "gs://b/p/q").unwrap(), "gs://b/p/q");
        let t = Template::parse("{model_id}").unwrap();
        assert_eq!(current_uri(&t, "m-1").unwrap(), "");
        let t = Template::parse("--model={uri}").unwrap();
        let err = current_uri(&t, "--port=1").unwrap_err();
        assert!(
            err.contains("--port=1") && err.contains("--model={uri}"),
            "{err}"
        );
    }

    #[test]
    fn differences_accept_marked_and_path_values_and_nothing_else() {
        let head = "a:\n  uri: s3://x/1  # {\"$modelbump\": \"m\"}\nb:\n  env:\n  - name: MODEL\n    value: s3://y/1\nc: 1\n";
        let work = head
            .replace("s3://x/1", "s3://x/2")
            .replace("s3://y/1", "s3://y/2");
        let paths = vec![(
            "p".to_string(),
            YamlPath::parse("b.env[name=MODEL].value").unwrap(),
        )];
        let edits = differences(head.as_bytes(), work.as_bytes(), &paths).unwrap();
        assert_eq!(edits.len(), 2);
        let out = manifest::apply_any(head.as_bytes(), &edits).unwrap();
        assert_eq!(String::from_utf8(out.bytes).unwrap(), work);
        // Without the path target, the path's value is a change of something else.
        let edits = differences(head.as_bytes(), work.as_bytes(), &[]).unwrap();
        let out = manifest::apply_any(head.as_bytes(), &edits).unwrap();
        assert_ne!(String::from_utf8(out.bytes).unwrap(), work);
        // A moved marker is refused.
        let moved = head
            .replace("  # {\"$modelbump\": \"m\"}", "")
            .replace("c: 1", "c: 1  # {\"$modelbump\": \"m\"}");
        assert!(differences(head.as_bytes(), moved.as_bytes(), &[]).is_err());
    }
}
