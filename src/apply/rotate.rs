//! Stage 1: generate → register → attach → verify → store → ledger PR.

use std::time::Duration as StdDuration;

use super::mtls::{self, Material};
use super::pr::{self, PullOperation};
use super::sinks::{write_sinks_observed, SecretObserver, Written};
use super::{ApplyError, Context, EntrySpec, Outcome, Staged, Step, Upload};
use crate::auth0::{Auth0Api, Credential, MtlsEdge, NewCredential};
use crate::github::GitHubApi;
use crate::journal::{Ended, Journal};
use crate::keys::PrivateKey;
use crate::ledger::{CredentialRecord, LedgerEntry, Retiring, LEDGER_VERSION};
use crate::observe::{client_state, read_journal_at, read_ledger};
use crate::plan::{date, ClientState, DueReason, ObservedCredential, Seen};
use crate::workspace::Workspace;

/// Attempts of the proving token exchange (Auth0 may take a moment to
/// propagate a new credential, which shows as 401 `invalid_client`).
const VERIFY_ATTEMPTS: u32 = 3;

pub(super) fn step(steps: &mut Vec<Step>, what: String) {
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

pub(super) async fn generate(spec: &EntrySpec) -> Result<PrivateKey, ApplyError> {
    let size = spec.key_size;
    tokio::task::spawn_blocking(move || PrivateKey::generate(size))
        .await
        .map_err(|e| ApplyError::Unsafe(format!("key generation task failed: {e}")))?
        .map_err(ApplyError::from)
}

pub(super) fn new_credential(
    ctx_now: time::OffsetDateTime,
    spec: &EntrySpec,
    material: &Material,
) -> Result<NewCredential, ApplyError> {
    let key = &material.key;
    let mut name = format!(
        "{}{} {}",
        crate::plan::CREDENTIAL_NAME_PREFIX,
        spec.policy.entry,
        date(ctx_now)
    );
    name.truncate(128);
    if let Some(x509) = mtls::new_credential(name.clone(), material) {
        return Ok(x509);
    }
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
/// `kid` is what Auth0 identifies it by (a certificate's thumbprint for
/// mTLS).
async fn create_or_adopt<A: Auth0Api>(
    auth0: &A,
    client_id: &str,
    new: &NewCredential,
    kid: &str,
) -> Result<Credential, ApplyError> {
    match auth0.create_credential(client_id, new).await {
        Ok(c) => {
            if mtls::credential_id_of(&c) != Some(kid) {
                return Err(ApplyError::Unsafe(format!(
                    "Auth0 identifies the new credential as {:?}, but it should be {kid}",
                    mtls::credential_id_of(&c)
                )));
            }
            Ok(c)
        }
        Err(e) if e.is_transient() || e.status().is_none() => {
            // Unknown outcome: look before doing anything else.
            let existing = auth0.list_credentials(client_id).await?;
            existing
                .into_iter()
                .find(|c| mtls::credential_id_of(c) == Some(kid))
                .ok_or(ApplyError::Auth0(e))
        }
        Err(e) => Err(e.into()),
    }
}

async fn rollback<A: Auth0Api>(
    auth0: &A,
    spec: &EntrySpec,
    old: &str,
    new: &str,
    steps: &mut Vec<Step>,
) {
    let client_id = &spec.policy.client_id;
    let state = match client_state(auth0, client_id).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "rollback: cannot read client; {new} left registered");
            return;
        }
    };
    if state.is_attached(new) && state.is_attached(old) {
        if let Err(e) = mtls::set_attached(auth0, spec, &[old.to_owned()]).await {
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

/// What a rotation re-reads before its first write.
pub(super) struct Snapshot {
    pub(super) ledger: Option<LedgerEntry>,
    pub(super) state: ClientState,
    /// The rotation branch head, which must still be the plan's.
    pub(super) head: Option<String>,
    /// The journal at that head.
    pub(super) journal: Option<Journal>,
}

/// Re-reads the entry and checks that its rotation branch has not moved
/// since the plan. Guarantees: when it returns, `head` is the head the plan
/// was made from, so the claim below is a compare-and-swap against the
/// planned state. Errors: [`ApplyError::Busy`] if the branch moved.
pub(super) async fn snapshot<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    auth0: &A,
    spec: &EntrySpec,
    planned_head: Option<&str>,
) -> Result<Snapshot, ApplyError> {
    let ws = ctx.workspace;
    let branch = ws.branch(&spec.policy.tenant, &spec.policy.entry);
    let head = ctx.github.branch_sha(&ws.repo, &branch).await?;
    if head.as_deref() != planned_head {
        return Err(ApplyError::Busy);
    }
    let journal = match &head {
        Some(h) => read_journal_at(ctx.github, ws, spec, h).await?,
        None => None,
    };
    Ok(Snapshot {
        ledger: read_ledger(ctx.github, ws, spec, &ws.default_branch).await?,
        state: client_state(auth0, &spec.policy.client_id).await?,
        head,
        journal,
    })
}

/// [`snapshot`] from what the plan read (`seen`): only the branch head is
/// read again (it must still be the plan's, so the journal at it is the
/// one the plan saw). What is missing from `seen` is read.
pub(super) async fn snapshot_seen<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    auth0: &A,
    spec: &EntrySpec,
    (planned_head, seen): (Option<&str>, &Seen),
) -> Result<Snapshot, ApplyError> {
    let Some(state) = seen.client.clone() else {
        return snapshot(ctx, auth0, spec, planned_head).await;
    };
    let ws = ctx.workspace;
    let branch = ws.branch(&spec.policy.tenant, &spec.policy.entry);
    let head = ctx.github.branch_sha(&ws.repo, &branch).await?;
    if head.as_deref() != planned_head {
        return Err(ApplyError::Busy);
    }
    let journal = match (&head, &seen.journal) {
        (None, _) => None,
        (Some(_), Some(j)) => Some(j.clone()),
        (Some(h), None) => read_journal_at(ctx.github, ws, spec, h).await?,
    };
    Ok(Snapshot {
        ledger: seen.ledger.clone(),
        state,
        head,
        journal,
    })
}

