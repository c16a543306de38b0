//! The counters and gauges of `/metrics`, written in the Prometheus text exposition format (0.0.4).
//!
//! Written by hand: six metric families with fixed label sets are a few lines of formatting, and a
//! metrics crate would add a registry, atomics and an encoder for no gain. The format's rules that apply
//! here: one `# HELP` and `# TYPE` per family, counters end in `_total`, label values are escaped
//! (backslash, double quote, newline), and every series of a family follows its header. The tests parse
//! the output with the reference Python parser (`prometheus_client`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

/// One metric family: name, type, help, the label of its series (if any), and the series.
type Family<'a> = (
    &'a str,
    &'a str,
    &'a str,
    Option<&'a str>,
    Vec<(String, f64)>,
);

/// The dependencies an error is counted against.
pub(crate) const DEPENDENCIES: [&str; 4] = ["mlflow", "git", "argocd", "other"];

/// The outcomes of a run.
pub(crate) const OUTCOMES: [&str; 3] = ["changed", "unchanged", "failed"];

/// The verdicts on a webhook delivery.
pub(crate) const VERDICTS: [&str; 7] = [
    "accepted",
    "ignored",
    "malformed",
    "bad_signature",
    "stale",
    "replayed",
    "busy",
];

/// What `/metrics` shows.
#[derive(Default)]
pub(crate) struct Metrics {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    runs: BTreeMap<&'static str, u64>,
    errors: BTreeMap<&'static str, u64>,
    deliveries: BTreeMap<&'static str, u64>,
    targets: BTreeMap<String, u64>,
    last_success: Option<f64>,
    running: bool,
}

impl Metrics {
    /// Counts a run that ended with `outcome` (one of [`OUTCOMES`]) at `now` (Unix seconds).
    pub(crate) fn run_ended(&self, outcome: &'static str, now: f64) {
        let mut state = self.lock();
        *state.runs.entry(outcome).or_default() += 1;
        if outcome != "failed" {
            state.last_success = Some(now);
        }
        state.running = false;
    }

    /// Marks a run as in progress.
    pub(crate) fn run_started(&self) {
        self.lock().running = true;
    }

    /// Counts an error of `dependency` (one of [`DEPENDENCIES`]).
    pub(crate) fn error(&self, dependency: &'static str) {
        *self.lock().errors.entry(dependency).or_default() += 1;
    }

    /// Counts a delivery with `verdict` (one of [`VERDICTS`]).
    pub(crate) fn delivery(&self, verdict: &'static str) {
        *self.lock().deliveries.entry(verdict).or_default() += 1;
    }

    /// The targets of the last run, by status.
    pub(crate) fn set_targets<'a>(&self, statuses: impl IntoIterator<Item = &'a str>) {
        let mut counts = BTreeMap::new();
        for status in statuses {
            *counts.entry(status.to_string()).or_default() += 1;
        }
        self.lock().targets = counts;
    }

    /// The exposition, with the queue depth and readiness read at the time of the scrape.
    pub(crate) fn render(&self, queue_depth: usize, ready: bool) -> String {
        let state = self.lock();
        let mut out = String::new();
        let counts =
            |map: &BTreeMap<&'static str, u64>, keys: &[&'static str]| -> Vec<(String, f64)> {
                keys.iter()
                    .map(|k| (k.to_string(), map.get(k).copied().unwrap_or(0) as f64))
                    .collect()
            };
        let targets: Vec<(String, f64)> = state
            .targets
            .iter()
            .map(|(status, n)| (status.clone(), *n as f64))
            .collect();
        let families: [Family<'_>; 8] = [
            (
                "modelbump_serve_runs_total",
                "counter",
                "Runs of the pipeline, by outcome",
                Some("outcome"),
                counts(&state.runs, &OUTCOMES),
            ),
            (
                "modelbump_serve_last_success_timestamp_seconds",
                "gauge",
                "When a run last succeeded, in Unix seconds (0: never)",
                None,
                vec![(String::new(), state.last_success.unwrap_or(0.0))],
            ),
            (
                "modelbump_serve_targets",
                "gauge",
                "Targets of the last run, by status",
                Some("status"),
                targets,
            ),
            (
                "modelbump_serve_errors_total",
                "counter",
                "Errors, by the dependency that failed",
                Some("dependency"),
                counts(&state.errors, &DEPENDENCIES),
            ),
            (
                "modelbump_serve_queue_depth",
                "gauge",
                "Work items waiting for the worker",
                None,
                vec![(String::new(), queue_depth as f64)],
            ),
            (
                "modelbump_serve_run_in_progress",
                "gauge",
                "1 while a run is in progress",
                None,
                vec![(String::new(), f64::from(u8::from(state.running)))],
            ),
            (
                "modelbump_serve_ready",
                "gauge",
                "1 when MLflow and the git remote were reached",
                None,
                vec![(String::new(), f64::from(u8::from(ready)))],
            ),
            (
                "modelbump_serve_webhook_deliveries_total",
                "counter",
                "Webhook deliveries, by verdict",
                Some("verdict"),
                counts(&state.deliveries, &VERDICTS),
            ),
        ];
        for (name, kind, help, label, series) in families {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (value, n) in series {
                match label {
                    Some(label) => {
                        let _ = writeln!(out, "{name}{{{label}=\"{}\"}} {n}", escape(&value));
                    }
                    None => {
                        let _ = writeln!(out, "{name} {n}");
                    }
                }
            }
        }
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A label value as the format wants it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_its_series() {
        let m = Metrics::default();
        m.run_started();
        m.run_ended("changed", 1_780_000_000.5);
        m.error("git");
        m.delivery("accepted");
        m.delivery("accepted");
        m.set_targets(["changed", "unchanged", "changed", "we\"ird"]);
        let text = m.render(3, true);
        for line in [
            "modelbump_serve_runs_total{outcome=\"changed\"} 1",
            "modelbump_serve_runs_total{outcome=\"failed\"} 0",
            "modelbump_serve_last_success_timestamp_seconds 1780000000.5",
            "modelbump_serve_targets{status=\"changed\"} 2",
            "modelbump_serve_targets{status=\"we\\\"ird\"} 1",
            "modelbump_serve_errors_total{dependency=\"git\"} 1",
            "modelbump_serve_queue_depth 3",
            "modelbump_serve_run_in_progress 0",
            "modelbump_serve_ready 1",
            "modelbump_serve_webhook_deliveries_total{verdict=\"accepted\"} 2",
            "# TYPE modelbump_serve_runs_total counter",
        ] {
            assert!(text.lines().any(|l| l == line), "{line}\n{text}");
        }
    }
}
