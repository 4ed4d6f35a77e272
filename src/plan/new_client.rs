//! Onboarding onto a new client (`onboard: new_client`): a client that
//! still authenticates with its client secret gets a sibling on
//! private_key_jwt with the same grants. Stage 1 creates it, proves it and
//! points the sinks at it (JSON with the new client id), then opens the PR;
//! consumers move at their own pace, since both clients work. The merge
//! approves retiring the old client's access (`retire_old_client`); after
//! that the entry lives on the new client, as long as Auth0 confirms it.

use std::ops::ControlFlow;

use time::OffsetDateTime;

use super::{
    attention, journal_busy, onboard, short_kid, Attention, ClientState, Decided, Decision,
    NewClientObserved, ObservedEntry, Onboard, PlanOptions, Policy, Provenance, RetireOldClient,
    Sibling,
};
use crate::ledger::LedgerEntry;
use crate::text::neutral;

/// `client_metadata` key naming the entry (`tenant/entry`) a sibling was
/// created for.
pub const MARKER_ENTRY: &str = "auth0_rotate_entry";
/// `client_metadata` key naming the client a sibling replaces.
pub const MARKER_REPLACES: &str = "auth0_rotate_replaces";
/// `client_metadata` key naming the kid of the key a sibling was created
/// with (how a rerun finds the client it created).
pub const MARKER_KID: &str = "auth0_rotate_kid";

/// The rotation label whose derived secret replaces the old client's
/// secret (`retire_old_client: rotate_secret`): it names the new client, so
/// a rerun sets the very same value, and nobody stores it.
pub fn retired_label(new_client: &str) -> String {
    format!("new_client/{new_client}/retired")
}

/// Why a new-client ledger is not believed; `None` when Auth0 confirms it:
/// it is this entry's, replaces `old`, and its client exists, carries the
/// tool's markers for this entry and `old`, and holds the ledger's current
/// credential attached with the ledger's kid.
pub fn sibling_problem(
    (tenant, entry, old): (&str, &str, &str),
    ledger: &LedgerEntry,
    sibling: Option<&Sibling>,
) -> Option<String> {
    let new = neutral(&ledger.client_id);
    if ledger.tenant != tenant || ledger.entry != entry {
        return Some(format!(
            "its ledger is for {}/{}",
            neutral(&ledger.tenant),
            neutral(&ledger.entry)
        ));
    }
    if ledger.replaces_client.as_deref() != Some(old) || ledger.client_id == old {
        return Some(format!(
            "its ledger does not move client {old} onto another client (it names client {new}, replacing {})",
            neutral(ledger.replaces_client.as_deref().unwrap_or("nothing"))
        ));
    }
    let facts = match sibling.map(|s| &s.facts) {
        None => return Some(format!("client {new} was not observed")),
        Some(Err(e)) => return Some(format!("client {new} could not be read: {e}")),
        Some(Ok(None)) => return Some(format!("client {new} does not exist in Auth0")),
        Some(Ok(Some(f))) => f,
    };
    let key = format!("{tenant}/{entry}");
    if facts.marker_entry.as_deref() != Some(key.as_str())
        || facts.marker_replaces.as_deref() != Some(old)
    {
        return Some(format!(
            "client {new} was not created by auth0-rotate for {key} to replace {old} (its client_metadata \
             does not say so)"
        ));
    }
    holds_current(ledger, &facts.state)
}

fn holds_current(ledger: &LedgerEntry, state: &ClientState) -> Option<String> {
    let id = &ledger.current.credential_id;
    let new = neutral(&ledger.client_id);
    match state.credential(id) {
        None => Some(format!("client {new} has no credential {}", neutral(id))),
        Some(c) if c.kid.as_deref() != Some(ledger.current.kid.as_str()) => Some(format!(
            "credential {} of client {new} has kid {} in Auth0, not {} as the ledger says",
            neutral(id),
            c.kid.as_deref().unwrap_or("(none)"),
            neutral(&ledger.current.kid)
        )),
        Some(_) if !state.is_attached(id) => Some(format!(
            "credential {} is not attached to client {new}",
            neutral(id)
        )),
        Some(_) => None,
    }
}

/// The policy of an entry whose onboarding onto a new client is complete:
/// the default branch's ledger moves it, a merged PR wrote that ledger,
/// Auth0 confirms the new client ([`sibling_problem`]) and the old client
/// is retired; the observation was then made on the new client.
pub(super) fn moved_policy(p: &Policy, o: &ObservedEntry) -> Option<Policy> {
    let nc = o.new_client.as_ref()?;
    let to = nc.moved_to.as_deref()?;
    let ledger = o.ledger.as_ref()?;
    let confirmed = ledger.client_id == to
        && matches!(o.provenance, Provenance::Merged { .. })
        && nc.old_retired == Some(true)
        && sibling_problem((&p.tenant, &p.entry, &p.client_id), ledger, nc.sibling(to)).is_none();
    confirmed.then(|| Policy {
        client_id: to.to_owned(),
        ..p.clone()
    })
}