/// Writes the journal commit on the entry's branch with a compare-and-swap
/// from `head` (the head the plan saw): create the branch, or fast-forward
/// it. Of any number of runs that start from one head, exactly one wins;
/// the others get [`ApplyError::Busy`] and have written nothing. Returns the
/// journal commit.
pub(super) async fn claim_branch<G: GitHubApi>(
    gh: &G,
    ws: &Workspace,
    spec: &EntrySpec,
    journal: &Journal,
    head: Option<&str>,
) -> Result<String, ApplyError> {
    let branch = ws.branch(&spec.policy.tenant, &spec.policy.entry);
    let base = gh
        .branch_sha(&ws.repo, &ws.default_branch)
        .await?
        .ok_or_else(|| {
            ApplyError::Unsafe(format!("default branch {} not found", ws.default_branch))
        })?;
    let message = format!(
        "auth0-rotate: rotating {} to kid {} (journal)",
        spec.key(),
        journal.kid
    );
    let commit = journal_commit(
        gh,
        ws,
        spec,
        journal,
        &base,
        head.unwrap_or(&base),
        &message,
    )
    .await?;
    let won = match head {
        None => gh.create_branch(&ws.repo, &branch, &commit).await?,
        Some(_) => gh.fast_forward_branch(&ws.repo, &branch, &commit).await?,
    };
    if won {
        Ok(commit)
    } else {
        Err(ApplyError::Busy)
    }
}

/// A commit with `journal` written on the tree of `base`, child of `parent`.
pub(super) async fn journal_commit<G: GitHubApi>(
    gh: &G,
    ws: &Workspace,
    spec: &EntrySpec,
    journal: &Journal,
    base: &str,
    parent: &str,
    message: &str,
) -> Result<String, ApplyError> {
    let tree = gh.commit_tree(&ws.repo, base).await?;
    let path = ws.journal_path(&spec.policy.tenant, &spec.policy.entry);
    let tree = gh
        .create_tree(&ws.repo, &tree, &[(path, Some(journal.render()))])
        .await?;
    Ok(gh
        .create_commit(&ws.repo, message, &tree, &[parent.to_owned()])
        .await?)
}

/// Marks the run's journal as ended (best effort, a fast-forward from the
/// run's own journal commit), so the next run does not wait for a lock
/// nobody holds. The journal keeps its key: the next run resumes from it.
pub(super) async fn release<G: GitHubApi>(
    ctx: &Context<'_, impl Auth0Api, G>,
    spec: &EntrySpec,
    journal: &Journal,
    claimed: &str,
    error: &ApplyError,
) {
    let ws = ctx.workspace;
    let mut ended = journal.clone();
    ended.ended = Some(Ended {
        at: ctx.now,
        error: crate::text::neutral(&error.to_string()),
    });
    let ended = ctx.journal.sign(&ended);
    let message = format!("auth0-rotate: rotation of {} stopped (journal)", spec.key());
    let branch = ws.branch(&spec.policy.tenant, &spec.policy.entry);
    let result = async {
        let commit =
            journal_commit(ctx.github, ws, spec, &ended, claimed, claimed, &message).await?;
        Ok::<_, ApplyError>(
            ctx.github
                .fast_forward_branch(&ws.repo, &branch, &commit)
                .await?,
        )
    }
    .await;
    match result {
        Ok(true) => tracing::info!(entry = %spec.key(), "marked the journal as ended"),
        Ok(false) => {
            tracing::warn!(entry = %spec.key(), "the rotation branch moved; journal not marked")
        }
        Err(e) => {
            tracing::warn!(entry = %spec.key(), error = %e, "could not mark the journal as ended")
        }
    }
}

