//! The credential dashboard: one issue per repository, found by its label
//! and title, created on the first run and edited in place afterwards (like
//! Renovate's dependency dashboard).

use std::fmt::Write;

use super::summary::{cell, table, Row};
use crate::github::{GitHubApi, GitHubError, Repo};
use crate::tenant_keys::KeysPlan;

/// The dashboard issue's title.
pub const TITLE: &str = "auth0-rotate: credential dashboard";
/// Its label.
pub const LABEL: &str = "auth0-rotate-dashboard";
/// First line of the body; marks the issue as the tool's.
pub const MARKER: &str = "<!-- auth0-rotate:dashboard -->";

/// What happened to the issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Opened now.
    Created,
    /// Body replaced.
    Updated,
    /// The body was already current.
    Unchanged,
}

/// The issue body: the credential rows, then the signing-key and connection
/// tables. `updated` is a human-readable timestamp; `run_url` links
/// the run that wrote it.
pub fn body(rows: &[Row], keys: &KeysPlan, updated: &str, run_url: Option<&str>) -> String {
    let mut b = format!("{MARKER}\n\nCredentials managed by auth0-rotate, as of {updated}");
    if let Some(url) = run_url {
        let _ = write!(b, " ([run]({url}))");
    }
    b.push_str(".\n\n");
    if rows.is_empty() && keys.is_empty() {
        b.push_str("The manifest selects no credentials.\n");
        return b;
    }
    if !rows.is_empty() {
        b.push_str(&table(rows));
    }
    if !keys.is_empty() {
        b.push('\n');
        b.push_str(&keys.to_markdown());
    }

    let pending: Vec<&Row> = rows
        .iter()
        .filter(|r| r.pull.is_some() && r.retirement_pending)
        .collect();
    b.push_str("\n### Pending retirements\n\n");
    if pending.is_empty() {
        b.push_str("None.\n");
    }
    for r in pending {
        let (n, url) = r.pull.as_ref().expect("filtered");
        let _ = writeln!(
            b,
            "- [ ] `{}`: merge [#{n}]({url}) to retire the old credential",
            r.key
        );
    }
    for r in rows.iter().filter(|r| r.finalize_next) {
        let _ = writeln!(
            b,
            "- [ ] `{}`: {} (runs on the next finalize)",
            r.key,
            cell(&r.explanation)
        );
    }

    let human: Vec<&Row> = rows.iter().filter(|r| r.needs_human).collect();
    b.push_str("\n### Needs a human\n\n");
    if human.is_empty() {
        b.push_str("Nothing.\n");
    }
    for r in human {
        let what = if r.action.starts_with("FAILED") {
            cell(&r.action)
        } else {
            cell(&r.explanation)
        };
        let _ = writeln!(b, "- **`{}`**: {what}", r.key);
    }
    b.push_str(
        "\n---\nThis issue is rewritten by every run; edits are lost. \
         Set the action input `dashboard: false` to stop updating it.\n",
    );
    b
}

/// Finds the dashboard or creates it, and writes `body`. Only the issue
/// body is compared, so an unchanged state makes no edit.
pub async fn upsert<G: GitHubApi>(
    gh: &G,
    repo: &Repo,
    body: &str,
) -> Result<(u64, String, Change), GitHubError> {
    match gh.find_issue(repo, LABEL, TITLE).await? {
        Some(issue) => {
            // The timestamp line changes each run; compare the rest.
            let same = strip_stamp(issue.body.as_deref().unwrap_or("")) == strip_stamp(body);
            if same {
                return Ok((issue.number, issue.html_url, Change::Unchanged));
            }
            let issue = gh.update_issue_body(repo, issue.number, body).await?;
            Ok((issue.number, issue.html_url, Change::Updated))
        }
        None => {
            let issue = gh
                .create_issue(repo, TITLE, body, &[LABEL.to_owned()])
                .await?;
            Ok((issue.number, issue.html_url, Change::Created))
        }
    }
}

fn strip_stamp(body: &str) -> String {
    body.lines()
        .filter(|l| !l.starts_with("Credentials managed by auth0-rotate, as of"))
        .collect::<Vec<_>>()
        .join("\n")
}
