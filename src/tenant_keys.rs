//! Tenant signing keys and connection keys next to client credentials:
//! observe → plan ([`crate::signing`], [`crate::connection_keys`]) → apply,
//! with one combined plan, its text/JSON/Markdown renderings and a report.
//!
//! [`Session`] methods `plan_keys`, `rotate_keys` and `finalize_keys` run
//! these flows for every tenant of the manifest that declares
//! `signing_keys` or `connections`.

use std::collections::BTreeSet;
use std::fmt::Write;

use serde::Serialize;
use time::OffsetDateTime;

use crate::apply::pr::{PullOperation, LABEL};
use crate::apply::ApplyError;
use crate::auth0::{ConnectionKeysApi, SigningKeysApi};
use crate::connection_keys::{
    self, connection_path, ConnectionLedger, ConnectionObserved, ConnectionPlan, ConnectionPolicy,
    ConnectionPull, ObservedConnection, ObservedConnectionKey,
};
use crate::github::{commit_files, FileChange, GitHubApi, Pull};
use crate::manifest::{ConnectionRef, Manifest};
use crate::observe::{ObserveError, Workspace};
use crate::plan::date;
use crate::session::{Session, SessionError};
use crate::signing::{
    self, signing_path, ObservedSigningKey, SigningLedger, SigningObserved, SigningPlan,
    SigningPolicy, SigningPull,
};

/// The signing-key and connection-key policies of a manifest.
pub fn policies(manifest: &Manifest) -> (Vec<SigningPolicy>, Vec<ConnectionPolicy>) {
    let mut s = Vec::new();
    let mut c = Vec::new();
    for (name, t) in &manifest.tenants {
        if let Some(sk) = &t.signing_keys {
            s.push(SigningPolicy {
                tenant: name.clone(),
                domain: t.domain.clone(),
                rotate_every: sk.rotate_every,
                jwks_cache_ttl: sk.jwks_cache_ttl,
                revoke_after: sk.revoke_after,
                after: sk.after.clone(),
            });
        }
        for e in &t.connections {
            c.push(ConnectionPolicy {
                tenant: name.clone(),
                connection: e.connection.clone(),
                rotate_every: e.rotate_every,
            });
        }
    }
    (s, c)
}

/// Branch of a tenant's signing-key PR.
pub fn signing_branch(ws: &Workspace, tenant: &str) -> String {
    format!("{}/{tenant}/signing-keys", ws.branch_prefix)
}

/// Branch of a connection's key PR.
pub fn connection_branch(ws: &Workspace, tenant: &str, connection: &str) -> String {
    let safe: String = connection
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{}/{tenant}/connection/{safe}", ws.branch_prefix)
}

/// The combined plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeysPlan {
    /// When it was computed for.
    #[serde(with = "time::serde::rfc3339")]
    pub now: OffsetDateTime,
    /// Per tenant with `signing_keys`.
    pub signing_keys: Vec<SigningPlan>,
    /// Per connection.
    pub connections: Vec<ConnectionPlan>,
}

impl KeysPlan {
    /// True when a human must act on some key entry.
    pub fn needs_attention(&self) -> bool {
        self.signing_keys
            .iter()
            .any(|p| matches!(p.decision, signing::SigningDecision::NeedsAttention { .. }))
            || self.connections.iter().any(|p| {
                matches!(
                    p.decision,
                    connection_keys::ConnectionDecision::NeedsAttention { .. }
                )
            })
    }

    /// True when something is to do or a human must act.
    pub fn has_changes(&self) -> bool {
        self.signing_keys.iter().any(SigningPlan::has_changes)
            || self.connections.iter().any(ConnectionPlan::has_changes)
    }

    /// True when there is nothing to plan at all.
    pub fn is_empty(&self) -> bool {
        self.signing_keys.is_empty() && self.connections.is_empty()
    }