/// The journaled key (and certificate) of an interrupted rotation, only
/// from a journal with this tool's tag, and checked against the journal's
/// kid or thumbprint.
fn journaled(
    ctx_journal: &crate::journal::JournalKeys,
    spec: &EntrySpec,
    snap: &Snapshot,
    kid: &str,
    steps: &mut Vec<Step>,
) -> Result<(Material, String), ApplyError> {
    let j = snap
        .journal
        .as_ref()
        .filter(|j| j.kid == *kid)
        .ok_or_else(|| ApplyError::Changed(format!("the journal for kid {kid} is gone")))?;
    if !ctx_journal.is_authentic(j) {
        return Err(ApplyError::Unsafe(format!(
            "the journal for kid {kid} is not signed with this tool's age identity; \
             its key is not resumed"
        )));
    }
    let armored = j
        .encrypted_key
        .as_deref()
        .ok_or_else(|| ApplyError::Changed("the journal holds no key".into()))?;
    let key = ctx_journal.open(armored)?;
    let material = match (&j.certificate, mtls::is_mtls(spec)) {
        (Some(cert), true) => mtls::resumed(key, cert, &j.kid)?,
        (None, false) if key.kid() == j.kid => Material::key(key),
        (None, false) => {
            return Err(ApplyError::Unsafe(format!(
                "the journaled key's kid {} does not match the journal's {}",
                key.kid(),
                j.kid
            )))
        }
        _ => {
            return Err(ApplyError::Changed(
                "the journal's credential kind does not match the entry's auth_method".into(),
            ))
        }
    };
    step(
        steps,
        format!(
            "resuming the interrupted rotation with its journaled key, {} {kid}",
            material.id_word()
        ),
    );
    Ok((material, j.replaces.clone()))
}

/// The key (and, for mTLS, certificate) of this rotation and the credential
/// it replaces: new material, or the journaled one when resuming. A fresh
/// rotation first deletes the unattached credential an interrupted run left
/// (never an attached one: only an attached credential's key can be in a
/// sink).
pub(super) async fn key_for<A: Auth0Api>(
    (ctx_journal, now): (&crate::journal::JournalKeys, time::OffsetDateTime),
    auth0: &A,
    spec: &EntrySpec,
    mode: &Mode<'_>,
    snap: &Snapshot,
    steps: &mut Vec<Step>,
) -> Result<(Material, String), ApplyError> {
    match mode {
        Mode::Resume(kid) => journaled(ctx_journal, spec, snap, kid, steps),
        Mode::Fresh(reason) => {
            if let Some(j) = &snap.journal {
                delete_orphan(auth0, spec, &snap.state, &j.kid, steps).await?;
            }
            let old_id = expected_old(&snap.state, snap.ledger.as_ref(), reason)?;
            let material = mtls::generate(spec, now).await?;
            let what = if material.certificate.is_some() {
                " and its self-signed certificate"
            } else {
                ""
            };
            step(
                steps,
                format!(
                    "generated a {}-bit RSA key{what}, {} {}",
                    spec.key_size.bits(),
                    material.id_word(),
                    material.id
                ),
            );
            Ok((material, old_id))
        }
    }
}

/// Deletes the credential of `kid` an interrupted run registered and left
/// unattached (`state` is what the plan saw): re-read just before the
/// delete, which happens only if it is still unattached. Never an attached
/// one: only an attached credential's key can be in a sink.
async fn delete_orphan<A: Auth0Api>(
    auth0: &A,
    spec: &EntrySpec,
    state: &ClientState,
    kid: &str,
    steps: &mut Vec<Step>,
) -> Result<(), ApplyError> {
    let orphan_in = |s: &ClientState| {
        s.credentials
            .iter()
            .find(|c| c.kid.as_deref() == Some(kid) && !s.is_attached(&c.id))
            .map(|c| c.id.clone())
    };
    if orphan_in(state).is_none() {
        return Ok(());
    }
    let fresh = client_state(auth0, &spec.policy.client_id).await?;
    let Some(orphan) = orphan_in(&fresh) else {
        return Ok(());
    };
    auth0
        .delete_credential(&spec.policy.client_id, &orphan)
        .await?;
    step(
        steps,
        format!("deleted {orphan} left unattached by an interrupted run"),
    );
    Ok(())
}

