//! The planner: a pure function of (policies, observed state, now) that
//! decides, per manifest entry, what the tool should do and why.
//!
//! No I/O, no clock, no randomness: callers pass `now` and the observations,
//! so every decision is reproducible and snapshot-tested.

mod observed;
mod render;

pub use observed::{
    ClientState, ObservedCredential, ObservedEntry, OpenPull, Proposal, Provenance,
};

use serde::Serialize;
use std::collections::BTreeSet;
use time::{Duration, OffsetDateTime};

use crate::keys::Alg;
use crate::ledger::Retiring;

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
}

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
    /// No credential is attached to private_key_jwt.
    NoCredential,
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
    /// Another run started rotating this entry moments ago.
    Busy {
        /// When that run started.
        #[serde(with = "time::serde::rfc3339")]
        since: OffsetDateTime,
    },
    /// A rotation PR is open; `rotate` only refreshes it.
    InFlight {
        /// PR number.
        pull: u64,
        /// PR URL.
        url: String,
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
    /// Key id.
    pub kid: Option<String>,
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
    /// True when `rotate` or `finalize` has work, or a human must act.
    pub fn has_changes(&self) -> bool {
        self.entries.iter().any(|e| {
            matches!(
                e.decision,
                Decision::Rotate { .. }
                    | Decision::Finalize { .. }
                    | Decision::NeedsAttention { .. }
            )
        })
    }

    /// Exit code for `plan`: 0 nothing to do, 2 changes pending.
    pub fn exit_code(&self) -> i32 {
        if self.has_changes() {
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
    let (decision, current, explanation) = decide(p, o, now, options);
    EntryPlan {
        tenant: p.tenant.clone(),
        entry: p.entry.clone(),
        client_id: p.client_id.clone(),
        current,
        decision,
        explanation,
    }
}

fn summary(client: &ClientState, id: &str, now: OffsetDateTime) -> CurrentSummary {
    let c = client.credential(id);
    CurrentSummary {
        credential_id: id.to_owned(),
        kid: c.and_then(|c| c.kid.clone()),
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

fn decide(
    p: &Policy,
    o: &ObservedEntry,
    now: OffsetDateTime,
    options: &PlanOptions,
) -> (Decision, Option<CurrentSummary>, String) {
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

    // 1. A merged rotation whose old credentials still exist: finalize.
    if let Some(ledger) = &o.ledger {
        let current = Some(summary(client, &ledger.current.credential_id, now));
        let pending: Vec<Retiring> = ledger
            .retiring
            .iter()
            .filter(|r| client.credential(&r.credential_id).is_some())
            .cloned()
            .collect();
        if !client.is_attached(&ledger.current.credential_id) {
            return attention(
                Attention::Drift {
                    credential_id: ledger.current.credential_id.clone(),
                },
                current,
                format!(
                    "the ledger's current credential {} is not attached to the client in Auth0; \
                     nothing will be retired until a human restores it or edits the ledger",
                    ledger.current.credential_id
                ),
            );
        }
        if !pending.is_empty() {
            if let Some(reason) = ledger_problem(p, ledger, client, &o.provenance) {
                return attention(
                    Attention::UnsafeLedger {
                        reason: reason.clone(),
                    },
                    current,
                    format!("finalize refused, nothing was deleted: {reason}"),
                );
            }
            let ids: Vec<&str> = pending.iter().map(|r| r.credential_id.as_str()).collect();
            return (
                Decision::Finalize {
                    retire: pending.clone(),
                },
                current,
                format!(
                    "the rotation was merged; finalize will detach and delete {}",
                    ids.join(", ")
                ),
            );
        }
    }

    // 2. A rotation PR is open: wait for its merge.
    if let Some(pull) = &o.pull {
        let current = pull
            .ledger
            .as_ref()
            .map(|l| summary(client, &l.current.credential_id, now));
        return (
            Decision::InFlight {
                pull: pull.number,
                url: pull.url.clone(),
            },
            current,
            format!(
                "rotation in flight: PR #{} is open; merge it to retire the old credential",
                pull.number
            ),
        );
    }

    // 3. A proposal on the branch without an open PR.
    if let Some(prop) = &o.proposal {
        let cred = &prop.ledger.current.credential_id;
        let current = Some(summary(client, cred, now));
        if let Some(n) = prop.rejected_pull {
            return attention(
                Attention::Rejected { pull: n, credential_id: cred.clone() },
                current,
                format!(
                    "PR #{n} was closed without merging, but its credential {cred} is still attached next to the old one. \
                     Reopen and merge PR #{n} to finish the rotation, or detach and delete {cred} in Auth0 and delete the branch to abandon it"
                ),
            );
        }
        if client.is_attached(cred) {
            return (
                Decision::Republish {
                    credential_id: cred.clone(),
                },
                current,
                format!(
                    "a rotation to {cred} finished but its PR was not opened; it will be opened"
                ),
            );
        }
    }

    // 4. A run that did not reach its PR left a journal on the branch.
    if let Some(j) = &o.journal {
        let cred = client
            .credentials
            .iter()
            .find(|c| c.kid.as_deref() == Some(j.kid.as_str()));
        let current = Some(summary(client, &j.replaces, now));
        if j.is_fresh(now) {
            return (
                Decision::Busy {
                    since: j.started_at,
                },
                current,
                format!(
                    "another run started rotating at {}; leaving it alone",
                    j.started_at
                ),
            );
        }
        if j.encrypted_key.is_some() && options.can_resume {
            return (
                Decision::Resume { kid: j.kid.clone() },
                current,
                format!(
                    "an interrupted rotation (kid {}) will be resumed with its journaled key",
                    short_kid(&j.kid)
                ),
            );
        }
        match cred {
            Some(c) if client.is_attached(&c.id) => {
                return attention(
                    Attention::Interrupted { credential_id: c.id.clone(), kid: j.kid.clone() },
                    current,
                    format!(
                        "a run was interrupted after attaching {} (kid {}) and its key cannot be recovered without an age identity. \
                         If no consumer uses kid {}, detach and delete {} in Auth0 and delete the branch {}/{}/{}; \
                         otherwise keep it and finish the rotation by hand",
                        c.id, short_kid(&j.kid), short_kid(&j.kid), c.id, "auth0-rotate", p.tenant, p.entry
                    ),
                );
            }
            _ => {
                return (
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
                );
            }
        }
    }

    let forced = options.force.contains(&p.entry)
        || options.force.contains(&format!("{}/{}", p.tenant, p.entry));

    // 5. Not yet managed: adopt the single attached credential.
    let Some(ledger) = &o.ledger else {
        return match client.attached.as_slice() {
            [] => attention(
                Attention::NoCredential,
                None,
                format!(
                    "client {} has no credential attached to private_key_jwt; register a first key \
                     (see the README's \"Adopting a client\") so consumers have one to use",
                    p.client_id
                ),
            ),
            [only] => (
                Decision::Rotate {
                    reason: DueReason::Adopt {
                        credential_id: only.clone(),
                    },
                },
                Some(summary(client, only, now)),
                format!("not yet managed: {only} will be replaced by a tool-managed key"),
            ),
            many => attention(
                Attention::CapReached {
                    attached: many.to_vec(),
                },
                None,
                cap_message(many),
            ),
        };
    };

    let current = summary(client, &ledger.current.credential_id, now);
    let others: Vec<String> = client
        .attached
        .iter()
        .filter(|id| **id != ledger.current.credential_id)
        .cloned()
        .collect();
    if !others.is_empty() {
        return attention(
            Attention::CapReached {
                attached: client.attached.clone(),
            },
            Some(current),
            cap_message(&client.attached),
        );
    }

    let created = client
        .credential(&ledger.current.credential_id)
        .and_then(|c| c.created_at)
        .unwrap_or(ledger.current.created_at);
    let expires = client
        .credential(&ledger.current.credential_id)
        .and_then(|c| c.expires_at)
        .or(ledger.current.expires_at);
    let age = now - created;
    let by_age = created + p.rotate_every;
    let by_expiry = match (expires, p.renew_before) {
        (Some(e), Some(before)) => Some(e - before),
        (Some(e), None) => Some(e),
        _ => None,
    };
    let next_due = by_expiry.map_or(by_age, |e| e.min(by_age));

    if forced {
        return (
            Decision::Rotate {
                reason: DueReason::Forced,
            },
            Some(current),
            "rotation forced".to_owned(),
        );
    }
    if let Some(e) = expires {
        if by_expiry.is_some_and(|d| now >= d) {
            return (
                Decision::Rotate {
                    reason: DueReason::Expiry { expires_at: e },
                },
                Some(current),
                format!(
                    "due: the credential expires {} (within renew_before)",
                    date(e)
                ),
            );
        }
    }
    if now >= by_age {
        return (
            Decision::Rotate {
                reason: DueReason::Age {
                    age_days: days(age),
                    rotate_every_days: days(p.rotate_every),
                },
            },
            Some(current),
            format!(
                "due: the credential is {} days old (rotate_every {} days)",
                days(age),
                days(p.rotate_every)
            ),
        );
    }
    (
        Decision::NotDue { next_due },
        Some(current),
        format!("not due until {}", date(next_due)),
    )
}

/// Why the default branch's ledger must not drive a deletion, if it must not.
fn ledger_problem(
    p: &Policy,
    ledger: &crate::ledger::LedgerEntry,
    client: &ClientState,
    provenance: &Provenance,
) -> Option<String> {
    if ledger.client_id != p.client_id || ledger.tenant != p.tenant || ledger.entry != p.entry {
        return Some(format!(
            "the ledger names {}/{} client {}, but the manifest entry is {}/{} client {}",
            ledger.tenant, ledger.entry, ledger.client_id, p.tenant, p.entry, p.client_id
        ));
    }
    for r in &ledger.retiring {
        if r.credential_id == ledger.current.credential_id || r.kid == ledger.current.kid {
            return Some(format!(
                "the ledger lists its current credential {} as retiring",
                ledger.current.credential_id
            ));
        }
        if let Some(c) = client.credential(&r.credential_id) {
            if c.kid.as_deref() != Some(r.kid.as_str()) {
                return Some(format!(
                    "retiring credential {} has kid {} in Auth0, not {} as the ledger says",
                    r.credential_id,
                    c.kid.as_deref().unwrap_or("(none)"),
                    r.kid
                ));
            }
        }
    }
    if let Some(c) = client.credential(&ledger.current.credential_id) {
        if c.kid.as_deref() != Some(ledger.current.kid.as_str()) {
            return Some(format!(
                "current credential {} has kid {} in Auth0, not {} as the ledger says",
                ledger.current.credential_id,
                c.kid.as_deref().unwrap_or("(none)"),
                ledger.current.kid
            ));
        }
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

/// `YYYY-MM-DD`.
pub(crate) fn date(t: OffsetDateTime) -> String {
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
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
