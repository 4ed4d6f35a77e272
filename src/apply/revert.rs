//! Reverting a client to a client secret (break-glass). Stage 1 proposes
//! it in the entry's PR; stage 2, after the merge, sets a new secret and the
//! secret method in one PATCH, proves the secret and writes it to the sinks.

use super::pr::{self, Change, PullText};
use super::sinks::{client_secret_content, write_secret_sinks, SecretObserver};
use super::{ApplyError, Context, EntrySpec, Outcome, Step};
use crate::auth0::Auth0Api;
use crate::github::GitHubApi;
use crate::ledger::LedgerEntry;
use crate::manifest::AuthMethod;
use crate::observe::{client_state, read_ledger};
use crate::plan::ClientState;
use crate::secret::SecretString;

/// The default branch's ledger and the client, re-read before a write.
async fn reread<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    auth0: &A,
    spec: &EntrySpec,
) -> Result<(LedgerEntry, ClientState), ApplyError> {
    let ws = ctx.workspace;
    let ledger = read_ledger(ctx.github, ws, spec, &ws.default_branch)
        .await?
        .ok_or_else(|| {
            ApplyError::Changed("the ledger disappeared from the default branch".into())
        })?;
    let state = client_state(auth0, &spec.policy.client_id).await?;
    Ok((ledger, state))
}

/// Stage 1: proposes the revert in the entry's PR (the branch is rebuilt
/// from the default branch while it is still at the planned head). Nothing
/// changes in Auth0 and no secret is written.
pub(super) async fn propose<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    to: AuthMethod,
    planned_head: Option<&str>,
    steps: &mut Vec<Step>,
) -> Result<Outcome, ApplyError> {
    let auth0 = ctx.auth0_for(spec)?;
    let (main, state) = reread(ctx, auth0, spec).await?;
    if let Some(problem) = crate::plan::facts_problem(&main, &state) {
        return Err(ApplyError::Unsafe(format!(
            "the ledger cannot be trusted, nothing was proposed: {problem}"
        )));
    }
    let mut proposed = main;
    proposed.auth_method = to;
    // A past onboarding's marks describe that PR, not this one.
    proposed.attach_on_merge = false;
    proposed.journal_commit = None;
    proposed
        .retiring
        .retain(|r| state.credential(&r.credential_id).is_some());
    let sinks: Vec<String> = spec.sinks.iter().map(|s| s.describe()).collect();
    let text = PullText {
        ledger: &proposed,
        change: Change::Revert { to },
        body: pr::revert_body(spec, &proposed, to, &sinks),
    };
    let published = pr::publish(ctx.github, ctx.workspace, spec, &text, planned_head).await;
    let (pull, op) = published.map_err(|e| match e {
        ApplyError::Changed(_) => ApplyError::Busy,
        e => e,
    })?;
    let summary = format!("proposed reverting to a client secret ({})", to.as_str());
    let mut lines = Vec::new();
    let outcome = Outcome::proposed(summary, (pull, op), &text.title(spec), &mut lines);
    steps.extend(lines.into_iter().map(|what| Step { what }));
    Ok(outcome)
}

/// Stage 2: carries out a merged revert. Re-checks that the default
/// branch's ledger still approves it and (while keys are attached) agrees
/// with Auth0; then one PATCH sets a new secret and the secret method (the
/// keys stop working here), a token exchange proves the secret, and the
/// sinks receive it.
///
/// Guarantees: from the PATCH on, the run only moves forward. A PATCH whose
/// outcome is unknown may have set the secret, so it is sent again with the
/// same secret (idempotent); if the sinks cannot be written, the error says
/// so and `rotate --force` on the entry sets a new secret and writes it.
pub(super) async fn carry_out<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    to: AuthMethod,
    steps: &mut Vec<Step>,
    on_secret: Option<SecretObserver<'_>>,
) -> Result<Outcome, ApplyError> {
    let auth0 = ctx.auth0_for(spec)?;
    let (ledger, state) = reread(ctx, auth0, spec).await?;
    if ledger.auth_method != to {
        return Err(ApplyError::Changed(
            "the ledger on the default branch no longer approves the revert".into(),
        ));
    }
    if !state.attached.is_empty() {
        if let Some(problem) = crate::plan::facts_problem(&ledger, &state) {
            return Err(ApplyError::Unsafe(format!(
                "the revert was refused, nothing was changed: {problem}"
            )));
        }
    }
    super::sinks::preflight(ctx.github, &spec.sinks).await?;
    let secret = SecretString::random_client_secret().map_err(ApplyError::Unsafe)?;
    let client_id = &spec.policy.client_id;
    patch_forward(auth0, client_id, to, &secret).await?;
    steps.push(Step {
        what: format!(
            "switched client {client_id} to {} with a new client secret (its keys are no longer accepted)",
            to.as_str()
        ),
    });
    let verified = prove(auth0, spec, &secret, steps).await;
    let content = client_secret_content(client_id, &secret);
    let written = write_secret_sinks(ctx.github, &spec.sinks, &content, on_secret).await;
    let lines = match written {
        Ok(w) => w,
        Err((w, e)) => {
            let done: Vec<String> = w.iter().map(|w| w.sink.clone()).collect();
            return Err(ApplyError::Unsafe(format!(
                "client {client_id} now authenticates with a new client secret, but writing the sinks failed \
                 after {} of {} ({e}). Run `auth0-rotate rotate --force {}` to set another secret and write it",
                done.len(),
                spec.sinks.len(),
                spec.key()
            )));
        }
    };
    for w in &lines {
        steps.push(Step {
            what: format!("wrote {}", w.sink),
        });
    }
    Ok(Outcome::Applied {
        summary: format!(
            "reverted to a client secret ({}){}",
            to.as_str(),
            if verified {
                ", verified by a token exchange"
            } else {
                ""
            }
        ),
        pull: None,
    })
}

/// The revert PATCH, sent again with the same secret when its outcome is
/// unknown (a lost answer: the write may have happened; repeating it is
/// harmless, undoing it is not).
async fn patch_forward<A: Auth0Api>(
    auth0: &A,
    client_id: &str,
    to: AuthMethod,
    secret: &SecretString,
) -> Result<(), ApplyError> {
    let mut last = None;
    for _ in 0..3 {
        match auth0.revert_to_secret(client_id, to.as_str(), secret).await {
            Ok(_) => return Ok(()),
            Err(e) if e.is_transient() || e.status().is_none() => last = Some(e),
            Err(e) => return Err(e.into()),
        }
    }
    Err(last.expect("three attempts were made").into())
}

/// A token exchange with the new secret for `verify.audience` (Auth0 may
/// take up to 30 s to apply a new secret, so failures are retried and then
/// only reported: the switch has happened and the sinks still need it).
async fn prove<A: Auth0Api>(
    auth0: &A,
    spec: &EntrySpec,
    secret: &SecretString,
    steps: &mut Vec<Step>,
) -> bool {
    let Some(audience) = &spec.verify_audience else {
        return false;
    };
    for attempt in 0..4u32 {
        match auth0
            .exchange_with_secret(&spec.policy.client_id, secret, audience)
            .await
        {
            Ok(()) => {
                steps.push(Step {
                    what: format!("verified the new secret with a token exchange for {audience}"),
                });
                return true;
            }
            Err(e) => {
                tracing::warn!(attempt, error = %e, "the new client secret was not accepted yet");
                tokio::time::sleep(std::time::Duration::from_secs(2u64.pow(attempt))).await;
            }
        }
    }
    steps.push(Step {
        what: "the new secret was not accepted by a token exchange yet (Auth0 may take up to 30 s)"
            .into(),
    });
    false
}