/// Registers the credential of `kid`, or adopts the one a previous attempt
/// registered (found by kid: a POST is never resent blindly).
pub(super) async fn register<A: Auth0Api>(
    auth0: &A,
    spec: &EntrySpec,
    now: time::OffsetDateTime,
    material: &Material,
    steps: &mut Vec<Step>,
) -> Result<Credential, ApplyError> {
    register_key(auth0, spec, now, (material, false), steps).await
}

/// [`register`]; `new_key` says the key was generated by this run, so no
/// credential can have its kid yet and the list is not read first (an
/// unknown outcome of the POST is still looked up by kid).
pub(super) async fn register_key<A: Auth0Api>(
    auth0: &A,
    spec: &EntrySpec,
    now: time::OffsetDateTime,
    (material, new_key): (&Material, bool),
    steps: &mut Vec<Step>,
) -> Result<Credential, ApplyError> {
    let client_id = &spec.policy.client_id;
    let kid = &material.id;
    let existing = if new_key {
        None
    } else {
        auth0
            .list_credentials(client_id)
            .await?
            .into_iter()
            .find(|c| mtls::credential_id_of(c) == Some(kid.as_str()))
    };
    if let Some(c) = existing {
        let word = material.id_word();
        step(
            steps,
            format!(
                "found credential {} already registered for {word} {kid}",
                c.id
            ),
        );
        return Ok(c);
    }
    let new_req = new_credential(now, spec, material)?;
    let c = create_or_adopt(auth0, client_id, &new_req, kid).await?;
    let what = if material.certificate.is_some() {
        "x509_cert".to_owned()
    } else {
        new_req.alg.to_string()
    };
    step(
        steps,
        format!("registered credential {} ({what}) in Auth0", c.id),
    );
    Ok(c)
}

/// Attaches `new` next to `old` (the complete list, re-checked first) and
/// proves it with a token exchange when the entry has an audience.
/// Returns whether a token exchange proved the key.
async fn attach_and_verify<A: Auth0Api>(
    auth0: &A,
    spec: &EntrySpec,
    (material, edge): (&Material, Option<&MtlsEdge>),
    old_id: &str,
    new_id: &str,
    steps: &mut Vec<Step>,
) -> Result<bool, ApplyError> {
    let client_id = &spec.policy.client_id;
    // Re-checked just before the PATCH: which credentials are attached.
    let now_state = auth0.get_client(client_id).await?;
    let attached = if now_state.is_self_signed_tls() {
        now_state.mtls_attached()
    } else {
        now_state.attached()
    };
    let is_attached = |id: &str| attached.iter().any(|a| a == id);
    if attached == [old_id.to_owned()] {
        mtls::set_attached(auth0, spec, &[old_id.to_owned(), new_id.to_owned()]).await?;
        step(steps, format!("attached {new_id} next to {old_id}"));
    } else if !(is_attached(new_id) && is_attached(old_id)) {
        return Err(ApplyError::Changed(format!(
            "attached credentials changed to {attached:?}"
        )));
    }
    let Some(audience) = &spec.verify_audience else {
        return Ok(false);
    };
    let mut last = None;
    for attempt in 1..=VERIFY_ATTEMPTS {
        let exchanged = match (&material.certificate, edge) {
            (Some(cert), Some(edge)) => {
                auth0
                    .exchange_with_certificate(client_id, cert, audience, edge)
                    .await
            }
            _ => {
                auth0
                    .exchange_with_key(client_id, &material.key, spec.policy.alg, audience)
                    .await
            }
        };
        match exchanged {
            Ok(()) => {
                last = None;
                break;
            }
            Err(e) => {
                // Only an authentication failure can be propagation delay;
                // anything else is reported at once.
                let retry = e.status() == Some(401);
                last = Some(e);
                if !retry {
                    break;
                }
                if attempt < VERIFY_ATTEMPTS {
                    tokio::time::sleep(StdDuration::from_millis(500 * u64::from(attempt))).await;
                }
            }
        }
    }
    if let Some(e) = last {
        return Err(ApplyError::Verify(e.to_string()));
    }
    let through = if edge.is_some() {
        " certificate through the customer edge"
    } else {
        " key"
    };
    step(
        steps,
        format!("verified: token exchange for {audience} succeeded with the new{through}"),
    );
    Ok(true)
}

