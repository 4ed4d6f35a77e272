//! Onboarding a client that still authenticates with its client secret
//! (`onboard: cutover`): stage 1 registers a key without attaching it,
//! writes it to the sinks and opens a PR; the merge approves the switch;
//! finalize attaches the key and ends the secret. Until the merge nothing
//! changes for the client's consumers.

use time::OffsetDateTime;

use super::{
    attention, identity_problem, journal_busy, judged_pull, leftover_problem, short_kid, summary,
    Attention, ClientState, Decided, Decision, ObservedEntry, Onboard, PlanOptions, Policy,
    Provenance, CREDENTIAL_NAME_PREFIX,
};
use crate::ledger::LedgerEntry;

/// Checks an onboarding ledger (`attach_on_merge`) against Auth0's records:
/// the client still uses its secret and has no key attached, and the
/// ledger's credential exists, carries the ledger's kid and was registered
/// by this tool. `None`: it agrees.
pub fn onboarding_problem(ledger: &LedgerEntry, client: &ClientState) -> Option<String> {
    let id = &ledger.current.credential_id;
    if !ledger.retiring.is_empty() {
        return Some("an onboarding ledger retires nothing, but this one lists credentials".into());
    }
    if !client.attached.is_empty() {
        return Some(format!(
            "the client already has {} attached; an onboarding attaches the first key",
            client.attached.join(", ")
        ));
    }
    let Some(cred) = client.credential(id) else {
        return Some(format!("its credential {id} does not exist in Auth0"));
    };
    if cred.kid.as_deref() != Some(ledger.current.kid.as_str()) {
        return Some(format!(
            "credential {id} has kid {} in Auth0, not {} as the ledger says",
            cred.kid.as_deref().unwrap_or("(none)"),
            ledger.current.kid
        ));
    }
    if !cred.name.starts_with(CREDENTIAL_NAME_PREFIX) {
        return Some(format!(
            "credential {id} was not registered by auth0-rotate (Auth0 names it \"{}\")",
            crate::text::neutral(&cred.name)
        ));
    }
    None
}

/// [`onboarding_problem`] for an onboarding ledger, otherwise
/// [`super::facts_problem`]: how a branch's ledger is checked before the
/// tool acts on it.
pub fn branch_ledger_problem(ledger: &LedgerEntry, client: &ClientState) -> Option<String> {
    if ledger.attach_on_merge {
        onboarding_problem(ledger, client)
    } else {
        super::facts_problem(ledger, client)
    }
}

/// Decides an entry whose client authenticates with its client secret and
/// has no key attached; `None` for any other client (the rotation phases
/// decide it). In order: an open cutover PR, a merged one, a missing
/// `onboard`, a journal, the RS256 requirement, leftovers, then a new
/// onboarding.
pub(super) fn decide(
    p: &Policy,
    o: &ObservedEntry,
    client: &ClientState,
    now: OffsetDateTime,
    options: &PlanOptions,
) -> Option<Decided> {
    let method = client.secret_method.as_ref()?;
    if !client.attached.is_empty() {
        return None;
    }
    if let Some(d) = in_flight(p, o, client, now) {
        return Some(d);
    }
    if let Some(d) = merged(p, o, client, now) {
        return Some(d);
    }
    if let Some(d) = unpublished(o, client, now) {
        return Some(d);
    }
    let Some(strategy) = p.onboard else {
        return Some(on_secret(p, method));
    };
    if let Some(d) = journaled(o, client, now, options) {
        return Some(d);
    }
    if let Some(d) = alg_problem(p, client) {
        return Some(d);
    }
    if let Some(d) = leftover_problem(client, None) {
        return Some(d);
    }
    Some((
        Decision::Onboard {
            strategy,
            resume: None,
        },
        None,
        format!(
            "client {} uses its client secret ({method}): a key will be registered (not attached) and written \
             to the sinks, and a PR opened; the merge switches the client to private_key_jwt and the secret \
             stops working then",
            p.client_id
        ),
    ))
}

fn on_secret(p: &Policy, method: &str) -> Decided {
    attention(
        Attention::OnSecret {
            method: method.to_owned(),
        },
        None,
        format!(
            "client {} authenticates with its client secret ({method}), not private_key_jwt; nothing was \
             changed. Set `onboard: cutover` on the entry to move it (a PR; the secret stops working at the merge)",
            p.client_id
        ),
    )
}

/// Auth0 requires `jwt_configuration.alg: RS256` for private_key_jwt.
pub(super) fn alg_problem(p: &Policy, client: &ClientState) -> Option<Decided> {
    let alg = client.jwt_alg.as_deref().unwrap_or("HS256");
    (alg != "RS256").then(|| {
        attention(
            Attention::NotRs256 { alg: alg.to_owned() },
            None,
            format!(
                "client {} signs its tokens with {alg}, and Auth0 accepts private_key_jwt only for clients whose \
                 jwt_configuration.alg is RS256; nothing was changed. Set it to RS256 (Dashboard: Applications → \
                 the client → Advanced Settings → OAuth → JSON Web Token Signature Algorithm; it changes how the \
                 client's ID tokens are signed), then run again",
                p.client_id
            ),
        )
    })
}