    /// Plain text.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let rows: Vec<(String, &str, &str)> = self
            .signing_keys
            .iter()
            .map(|p| (p.key(), p.decision.label(), p.explanation.as_str()))
            .chain(
                self.connections
                    .iter()
                    .map(|p| (p.key(), p.decision.label(), p.explanation.as_str())),
            )
            .collect();
        let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
        for (key, label, why) in &rows {
            let _ = writeln!(out, "{key:width$}  {:<15}  {why}", label.to_uppercase());
        }
        for p in &self.signing_keys {
            let _ = writeln!(
                out,
                "{}: current {} ({} days), next {}{}",
                p.key(),
                short(p.current_kid.as_deref()),
                p.current_age_days.unwrap_or(0),
                short(p.next_kid.as_deref()),
                p.previous_kid
                    .as_deref()
                    .map(|k| format!(", previous {}", short(Some(k))))
                    .unwrap_or_default()
            );
        }
        for p in &self.connections {
            let _ = writeln!(
                out,
                "{}: current {}, next {}",
                p.key(),
                short(p.current_kid.as_deref()),
                short(p.next_kid.as_deref())
            );
        }
        out
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("plans serialize")
    }

    /// Markdown (job summary, dashboard).
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        if !self.signing_keys.is_empty() {
            out.push_str("### Tenant signing keys\n\n");
            out.push_str("| Tenant | Domain | Current | Age | Next | Previous | Action | When |\n");
            out.push_str("|---|---|---|---|---|---|---|---|\n");
            for p in &self.signing_keys {
                let action = match &p.decision {
                    signing::SigningDecision::InFlight { pull, url } => {
                        format!("PR [#{pull}]({url}) open")
                    }
                    d => d.label().to_owned(),
                };
                let _ = writeln!(
                    out,
                    "| `{}` | `{}` | {} | {} | {} | {} | {} | {} |",
                    p.tenant,
                    p.domain,
                    code(p.current_kid.as_deref()),
                    p.current_age_days
                        .map(|d| format!("{d} d"))
                        .unwrap_or_default(),
                    code(p.next_kid.as_deref()),
                    code(p.previous_kid.as_deref()),
                    action,
                    p.decision.when()
                );
            }
            out.push('\n');
            for p in &self.signing_keys {
                let _ = writeln!(out, "- **{}**: {}", p.key(), md(&p.explanation));
            }
            out.push('\n');
        }
        if !self.connections.is_empty() {
            out.push_str("### Connection keys\n\n");
            out.push_str("| Tenant | Connection | Current | Age | Next | Action | When |\n");
            out.push_str("|---|---|---|---|---|---|---|\n");
            for p in &self.connections {
                let action = match &p.decision {
                    connection_keys::ConnectionDecision::InFlight { pull, url } => {
                        format!("PR [#{pull}]({url}) open")
                    }
                    d => d.label().to_owned(),
                };
                let _ = writeln!(
                    out,
                    "| `{}` | `{}` | {} | {} | {} | {} | {} |",
                    p.tenant,
                    p.connection,
                    code(p.current_kid.as_deref()),
                    p.current_age_days
                        .map(|d| format!("{d} d"))
                        .unwrap_or_default(),
                    code(p.next_kid.as_deref()),
                    action,
                    p.decision.when()
                );
            }
            out.push('\n');
            for p in &self.connections {
                let _ = writeln!(out, "- **{}**: {}", p.key(), md(&p.explanation));
            }
            out.push('\n');
        }
        out
    }
}

fn short(kid: Option<&str>) -> String {
    match kid {
        Some(k) => crate::plan::short_kid(k),
        None => "-".into(),
    }
}

fn code(kid: Option<&str>) -> String {
    kid.map(|k| format!("`{}`", crate::plan::short_kid(k)))
        .unwrap_or_default()
}

fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('<', "&lt;")
}

