//! Stage 1: generate → register → attach → verify → store → ledger PR.

use std::time::Duration as StdDuration;

use super::pr::{self, PullOperation};
use super::sinks::{write_sinks_observed, SecretObserver};
use super::{ApplyError, Context, EntrySpec, Outcome, Step, Upload};
use crate::auth0::{Auth0Api, Credential, NewCredential};
use crate::github::GitHubApi;
use crate::journal::Journal;
use crate::keys::PrivateKey;
use crate::ledger::{CredentialRecord, LedgerEntry, Retiring, LEDGER_VERSION};
use crate::observe::{client_state, read_journal, read_ledger, Workspace};
use crate::plan::{date, ClientState, DueReason};

/// Attempts of the proving token exchange (Auth0 may take a moment to
/// propagate a new credential, which shows as 401 `invalid_client`).
const VERIFY_ATTEMPTS: u32 = 3;

fn step(steps: &mut Vec<Step>, what: String) {
    tracing::info!("{what}");
    steps.push(Step { what });
}

/// The credential the rotation replaces: the single attached one, which must
/// be the one the plan saw.
fn expected_old(
    state: &ClientState,
    ledger: Option<&LedgerEntry>,
    reason: &DueReason,
) -> Result<String, ApplyError> {
    let expected = match (reason, ledger) {
        (DueReason::Adopt { credential_id }, _) => Some(credential_id),
        (_, Some(l)) => Some(&l.current.credential_id),
        _ => None,
    };
    let [only] = state.attached.as_slice() else {
        return Err(ApplyError::Changed(format!(
            "expected exactly one attached credential, found {}",
            state.attached.len()
        )));
    };
    if expected.is_some_and(|e| e != only) {
        return Err(ApplyError::Changed(format!(
            "attached credential is {only}, expected {}",
            expected.unwrap()
        )));
    }
    Ok(only.clone())
}

async fn generate(spec: &EntrySpec) -> Result<PrivateKey, ApplyError> {
    let size = spec.key_size;
    tokio::task::spawn_blocking(move || PrivateKey::generate(size))
        .await
        .map_err(|e| ApplyError::Unsafe(format!("key generation task failed: {e}")))?
        .map_err(ApplyError::from)
}

fn new_credential(
    ctx_now: time::OffsetDateTime,
    spec: &EntrySpec,
    key: &PrivateKey,
) -> Result<NewCredential, ApplyError> {
    let mut name = format!("auth0-rotate {} {}", spec.policy.entry, date(ctx_now));
    name.truncate(128);
    Ok(match spec.upload {
        Upload::PublicKey => NewCredential {
            credential_type: "public_key",
            name,
            pem: key.public_key_pem().to_owned(),
            alg: spec.policy.alg,
            expires_at: spec.lifetime.map(|l| ctx_now + l),
            parse_expiry_from_cert: false,
        },
        Upload::Certificate => {
            // A certificate always has an end; without `lifetime`, twice the
            // rotation period leaves room for a missed rotation.
            let not_after = ctx_now + spec.lifetime.unwrap_or(spec.policy.rotate_every * 2);
            let cert = key.self_signed_certificate(
                &format!("auth0-rotate {}", spec.key()),
                ctx_now - time::Duration::minutes(5),
                not_after,
            )?;
            NewCredential {
                credential_type: "public_key",
                name,
                pem: cert,
                alg: spec.policy.alg,
                expires_at: None,
                parse_expiry_from_cert: true,
            }
        }
    })
}

/// Creates the credential, or adopts it if a lost response had created it.
async fn create_or_adopt<A: Auth0Api>(
    auth0: &A,
    client_id: &str,
    new: &NewCredential,
    kid: &str,
) -> Result<Credential, ApplyError> {
    match auth0.create_credential(client_id, new).await {
        Ok(c) => {
            if c.kid.as_deref() != Some(kid) {
                return Err(ApplyError::Unsafe(format!(
                    "Auth0 assigned kid {:?} but the key's RFC 7638 thumbprint is {kid}",
                    c.kid
                )));
            }
            Ok(c)
        }
        Err(e) if e.is_transient() || e.status().is_none() => {
            // Unknown outcome: look before doing anything else.
            let existing = auth0.list_credentials(client_id).await?;
            existing
                .into_iter()
                .find(|c| c.kid.as_deref() == Some(kid))
                .ok_or(ApplyError::Auth0(e))
        }
        Err(e) => Err(e.into()),
    }
}

