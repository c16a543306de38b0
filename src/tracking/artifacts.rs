//! Artifact listing of a local artifact root (a plain path or a `file:` URI), as MLflow's
//! `artifacts/list` answers it. Both local stores ([`super::filestore`], [`super::sqlite`]) list artifacts
//! this way, through [`super::local`]; it sits in a module of its own so that neither store imports the
//! other.

use std::path::PathBuf;

use super::{ArtifactEntry, ArtifactListing};

/// The local folder an artifact URI points at: a plain path or a `file:` URI. `None` for remote stores.
fn local_path(uri: &str) -> Option<PathBuf> {
    if uri.starts_with("file:") {
        return url::Url::parse(uri)
            .ok()
            .and_then(|u| u.to_file_path().ok());
    }
    if uri.contains("://")
        || uri.starts_with("mlflow-artifacts:")
        || uri.starts_with("runs:")
        || uri.starts_with("models:")
    {
        return None;
    }
    Some(PathBuf::from(uri))
}

/// `artifacts/list` for an artifact root on the local disk: the entries directly under `path`, with paths
/// relative to the root, sorted. A remote root cannot be listed without its store's credentials, so it is
/// reported as unavailable rather than guessed.
pub(crate) fn list_local_artifacts(root: &str, path: &str) -> ArtifactListing {
    let Some(base) = local_path(root) else {
        // The resolver's message names the location; say only why it was not listed.
        return ArtifactListing::Unavailable(
            "remote storage; a local tracking store does not read it".to_string(),
        );
    };
    let rel = path.trim_matches('/');
    if rel.split('/').any(|c| c == "..") {
        return ArtifactListing::Unavailable(format!(
            "artifact path {path:?} leaves the artifact root"
        ));
    }
    let dir = if rel.is_empty() { base } else { base.join(rel) };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return ArtifactListing::Listed(Vec::new());
    };
    let mut out: Vec<ArtifactEntry> = entries
        .filter_map(|e| e.ok())
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            ArtifactEntry {
                path: if rel.is_empty() {
                    name
                } else {
                    format!("{rel}/{name}")
                },
                is_dir: e.path().is_dir(),
            }
        })
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    ArtifactListing::Listed(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_artifact_roots_are_unavailable_not_guessed() {
        assert!(matches!(
            list_local_artifacts("s3://bucket/x", ""),
            ArtifactListing::Unavailable(_)
        ));
        assert!(matches!(
            list_local_artifacts("mlflow-artifacts:/1/x", ""),
            ArtifactListing::Unavailable(_)
        ));
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("model")).unwrap();
        std::fs::write(dir.path().join("model/MLmodel"), "x").unwrap();
        let root = url::Url::from_file_path(dir.path()).unwrap().to_string();
        assert_eq!(
            list_local_artifacts(&root, "model"),
            ArtifactListing::Listed(vec![ArtifactEntry {
                path: "model/MLmodel".into(),
                is_dir: false
            }])
        );
        assert!(matches!(
            list_local_artifacts(&root, "../x"),
            ArtifactListing::Unavailable(_)
        ));
    }
}