/// Puts the `max_overlap` deadline on the old credential; returns the
/// deadline it now has, if any.
async fn set_deadline<A: Auth0Api>(
    auth0: &A,
    spec: &EntrySpec,
    now: time::OffsetDateTime,
    old: &ObservedCredential,
    steps: &mut Vec<Step>,
) -> Result<Option<time::OffsetDateTime>, ApplyError> {
    // A certificate's expiry is its notAfter: Auth0 takes it from the
    // certificate, so no deadline is put on an x509_cert credential.
    let Some(overlap) = spec.max_overlap.filter(|_| !mtls::is_mtls(spec)) else {
        return Ok(None);
    };
    let d = now + overlap;
    if old.expires_at.is_none_or(|e| e > d) {
        auth0
            .set_credential_expiry(&spec.policy.client_id, &old.id, d)
            .await?;
        step(
            steps,
            format!("set the deadline of {} to {}", old.id, date(d)),
        );
    }
    Ok(Some(old.expires_at.map_or(d, |e| e.min(d))))
}

/// The ledger the PR proposes: the new credential is current; the old one,
/// and anything an earlier merge left that still exists, retires on merge.
fn proposed_ledger(
    spec: &EntrySpec,
    now: time::OffsetDateTime,
    snap: &Snapshot,
    cred: &Credential,
    kid: &str,
    old: &ObservedCredential,
    deadline: Option<time::OffsetDateTime>,
) -> LedgerEntry {
    let mut retiring = vec![Retiring {
        credential_id: old.id.clone(),
        kid: old.kid.clone().unwrap_or_default(),
        since: now,
        deadline,
    }];
    if let Some(l) = &snap.ledger {
        retiring.extend(
            l.retiring
                .iter()
                .filter(|r| {
                    r.credential_id != old.id && snap.state.credential(&r.credential_id).is_some()
                })
                .cloned(),
        );
    }
    LedgerEntry {
        version: LEDGER_VERSION,
        auth_method: if mtls::is_mtls(spec) {
            crate::manifest::AuthMethod::SelfSignedTlsClientAuth
        } else {
            crate::manifest::AuthMethod::PrivateKeyJwt
        },
        attach_on_merge: false,
        journal_commit: None,
        // An entry onboarded onto a new client stays on it.
        replaces_client: snap.ledger.as_ref().and_then(|l| l.replaces_client.clone()),
        retire_old_client: snap.ledger.as_ref().and_then(|l| l.retire_old_client),
        tenant: spec.policy.tenant.clone(),
        entry: spec.policy.entry.clone(),
        client_id: spec.policy.client_id.clone(),
        current: CredentialRecord {
            credential_id: cred.id.clone(),
            kid: kid.to_owned(),
            alg: spec.policy.alg,
            created_at: cred.created_at.unwrap_or(now),
            expires_at: cred.expires_at,
        },
        retiring,
    }
}

/// Stage 1 for one entry: snapshot → key → journal (the lock) → register →
/// attach + verify → deadline → sinks → ledger PR.
///
/// Guarantees: nothing is written unless the rotation branch is still at
/// the planned head and this run won the journal's compare-and-swap. Before
/// any sink write is attempted, a failure detaches and deletes the new
/// credential again (a fresh run only: a resumed run may have written sinks
/// before). From the first sink write on, the run only moves forward: a sink
/// write whose outcome is unknown is treated as having happened, so the new
/// credential stays attached next to the old one and the next run finishes
/// (resume) or a human does (the plan says which). Every failure after the
/// claim marks the journal as ended, so the next run need not wait.
pub(super) async fn rotate_entry<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    mode: Mode<'_>,
    planned: (Option<&str>, &Seen),
    steps: &mut Vec<Step>,
    on_secret: Option<SecretObserver<'_>>,
) -> Result<(Outcome, Option<Staged>), ApplyError> {
    let prepared = prepare(ctx, spec, mode, planned, steps).await?;
    let ws = ctx.workspace;
    let head = prepared.snap.head.as_deref();
    let claimed = claim_branch(ctx.github, ws, spec, &prepared.journal, head).await?;
    journaled_step(ctx, spec, &prepared.journal, steps);
    finish(ctx, spec, &prepared, &claimed, steps, on_secret).await
}

/// An entry ready to claim: what its rotation starts from, its new key and
/// the journal that records it.
pub(super) struct Prepared {
    pub(super) snap: Snapshot,
    pub(super) material: Material,
    /// mTLS: the customer edge the proof goes through.
    edge: Option<MtlsEdge>,
    old: ObservedCredential,
    pub(super) journal: Journal,
    resuming: bool,
}

