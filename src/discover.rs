//! Finding the manifests of a repo that hold model URI fields, and keeping paths inside the repo.
//!
//! A GitOps monorepo holds thousands of YAML files and a few dozen model manifests, so the walk is built
//! to touch as little as possible: it skips what `.gitignore` (and `.ignore`) ignore and the `.git`
//! folder, reads only `*.yaml`/`*.yml` files, and hands a file to the YAML parser only when its bytes
//! contain `storageUri`, `modelUri`, `LLMInferenceService` or a marker's `$modelbump` (a `memchr`
//! search, much cheaper than parsing). The walk runs on
//! as many threads as there are cores. The editor ([`crate::manifest`]) then parses only the documents of
//! a file that hold those words.
//!
//! Besides the fields of the known kinds, the walk reads the values marked with a
//! `# {"$modelbump": "TARGET"}` comment ([`crate::manifest::marker`]): `targets` lists them and a marker
//! target without `file:` is edited wherever they are; a comment that starts like a marker but is none
//! makes the file a problem, like a broken manifest.
//!
//! Every path a user gives (`set FILE`, `targets PATH`, config `file:`) goes through
//! [`resolve_in_repo`], which refuses paths that leave the repo, also through a symlink.
//!
//! Only regular files are read (see [`crate::fsutil`]): a FIFO, socket or device named `*.yaml`/`*.yml`
//! (or named explicitly) is reported as a file that cannot be read, like a broken manifest, and never
//! opened; other such entries are not looked at.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ignore::{WalkBuilder, WalkState};

use crate::fsutil;
use crate::manifest::{self, EditError, ModelField};

/// Errors about the paths given.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DiscoverError {
    /// The path (or where its symlinks lead) is outside the repo.
    #[error(transparent)]
    OutsideRepo(fsutil::ContainmentError),
    /// The path does not exist or cannot be read.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The path as given.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// The model URI fields of one file.
#[derive(Debug, Clone)]
pub(crate) struct FileFields {
    /// The file relative to the repo root, with `/` separators.
    pub file: String,
    /// Its fields of the known kinds, in file order.
    pub fields: Vec<ModelField>,
    /// Its marked values (`# {"$modelbump": "NAME"}`), in file order.
    pub markers: Vec<manifest::MarkedField>,
}

/// A file that could hold model URIs but could not be read.
#[derive(Debug)]
pub(crate) struct Problem {
    /// The file relative to the repo root.
    pub file: String,
    /// What went wrong.
    pub error: ProblemKind,
}

/// What went wrong with a file.
#[derive(Debug)]
pub(crate) enum ProblemKind {
    /// Reading it failed, or it is not a regular file (a FIFO, a socket, a device).
    Io(fsutil::ReadError),
    /// The editor could not read it (invalid YAML, not UTF-8, a lone CR).
    Edit(EditError),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.error {
            ProblemKind::Io(e) => write!(f, "cannot read {}: {e}", self.file),
            ProblemKind::Edit(e) => write!(f, "{}: {e}", self.file),
        }
    }
}

/// The result of a walk.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// Files with at least one field, sorted by file.
    pub files: Vec<FileFields>,
    /// Files that could not be read, sorted by file.
    pub problems: Vec<Problem>,
    /// How many YAML files were looked at.
    pub yaml_files: usize,
}

/// Resolves `path` (relative to the repo root, or absolute) to an existing file or folder inside the
/// repo, by the one rule of [`fsutil::contained`]: neither `..` nor a symlink leads outside.
pub(crate) fn resolve_in_repo(repo: &Path, path: &Path) -> Result<PathBuf, DiscoverError> {
    fsutil::contained(repo, path).map_err(|e| match e {
        fsutil::ContainmentError::Missing { error, .. } => DiscoverError::Open {
            path: path.display().to_string(),
            source: error,
        },
        outside => DiscoverError::OutsideRepo(outside),
    })
}

