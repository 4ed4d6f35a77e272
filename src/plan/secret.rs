//! Client-secret rotation (`secret_rotation`), decided like every other
//! change: a PR proposes it, its merge approves what cannot be undone.
//!
//! - `alternating`: two clients with identical grants take turns. Stage 1
//!   sets a new secret on the idle client, proves it and points the sinks at
//!   it (consumers move at their own pace: the active client still works),
//!   then opens the PR. Its merge approves replacing the previous client's
//!   secret with one only this tool can derive.
//! - `single`: Auth0 keeps one secret per client. The PR proposes the
//!   change; after the merge the sinks receive the new secret and the client
//!   gets it, and consumers fail until they read it: not zero-downtime.
//!
//! The secrets are derived from the age identity, the client and the
//! ledger's `rotation`, so the observation can tell which one each client
//! holds ([`Held`]) without any secret in the repository.

use time::OffsetDateTime;

use super::{
    attention, days, is_forced, Attention, Decided, Decision, Held, ObservedEntry, PlanOptions,
    Policy, Provenance, SecretObserved,
};
use crate::ledger::SecretLedger;
use crate::manifest::SecretRotation;

/// Decides an entry with `secret_rotation`. In order: facts that make any
/// step unsafe (no identity, an unreadable client, a client on keys); an
/// open or rejected PR; what the default branch's merged ledger approves
/// (retire or set a secret); whether a rotation is due.
pub(super) fn decide(
    p: &Policy,
    rotation: &SecretRotation,
    o: &ObservedEntry,
    now: OffsetDateTime,
    options: &PlanOptions,
) -> Decided {
    let Some(s) = &o.secret else {
        return observe_failed(p, "the entry's clients were not observed".into());
    };
    if let Some(d) = unusable(p, s) {
        return d;
    }
    if let Some(d) = in_flight(p, s) {
        return d;
    }
    if let Some(ledger) = &s.ledger {
        if let Some(d) = approved(p, s, ledger) {
            return d;
        }
    }
    due(p, rotation, s, now, is_forced(p, options))
}

fn observe_failed(p: &Policy, error: String) -> Decided {
    attention(
        Attention::ObserveFailed {
            error: error.clone(),
        },
        None,
        format!("could not observe entry {}/{}: {error}", p.tenant, p.entry),
    )
}

/// No identity, a client that could not be read, or one that authenticates
/// with credentials: nothing can be done safely.
fn unusable(p: &Policy, s: &SecretObserved) -> Option<Decided> {
    if !s.can_derive {
        return Some(attention(
            Attention::SecretNeedsIdentity,
            None,
            format!(
                "secret_rotation needs the age identity (age-identity): {}/{}'s secrets are derived \
                 from it, so that a run that stops half-way sets the same secret again and the tool \
                 recognises the secret it set; nothing was changed",
                p.tenant, p.entry
            ),
        ));
    }
    for c in &s.clients {
        match &c.facts {
            Err(e) => {
                return Some(observe_failed(
                    p,
                    format!("could not read client {} in Auth0: {e}", c.client_id),
                ))
            }
            Ok(f) if f.secret_method.is_none() => {
                return Some(attention(
                    Attention::SecretClientOnKeys {
                        client_id: c.client_id.clone(),
                    },
                    None,
                    format!(
                        "client {} authenticates with credentials (private_key_jwt or mTLS), not a client \
                         secret; secret_rotation changes nothing. Revert it first (auth_method without \
                         secret_rotation), or rotate its keys instead",
                        c.client_id
                    ),
                ))
            }
            Ok(_) => {}
        }
    }
    None
}

