//! Tenant signing keys and connection keys next to client credentials:
//! their policies, one plan for both ([`KeysPlan`], rendered as text, JSON
//! and Markdown), and their observe and apply stages over every selected
//! tenant. The orchestrator ([`crate::run`]) calls these with the run's
//! clients and instant; the per-kind logic lives in [`crate::signing`] and
//! [`crate::connection_keys`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use serde::Serialize;
use time::OffsetDateTime;

use crate::apply::{ApplyError, EntryReport, Outcome, Stage, Step};
use crate::auth0::{ConnectionKeysApi, SigningKeysApi};
use crate::connection_keys::{
    self, observe_connection, ConnectionDecision, ConnectionPlan, ConnectionPolicy,
};
use crate::github::GitHubApi;
use crate::manifest::Manifest;
use crate::observe::ObserveError;
use crate::signing::{self, observe_signing, SigningDecision, SigningPlan, SigningPolicy};
use crate::workspace::Workspace;

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
                flow: sk.flow,
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
            .any(|p| matches!(p.decision, SigningDecision::NeedsAttention { .. }))
            || self
                .connections
                .iter()
                .any(|p| matches!(p.decision, ConnectionDecision::NeedsAttention { .. }))
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
                    SigningDecision::InFlight { pull, url } => {
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
                    ConnectionDecision::InFlight { pull, url } => {
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

/// The selected key policies of a run.
#[derive(Debug, Clone, Default)]
pub struct KeyPolicies {
    /// Tenants whose signing keys rotate.
    pub signing: Vec<SigningPolicy>,
    /// Connections whose keys rotate.
    pub connections: Vec<ConnectionPolicy>,
}

impl KeyPolicies {
    /// The policies of `manifest`, restricted to `only` when it is not
    /// empty (`tenant/signing-keys` or the tenant; `tenant/connection/<c>` or
    /// the connection's name).
    pub fn select(manifest: &Manifest, only: &[String]) -> Self {
        let (mut signing, mut connections) = policies(manifest);
        if !only.is_empty() {
            let named = |n: &str| only.iter().any(|o| o == n);
            signing.retain(|p| named(&format!("{}/signing-keys", p.tenant)) || named(&p.tenant));
            connections.retain(|p| named(&p.key()) || named(p.connection.label()));
        }
        Self {
            signing,
            connections,
        }
    }
}

/// What the key stages read and write with.
pub struct KeysContext<'a, A, G> {
    /// Auth0 clients by tenant name.
    pub auth0: &'a BTreeMap<String, A>,
    /// GitHub.
    pub github: &'a G,
    /// Repository layout.
    pub workspace: &'a Workspace,
}

/// Called once per key entry after its stage ran: key, decision label,
/// explanation, report.
pub type OnEntry<'a> = &'a (dyn Fn(&str, &str, &str, &EntryReport) + Sync);

impl<A, G> KeysContext<'_, A, G>
where
    A: SigningKeysApi + ConnectionKeysApi,
    G: GitHubApi,
{
    /// Observes every selected tenant's signing keys and connections and
    /// plans them at `now` (the plan functions are pure).
    pub async fn plan(
        &self,
        policies: &KeyPolicies,
        now: OffsetDateTime,
        force: &BTreeSet<String>,
    ) -> Result<KeysPlan, ObserveError> {
        let (gh, ws) = (self.github, self.workspace);
        let mut so = Vec::new();
        for p in &policies.signing {
            so.push(observe_signing(self.auth0.get(&p.tenant), gh, ws, p).await?);
        }
        let mut co = Vec::new();
        for p in &policies.connections {
            co.push(observe_connection(self.auth0.get(&p.tenant), gh, ws, p).await?);
        }
        Ok(KeysPlan {
            now,
            signing_keys: signing::plan_signing(&policies.signing, &so, now, force),
            connections: connection_keys::plan_connections(&policies.connections, &co, now, force),
        })
    }

    /// Carries out `stage` for every key entry of `plan`, in plan order.
    /// An entry that needs a human is reported so and left alone; stage 1
    /// also carries out an approved revoke that has become safe.
    pub async fn apply(
        &self,
        stage: Stage,
        policies: &KeyPolicies,
        plan: &KeysPlan,
        on_entry: OnEntry<'_>,
    ) -> Vec<EntryReport> {
        let mut out = Vec::new();
        for (p, pl) in policies.signing.iter().zip(&plan.signing_keys) {
            let mut steps = Vec::new();
            let r = match self.auth0.get(&p.tenant) {
                _ if matches!(pl.decision, SigningDecision::NeedsAttention { .. }) => {
                    Ok(needs_attention(&pl.explanation))
                }
                Some(a) => {
                    self.signing_stage(a, stage, p, pl, plan.now, &mut steps)
                        .await
                }
                None => Ok(unchanged(&pl.explanation)),
            };
            let report = entry_report(pl.key(), steps, r);
            on_entry(&pl.key(), pl.decision.label(), &pl.explanation, &report);
            out.push(report);
        }
        for (p, pl) in policies.connections.iter().zip(&plan.connections) {
            let mut steps = Vec::new();
            let r = match self.auth0.get(&p.tenant) {
                _ if matches!(pl.decision, ConnectionDecision::NeedsAttention { .. }) => {
                    Ok(needs_attention(&pl.explanation))
                }
                Some(a) => {
                    self.connection_stage(a, stage, p, pl, plan.now, &mut steps)
                        .await
                }
                None => Ok(unchanged(&pl.explanation)),
            };
            let report = entry_report(pl.key(), steps, r);
            on_entry(&pl.key(), pl.decision.label(), &pl.explanation, &report);
            out.push(report);
        }
        out
    }

    async fn signing_stage(
        &self,
        a: &A,
        stage: Stage,
        p: &SigningPolicy,
        pl: &SigningPlan,
        now: OffsetDateTime,
        steps: &mut Vec<String>,
    ) -> Result<Outcome, ApplyError> {
        let (gh, ws) = (self.github, self.workspace);
        match stage {
            Stage::Rotate => signing::apply::rotate(a, gh, ws, p, pl, now, steps).await,
            Stage::Finalize => signing::apply::finalize(a, gh, ws, p, pl, now, steps).await,
        }
    }

    async fn connection_stage(
        &self,
        a: &A,
        stage: Stage,
        p: &ConnectionPolicy,
        pl: &ConnectionPlan,
        now: OffsetDateTime,
        steps: &mut Vec<String>,
    ) -> Result<Outcome, ApplyError> {
        let (gh, ws) = (self.github, self.workspace);
        match stage {
            Stage::Rotate => connection_keys::apply::rotate(a, gh, ws, p, pl, steps).await,
            Stage::Finalize => connection_keys::apply::finalize(a, gh, ws, p, pl, now, steps).await,
        }
    }
}

fn unchanged(reason: &str) -> Outcome {
    Outcome::Unchanged {
        reason: reason.to_owned(),
    }
}

fn needs_attention(reason: &str) -> Outcome {
    Outcome::NeedsAttention {
        reason: reason.to_owned(),
    }
}

fn entry_report(
    entry: String,
    steps: Vec<String>,
    result: Result<Outcome, ApplyError>,
) -> EntryReport {
    let steps = steps.into_iter().map(|what| Step { what }).collect();
    EntryReport::new(entry, steps, result)
}