/// What happened to one signing-key or connection entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum KeyOutcome {
    /// Something changed.
    Done {
        /// Summary.
        summary: String,
        /// The PR, if one was opened or updated.
        pull_url: Option<String>,
    },
    /// Waiting for a time or an event; a later run continues.
    Waiting {
        /// Why and until when.
        reason: String,
    },
    /// Nothing to do.
    Unchanged {
        /// Why.
        reason: String,
    },
    /// Failed (never key material).
    Failed {
        /// What went wrong.
        error: String,
    },
}

/// Per entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyEntryReport {
    /// `tenant/signing-keys` or `tenant/connection/<name>`.
    pub entry: String,
    /// Result.
    pub outcome: KeyOutcome,
    /// Changes made, in order.
    pub steps: Vec<String>,
}

/// A run's report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KeyReport {
    /// Entries.
    pub entries: Vec<KeyEntryReport>,
}

impl KeyReport {
    /// Exit code of a rotate or finalize run's key part: 1 when an entry
    /// failed or its plan needs a human.
    pub fn exit_code(&self, plan: &KeysPlan) -> i32 {
        i32::from(self.has_failures() || plan.needs_attention())
    }

    /// True if any entry failed.
    pub fn has_failures(&self) -> bool {
        self.entries
            .iter()
            .any(|e| matches!(e.outcome, KeyOutcome::Failed { .. }))
    }

    /// Plain text.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for e in &self.entries {
            let head = match &e.outcome {
                KeyOutcome::Done { summary, pull_url } => match pull_url {
                    Some(u) => format!("{summary} (PR {u})"),
                    None => summary.clone(),
                },
                KeyOutcome::Waiting { reason } => format!("waiting: {reason}"),
                KeyOutcome::Unchanged { reason } => format!("unchanged: {reason}"),
                KeyOutcome::Failed { error } => format!("FAILED: {error}"),
            };
            let _ = writeln!(out, "{}: {head}", e.entry);
            for s in &e.steps {
                let _ = writeln!(out, "  - {s}");
            }
        }
        out
    }

    pub(crate) fn push(
        &mut self,
        entry: String,
        steps: Vec<String>,
        result: Result<KeyOutcome, ApplyError>,
    ) {
        let outcome = result.unwrap_or_else(|e| {
            tracing::error!(entry = %entry, error = %e, "entry failed");
            KeyOutcome::Failed {
                error: e.to_string(),
            }
        });
        self.entries.push(KeyEntryReport {
            entry,
            outcome,
            steps,
        });
    }
}

/// Commits `content` at `path` on `branch` (rebuilt from the default branch)
/// and opens or updates the PR.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn publish_pr<G: GitHubApi>(
    gh: &G,
    ws: &Workspace,
    branch: &str,
    path: &str,
    content: String,
    message: &str,
    title: &str,
    body: &str,
) -> Result<(Pull, PullOperation), ApplyError> {
    let base = gh
        .branch_sha(&ws.repo, &ws.default_branch)
        .await?
        .ok_or_else(|| {
            ApplyError::Unsafe(format!("default branch {} not found", ws.default_branch))
        })?;
    let commit = commit_files(
        gh,
        &ws.repo,
        &base,
        message,
        &[FileChange {
            path: path.to_owned(),
            content: Some(content),
        }],
    )
    .await?;
    if !gh.create_branch(&ws.repo, branch, &commit).await? {
        gh.force_branch(&ws.repo, branch, &commit).await?;
    }
    if let Some(existing) = gh
        .find_open_pull(&ws.repo, branch, &ws.default_branch)
        .await?
    {
        let pull = gh
            .update_pull(&ws.repo, existing.number, title, body)
            .await?;
        return Ok((pull, PullOperation::Updated));
    }
    let pull = gh
        .create_pull(&ws.repo, title, branch, &ws.default_branch, body)
        .await?;
    gh.add_labels(&ws.repo, pull.number, &[LABEL.to_owned()])
        .await?;
    Ok((pull, PullOperation::Created))
}

