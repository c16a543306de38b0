//! Reading manifests without blocking, and writes that never leave a half-written manifest behind.
//!
//! Only regular files are read or written. A FIFO (named pipe) would block a read until someone
//! writes to it, and a device (`/dev/zero`) never ends, so [`read_regular`] checks the file type
//! before it opens anything and opens without blocking (`O_NONBLOCK`), so that a file swapped for a
//! FIFO in between cannot block either; it then checks the type of what it opened.
//!
//! A pipeline step can be killed at any moment (a pod evicted, a timeout). A manifest is therefore
//! written to a temporary file in the same folder, flushed to disk, given the original file's owner
//! (where the user may set it: as root, or the user's own file) and mode, and renamed over the
//! original: a reader sees either the old bytes or the new ones, never a mix. A file the user could
//! not write in place is refused rather than replaced by the rename, as an editor warns about a
//! read-only file: no write permission bit at all (`chmod a-w`, which also stops root), or none that
//! lets this user write (`access(2)`).
//!
//! Every path a user names (a config `file:`, `set FILE`, `targets PATH`, a file to commit) is kept
//! inside the repo by one rule, [`contained`]: first the path as written (absolute, or relative to the
//! repo; `..` resolved by hand) must stay inside, then the file it really is, symlinks followed, must too.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

/// Errors writing a file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WriteError {
    /// Any I/O failure, with the file it was for.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file being written.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file exists but may not be written (see [`check_writable`]).
    #[error("cannot write {path}: {reason}")]
    NotWritable {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: NotWritable,
    },
}

/// Why an existing file may not be written. The caller names the file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NotWritable {
    /// No write permission for this user.
    #[error(
        "it is read-only (mode {mode:04o}); modelbump does not replace a file you cannot write: make it writable (chmod u+w) and run again"
    )]
    ReadOnly {
        /// The permission bits.
        mode: u32,
    },
    /// A FIFO, device, socket or folder.
    #[error("it is {what}, not a regular file; modelbump writes only regular files")]
    NotRegular {
        /// What it is, e.g. `a FIFO (named pipe)`.
        what: &'static str,
    },
    /// Its metadata cannot be read.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Why a file could not be read. The caller names the file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    /// A FIFO, device, socket or folder.
    #[error("it is {what}, not a regular file; modelbump reads only regular files")]
    NotRegular {
        /// What it is, e.g. `a FIFO (named pipe)`.
        what: &'static str,
    },
    /// Opening or reading failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// What a file that is not a regular file is, for messages; `None` for a regular file.
pub(crate) fn not_regular(file_type: std::fs::FileType) -> Option<&'static str> {
    if file_type.is_file() {
        None
    } else if file_type.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if file_type.is_socket() {
        Some("a socket")
    } else if file_type.is_char_device() || file_type.is_block_device() {
        Some("a device")
    } else if file_type.is_dir() {
        Some("a folder")
    } else {
        Some("not a file")
    }
}

/// Reads a whole regular file (following symlinks); anything else is refused before it is opened.
pub(crate) fn read_regular(path: &Path) -> Result<Vec<u8>, ReadError> {
    let meta = std::fs::metadata(path)?;
    if let Some(what) = not_regular(meta.file_type()) {
        return Err(ReadError::NotRegular { what });
    }
    let mut buffer = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    read_into(path, &mut buffer, true)?;
    Ok(buffer)
}

/// Reads a whole file into `buffer`, opened without blocking (see the module doc). With `check`, the
/// opened file's type is checked too (one `fstat`); the directory walk, which already knows the type
/// from the directory entry, saves that call.
pub(crate) fn read_into(path: &Path, buffer: &mut Vec<u8>, check: bool) -> Result<(), ReadError> {
    buffer.clear();
    let mut file = open_nonblocking(path)?;
    if check && let Some(what) = not_regular(file.metadata()?.file_type()) {
        return Err(ReadError::NotRegular { what });
    }
    // `O_NONBLOCK` does not change reads of a regular file; of a FIFO swapped in after the check it
    // makes them end (or fail) at once instead of waiting for a writer.
    (&mut file).take(u64::MAX).read_to_end(buffer)?;
    Ok(())
}

fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    let flags = rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY;
    OpenOptions::new()
        .read(true)
        .custom_flags(i32::try_from(flags.bits()).unwrap_or(0))
        .open(path)
}

/// Checks that an existing file may be replaced: a regular file with a write permission bit that
/// this user may use. A file that does not exist yet passes.
pub(crate) fn check_writable(path: &Path) -> Result<(), NotWritable> {
    match std::fs::metadata(path) {
        Ok(meta) => check_writable_meta(path, &meta),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn check_writable_meta(path: &Path, meta: &Metadata) -> Result<(), NotWritable> {
    if let Some(what) = not_regular(meta.file_type()) {
        return Err(NotWritable::NotRegular { what });
    }
    let mode = meta.permissions().mode() & 0o7777;
    // Root passes access(2) whatever the bits say; a file nobody may write is read-only for root too.
    let no_write_bit = mode & 0o222 == 0;
    if no_write_bit || rustix::fs::access(path, rustix::fs::Access::WRITE_OK).is_err() {
        return Err(NotWritable::ReadOnly { mode });
    }
    Ok(())
}

/// Replaces the content of `path` with `bytes` atomically, keeping the file's owner (where the user
/// may set it) and permissions. An existing file must be a regular file this user may write
/// ([`check_writable`]).
///
/// Returns `false` without touching the file when it already holds exactly `bytes`.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<bool, WriteError> {
    let io = |source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    };
    let not_writable = |reason| WriteError::NotWritable {
        path: path.to_path_buf(),
        reason,
    };
    let meta = match std::fs::metadata(path) {
        Ok(meta) => Some(meta),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(e)),
    };
    if let Some(meta) = &meta {
        if let Some(what) = not_regular(meta.file_type()) {
            return Err(not_writable(NotWritable::NotRegular { what }));
        }
        if let Ok(current) = read_regular(path)
            && current == bytes
        {
            return Ok(false);
        }
        check_writable_meta(path, meta).map_err(not_writable)?;
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".modelbump-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    if let Some(meta) = &meta {
        // The owner first: changing it may clear the set-id bits that the mode then restores. Only
        // root (or a user giving the file to one of their own groups) may change it; otherwise the
        // new file is the user's, as with any editor that writes a new file.
        let _ = std::os::unix::fs::fchown(tmp.as_file(), Some(meta.uid()), Some(meta.gid()));
        std::fs::set_permissions(tmp.path(), meta.permissions()).map_err(io)?;
    }
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    // Make the rename itself durable: a crash right after must not bring back the old directory entry.
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(true)
}

/// A path that does not stay inside the repo, or that cannot be resolved; names the path as given.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ContainmentError {
    /// As written (absolute, or with `..`), the path leaves the repo.
    #[error(
        "{} is outside the repo {}; give a path inside it (relative to the repo root)",
        path.display(),
        root.display()
    )]
    Outside {
        /// The path as given.
        path: PathBuf,
        /// The repo root.
        root: PathBuf,
    },
    /// The path is inside as written, but a symlink on the way leads out.
    #[error(
        "{} is outside the repo {}: a symlink leads it to {}; give a path inside it (relative to the repo root)",
        path.display(),
        root.display(),
        target.display()
    )]
    LinkOutside {
        /// The path as given.
        path: PathBuf,
        /// The repo root.
        root: PathBuf,
        /// Where the path really leads.
        target: PathBuf,
    },
    /// The path (or the repo root) does not exist or cannot be resolved.
    #[error("cannot read {}: {error}", path.display())]
    Missing {
        /// The path as given.
        path: PathBuf,
        /// The path as written, made absolute, with `.` and `..` resolved by hand; inside the repo.
        lexical: PathBuf,
        /// Why it could not be resolved.
        error: std::io::Error,
    },
}