/// An open PR (refreshed when it is the tool's) or one closed without merging.
fn in_flight(p: &Policy, s: &SecretObserved) -> Option<Decided> {
    if let Some(pull) = &s.pull {
        let problem = if !pull.foreign_files.is_empty() {
            Some(format!(
                "it changes files other than the ledger ({})",
                pull.foreign_files
                    .iter()
                    .map(|f| crate::text::neutral(f))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        } else {
            match &pull.ledger {
                None => Some("its branch has no client-secret ledger".to_owned()),
                Some(l) => identity_problem(p, l),
            }
        };
        return Some(match problem {
            Some(reason) => attention(
                Attention::UnsafeLedger {
                    reason: reason.clone(),
                },
                None,
                format!(
                    "PR #{} cannot be trusted: {reason}; the PR was left untouched. Close it and delete \
                     its branch, or restore the branch to what auth0-rotate wrote",
                    pull.number
                ),
            ),
            None => (
                Decision::InFlight {
                    pull: pull.number,
                    url: pull.url.clone(),
                },
                None,
                format!(
                    "secret rotation in flight: PR #{} is open; merging it approves {}",
                    pull.number,
                    what_merge_approves(pull.ledger.as_ref())
                ),
            ),
        });
    }
    let pull = s.rejected?;
    Some(attention(
        Attention::SecretRejected { pull },
        None,
        format!(
            "PR #{pull} for {}/{} was closed without merging; nothing was changed. Delete the branch \
             auth0-rotate/{}/{} to let the next run propose again",
            p.tenant, p.entry, p.tenant, p.entry
        ),
    ))
}

fn what_merge_approves(l: Option<&SecretLedger>) -> String {
    match l {
        Some(l) if l.set_on_merge => format!("replacing client {}'s secret", l.active),
        Some(SecretLedger {
            retiring: Some(r), ..
        }) => format!("retiring client {r}'s secret"),
        _ => "the ledger".to_owned(),
    }
}

/// A branch ledger must be about this entry and its clients.
fn identity_problem(p: &Policy, l: &SecretLedger) -> Option<String> {
    let mine = |id: &str| id == p.client_id || standby(p) == Some(id);
    if l.tenant != p.tenant || l.entry != p.entry {
        return Some(format!(
            "its ledger is for {}/{}",
            crate::text::neutral(&l.tenant),
            crate::text::neutral(&l.entry)
        ));
    }
    let stranger = std::iter::once(l.active.as_str())
        .chain(l.retiring.as_deref())
        .find(|id| !mine(id));
    stranger.map(|id| {
        format!(
            "its ledger names client {}, which is not one of the entry's",
            crate::text::neutral(id)
        )
    })
}

fn standby(p: &Policy) -> Option<&str> {
    match &p.secret_rotation {
        Some(SecretRotation::Alternating { standby_client_id }) => Some(standby_client_id),
        _ => None,
    }
}

/// The merged ledger's approvals: a secret to set (single) or a client to
/// retire (alternating), each only while Auth0 does not show it done, and
/// only from a ledger a merged PR wrote whose active client holds the
/// secret the sinks were given.
fn approved(p: &Policy, s: &SecretObserved, l: &SecretLedger) -> Option<Decided> {
    if let Some(reason) = identity_problem(p, l) {
        return Some(unsafe_ledger(reason));
    }
    let holds = |id: &str| {
        s.client(id)
            .and_then(|c| c.facts.as_ref().ok())
            .map_or(Held::Other, |f| f.holds)
    };
    let active = holds(&l.active);
    if l.set_on_merge && active != Held::Current {
        return Some(provenance_problem(s).map_or_else(
            || {
                (
                    Decision::SetSecret {
                        client_id: l.active.clone(),
                    },
                    None,
                    format!(
                        "the secret rotation was merged; finalize will write client {}'s new secret into \
                         the sinks and set it in Auth0 (consumers fail until they read it; Auth0 may take up \
                         to 30 s to apply it)",
                        l.active
                    ),
                )
            },
            unsafe_ledger,
        ));
    }
    if active != Held::Current {
        return Some(attention(
            Attention::SecretDrift {
                client_id: l.active.clone(),
            },
            None,
            format!(
                "client {} does not hold the secret auth0-rotate set and wrote into the sinks (it was changed \
                 in Auth0, or the ledger was edited); nothing was changed. Run `auth0-rotate rotate --force {}/{}` \
                 to start a new rotation",
                l.active, p.tenant, p.entry
            ),
        ));
    }
    let retiring = l.retiring.as_deref()?;
    if holds(retiring) == Held::Retired || retiring == l.active {
        return None;
    }
    Some(provenance_problem(s).map_or_else(
        || {
            (
                Decision::RetireSecret {
                    client_id: retiring.to_owned(),
                },
                None,
                format!(
                    "the switch to client {} was merged; finalize will replace client {retiring}'s secret \
                     with one nobody holds",
                    l.active
                ),
            )
        },
        unsafe_ledger,
    ))
}

/// The idle client `to` must be granted exactly what the active one is.
fn grants_differ(s: &SecretObserved, active: &str, to: &str) -> Option<Decided> {
    let grants = |id: &str| {
        s.client(id)
            .and_then(|c| c.facts.as_ref().ok())
            .map(|f| f.grants.clone())
            .unwrap_or_default()
    };
    let (a, b) = (grants(active), grants(to));
    if a == b {
        return None;
    }
    let show = |g: &[(String, Vec<String>)], other: &[(String, Vec<String>)]| {
        g.iter()
            .filter(|x| !other.contains(x))
            .map(|(aud, scope)| format!("{} [{}]", crate::text::neutral(aud), scope.join(" ")))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let difference = format!(
        "only {active}: {}; only {to}: {}",
        or_none(show(&a, &b)),
        or_none(show(&b, &a))
    );
    Some(attention(
        Attention::GrantsDiffer {
            client_id: to.to_owned(),
            difference: difference.clone(),
        },
        None,
        format!(
            "clients {active} and {to} take turns, so they must have the same client grants, and they do not \
             ({difference}); nothing was changed. Give {to} the same grants (Applications → APIs → \
             Machine to Machine Applications in the Auth0 dashboard)"
        ),
    ))
}

fn or_none(s: String) -> String {
    if s.is_empty() {
        "none".into()
    } else {
        s
    }
}

fn provenance_problem(s: &SecretObserved) -> Option<String> {
    match &s.provenance {
        Provenance::Merged { .. } => None,
        Provenance::Unverified { reason } => Some(reason.clone()),
        Provenance::Unchecked => Some("its origin was not checked".into()),
    }
}

fn unsafe_ledger(reason: String) -> Decided {
    attention(
        Attention::UnsafeLedger {
            reason: reason.clone(),
        },
        None,
        format!("the client-secret ledger cannot be trusted, nothing was changed: {reason}"),
    )
}

/// Whether a rotation is due, and which step starts it.
fn due(
    p: &Policy,
    rotation: &SecretRotation,
    s: &SecretObserved,
    now: OffsetDateTime,
    forced: bool,
) -> Decided {
    if let Some(l) = &s.ledger {
        let next_due = l.since + p.rotate_every;
        if next_due > now && !forced {
            return (
                Decision::NotDue { next_due },
                None,
                format!(
                    "client {}'s secret is {} days old; the next rotation is due in {} days",
                    l.active,
                    days(now - l.since),
                    days(next_due - now)
                ),
            );
        }
        if provenance_problem(s).is_some() && matches!(rotation, SecretRotation::Alternating { .. })
        {
            return unsafe_ledger(provenance_problem(s).unwrap_or_default());
        }
    }
    match rotation {
        SecretRotation::Single => (
            Decision::ProposeSecret {
                client_id: p.client_id.clone(),
            },
            None,
            format!(
                "a PR will propose replacing client {}'s secret: Auth0 keeps one secret per client, so \
                 consumers fail from the change after the merge until they read the new one from the sinks",
                p.client_id
            ),
        ),
        SecretRotation::Alternating { standby_client_id } => {
            let active = s.ledger.as_ref().map_or(p.client_id.as_str(), |l| &l.active);
            let to = if active == p.client_id {
                standby_client_id.clone()
            } else {
                p.client_id.clone()
            };
            if let Some(d) = grants_differ(s, active, &to) {
                return d;
            }
            (
                Decision::SwitchSecret {
                    to_client: to.clone(),
                },
                None,
                format!(
                    "client {to} gets a new secret, proven by a token exchange and written into the sinks \
                     while client {active} keeps working; the PR's merge then retires {active}'s secret"
                ),
            )
        }
    }
}