async fn rollback<A: Auth0Api>(
    auth0: &A,
    client_id: &str,
    old: &str,
    new: &str,
    steps: &mut Vec<Step>,
) {
    let state = match client_state(auth0, client_id).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "rollback: cannot read client; {new} left registered");
            return;
        }
    };
    if state.is_attached(new) && state.is_attached(old) {
        if let Err(e) = auth0
            .set_private_key_jwt(client_id, &[old.to_owned()])
            .await
        {
            tracing::error!(error = %e, "rollback: cannot detach {new}");
            return;
        }
        step(steps, format!("rolled back: detached {new}"));
    }
    if !state.is_attached(new) || state.is_attached(old) {
        match auth0.delete_credential(client_id, new).await {
            Ok(_) => step(steps, format!("rolled back: deleted {new}")),
            Err(e) => tracing::error!(error = %e, "rollback: cannot delete {new}"),
        }
    }
}

/// How the rotation gets its key.
pub(super) enum Mode<'a> {
    /// Generate a new key (the plan's reason given).
    Fresh(&'a DueReason),
    /// Continue an interrupted run with the key journaled under this kid.
    Resume(&'a str),
}

/// Writes the journal commit on the entry's branch with a compare-and-swap:
/// create the branch, or fast-forward it from the head observed now. Losing
/// the race means another run is rotating this entry.
async fn claim_branch<G: GitHubApi>(
    gh: &G,
    ws: &Workspace,
    spec: &EntrySpec,
    journal: &Journal,
) -> Result<(), ApplyError> {
    let branch = ws.branch(&spec.policy.tenant, &spec.policy.entry);
    let base = gh
        .branch_sha(&ws.repo, &ws.default_branch)
        .await?
        .ok_or_else(|| {
            ApplyError::Unsafe(format!("default branch {} not found", ws.default_branch))
        })?;
    let head = gh.branch_sha(&ws.repo, &branch).await?;
    let tree = gh.commit_tree(&ws.repo, &base).await?;
    let blob = gh.create_blob(&ws.repo, &journal.render()).await?;
    let path = ws.journal_path(&spec.policy.tenant, &spec.policy.entry);
    let tree = gh
        .create_tree(&ws.repo, &tree, &[(path, Some(blob))])
        .await?;
    let parent = head.clone().unwrap_or(base);
    let message = format!(
        "auth0-rotate: rotating {} to kid {} (journal)",
        spec.key(),
        journal.kid
    );
    let commit = gh
        .create_commit(&ws.repo, &message, &tree, &[parent])
        .await?;
    let won = match head {
        None => gh.create_branch(&ws.repo, &branch, &commit).await?,
        Some(_) => gh.fast_forward_branch(&ws.repo, &branch, &commit).await?,
    };
    if won {
        Ok(())
    } else {
        Err(ApplyError::Busy)
    }
}

pub(super) async fn rotate_entry<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    mode: Mode<'_>,
    steps: &mut Vec<Step>,
    on_secret: Option<SecretObserver<'_>>,
) -> Result<Outcome, ApplyError> {
    let auth0 = ctx.auth0_for(spec)?;
    let client_id = &spec.policy.client_id;
    let ws = ctx.workspace;
    let ledger = read_ledger(ctx.github, ws, spec, &ws.default_branch).await?;
    let state = client_state(auth0, client_id).await?;
    let previous = read_journal(ctx.github, ws, spec).await?;

    // The key, and the credential it replaces.
    let (key, old_id, resuming) =
        match mode {
            Mode::Resume(kid) => {
                let j = previous.as_ref().filter(|j| j.kid == kid).ok_or_else(|| {
                    ApplyError::Changed(format!("the journal for kid {kid} is gone"))
                })?;
                let armored = j
                    .encrypted_key
                    .as_deref()
                    .ok_or_else(|| ApplyError::Changed("the journal holds no key".into()))?;
                let key = ctx.journal.open(armored)?;
                if key.kid() != j.kid {
                    return Err(ApplyError::Unsafe(format!(
                        "the journaled key's kid {} does not match the journal's {}",
                        key.kid(),
                        j.kid
                    )));
                }
                step(
                    steps,
                    format!("resuming the interrupted rotation with its journaled key, kid {kid}"),
                );
                (key, j.replaces.clone(), true)
            }
            Mode::Fresh(reason) => {
                // An unattached credential left by an interrupted run was never
                // written to a sink (sinks come after attach + verify): delete it
                // so it does not hold a slot of the pool.
                if let Some(j) = &previous {
                    if let Some(orphan) = state.credentials.iter().find(|c| {
                        c.kid.as_deref() == Some(j.kid.as_str()) && !state.is_attached(&c.id)
                    }) {
                        auth0.delete_credential(client_id, &orphan.id).await?;
                        step(
                            steps,
                            format!(
                                "deleted {} left unattached by an interrupted run",
                                orphan.id
                            ),
                        );
                    }
                }
                let old_id = expected_old(&state, ledger.as_ref(), reason)?;
                let key = generate(spec).await?;
                step(
                    steps,
                    format!(
                        "generated a {}-bit RSA key, kid {}",
                        spec.key_size.bits(),
                        key.kid()
                    ),
                );
                (key, old_id, false)
            }
        };
    let kid = key.kid();
    let old = state.credential(&old_id).cloned().ok_or_else(|| {
        ApplyError::Changed(format!(
            "credential {old_id} is missing from the credential list"
        ))
    })?;

    // Journal (and lock) before the first Auth0 write.
    let journal = Journal {
        version: 1,
        tenant: spec.policy.tenant.clone(),
        entry: spec.policy.entry.clone(),
        client_id: client_id.clone(),
        kid: kid.clone(),
        replaces: old_id.clone(),
        started_at: ctx.now,
        encrypted_key: ctx.journal.seal(&key)?,
    };
    claim_branch(ctx.github, ws, spec, &journal).await?;
    step(
        steps,
        format!(
            "journaled the rotation on {}{}",
            ws.branch(&spec.policy.tenant, &spec.policy.entry),
            if journal.encrypted_key.is_some() {
                " (key age-encrypted)"
            } else {
                ""
            }
        ),
    );

    let new_req = new_credential(ctx.now, spec, &key)?;
    let existing = auth0
        .list_credentials(client_id)
        .await?
        .into_iter()
        .find(|c| c.kid.as_deref() == Some(kid.as_str()));
    let cred = match existing {
        Some(c) => {
            step(
                steps,
                format!("found credential {} already registered for kid {kid}", c.id),
            );
            c
        }
        None => {
            let c = create_or_adopt(auth0, client_id, &new_req, &kid).await?;
            step(
                steps,
                format!("registered credential {} ({}) in Auth0", c.id, new_req.alg),
            );
            c
        }
    };

    // Attach next to the old one: the complete list, re-checked first.
    let result = async {
        let now_state = client_state(auth0, client_id).await?;
        if now_state.attached == [old_id.clone()] {
            auth0
                .set_private_key_jwt(client_id, &[old_id.clone(), cred.id.clone()])
                .await?;
            step(steps, format!("attached {} next to {old_id}", cred.id));
        } else if !(now_state.is_attached(&cred.id) && now_state.is_attached(&old_id)) {
            return Err(ApplyError::Changed(format!(
                "attached credentials changed to {:?}",
                now_state.attached
            )));
        }
        let mut verified = false;
        if let Some(audience) = &spec.verify_audience {
            let mut last = None;
            for attempt in 1..=VERIFY_ATTEMPTS {
                match auth0
                    .exchange_with_key(client_id, &key, spec.policy.alg, audience)
                    .await
                {
                    Ok(()) => {
                        last = None;
                        break;
                    }
                    Err(e) => {
                        // Only an authentication failure can be propagation
                        // delay; anything else is reported at once.
                        let retry = e.status() == Some(401);
                        last = Some(e);
                        if !retry {
                            break;
                        }
                        if attempt < VERIFY_ATTEMPTS {
                            tokio::time::sleep(StdDuration::from_millis(500 * u64::from(attempt)))
                                .await;
                        }
                    }
                }
            }
            if let Some(e) = last {
                return Err(ApplyError::Verify(e.to_string()));
            }
            verified = true;
            step(
                steps,
                format!("verified: token exchange for {audience} succeeded with the new key"),
            );
        }
        Ok(verified)
    }
    .await;
    let verified = match result {
        Ok(v) => v,
        Err(e) => {
            // A resumed run may already have written the key to sinks: keep it.
            if !resuming {
                rollback(auth0, client_id, &old_id, &cred.id, steps).await;
            }
            return Err(e);
        }
    };

    // Deadline on the old credential.
    let mut deadline = None;
    if let Some(overlap) = spec.max_overlap {
        let d = ctx.now + overlap;
        if old.expires_at.is_none_or(|e| e > d) {
            auth0.set_credential_expiry(client_id, &old_id, d).await?;
            step(
                steps,
                format!("set the deadline of {old_id} to {}", date(d)),
            );
        }
        deadline = Some(old.expires_at.map_or(d, |e| e.min(d)));
    }

    // Only now, with the credential attached and proven, does the key leave memory (sealed).
    let written = match write_sinks_observed(
        ctx.github,
        &spec.sinks,
        &key,
        client_id,
        spec.policy.alg,
        &cred.id,
        on_secret,
    )
    .await
    {
        Ok(w) => w,
        Err((w, e)) => {
            if w.is_empty() && !resuming {
                rollback(auth0, client_id, &old_id, &cred.id, steps).await;
            }
            return Err(e);
        }
    };
    let sink_lines: Vec<String> = written
        .iter()
        .map(|w| format!("{} ({})", w.sink, super::report::outcome_word(w.outcome)))
        .collect();
    for l in &sink_lines {
        step(steps, format!("wrote {l}"));
    }

    // The ledger proposal: the new credential is current; the old one, and
    // anything an earlier merge left that still exists, retires on merge.
    let mut retiring = vec![Retiring {
        credential_id: old_id.clone(),
        kid: old.kid.clone().unwrap_or_default(),
        since: ctx.now,
        deadline,
    }];
    if let Some(l) = &ledger {
        retiring.extend(
            l.retiring
                .iter()
                .filter(|r| {
                    r.credential_id != old_id && state.credential(&r.credential_id).is_some()
                })
                .cloned(),
        );
    }
    let new_ledger = LedgerEntry {
        version: LEDGER_VERSION,
        tenant: spec.policy.tenant.clone(),
        entry: spec.policy.entry.clone(),
        client_id: client_id.clone(),
        current: CredentialRecord {
            credential_id: cred.id.clone(),
            kid: kid.clone(),
            alg: spec.policy.alg,
            created_at: cred.created_at.unwrap_or(ctx.now),
            expires_at: cred.expires_at,
        },
        retiring,
    };
    let body = pr::body(spec, &new_ledger, &sink_lines, Some(verified));
    let (pull, op) = pr::publish(ctx.github, ws, spec, &new_ledger, &body).await?;
    step(
        steps,
        format!(
            "{} PR #{}: {}",
            if op == PullOperation::Created {
                "opened"
            } else {
                "updated"
            },
            pull.number,
            pull.html_url
        ),
    );
    Ok(Outcome::Rotated {
        credential_id: cred.id,
        kid,
        retiring: new_ledger
            .retiring
            .iter()
            .map(|r| r.credential_id.clone())
            .collect(),
        pull: pull.number,
        pull_url: pull.html_url,
        pull_operation: op.as_str().to_owned(),
        verified,
    })
}

