//! Tenant signing keys: a pure planner, its renderings, the ledger file and
//! the stages.
//!
//! With `flow: pr_first` (the default) consumers are told before the key
//! changes:
//!
//! 1. **propose** (when due): open the PR "rotate the signing key of
//!    <tenant>" carrying the certificate and fingerprints of Auth0's *next*
//!    key (published before it becomes current). Merging it says: SAML,
//!    WS-Fed and certificate-pinning consumers trust the next key now.
//! 2. **rotate** (after that merge, by `finalize` or a scheduled run): only
//!    if the approved key is still Auth0's next key, `POST
//!    /keys/signing/rotate`, prove the tenant JWKS serves the new current
//!    key and still the previous one, and open the PR "revoke previous
//!    signing key <kid>".
//! 3. **revoke** (after that merge): revoke the previous key only if it is
//!    still `previous` and `revoke_after` has passed since the rotation;
//!    otherwise say when it will be safe and leave it to a later run.
//!
//! `flow: immediate` skips step 1 (for tenants whose consumers all read the
//! JWKS). A ledger on the default branch approves a rotation or a revoke
//! only if it is exactly what the latest merged PR of the tenant's branch
//! proposed.
//!
//! Rotation is due when the current key has been current for `rotate_every`
//! **and** the next key has been published for `jwks_cache_ttl` (it was
//! published when the current key became current). At most one rotation is
//! ever in flight per tenant (an unrevoked previous key blocks the next
//! one), which also keeps the tool far below Auth0's 5 rotations per day;
//! the plan additionally waits when the listing shows 5 keys made current in
//! the last 24 hours.

pub mod apply;
mod ledger;
pub mod observe;
pub mod pr;
mod render;

pub use observe::{observe_signing, read_signing_ledger};

pub use ledger::{signing_path, CurrentSigningKey, PendingRevoke, PreparedRotation, SigningLedger};

use std::collections::BTreeSet;

use serde::Serialize;
use time::{Duration, OffsetDateTime};

pub use crate::manifest::SigningFlow;
use crate::manifest::SigningKeysAfter;
use crate::plan::{date, when};

/// Auth0's limit on signing-key rotations per tenant and day.
pub const ROTATIONS_PER_DAY: usize = 5;

/// When a tenant's signing keys rotate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SigningPolicy {
    /// Tenant name.
    pub tenant: String,
    /// Tenant domain.
    pub domain: String,
    /// Rotate when the current key has been current this long.
    #[serde(serialize_with = "ser_duration")]
    pub rotate_every: Duration,
    /// How long consumers cache the JWKS.
    #[serde(serialize_with = "ser_duration")]
    pub jwks_cache_ttl: Duration,
    /// Revoke the previous key no earlier than this after the rotation.
    #[serde(serialize_with = "ser_duration")]
    pub revoke_after: Duration,
    /// Environment gating.
    pub after: Option<SigningKeysAfter>,
    /// PR first, or rotate at once.
    pub flow: SigningFlow,
}

/// A signing key as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedSigningKey {
    /// Key id.
    pub kid: String,
    /// Current.
    pub current: bool,
    /// Next.
    pub next: bool,
    /// Previous (rotated out).
    pub previous: bool,
    /// Revoked.
    pub revoked: bool,
    /// When it became current.
    #[serde(with = "time::serde::rfc3339::option")]
    pub current_since: Option<OffsetDateTime>,
}

/// The open revoke PR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SigningPull {
    /// Number.
    pub number: u64,
    /// URL.
    pub url: String,
}

/// Everything observed for one tenant's signing keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SigningObserved {
    /// The keys, or why they could not be read.
    pub keys: Result<Vec<ObservedSigningKey>, String>,
    /// The ledger on the default branch.
    pub ledger: Option<SigningLedger>,
    /// The open PR.
    pub pull: Option<SigningPull>,
    /// Why the ledger, which approves a rotation or a revoke, is not
    /// believed: it is not what the latest merged PR of the tenant's branch
    /// proposed (`None`: it is, or it approves nothing).
    pub unapproved: Option<String>,
}

