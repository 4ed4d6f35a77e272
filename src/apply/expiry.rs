//! Expiry changes: a changed `lifetime` moves the current credential's
//! `expires_at` (its only mutable field) through the entry's PR instead of
//! rotating it. Stage 1 proposes the new expiry in a ledger PR; stage 2 sets
//! it once a merged PR approved it.

use time::OffsetDateTime;

use super::pr::{self, Change, PullText};
use super::{ApplyError, Context, EntrySpec, Outcome, Step};
use crate::auth0::Auth0Api;
use crate::github::GitHubApi;
use crate::ledger::LedgerEntry;
use crate::observe::{client_state, read_ledger};
use crate::plan::{when, ClientState};

/// What a proposal or an update acts on: the current credential and the
/// expiry the plan chose for it.
pub(super) struct Target<'a> {
    /// The current credential.
    pub credential_id: &'a str,
    /// The new expiry.
    pub to: OffsetDateTime,
}

/// Re-reads the default branch's ledger and the client, and checks that the
/// plan still holds: the ledger's current credential is `target`'s, it is
/// attached and Auth0's records agree with the ledger, and `target.to` lies
/// in the future.
async fn recheck<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    auth0: &A,
    spec: &EntrySpec,
    target: &Target<'_>,
) -> Result<(LedgerEntry, ClientState), ApplyError> {
    let ws = ctx.workspace;
    let ledger = read_ledger(ctx.github, ws, spec, &ws.default_branch)
        .await?
        .ok_or_else(|| {
            ApplyError::Changed("the ledger disappeared from the default branch".into())
        })?;
    if ledger.current.credential_id != target.credential_id {
        return Err(ApplyError::Changed(format!(
            "the ledger's current credential is {}, not {}",
            ledger.current.credential_id, target.credential_id
        )));
    }
    let state = client_state(auth0, &spec.policy.client_id).await?;
    if let Some(problem) = crate::plan::facts_problem(&ledger, &state) {
        return Err(ApplyError::Unsafe(format!(
            "the ledger cannot be trusted, nothing was changed: {problem}"
        )));
    }
    if target.to <= ctx.now {
        return Err(ApplyError::Unsafe(format!(
            "the expiry {} has passed; nothing was changed",
            when(target.to)
        )));
    }
    Ok((ledger, state))
}

/// Stage 1: proposes `target.to` as the current credential's expiry in the
/// entry's PR (the branch is rebuilt from the default branch while it is
/// still at the planned head). Nothing changes in Auth0.
pub(super) async fn propose<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    target: &Target<'_>,
    planned_head: Option<&str>,
    steps: &mut Vec<Step>,
) -> Result<Outcome, ApplyError> {
    let auth0 = ctx.auth0_for(spec)?;
    let (main, state) = recheck(ctx, auth0, spec, target).await?;
    let mut proposed = main.clone();
    proposed.current.expires_at = Some(target.to);
    // A past onboarding's marks describe that PR, not this one.
    proposed.attach_on_merge = false;
    proposed.journal_commit = None;
    // Credentials an earlier finalize deleted are no longer worth listing.
    proposed
        .retiring
        .retain(|r| state.credential(&r.credential_id).is_some());
    let change = Change::Expiry {
        from: main.current.expires_at,
    };
    let text = PullText {
        ledger: &proposed,
        change,
        body: pr::expiry_body(spec, &proposed, main.current.expires_at),
    };
    let published = pr::publish(ctx.github, ctx.workspace, spec, &text, planned_head).await;
    let (pull, op) = published.map_err(|e| match e {
        // Another run (or a person) moved the branch since the plan.
        ApplyError::Changed(_) => ApplyError::Busy,
        e => e,
    })?;
    let summary = format!(
        "proposed expiry {} for {}",
        when(target.to),
        target.credential_id
    );
    let mut lines = Vec::new();
    let outcome = Outcome::proposed(summary, (pull, op), &text.title(spec), &mut lines);
    steps.extend(lines.into_iter().map(|what| Step { what }));
    Ok(outcome)
}

/// Stage 2: sets the expiry a merged PR approved, re-checked against the
/// default branch's ledger and Auth0 immediately before the write. The
/// PATCH is idempotent, so a retry after an unknown outcome is safe.
pub(super) async fn update<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    target: &Target<'_>,
    steps: &mut Vec<Step>,
) -> Result<Outcome, ApplyError> {
    let auth0 = ctx.auth0_for(spec)?;
    let (ledger, _) = recheck(ctx, auth0, spec, target).await?;
    if ledger.current.expires_at != Some(target.to) {
        return Err(ApplyError::Changed(
            "the ledger's expiry changed since the plan".into(),
        ));
    }
    let cred = auth0
        .set_credential_expiry(&spec.policy.client_id, target.credential_id, target.to)
        .await?;
    let set = cred.expires_at.map_or_else(|| "none".to_owned(), when);
    steps.push(Step {
        what: format!("set the expiry of {} to {set}", target.credential_id),
    });
    Ok(Outcome::Applied {
        summary: format!("expiry of {} set to {set}", target.credential_id),
        pull: None,
    })
}