/// An open PR of the entry: its cutover, trusted only when its ledger agrees
/// with Auth0 ([`onboarding_problem`]) and it changes nothing else.
fn in_flight(
    p: &Policy,
    o: &ObservedEntry,
    client: &ClientState,
    now: OffsetDateTime,
) -> Option<Decided> {
    let pull = o.pull.as_ref()?;
    let problem = match &pull.ledger {
        _ if !pull.foreign_files.is_empty() => {
            Some("it changes files other than the ledger".to_owned())
        }
        None => Some("its branch has no ledger file".to_owned()),
        Some(l) if !l.attach_on_merge => {
            Some("it is not an onboarding PR, and the client uses its secret".to_owned())
        }
        Some(l) => identity_problem(p, l).or_else(|| onboarding_problem(l, client)),
    };
    let refused = problem.map(|reason| {
        format!(
            "PR #{} cannot be trusted: {reason}; the PR was left untouched. Close it and delete its branch",
            pull.number
        )
    });
    Some(judged_pull(pull, refused, (client, now), || {
        format!(
            "cutover in flight: PR #{} is open; merging it switches client {} to private_key_jwt (its client \
             secret stops working when finalize runs)",
            pull.number, p.client_id
        )
    }))
}

/// The default branch's ledger approves a cutover: carried out by finalize
/// when it is what a merged PR proposed and agrees with Auth0.
fn merged(
    p: &Policy,
    o: &ObservedEntry,
    client: &ClientState,
    now: OffsetDateTime,
) -> Option<Decided> {
    let ledger = o.ledger.as_ref().filter(|l| l.attach_on_merge)?;
    let id = &ledger.current.credential_id;
    let current = Some(summary(client, id, now));
    let problem = identity_problem(p, ledger)
        .or_else(|| onboarding_problem(ledger, client))
        .or_else(|| match &o.provenance {
            Provenance::Merged { .. } => None,
            Provenance::Unverified { reason } => Some(reason.clone()),
            Provenance::Unchecked => Some("the ledger's origin was not checked".into()),
        });
    if let Some(reason) = problem {
        return Some(attention(
            Attention::UnsafeLedger {
                reason: reason.clone(),
            },
            current,
            format!("the ledger approves switching the client to private_key_jwt; nothing was changed: {reason}"),
        ));
    }
    if let Some(d) = alg_problem(p, client) {
        return Some(d);
    }
    Some((
        Decision::Cutover {
            credential_id: id.clone(),
        },
        current,
        format!(
            "the cutover was merged; finalize will attach {id} (kid {}) and end client {}'s secret",
            short_kid(&ledger.current.kid),
            p.client_id
        ),
    ))
}

/// A journal left by an onboarding run: a live lock is `Busy`; a released
/// one is resumed with its key when it can be; otherwise its credential,
/// whose key may already be in a sink (sinks are written before the merge),
/// is reported and never deleted.
fn journaled(
    o: &ObservedEntry,
    client: &ClientState,
    now: OffsetDateTime,
    options: &PlanOptions,
) -> Option<Decided> {
    let j = o.journal.as_ref()?;
    let released = match journal_busy(j, o, now, None) {
        std::ops::ControlFlow::Continue(reason) => reason,
        std::ops::ControlFlow::Break(busy) => return Some(busy),
    };
    if j.encrypted_key.is_some() && options.can_resume && o.journal_authentic {
        return Some((
            Decision::Onboard {
                strategy: Onboard::Cutover,
                resume: Some(j.kid.clone()),
            },
            None,
            format!(
                "an interrupted onboarding (kid {}) will be resumed with its journaled key (the journal is not a lock: {released})",
                short_kid(&j.kid)
            ),
        ));
    }
    let cred = client
        .credentials
        .iter()
        .find(|c| c.kid.as_deref() == Some(j.kid.as_str()))?;
    Some(attention(
        Attention::Interrupted {
            credential_id: cred.id.clone(),
            kid: j.kid.clone(),
        },
        None,
        format!(
            "an onboarding was interrupted after registering {} (kid {}), and its key cannot be recovered without \
             an age identity; it may already be in a sink. If no consumer uses it, delete {} in Auth0 and the \
             entry's branch, then run again",
            cred.id,
            short_kid(&j.kid),
            cred.id
        ),
    ))
}

/// An onboarding ledger on the branch with no open PR: its PR was never
/// opened (opened now), or was closed without merging (reported: its key
/// is registered and may be in a sink).
fn unpublished(o: &ObservedEntry, client: &ClientState, now: OffsetDateTime) -> Option<Decided> {
    let prop = o.proposal.as_ref().filter(|p| p.ledger.attach_on_merge)?;
    let id = &prop.ledger.current.credential_id;
    let current = Some(summary(client, id, now));
    if let Some(n) = prop.rejected_pull {
        return Some(attention(
            Attention::Rejected {
                pull: n,
                credential_id: id.clone(),
            },
            current,
            format!(
                "cutover PR #{n} was closed without merging; its credential {id} stays registered (not attached) and \
                 its key may be in the sinks. Reopen and merge PR #{n}, or delete {id} in Auth0 and the branch to abandon it"
            ),
        ));
    }
    onboarding_problem(&prop.ledger, client).is_none().then(|| {
        (
            Decision::Republish {
                credential_id: id.clone(),
            },
            current,
            format!("an onboarding registered {id} but its PR was not opened; it will be opened"),
        )
    })
}
