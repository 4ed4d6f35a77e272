//! Connection keys (Auth0's client assertions to an upstream OIDC/Okta IdP):
//! a pure planner, renderings, the ledger file and the two stages.
//!
//! Rotating promotes next → current at once, so the IdP must already trust
//! the next key. The flow is therefore PR-first:
//!
//! * **rotate** (stage 1): open the PR "rotate connection keys of <conn>"
//!   whose body carries the next key's kid, certificate and JWK with a
//!   checklist for the IdP; its ledger sets `trusted_next`. A connection
//!   without keys is provisioned first (`POST …/keys`).
//! * **finalize** (after the merge, which means "the IdP trusts next"):
//!   `POST …/keys/rotate`, verify the former next is current, and record the
//!   new next in the ledger on the default branch.
//!
//! The age of the current key comes from the ledger (`rotated_at`), because
//! Auth0 keeps the promoted key's `current_since` unchanged.

pub mod apply;
mod ledger;
pub mod observe;
mod render;

pub use observe::{find_connection, observe_connection, read_connection_ledger};

pub use ledger::{connection_path, ConnectionLedger};

use std::collections::BTreeSet;

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::manifest::ConnectionRef;
use crate::plan::date;

/// When a connection's keys rotate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionPolicy {
    /// Tenant name.
    pub tenant: String,
    /// The connection, as written in the manifest.
    pub connection: ConnectionRef,
    /// Rotate when the current key has been current this long.
    #[serde(serialize_with = "ser_duration")]
    pub rotate_every: Duration,
}

impl ConnectionPolicy {
    /// `tenant/connection`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.tenant, self.connection.label())
    }
}

/// A connection key as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedConnectionKey {
    /// Key id.
    pub kid: String,
    /// Current.
    pub current: bool,
    /// Next.
    pub next: bool,
    /// `current_since` as reported.
    #[serde(with = "time::serde::rfc3339::option")]
    pub current_since: Option<OffsetDateTime>,
}

/// The connection as found in Auth0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedConnection {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Strategy.
    pub strategy: String,
    /// Its keys (empty when none were created).
    pub keys: Vec<ObservedConnectionKey>,
}

/// The open rotation PR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionPull {
    /// Number.
    pub number: u64,
    /// URL.
    pub url: String,
}

/// Everything observed for one connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionObserved {
    /// The connection (`Ok(None)`: not found), or why it could not be read.
    pub connection: Result<Option<ObservedConnection>, String>,
    /// The ledger on the default branch.
    pub ledger: Option<ConnectionLedger>,
    /// The open PR.
    pub pull: Option<ConnectionPull>,
    /// Why the ledger's `trusted_next` cannot be believed: it is not what
    /// the latest merged PR of the connection's branch proposed (`None`: it
    /// is, or the ledger trusts nothing).
    pub unapproved: Option<String>,
}

/// Why a rotation PR is proposed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConnectionDue {
    /// The current key is older than `rotate_every`.
    Age {
        /// Days.
        age_days: i64,
        /// `rotate_every` in days.
        rotate_every_days: i64,
    },
    /// Keys were just provisioned, or forced.
    Forced,
}

/// The decision for one connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ConnectionDecision {
    /// No keys yet: create them, then propose trusting them (stage 1).
    Provision,
    /// Open the PR asking the IdP to trust the next key (stage 1).
    Propose {
        /// Next key id.
        next_kid: String,
        /// Why.
        reason: ConnectionDue,
    },
    /// The PR is open.
    InFlight {
        /// Number.
        pull: u64,
        /// URL.
        url: String,
    },
    /// Merged: the IdP trusts next; rotate (finalize).
    Rotate {
        /// The trusted next key that becomes current.
        next_kid: String,
    },
    /// Rotated, but the ledger does not say so yet (finalize records).
    Record {
        /// The key that is current now.
        current_kid: String,
    },
    /// Nothing due.
    NotDue {
        /// When it falls due.
        #[serde(with = "time::serde::rfc3339")]
        next_due: OffsetDateTime,
    },
    /// A human must act.
    NeedsAttention {
        /// What is wrong.
        problem: String,
    },
}

/// The plan for one connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionPlan {
    /// Tenant name.
    pub tenant: String,
    /// Connection as written.
    pub connection: String,
    /// Connection id, when found.
    pub connection_id: Option<String>,
    /// Current key id.
    pub current_kid: Option<String>,
    /// Next key id.
    pub next_kid: Option<String>,
    /// Days since the current key became current.
    pub current_age_days: Option<i64>,
    /// What to do.
    pub decision: ConnectionDecision,
    /// Why.
    pub explanation: String,
    /// True when the connection could not be read in Auth0: the plan is
    /// incomplete (`plan` fails).
    #[serde(skip)]
    pub unreadable: bool,
}

