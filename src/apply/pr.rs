//! The rotation pull request: ledger commit on the entry's branch, and the
//! PR text (which never contains key material).

use std::fmt::Write;

use super::ApplyError;
use crate::github::{commit_files, FileChange, GitHubApi, Pull};
use crate::ledger::LedgerEntry;
use crate::plan::date;
use crate::spec::EntrySpec;
use crate::workspace::Workspace;
pub use crate::workspace::{PullOperation, LABEL};

/// Title of an entry's rotation PR.
pub fn title(spec: &EntrySpec, ledger: &LedgerEntry) -> String {
    format!(
        "auth0-rotate: rotate {} (kid {}…)",
        spec.key(),
        ledger.current.kid.chars().take(10).collect::<String>()
    )
}

/// Body of an entry's rotation PR.
pub fn body(
    spec: &EntrySpec,
    ledger: &LedgerEntry,
    sinks: &[String],
    verified: Option<bool>,
) -> String {
    let mut b = String::new();
    let _ = writeln!(b, "## Rotate `{}`\n", spec.key());
    let _ = writeln!(
        b,
        "A new credential was registered for Auth0 client `{}` on tenant `{}` and attached next to the \
         old one. **Both keys work until this PR is merged**; merging approves retiring the old one.\n",
        spec.policy.client_id, spec.tenant_domain
    );
    let _ = writeln!(
        b,
        "| | Credential | Kid | Algorithm | Expires |\n|---|---|---|---|---|"
    );
    let c = &ledger.current;
    let _ = writeln!(
        b,
        "| New (current) | `{}` | `{}` | {} | {} |",
        c.credential_id,
        c.kid,
        c.alg,
        c.expires_at.map(date).unwrap_or_else(|| "never".into())
    );
    for r in &ledger.retiring {
        let _ = writeln!(
            b,
            "| Old (retired on merge) | `{}` | `{}` | | {} |",
            r.credential_id,
            r.kid,
            r.deadline
                .map(|d| format!("deadline {}", date(d)))
                .unwrap_or_else(|| "at merge".into())
        );
    }
    b.push('\n');
    match verified {
        Some(true) => {
            let _ = writeln!(
                b,
                "✅ Verified: a client-credentials token exchange for `{}` succeeded with the new key.\n",
                spec.verify_audience.as_deref().unwrap_or("")
            );
        }
        Some(false) | None if spec.verify_audience.is_none() => {
            let _ = writeln!(b, "⚠️ Not verified: the entry has no `verify.audience`, so no token exchange proved the new key.\n");
        }
        _ => {}
    }
    if !sinks.is_empty() {
        let _ = writeln!(b, "### The new private key was written to\n");
        for s in sinks {
            let _ = writeln!(b, "- {s}");
        }
        b.push('\n');
    }
    let _ = writeln!(b, "### Before merging\n");
    let _ = writeln!(b, "- [ ] Every consumer of the secrets above has picked up the new key (redeployed, or re-read the secret).");
    let _ = writeln!(
        b,
        "- [ ] The canary check on this PR (a token exchange with the stored secret) is green."
    );
    for r in &ledger.retiring {
        let _ = writeln!(
            b,
            "- [ ] Nothing still signs with kid `{}` (Auth0 tenant logs, type `sccft`/`feccft`).",
            r.kid
        );
    }
    let _ = writeln!(
        b,
        "\nAfter the merge, `auth0-rotate finalize` (the workflow on merge, or the next scheduled run) detaches and deletes the old credential.\n"
    );
    let _ = writeln!(
        b,
        "<sub>This PR changes only the ledger file; it holds no secrets.</sub>"
    );
    b
}

/// Commits the ledger on the entry's branch (rebuilt from the default branch,
/// like a force-pushed bot branch) and opens or updates the PR.
///
/// `expected_head` is the commit this run last wrote to the branch (its
/// journal): the branch is replaced only while it is still there, so a run
/// never overwrites what someone else pushed since (checked immediately
/// before the update; GitHub's REST API has no compare-and-swap for a forced
/// update).
pub async fn publish<G: GitHubApi>(
    gh: &G,
    ws: &Workspace,
    spec: &EntrySpec,
    ledger: &LedgerEntry,
    body_text: &str,
    expected_head: Option<&str>,
) -> Result<(Pull, PullOperation), ApplyError> {
    let branch = ws.branch(&spec.policy.tenant, &spec.policy.entry);
    let base = gh
        .branch_sha(&ws.repo, &ws.default_branch)
        .await?
        .ok_or_else(|| {
            ApplyError::Unsafe(format!("default branch {} not found", ws.default_branch))
        })?;
    let path = ws.ledger_path(&spec.policy.tenant, &spec.policy.entry);
    let commit = commit_files(
        gh,
        &ws.repo,
        &base,
        &format!(
            "auth0-rotate: rotate {} to kid {}",
            spec.key(),
            ledger.current.kid
        ),
        &[FileChange {
            path,
            content: Some(ledger.render()),
        }],
    )
    .await?;
    let head = gh.branch_sha(&ws.repo, &branch).await?;
    if head.as_deref() != expected_head {
        return Err(ApplyError::Changed(format!(
            "the branch {branch} moved since this run wrote its journal (someone else pushed to it); \
             it was left as it is"
        )));
    }
    match head {
        None => {
            if !gh.create_branch(&ws.repo, &branch, &commit).await? {
                return Err(ApplyError::Changed(format!(
                    "the branch {branch} appeared meanwhile"
                )));
            }
        }
        Some(_) => gh.force_branch(&ws.repo, &branch, &commit).await?,
    }
    open_pull(gh, ws, spec, ledger, body_text).await
}

/// Opens the entry's PR from its branch, or updates the open one.
pub async fn open_pull<G: GitHubApi>(
    gh: &G,
    ws: &Workspace,
    spec: &EntrySpec,
    ledger: &LedgerEntry,
    body_text: &str,
) -> Result<(Pull, PullOperation), ApplyError> {
    let branch = ws.branch(&spec.policy.tenant, &spec.policy.entry);
    let title = title(spec, ledger);
    Ok(ws
        .open_or_update_pull(gh, &branch, &title, body_text)
        .await?)
}