/// Commits `content` at `path` directly on the default branch, only as a
/// fast-forward (a concurrent commit makes it fail rather than be lost).
pub(crate) async fn commit_to_default<G: GitHubApi>(
    gh: &G,
    ws: &Workspace,
    path: &str,
    content: String,
    message: &str,
) -> Result<(), ApplyError> {
    let base = gh
        .branch_sha(&ws.repo, &ws.default_branch)
        .await?
        .ok_or_else(|| {
            ApplyError::Unsafe(format!("default branch {} not found", ws.default_branch))
        })?;
    let commit = commit_files(
        gh,
        &ws.repo,
        &base,
        message,
        &[FileChange {
            path: path.to_owned(),
            content: Some(content),
        }],
    )
    .await?;
    if gh
        .fast_forward_branch(&ws.repo, &ws.default_branch, &commit)
        .await?
    {
        Ok(())
    } else {
        Err(ApplyError::Changed(format!(
            "{} moved while recording the ledger; the next run records it",
            ws.default_branch
        )))
    }
}

/// Reads a tenant's signing-key ledger at `git_ref`.
pub async fn read_signing_ledger<G: GitHubApi>(
    gh: &G,
    ws: &Workspace,
    tenant: &str,
    git_ref: &str,
) -> Result<Option<SigningLedger>, ObserveError> {
    let path = signing_path(&ws.ledger_dir, tenant);
    match gh.file(&ws.repo, &path, git_ref).await? {
        Some(text) => Ok(Some(SigningLedger::parse(&path, &text)?)),
        None => Ok(None),
    }
}

/// Reads a connection's ledger at `git_ref`.
pub async fn read_connection_ledger<G: GitHubApi>(
    gh: &G,
    ws: &Workspace,
    tenant: &str,
    connection: &str,
    git_ref: &str,
) -> Result<Option<ConnectionLedger>, ObserveError> {
    let path = connection_path(&ws.ledger_dir, tenant, connection);
    match gh.file(&ws.repo, &path, git_ref).await? {
        Some(text) => Ok(Some(ConnectionLedger::parse(&path, &text)?)),
        None => Ok(None),
    }
}

/// Observes a tenant's signing keys.
pub async fn observe_signing<A: SigningKeysApi, G: GitHubApi>(
    auth0: Option<&A>,
    gh: &G,
    ws: &Workspace,
    p: &SigningPolicy,
) -> Result<SigningObserved, ObserveError> {
    let keys = match auth0 {
        None => Err(format!(
            "no Auth0 management credentials for tenant {}",
            p.tenant
        )),
        Some(a) => a
            .list_signing_keys()
            .await
            .map(|ks| {
                ks.into_iter()
                    .map(|k| ObservedSigningKey {
                        kid: k.kid,
                        current: k.current,
                        next: k.next,
                        previous: k.previous,
                        revoked: k.revoked,
                        current_since: k.current_since,
                    })
                    .collect()
            })
            .map_err(|e| e.to_string()),
    };
    let ledger = read_signing_ledger(gh, ws, &p.tenant, &ws.default_branch).await?;
    let pull = gh
        .find_open_pull(&ws.repo, &signing_branch(ws, &p.tenant), &ws.default_branch)
        .await?
        .map(|p| SigningPull {
            number: p.number,
            url: p.html_url,
        });
    Ok(SigningObserved { keys, ledger, pull })
}

/// Finds a connection by its manifest reference.
pub async fn find_connection<A: ConnectionKeysApi>(
    a: &A,
    r: &ConnectionRef,
) -> Result<Option<crate::auth0::Connection>, crate::auth0::Auth0Error> {
    match r {
        ConnectionRef::Id(id) => a.get_connection(id).await,
        ConnectionRef::Name(n) => a.find_connection(n).await,
    }
}

