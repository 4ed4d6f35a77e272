//! Onboarding by cutover. Stage 1 journals a new key, registers it without
//! attaching it (the client keeps its secret), writes it to the sinks and
//! opens the PR. Stage 2, after the merge, attaches it and ends the secret
//! in one PATCH, then proves it with the journaled key.

use std::time::Duration as StdDuration;

use super::pr::{self, Change, PullText};
use super::rotate::{self, step, Mode};
use super::sinks::SecretObserver;
use super::{ApplyError, Context, EntrySpec, Outcome, Step};
use crate::auth0::Auth0Api;
use crate::github::GitHubApi;
use crate::journal::Journal;
use crate::keys::PrivateKey;
use crate::ledger::{CredentialRecord, LedgerEntry, LEDGER_VERSION};
use crate::manifest::AuthMethod;
use crate::observe::{client_state, read_journal_at, read_ledger};
use crate::plan::ClientState;

/// What the journal names as replaced by an onboarding.
const REPLACES_SECRET: &str = "client_secret";

/// The client must still use its secret, with no key attached, and sign
/// with RS256 (Auth0's rule for private_key_jwt).
fn still_on_secret(state: &ClientState) -> Result<(), ApplyError> {
    if !state.attached.is_empty() || state.secret_method.is_none() {
        return Err(ApplyError::Changed(
            "the client no longer authenticates with its secret alone".into(),
        ));
    }
    let alg = state.jwt_alg.as_deref().unwrap_or("HS256");
    if alg != "RS256" {
        return Err(ApplyError::Unsafe(format!(
            "the client's jwt_configuration.alg is {alg}; private_key_jwt needs RS256"
        )));
    }
    Ok(())
}

/// Stage 1 (see the module). `resume`: the kid of an interrupted
/// onboarding's journaled key, whose credential and sinks are adopted.
/// Guarantees: nothing is written unless the branch is still at the planned
/// head and this run won the journal's compare-and-swap; the registered
/// credential is never deleted (its key may be in a sink: sinks are written
/// before the merge); a failure marks the journal as ended.
pub(super) async fn start<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    resume: Option<&str>,
    planned_head: Option<&str>,
    steps: &mut Vec<Step>,
    on_secret: Option<SecretObserver<'_>>,
) -> Result<Outcome, ApplyError> {
    let auth0 = ctx.auth0_for(spec)?;
    let ws = ctx.workspace;
    super::sinks::preflight(ctx.github, &spec.sinks).await?;
    let snap = rotate::snapshot(ctx, auth0, spec, planned_head).await?;
    still_on_secret(&snap.state)?;
    let key = match resume {
        Some(kid) => {
            let mode = Mode::Resume(kid);
            rotate::key_for((ctx.journal, ctx.now), auth0, spec, &mode, &snap, steps)
                .await?
                .0
                .key
        }
        None => {
            let key = rotate::generate(spec).await?;
            let bits = spec.key_size.bits();
            step(
                steps,
                format!("generated a {bits}-bit RSA key, kid {}", key.kid()),
            );
            key
        }
    };
    let journal = ctx.journal.sign(&Journal {
        version: 1,
        tenant: spec.policy.tenant.clone(),
        entry: spec.policy.entry.clone(),
        client_id: spec.policy.client_id.clone(),
        kid: key.kid(),
        replaces: REPLACES_SECRET.into(),
        started_at: ctx.now,
        encrypted_key: ctx.journal.seal(&key)?,
        certificate: None,
        holder: ws.runner.clone(),
        ended: None,
        mac: None,
    });
    let claimed =
        rotate::claim_branch(ctx.github, ws, spec, &journal, snap.head.as_deref()).await?;
    let branch = ws.branch(&spec.policy.tenant, &spec.policy.entry);
    step(steps, format!("journaled the onboarding on {branch}"));
    let result = register_and_propose(ctx, auth0, spec, &key, &claimed, steps, on_secret).await;
    if let Err(e) = &result {
        rotate::release(ctx, spec, &journal, &claimed, e).await;
    }
    result
}

/// After the claim: register (not attach), write the sinks, open the PR on
/// top of the journal commit.
async fn register_and_propose<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    auth0: &A,
    spec: &EntrySpec,
    key: &PrivateKey,
    claimed: &str,
    steps: &mut Vec<Step>,
    on_secret: Option<SecretObserver<'_>>,
) -> Result<Outcome, ApplyError> {
    let material = super::mtls::Material::key(key.clone());
    let cred = rotate::register(auth0, spec, ctx.now, &material, steps).await?;
    let lines = rotate::write_forward(ctx, spec, &material, &cred.id, steps, on_secret)
        .await
        .map_err(|e| match e {
            ApplyError::SinksIncomplete { detail, .. } => ApplyError::Unsafe(format!(
                "credential {} is registered (not attached: the client still uses its secret), but writing \
                 the sinks failed ({detail}); it is kept, and the next run resumes the onboarding",
                cred.id
            )),
            e => e,
        })?;
    let ledger = LedgerEntry {
        version: LEDGER_VERSION,
        tenant: spec.policy.tenant.clone(),
        entry: spec.policy.entry.clone(),
        client_id: spec.policy.client_id.clone(),
        current: CredentialRecord {
            credential_id: cred.id.clone(),
            kid: key.kid(),
            alg: spec.policy.alg,
            created_at: cred.created_at.unwrap_or(ctx.now),
            expires_at: cred.expires_at,
        },
        retiring: Vec::new(),
        auth_method: AuthMethod::PrivateKeyJwt,
        attach_on_merge: true,
        journal_commit: Some(claimed.to_owned()),
        replaces_client: None,
        retire_old_client: None,
    };
    let text = PullText {
        ledger: &ledger,
        change: Change::Cutover,
        body: pr::cutover_body(spec, &ledger, &lines),
    };
    let published = pr::publish_after(ctx.github, ctx.workspace, spec, &text, claimed).await?;
    let summary = format!(
        "registered {} (kid {}) for private_key_jwt, attached at the merge",
        cred.id,
        crate::plan::short_kid(&key.kid())
    );
    let mut lines = Vec::new();
    let outcome = Outcome::proposed(summary, published, &text.title(spec), &mut lines);
    steps.extend(lines.into_iter().map(|what| Step { what }));
    Ok(outcome)
}

