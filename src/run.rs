//! One run over every credential kind — client credentials, tenant signing
//! keys, connection keys — at one instant: one plan ([`RunPlan`]) and one
//! report ([`Report`]). The CLI commands, the action, `status`, the
//! dashboard and the demo all go through [`Session::plan_run`] and
//! [`Session::run`].
//!
//! Adding a credential kind means: a policy and an observation type, a pure
//! plan function, a section of [`RunPlan`], and an apply step that returns
//! an [`crate::apply::Outcome`] per entry (see the README's Architecture).

use futures_util::stream::{self, StreamExt};
use serde::Serialize;
use time::OffsetDateTime;

use crate::apply::{self, Context, EntryReport, Report};
use crate::auth0::Auth0Error;
use crate::plan::{Attention, Decision, Plan, PlanOptions};
use crate::secret::SecretBytes;
use crate::session::{Session, SessionError, Unreadable, UrlSettings};
use std::collections::BTreeSet;

use crate::tenant_keys::{KeyPolicies, KeysContext, KeysPlan};

pub use crate::apply::Stage;

/// Hooks an edge gives a run: the action masks every secret value before
/// it is written and prints each entry's log as soon as it is done.
pub trait Observer: Sync {
    /// Called with every secret value before it is sealed or written.
    fn secret(&self, _value: &SecretBytes) {}
    /// Called once per entry, after its stage ran.
    fn entry_done(&self, _key: &str, _decision: &str, _explanation: &str, _report: &EntryReport) {}
}

/// No hooks.
impl Observer for () {}

/// One plan for every kind, computed for one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunPlan {
    /// Client credentials (`now` and `entries` at the top level of the JSON).
    #[serde(flatten)]
    pub credentials: Plan,
    /// Tenant signing keys and connection keys (`tenant_keys`, omitted when
    /// the manifest declares none).
    #[serde(rename = "tenant_keys", skip_serializing_if = "KeysPlan::is_empty")]
    pub keys: KeysPlan,
}

/// One planned entry of any kind, for listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedEntry {
    /// `tenant/name`, `tenant/signing-keys` or `tenant/connection/<c>`.
    pub key: String,
    /// The decision's label (`rotate`, `in-flight`, …).
    pub decision: String,
    /// Why.
    pub explanation: String,
    /// True when `rotate`/`finalize` will change something for it.
    pub work: bool,
    /// True when a human must act.
    pub needs_attention: bool,
    /// True when its state could not be read (the plan is incomplete).
    pub unreadable: bool,
}

impl RunPlan {
    /// The instant the plan was computed for.
    pub fn now(&self) -> OffsetDateTime {
        self.credentials.now
    }

    /// Every entry of every kind, in plan order.
    pub fn entries(&self) -> Vec<PlannedEntry> {
        use crate::connection_keys::ConnectionDecision as C;
        use crate::signing::SigningDecision as S;
        let mut out: Vec<PlannedEntry> = self
            .credentials
            .entries
            .iter()
            .map(|e| PlannedEntry {
                key: e.key(),
                decision: e.decision.label().to_owned(),
                explanation: e.explanation.clone(),
                work: matches!(
                    e.decision,
                    Decision::Rotate { .. }
                        | Decision::Resume { .. }
                        | Decision::Republish { .. }
                        | Decision::Finalize { .. }
                        | Decision::ProposeExpiry { .. }
                        | Decision::UpdateExpiry { .. }
                        | Decision::ProposeRevert { .. }
                        | Decision::Revert { .. }
                        | Decision::Onboard { .. }
                        | Decision::Cutover { .. }
                        | Decision::RetireOldClient { .. }
                        | Decision::SwitchSecret { .. }
                        | Decision::ProposeSecret { .. }
                        | Decision::SetSecret { .. }
                        | Decision::RetireSecret { .. }
                ),
                needs_attention: matches!(e.decision, Decision::NeedsAttention { .. }),
                unreadable: matches!(
                    e.decision,
                    Decision::NeedsAttention {
                        problem: Attention::ObserveFailed { .. }
                    }
                ),
            })
            .collect();
        out.extend(self.keys.signing_keys.iter().map(|p| PlannedEntry {
            key: p.key(),
            decision: p.decision.label().to_owned(),
            explanation: p.explanation.clone(),
            work: matches!(
                p.decision,
                S::Rotate { .. } | S::Propose { .. } | S::Publish { .. } | S::Revoke { .. }
            ),
            needs_attention: matches!(p.decision, S::NeedsAttention { .. }),
            unreadable: p.unreadable,
        }));
        out.extend(self.keys.connections.iter().map(|p| PlannedEntry {
            key: p.key(),
            decision: p.decision.label().to_owned(),
            explanation: p.explanation.clone(),
            work: p.has_changes() && !matches!(p.decision, C::NeedsAttention { .. }),
            needs_attention: matches!(p.decision, C::NeedsAttention { .. }),
            unreadable: p.unreadable,
        }));
        out
    }