/// The explanation of a moved entry, saying where it lives.
pub(super) fn moved_note(p: &Policy, explanation: String) -> String {
    format!(
        "{explanation} (the entry lives on client {}, created by its onboarding; the manifest's client_id \
         can be set to it)",
        p.client_id
    )
}

/// Decides an entry with `onboard: new_client` that was not moved; `None`
/// for any other entry, or when the old client no longer uses its secret
/// and nothing of an onboarding exists (it then rotates as usual). In
/// order: the default branch's approval, an open PR, an unpublished
/// proposal, a journal, the RS256 requirement, then a new onboarding.
pub(super) fn decide(
    p: &Policy,
    o: &ObservedEntry,
    client: &ClientState,
    now: OffsetDateTime,
    options: &PlanOptions,
) -> Option<Decided> {
    if p.onboard != Some(Onboard::NewClient) {
        return None;
    }
    let nc = o.new_client.as_ref()?;
    if nc.moved_to.as_deref() == Some(p.client_id.as_str()) {
        return None;
    }
    // The manifest's client_id was set to the new client: an ordinary entry.
    if o.ledger
        .as_ref()
        .is_some_and(|l| l.replaces_client.is_some() && l.client_id == p.client_id)
    {
        return None;
    }
    if let Some(d) = merged(p, o, nc) {
        return Some(d);
    }
    if let Some(d) = in_flight(p, o, nc) {
        return Some(d);
    }
    if let Some(d) = unpublished(p, o, nc) {
        return Some(d);
    }
    if let Some(d) = journaled(o, now, options) {
        return Some(d);
    }
    client.secret_method.as_ref()?;
    if let Some(d) = onboard::alg_problem(p, client) {
        return Some(d);
    }
    if p.retire_old_client == Some(RetireOldClient::RotateSecret) && !nc.can_derive {
        return Some(needs_identity(p));
    }
    Some((
        Decision::Onboard {
            strategy: Onboard::NewClient,
            resume: None,
        },
        None,
        format!(
            "client {} uses its client secret: a new client on private_key_jwt with the same grants will be \
             created, proven and written to the sinks (JSON with its client id) while the old one keeps \
             working, and a PR opened; after its merge, finalize {}",
            p.client_id,
            what_merge_does(p.retire_old_client, &p.client_id),
        ),
    ))
}

/// What finalize does to `old` after the merge.
fn what_merge_does(how: Option<RetireOldClient>, old: &str) -> String {
    match how {
        Some(RetireOldClient::RemoveGrants) => format!("deletes client {old}'s client grants"),
        _ => format!("replaces client {old}'s secret with one nobody stores"),
    }
}

fn needs_identity(p: &Policy) -> Decided {
    attention(
        Attention::SecretNeedsIdentity,
        None,
        format!(
            "retire_old_client: rotate_secret replaces client {}'s secret with one derived from the age \
             identity (age-identity), so that a rerun sets the same value; none is configured, nothing was \
             changed",
            p.client_id
        ),
    )
}

fn unsafe_ledger(reason: String, why: String) -> Decided {
    attention(Attention::UnsafeLedger { reason }, None, why)
}

/// The default branch's ledger moves the entry onto a new client: finalize
/// retires the old client, only from a ledger a merged PR wrote and that
/// Auth0 confirms.
fn merged(p: &Policy, o: &ObservedEntry, nc: &NewClientObserved) -> Option<Decided> {
    let ledger = o.ledger.as_ref().filter(|l| l.replaces_client.is_some())?;
    let problem = sibling_problem(
        (&p.tenant, &p.entry, &p.client_id),
        ledger,
        nc.sibling(&ledger.client_id),
    )
    .or_else(|| match &o.provenance {
        Provenance::Merged { .. } => None,
        Provenance::Unverified { reason } => Some(reason.clone()),
        Provenance::Unchecked => Some("the ledger's origin was not checked".into()),
    })
    .or_else(|| {
        ledger
            .retire_old_client
            .is_none()
            .then(|| "the ledger does not say how to retire the old client".to_owned())
    });
    let new = neutral(&ledger.client_id);
    if let Some(reason) = problem {
        let why = format!(
            "the default branch's ledger moves {}/{} onto client {new}; nothing was retired: {reason}",
            p.tenant, p.entry
        );
        return Some(unsafe_ledger(reason, why));
    }
    let how = ledger.retire_old_client?;
    match nc.old_retired {
        None => Some(attention(
            Attention::ObserveFailed {
                error: format!("could not tell whether client {} is retired", p.client_id),
            },
            None,
            format!(
                "could not tell whether client {} is retired (reading its secret needs read:client_keys, \
                 its grants read:client_grants)",
                p.client_id
            ),
        )),
        Some(true) => Some(unsafe_ledger(
            "the entry was not moved onto the new client".into(),
            format!("client {} is retired, but the entry was not moved onto client {new}", p.client_id),
        )),
        Some(false) if how == RetireOldClient::RotateSecret && !nc.can_derive => {
            Some(needs_identity(p))
        }
        Some(false) => Some((
            Decision::RetireOldClient {
                client_id: p.client_id.clone(),
                how,
            },
            None,
            format!(
                "the onboarding onto client {new} was merged; finalize {}. The manifest's client_id can \
                 then be set to {new}",
                what_merge_does(Some(how), &p.client_id)
            ),
        )),
    }
}

