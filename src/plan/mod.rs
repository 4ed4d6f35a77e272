//! The planner: a pure function of (policies, observed state, now) that
//! decides, per manifest entry, what the tool should do and why.
//!
//! No I/O, no clock, no randomness: callers pass `now` and the observations,
//! so every decision is reproducible and snapshot-tested.

mod new_client;
mod observed;
mod onboard;
mod render;
mod revert;
mod secret;

pub use new_client::{
    retired_label as new_client_retired_label, sibling_problem, MARKER_ENTRY, MARKER_KID,
    MARKER_REPLACES,
};
pub use onboard::{branch_ledger_problem, onboarding_problem};

pub use observed::{
    ClientState, Held, NewClientObserved, ObservedCredential, ObservedEntry, OpenPull, Proposal,
    Provenance, SecretClient, SecretFacts, SecretObserved, SecretPull, Seen, Sibling, SiblingFacts,
};

use crate::journal::LockState;

use serde::Serialize;
use std::collections::BTreeSet;
use std::ops::ControlFlow;
use time::{Duration, OffsetDateTime};

use crate::keys::Alg;
use crate::ledger::Retiring;
pub use crate::manifest::{AuthMethod, Onboard, RetireOldClient, SecretRotation, SecretScheme};

/// The parts of a manifest entry that decide *when* to rotate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// Tenant name.
    pub tenant: String,
    /// Entry name.
    pub entry: String,
    /// Auth0 client id.
    pub client_id: String,
    /// Algorithm of new credentials.
    pub alg: Alg,
    /// Maximum credential age.
    #[serde(serialize_with = "ser_duration")]
    pub rotate_every: Duration,
    /// Rotate when the credential expires sooner than this.
    #[serde(serialize_with = "ser_opt_duration")]
    pub renew_before: Option<Duration>,
    /// A credential's `expires_at` should be its creation time plus this.
    /// Changing it proposes a new expiry for the current credential.
    #[serde(serialize_with = "ser_opt_duration")]
    pub lifetime: Option<Duration>,
    /// The credential is a certificate whose `notAfter` is its expiry: a
    /// changed `lifetime` takes effect at the next rotation instead.
    pub expiry_in_certificate: bool,
    /// How the client should authenticate: a client-secret method reverts
    /// it (through the entry's PR) and stops its rotation.
    pub auth_method: AuthMethod,
    /// When this entry's client is the one the run's Management API access
    /// authenticates as (private_key_jwt), the kid it signs with: the tool
    /// rotates its own key, and must never retire the key it works with.
    #[serde(skip)]
    pub management_kid: Option<String>,
    /// How a client still on its client secret moves to private_key_jwt.
    pub onboard: Option<Onboard>,
    /// With `onboard: new_client`: what the merge does to the old client.
    pub retire_old_client: Option<RetireOldClient>,
    /// How a client-secret entry's secret rotates (`None`: it does not).
    pub secret_rotation: Option<SecretRotation>,
}

/// Expiries this close to what `lifetime` asks for count as equal: the tool
/// sets `expires_at` from its own clock just before Auth0 records
/// `created_at` from Auth0's, so the two differ by latency and clock skew.
pub const EXPIRY_TOLERANCE: Duration = Duration::hours(1);

/// Options that change decisions.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Entries (by name or `tenant/name`) to rotate even if not due.
    pub force: BTreeSet<String>,
    /// An age identity is configured, so journaled keys can be resumed.
    pub can_resume: bool,
}

/// Why a rotation is due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DueReason {
    /// The client's credential is not yet managed by the tool.
    Adopt {
        /// The credential that will be replaced.
        credential_id: String,
    },
    /// The current credential is older than `rotate_every`.
    Age {
        /// Its age in whole days.
        age_days: i64,
        /// `rotate_every` in whole days.
        rotate_every_days: i64,
    },
    /// The current credential expires within `renew_before`.
    Expiry {
        /// When it expires.
        #[serde(with = "time::serde::rfc3339")]
        expires_at: OffsetDateTime,
    },
    /// Rotation was forced.
    Forced,
    /// An earlier run was interrupted before its credential was attached;
    /// start again (its unattached credential is deleted first).
    Restart {
        /// Kid of the abandoned key.
        abandoned_kid: String,
    },
}

