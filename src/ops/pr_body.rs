//! The pull request's body: what a reviewer of a model change needs to see, in Markdown.
//!
//! Per target: the old and new URI, where the candidate came from (run, registered version, logged
//! model) with links to the MLflow UI, a table of the candidate's metrics next to the deployed model's
//! (the metrics named in `orderBy` and `require` first), each gate of `require` with its result, then the
//! plan's diff. Links never carry credentials: the tracking URI loses its user info. The body ends with
//! a hidden marker naming the candidate, which is how a rerun recognises its own pull request.
//!
//! [`gather`] asks the tracking store for the runs (the candidate's and the deployed one's) and checks
//! the gates again for the table; [`render`] is a pure function of what was gathered.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::config::TargetConfig;
use crate::git::ModelChange;
use crate::report::{Report, TargetStatus};
use crate::resolve::{Deployed, Gate};
use crate::tracking::{MlflowOptions, Run};

/// What the body says of one target beyond the report line.
#[derive(Debug, Clone, Default)]
pub(crate) struct TargetDetail {
    /// The registered model's name, for registry targets.
    pub registered: Option<String>,
    /// The metrics named in `orderBy` and `require`, in that order.
    pub named_metrics: Vec<String>,
    /// The candidate run's metrics.
    pub candidate: BTreeMap<String, f64>,
    /// The deployed run's metrics, when it could be identified.
    pub deployed: Option<BTreeMap<String, f64>>,
    /// Why the deployed run's metrics are missing.
    pub deployed_note: Option<String>,
    /// Each gate as written, with `Ok` or why it does not hold.
    pub gates: Vec<(String, Result<(), String>)>,
}

/// What the body is made of.
pub(crate) struct BodyInput<'a> {
    /// The run's report (one line per configured target, in config order).
    pub report: &'a Report,
    /// Per report line: what [`gather`] found.
    pub details: &'a [TargetDetail],
    /// The changes the commit carries.
    pub changes: &'a [ModelChange],
    /// Per change: its YAML path, for a path or marker target's value (`None` for the known kinds).
    pub yaml_paths: &'a [Option<String>],
    /// The plan's unified diff.
    pub diff: &'a str,
    /// The tracking URI, for links.
    pub tracking_uri: Option<&'a str>,
    /// The head and base branches.
    pub head: &'a str,
    /// The base branch.
    pub base: &'a str,
    /// The hidden marker (an HTML comment).
    pub marker: &'a str,
}

/// The most metrics one table shows.
const MAX_METRICS: usize = 20;

/// Asks the tracking store what the body shows of each changed target. Failures make notes, not errors:
/// the pull request is worth opening without its table.
pub(crate) async fn gather(
    mlflow: &MlflowOptions,
    report: &Report,
    targets: &[TargetConfig],
    changes: &[ModelChange],
) -> Vec<TargetDetail> {
    let mut details = vec![TargetDetail::default(); report.targets.len()];
    let store = match crate::tracking::open(mlflow) {
        Ok(store) => store,
        Err(e) => {
            tracing::warn!("the pull request body has no metrics: {e}");
            return details;
        }
    };
    for (i, line) in report.targets.iter().enumerate() {
        let Some(config) = targets.get(i) else {
            continue;
        };
        if !matches!(line.status, TargetStatus::Changed | TargetStatus::Unchanged) {
            continue;
        }
        // What the base branch deploys now (the checkout may hold the new value already).
        let Some(change) = change_of(changes, line) else {
            continue;
        };
        let detail = &mut details[i];
        detail.registered = config.registered.as_ref().map(|r| r.name.clone());
        detail.named_metrics = named_metrics(config);
        let candidate: Option<Run> = match &line.run_id {
            Some(id) => store.run(id).await.ok().flatten(),
            None => None,
        };
        if let Some(run) = &candidate {
            detail.candidate = run.metrics.clone();
        }
        let deployed = crate::resolve::find_deployed(store.as_ref(), &change.old)
            .await
            .unwrap_or_else(|e| Deployed::Missing(e.to_string()));
        match &deployed {
            Deployed::Run(run) => detail.deployed = Some(run.metrics.clone()),
            Deployed::Unknown => {
                detail.deployed_note = Some("the deployed URI names no MLflow run or model".into());
            }
            Deployed::Missing(why) => detail.deployed_note = Some(why.clone()),
        }
        for text in &config.require {
            let result = match Gate::parse(text) {
                Ok(gate) => gate.check(candidate.as_ref(), &deployed),
                Err(e) => Err(e.to_string()),
            };
            detail.gates.push((text.clone(), result));
        }
    }
    details
}

