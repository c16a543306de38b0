//! File writes that never leave a half-written manifest behind.
//!
//! A pipeline step can be killed at any moment (a pod evicted, a timeout). A manifest is therefore
//! written to a temporary file in the same folder, flushed to disk, given the original file's mode and
//! renamed over the original: a reader sees either the old bytes or the new ones, never a mix.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Errors writing a file.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Any I/O failure, with the file it was for.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file being written.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Replaces the content of `path` with `bytes` atomically, keeping the file's permissions.
///
/// Returns `false` without touching the file when it already holds exactly `bytes`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<bool, WriteError> {
    let io = |source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    };
    let current = std::fs::read(path);
    if let Ok(current) = &current
        && current == bytes
    {
        return Ok(false);
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
    if let Ok(meta) = std::fs::metadata(path) {
        std::fs::set_permissions(tmp.path(), meta.permissions()).map_err(io)?;
    }
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    // Make the rename itself durable: a crash right after must not bring back the old directory entry.
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_only_when_bytes_differ_and_keeps_the_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.yaml");
        std::fs::write(&path, b"a: 1\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(!write_atomic(&path, b"a: 1\n").unwrap());
        assert!(write_atomic(&path, b"a: 2\n").unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"a: 2\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }
}
