//! Text rendering shared by several commands: the target lines of `plan`, `apply` and `run`, their
//! summary line, and the targets' warnings (on stderr).

use std::io::Write;
use std::path::Path;

use crate::cli::OutputFormat;
use crate::cli::color::{Style, paint};
use crate::report::{Report, ReportCommand, TargetStatus};

/// What `plan` and `apply` both print: the `--report` file when asked, then on stdout the JSON report, or
/// the table and its summary line followed by `text_tail` (the diff, or what was written). The targets'
/// warnings go to stderr, in both formats.
pub(crate) fn plan_output(
    command: ReportCommand,
    output: OutputFormat,
    color: bool,
    tense: Tense,
    report_file: Option<&Path>,
    report: &Report,
    text_tail: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    crate::cli::outputs::write_report(report_file, command, report, None)?;
    log_warnings(report);
    let mut out = std::io::stdout().lock();
    match output {
        OutputFormat::Json => out.write_all(report.document(command, None).to_json().as_bytes())?,
        OutputFormat::Text => {
            out.write_all(table(report, color).as_bytes())?;
            out.write_all(summary(report, tense, color).as_bytes())?;
            text_tail(&mut out)?;
        }
    }
    out.flush()?;
    Ok(())
}

/// The targets' warnings, one log line each on stderr: a warning is not a result.
pub(crate) fn log_warnings(report: &Report) {
    for t in &report.targets {
        for w in &t.warnings {
            tracing::warn!("{} ({}:{}): {w}", t.name, t.file, t.line);
        }
    }
}

/// Whether the changes of a summary are planned or made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tense {
    /// `2 to change`.
    Planned,
    /// `2 changed`.
    Done,
}

/// The summary line: how many targets change, and how many are unchanged, blocked or pinned (only the
/// counts that are not zero), e.g. `2 to change, 1 blocked`.
pub(crate) fn summary(report: &Report, tense: Tense, color: bool) -> String {
    let count = |status: TargetStatus| report.targets.iter().filter(|t| t.status == status).count();
    let changed = count(TargetStatus::Changed);
    let mut parts = Vec::new();
    if changed > 0 || report.targets.is_empty() {
        parts.push(match tense {
            Tense::Planned => format!("{changed} to change"),
            Tense::Done => format!("{changed} changed"),
        });
    }
    for (status, word) in [
        (TargetStatus::Unchanged, "unchanged"),
        (TargetStatus::Blocked, "blocked"),
        (TargetStatus::Pinned, "pinned"),
        (TargetStatus::Held, "held"),
    ] {
        let n = count(status);
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    format!("{}\n", paint(color, Style::Bold, &parts.join(", ")))
}

/// The style of a status word.
fn status_style(status: TargetStatus) -> Style {
    match status {
        TargetStatus::Changed => Style::Added,
        TargetStatus::Unchanged => Style::Dim,
        TargetStatus::Blocked | TargetStatus::Failed => Style::Warn,
        TargetStatus::Pinned | TargetStatus::Held => Style::Info,
    }
}

/// One short line per target, aligned: status, `file:line`, name, then the new URI (changed), the
/// current one (unchanged) or the reason (blocked, pinned), and where the new URI came from. The old
/// URI is in the diff (`plan`) or the commit lines (`run`), so no line states a change twice.
pub(crate) fn table(report: &Report, color: bool) -> String {
    let rows: Vec<[String; 3]> = report
        .targets
        .iter()
        .map(|t| {
            let status = serde_json::to_value(t.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            [status, format!("{}:{}", t.file, t.line), t.name.clone()]
        })
        .collect();
    let widths = [0, 1, 2].map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0));
    let mut out = String::new();
    for (t, row) in report.targets.iter().zip(&rows) {
        let detail = match t.status {
            TargetStatus::Changed | TargetStatus::Unchanged => {
                t.new_uri.as_deref().unwrap_or("").to_string()
            }
            TargetStatus::Blocked | TargetStatus::Pinned | TargetStatus::Held => {
                t.reason.clone().unwrap_or_default()
            }
            TargetStatus::Failed => t.error.clone().unwrap_or_default(),
        };
        let mut provenance = Vec::new();
        if let Some(v) = &t.model_version {
            provenance.push(format!("version {v}"));
        }
        if let Some(r) = &t.run_id {
            provenance.push(format!("run {}", &r[..r.len().min(12)]));
        }
        let provenance = if provenance.is_empty() || t.status == TargetStatus::Blocked {
            String::new()
        } else {
            format!("  ({})", provenance.join(", "))
        };
        let status = format!("{:<w$}", row[0], w = widths[0]);
        let line = format!(
            "{}  {:<w1$}  {:<w2$}  {detail}{provenance}",
            paint(color, status_style(t.status), &status),
            row[1],
            row[2],
            w1 = widths[1],
            w2 = widths[2]
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