/// Stage 2: a merged cutover. Re-checks the approved ledger against Auth0,
/// attaches its credential with `token_endpoint_auth_method: null` (sent
/// again, unchanged, when its outcome is unknown: the write may have
/// happened), then proves the key with a token exchange when the journal's
/// key can be opened. A failed proof is reported, never undone.
pub(super) async fn cutover<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    credential_id: &str,
    steps: &mut Vec<Step>,
) -> Result<Outcome, ApplyError> {
    let auth0 = ctx.auth0_for(spec)?;
    let ws = ctx.workspace;
    let ledger = read_ledger(ctx.github, ws, spec, &ws.default_branch)
        .await?
        .filter(|l| l.attach_on_merge && l.current.credential_id == credential_id)
        .ok_or_else(|| ApplyError::Changed("the approved cutover ledger changed".into()))?;
    let client_id = &spec.policy.client_id;
    let state = client_state(auth0, client_id).await?;
    if state.attached != [credential_id.to_owned()] {
        if let Some(problem) = crate::plan::onboarding_problem(&ledger, &state) {
            return Err(ApplyError::Unsafe(format!(
                "the cutover was refused, nothing was changed: {problem}"
            )));
        }
        still_on_secret(&state)?;
        attach_forward(auth0, client_id, credential_id).await?;
    }
    step(
        steps,
        format!("attached {credential_id} and ended the client secret (private_key_jwt only from now on)"),
    );
    let verified = match journaled_key(ctx, spec, &ledger).await {
        Some(key) => Some(prove(auth0, spec, &key).await?),
        None => None,
    };
    let how = match verified {
        Some(true) => ", verified by a token exchange",
        Some(false) => " (no verify.audience: not proven)",
        None => " (not proven: the journaled key cannot be opened without the age identity)",
    };
    step(steps, format!("switched to private_key_jwt{how}"));
    Ok(Outcome::Applied {
        summary: format!("switched {client_id} to private_key_jwt with {credential_id}{how}"),
        pull: None,
    })
}

async fn attach_forward<A: Auth0Api>(
    auth0: &A,
    client_id: &str,
    credential_id: &str,
) -> Result<(), ApplyError> {
    let ids = [credential_id.to_owned()];
    let mut last = None;
    for _ in 0..3 {
        match auth0.set_private_key_jwt(client_id, &ids).await {
            Ok(_) => return Ok(()),
            Err(e) if e.is_transient() || e.status().is_none() => last = Some(e),
            Err(e) => return Err(e.into()),
        }
    }
    Err(last.expect("three attempts were made").into())
}

/// The onboarding's key, from the journal commit the ledger names, when the
/// journal carries this tool's tag and the ledger's kid (the ledger field
/// itself is not trusted).
async fn journaled_key<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    ledger: &LedgerEntry,
) -> Option<PrivateKey> {
    let at = ledger.journal_commit.as_deref()?;
    let j = read_journal_at(ctx.github, ctx.workspace, spec, at)
        .await
        .ok()??;
    if j.kid != ledger.current.kid || !ctx.journal.is_authentic(&j) {
        tracing::warn!(entry = %spec.key(), "the onboarding's journal does not match the ledger; not used");
        return None;
    }
    let key = ctx.journal.open(j.encrypted_key.as_deref()?).ok()?;
    (key.kid() == ledger.current.kid).then_some(key)
}

/// A token exchange with the new key (401s retried: a new credential can
/// take a moment to apply). `Ok(false)`: the entry has no audience.
async fn prove<A: Auth0Api>(
    auth0: &A,
    spec: &EntrySpec,
    key: &PrivateKey,
) -> Result<bool, ApplyError> {
    let Some(audience) = &spec.verify_audience else {
        return Ok(false);
    };
    let client_id = &spec.policy.client_id;
    let mut attempt = 0u64;
    loop {
        attempt += 1;
        match auth0
            .exchange_with_key(client_id, key, spec.policy.alg, audience)
            .await
        {
            Ok(()) => return Ok(true),
            Err(e) if e.status() == Some(401) && attempt < 3 => {
                tokio::time::sleep(StdDuration::from_millis(500 * attempt)).await;
            }
            Err(e) => {
                return Err(ApplyError::Verify(format!(
                    "the client now uses private_key_jwt with the new key, but a token exchange with it failed \
                     ({e}); nothing was undone. Check the key in the sinks and the client's grants"
                )))
            }
        }
    }
}