/// Everything before the claim: the sinks' preflight, the snapshot (the
/// branch still at the plan's head), the key, and the signed journal.
pub(super) async fn prepare<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    mode: Mode<'_>,
    planned: (Option<&str>, &Seen),
    steps: &mut Vec<Step>,
) -> Result<Prepared, ApplyError> {
    let auth0 = ctx.auth0_for(spec)?;
    let edge = match mtls::is_mtls(spec) {
        true => Some(mtls::edge(spec, ctx.mtls_cname_api_key)?),
        false => None,
    };
    super::sinks::preflight(ctx.github, &spec.sinks).await?;
    let snap = snapshot_seen(ctx, auth0, spec, planned).await?;
    let resuming = matches!(mode, Mode::Resume(_));
    let (material, old_id) =
        key_for((ctx.journal, ctx.now), auth0, spec, &mode, &snap, steps).await?;
    let old = snap.state.credential(&old_id).cloned().ok_or_else(|| {
        ApplyError::Changed(format!(
            "credential {old_id} is missing from the credential list"
        ))
    })?;
    // Journal (and lock) before the first Auth0 write.
    let journal = ctx.journal.sign(&Journal {
        version: 1,
        tenant: spec.policy.tenant.clone(),
        entry: spec.policy.entry.clone(),
        client_id: spec.policy.client_id.clone(),
        kid: material.id.clone(),
        replaces: old_id,
        started_at: ctx.now,
        encrypted_key: ctx.journal.seal(&material.key)?,
        certificate: material.certificate.clone(),
        holder: ctx.workspace.runner.clone(),
        ended: None,
        mac: None,
    });
    Ok(Prepared {
        snap,
        material,
        edge,
        old,
        journal,
        resuming,
    })
}

/// Records the claim in the entry's steps.
pub(super) fn journaled_step<A, G>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    journal: &Journal,
    steps: &mut Vec<Step>,
) {
    step(
        steps,
        format!(
            "journaled the rotation on {}{}",
            ctx.workspace
                .branch(&spec.policy.tenant, &spec.policy.entry),
            if journal.encrypted_key.is_some() {
                " (key age-encrypted)"
            } else {
                ""
            }
        ),
    );
}

/// Everything after the claim (`claimed`: the journal commit the entry's
/// branch was moved to): see [`rotate_entry`]'s contract. A failure marks
/// the journal as ended.
pub(super) async fn finish<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    p: &Prepared,
    claimed: &str,
    steps: &mut Vec<Step>,
    on_secret: Option<SecretObserver<'_>>,
) -> Result<(Outcome, Option<Staged>), ApplyError> {
    let auth0 = ctx.auth0_for(spec)?;
    let claim = Claim {
        snap: &p.snap,
        material: &p.material,
        edge: p.edge.as_ref(),
        old: &p.old,
        claimed,
        resuming: p.resuming,
    };
    let result = rotate_claimed(ctx, auth0, spec, &claim, steps, on_secret).await;
    if let Err(e) = &result {
        release(ctx, spec, &p.journal, claimed, e).await;
    }
    result
}

/// What a run holds once it claimed an entry's branch.
struct Claim<'a> {
    snap: &'a Snapshot,
    material: &'a Material,
    /// mTLS: the customer edge the proof goes through.
    edge: Option<&'a MtlsEdge>,
    old: &'a ObservedCredential,
    /// The run's journal commit (the branch head it may replace).
    claimed: &'a str,
    /// Resuming a journaled key: a predecessor may have written sinks.
    resuming: bool,
}

/// The part of [`rotate_entry`] after the claim (see its contract):
/// register and prove the new credential, write the sinks, propose.
async fn rotate_claimed<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    auth0: &A,
    spec: &EntrySpec,
    claim: &Claim<'_>,
    steps: &mut Vec<Step>,
    on_secret: Option<SecretObserver<'_>>,
) -> Result<(Outcome, Option<Staged>), ApplyError> {
    let proven = register_and_prove(ctx, auth0, spec, claim, steps).await?;
    let deadline = set_deadline(auth0, spec, ctx.now, claim.old, steps).await?;
    let sink_lines =
        write_forward(ctx, spec, claim.material, &proven.cred.id, steps, on_secret).await?;
    propose(ctx, spec, claim, &proven, deadline, &sink_lines, steps).await
}

/// The new credential, attached, and whether a token exchange proved it.
struct Proven {
    cred: Credential,
    verified: bool,
}

