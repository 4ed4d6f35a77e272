//! The stages for tenant signing keys. Each re-reads Auth0 before it acts
//! and converges when rerun: a proposal PR is updated in place, a rotation
//! whose revoke PR was not opened is picked up as
//! [`SigningDecision::Publish`], an already revoked key is success.

use std::time::Duration as StdDuration;

use time::OffsetDateTime;

use super::read_signing_ledger;
use super::{
    signing_path, CurrentSigningKey, PendingRevoke, PreparedRotation, SigningDecision, SigningDue,
    SigningLedger, SigningPlan, SigningPolicy,
};
use crate::apply::{ApplyError, Outcome};
use crate::auth0::{Auth0Error, SigningKey, SigningKeysApi};
use crate::github::{GitHubApi, Pull};
use crate::ledger::LEDGER_VERSION;
use crate::plan::when;
use crate::workspace::{FileProposal, PullOperation, Workspace};

fn role(keys: &[SigningKey], f: impl Fn(&SigningKey) -> bool) -> Option<&SigningKey> {
    keys.iter().find(|k| !k.revoked && f(k))
}

fn current(keys: &[SigningKey]) -> Option<&SigningKey> {
    role(keys, |k| k.current)
}

fn previous(keys: &[SigningKey]) -> Option<&SigningKey> {
    role(keys, |k| k.previous && !k.current && !k.next)
}

fn next(keys: &[SigningKey]) -> Option<&SigningKey> {
    role(keys, |k| k.next)
}

/// Turns Auth0's refusals into messages that say what to do.
fn explain(e: Auth0Error, what: &str) -> ApplyError {
    match e.status() {
        Some(429) => {
            let reset = match &e {
                Auth0Error::Api {
                    retry_after: Some(s),
                    ..
                } => format!(" (Auth0's limit resets in about {} h)", s.div_ceil(3600)),
                _ => String::new(),
            };
            ApplyError::Unsafe(format!(
                "Auth0 refused to {what}: the tenant reached Auth0's limit of {} signing-key rotations per day{reset}. Nothing was changed; the next scheduled run tries again. ({e})",
                super::ROTATIONS_PER_DAY
            ))
        }
        Some(400) | Some(409) if what.starts_with("revoke") => ApplyError::Unsafe(format!(
            "Auth0 refused to {what}: only the previous signing key can be revoked, and this one is not (it may be current or next, or already revoked). Nothing was changed. ({e})"
        )),
        _ => ApplyError::Auth0(e),
    }
}

/// Polls the JWKS until it serves every kid in `present` and none in
/// `absent` (the JWKS may be cached for a moment after a change).
async fn verify_jwks<A: SigningKeysApi>(
    auth0: &A,
    present: &[&str],
    absent: &[&str],
) -> Result<(), ApplyError> {
    let mut last = String::new();
    for attempt in 0..6u32 {
        if attempt > 0 {
            tokio::time::sleep(StdDuration::from_millis(250 * u64::from(attempt))).await;
        }
        let jwks = auth0.jwks().await?;
        let kids: Vec<&str> = jwks.iter().filter_map(|k| k.kid.as_deref()).collect();
        let missing: Vec<&&str> = present.iter().filter(|k| !kids.contains(k)).collect();
        let extra: Vec<&&str> = absent.iter().filter(|k| kids.contains(k)).collect();
        if missing.is_empty() && extra.is_empty() {
            return Ok(());
        }
        last = format!("missing {missing:?}, still served {extra:?}");
    }
    Err(ApplyError::Verify(format!(
        "the tenant JWKS does not show the expected keys: {last}"
    )))
}

/// Stage 1: propose a due rotation (PR-first), rotate (immediate, or an
/// approved proposal), open a missing revoke PR, or carry out an approved,
/// safe revoke (a scheduled run is a rotate run).
pub async fn rotate<A: SigningKeysApi, G: GitHubApi>(
    auth0: &A,
    gh: &G,
    ws: &Workspace,
    p: &SigningPolicy,
    plan: &SigningPlan,
    now: OffsetDateTime,
    steps: &mut Vec<String>,
) -> Result<Outcome, ApplyError> {
    match &plan.decision {
        SigningDecision::Propose { next_kid, .. } => {
            propose(auth0, gh, ws, p, (plan, next_kid), now, steps).await
        }
        SigningDecision::Rotate { reason } => {
            rotate_now(auth0, gh, ws, p, reason, now, steps).await
        }
        SigningDecision::Publish { previous_kid } => {
            let keys = auth0.list_signing_keys().await?;
            if previous(&keys).map(|k| k.kid.as_str()) != Some(previous_kid.as_str()) {
                return Err(ApplyError::Changed(format!(
                    "{previous_kid} is no longer the previous signing key"
                )));
            }
            let rotated_at = current(&keys).and_then(|k| k.current_since).unwrap_or(now);
            let rotated = Rotated {
                keys: &keys,
                old: previous_kid,
                at: rotated_at,
            };
            publish(auth0, gh, ws, p, &rotated, steps).await
        }
        SigningDecision::Revoke { .. } | SigningDecision::RevokeLater { .. } => {
            finalize(auth0, gh, ws, p, plan, now, steps).await
        }
        _ => Ok(Outcome::Unchanged {
            reason: plan.explanation.clone(),
        }),
    }
}

