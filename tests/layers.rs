//! The layers of the crate, read from the sources: the table below is the rule, and this test fails
//! (naming the file and line) when a module reaches up a layer, when anything outside the command line
//! mentions clap or `crate::cli`, or when two modules import each other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module of `src/` and its layer: a module may use its own layer and those below it,
/// never one above. `cli` (clap, the environment snapshot, settings, rendering, exit codes) > `ops` (the
/// use cases) > the domain > the leaves.
const LAYERS: &[(&str, u8, &str)] = &[
    ("cli", 3, "cli"),
    ("ops", 2, "ops"),
    ("argocd", 1, "domain"),
    ("config", 1, "domain"),
    ("discover", 1, "domain"),
    ("forge", 1, "domain"),
    ("git", 1, "domain"),
    ("manifest", 1, "domain"),
    ("report", 1, "domain"),
    ("resolve", 1, "domain"),
    ("tracking", 1, "domain"),
    ("serve", 1, "domain"),
    ("env", 0, "leaf"),
    ("fsutil", 0, "leaf"),
    ("http", 0, "leaf"),
    ("secret", 0, "leaf"),
    ("suggest", 0, "leaf"),
];

/// Pairs of modules still allowed to import each other: none. Keep it that way.
const KNOWN_CYCLES: &[(&str, &str)] = &[];

/// One reference: where it is and the module path it names.
struct Reference {
    file: String,
    line: usize,
    target: Vec<String>,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a source file: `src/tracking/filestore.rs` is `tracking::filestore`,
/// `src/tracking/mod.rs` is `tracking`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts
        .last()
        .is_some_and(|p| p == "mod" || p == "lib" || p == "main")
    {
        parts.pop();
    }
    parts
}

/// The code of a line, without its comment (doc links are not imports).
fn code(line: &str) -> &str {
    match line.find("//") {
        Some(i) => &line[..i],
        None => line,
    }
}

/// The paths a line names from `start` (`crate::a::b`, `super::x`, `crate::{a, b::c}`), as segments.
fn paths_in(text: &str, start: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(start) {
        let before = rest[..i].chars().last();
        rest = &rest[i + start.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let inner = group.split('}').next().unwrap_or("");
            for item in inner.split(',') {
                let segs = segments(item.trim());
                if !segs.is_empty() {
                    out.push(segs);
                }
            }
        } else {
            out.push(segments(rest));
        }
    }
    out
}

fn segments(text: &str) -> Vec<String> {
    let mut segs = Vec::new();
    for seg in text.split("::") {
        let name: String = seg
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() || name == "self" {
            break;
        }
        let whole = name.len() == seg.len();
        segs.push(name);
        if !whole {
            break;
        }
    }
    segs
}

/// The unit a path names: the deepest known module among its first two segments.
fn unit(target: &[String], modules: &BTreeSet<Vec<String>>) -> Vec<String> {
    for n in (1..=target.len().min(2)).rev() {
        if modules.contains(&target[..n].to_vec()) {
            return target[..n].to_vec();
        }
    }
    target[..1.min(target.len())].to_vec()
}

fn is_prefix(a: &[String], b: &[String]) -> bool {
    a.len() <= b.len() && b[..a.len()] == *a
}

#[test]
fn modules_only_use_their_own_layer_and_those_below_and_never_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(&src, f)).collect();
    let layer: BTreeMap<&str, (u8, &str)> = LAYERS.iter().map(|(m, l, n)| (*m, (*l, *n))).collect();

    let mut problems = Vec::new();
    let mut edges: BTreeMap<(Vec<String>, Vec<String>), Reference> = BTreeMap::new();
    for file in &files {
        let module = module_of(&src, file);
        if module.is_empty() {
            continue; // lib.rs and main.rs: the crate root declares every module
        }
        let top = module[0].as_str();
        let Some(&(own, own_name)) = layer.get(top) else {
            problems.push(format!("src/{top}: not in the table of layers; add it"));
            continue;
        };
        let shown = format!("src/{}", file.strip_prefix(&src).unwrap().display());
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = code(line);
            if top != "cli"
                && code
                    .split(|c: char| !c.is_alphanumeric() && c != '_')
                    .any(|w| w == "clap")
            {
                problems.push(format!(
                    "{shown}:{}: mentions clap outside the cli layer",
                    n + 1
                ));
            }
            let mut refs: Vec<Vec<String>> = paths_in(code, "crate::");
            // `super::x` from `a::b` (a file) names `a::x`; from `a/mod.rs` (module `a`) it names `x`.
            let parent = &module[..module.len() - 1];
            let base: Vec<String> = parent.to_vec();
            for segs in paths_in(code, "super::") {
                if line.trim_start().starts_with("use super::*") {
                    continue;
                }
                let mut full = base.clone();
                full.extend(segs);
                refs.push(full);
            }
            for target in refs {
                if target.is_empty() {
                    continue;
                }
                let to_top = target[0].as_str();
                if to_top == "cli" && top != "cli" {
                    problems.push(format!(
                        "{shown}:{}: uses crate::cli from the {own_name} layer",
                        n + 1
                    ));
                }
                if let Some(&(to, to_name)) = layer.get(to_top)
                    && to > own
                {
                    problems.push(format!(
                        "{shown}:{}: the {own_name} layer ({top}) uses {} of the higher {to_name} layer",
                        n + 1,
                        target.join("::")
                    ));
                }
                let from_unit = module[..module.len().min(2)].to_vec();
                let to_unit = unit(&target, &modules);
                if is_prefix(&from_unit, &to_unit) || is_prefix(&to_unit, &from_unit) {
                    continue; // a module and its own parent or child
                }
                edges.entry((from_unit, to_unit)).or_insert(Reference {
                    file: shown.clone(),
                    line: n + 1,
                    target,
                });
            }
        }
    }
    for ((from, to), reference) in &edges {
        if from < to
            && let Some(back) = edges.get(&(to.clone(), from.clone()))
        {
            let (a, b) = (from.join("::"), to.join("::"));
            if KNOWN_CYCLES.contains(&(a.as_str(), b.as_str()))
                || KNOWN_CYCLES.contains(&(b.as_str(), a.as_str()))
            {
                continue;
            }
            problems.push(format!(
                "{a} and {b} import each other: {}:{} uses {}, {}:{} uses {}",
                reference.file,
                reference.line,
                reference.target.join("::"),
                back.file,
                back.line,
                back.target.join("::")
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "layering broken:\n  {}",
        problems.join("\n  ")
    );
}