/// Registers the new credential and proves it (attach + token exchange).
/// A failure detaches and deletes it again, unless the run resumes (a
/// predecessor may have written it into a sink).
async fn register_and_prove<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    auth0: &A,
    spec: &EntrySpec,
    claim: &Claim<'_>,
    steps: &mut Vec<Step>,
) -> Result<Proven, ApplyError> {
    let new_key = !claim.resuming;
    let cred = register_key(auth0, spec, ctx.now, (claim.material, new_key), steps).await?;
    let with = (claim.material, claim.edge);
    match attach_and_verify(auth0, spec, with, &claim.old.id, &cred.id, steps).await {
        Ok(verified) => Ok(Proven { cred, verified }),
        Err(e) => {
            if !claim.resuming {
                rollback(auth0, spec, &claim.old.id, &cred.id, steps).await;
            }
            Err(e)
        }
    }
}

/// Writes every sink. From here on, forward only: a sink write whose
/// outcome is unknown is a write that happened, so a failure is
/// `SinksIncomplete` and the new credential is never rolled back. Returns
/// one line per sink written.
pub(super) async fn write_forward<A, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    material: &Material,
    credential_id: &str,
    steps: &mut Vec<Step>,
    on_secret: Option<SecretObserver<'_>>,
) -> Result<Vec<String>, ApplyError> {
    let line = |w: &Written| format!("{} ({})", w.sink, super::report::outcome_word(w.outcome));
    let client_id = &spec.policy.client_id;
    let alg = spec.policy.alg;
    let result = match &material.certificate {
        Some(cert) => {
            let m = super::sinks::MtlsSink {
                client_id,
                credential_id,
                key: &material.key,
                certificate: cert,
                thumbprint: &material.id,
            };
            super::sinks::write_mtls_sinks(ctx.github, &spec.sinks, &m, on_secret).await
        }
        None => {
            write_sinks_observed(
                ctx.github,
                &spec.sinks,
                &material.key,
                client_id,
                alg,
                credential_id,
                on_secret,
            )
            .await
        }
    };
    let (written, error) = match result {
        Ok(written) => (written, None),
        Err((written, e)) => (written, Some(e)),
    };
    let lines: Vec<String> = written.iter().map(line).collect();
    for l in &lines {
        step(steps, format!("wrote {l}"));
    }
    match error {
        None => Ok(lines),
        Some(e) => Err(ApplyError::SinksIncomplete {
            credential_id: credential_id.to_owned(),
            detail: e.to_string(),
        }),
    }
}

/// Proposes the new ledger in the entry's PR, replacing the branch only
/// while it is still at this run's journal commit.
async fn propose<A, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    claim: &Claim<'_>,
    proven: &Proven,
    deadline: Option<time::OffsetDateTime>,
    sink_lines: &[String],
    steps: &mut Vec<Step>,
) -> Result<(Outcome, Option<Staged>), ApplyError> {
    let (cred, verified) = (&proven.cred, proven.verified);
    let kid = claim.material.id.clone();
    let new_ledger = proposed_ledger(spec, ctx.now, claim.snap, cred, &kid, claim.old, deadline);
    let text = pr::PullText {
        ledger: &new_ledger,
        change: pr::Change::Rotation,
        body: pr::body(spec, &new_ledger, sink_lines, Some(verified)),
    };
    if let Some(group) = super::group::group_of(ctx.workspace, spec) {
        step(
            steps,
            format!("proposed the ledger to the PR of {group} (committed with the group's)"),
        );
        let staged = Staged {
            ledger: new_ledger.clone(),
            claimed: claim.claimed.to_owned(),
        };
        let outcome = super::group::staged(&new_ledger, group, verified);
        return Ok((outcome, Some(staged)));
    }
    let (pull, op) =
        pr::publish(ctx.github, ctx.workspace, spec, &text, Some(claim.claimed)).await?;
    let verb = if op == PullOperation::Created {
        "opened"
    } else {
        "updated"
    };
    step(
        steps,
        format!("{verb} PR #{}: {}", pull.number, pull.html_url),
    );
    let outcome = Outcome::rotated(&new_ledger, super::PullRef::new(pull, op), verified);
    Ok((outcome, None))
}