impl SigningObserved {
    fn find(&self, f: impl Fn(&ObservedSigningKey) -> bool) -> Option<&ObservedSigningKey> {
        self.keys.as_ref().ok()?.iter().find(|k| f(k))
    }

    fn current(&self) -> Option<&ObservedSigningKey> {
        self.find(|k| k.current && !k.revoked)
    }

    fn previous(&self) -> Option<&ObservedSigningKey> {
        self.find(|k| k.previous && !k.current && !k.next && !k.revoked)
    }
}

/// Why a rotation is due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SigningDue {
    /// The current key is older than `rotate_every`.
    Age {
        /// Days current.
        age_days: i64,
        /// `rotate_every` in days.
        rotate_every_days: i64,
    },
    /// Forced.
    Forced,
    /// A merged PR approved rotating to this next key (PR-first flow).
    Approved {
        /// The approved next key.
        next_kid: String,
    },
}

/// Why a due rotation waits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SigningWait {
    /// Another tenant must rotate first and stay healthy.
    Gate {
        /// That tenant.
        tenant: String,
        /// When the gate opens, if known.
        #[serde(with = "time::serde::rfc3339::option")]
        until: Option<OffsetDateTime>,
    },
    /// The next key has not been published for `jwks_cache_ttl` yet.
    JwksCache {
        /// When it has.
        #[serde(with = "time::serde::rfc3339")]
        until: OffsetDateTime,
    },
    /// Auth0's 5-per-day limit.
    RateLimit {
        /// When a rotation is allowed again.
        #[serde(with = "time::serde::rfc3339")]
        until: OffsetDateTime,
    },
}

/// The decision for a tenant's signing keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum SigningDecision {
    /// Rotate now (stage 1).
    Rotate {
        /// Why.
        reason: SigningDue,
    },
    /// Due (PR-first flow): open the PR with the next key's certificate;
    /// merging it approves the rotation (stage 1).
    Propose {
        /// Auth0's next key, which becomes current after the merge.
        next_kid: String,
        /// Why the rotation is due.
        reason: SigningDue,
    },
    /// A rotation happened but no revoke PR exists: open it (stage 1).
    Publish {
        /// The previous key to propose revoking.
        previous_kid: String,
    },
    /// The revoke PR is open.
    InFlight {
        /// PR number.
        pull: u64,
        /// PR URL.
        url: String,
    },
    /// Merged and safe: revoke the previous key (finalize).
    Revoke {
        /// The key.
        kid: String,
    },
    /// Merged, but `revoke_after` has not passed.
    RevokeLater {
        /// The key.
        kid: String,
        /// When revoking becomes safe.
        #[serde(with = "time::serde::rfc3339")]
        safe_at: OffsetDateTime,
    },
    /// Due but waiting.
    Waiting {
        /// For what.
        reason: SigningWait,
    },
    /// Nothing due.
    NotDue {
        /// When the next rotation falls due.
        #[serde(with = "time::serde::rfc3339")]
        next_due: OffsetDateTime,
    },
    /// A human must act.
    NeedsAttention {
        /// What is wrong.
        problem: String,
    },
}

/// The plan for one tenant's signing keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SigningPlan {
    /// Tenant name.
    pub tenant: String,
    /// Tenant domain.
    pub domain: String,
    /// Current key id.
    pub current_kid: Option<String>,
    /// Days the current key has been current.
    pub current_age_days: Option<i64>,
    /// Next key id.
    pub next_kid: Option<String>,
    /// Unrevoked previous key id.
    pub previous_kid: Option<String>,
    /// What to do.
    pub decision: SigningDecision,
    /// One sentence saying why.
    pub explanation: String,
    /// True when Auth0's signing keys could not be read: the plan is
    /// incomplete (`plan` fails).
    #[serde(skip)]
    pub unreadable: bool,
}

impl SigningPlan {
    /// True when rotate or finalize has work, or a human must act.
    pub fn has_changes(&self) -> bool {
        matches!(
            self.decision,
            SigningDecision::Rotate { .. }
                | SigningDecision::Propose { .. }
                | SigningDecision::Publish { .. }
                | SigningDecision::Revoke { .. }
                | SigningDecision::NeedsAttention { .. }
        )
    }
}