/// Something only a human can resolve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Attention {
    /// The client could not be read.
    ObserveFailed {
        /// The error.
        error: String,
    },
    /// Two credentials are attached and neither is a rotation of ours in flight.
    CapReached {
        /// The attached ids.
        attached: Vec<String>,
    },
    /// No credential is attached to the entry's method.
    NoCredential,
    /// The client authenticates with another credential method than the
    /// entry's `auth_method` (Auth0 holds one at a time).
    MethodMismatch {
        /// The method the client is on in Auth0.
        client_method: String,
    },
    /// The ledger's current credential is not attached in Auth0.
    Drift {
        /// The ledger's current credential.
        credential_id: String,
    },
    /// The ledger on the default branch asks for something unsafe, or was not
    /// written by a merged rotation PR; nothing is retired.
    UnsafeLedger {
        /// What is wrong.
        reason: String,
    },
    /// The rotation PR was closed without merging.
    Rejected {
        /// The closed PR.
        pull: u64,
        /// The credential it proposed.
        credential_id: String,
    },
    /// The expiry `lifetime` asks for (the credential's creation time plus
    /// `lifetime`), or the one a merged PR approved, has already passed.
    /// Auth0 would stop accepting the credential at once, so nothing is set.
    ExpiryInPast {
        /// The current credential.
        credential_id: String,
        /// The expiry that would have been set.
        #[serde(with = "time::serde::rfc3339")]
        expires_at: OffsetDateTime,
    },
    /// `auth_method` asks for a client secret while a rotation is in
    /// flight (an open rotation PR, an unpublished proposal or a journal):
    /// the revert waits, so nothing the rotation wrote is lost.
    RevertWhileRotating {
        /// The open rotation PR, if there is one.
        pull: Option<u64>,
    },
    /// `auth_method` asks for a client secret for a client the tool has no
    /// ledger for (it never rotated it).
    RevertUnmanaged,
    /// The tool would retire a key of its own Management API client while
    /// not signing with the new one.
    SelfLockout {
        /// The kid this run signs its Management API requests with.
        kid: String,
    },
    /// The client authenticates with its client secret and the entry does
    /// not say how to move it to private_key_jwt.
    OnSecret {
        /// Its `token_endpoint_auth_method`.
        method: String,
    },
    /// `secret_rotation` derives its secrets from the age identity, and none
    /// is configured.
    SecretNeedsIdentity,
    /// A client of a `secret_rotation` entry authenticates with credentials,
    /// not with its secret.
    SecretClientOnKeys {
        /// The client.
        client_id: String,
    },
    /// The active client does not hold the secret the tool set (changed in
    /// Auth0, or the ledger was edited).
    SecretDrift {
        /// The client.
        client_id: String,
    },
    /// The two clients of `secret_rotation: alternating` do not have the
    /// same client grants: consumers moving to the other would gain or lose
    /// access.
    GrantsDiffer {
        /// The client about to become active.
        client_id: String,
        /// How they differ.
        difference: String,
    },
    /// The entry's secret-rotation PR was closed without merging.
    SecretRejected {
        /// The closed PR.
        pull: u64,
    },
    /// Onboarding needs the client's `jwt_configuration.alg` to be RS256.
    NotRs256 {
        /// The client's algorithm.
        alg: String,
    },
    /// Credentials are registered but not attached; they count against
    /// Auth0's per-client limit, so a rotation would be refused.
    Leftover {
        /// Their ids.
        credentials: Vec<String>,
    },
    /// A run was interrupted after attaching its credential, and its key
    /// cannot be recovered (no age identity): the key may already be in a sink.
    Interrupted {
        /// The attached credential of the interrupted run.
        credential_id: String,
        /// Its kid.
        kid: String,
    },
}

/// The decision for one entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Decision {
    /// Start a rotation.
    Rotate {
        /// Why.
        reason: DueReason,
    },
    /// Continue an interrupted rotation with the key from its journal.
    Resume {
        /// Kid of the journaled key.
        kid: String,
    },
    /// A finished rotation's PR was never opened: open it.
    Republish {
        /// The proposed current credential.
        credential_id: String,
    },
    /// Another run holds the entry's rotation lock.
    Busy {
        /// When that run started.
        #[serde(with = "time::serde::rfc3339")]
        since: OffsetDateTime,
        /// Who holds it (`workflow run 123`, `process 42 on host`).
        holder: String,
        /// True when the holder was confirmed running; false when only the
        /// journal's age says it may be.
        confirmed: bool,
    },
    /// A rotation PR is open; `rotate` only refreshes it.
    InFlight {
        /// PR number.
        pull: u64,
        /// PR URL.
        url: String,
    },
    /// `lifetime` changed: propose, in the entry's PR, setting the current
    /// credential's `expires_at` (its only mutable field) instead of rotating.
    ProposeExpiry {
        /// The current credential.
        credential_id: String,
        /// Its expiry now, if it has one.
        #[serde(with = "time::serde::rfc3339::option")]
        from: Option<OffsetDateTime>,
        /// The expiry the PR proposes.
        #[serde(with = "time::serde::rfc3339")]
        to: OffsetDateTime,
    },
    /// A merged PR approved a new expiry for the current credential, and
    /// Auth0 does not have it yet: finalize sets it.
    UpdateExpiry {
        /// The current credential.
        credential_id: String,
        /// The approved expiry.
        #[serde(with = "time::serde::rfc3339")]
        to: OffsetDateTime,
    },
    /// `auth_method` asks for a client secret: propose, in the entry's PR,
    /// reverting the client from private_key_jwt (break-glass).
    ProposeRevert {
        /// The secret method asked for.
        to: AuthMethod,
    },
    /// A merged PR approved the revert: finalize gives the client a new
    /// secret, switches it to `to` and writes the secret into the sinks.
    Revert {
        /// The secret method.
        to: AuthMethod,
    },
    /// The client authenticates with its client secret; nothing rotates.
    UsesSecret {
        /// Its `token_endpoint_auth_method`.
        method: String,
    },
    /// Onboard a client still on its client secret (`onboard: cutover`):
    /// register a key without attaching it, write it to the sinks and open
    /// the PR whose merge switches the client.
    Onboard {
        /// How.
        strategy: Onboard,
        /// The kid of an interrupted onboarding's journaled key, resumed.
        resume: Option<String>,
    },
    /// A merged new-client onboarding (`onboard: new_client`): finalize
    /// retires the old client's access as the ledger approved.
    RetireOldClient {
        /// The old client.
        client_id: String,
        /// How.
        how: RetireOldClient,
    },
    /// A merged cutover PR: finalize attaches the credential, ends the
    /// client secret and proves the key.
    Cutover {
        /// The credential attached.
        credential_id: String,
    },
    /// `secret_rotation: alternating`: set a new secret on the idle client,
    /// prove it, point the sinks at it and open the PR.
    SwitchSecret {
        /// The client that becomes active.
        to_client: String,
    },
    /// `secret_rotation: single`: open the PR whose merge approves replacing
    /// the client's one secret.
    ProposeSecret {
        /// The client.
        client_id: String,
    },
    /// A merged single-secret rotation: write the new secret into the sinks
    /// and set it on the client.
    SetSecret {
        /// The client.
        client_id: String,
    },
    /// A merged alternating switch: replace the previous client's secret
    /// with one nobody holds.
    RetireSecret {
        /// The previous client.
        client_id: String,
    },
    /// A merged rotation left credentials to retire.
    Finalize {
        /// Credentials to detach and delete.
        retire: Vec<Retiring>,
    },
    /// Nothing due.
    NotDue {
        /// When the next rotation falls due.
        #[serde(with = "time::serde::rfc3339")]
        next_due: OffsetDateTime,
    },
    /// A human must decide.
    NeedsAttention {
        /// What is wrong.
        problem: Attention,
    },
}