/// A rotation is in flight: refresh the PR text from its branch ledger,
/// re-checked against Auth0's records first (the plan checked them too; the
/// branch may have been edited since).
pub(super) async fn refresh_pull<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    number: u64,
    steps: &mut Vec<Step>,
) -> Result<Outcome, ApplyError> {
    let ws = ctx.workspace;
    let branch = ws.branch(&spec.policy.tenant, &spec.policy.entry);
    let ledger = trusted_branch_ledger(ctx, spec, &branch).await?;
    let text = pull_text(ctx, spec, &ledger).await?;
    let pull = ctx
        .github
        .update_pull(&ws.repo, number, &text.title(spec), &text.body)
        .await?;
    step(steps, format!("refreshed PR #{}", pull.number));
    Ok(Outcome::Refreshed {
        pull: pull.number,
        pull_url: pull.html_url,
        branch: pull.head.branch,
    })
}

/// The text of the PR that proposes the branch ledger `ledger`: a rotation,
/// or an expiry change when it keeps the default branch's current credential.
async fn pull_text<'a, A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    ledger: &'a LedgerEntry,
) -> Result<pr::PullText<'a>, ApplyError> {
    let ws = ctx.workspace;
    let main = read_ledger(ctx.github, ws, spec, &ws.default_branch).await?;
    let change = pr::Change::between(main.as_ref(), ledger);
    let sinks: Vec<String> = spec.sinks.iter().map(|s| s.describe()).collect();
    Ok(pr::PullText {
        ledger,
        change,
        body: pr::body_for(spec, ledger, change, &sinks, None),
    })
}

/// The ledger on the rotation branch, only if Auth0's records agree with it
/// (see [`crate::plan::facts_problem`]).
pub(super) async fn trusted_branch_ledger<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    at: &str,
) -> Result<LedgerEntry, ApplyError> {
    let ws = ctx.workspace;
    let ledger = read_ledger(ctx.github, ws, spec, at)
        .await?
        .ok_or_else(|| ApplyError::Changed(format!("no ledger on {at}")))?;
    let auth0 = ctx.auth0_for(spec)?;
    if ledger.replaces_client.is_some() && ledger.client_id != spec.policy.client_id {
        // An onboarding onto a new client: Auth0 must confirm that client.
        let sibling = crate::observe::sibling(auth0, &ledger.client_id).await;
        let key = (
            spec.policy.tenant.as_str(),
            spec.policy.entry.as_str(),
            spec.policy.client_id.as_str(),
        );
        if let Some(problem) = crate::plan::sibling_problem(key, &ledger, Some(&sibling)) {
            return Err(ApplyError::Unsafe(format!(
                "the ledger on the rotation branch cannot be trusted: {problem}; nothing was changed"
            )));
        }
        return Ok(ledger);
    }
    let state = client_state(auth0, &spec.policy.client_id).await?;
    if let Some(problem) = crate::plan::branch_ledger_problem(&ledger, &state) {
        return Err(ApplyError::Unsafe(format!(
            "the ledger on the rotation branch cannot be trusted: {problem}; nothing was changed"
        )));
    }
    Ok(ledger)
}

/// A finished rotation whose PR was never opened: open it from the branch,
/// which must still be at the planned head.
pub(super) async fn republish<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    planned_head: Option<&str>,
    steps: &mut Vec<Step>,
) -> Result<Outcome, ApplyError> {
    let ws = ctx.workspace;
    let branch = ws.branch(&spec.policy.tenant, &spec.policy.entry);
    let head = ctx.github.branch_sha(&ws.repo, &branch).await?;
    let Some(head) = head.filter(|h| Some(h.as_str()) == planned_head) else {
        return Err(ApplyError::Busy);
    };
    let ledger = trusted_branch_ledger(ctx, spec, &head).await?;
    let text = pull_text(ctx, spec, &ledger).await?;
    if let (Some(group), pr::Change::Rotation) = (super::group::group_of(ws, spec), text.change) {
        step(
            steps,
            format!(
                "the finished rotation to {} joins the PR of {group}",
                ledger.current.credential_id
            ),
        );
        return Ok(super::group::staged(&ledger, group, false));
    }
    let (pull, op) = pr::open_pull(ctx.github, ws, spec, &text).await?;
    if text.change != pr::Change::Rotation {
        let summary = format!("opened the PR for {}", ledger.current.credential_id);
        let mut lines = Vec::new();
        let outcome = Outcome::proposed(summary, (pull, op), &text.title(spec), &mut lines);
        steps.extend(lines.into_iter().map(|what| Step { what }));
        return Ok(outcome);
    }
    step(
        steps,
        format!(
            "{} PR #{} for the finished rotation: {}",
            op.as_str(),
            pull.number,
            pull.html_url
        ),
    );
    Ok(Outcome::rotated(
        &ledger,
        super::PullRef::new(pull, op),
        false,
    ))
}