/// `path` (absolute, or relative to `root`) as the real path of an existing file or folder inside
/// `root`, or why not.
///
/// Two checks, so that neither a `..` nor a symlink leads out: the path as written, with `.` and `..`
/// resolved by hand, must be inside `root` (a path that does not exist is refused for leaving before it
/// is reported missing); then the path the file system resolves, symlinks followed, must be inside the
/// real `root`. A symlink that stays inside is followed: the result is the file it points to.
pub(crate) fn contained(root: &Path, path: &Path) -> Result<PathBuf, ContainmentError> {
    let given = path.to_path_buf();
    let joined = root.join(path);
    let real_root = root
        .canonicalize()
        .map_err(|error| ContainmentError::Missing {
            path: root.to_path_buf(),
            lexical: normalize(root),
            error,
        })?;
    let lexical = normalize(&joined);
    if !lexical.starts_with(normalize(root)) && !lexical.starts_with(&real_root) {
        return Err(ContainmentError::Outside {
            path: given,
            root: root.to_path_buf(),
        });
    }
    // The file system resolves `joined`, not `lexical`: `link/..` is the parent of the link's target.
    let real = joined
        .canonicalize()
        .map_err(|error| ContainmentError::Missing {
            path: given.clone(),
            lexical,
            error,
        })?;
    if !real.starts_with(&real_root) {
        return Err(ContainmentError::LinkOutside {
            path: given,
            root: root.to_path_buf(),
            target: real,
        });
    }
    Ok(real)
}