/// Plans every tenant. `observed[i]` belongs to `policies[i]`; gates look up
/// the other tenant among the same inputs.
pub fn plan_signing(
    policies: &[SigningPolicy],
    observed: &[SigningObserved],
    now: OffsetDateTime,
    force: &BTreeSet<String>,
) -> Vec<SigningPlan> {
    assert_eq!(policies.len(), observed.len(), "one observation per policy");
    policies
        .iter()
        .zip(observed)
        .map(|(p, o)| {
            let gate = p.after.as_ref().map(|a| {
                let other = policies
                    .iter()
                    .position(|q| q.tenant == a.tenant)
                    .map(|i| &observed[i]);
                (a, other)
            });
            plan_one(p, o, gate, now, force)
        })
        .collect()
}

fn plan_one(
    p: &SigningPolicy,
    o: &SigningObserved,
    gate: Option<(&SigningKeysAfter, Option<&SigningObserved>)>,
    now: OffsetDateTime,
    force: &BTreeSet<String>,
) -> SigningPlan {
    let current = o.current();
    let mut plan = SigningPlan {
        tenant: p.tenant.clone(),
        domain: p.domain.clone(),
        current_kid: current.map(|k| k.kid.clone()),
        current_age_days: current
            .and_then(|k| k.current_since)
            .map(|s| (now - s).whole_days()),
        next_kid: o.find(|k| k.next && !k.revoked).map(|k| k.kid.clone()),
        previous_kid: o.previous().map(|k| k.kid.clone()),
        decision: SigningDecision::NotDue { next_due: now },
        explanation: String::new(),
        unreadable: o.keys.is_err(),
    };
    let (decision, explanation) = decide(p, o, gate, now, force);
    plan.decision = decision;
    plan.explanation = explanation;
    plan
}

/// When revoking the previous key is safe: the ledger's `safe_after`, but
/// never before Auth0's `current_since` of the current key plus
/// `revoke_after` (a ledger edited to an earlier date changes nothing).
pub(crate) fn safe_to_revoke(
    ledger_safe_after: OffsetDateTime,
    current_since: Option<OffsetDateTime>,
    revoke_after: Duration,
) -> OffsetDateTime {
    current_since.map_or(ledger_safe_after, |t| {
        ledger_safe_after.max(t + revoke_after)
    })
}

/// A phase's verdict: decided, or left to the next phase.
type Verdict = Option<(SigningDecision, String)>;

/// The decision, in phases: what was merged (revoke, approved rotation),
/// what is in flight, an unproposed previous key, then whether a new
/// rotation is due and may run now.
fn decide(
    p: &SigningPolicy,
    o: &SigningObserved,
    gate: Option<(&SigningKeysAfter, Option<&SigningObserved>)>,
    now: OffsetDateTime,
    force: &BTreeSet<String>,
) -> (SigningDecision, String) {
    if let Err(e) = &o.keys {
        return attention(
            e.clone(),
            format!("could not read the signing keys of {}: {e}", p.domain),
        );
    }
    let Some(current) = o.current() else {
        return attention(
            "no current signing key".into(),
            format!("{} lists no current signing key", p.domain),
        );
    };
    decide_revoke(p, o, current, now)
        .or_else(|| decide_in_flight(o))
        .or_else(|| decide_approved(o, current, now))
        .unwrap_or_else(|| decide_due(p, o, current, gate, now, force))
}

fn attention(problem: String, explanation: String) -> (SigningDecision, String) {
    (SigningDecision::NeedsAttention { problem }, explanation)
}

/// Why the default branch's ledger does not approve anything.
fn unapproved(o: &SigningObserved, what: &str) -> Verdict {
    o.unapproved.as_ref().map(|why| {
        attention(
            format!("unapproved ledger: {why}"),
            format!(
                "nothing was changed: the signing-key ledger approves {what}, but {why}; restore the merged version or let a new PR be opened"
            ),
        )
    })
}