    /// Entries (of every kind) `rotate`/`finalize` will change.
    pub fn changes(&self) -> usize {
        self.entries().iter().filter(|e| e.work).count()
    }

    /// True when `rotate` or `finalize` has work or a human must act.
    pub fn has_changes(&self) -> bool {
        self.credentials.has_changes() || self.keys.has_changes()
    }

    /// True when some entry of any kind needs a human.
    pub fn needs_attention(&self) -> bool {
        self.keys.needs_attention()
            || self
                .credentials
                .entries
                .iter()
                .any(|e| matches!(e.decision, Decision::NeedsAttention { .. }))
    }

    /// Exit code of `plan`: 0 nothing to do, 2 changes pending, 1 when
    /// Auth0 or GitHub could not be read for some entry.
    pub fn exit_code(&self) -> i32 {
        if self.entries().iter().any(|e| e.unreadable) {
            1
        } else if self.has_changes() {
            2
        } else {
            0
        }
    }

    /// Plain text: the credential table, then the key entries.
    pub fn to_text(&self) -> String {
        let mut out = self.credentials.to_text();
        if !self.keys.is_empty() {
            out.push('\n');
            out.push_str(&self.keys.to_text());
        }
        out
    }

    /// Markdown: the credential table, then the key tables.
    pub fn to_markdown(&self) -> String {
        let mut out = self.credentials.to_markdown();
        if !self.keys.is_empty() {
            out.push('\n');
            out.push_str(&self.keys.to_markdown());
        }
        out
    }

    /// Pretty JSON (one document for every kind).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("plans serialize")
    }
}

impl Session {
    /// Every entry of `plan`, of any kind, whose state could not be read
    /// in Auth0, explained with the settings an edge calls `names`.
    pub fn unreadable(&self, plan: &RunPlan, names: &UrlSettings) -> Vec<Unreadable> {
        plan.entries()
            .iter()
            .filter(|e| e.unreadable)
            .map(|e| self.unreadable_entry(e, names))
            .collect()
    }

    fn unreadable_entry(&self, e: &PlannedEntry, names: &UrlSettings) -> Unreadable {
        let unreachable = Auth0Error::says_unreachable(&e.explanation);
        let tenant = e.key.split_once('/').map_or(e.key.as_str(), |(t, _)| t);
        let hint = match self.auth0.get(tenant) {
            _ if unreachable => names.auth0_hint(),
            Some(a) => format!(" (Management API at {})", a.api_url()),
            None => String::new(),
        };
        Unreadable {
            unreachable,
            message: format!("{}: {}{hint}", e.key, e.explanation),
        }
    }

    /// Observes every selected entry of every kind and plans at `now`.
    pub async fn plan_run(
        &self,
        now: OffsetDateTime,
        options: &PlanOptions,
    ) -> Result<RunPlan, SessionError> {
        let credentials = self.plan(now, options).await?;
        let keys = self.plan_keys(now, &options.force).await?;
        Ok(RunPlan { credentials, keys })
    }

    /// Plans at `now`, then carries out `stage` for every entry of every
    /// kind, in plan order. An entry's failure is reported and the others
    /// go on; only a failure to plan at all is an error.
    pub async fn run(
        &self,
        stage: Stage,
        now: OffsetDateTime,
        options: &PlanOptions,
        observer: &dyn Observer,
    ) -> Result<(RunPlan, Report), SessionError> {
        let options = match stage {
            Stage::Rotate => options.clone(),
            Stage::Finalize => PlanOptions::default(),
        };
        let plan = self.plan_run(now, &options).await?;
        let mut report = self
            .apply_credentials(stage, &plan.credentials, observer)
            .await;
        report
            .entries
            .extend(self.apply_keys(stage, &plan.keys, observer).await);
        Ok((plan, report))
    }