/// A path relative to the repo root, with `/` separators, for output.
pub(crate) fn display_path(repo: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(repo).unwrap_or(path);
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

fn is_yaml(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
}

/// Walks `roots` (canonical paths inside `repo`; the whole repo when empty) and finds every model URI
/// field. Files named explicitly are read whatever their extension.
pub(crate) fn scan(repo: &Path, roots: &[PathBuf]) -> Scan {
    let roots: Vec<PathBuf> = if roots.is_empty() {
        vec![repo.to_path_buf()]
    } else {
        roots.to_vec()
    };
    let mut builder = WalkBuilder::new(&roots[0]);
    for root in &roots[1..] {
        builder.add(root);
    }
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    builder
        .hidden(false)
        .require_git(false)
        .follow_links(false)
        .threads(threads)
        .filter_entry(|entry| entry.file_name() != ".git");

    let files = Mutex::new(Vec::new());
    let problems = Mutex::new(Vec::new());
    let yaml_files = std::sync::atomic::AtomicUsize::new(0);
    builder.build_parallel().run(|| {
        // One buffer per thread, reused for every file.
        let mut buffer: Vec<u8> = Vec::with_capacity(64 * 1024);
        let (files, problems, yaml_files) = (&files, &problems, &yaml_files);
        Box::new(move |entry| {
            let Ok(entry) = entry else {
                return WalkState::Continue;
            };
            let explicit = entry.depth() == 0;
            let Some(file_type) = entry.file_type() else {
                return WalkState::Continue;
            };
            // Folders are walked and symlinks not followed; a FIFO, socket or device that looks like
            // a manifest (or was named) is a problem, never opened: reading a FIFO would block.
            if file_type.is_dir() || file_type.is_symlink() || !(explicit || is_yaml(entry.path()))
            {
                return WalkState::Continue;
            }
            if let Some(what) = fsutil::not_regular(file_type) {
                problems.lock().unwrap().push(Problem {
                    file: display_path(repo, entry.path()),
                    error: ProblemKind::Io(fsutil::ReadError::NotRegular { what }),
                });
                return WalkState::Continue;
            }
            yaml_files.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            // The directory entry says this is a regular file: no `fstat` (one system call less per
            // file, which is most of the cost of a walk over thousands of small files), and no `stat`
            // to size the buffer either, which is reused.
            if let Err(e) = fsutil::read_into(entry.path(), &mut buffer, false) {
                problems.lock().unwrap().push(Problem {
                    file: display_path(repo, entry.path()),
                    error: ProblemKind::Io(e),
                });
                return WalkState::Continue;
            }
            if !manifest::source::may_hold_target(&buffer) {
                return WalkState::Continue;
            }
            let file = display_path(repo, entry.path());
            // The marked values are read so that a broken marker is reported like a broken manifest.
            let found = manifest::find_fields(&buffer)
                .and_then(|fields| manifest::find_markers(&buffer).map(|m| (fields, m)));
            match found {
                Ok((fields, markers)) if fields.is_empty() && markers.is_empty() => {}
                Ok((fields, markers)) => files.lock().unwrap().push(FileFields {
                    file,
                    fields,
                    markers,
                }),
                Err(e) => problems.lock().unwrap().push(Problem {
                    file,
                    error: ProblemKind::Edit(e),
                }),
            }
            WalkState::Continue
        })
    });
    let mut files = files.into_inner().unwrap();
    let mut problems = problems.into_inner().unwrap();
    files.sort_by(|a, b| a.file.cmp(&b.file));
    files.dedup_by(|a, b| a.file == b.file);
    problems.sort_by(|a, b| a.file.cmp(&b.file));
    Scan {
        files,
        problems,
        yaml_files: yaml_files.into_inner(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL: &str = "apiVersion: mlops.seldon.io/v1alpha1\nkind: Model\nmetadata:\n  name: m\nspec:\n  storageUri: s3://a\n";

    #[test]
    fn walks_yaml_files_respecting_gitignore_and_skipping_git() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(repo.join("k8s/base")).unwrap();
        std::fs::create_dir_all(repo.join(".git")).unwrap();
        std::fs::create_dir_all(repo.join("build")).unwrap();
        std::fs::write(repo.join(".gitignore"), "build/\n").unwrap();
        std::fs::write(repo.join("k8s/base/m.yaml"), MODEL).unwrap();
        std::fs::write(
            repo.join("k8s/base/n.yml"),
            MODEL.replace("name: m", "name: n"),
        )
        .unwrap();
        std::fs::write(repo.join("k8s/base/m.txt"), MODEL).unwrap();
        std::fs::write(repo.join("build/m.yaml"), MODEL).unwrap();
        std::fs::write(repo.join(".git/m.yaml"), MODEL).unwrap();
        std::fs::write(repo.join("k8s/broken.yaml"), "storageUri: [\n").unwrap();
        std::fs::write(repo.join("k8s/other.yaml"), "a: 1\n").unwrap();
        let scan = scan(&repo, &[]);
        let files: Vec<&str> = scan.files.iter().map(|f| f.file.as_str()).collect();
        assert_eq!(files, ["k8s/base/m.yaml", "k8s/base/n.yml"]);
        assert_eq!(scan.problems.len(), 1);
        assert!(
            scan.problems[0]
                .to_string()
                .starts_with("k8s/broken.yaml: line 1: invalid YAML"),
            "{}",
            scan.problems[0]
        );
        // An explicit file is read whatever its name.
        let explicit = resolve_in_repo(&repo, Path::new("k8s/base/m.txt")).unwrap();
        assert_eq!(super::scan(&repo, &[explicit]).files.len(), 1);
    }

    #[test]
    fn a_broken_marker_is_a_problem() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().canonicalize().unwrap();
        std::fs::write(
            repo.join("values.yaml"),
            "model:\n  uri: s3://b/m-1  # {\"$modelbump\": \"fraud\"}\n",
        )
        .unwrap();
        std::fs::write(
            repo.join("broken.yaml"),
            "model:\n  uri: s3://b/m-1  # {\"$modelbump\": fraud}\n",
        )
        .unwrap();
        std::fs::write(
            repo.join("both.yaml"),
            format!("{MODEL}    # {{\"$modelbump\": \"n\"}}\n"),
        )
        .unwrap();
        let scan = scan(&repo, &[]);
        // A file with markers only is listed too (a marker target edits it); a marker on a line of
        // its own (both.yaml) marks nothing.
        let files: Vec<(&str, usize, usize)> = scan
            .files
            .iter()
            .map(|f| (f.file.as_str(), f.fields.len(), f.markers.len()))
            .collect();
        assert_eq!(files, [("both.yaml", 1, 0), ("values.yaml", 0, 1)]);
        assert_eq!(scan.problems.len(), 1);
        assert!(
            scan.problems[0]
                .to_string()
                .starts_with("broken.yaml: line 2: the marker"),
            "{}",
            scan.problems[0]
        );
    }

    #[test]
    fn paths_outside_the_repo_are_refused_also_through_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(&repo).unwrap();
        std::fs::write(dir.path().join("outside.yaml"), MODEL).unwrap();
        std::fs::write(repo.join("in.yaml"), MODEL).unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside.yaml"), repo.join("link.yaml"))
            .unwrap();
        let repo = repo.canonicalize().unwrap();
        assert!(resolve_in_repo(&repo, Path::new("in.yaml")).is_ok());
        for bad in [
            "../outside.yaml",
            "link.yaml",
            "../missing.yaml",
            "/etc/passwd",
        ] {
            let err = resolve_in_repo(&repo, Path::new(bad)).unwrap_err();
            assert!(
                matches!(err, DiscoverError::OutsideRepo { .. }),
                "{bad}: {err}"
            );
        }
        assert!(matches!(
            resolve_in_repo(&repo, Path::new("missing.yaml")),
            Err(DiscoverError::Open { .. })
        ));
    }
}