/// Phase 1: a merged revoke whose key is still previous: revoke when safe.
/// Contract: never before Auth0's `current_since` of the current key plus
/// `revoke_after`, whatever the ledger says; only a ledger a merged PR
/// wrote approves it.
fn decide_revoke(
    p: &SigningPolicy,
    o: &SigningObserved,
    current: &ObservedSigningKey,
    now: OffsetDateTime,
) -> Verdict {
    let pending = o.ledger.as_ref()?.revoke.as_ref()?;
    if o.previous().is_none_or(|k| k.kid != pending.kid) {
        return None;
    }
    if let Some(v) = unapproved(o, &format!("revoking {}", pending.kid)) {
        return Some(v);
    }
    let safe_at = safe_to_revoke(pending.safe_after, current.current_since, p.revoke_after);
    Some(if now >= safe_at {
        (
            SigningDecision::Revoke {
                kid: pending.kid.clone(),
            },
            format!(
                "the revoke PR was merged and revoke_after has passed (since {}); finalize revokes previous key {}",
                when(safe_at),
                pending.kid
            ),
        )
    } else {
        (
            SigningDecision::RevokeLater {
                kid: pending.kid.clone(),
                safe_at,
            },
            format!(
                "the revoke PR was merged, but tokens signed by {} may still be valid: revoking is safe from {}; a scheduled run after that revokes it",
                pending.kid,
                when(safe_at)
            ),
        )
    })
}

/// Phase 2: a PR is open (the proposal or the revoke): wait for its merge.
/// An unrevoked previous key nobody proposed to revoke (a run stopped
/// before its PR, or a rotation by hand) gets its revoke PR; never a new
/// rotation while one is in flight.
fn decide_in_flight(o: &SigningObserved) -> Verdict {
    if let Some(pull) = &o.pull {
        return Some((
            SigningDecision::InFlight {
                pull: pull.number,
                url: pull.url.clone(),
            },
            format!(
                "in flight: PR #{} waits for its merge (merge it once consumers are ready)",
                pull.number
            ),
        ));
    }
    let prev = o.previous()?;
    Some((
        SigningDecision::Publish {
            previous_kid: prev.kid.clone(),
        },
        format!(
            "previous key {} is still published and no PR proposes revoking it; rotate opens that PR (no new rotation while one is in flight)",
            prev.kid
        ),
    ))
}

/// Phase 3 (PR-first): a merged proposal whose key is still Auth0's next
/// key, with the current key it was proposed against still current:
/// rotate now (subject to Auth0's daily limit). A proposal for a key that
/// is no longer next approves nothing.
fn decide_approved(
    o: &SigningObserved,
    current: &ObservedSigningKey,
    now: OffsetDateTime,
) -> Verdict {
    let ledger = o.ledger.as_ref()?;
    let prepared = ledger.prepare.as_ref()?;
    let next = o.find(|k| k.next && !k.revoked)?;
    if ledger.current.kid != current.kid || prepared.next_kid != next.kid {
        return None;
    }
    if let Some(v) = unapproved(o, &format!("rotating to {}", next.kid)) {
        return Some(v);
    }
    if let Some(wait) = rate_limited(o, now) {
        return Some(wait);
    }
    Some((
        SigningDecision::Rotate {
            reason: SigningDue::Approved {
                next_kid: next.kid.clone(),
            },
        },
        format!(
            "the PR with the certificate of {} was merged (consumers trust it); {} becomes current now and a PR proposes revoking {}",
            next.kid, next.kid, current.kid
        ),
    ))
}

/// Waiting for Auth0's 5-per-day limit, if the listing shows it used up.
fn rate_limited(o: &SigningObserved, now: OffsetDateTime) -> Verdict {
    let keys = o.keys.as_ref().ok()?;
    let day_ago = now - Duration::days(1);
    let mut recent: Vec<OffsetDateTime> = keys
        .iter()
        .filter_map(|k| k.current_since)
        .filter(|t| *t > day_ago && *t <= now)
        .collect();
    recent.sort();
    if recent.len() < ROTATIONS_PER_DAY {
        return None;
    }
    let until = recent[recent.len() - ROTATIONS_PER_DAY] + Duration::days(1);
    Some((
        SigningDecision::Waiting {
            reason: SigningWait::RateLimit { until },
        },
        format!(
            "Auth0 allows {ROTATIONS_PER_DAY} signing-key rotations per day and the tenant used them; next possible {}",
            when(until)
        ),
    ))
}