/// An open PR of the entry: an onboarding whose new client Auth0 confirms
/// is in flight (its text is refreshed); anything else is left untouched.
fn in_flight(p: &Policy, o: &ObservedEntry, nc: &NewClientObserved) -> Option<Decided> {
    let pull = o.pull.as_ref()?;
    let problem = match &pull.ledger {
        _ if !pull.foreign_files.is_empty() => {
            Some("it changes files other than the ledger".to_owned())
        }
        None => Some("its branch has no ledger file".to_owned()),
        Some(l) if l.replaces_client.is_none() => {
            Some("it is not a new-client onboarding PR, and the client uses its secret".to_owned())
        }
        Some(l) => sibling_problem(
            (&p.tenant, &p.entry, &p.client_id),
            l,
            nc.sibling(&l.client_id),
        ),
    };
    Some(match (problem, &pull.ledger) {
        (None, Some(l)) => (
            Decision::InFlight {
                pull: pull.number,
                url: pull.url.clone(),
            },
            None,
            format!(
                "onboarding in flight: PR #{} is open; consumers move to client {} as they read the sinks, and \
                 after merging it finalize {}",
                pull.number,
                neutral(&l.client_id),
                what_merge_does(l.retire_old_client, &p.client_id)
            ),
        ),
        (problem, _) => {
            let reason = problem.unwrap_or_default();
            let why = format!(
                "PR #{} cannot be trusted: {reason}; the PR was left untouched. Close it and delete its branch",
                pull.number
            );
            unsafe_ledger(reason, why)
        }
    })
}

/// An onboarding ledger on the branch without an open PR: opened now when
/// Auth0 confirms it; a PR closed without merging is reported.
fn unpublished(p: &Policy, o: &ObservedEntry, nc: &NewClientObserved) -> Option<Decided> {
    let prop = o
        .proposal
        .as_ref()
        .filter(|p| p.ledger.replaces_client.is_some())?;
    let l = &prop.ledger;
    let id = l.current.credential_id.clone();
    if let Some(n) = prop.rejected_pull {
        return Some(attention(
            Attention::Rejected {
                pull: n,
                credential_id: id,
            },
            None,
            format!(
                "onboarding PR #{n} was closed without merging; client {} stays (both clients work) and the \
                 sinks may point at it. Reopen and merge PR #{n}, or move the consumers back and delete the \
                 branch to abandon it",
                neutral(&l.client_id)
            ),
        ));
    }
    sibling_problem(
        (&p.tenant, &p.entry, &p.client_id),
        l,
        nc.sibling(&l.client_id),
    )
    .is_none()
    .then(|| {
        (
            Decision::Republish { credential_id: id },
            None,
            format!(
                "an onboarding created client {} but its PR was not opened; it will be opened",
                neutral(&l.client_id)
            ),
        )
    })
}

/// A journal left by an onboarding run: a live lock is `Busy`; a released
/// one is resumed with its key (the new client it created is found by its
/// markers and adopted); without the age identity it is reported.
fn journaled(o: &ObservedEntry, now: OffsetDateTime, options: &PlanOptions) -> Option<Decided> {
    let j = o.journal.as_ref()?;
    let released = match journal_busy(j, o, now, None) {
        ControlFlow::Continue(reason) => reason,
        ControlFlow::Break(busy) => return Some(busy),
    };
    if j.encrypted_key.is_some() && options.can_resume && o.journal_authentic {
        return Some((
            Decision::Onboard {
                strategy: Onboard::NewClient,
                resume: Some(j.kid.clone()),
            },
            None,
            format!(
                "an interrupted onboarding (kid {}) will be resumed with its journaled key; the client it may \
                 have created is adopted (the journal is not a lock: {released})",
                short_kid(&j.kid)
            ),
        ));
    }
    let reason = "an interrupted onboarding's key cannot be opened (no age identity, or a journal this tool \
                  did not sign)"
        .to_owned();
    Some(unsafe_ledger(
        reason.clone(),
        format!(
            "{reason}; a client it created may exist (client_metadata {MARKER_KID}: {}). Configure the age \
             identity and run again",
            short_kid(&j.kid)
        ),
    ))
}