/// The current credential, for reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CurrentSummary {
    /// Credential id.
    pub credential_id: String,
    /// Key id (private_key_jwt).
    pub kid: Option<String>,
    /// The certificate's SHA-256 thumbprint (self-signed mTLS), instead of
    /// a kid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumbprint_sha256: Option<String>,
    /// Age in whole days.
    pub age_days: Option<i64>,
    /// Expiry.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

/// The plan for one entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryPlan {
    /// Tenant name.
    pub tenant: String,
    /// Entry name.
    pub entry: String,
    /// Auth0 client id.
    pub client_id: String,
    /// The credential in use now, if known.
    pub current: Option<CurrentSummary>,
    /// What to do.
    pub decision: Decision,
    /// One sentence saying why.
    pub explanation: String,
    /// The head of the entry's rotation branch when it was observed (`None`:
    /// no branch). `rotate` claims the branch only from this head, so a run
    /// never acts on a branch that moved since its plan.
    #[serde(skip)]
    pub branch_head: Option<String>,
    /// The open group PR (`pull_requests.group`) that carries the entry's
    /// branch ledger, if one does: `rotate` refreshes it once for the
    /// group, not per entry.
    #[serde(skip)]
    pub group_pull: Option<u64>,
    /// What observe read, for `rotate` to start from (see [`Seen`]).
    #[serde(skip)]
    pub seen: Seen,
}

/// A whole plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The instant the plan was computed for.
    #[serde(with = "time::serde::rfc3339")]
    pub now: OffsetDateTime,
    /// One plan per entry, in manifest order.
    pub entries: Vec<EntryPlan>,
}

impl Plan {
    /// True when `rotate` or `finalize` has work, or a human must act: a
    /// rotation to start, resume or publish, a retirement, a problem, or a
    /// lock whose holder could not be confirmed running.
    pub fn has_changes(&self) -> bool {
        self.entries.iter().any(|e| {
            matches!(
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
                    | Decision::NeedsAttention { .. }
                    | Decision::Busy {
                        confirmed: false,
                        ..
                    }
            )
        })
    }

    /// True when some entry's state could not be read, so the plan is
    /// incomplete.
    pub fn observe_failed(&self) -> bool {
        self.entries.iter().any(|e| {
            matches!(
                e.decision,
                Decision::NeedsAttention {
                    problem: Attention::ObserveFailed { .. }
                }
            )
        })
    }

    /// Exit code for `plan`: 0 nothing to do, 2 changes pending, 1 when
    /// Auth0 or GitHub could not be read (an incomplete plan is never green).
    pub fn exit_code(&self) -> i32 {
        if self.observe_failed() {
            1
        } else if self.has_changes() {
            2
        } else {
            0
        }
    }
}

/// Computes the plan. `observed[i]` belongs to `policies[i]`.
pub fn plan(
    policies: &[Policy],
    observed: &[ObservedEntry],
    now: OffsetDateTime,
    options: &PlanOptions,
) -> Plan {
    assert_eq!(policies.len(), observed.len(), "one observation per policy");
    let entries = policies
        .iter()
        .zip(observed)
        .map(|(p, o)| plan_entry(p, o, now, options))
        .collect();
    Plan { now, entries }
}

fn days(d: Duration) -> i64 {
    d.whole_days()
}

fn plan_entry(
    p: &Policy,
    o: &ObservedEntry,
    now: OffsetDateTime,
    options: &PlanOptions,
) -> EntryPlan {
    let moved = new_client::moved_policy(p, o);
    let p = moved.as_ref().unwrap_or(p);
    let (decision, mut current, mut explanation) = decide(p, o, now, options);
    if moved.is_some() {
        explanation = new_client::moved_note(p, explanation);
    }
    if p.auth_method.uses_certificate() {
        if let Some(c) = current.as_mut() {
            c.thumbprint_sha256 = c.kid.take();
        }
    }
    EntryPlan {
        tenant: p.tenant.clone(),
        entry: p.entry.clone(),
        client_id: p.client_id.clone(),
        current,
        decision,
        explanation,
        branch_head: o.branch_head.clone(),
        group_pull: o.pull.as_ref().filter(|p| p.grouped).map(|p| p.number),
        seen: Seen {
            client: o.client.as_ref().ok().cloned(),
            ledger: o.ledger.clone(),
            journal: o.journal.clone(),
        },
    }
}

fn summary(client: &ClientState, id: &str, now: OffsetDateTime) -> CurrentSummary {
    let c = client.credential(id);
    CurrentSummary {
        credential_id: id.to_owned(),
        kid: c.and_then(|c| c.kid.clone()),
        thumbprint_sha256: None,
        age_days: c.and_then(|c| c.created_at).map(|t| days(now - t)),
        expires_at: c.and_then(|c| c.expires_at),
    }
}

fn attention(
    problem: Attention,
    current: Option<CurrentSummary>,
    why: String,
) -> (Decision, Option<CurrentSummary>, String) {
    (Decision::NeedsAttention { problem }, current, why)
}

