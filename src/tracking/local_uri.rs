//! Which local store a tracking URI names: [`SqliteStore`] for `sqlite:///`, [`FileStore`] for `file:` and
//! plain paths, and MLflow 3's default (`./mlruns` with experiments, else `./mlflow.db`) when none is set.
//!
//! The dispatch sits above both stores, in a module of its own, so that the stores do not import each other.

use percent_encoding::percent_decode_str;
use std::path::{Path, PathBuf};

use super::filestore::FileStore;
use super::sqlite::SqliteStore;
use super::{TrackingError, TrackingStore};

/// Opens the local store a tracking URI names, or the one MLflow would use when none is set.
///
/// * `sqlite:///relative.db`, `sqlite:////absolute.db`: [`SqliteStore`] (SQLAlchemy's form: the path
///   follows the third slash).
/// * `file:///path/mlruns`, `file:relative`, or a plain path: [`FileStore`].
/// * No URI (or an empty one): as MLflow 3 does, `./mlruns` when it holds experiments (a numbered folder
///   with a `meta.yaml`), else `./mlflow.db`; relative to `base` (the caller's working folder).
///
/// Returns `None` for `http(s)://` (the REST backend's), and an error for other database schemes, which
/// only a tracking server can read. Relative paths are resolved against `base`.
pub(crate) fn open_local(
    uri: Option<&str>,
    base: &Path,
) -> Option<Result<Box<dyn TrackingStore>, TrackingError>> {
    let uri = uri.map(str::trim).unwrap_or_default();
    let abs = |p: &str| {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }
    };
    let sqlite = |path: PathBuf| {
        Some(SqliteStore::open(&path).map(|s| Box::new(s) as Box<dyn TrackingStore>))
    };
    let file =
        |path: PathBuf| Some(FileStore::open(&path).map(|s| Box::new(s) as Box<dyn TrackingStore>));
    if uri.is_empty() {
        let mlruns = base.join("mlruns");
        if has_mlruns_data(&mlruns) {
            return file(mlruns);
        }
        let db = base.join("mlflow.db");
        if db.is_file() {
            return sqlite(db);
        }
        return Some(Err(TrackingError::Config(format!(
            "no tracking URI set, and neither {} nor an mlruns folder with experiments exists in {}; set MLFLOW_TRACKING_URI (or mlflow.trackingUri, or --tracking-uri)",
            "mlflow.db",
            base.display()
        ))));
    }
    let lower = uri.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return None;
    }
    if let Some(rest) = uri.strip_prefix("sqlite://") {
        // sqlite:///x.db -> "x.db" (relative), sqlite:////x.db -> "/x.db"; a query string is not a path.
        let rest = rest.strip_prefix('/').unwrap_or(rest);
        let rest = rest.split('?').next().unwrap_or_default();
        let decoded = percent_decode_str(rest).decode_utf8_lossy();
        if decoded.is_empty() || decoded == ":memory:" {
            return Some(Err(TrackingError::Config(format!(
                "{uri}: an in-memory sqlite database holds no runs; name the database file, e.g. sqlite:///mlflow.db"
            ))));
        }
        return sqlite(abs(&decoded));
    }
    if let Some(rest) = uri.strip_prefix("file:") {
        if rest.starts_with('/') {
            return match url::Url::parse(uri)
                .ok()
                .and_then(|u| u.to_file_path().ok())
            {
                Some(p) => file(p),
                None => Some(Err(TrackingError::Config(format!(
                    "{uri}: not a usable file: URI"
                )))),
            };
        }
        return file(abs(&percent_decode_str(rest).decode_utf8_lossy()));
    }
    if let Some((scheme, _)) = uri.split_once("://") {
        return Some(Err(TrackingError::Config(format!(
            "{scheme}:// tracking stores are read through an MLflow server: run `mlflow server --backend-store-uri {scheme}://...` and set MLFLOW_TRACKING_URI to its http(s):// address"
        ))));
    }
    file(abs(uri))
}

/// Whether `dir` holds a store MLflow would use by default (`mlruns` with experiments, or `mlflow.db`).
pub(crate) fn has_default_store(dir: &Path) -> bool {
    has_mlruns_data(&dir.join("mlruns")) || dir.join("mlflow.db").is_file()
}

/// MLflow's own test for "this mlruns folder holds a file store": a numbered folder with a `meta.yaml`.
fn has_mlruns_data(mlruns: &Path) -> bool {
    std::fs::read_dir(mlruns).is_ok_and(|entries| {
        entries.filter_map(|e| e.ok()).any(|e| {
            e.file_name()
                .to_string_lossy()
                .chars()
                .all(|c| c.is_ascii_digit())
                && e.path().is_dir()
                && e.path().join("meta.yaml").exists()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_local_follows_mlflows_uri_rules() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        assert!(open_local(Some("http://127.0.0.1:5000"), base).is_none());
        assert!(open_local(Some("HTTPS://mlflow.example"), base).is_none());
        let e = open_local(None, base).unwrap().err().unwrap().to_string();
        assert!(e.contains("MLFLOW_TRACKING_URI"), "{e}");
        let e = open_local(Some("postgresql://u@h/db"), base)
            .unwrap()
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("mlflow server"), "{e}");
        let e = open_local(Some("sqlite:///missing%20file.db"), base)
            .unwrap()
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("missing file.db"), "{e}");
        // An mlruns folder with only artifacts (what a sqlite store leaves) is not a file store.
        std::fs::create_dir_all(base.join("mlruns/1/abc/artifacts")).unwrap();
        assert!(!has_mlruns_data(&base.join("mlruns")));
        std::fs::write(base.join("mlruns/1/meta.yaml"), "name: x\n").unwrap();
        assert!(has_mlruns_data(&base.join("mlruns")));
        let store = open_local(None, base).unwrap().unwrap();
        assert!(store.describe().starts_with("file://") && store.describe().ends_with("/mlruns"));
        let store = open_local(Some("mlruns"), base).unwrap().unwrap();
        assert!(store.describe().ends_with("/mlruns"));
        let store = open_local(Some(&format!("file://{}/mlruns", base.display())), base)
            .unwrap()
            .unwrap();
        assert!(store.describe().ends_with("/mlruns"));
    }
}