/// Observes a connection.
pub async fn observe_connection<A: ConnectionKeysApi, G: GitHubApi>(
    auth0: Option<&A>,
    gh: &G,
    ws: &Workspace,
    p: &ConnectionPolicy,
) -> Result<ConnectionObserved, ObserveError> {
    let connection = match auth0 {
        None => Err(format!(
            "no Auth0 management credentials for tenant {}",
            p.tenant
        )),
        Some(a) => observe_connection_keys(a, &p.connection)
            .await
            .map_err(|e| e.to_string()),
    };
    let label = p.connection.label();
    let ledger = read_connection_ledger(gh, ws, &p.tenant, label, &ws.default_branch).await?;
    let pull = gh
        .find_open_pull(
            &ws.repo,
            &connection_branch(ws, &p.tenant, label),
            &ws.default_branch,
        )
        .await?
        .map(|p| ConnectionPull {
            number: p.number,
            url: p.html_url,
        });
    let unapproved = match &ledger {
        Some(l) if l.trusted_next.is_some() => {
            connection_unapproved(gh, ws, &p.tenant, label, l).await?
        }
        _ => None,
    };
    Ok(ConnectionObserved {
        connection,
        ledger,
        pull,
        unapproved,
    })
}

/// Why a connection ledger that says the IdP trusts a key is not believed:
/// it must be exactly what the latest merged PR of the connection's branch
/// proposed (anyone with write access can commit a ledger to the default
/// branch; only a merged PR states that the IdP was told).
async fn connection_unapproved<G: GitHubApi>(
    gh: &G,
    ws: &Workspace,
    tenant: &str,
    label: &str,
    ledger: &ConnectionLedger,
) -> Result<Option<String>, ObserveError> {
    let branch = connection_branch(ws, tenant, label);
    let pulls = gh
        .closed_pulls(&ws.repo, &branch, &ws.default_branch)
        .await?;
    let Some(latest) = pulls.iter().find(|p| p.merged_at.is_some()) else {
        return Ok(Some(format!(
            "no merged pull request from {branch} wrote it"
        )));
    };
    let proposed = read_connection_ledger(gh, ws, tenant, label, &latest.head.sha).await?;
    Ok((proposed.as_ref() != Some(ledger)).then(|| {
        format!(
            "it differs from what PR #{} proposed (edited after the merge)",
            latest.number
        )
    }))
}