/// Waiting for the gate tenant, if the gate is closed.
fn gated(
    since: OffsetDateTime,
    gate: Option<(&SigningKeysAfter, Option<&SigningObserved>)>,
    now: OffsetDateTime,
) -> Verdict {
    let (after, other) = gate?;
    let other_since = other
        .and_then(|o| o.current())
        .and_then(|k| k.current_since);
    let other_in_flight = other.is_some_and(|o| o.pull.is_some());
    match other_since {
        Some(s) if s > since && !other_in_flight => {
            let healthy_at = s + after.healthy_for;
            (now < healthy_at).then(|| {
                (
                    SigningDecision::Waiting {
                        reason: SigningWait::Gate {
                            tenant: after.tenant.clone(),
                            until: Some(healthy_at),
                        },
                    },
                    format!(
                        "waiting for tenant {}: its new key must be current for {} days; the gate opens {}",
                        after.tenant,
                        after.healthy_for.whole_days(),
                        when(healthy_at)
                    ),
                )
            })
        }
        _ => Some((
            SigningDecision::Waiting {
                reason: SigningWait::Gate {
                    tenant: after.tenant.clone(),
                    until: None,
                },
            },
            format!(
                "waiting for tenant {} to rotate its signing keys first (and stay healthy for {} days)",
                after.tenant,
                after.healthy_for.whole_days()
            ),
        )),
    }
}

/// Phase 4: a new rotation, when due (or forced) and nothing makes it
/// wait: the JWKS cache, the gate tenant, Auth0's daily limit. PR-first
/// proposes; immediate rotates.
fn decide_due(
    p: &SigningPolicy,
    o: &SigningObserved,
    current: &ObservedSigningKey,
    gate: Option<(&SigningKeysAfter, Option<&SigningObserved>)>,
    now: OffsetDateTime,
    force: &BTreeSet<String>,
) -> (SigningDecision, String) {
    let since = current.current_since.unwrap_or(now);
    let age = now - since;
    let due_at = since + p.rotate_every;
    let cache_ok_at = since + p.jwks_cache_ttl;
    let forced = force.contains(&p.tenant) || force.contains(&format!("{}/signing-keys", p.tenant));
    if !forced && now < due_at {
        return (
            SigningDecision::NotDue {
                next_due: due_at.max(cache_ok_at),
            },
            format!(
                "not due until {} (current key {} is {} days old)",
                date(due_at.max(cache_ok_at)),
                current.kid,
                age.whole_days()
            ),
        );
    }
    if now < cache_ok_at {
        return (
            SigningDecision::Waiting {
                reason: SigningWait::JwksCache { until: cache_ok_at },
            },
            format!(
                "the next key has been published for less than jwks_cache_ttl; rotating is safe from {}",
                when(cache_ok_at)
            ),
        );
    }
    if let Some(wait) = gated(since, gate, now).or_else(|| rate_limited(o, now)) {
        return wait;
    }
    let reason = if forced && now < due_at {
        SigningDue::Forced
    } else {
        SigningDue::Age {
            age_days: age.whole_days(),
            rotate_every_days: p.rotate_every.whole_days(),
        }
    };
    let why = match &reason {
        SigningDue::Age {
            age_days,
            rotate_every_days,
        } => format!(
            "due: current key {} has been current for {age_days} days (rotate_every {rotate_every_days} days)",
            current.kid
        ),
        _ => "rotation forced".to_owned(),
    };
    match (p.flow, o.find(|k| k.next && !k.revoked)) {
        (SigningFlow::PrFirst, Some(next)) => (
            SigningDecision::Propose {
                next_kid: next.kid.clone(),
                reason,
            },
            format!(
                "{why}; a PR carries the certificate of the next key {} so consumers trust it before it becomes current",
                next.kid
            ),
        ),
        (SigningFlow::PrFirst, None) => attention(
            "no next signing key".into(),
            format!(
                "{why}, but {} lists no next signing key to propose; Auth0 publishes one after every rotation",
                p.domain
            ),
        ),
        (SigningFlow::Immediate, _) => (SigningDecision::Rotate { reason }, why),
    }
}

fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_i64(d.whole_seconds())
}

#[cfg(test)]
mod tests;