impl ConnectionPlan {
    /// `tenant/connection/<name or id>`.
    pub fn key(&self) -> String {
        format!("{}/connection/{}", self.tenant, self.connection)
    }

    /// True when rotate or finalize has work, or a human must act.
    pub fn has_changes(&self) -> bool {
        !matches!(
            self.decision,
            ConnectionDecision::InFlight { .. } | ConnectionDecision::NotDue { .. }
        )
    }
}

/// Plans every connection. `observed[i]` belongs to `policies[i]`.
pub fn plan_connections(
    policies: &[ConnectionPolicy],
    observed: &[ConnectionObserved],
    now: OffsetDateTime,
    force: &BTreeSet<String>,
) -> Vec<ConnectionPlan> {
    assert_eq!(policies.len(), observed.len(), "one observation per policy");
    policies
        .iter()
        .zip(observed)
        .map(|(p, o)| plan_one(p, o, now, force))
        .collect()
}

fn plan_one(
    p: &ConnectionPolicy,
    o: &ConnectionObserved,
    now: OffsetDateTime,
    force: &BTreeSet<String>,
) -> ConnectionPlan {
    let conn = o.connection.as_ref().ok().and_then(|c| c.as_ref());
    let kid = |f: fn(&ObservedConnectionKey) -> bool| {
        conn.and_then(|c| c.keys.iter().find(|k| f(k)))
            .map(|k| k.kid.clone())
    };
    let current_kid = kid(|k| k.current);
    let since = rotated_at(o, current_kid.as_deref());
    let (decision, explanation) = decide(p, o, now, force);
    ConnectionPlan {
        tenant: p.tenant.clone(),
        connection: p.connection.label().to_owned(),
        connection_id: conn.map(|c| c.id.clone()),
        next_kid: kid(|k| k.next),
        current_age_days: since.map(|s| (now - s).whole_days()),
        current_kid,
        decision,
        explanation,
        unreadable: o.connection.is_err(),
    }
}

/// When the current key became current: the ledger's `rotated_at` if the
/// ledger names it, else the listing's `current_since`.
fn rotated_at(o: &ConnectionObserved, current: Option<&str>) -> Option<OffsetDateTime> {
    let conn = o.connection.as_ref().ok()?.as_ref()?;
    let listed = conn.keys.iter().find(|k| k.current)?.current_since;
    match &o.ledger {
        Some(l) if Some(l.current_kid.as_str()) == current => l.rotated_at.or(listed),
        _ => listed,
    }
}

fn attention(problem: String) -> (ConnectionDecision, String) {
    (
        ConnectionDecision::NeedsAttention {
            problem: problem.clone(),
        },
        problem,
    )
}

/// The connection strategies whose keys Auth0 lets a tenant rotate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyedStrategy {
    /// `oidc`.
    Oidc,
    /// `okta`.
    Okta,
}

impl KeyedStrategy {
    /// The strategy Auth0 names `strategy`, if its keys rotate.
    pub fn parse(strategy: &str) -> Option<Self> {
        match strategy {
            "oidc" => Some(Self::Oidc),
            "okta" => Some(Self::Okta),
            _ => None,
        }
    }
}

/// A phase's verdict: decided, or left to the next phase.
type Verdict = Option<(ConnectionDecision, String)>;

/// The decision, in phases: a connection that can be planned at all, a
/// merged PR (the IdP trusts a key), an open PR, then whether a rotation is
/// due.
fn decide(
    p: &ConnectionPolicy,
    o: &ConnectionObserved,
    now: OffsetDateTime,
    force: &BTreeSet<String>,
) -> (ConnectionDecision, String) {
    let (conn, current, next) = match usable(p, o) {
        Ok(keys) => keys,
        Err(decided) => return decided,
    };
    decide_merged(o, conn, current, next)
        .or_else(|| decide_in_flight(o, next))
        .unwrap_or_else(|| decide_due(p, o, current, next, now, force))
}

type Keys<'a> = (
    &'a ObservedConnection,
    &'a ObservedConnectionKey,
    &'a ObservedConnectionKey,
);

