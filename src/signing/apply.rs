//! The two stages for tenant signing keys. Each re-reads Auth0 before it
//! acts and converges when rerun: a rotation whose PR was not opened is
//! picked up as [`SigningDecision::Publish`], an already revoked key is
//! success.

use std::fmt::Write;
use std::time::Duration as StdDuration;

use time::OffsetDateTime;

use super::read_signing_ledger;
use super::{
    signing_path, CurrentSigningKey, PendingRevoke, SigningDecision, SigningLedger, SigningPlan,
    SigningPolicy,
};
use crate::apply::{ApplyError, Outcome, PullRef};
use crate::auth0::{Auth0Error, SigningKey, SigningKeysApi};
use crate::github::GitHubApi;
use crate::keys::certificate_not_after;
use crate::ledger::LEDGER_VERSION;
use crate::plan::when;
use crate::workspace::Workspace;

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

/// Stage 1.
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
        SigningDecision::Rotate { .. } => {
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
            publish(auth0, gh, ws, p, &after, &old, now, steps).await
        }
        SigningDecision::Publish { previous_kid } => {
            let keys = auth0.list_signing_keys().await?;
            if previous(&keys).map(|k| k.kid.as_str()) != Some(previous_kid.as_str()) {
                return Err(ApplyError::Changed(format!(
                    "{previous_kid} is no longer the previous signing key"
                )));
            }
            let rotated_at = current(&keys).and_then(|k| k.current_since).unwrap_or(now);
            publish(auth0, gh, ws, p, &keys, previous_kid, rotated_at, steps).await
        }
        // A scheduled run is a rotate run: an approved revoke that has
        // become safe is carried out here too, not only by `finalize`.
        SigningDecision::Revoke { .. } | SigningDecision::RevokeLater { .. } => {
            finalize(auth0, gh, ws, p, plan, now, steps).await
        }
        _ => Ok(Outcome::Unchanged {
            reason: plan.explanation.clone(),
        }),
    }
}

#[allow(clippy::too_many_arguments)]
async fn publish<A: SigningKeysApi, G: GitHubApi>(
    auth0: &A,
    gh: &G,
    ws: &Workspace,
    p: &SigningPolicy,
    keys: &[SigningKey],
    old: &str,
    rotated_at: OffsetDateTime,
    steps: &mut Vec<String>,
) -> Result<Outcome, ApplyError> {
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
    };
    let title = format!(
        "auth0-rotate: revoke previous signing key {old} of {}",
        p.tenant
    );
    let body = pr_body(p, cur, old, &ledger)?;
    let (pull, op) = ws
        .propose_file(
            gh,
            &ws.signing_branch(&p.tenant),
            &signing_path(&ws.ledger_dir, &p.tenant),
            ledger.render(),
            &format!(
                "auth0-rotate: {} signing key {} is current; revoke {old}",
                p.tenant, cur.kid
            ),
            &title,
            &body,
        )
        .await?;
    steps.push(format!("PR #{} {}: {title}", pull.number, op.as_str()));
    Ok(Outcome::Applied {
        summary: format!(
            "signing key rotated: {} is current; revoking {old} is proposed (safe from {})",
            cur.kid,
            when(rotated_at + p.revoke_after)
        ),
        pull: Some(PullRef {
            number: pull.number,
            url: pull.html_url,
            operation: op.as_str().to_owned(),
        }),
    })
}

/// The revoke PR's body: the new certificate, its fingerprints, and what
/// consumers that do not read the JWKS must do. Public material only.
pub fn pr_body(
    p: &SigningPolicy,
    cur: &SigningKey,
    old: &str,
    ledger: &SigningLedger,
) -> Result<String, ApplyError> {
    let info = certificate_not_after(&cur.cert)?;
    let safe = ledger
        .revoke
        .as_ref()
        .map(|r| when(r.safe_after))
        .unwrap_or_default();
    let mut b = String::new();
    let _ = writeln!(b, "## Revoke the previous signing key of `{}`\n", p.domain);
    let _ = writeln!(
        b,
        "The tenant's signing key was rotated: **`{}`** signs new tokens now; the previous key **`{old}`** \
         is still published in `https://{}/.well-known/jwks.json`, so tokens it signed stay valid until it is revoked.\n",
        cur.kid, p.domain
    );
    let _ = writeln!(
        b,
        "Merging this PR approves revoking `{old}`. `auth0-rotate finalize` revokes it only while it is still \
         the previous key and not before **{safe}** (`revoke_after` = {} h after the rotation); until then \
         finalize reports when it will be safe and a later scheduled run revokes it.\n",
        p.revoke_after.whole_hours()
    );
    let _ = writeln!(b, "### New signing certificate\n");
    let _ = writeln!(b, "| | |\n|---|---|");
    let _ = writeln!(b, "| kid | `{}` |", cur.kid);
    let _ = writeln!(b, "| SHA-1 fingerprint | `{}` |", info.fingerprint_sha1);
    let _ = writeln!(b, "| SHA-256 fingerprint | `{}` |", info.fingerprint_sha256);
    let _ = writeln!(b, "| not after | {} |\n", when(info.not_after));
    let _ = writeln!(
        b,
        "```\n{}\n```\n",
        cur.cert.replace("\r\n", "\n").trim_end()
    );
    let _ = writeln!(b, "### Before merging\n");
    let _ = writeln!(
        b,
        "- [ ] Resource servers and SDKs that read the JWKS: nothing to do if they refetch on an unknown `kid` and cache it for at most `jwks_cache_ttl` ({} min).",
        p.jwks_cache_ttl.whole_minutes()
    );
    let _ = writeln!(
        b,
        "- [ ] SAML service providers: import the certificate above (or re-read Auth0's SAML metadata) as the IdP signing certificate; keep the old one until this PR is finalized."
    );
    let _ = writeln!(
        b,
        "- [ ] WS-Federation relying parties: refresh the federation metadata (`https://{}/wsfed/FederationMetadata/2007-06/FederationMetadata.xml`) or add the SHA-1 thumbprint above.",
        p.domain
    );
    let _ = writeln!(
        b,
        "- [ ] Consumers that pin the certificate or its fingerprint: replace the pin of `{old}` by the SHA-256 fingerprint above."
    );
    let _ = writeln!(
        b,
        "- [ ] No valid token signed by `{old}` is still needed (the longest token lifetime has passed).\n"
    );
    let _ = writeln!(
        b,
        "<sub>This PR changes only the tenant's signing-key ledger file; it holds no secrets.</sub>"
    );
    Ok(b)
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