/// Rotates now: re-reads the keys (no previous key may exist; an approved
/// proposal's key must still be next), `POST /keys/signing/rotate`, checks
/// Auth0's new roles, then opens the revoke PR. Fails with `Changed` and
/// nothing rotated when Auth0 no longer matches the plan.
async fn rotate_now<A: SigningKeysApi, G: GitHubApi>(
    auth0: &A,
    gh: &G,
    ws: &Workspace,
    p: &SigningPolicy,
    reason: &SigningDue,
    now: OffsetDateTime,
    steps: &mut Vec<String>,
) -> Result<Outcome, ApplyError> {
    let before = auth0.list_signing_keys().await?;
    if let Some(prev) = previous(&before) {
        return Err(ApplyError::Changed(format!(
            "previous key {} appeared since planning; it must be revoked before the next rotation",
            prev.kid
        )));
    }
    let old = current(&before)
        .ok_or_else(|| ApplyError::Changed("no current signing key".into()))?
        .kid
        .clone();
    let promoted = next(&before)
        .ok_or_else(|| ApplyError::Changed("no next signing key".into()))?
        .kid
        .clone();
    if let SigningDue::Approved { next_kid } = reason {
        if *next_kid != promoted {
            return Err(ApplyError::Changed(format!(
                "the merged PR approved {next_kid}, but Auth0's next key is now {promoted}; nothing was rotated (the next run proposes {promoted})"
            )));
        }
    }
    auth0
        .rotate_signing_key()
        .await
        .map_err(|e| explain(e, "rotate the signing key"))?;
    steps.push(format!(
        "rotated the signing key of {}: {promoted} is current, {old} previous",
        p.domain
    ));
    let after = auth0.list_signing_keys().await?;
    let now_current = current(&after).map(|k| k.kid.as_str());
    let now_previous = previous(&after).map(|k| k.kid.as_str());
    if now_current != Some(promoted.as_str()) || now_previous != Some(old.as_str()) {
        return Err(ApplyError::Verify(format!(
            "after rotating, Auth0 lists current {now_current:?} and previous {now_previous:?}; expected {promoted} and {old}"
        )));
    }
    let rotated = Rotated {
        keys: &after,
        old: &old,
        at: now,
    };
    publish(auth0, gh, ws, p, &rotated, steps).await
}

/// PR-first: opens (or updates) the PR carrying the next key's certificate.
/// Changes nothing in Auth0; fails with `Changed` when the keys moved since
/// the plan.
async fn propose<A: SigningKeysApi, G: GitHubApi>(
    auth0: &A,
    gh: &G,
    ws: &Workspace,
    p: &SigningPolicy,
    (plan, next_kid): (&SigningPlan, &str),
    now: OffsetDateTime,
    steps: &mut Vec<String>,
) -> Result<Outcome, ApplyError> {
    let keys = auth0.list_signing_keys().await?;
    let cur = current(&keys).ok_or_else(|| ApplyError::Changed("no current signing key".into()))?;
    let nxt = next(&keys).ok_or_else(|| ApplyError::Changed("no next signing key".into()))?;
    if nxt.kid != next_kid || plan.current_kid.as_deref() != Some(cur.kid.as_str()) {
        return Err(ApplyError::Changed(format!(
            "the signing keys changed since planning (current {}, next {})",
            cur.kid, nxt.kid
        )));
    }
    let ledger = SigningLedger {
        version: LEDGER_VERSION,
        tenant: p.tenant.clone(),
        current: CurrentSigningKey {
            kid: cur.kid.clone(),
            since: cur.current_since.unwrap_or(now),
        },
        revoke: None,
        prepare: Some(PreparedRotation {
            next_kid: nxt.kid.clone(),
            proposed_at: now,
        }),
    };
    let title = format!(
        "auth0-rotate: rotate the signing key of {} to {}",
        p.tenant, nxt.kid
    );
    let body = super::pr::propose_body(p, cur, nxt)?;
    let message = format!(
        "auth0-rotate: {} prepare signing key {} (consumers trust it before it is current)",
        p.tenant, nxt.kid
    );
    let pull = propose_ledger(gh, ws, p, &ledger, &message, &title, &body).await?;
    let summary = format!(
        "proposed rotating to {}: the PR carries its certificate; merging it rotates",
        nxt.kid
    );
    Ok(Outcome::proposed(summary, pull, &title, steps))
}

/// Opens or updates the tenant's signing-key PR proposing `ledger`.
async fn propose_ledger<G: GitHubApi>(
    gh: &G,
    ws: &Workspace,
    p: &SigningPolicy,
    ledger: &SigningLedger,
    message: &str,
    title: &str,
    body: &str,
) -> Result<(Pull, PullOperation), ApplyError> {
    let proposal = FileProposal {
        branch: &ws.signing_branch(&p.tenant),
        path: &signing_path(&ws.ledger_dir, &p.tenant),
        content: ledger.render(),
        message,
        title,
        body,
    };
    Ok(ws.propose_file(gh, proposal).await?)
}