    fn keys_context(
        &self,
    ) -> KeysContext<'_, crate::auth0::HttpAuth0, crate::github::OctocrabGitHub> {
        KeysContext {
            auth0: &self.auth0,
            github: &self.github,
            workspace: &self.workspace,
        }
    }

    fn key_policies(&self) -> KeyPolicies {
        KeyPolicies::select(&self.manifest, &self.only)
    }

    /// Observes and plans the selected signing keys and connection keys at
    /// `now`.
    pub async fn plan_keys(
        &self,
        now: OffsetDateTime,
        force: &BTreeSet<String>,
    ) -> Result<KeysPlan, SessionError> {
        Ok(self
            .keys_context()
            .plan(&self.key_policies(), now, force)
            .await?)
    }

    async fn apply_keys(
        &self,
        stage: Stage,
        plan: &KeysPlan,
        observer: &dyn Observer,
    ) -> Vec<EntryReport> {
        let on_entry = |key: &str, decision: &str, why: &str, report: &EntryReport| {
            observer.entry_done(key, decision, why, report)
        };
        self.keys_context()
            .apply(stage, &self.key_policies(), plan, &on_entry)
            .await
    }

    /// Stage 1 for the signing keys and connection keys alone.
    pub async fn rotate_keys(
        &self,
        now: OffsetDateTime,
        force: &BTreeSet<String>,
    ) -> Result<(KeysPlan, Report), SessionError> {
        let plan = self.plan_keys(now, force).await?;
        let entries = self.apply_keys(Stage::Rotate, &plan, &()).await;
        Ok((plan, Report { entries }))
    }

    /// Stage 2 for the signing keys and connection keys alone.
    pub async fn finalize_keys(
        &self,
        now: OffsetDateTime,
    ) -> Result<(KeysPlan, Report), SessionError> {
        let plan = self.plan_keys(now, &BTreeSet::new()).await?;
        let entries = self.apply_keys(Stage::Finalize, &plan, &()).await;
        Ok((plan, Report { entries }))
    }

    async fn apply_credentials(
        &self,
        stage: Stage,
        plan: &Plan,
        observer: &dyn Observer,
    ) -> Report {
        let ctx = Context {
            auth0: &self.auth0,
            github: &self.github,
            workspace: &self.workspace,
            journal: &self.journal,
            mtls_cname_api_key: self.mtls_cname_api_key.as_ref(),
            now: plan.now,
        };
        let on_secret = |v: &SecretBytes| observer.secret(v);
        let (claims, chunks) = match stage {
            Stage::Rotate => apply::claim_chunks(&ctx, &self.specs, plan, self.concurrency),
            Stage::Finalize => (apply::Claims::default(), Vec::new()),
        };
        let (ctx, on_secret, claims) = (&ctx, &on_secret, &claims);
        // `concurrency` entries at a time; each is reported as it finishes,
        // and the report is in manifest order.
        let runs: Vec<_> = self
            .specs
            .iter()
            .zip(&plan.entries)
            .map(|(spec, ep)| apply_one(ctx, stage, spec, ep, (on_secret, claims), observer))
            .collect();
        let entries = stream::iter(runs).buffered(self.concurrency).collect();
        let ((), entries) = tokio::join!(claims.run(ctx, chunks, self.concurrency), entries);
        let mut report = Report { entries };
        if stage == Stage::Rotate {
            apply::publish_groups(ctx, &self.specs, plan, &mut report).await;
        }
        report
    }
}

/// One credential entry of a stage, reported to `observer` as it finishes.
async fn apply_one<A: crate::auth0::Auth0Api, G: crate::github::GitHubApi>(
    ctx: &Context<'_, A, G>,
    stage: Stage,
    spec: &crate::apply::EntrySpec,
    ep: &crate::plan::EntryPlan,
    (on_secret, claims): (crate::apply::sinks::SecretObserver<'_>, &apply::Claims),
    observer: &dyn Observer,
) -> EntryReport {
    let entry = match stage {
        Stage::Rotate => apply::rotate_one(ctx, spec, ep, Some(on_secret), claims).await,
        Stage::Finalize => apply::finalize_one(ctx, spec, ep).await,
    };
    observer.entry_done(&ep.key(), ep.decision.label(), &ep.explanation, &entry);
    entry
}
