//! Text rendering shared by several commands.

use std::io::Write;
use std::path::Path;

use crate::cli::OutputFormat;
use crate::report::{Report, ReportCommand, TargetStatus};

/// What `plan` and `apply` both print: the `--report` file when asked, then on stdout the JSON report, or
/// the table followed by `text_tail` (the diff, or what was written).
pub(crate) fn plan_output(
    command: ReportCommand,
    output: OutputFormat,
    report_file: Option<&Path>,
    report: &Report,
    text_tail: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    crate::cli::outputs::write_report(report_file, command, report, None)?;
    let mut out = std::io::stdout().lock();
    match output {
        OutputFormat::Json => out.write_all(report.document(command, None).to_json().as_bytes())?,
        OutputFormat::Text => {
            out.write_all(table(report).as_bytes())?;
            text_tail(&mut out)?;
        }
    }
    out.flush()?;
    Ok(())
}

/// One line per target: status, `file:line`, name, and `old -> new` or the reason.
pub(crate) fn table(report: &Report) -> String {
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
        let old = t.old_uri.as_deref().unwrap_or("");
        let new = t.new_uri.as_deref().unwrap_or("");
        let detail = match t.status {
            TargetStatus::Changed => format!("{old} -> {new}"),
            TargetStatus::Unchanged => new.to_string(),
            TargetStatus::Blocked | TargetStatus::Pinned => {
                format!("{old} ({})", t.reason.as_deref().unwrap_or(""))
            }
            TargetStatus::Failed => t.error.clone().unwrap_or_default(),
        };
        let mut provenance = Vec::new();
        if let Some(v) = &t.model_version {
            provenance.push(format!("version {v}"));
        }
        if let Some(r) = &t.run_id {
            provenance.push(format!("run {r}"));
        }
        let provenance = if provenance.is_empty() || t.status == TargetStatus::Blocked {
            String::new()
        } else {
            format!(" [{}]", provenance.join(", "))
        };
        out.push_str(&format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {detail}{provenance}\n",
            row[0],
            row[1],
            row[2],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        ));
        for w in &t.warnings {
            out.push_str(&format!("  warning: {w}\n"));
        }
    }
    out
}