/// The change of the commit that a report line is about.
fn change_of<'a>(
    changes: &'a [ModelChange],
    line: &crate::report::TargetReport,
) -> Option<&'a ModelChange> {
    changes
        .iter()
        .find(|c| {
            c.name == line.name
                && c.kind == line.kind
                && c.line == line.line
                && line.file.ends_with(&c.file)
        })
        .or_else(|| {
            changes.iter().find(|c| {
                c.name == line.name && c.kind == line.kind && line.file.ends_with(&c.file)
            })
        })
        .or_else(|| {
            changes
                .iter()
                .find(|c| c.name == line.name && c.kind == line.kind)
        })
}

/// The metric names an `orderBy` and the `require` gates mention (`metrics.NAME`, also quoted in
/// backticks and under `deployed.`), in order, once each.
pub(crate) fn named_metrics(target: &TargetConfig) -> Vec<String> {
    let mut texts: Vec<&str> = Vec::new();
    if let Some(order) = target.run.as_ref().and_then(|r| r.order_by.as_deref()) {
        texts.push(order);
    }
    texts.extend(target.require.iter().map(String::as_str));
    let mut names: Vec<String> = Vec::new();
    for text in texts {
        let mut rest = text;
        while let Some(at) = rest.find("metrics.") {
            let after = &rest[at + "metrics.".len()..];
            let (name, tail) = if let Some(quoted) = after.strip_prefix('`') {
                match quoted.find('`') {
                    Some(end) => (&quoted[..end], &quoted[end + 1..]),
                    None => (quoted, ""),
                }
            } else {
                let end = after
                    .find(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '/')))
                    .unwrap_or(after.len());
                (&after[..end], &after[end..])
            };
            if !name.is_empty() && !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
            rest = tail;
        }
    }
    names
}

/// The MLflow UI's base URL: the tracking URI when it is http(s), without user info or trailing slash.
fn ui_base(tracking_uri: Option<&str>) -> Option<String> {
    let uri = tracking_uri?;
    if !(uri.starts_with("http://") || uri.starts_with("https://")) {
        return None;
    }
    Some(
        crate::secret::redact_url(uri)
            .trim_end_matches('/')
            .to_string(),
    )
}

fn link(text: &str, url: Option<String>) -> String {
    match url {
        Some(url) => format!("[`{text}`]({url})"),
        None => format!("`{text}`"),
    }
}

fn number(value: Option<&f64>) -> String {
    match value {
        Some(v) => format!("{v}"),
        None => "–".into(),
    }
}

