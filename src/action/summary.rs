//! The job summary (`$GITHUB_STEP_SUMMARY`): one Markdown table row per
//! entry with what the run did, and the explanations.

use std::fmt::Write;

use crate::apply::{Outcome, Report};
use crate::plan::{Decision, EntryPlan, Plan};

/// One entry, flattened for tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// `tenant/entry`.
    pub key: String,
    /// Entry name.
    pub entry: String,
    /// Tenant name.
    pub tenant: String,
    /// The plan's decision label.
    pub state: String,
    /// Current kid, shortened.
    pub kid: String,
    /// Age of the current credential.
    pub age: String,
    /// Its expiry date.
    pub expires: String,
    /// When the next rotation falls due.
    pub next_due: String,
    /// What this run did.
    pub action: String,
    /// The entry's rotation PR, if any.
    pub pull: Option<(u64, String)>,
    /// The plan's explanation.
    pub explanation: String,
    /// Whether a human must act (cap reached, drift, failure).
    pub needs_human: bool,
    /// A rotation is proposed or in flight: merging its PR retires the old
    /// credential.
    pub retirement_pending: bool,
    /// A merged rotation is approved: the next finalize retires.
    pub finalize_next: bool,
}

fn date(t: time::OffsetDateTime) -> String {
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

fn row(e: &EntryPlan, outcome: Option<&Outcome>, taken_default: &str) -> Row {
    let c = e.current.as_ref();
    let mut pull = match &e.decision {
        Decision::InFlight { pull, url } => Some((*pull, url.clone())),
        _ => None,
    };
    let mut needs_human = matches!(e.decision, Decision::NeedsAttention { .. });
    let action = match outcome {
        Some(Outcome::Rotated {
            pull: n,
            pull_url,
            pull_operation,
            verified,
            ..
        }) => {
            pull = Some((*n, pull_url.clone()));
            format!(
                "rotated ({}), PR {pull_operation}",
                if *verified {
                    "verified"
                } else {
                    "not verified"
                }
            )
        }
        Some(Outcome::Refreshed {
            pull: n, pull_url, ..
        }) => {
            pull = Some((*n, pull_url.clone()));
            "PR refreshed".to_owned()
        }
        Some(Outcome::Finalized { retired }) => format!("retired {}", retired.join(", ")),
        Some(Outcome::Applied { summary, pull: p }) => {
            if let Some(p) = p {
                pull = Some((p.number, p.url.clone()));
            }
            summary.clone()
        }
        Some(Outcome::Waiting { reason }) => format!("waiting: {reason}"),
        Some(Outcome::Unchanged { .. }) => "none".to_owned(),
        Some(Outcome::NeedsAttention { reason }) => {
            needs_human = true;
            format!("needs attention: {reason}")
        }
        Some(Outcome::Failed { error }) => {
            needs_human = true;
            format!("FAILED: {error}")
        }
        None => taken_default.to_owned(),
    };
    Row {
        key: e.key(),
        entry: e.entry.clone(),
        tenant: e.tenant.clone(),
        state: e.decision.label().to_owned(),
        retirement_pending: matches!(
            e.decision,
            Decision::InFlight { .. } | Decision::Rotate { .. }
        ),
        finalize_next: matches!(
            e.decision,
            Decision::Finalize { .. }
                | Decision::UpdateExpiry { .. }
                | Decision::Revert { .. }
                | Decision::Cutover { .. }
                | Decision::RetireOldClient { .. }
                | Decision::SetSecret { .. }
                | Decision::RetireSecret { .. }
        ),
        kid: c
            .and_then(|c| c.kid.as_deref())
            .map(crate::plan::short_kid)
            .unwrap_or_default(),
        age: c
            .and_then(|c| c.age_days)
            .map(|a| format!("{a} d"))
            .unwrap_or_default(),
        expires: c.and_then(|c| c.expires_at).map(date).unwrap_or_default(),
        next_due: match &e.decision {
            Decision::NotDue { next_due } => date(*next_due),
            Decision::Rotate { .. } => "now".to_owned(),
            _ => String::new(),
        },
        action,
        pull,
        explanation: e.explanation.clone(),
        needs_human,
    }
}

/// Rows for `plan`, with outcomes from `report` (matched by entry key).
pub fn rows(plan: &Plan, report: Option<&Report>, taken_default: &str) -> Vec<Row> {
    plan.entries
        .iter()
        .map(|e| {
            let key = e.key();
            let outcome = report.and_then(|r| {
                r.entries
                    .iter()
                    .find(|x| x.entry == key)
                    .map(|x| &x.outcome)
            });
            row(e, outcome, taken_default)
        })
        .collect()
}

/// Escapes text for a table cell.
pub fn cell(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('\n', " ")
}

/// The Markdown table shared by the summary and the dashboard.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| Entry | Tenant | State | Kid | Age | Expires | Next due | Action taken | PR |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let kid = if r.kid.is_empty() {
            String::new()
        } else {
            format!("`{}`", r.kid)
        };
        let pr = r
            .pull
            .as_ref()
            .map(|(n, url)| format!("[#{n}]({url})"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "| `{}` | `{}` | {} | {kid} | {} | {} | {} | {} | {pr} |",
            r.entry,
            r.tenant,
            r.state,
            r.age,
            r.expires,
            r.next_due,
            cell(&r.action)
        );
    }
    out
}

/// The whole step summary.
pub fn render(mode: &str, reason: &str, dry_run: bool, rows: &[Row], extra: &[String]) -> String {
    let mut out = format!(
        "## auth0-rotate: {mode}{}\n\n{}\n\n",
        if dry_run { " (dry run)" } else { "" },
        cell(reason)
    );
    if rows.is_empty() {
        out.push_str("No entries selected.\n");
    } else {
        out.push_str(&table(rows));
        out.push('\n');
        for r in rows {
            let _ = writeln!(out, "- **{}**: {}", r.key, cell(&r.explanation));
        }
    }
    for line in extra {
        let _ = writeln!(out, "\n{line}");
    }
    out
}

/// Appends `text` to the summary file.
pub fn append(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(text.as_bytes())
}