/// What [`decide`] returns: the decision, the current credential and why.
type Decided = (Decision, Option<CurrentSummary>, String);

/// Decides one entry. The phases run in order and the first that has
/// something to say wins: a merged rotation to finalize, an open rotation
/// PR, an unpublished proposal, a journal left by another run, then whether
/// a rotation is due.
fn decide(p: &Policy, o: &ObservedEntry, now: OffsetDateTime, options: &PlanOptions) -> Decided {
    if let Some(rotation) = &p.secret_rotation {
        return secret::decide(p, rotation, o, now, options);
    }
    let client = match &o.client {
        Ok(c) => c,
        Err(e) => {
            return attention(
                Attention::ObserveFailed { error: e.clone() },
                None,
                format!("could not read client {} in Auth0: {e}", p.client_id),
            )
        }
    };
    if p.auth_method.uses_secret() {
        return revert::decide(p, o, client, now, is_forced(p, options));
    }
    if let Some(d) = new_client::decide(p, o, client, now, options) {
        return d;
    }
    if let Some(d) = method_mismatch(p, client) {
        return d;
    }
    if let Some(d) = onboard::decide(p, o, client, now, options) {
        return d;
    }
    if let Some(d) = decide_merged(p, o, client, now) {
        return d;
    }
    if let Some(d) = decide_in_flight(p, o, client, now) {
        return d;
    }
    if let Some(d) = decide_proposal(o, client, now) {
        return d;
    }
    if let Some(d) = decide_journal(p, o, client, now, options) {
        return d;
    }
    decide_due(p, o, client, now, options)
}

/// The entry rotates one credential method and the client is on another
/// (or, for self-signed mTLS, still on its client secret): only a human
/// moves a client between methods, so nothing is changed.
fn method_mismatch(p: &Policy, client: &ClientState) -> Option<Decided> {
    let mtls_entry = p.auth_method.uses_certificate();
    let client_method = if client.mtls {
        AuthMethod::SelfSignedTlsClientAuth.as_str()
    } else if !client.attached.is_empty() {
        AuthMethod::PrivateKeyJwt.as_str()
    } else if mtls_entry {
        let method = client.secret_method.as_deref().unwrap_or("none");
        return Some(attention(
            Attention::NoCredential,
            None,
            format!(
                "client {} authenticates with {} and has no certificate attached to \
                 self_signed_tls_client_auth; register a first certificate and switch the client \
                 (see the README's \"Self-signed mTLS\") so consumers have one to use",
                p.client_id,
                crate::text::neutral(method)
            ),
        ));
    } else {
        return None;
    };
    if client_method == p.auth_method.as_str() {
        return None;
    }
    Some(attention(
        Attention::MethodMismatch {
            client_method: client_method.to_owned(),
        },
        None,
        format!(
            "client {} authenticates with {client_method} in Auth0, but the entry's auth_method is {}; \
             nothing was changed. Auth0 holds one credential method at a time and a direct switch goes \
             through a client secret: switch the client by hand, or fix `auth_method`",
            p.client_id,
            p.auth_method.as_str()
        ),
    ))
}

/// Phase 1: the ledger on the default branch. Guarantees: a credential is
/// proposed for retirement only when the ledger passes [`ledger_problem`]
/// (its origin and Auth0's own records); otherwise nothing is retired.
fn decide_merged(
    p: &Policy,
    o: &ObservedEntry,
    client: &ClientState,
    now: OffsetDateTime,
) -> Option<Decided> {
    let ledger = o.ledger.as_ref()?;
    let current = Some(summary(client, &ledger.current.credential_id, now));
    if !client.is_attached(&ledger.current.credential_id) {
        return Some(attention(
            Attention::Drift {
                credential_id: ledger.current.credential_id.clone(),
            },
            current,
            format!(
                "the ledger's current credential {} is not attached to the client in Auth0; \
                 nothing will be retired until a human restores it or edits the ledger",
                ledger.current.credential_id
            ),
        ));
    }
    let pending: Vec<Retiring> = ledger
        .retiring
        .iter()
        .filter(|r| client.credential(&r.credential_id).is_some())
        .cloned()
        .collect();
    if pending.is_empty() {
        return decide_approved_expiry(p, o, ledger, client, now);
    }
    if let Some(reason) = ledger_problem(p, ledger, client, &o.provenance) {
        return Some(attention(
            Attention::UnsafeLedger {
                reason: reason.clone(),
            },
            current,
            format!("finalize refused, nothing was deleted: {reason}"),
        ));
    }
    if let Some(d) = self_lockout(p, ledger, current.clone()) {
        return Some(d);
    }
    let ids: Vec<&str> = pending.iter().map(|r| r.credential_id.as_str()).collect();
    Some((
        Decision::Finalize {
            retire: pending.clone(),
        },
        current,
        format!(
            "the rotation was merged; finalize will detach and delete {}",
            ids.join(", ")
        ),
    ))
}

