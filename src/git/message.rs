//! Commit messages: the template's first lines, the list of model changes, and provenance trailers.
//!
//! The message is computed from the changes a commit actually carries, so when a rejected push is
//! re-applied on a fresh remote tip the "old" values are the ones that commit really replaces (a stale
//! old value in the message is a known complaint about other write-back tools). Trailers follow git's
//! `Key: value` convention so that `git interpret-trailers` and forges can read them: one block per
//! model with provenance, opened by `Modelbump-Target: NAME (FILE)` and followed by that model's
//! `MLflow-Run-Id`, `MLflow-Model-Version` and `MLflow-Experiment`; `MLflow-Tracking-Uri` closes the
//! trailers once. A reader takes each MLflow trailer as belonging to the last `Modelbump-Target` above it.

use crate::secret::redact_url;

/// The template used when neither `-m` nor `git.message` is given.
pub(crate) const DEFAULT_TEMPLATE: &str = "update: model URIs of {models}";

/// Where a new model URI came from, for the trailers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provenance {
    /// The MLflow run.
    pub run_id: Option<String>,
    /// The registered model version.
    pub model_version: Option<String>,
    /// The experiment id.
    pub experiment_id: Option<String>,
}

impl Provenance {
    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.run_id.is_none() && self.model_version.is_none() && self.experiment_id.is_none()
    }
}

/// One model URI that a commit changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelChange {
    /// The name as `set` takes it.
    pub name: String,
    /// The resource kind.
    pub kind: String,
    /// The manifest, relative to the working tree, `/`-separated.
    pub file: String,
    /// 1-based line of the value in the commit's base.
    pub line: usize,
    /// The URI before.
    pub old: String,
    /// The URI after.
    pub new: String,
    /// Where the new URI came from, when known.
    pub provenance: Option<Provenance>,
}

/// The whole commit message: `template` with `{count}`, `{models}` and `{files}` filled in, a blank
/// line, `- NAME (FILE): old -> new` per change, and the trailers when any change has provenance.
pub(crate) fn render_message(
    template: &str,
    changes: &[ModelChange],
    tracking_uri: Option<&str>,
) -> String {
    let models = join_unique(changes.iter().map(|c| c.name.as_str()));
    let files = join_unique(changes.iter().map(|c| c.file.as_str()));
    // A last paragraph of `Key: value` lines in the template is trailers: they go to the trailer block,
    // after the change list, where git reads them.
    let (template, own_trailers) = split_trailers(template);
    let head = template
        .replace("{count}", &changes.len().to_string())
        .replace("{models}", &models)
        .replace("{files}", &files);
    let mut message = head.trim_end().to_string();
    message.push_str("\n\n");
    for change in changes {
        message.push_str(&format!(
            "- {} ({}): {} -> {}\n",
            change.name, change.file, change.old, change.new
        ));
    }
    // One block per model: `Modelbump-Target` opens it and the MLflow trailers after it, up to the next
    // `Modelbump-Target`, belong to that model, so two models' run ids and versions cannot be confused.
    let mut trailers: Vec<String> = Vec::new();
    // The template's own trailers (e.g. `Modelbump-Action: rollback`) come first.
    trailers.extend(own_trailers.iter().map(|line| line.to_string()));
    let mut any = false;
    for c in changes {
        let Some(p) = c.provenance.as_ref().filter(|p| !p.is_empty()) else {
            continue;
        };
        any = true;
        trailers.push(format!(
            "Modelbump-Target: {} ({})",
            one_line(&c.name),
            one_line(&c.file)
        ));
        if let Some(run) = &p.run_id {
            trailers.push(format!("MLflow-Run-Id: {}", one_line(run)));
        }
        if let Some(version) = &p.model_version {
            trailers.push(format!("MLflow-Model-Version: {}", one_line(version)));
        }
        if let Some(experiment) = &p.experiment_id {
            trailers.push(format!("MLflow-Experiment: {}", one_line(experiment)));
        }
    }
    if any && let Some(uri) = tracking_uri {
        trailers.push(format!(
            "MLflow-Tracking-Uri: {}",
            one_line(&redact_url(uri))
        ));
    }
    if !trailers.is_empty() {
        message.push('\n');
        for line in trailers {
            message.push_str(&line);
            message.push('\n');
        }
    }
    message
}

/// Splits a template's last paragraph off when every line of it is a `Key: value` trailer.
fn split_trailers(template: &str) -> (&str, Vec<&str>) {
    let trimmed = template.trim_end();
    let Some((head, last)) = trimmed.rsplit_once("\n\n") else {
        return (template, Vec::new());
    };
    let is_trailer = |line: &str| {
        line.split_once(": ").is_some_and(|(key, _)| {
            !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
    };
    if last.lines().all(is_trailer) {
        (head, last.lines().collect())
    } else {
        (template, Vec::new())
    }
}

fn join_unique<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen.join(", ")
}

/// A trailer value must stay on one line, or it would forge further trailers.
fn one_line(value: &str) -> String {
    value.replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(name: &str, old: &str, new: &str, run: Option<&str>) -> ModelChange {
        ModelChange {
            name: name.into(),
            kind: "Model".into(),
            file: "k8s/models.yaml".into(),
            line: 7,
            old: old.into(),
            new: new.into(),
            provenance: run.map(|r| Provenance {
                run_id: Some(r.into()),
                model_version: None,
                experiment_id: Some("29".into()),
            }),
        }
    }

    #[test]
    fn lists_changes_and_trailers_with_a_redacted_tracking_uri() {
        let changes = [
            change("baseline", "s3://b/1/", "s3://b/2/", Some("r2")),
            change("enhanced", "s3://e/1/", "s3://e/2/", Some("r3")),
        ];
        let message = render_message(
            "update {count} models: {models}",
            &changes,
            Some("https://bob:canary-pw@mlflow.example.com/"),
        );
        insta::assert_snapshot!(message, @r"
        update 2 models: baseline, enhanced

        - baseline (k8s/models.yaml): s3://b/1/ -> s3://b/2/
        - enhanced (k8s/models.yaml): s3://e/1/ -> s3://e/2/

        Modelbump-Target: baseline (k8s/models.yaml)
        MLflow-Run-Id: r2
        MLflow-Experiment: 29
        Modelbump-Target: enhanced (k8s/models.yaml)
        MLflow-Run-Id: r3
        MLflow-Experiment: 29
        MLflow-Tracking-Uri: https://mlflow.example.com/
        ");
        assert!(!message.contains("canary-pw"));
    }

    #[test]
    fn no_trailers_without_provenance() {
        let message = render_message(
            DEFAULT_TEMPLATE,
            &[change("m", "a", "b", None)],
            Some("http://x"),
        );
        assert_eq!(
            message,
            "update: model URIs of m\n\n- m (k8s/models.yaml): a -> b\n"
        );
    }

    #[test]
    fn trailer_values_stay_on_one_line() {
        let mut c = change("m", "a", "b", Some("r1\nSigned-off-by: mallory"));
        c.provenance.as_mut().unwrap().experiment_id = None;
        let message = render_message("t", &[c], None);
        assert!(
            message.ends_with("MLflow-Run-Id: r1 Signed-off-by: mallory\n"),
            "{message}"
        );
    }
}