/// A rotation is in flight: refresh the PR text from its branch ledger.
pub(super) async fn refresh_pull<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    number: u64,
    steps: &mut Vec<Step>,
) -> Result<Outcome, ApplyError> {
    let ws = ctx.workspace;
    let branch = ws.branch(&spec.policy.tenant, &spec.policy.entry);
    let ledger = read_ledger(ctx.github, ws, spec, &branch)
        .await?
        .ok_or_else(|| {
            ApplyError::Changed(format!("PR #{number} has no ledger file on {branch}"))
        })?;
    let sinks: Vec<String> = spec.sinks.iter().map(|s| s.describe()).collect();
    let body = pr::body(spec, &ledger, &sinks, None);
    let pull = ctx
        .github
        .update_pull(&ws.repo, number, &pr::title(spec, &ledger), &body)
        .await?;
    step(steps, format!("refreshed PR #{}", pull.number));
    Ok(Outcome::Refreshed {
        pull: pull.number,
        pull_url: pull.html_url,
    })
}

/// A finished rotation whose PR was never opened: open it from the branch.
pub(super) async fn republish<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    steps: &mut Vec<Step>,
) -> Result<Outcome, ApplyError> {
    let ws = ctx.workspace;
    let branch = ws.branch(&spec.policy.tenant, &spec.policy.entry);
    let ledger = read_ledger(ctx.github, ws, spec, &branch)
        .await?
        .ok_or_else(|| ApplyError::Changed(format!("no ledger on {branch}")))?;
    let sinks: Vec<String> = spec.sinks.iter().map(|s| s.describe()).collect();
    let body = pr::body(spec, &ledger, &sinks, None);
    let (pull, op) = pr::open_pull(ctx.github, ws, spec, &ledger, &body).await?;
    step(
        steps,
        format!(
            "{} PR #{} for the finished rotation: {}",
            op.as_str(),
            pull.number,
            pull.html_url
        ),
    );
    Ok(Outcome::Rotated {
        credential_id: ledger.current.credential_id.clone(),
        kid: ledger.current.kid.clone(),
        retiring: ledger
            .retiring
            .iter()
            .map(|r| r.credential_id.clone())
            .collect(),
        pull: pull.number,
        pull_url: pull.html_url,
        pull_operation: op.as_str().to_owned(),
        verified: false,
    })
}