/// `path` with `.` dropped and `..` taken off the end, without asking the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder holding `m.yaml` (`a: 1`) with the given mode.
    fn file_with_mode(mode: u32) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.yaml");
        std::fs::write(&path, b"a: 1\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        (dir, path)
    }

    #[test]
    fn writes_only_when_bytes_differ_and_keeps_the_mode() {
        let (dir, path) = file_with_mode(0o640);
        assert!(!write_atomic(&path, b"a: 1\n").unwrap());
        assert!(write_atomic(&path, b"a: 2\n").unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"a: 2\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn a_read_only_file_is_refused_even_for_root_and_left_as_it_was() {
        let (dir, path) = file_with_mode(0o444);
        let inode = std::fs::metadata(&path).unwrap().ino();
        // Unchanged bytes need no write.
        assert!(!write_atomic(&path, b"a: 1\n").unwrap());
        let err = write_atomic(&path, b"a: 2\n").unwrap_err();
        assert!(
            matches!(
                err,
                WriteError::NotWritable {
                    reason: NotWritable::ReadOnly { mode: 0o444 },
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string().contains("is read-only (mode 0444)"),
            "{err}"
        );
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.ino(), inode, "the file was not replaced");
        assert_eq!(meta.permissions().mode() & 0o777, 0o444);
        assert_eq!(std::fs::read(&path).unwrap(), b"a: 1\n");
        assert!(matches!(
            check_writable(&path),
            Err(NotWritable::ReadOnly { .. })
        ));
        assert!(check_writable(&dir.path().join("new.yaml")).is_ok());
    }

    #[test]
    fn the_owner_is_kept_where_the_user_may_set_it() {
        let (_dir, path) = file_with_mode(0o644);
        // Only root may give a file away; elsewhere there is nothing to check.
        if std::os::unix::fs::chown(&path, Some(4242), Some(4343)).is_err() {
            eprintln!("SKIPPED the_owner_is_kept_where_the_user_may_set_it: not root");
            return;
        }
        assert!(write_atomic(&path, b"a: 2\n").unwrap());
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (4242, 4343));
    }

    #[test]
    fn fifos_devices_and_folders_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.yaml");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        for (path, what) in [
            (fifo.as_path(), "a FIFO (named pipe)"),
            (Path::new("/dev/zero"), "a device"),
            (dir.path(), "a folder"),
        ] {
            let err = read_regular(path).unwrap_err();
            assert!(
                matches!(err, ReadError::NotRegular { what: w } if w == what),
                "{}: {err}",
                path.display()
            );
            assert!(matches!(
                write_atomic(path, b"x"),
                Err(WriteError::NotWritable {
                    reason: NotWritable::NotRegular { .. },
                    ..
                })
            ));
        }
        // Opened without blocking even when the type check is skipped: a FIFO without a writer reads
        // as empty at once.
        let mut buffer = Vec::new();
        read_into(&fifo, &mut buffer, false).unwrap();
        assert!(buffer.is_empty());
        assert!(matches!(
            read_into(&fifo, &mut buffer, true),
            Err(ReadError::NotRegular { .. })
        ));
    }

    /// A repo folder `repo` holding `in.yaml`, next to `outside.yaml`, with links `repo/link-in` ->
    /// `in.yaml` and `repo/link-out` -> `../outside.yaml`.
    fn repo_with_links() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(repo.join("k8s")).unwrap();
        std::fs::write(repo.join("in.yaml"), "a: 1\n").unwrap();
        std::fs::write(dir.path().join("outside.yaml"), "a: 1\n").unwrap();
        std::os::unix::fs::symlink("in.yaml", repo.join("link-in")).unwrap();
        std::os::unix::fs::symlink("../outside.yaml", repo.join("link-out")).unwrap();
        (dir, repo)
    }

    #[test]
    fn contained_accepts_paths_inside_the_repo() {
        let (_dir, repo) = repo_with_links();
        let real = repo.canonicalize().unwrap().join("in.yaml");
        for path in [
            Path::new("in.yaml"),
            Path::new("./in.yaml"),
            Path::new("k8s/../in.yaml"),
            &repo.join("in.yaml"),
            &real,
        ] {
            assert_eq!(contained(&repo, path).unwrap(), real, "{}", path.display());
        }
        // A symlink that stays inside is followed to the file it points to.
        assert_eq!(contained(&repo, Path::new("link-in")).unwrap(), real);
    }

    #[test]
    fn contained_refuses_paths_that_leave_the_repo() {
        let (dir, repo) = repo_with_links();
        let outside = dir.path().join("outside.yaml");
        for path in [
            Path::new("../outside.yaml"),
            Path::new("k8s/../../outside.yaml"),
            &outside,
            // Leaving is said before missing.
            Path::new("../missing.yaml"),
            Path::new("/etc/missing.yaml"),
        ] {
            let err = contained(&repo, path).unwrap_err();
            assert!(
                matches!(err, ContainmentError::Outside { .. }),
                "{}: {err}",
                path.display()
            );
            let text = err.to_string();
            assert!(
                text.starts_with(&format!("{} is outside the repo", path.display())),
                "{text}"
            );
            assert!(text.contains("relative to the repo root"), "{text}");
        }
        let err = contained(&repo, Path::new("link-out")).unwrap_err();
        assert!(matches!(err, ContainmentError::LinkOutside { .. }), "{err}");
        let text = err.to_string();
        assert!(text.starts_with("link-out is outside the repo"), "{text}");
        assert!(
            text.contains("outside.yaml"),
            "names where the link leads: {text}"
        );
    }

    #[test]
    fn contained_reports_a_missing_file_with_its_path_as_written() {
        let (_dir, repo) = repo_with_links();
        let err = contained(&repo, Path::new("k8s/./missing.yaml")).unwrap_err();
        let ContainmentError::Missing { path, lexical, .. } = &err else {
            panic!("{err}");
        };
        assert_eq!(path, Path::new("k8s/./missing.yaml"));
        assert_eq!(lexical, &repo.join("k8s/missing.yaml"));
        assert!(
            err.to_string()
                .starts_with("cannot read k8s/./missing.yaml: "),
            "{err}"
        );
    }
}