/// The connection with its current and next key; otherwise the decision:
/// needs attention (unreadable, missing, a strategy without keys, keys
/// missing a role) or provision (no keys yet).
fn usable<'a>(
    p: &ConnectionPolicy,
    o: &'a ConnectionObserved,
) -> Result<Keys<'a>, (ConnectionDecision, String)> {
    let conn = match &o.connection {
        Err(e) => {
            return Err(attention(format!(
                "could not read connection {}: {e}",
                p.key()
            )))
        }
        Ok(None) => {
            return Err(attention(format!(
                "connection {} does not exist in tenant {}",
                p.connection.label(),
                p.tenant
            )))
        }
        Ok(Some(c)) => c,
    };
    if KeyedStrategy::parse(&conn.strategy).is_none() {
        return Err(attention(format!(
            "connection {} uses strategy `{}`; only oidc and okta connections have keys to rotate",
            conn.name, conn.strategy
        )));
    }
    if conn.keys.is_empty() {
        return Err((
            ConnectionDecision::Provision,
            format!(
                "connection {} has no keys; rotate creates them and opens a PR to register them at the IdP",
                conn.name
            ),
        ));
    }
    let current = conn.keys.iter().find(|k| k.current);
    let next = conn.keys.iter().find(|k| k.next);
    match (current, next) {
        (Some(c), Some(n)) => Ok((conn, c, n)),
        _ => Err(attention(format!(
            "connection {} does not list both a current and a next key",
            conn.name
        ))),
    }
}

/// Phase 1: a ledger a merged PR wrote says the IdP trusts a key: rotate
/// to it (finalize), or record the new next key if it is current already.
/// A ledger no merged PR wrote, or one naming an unknown key with no PR
/// open, needs a human.
fn decide_merged(
    o: &ConnectionObserved,
    conn: &ObservedConnection,
    current: &ObservedConnectionKey,
    next: &ObservedConnectionKey,
) -> Verdict {
    let trusted = o.ledger.as_ref()?.trusted_next.as_ref()?;
    if let Some(reason) = &o.unapproved {
        return Some(attention(format!(
            "nothing was rotated: the ledger says the IdP trusts {}, but {reason}",
            crate::text::neutral(trusted)
        )));
    }
    if *trusted == next.kid {
        return Some((
            ConnectionDecision::Rotate {
                next_kid: trusted.clone(),
            },
            format!(
                "the PR was merged (the IdP trusts {trusted}); finalize rotates so it becomes current"
            ),
        ));
    }
    if *trusted == current.kid {
        return Some((
            ConnectionDecision::Record {
                current_kid: trusted.clone(),
            },
            format!(
                "{trusted} is already current; finalize records the new next key {} in the ledger",
                next.kid
            ),
        ));
    }
    o.pull.is_none().then(|| {
        attention(format!(
            "the ledger says the IdP trusts {trusted}, which is neither the current ({}) nor the next ({}) key of {}; nothing was rotated",
            current.kid, next.kid, conn.name
        ))
    })
}

/// Phase 2: the PR is open: wait for its merge.
fn decide_in_flight(o: &ConnectionObserved, next: &ObservedConnectionKey) -> Verdict {
    let pull = o.pull.as_ref()?;
    Some((
        ConnectionDecision::InFlight {
            pull: pull.number,
            url: pull.url.clone(),
        },
        format!(
            "PR #{} asks to register next key {} at the IdP; merge it once the IdP trusts it",
            pull.number, next.kid
        ),
    ))
}

/// Phase 3: due (or forced): propose the next key in a PR; else not due.
fn decide_due(
    p: &ConnectionPolicy,
    o: &ConnectionObserved,
    current: &ObservedConnectionKey,
    next: &ObservedConnectionKey,
    now: OffsetDateTime,
    force: &BTreeSet<String>,
) -> (ConnectionDecision, String) {
    let forced = force.contains(&p.key()) || force.contains(p.connection.label());
    let since = rotated_at(o, Some(&current.kid)).unwrap_or(now);
    let due_at = since + p.rotate_every;
    if !forced && now < due_at {
        return (
            ConnectionDecision::NotDue { next_due: due_at },
            format!("not due until {}", date(due_at)),
        );
    }
    let reason = if now >= due_at {
        ConnectionDue::Age {
            age_days: (now - since).whole_days(),
            rotate_every_days: p.rotate_every.whole_days(),
        }
    } else {
        ConnectionDue::Forced
    };
    let why = match &reason {
        ConnectionDue::Forced => "rotation forced".to_owned(),
        ConnectionDue::Age {
            age_days,
            rotate_every_days,
        } => format!(
            "due: the current key is {age_days} days old (rotate_every {rotate_every_days} days)"
        ),
    };
    (
        ConnectionDecision::Propose {
            next_kid: next.kid.clone(),
            reason,
        },
        format!(
            "{why}; rotate opens a PR to register next key {} at the IdP",
            next.kid
        ),
    )
}

fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_i64(d.whole_seconds())
}

#[cfg(test)]
mod tests;