/// A rotation that happened: the keys after it, the previous key, when.
struct Rotated<'a> {
    keys: &'a [SigningKey],
    old: &'a str,
    at: OffsetDateTime,
}

async fn publish<A: SigningKeysApi, G: GitHubApi>(
    auth0: &A,
    gh: &G,
    ws: &Workspace,
    p: &SigningPolicy,
    rotated: &Rotated<'_>,
    steps: &mut Vec<String>,
) -> Result<Outcome, ApplyError> {
    let (keys, old, rotated_at) = (rotated.keys, rotated.old, rotated.at);
    let cur = current(keys).ok_or_else(|| ApplyError::Changed("no current signing key".into()))?;
    verify_jwks(auth0, &[cur.kid.as_str(), old], &[]).await?;
    steps.push(format!(
        "verified: the tenant JWKS serves the new current key {} and still the previous key {old}",
        cur.kid
    ));
    let ledger = SigningLedger {
        version: LEDGER_VERSION,
        tenant: p.tenant.clone(),
        current: CurrentSigningKey {
            kid: cur.kid.clone(),
            since: rotated_at,
        },
        revoke: Some(PendingRevoke {
            kid: old.to_owned(),
            rotated_at,
            safe_after: rotated_at + p.revoke_after,
        }),
        prepare: None,
    };
    let title = format!(
        "auth0-rotate: revoke previous signing key {old} of {}",
        p.tenant
    );
    let body = super::pr::revoke_body(p, cur, old, &ledger)?;
    let message = format!(
        "auth0-rotate: {} signing key {} is current; revoke {old}",
        p.tenant, cur.kid
    );
    let pull = propose_ledger(gh, ws, p, &ledger, &message, &title, &body).await?;
    let summary = format!(
        "signing key rotated: {} is current; revoking {old} is proposed (safe from {})",
        cur.kid,
        when(rotated_at + p.revoke_after)
    );
    Ok(Outcome::proposed(summary, pull, &title, steps))
}

/// Stage 2.
pub async fn finalize<A: SigningKeysApi, G: GitHubApi>(
    auth0: &A,
    gh: &G,
    ws: &Workspace,
    p: &SigningPolicy,
    plan: &SigningPlan,
    now: OffsetDateTime,
    steps: &mut Vec<String>,
) -> Result<Outcome, ApplyError> {
    match &plan.decision {
        // The merge of a PR-first proposal: rotate now, then propose the revoke.
        SigningDecision::Rotate {
            reason: reason @ SigningDue::Approved { .. },
        } => rotate_now(auth0, gh, ws, p, reason, now, steps).await,
        SigningDecision::Revoke { kid } => {
            let ledger = read_signing_ledger(gh, ws, &p.tenant, &ws.default_branch)
                .await?
                .ok_or_else(|| ApplyError::Changed("the signing-key ledger disappeared".into()))?;
            let pending = ledger
                .revoke
                .filter(|r| r.kid == *kid)
                .ok_or_else(|| ApplyError::Changed(format!("{kid} is no longer approved for revocation")))?;
            let keys = auth0.list_signing_keys().await?;
            let safe_after = super::safe_to_revoke(
                pending.safe_after,
                current(&keys).and_then(|k| k.current_since),
                p.revoke_after,
            );
            if now < safe_after {
                return Ok(Outcome::Waiting {
                    reason: format!("revoking {kid} is safe from {}", when(safe_after)),
                });
            }
            match keys.iter().find(|k| k.kid == *kid) {
                Some(k) if k.revoked => {
                    return Ok(Outcome::Unchanged {
                        reason: format!("{kid} is already revoked"),
                    })
                }
                Some(k) if k.previous && !k.current && !k.next => {}
                _ => {
                    return Err(ApplyError::Changed(format!(
                        "{kid} is no longer the previous signing key; nothing was revoked"
                    )))
                }
            }
            let cur = current(&keys)
                .ok_or_else(|| ApplyError::Changed("no current signing key".into()))?
                .kid
                .clone();
            auth0
                .revoke_signing_key(kid)
                .await
                .map_err(|e| explain(e, &format!("revoke signing key {kid}")))?;
            steps.push(format!("revoked previous signing key {kid}"));
            verify_jwks(auth0, &[cur.as_str()], &[kid.as_str()]).await?;
            steps.push(format!(
                "verified: the tenant JWKS no longer serves {kid} and still serves {cur}"
            ));
            Ok(Outcome::Applied {
                summary: format!("revoked previous signing key {kid}"),
                pull: None,
            })
        }
        SigningDecision::RevokeLater { kid, safe_at } => Ok(Outcome::Waiting {
            reason: format!(
                "the revoke of {kid} is approved but not yet safe: tokens it signed may still be valid until {}; nothing was revoked, a scheduled run after that time revokes it",
                when(*safe_at)
            ),
        }),
        _ => Ok(Outcome::Unchanged {
            reason: plan.explanation.clone(),
        }),
    }
}