/// Escapes `|` and line breaks for a table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// The body.
pub(crate) fn render(input: &BodyInput<'_>) -> String {
    let ui = ui_base(input.tracking_uri);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "modelbump proposes {} model change(s) from `{}` to `{}`.\n",
        input.changes.len(),
        input.head,
        input.base
    );
    for (i, line) in input.report.targets.iter().enumerate() {
        let Some(change) = change_of(input.changes, line) else {
            continue;
        };
        let detail = input.details.get(i).cloned().unwrap_or_default();
        // A path or marker target's value: where it is, since the name alone does not say.
        let yaml_path = input
            .changes
            .iter()
            .position(|c| std::ptr::eq(c, change))
            .and_then(|at| input.yaml_paths.get(at).cloned().flatten());
        let place = match &yaml_path {
            Some(_) => format!("{}:{}", change.file, change.line),
            None => change.file.clone(),
        };
        let _ = writeln!(
            out,
            "### {} `{}` in `{}`\n",
            cell(&line.kind),
            cell(&line.name),
            cell(&place)
        );
        let _ = writeln!(out, "| | |\n|---|---|");
        if let Some(yaml_path) = &yaml_path {
            let _ = writeln!(out, "| YAML path | `{}` |", cell(yaml_path));
        }
        let _ = writeln!(out, "| old | `{}` |", cell(&change.old));
        let _ = writeln!(out, "| new | `{}` |", cell(&change.new));
        let experiment = line.experiment_id.as_deref();
        if let Some(run) = &line.run_id {
            let url = match (&ui, experiment) {
                (Some(ui), Some(exp)) => Some(format!("{ui}/#/experiments/{exp}/runs/{run}")),
                _ => None,
            };
            let _ = writeln!(out, "| run | {} |", link(run, url));
        }
        if let Some(version) = &line.model_version {
            let name = detail.registered.clone();
            let text = match &name {
                Some(n) => format!("{n} v{version}"),
                None => format!("v{version}"),
            };
            let url = match (&ui, &name) {
                (Some(ui), Some(n)) => Some(format!(
                    "{ui}/#/models/{}/versions/{version}",
                    percent_encoding::utf8_percent_encode(n, percent_encoding::NON_ALPHANUMERIC)
                )),
                _ => None,
            };
            let _ = writeln!(out, "| model version | {} |", link(&text, url));
        }
        if let Some(model) = &line.model_id {
            let url = match (&ui, experiment) {
                (Some(ui), Some(exp)) => Some(format!("{ui}/#/experiments/{exp}/models/{model}")),
                _ => None,
            };
            let _ = writeln!(out, "| logged model | {} |", link(model, url));
        }
        out.push('\n');

        // Metrics: the named ones first, then the candidate's others, at most MAX_METRICS.
        let mut names: Vec<String> = detail.named_metrics.clone();
        for name in detail.candidate.keys() {
            if names.len() >= MAX_METRICS {
                break;
            }
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        if !names.is_empty() {
            let _ = writeln!(out, "| metric | candidate | deployed |\n|---|---:|---:|");
            for name in &names {
                let deployed = match &detail.deployed {
                    Some(metrics) => number(metrics.get(name)),
                    None => "?".into(),
                };
                let shown = if detail.named_metrics.contains(name) {
                    format!("**{}**", cell(name))
                } else {
                    cell(name)
                };
                let _ = writeln!(
                    out,
                    "| {shown} | {} | {deployed} |",
                    number(detail.candidate.get(name))
                );
            }
            if let Some(note) = &detail.deployed_note {
                let _ = writeln!(out, "\nDeployed metrics unknown: {}.", cell(note));
            }
            out.push('\n');
        }
        if !detail.gates.is_empty() {
            let _ = writeln!(out, "| gate | result |\n|---|---|");
            for (gate, result) in &detail.gates {
                let verdict = match result {
                    Ok(()) => "✅ passed".to_string(),
                    Err(why) => format!("❌ {}", cell(why)),
                };
                let _ = writeln!(out, "| `{}` | {verdict} |", cell(gate));
            }
            out.push('\n');
        }
    }
    if !input.diff.is_empty() {
        let _ = writeln!(
            out,
            "<details><summary>Plan diff</summary>\n\n```diff\n{}```\n\n</details>\n",
            input.diff.replace("```", "`\u{200b}``")
        );
    }
    let _ = writeln!(
        out,
        "Opened by modelbump; a newer candidate updates this pull request.\n{}",
        input.marker
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_named_by_order_and_gates_are_found() {
        let target: TargetConfig = serde_saphyr::from_str(
            "file: m.yaml\nname: m\nrun:\n  experiment: e\n  orderBy: \"metrics.`val acc` DESC, metrics.f1 DESC\"\nrequire:\n  - \"metrics.auc >= deployed.metrics.auc\"\n  - \"metrics.f1 > 0.5\"\n",
        )
        .unwrap();
        assert_eq!(named_metrics(&target), ["val acc", "f1", "auc"]);
    }

    #[test]
    fn links_carry_no_credentials() {
        assert_eq!(
            ui_base(Some("https://bot:s3cret@mlflow.acme.io/")).as_deref(),
            Some("https://mlflow.acme.io")
        );
        assert_eq!(ui_base(Some("sqlite:///mlflow.db")), None);
    }
}