async fn observe_connection_keys<A: ConnectionKeysApi>(
    a: &A,
    r: &ConnectionRef,
) -> Result<Option<ObservedConnection>, crate::auth0::Auth0Error> {
    let Some(c) = find_connection(a, r).await? else {
        return Ok(None);
    };
    let keys = if matches!(c.strategy.as_str(), "oidc" | "okta") {
        a.list_connection_keys(&c.id)
            .await?
            .into_iter()
            .map(|k| ObservedConnectionKey {
                kid: k.kid,
                current: k.current,
                next: k.next,
                current_since: k.current_since,
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(Some(ObservedConnection {
        id: c.id,
        name: c.name,
        strategy: c.strategy,
        keys,
    }))
}

impl Session {
    /// The signing-key and connection-key policies of the selected tenants
    /// (`only` may name `tenant/signing-keys` or `tenant/connection/<c>`).
    fn key_policies(&self) -> (Vec<SigningPolicy>, Vec<ConnectionPolicy>) {
        let (mut sp, mut cp) = policies(&self.manifest);
        if !self.only.is_empty() {
            let named = |n: &str| self.only.iter().any(|o| o == n);
            sp.retain(|p| named(&format!("{}/signing-keys", p.tenant)) || named(&p.tenant));
            cp.retain(|p| named(&p.key()) || named(p.connection.label()));
        }
        (sp, cp)
    }

    /// Observes and plans signing keys and connection keys at `now`.
    pub async fn plan_keys(
        &self,
        now: OffsetDateTime,
        force: &BTreeSet<String>,
    ) -> Result<KeysPlan, SessionError> {
        let (sp, cp) = self.key_policies();
        let mut so = Vec::new();
        for p in &sp {
            so.push(
                observe_signing(self.auth0.get(&p.tenant), &self.github, &self.workspace, p)
                    .await?,
            );
        }
        let mut co = Vec::new();
        for p in &cp {
            co.push(
                observe_connection(self.auth0.get(&p.tenant), &self.github, &self.workspace, p)
                    .await?,
            );
        }
        Ok(KeysPlan {
            now,
            signing_keys: signing::plan_signing(&sp, &so, now, force),
            connections: connection_keys::plan_connections(&cp, &co, now, force),
        })
    }

    /// Stage 1 for signing keys and connection keys.
    pub async fn rotate_keys(
        &self,
        now: OffsetDateTime,
        force: &BTreeSet<String>,
    ) -> Result<(KeysPlan, KeyReport), SessionError> {
        let plan = self.plan_keys(now, force).await?;
        let (sp, cp) = self.key_policies();
        let mut report = KeyReport::default();
        for (p, pl) in sp.iter().zip(&plan.signing_keys) {
            let mut steps = Vec::new();
            let r = match self.auth0.get(&p.tenant) {
                Some(a) => {
                    signing::apply::rotate(a, &self.github, &self.workspace, p, pl, now, &mut steps)
                        .await
                }
                None => Ok(KeyOutcome::Unchanged {
                    reason: pl.explanation.clone(),
                }),
            };
            report.push(pl.key(), steps, r);
        }
        for (p, pl) in cp.iter().zip(&plan.connections) {
            let mut steps = Vec::new();
            let r = match self.auth0.get(&p.tenant) {
                Some(a) => {
                    connection_keys::apply::rotate(
                        a,
                        &self.github,
                        &self.workspace,
                        p,
                        pl,
                        &mut steps,
                    )
                    .await
                }
                None => Ok(KeyOutcome::Unchanged {
                    reason: pl.explanation.clone(),
                }),
            };
            report.push(pl.key(), steps, r);
        }
        Ok((plan, report))
    }

    /// Stage 2 for signing keys and connection keys.
    pub async fn finalize_keys(
        &self,
        now: OffsetDateTime,
    ) -> Result<(KeysPlan, KeyReport), SessionError> {
        let plan = self.plan_keys(now, &BTreeSet::new()).await?;
        let (sp, cp) = self.key_policies();
        let mut report = KeyReport::default();
        for (p, pl) in sp.iter().zip(&plan.signing_keys) {
            let mut steps = Vec::new();
            let r = match self.auth0.get(&p.tenant) {
                Some(a) => {
                    signing::apply::finalize(
                        a,
                        &self.github,
                        &self.workspace,
                        p,
                        pl,
                        now,
                        &mut steps,
                    )
                    .await
                }
                None => Ok(KeyOutcome::Unchanged {
                    reason: pl.explanation.clone(),
                }),
            };
            report.push(pl.key(), steps, r);
        }
        for (p, pl) in cp.iter().zip(&plan.connections) {
            let mut steps = Vec::new();
            let r = match self.auth0.get(&p.tenant) {
                Some(a) => {
                    connection_keys::apply::finalize(
                        a,
                        &self.github,
                        &self.workspace,
                        p,
                        pl,
                        now,
                        &mut steps,
                    )
                    .await
                }
                None => Ok(KeyOutcome::Unchanged {
                    reason: pl.explanation.clone(),
                }),
            };
            report.push(pl.key(), steps, r);
        }
        Ok((plan, report))
    }
}

/// `YYYY-MM-DD HH:MM UTC`.
pub(crate) fn when(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!("{} {:02}:{:02} UTC", date(t), t.hour(), t.minute())
}

/// Adds the keys plan to a client-credentials plan's JSON as
/// `"tenant_keys"` (only when there is one, so the existing shape is kept).
pub fn with_keys_json(plan_json: &str, keys: &KeysPlan) -> String {
    if keys.is_empty() {
        return plan_json.to_owned();
    }
    let mut v: serde_json::Value = serde_json::from_str(plan_json).expect("plan JSON");
    v["tenant_keys"] = serde_json::to_value(keys).expect("keys plan serializes");
    serde_json::to_string_pretty(&v).expect("JSON")
}
