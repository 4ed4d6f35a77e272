//! Reverting a client to its client secret (break-glass), decided like a
//! rotation: a PR proposes it, its merge approves it, finalize carries it
//! out. A revert never overtakes a rotation in flight: the rotation's new
//! key may already be in a sink.

use time::OffsetDateTime;

use super::{
    attention, ledger_problem, summary, Attention, ClientState, Decided, Decision, ObservedEntry,
    Policy,
};

/// Decides an entry whose manifest asks for a client-secret method. In
/// order: a rotation in flight blocks (nothing changes); a client already on
/// a secret needs nothing; a merged revert is carried out by finalize once
/// its ledger passes [`ledger_problem`]; otherwise a revert PR is proposed.
pub(super) fn decide(
    p: &Policy,
    o: &ObservedEntry,
    client: &ClientState,
    now: OffsetDateTime,
    forced: bool,
) -> Decided {
    let to = p.auth_method;
    let current = o
        .ledger
        .as_ref()
        .map(|l| summary(client, &l.current.credential_id, now));
    if let Some(d) = in_flight(p, o, current.clone()) {
        return d;
    }
    if let Some(d) = reverted(p, o, client, forced, current.clone()) {
        return d;
    }
    let Some(ledger) = &o.ledger else {
        return attention(
            Attention::RevertUnmanaged,
            None,
            format!(
                "auth_method {} asks to revert client {} to its client secret, but auth0-rotate has no \
                 ledger for it (it never rotated this client); nothing was changed. Switch it in the \
                 Auth0 dashboard (Applications → the client → Credentials)",
                to.as_str(),
                p.client_id
            ),
        );
    };
    if ledger.auth_method != to {
        return (
            Decision::ProposeRevert { to },
            current,
            format!(
                "auth_method is {}: a PR will propose reverting client {} from private_key_jwt to a \
                 new client secret; consumers of the key stop working when finalize runs after the merge",
                to.as_str(),
                p.client_id
            ),
        );
    }
    if let Some(reason) = ledger_problem(p, ledger, client, &o.provenance) {
        return attention(
            Attention::UnsafeLedger {
                reason: reason.clone(),
            },
            current,
            format!(
                "the ledger approves a revert to a client secret; nothing was changed: {reason}"
            ),
        );
    }
    (
        Decision::Revert { to },
        current,
        format!(
            "the revert was merged; finalize will give client {} a new client secret ({}), write it \
             into the sinks and stop accepting its keys",
            p.client_id,
            to.as_str()
        ),
    )
}

/// A client already on its secret: nothing to do, or, with `--force` after
/// an approved revert (whose sink writes may have failed), a new secret.
fn reverted(
    p: &Policy,
    o: &ObservedEntry,
    client: &ClientState,
    forced: bool,
    current: Option<super::CurrentSummary>,
) -> Option<Decided> {
    let to = p.auth_method;
    if !client.attached.is_empty() {
        return None;
    }
    let approved = o.ledger.as_ref().is_some_and(|l| l.auth_method == to);
    if forced && approved {
        return Some((
            Decision::Revert { to },
            current,
            format!(
                "forced: client {} gets a new client secret, written into the sinks; \
                 consumers of the old secret stop working",
                p.client_id
            ),
        ));
    }
    let method = client.secret_method.as_ref()?;
    Some((
        Decision::UsesSecret {
            method: method.clone(),
        },
        current,
        format!(
            "client {} authenticates with its client secret ({method}); nothing rotates \
             (set auth_method: private_key_jwt and onboard: cutover to rotate keys again)",
            p.client_id
        ),
    ))
}

/// An open PR, an unpublished proposal or a journal of the entry. The
/// entry's own revert PR is in flight; anything else is a rotation, and the
/// revert waits for it.
fn in_flight(
    p: &Policy,
    o: &ObservedEntry,
    current: Option<super::CurrentSummary>,
) -> Option<Decided> {
    let to = p.auth_method;
    if let Some(pull) = &o.pull {
        let reverts = pull.ledger.as_ref().is_some_and(|l| l.auth_method == to);
        if reverts && pull.foreign_files.is_empty() {
            return Some((
                Decision::InFlight {
                    pull: pull.number,
                    url: pull.url.clone(),
                },
                current,
                format!(
                    "revert in flight: PR #{} is open; merging it approves switching client {} to a client secret",
                    pull.number, p.client_id
                ),
            ));
        }
        return Some(blocked(p, Some(pull.number), current));
    }
    let rotating = o
        .proposal
        .as_ref()
        .is_some_and(|prop| prop.ledger.auth_method != to)
        || o.journal.is_some();
    rotating.then(|| blocked(p, None, current))
}

fn blocked(p: &Policy, pull: Option<u64>, current: Option<super::CurrentSummary>) -> Decided {
    let branch = format!("auth0-rotate/{}/{}", p.tenant, p.entry);
    let what = match pull {
        Some(n) => format!("rotation PR #{n} is open"),
        None => format!("a rotation started on {branch} has not finished"),
    };
    let fix = match pull {
        Some(n) => format!(
            "merge or close PR #{n} first (the revert detaches every key either way), then run again"
        ),
        None => "set auth_method back to private_key_jwt and run, so the rotation finishes or is reported; then revert".to_owned(),
    };
    attention(
        Attention::RevertWhileRotating { pull },
        current,
        format!(
            "auth_method {} asks to revert client {} to a client secret, but {what}; nothing was changed \
             (the rotation's new key may already be in a sink). To revert: {fix}",
            p.auth_method.as_str(),
            p.client_id
        ),
    )
}