/// Phase 2: an open rotation PR. Its branch ledger is only trusted (and the
/// PR only refreshed) when Auth0's records agree with it.
fn decide_in_flight(
    p: &Policy,
    o: &ObservedEntry,
    client: &ClientState,
    now: OffsetDateTime,
) -> Option<Decided> {
    let pull = o.pull.as_ref()?;
    let problem = match &pull.ledger {
        _ if !pull.foreign_files.is_empty() => Some(format!(
            "it changes files other than the ledger ({})",
            pull.foreign_files
                .iter()
                .map(|f| crate::text::neutral(f))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        None => Some("its branch has no ledger file".to_owned()),
        Some(l) => identity_problem(p, l).or_else(|| facts_problem(l, client)),
    };
    let refused = problem.map(|reason| {
        format!(
            "rotation PR #{} cannot be trusted: {reason}; the PR was left untouched. \
             Close it and delete its branch, or restore the branch to what auth0-rotate wrote",
            pull.number
        )
    });
    Some(judged_pull(pull, refused, (client, now), || {
        in_flight_why(pull, o.ledger.as_ref())
    }))
}

/// An open PR of the entry: `InFlight` (explained by `why`), or, when it
/// cannot be trusted, `UnsafeLedger` with the `refused` text; the current
/// credential is the one its ledger names, as `client` reports it at `now`.
pub(super) fn judged_pull(
    pull: &OpenPull,
    refused: Option<String>,
    (client, now): (&ClientState, OffsetDateTime),
    why: impl FnOnce() -> String,
) -> Decided {
    let current = pull
        .ledger
        .as_ref()
        .map(|l| summary(client, &l.current.credential_id, now));
    match refused {
        Some(reason) => attention(
            Attention::UnsafeLedger {
                reason: reason.clone(),
            },
            current,
            reason,
        ),
        None => (
            Decision::InFlight {
                pull: pull.number,
                url: pull.url.clone(),
            },
            current,
            why(),
        ),
    }
}

/// What an open PR of the entry proposes: a new expiry when its ledger keeps
/// the default branch's current credential, otherwise a rotation.
fn in_flight_why(pull: &OpenPull, main: Option<&crate::ledger::LedgerEntry>) -> String {
    let proposed = pull.ledger.as_ref().map(|l| &l.current);
    match (proposed, main.map(|m| &m.current)) {
        (Some(p), Some(m)) if p.credential_id == m.credential_id => format!(
            "expiry change in flight: PR #{} is open; merging it approves expiry {} for {}",
            pull.number,
            p.expires_at.map_or_else(|| "none".to_owned(), when),
            p.credential_id
        ),
        _ => format!(
            "rotation in flight: PR #{} is open; merge it to retire the old credential",
            pull.number
        ),
    }
}

/// Phase 3: a ledger proposal on the rotation branch without an open PR.
fn decide_proposal(
    o: &ObservedEntry,
    client: &ClientState,
    now: OffsetDateTime,
) -> Option<Decided> {
    let prop = o.proposal.as_ref()?;
    let cred = &prop.ledger.current.credential_id;
    let current = Some(summary(client, cred, now));
    let keeps_current = o
        .ledger
        .as_ref()
        .is_some_and(|m| m.current.credential_id == *cred);
    if let (Some(n), true) = (prop.rejected_pull, keeps_current) {
        return Some(attention(
            Attention::Rejected { pull: n, credential_id: cred.clone() },
            current,
            format!(
                "PR #{n}, which proposed a new expiry for {cred}, was closed without merging; nothing was changed. \
                 Reopen and merge it, or set `lifetime` back to what the credential has and delete the branch"
            ),
        ));
    }
    if let Some(n) = prop.rejected_pull {
        return Some(attention(
            Attention::Rejected { pull: n, credential_id: cred.clone() },
            current,
            format!(
                "PR #{n} was closed without merging, but its credential {cred} is still attached next to the old one. \
                 Reopen and merge PR #{n} to finish the rotation, or detach and delete {cred} in Auth0 and delete the branch to abandon it"
            ),
        ));
    }
    if client.is_attached(cred) && facts_problem(&prop.ledger, client).is_none() {
        return Some((
            Decision::Republish {
                credential_id: cred.clone(),
            },
            current,
            format!("a rotation to {cred} finished but its PR was not opened; it will be opened"),
        ));
    }
    None
}

/// Phase 4: a journal on the rotation branch. A live lock makes the entry
/// busy; a released one is an interrupted run to resume, restart or report.
fn decide_journal(
    p: &Policy,
    o: &ObservedEntry,
    client: &ClientState,
    now: OffsetDateTime,
    options: &PlanOptions,
) -> Option<Decided> {
    let j = o.journal.as_ref()?;
    let current = Some(summary(client, &j.replaces, now));
    let released = match journal_busy(j, o, now, current.clone()) {
        ControlFlow::Continue(reason) => reason,
        ControlFlow::Break(busy) => return Some(busy),
    };
    decide_released(p, o, client, options, j, current, &released)
}

/// Whether the journal `j` is a live lock: `Break` with the `Busy` decision
/// while its holder may run, otherwise `Continue` with why it no longer locks.
fn journal_busy(
    j: &crate::journal::Journal,
    o: &ObservedEntry,
    now: OffsetDateTime,
    current: Option<CurrentSummary>,
) -> ControlFlow<Decided, String> {
    let state = j.lock_state(now, o.journal_holder);
    match state {
        LockState::HeldLive | LockState::HeldUnconfirmed => {
            let confirmed = state == LockState::HeldLive;
            let holder = j.holder.describe();
            let why = if confirmed {
                format!(
                    "{holder} is rotating this entry (since {}); leaving it alone",
                    j.started_at
                )
            } else {
                format!(
                    "{holder} started rotating this entry at {} and whether it still runs cannot be checked; \
                     if it is not running, run again after {} (the journal then no longer counts as a lock)",
                    j.started_at,
                    j.started_at + crate::journal::FRESH_FOR
                )
            };
            ControlFlow::Break((
                Decision::Busy {
                    since: j.started_at,
                    holder,
                    confirmed,
                },
                current,
                why,
            ))
        }
        LockState::Released { reason } => ControlFlow::Continue(reason),
    }
}

/// Phase 4 after the lock: a released journal is resumed, reported or
/// restarted.
fn decide_released(
    p: &Policy,
    o: &ObservedEntry,
    client: &ClientState,
    options: &PlanOptions,
    j: &crate::journal::Journal,
    current: Option<CurrentSummary>,
    released: &str,
) -> Option<Decided> {
    if j.encrypted_key.is_some() && options.can_resume && o.journal_authentic {
        return Some((
            Decision::Resume { kid: j.kid.clone() },
            current,
            format!(
                "an interrupted rotation (kid {}) will be resumed with its journaled key (the journal is not a lock: {released})",
                short_kid(&j.kid)
            ),
        ));
    }
    let cred = client
        .credentials
        .iter()
        .find(|c| c.kid.as_deref() == Some(j.kid.as_str()));
    if let Some(c) = cred.filter(|c| client.is_attached(&c.id)) {
        return Some(attention(
            Attention::Interrupted { credential_id: c.id.clone(), kid: j.kid.clone() },
            current,
            format!(
                "a run was interrupted after attaching {} (kid {}) and its key cannot be recovered without an age identity. \
                 If no consumer uses kid {}, detach and delete {} in Auth0 and delete the branch auth0-rotate/{}/{}; \
                 otherwise keep it and finish the rotation by hand",
                c.id, short_kid(&j.kid), short_kid(&j.kid), c.id, p.tenant, p.entry
            ),
        ));
    }
    if let Some(d) = leftover_problem(client, Some(&j.kid)) {
        return Some(d);
    }
    Some((
        Decision::Rotate {
            reason: DueReason::Restart {
                abandoned_kid: j.kid.clone(),
            },
        },
        current,
        format!(
            "a run was interrupted before attaching its key (kid {}); rotating again",
            short_kid(&j.kid)
        ),
    ))
}

/// Unattached credentials that are not the interrupted run's own
/// (`journal_kid`) hold slots of Auth0's per-client credential limit: a
/// rotation would fail on its POST, so a human decides first.
fn leftover_problem(client: &ClientState, journal_kid: Option<&str>) -> Option<Decided> {
    let leftovers: Vec<&ObservedCredential> = client
        .credentials
        .iter()
        .filter(|c| !client.is_attached(&c.id))
        .filter(|c| journal_kid.is_none() || c.kid.as_deref() != journal_kid)
        .collect();
    if leftovers.is_empty() {
        return None;
    }
    let names: Vec<String> = leftovers
        .iter()
        .map(|c| format!("{} (\"{}\")", c.id, crate::text::neutral(&c.name)))
        .collect();
    Some(attention(
        Attention::Leftover {
            credentials: leftovers.iter().map(|c| c.id.clone()).collect(),
        },
        None,
        format!(
            "the client has {} credential(s) registered but not attached: {}. Auth0 counts every \
             registered credential against its per-client limit (2 by default), so a rotation \
             would be refused; delete them in Auth0 (Applications → the client → Credentials) \
             if nothing uses them, then run again",
            leftovers.len(),
            names.join(", ")
        ),
    ))
}

/// Phase 5: adoption, the credential cap, and whether a rotation is due.
fn decide_due(
    p: &Policy,
    o: &ObservedEntry,
    client: &ClientState,
    now: OffsetDateTime,
    options: &PlanOptions,
) -> Decided {
    let forced = is_forced(p, options);
    let Some(ledger) = &o.ledger else {
        return decide_adopt(p, client, now);
    };
    let current = summary(client, &ledger.current.credential_id, now);
    if client
        .attached
        .iter()
        .any(|id| *id != ledger.current.credential_id)
    {
        return attention(
            Attention::CapReached {
                attached: client.attached.clone(),
            },
            Some(current),
            cap_message(&client.attached),
        );
    }
    let record = client.credential(&ledger.current.credential_id);
    let created = record
        .and_then(|c| c.created_at)
        .unwrap_or(ledger.current.created_at);
    let expires = record
        .and_then(|c| c.expires_at)
        .or(ledger.current.expires_at);
    let by_age = created + p.rotate_every;
    let by_expiry = match (expires, p.renew_before) {
        (Some(e), Some(before)) => Some(e - before),
        (Some(e), None) => Some(e),
        _ => None,
    };
    let next_due = by_expiry.map_or(by_age, |e| e.min(by_age));
    let reason = if forced {
        Some((DueReason::Forced, "rotation forced".to_owned()))
    } else if let Some(e) = expires.filter(|_| by_expiry.is_some_and(|d| now >= d)) {
        Some((
            DueReason::Expiry { expires_at: e },
            format!(
                "due: the credential expires {} (within renew_before)",
                date(e)
            ),
        ))
    } else if now >= by_age {
        Some((
            DueReason::Age {
                age_days: days(now - created),
                rotate_every_days: days(p.rotate_every),
            },
            format!(
                "due: the credential is {} days old (rotate_every {} days)",
                days(now - created),
                days(p.rotate_every)
            ),
        ))
    } else {
        None
    };
    match reason {
        Some((reason, why)) => {
            if let Some(d) = leftover_problem(client, None) {
                return d;
            }
            (Decision::Rotate { reason }, Some(current), why)
        }
        None => match record.and_then(|r| wanted_expiry(p, r)) {
            Some(to) => propose_expiry(&ledger.current.credential_id, record, to, current, now),
            None => (
                Decision::NotDue { next_due },
                Some(current),
                format!("not due until {}", date(next_due)),
            ),
        },
    }
}

/// The expiry `lifetime` asks for the credential `record`, when Auth0's
/// differs from it by more than [`EXPIRY_TOLERANCE`] (instants are
/// compared, not their text). `None`: no `lifetime`, a certificate (its
/// `notAfter` is the expiry), or nothing to change.
fn wanted_expiry(p: &Policy, record: &ObservedCredential) -> Option<OffsetDateTime> {
    let lifetime = p.lifetime.filter(|_| !p.expiry_in_certificate)?;
    let wanted = record.created_at? + lifetime;
    let differs = record
        .expires_at
        .is_none_or(|e| (e - wanted).abs() > EXPIRY_TOLERANCE);
    differs.then_some(wanted)
}

/// `lifetime` changed and no rotation is due: propose the new expiry in a
/// PR, unless it has already passed (then nothing is proposed: the
/// credential would stop working at once).
fn propose_expiry(
    credential_id: &str,
    record: Option<&ObservedCredential>,
    to: OffsetDateTime,
    current: CurrentSummary,
    now: OffsetDateTime,
) -> Decided {
    let from = record.and_then(|r| r.expires_at);
    if to <= now {
        return expiry_in_past(credential_id, to, Some(current), "the manifest's lifetime");
    }
    let was = from.map_or_else(|| "no expiry".to_owned(), when);
    (
        Decision::ProposeExpiry {
            credential_id: credential_id.to_owned(),
            from,
            to,
        },
        Some(current),
        format!(
            "lifetime changed: a PR will propose moving the expiry of {credential_id} from {was} to {} (no rotation)",
            when(to)
        ),
    )
}

fn expiry_in_past(
    credential_id: &str,
    to: OffsetDateTime,
    current: Option<CurrentSummary>,
    source: &str,
) -> Decided {
    attention(
        Attention::ExpiryInPast {
            credential_id: credential_id.to_owned(),
            expires_at: to,
        },
        current,
        format!(
            "{source} puts the expiry of {credential_id} at {}, which has passed; nothing was changed \
             (Auth0 would stop accepting the key at once). Rotate now instead (`--force` the entry; \
             the new credential gets the new lifetime), or choose a longer lifetime",
            when(to)
        ),
    )
}

/// True when the default branch's ledger names an expiry for its current
/// credential that Auth0 does not have (a merged expiry PR finalize has not
/// carried out yet). Observe checks the ledger's provenance then.
pub fn expiry_change_pending(ledger: &crate::ledger::LedgerEntry, client: &ClientState) -> bool {
    approved_expiry(ledger, client).is_some()
}

/// The expiry the ledger names for its current credential, when Auth0's
/// differs from it (by more than a second: Auth0 keeps milliseconds).
fn approved_expiry(
    ledger: &crate::ledger::LedgerEntry,
    client: &ClientState,
) -> Option<OffsetDateTime> {
    let to = ledger.current.expires_at?;
    let record = client.credential(&ledger.current.credential_id)?;
    let same = record
        .expires_at
        .is_some_and(|e| (e - to).abs() <= Duration::seconds(1));
    (!same).then_some(to)
}

/// Phase 1, when nothing retires: a merged expiry PR. The new expiry is set
/// only when the ledger passes [`ledger_problem`] and lies in the future.
fn decide_approved_expiry(
    p: &Policy,
    o: &ObservedEntry,
    ledger: &crate::ledger::LedgerEntry,
    client: &ClientState,
    now: OffsetDateTime,
) -> Option<Decided> {
    let to = approved_expiry(ledger, client)?;
    let id = &ledger.current.credential_id;
    let current = Some(summary(client, id, now));
    if let Some(reason) = ledger_problem(p, ledger, client, &o.provenance) {
        return Some(attention(
            Attention::UnsafeLedger {
                reason: reason.clone(),
            },
            current,
            format!(
                "the ledger names expiry {} for {id}, which Auth0 does not have; nothing was changed: {reason}",
                when(to)
            ),
        ));
    }
    if to <= now {
        return Some(expiry_in_past(id, to, current, "the merged ledger"));
    }
    Some((
        Decision::UpdateExpiry {
            credential_id: id.clone(),
            to,
        },
        current,
        format!(
            "the expiry change was merged; finalize will set the expiry of {id} to {}",
            when(to)
        ),
    ))
}

/// True when `--force` names the entry (by name or `tenant/name`).
fn is_forced(p: &Policy, options: &PlanOptions) -> bool {
    options.force.contains(&p.entry) || options.force.contains(&format!("{}/{}", p.tenant, p.entry))
}

/// A client the tool does not manage yet: adopt its single attached credential.
fn decide_adopt(p: &Policy, client: &ClientState, now: OffsetDateTime) -> Decided {
    match client.attached.as_slice() {
        [] => attention(
            Attention::NoCredential,
            None,
            format!(
                "client {} has no credential attached to {}; register a first key \
                 (see the README's \"Adopting a client\") so consumers have one to use",
                p.client_id,
                p.auth_method.as_str()
            ),
        ),
        [only] => {
            if let Some(d) = leftover_problem(client, None) {
                return d;
            }
            (
                Decision::Rotate {
                    reason: DueReason::Adopt {
                        credential_id: only.clone(),
                    },
                },
                Some(summary(client, only, now)),
                format!("not yet managed: {only} will be replaced by a tool-managed key"),
            )
        }
        many => attention(
            Attention::CapReached {
                attached: many.to_vec(),
            },
            None,
            cap_message(many),
        ),
    }
}

/// Self-rotation: the run authenticates to the Management API as this
/// entry's client. Retiring is only allowed when it signs with the ledger's
/// current key (the new one): otherwise the run would delete the key it works
/// with, or the secret the workflow passes is not the one the rotation wrote.
fn self_lockout(
    p: &Policy,
    ledger: &crate::ledger::LedgerEntry,
    current: Option<CurrentSummary>,
) -> Option<Decided> {
    let kid = p.management_kid.as_ref()?;
    if *kid == ledger.current.kid {
        return None;
    }
    Some(attention(
        Attention::SelfLockout { kid: kid.clone() },
        current,
        format!(
            "client {} is the one auth0-rotate uses for the Management API, and this run signs with kid {}, \
             not the new key {}; retiring the old key could lock the tool out, so nothing was deleted. \
             Pass the secret the rotation wrote (see the merged PR) as the Management key \
             (input `auth0-private-key`, CLI AUTH0_PRIVATE_KEY_FILE) and run finalize again",
            p.client_id,
            short_kid(kid),
            short_kid(&ledger.current.kid)
        ),
    ))
}

/// The ledger names another tenant, entry or client than the manifest.
fn identity_problem(p: &Policy, ledger: &crate::ledger::LedgerEntry) -> Option<String> {
    (ledger.client_id != p.client_id || ledger.tenant != p.tenant || ledger.entry != p.entry).then(
        || {
            format!(
                "the ledger names {}/{} client {}, but the manifest entry is {}/{} client {}",
                ledger.tenant, ledger.entry, ledger.client_id, p.tenant, p.entry, p.client_id
            )
        },
    )
}

/// Prefix of the names the tool gives the credentials it registers.
pub const CREDENTIAL_NAME_PREFIX: &str = "auth0-rotate ";

/// Checks a ledger against facts a repository writer cannot forge: Auth0's
/// own records. The ledger's current credential must be attached, registered
/// by this tool, and the newest attached credential; every credential it
/// retires must be older than it, and every kid must be what Auth0 says.
/// A swapped ledger (old and new exchanged) fails here, whoever merged it.
pub fn facts_problem(ledger: &crate::ledger::LedgerEntry, client: &ClientState) -> Option<String> {
    let cur_id = &ledger.current.credential_id;
    let Some(cur) = client.credential(cur_id) else {
        return Some(format!(
            "its current credential {cur_id} does not exist in Auth0"
        ));
    };
    if cur.kid.as_deref() != Some(ledger.current.kid.as_str()) {
        return Some(format!(
            "current credential {cur_id} has kid {} in Auth0, not {} as the ledger says",
            cur.kid.as_deref().unwrap_or("(none)"),
            ledger.current.kid
        ));
    }
    if !client.is_attached(cur_id) {
        return Some(format!(
            "its current credential {cur_id} is not attached in Auth0"
        ));
    }
    if !cur.name.starts_with(CREDENTIAL_NAME_PREFIX) {
        return Some(format!(
            "its current credential {cur_id} was not registered by auth0-rotate (Auth0 names it \"{}\")",
            crate::text::neutral(&cur.name)
        ));
    }
    let Some(cur_created) = cur.created_at else {
        return Some(format!("Auth0 reports no creation time for {cur_id}"));
    };
    for a in &client.attached {
        let newer = client
            .credential(a)
            .and_then(|c| c.created_at)
            .is_none_or(|t| t > cur_created);
        if a != cur_id && newer {
            return Some(format!(
                "{a} is attached and newer than the ledger's current credential {cur_id} (by Auth0's creation times): \
                 the ledger does not name the newest key"
            ));
        }
    }
    for r in &ledger.retiring {
        if r.credential_id == *cur_id || r.kid == ledger.current.kid {
            return Some(format!(
                "the ledger lists its current credential {cur_id} as retiring"
            ));
        }
        let Some(c) = client.credential(&r.credential_id) else {
            continue;
        };
        if c.kid.as_deref() != Some(r.kid.as_str()) {
            return Some(format!(
                "retiring credential {} has kid {} in Auth0, not {} as the ledger says",
                r.credential_id,
                c.kid.as_deref().unwrap_or("(none)"),
                r.kid
            ));
        }
        if c.created_at.is_none_or(|t| t >= cur_created) {
            return Some(format!(
                "it retires {}, which Auth0 registered after the current credential {cur_id}: \
                 only a credential the current one replaced may be retired",
                r.credential_id
            ));
        }
    }
    None
}

/// Why the default branch's ledger must not drive a deletion, if it must not:
/// it names another entry, contradicts Auth0's records ([`facts_problem`]),
/// or is not what a merged rotation PR proposed.
fn ledger_problem(
    p: &Policy,
    ledger: &crate::ledger::LedgerEntry,
    client: &ClientState,
    provenance: &Provenance,
) -> Option<String> {
    if let Some(problem) = identity_problem(p, ledger) {
        return Some(problem);
    }
    if let Some(problem) = facts_problem(ledger, client) {
        return Some(problem);
    }
    match provenance {
        Provenance::Merged { .. } => None,
        Provenance::Unverified { reason } => Some(reason.clone()),
        Provenance::Unchecked => Some("the ledger's origin was not checked".into()),
    }
}

/// A kid shortened for reports: its first 12 characters and `…`.
pub fn short_kid(kid: &str) -> String {
    format!("{}…", kid.chars().take(12).collect::<String>())
}

fn cap_message(attached: &[String]) -> String {
    format!(
        "two credentials are attached ({}) and neither is a rotation in flight; nothing was changed. \
         Decide which one consumers use, detach the other in Auth0, then run again",
        attached.join(", ")
    )
}

/// An instant as RFC 3339 text (UTC, whole seconds).
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// `YYYY-MM-DD`.
pub(crate) fn date(t: OffsetDateTime) -> String {
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

/// `YYYY-MM-DD HH:MM UTC`.
pub(crate) fn when(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!("{} {:02}:{:02} UTC", date(t), t.hour(), t.minute())
}

fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_i64(d.whole_seconds())
}

fn ser_opt_duration<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.whole_seconds()),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod secret_tests;

#[cfg(test)]
mod mtls_tests;
#[cfg(test)]
mod new_client_tests;
