//! Stage 2: detach and delete the credentials a merged ledger retires —
//! only after re-reading the ledger and re-checking it against Auth0's
//! records immediately before each write.

use super::{ApplyError, Context, EntrySpec, Outcome, Step};
use crate::auth0::Auth0Api;
use crate::github::GitHubApi;
use crate::ledger::Retiring;
use crate::observe::{client_state, read_ledger};

pub(super) async fn finalize_entry<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    retire: &[Retiring],
    steps: &mut Vec<Step>,
) -> Result<Outcome, ApplyError> {
    let auth0 = ctx.auth0_for(spec)?;
    // Re-read the approved ledger: only what the default branch says is retired.
    let ledger = read_ledger(
        ctx.github,
        ctx.workspace,
        spec,
        &ctx.workspace.default_branch,
    )
    .await?
    .ok_or_else(|| ApplyError::Changed("the ledger disappeared from the default branch".into()))?;
    let current = &ledger.current.credential_id;
    refuse_self_lockout(auth0, spec, &ledger)?;
    let mut retired = Vec::new();
    for r in retire {
        if !ledger
            .retiring
            .iter()
            .any(|x| x.credential_id == r.credential_id)
        {
            return Err(ApplyError::Changed(format!(
                "{} is no longer listed as retiring",
                r.credential_id
            )));
        }
        if &r.credential_id == current {
            return Err(ApplyError::Unsafe(format!(
                "the ledger lists the current credential {current} as retiring"
            )));
        }
        let state = client_state(auth0, &spec.policy.client_id).await?;
        // Re-checked before every write: the ledger must agree with Auth0's
        // own records (the newest attached, tool-registered credential is
        // current; only older ones retire), whoever wrote or merged it.
        if let Some(problem) = crate::plan::facts_problem(&ledger, &state) {
            return Err(ApplyError::Unsafe(format!(
                "finalize refused, nothing was deleted: {problem}"
            )));
        }
        if !state.is_attached(current) {
            return Err(ApplyError::Unsafe(format!(
                "the ledger's current credential {current} is not attached; retiring {} could leave the client without a working key",
                r.credential_id
            )));
        }
        if state.is_attached(&r.credential_id) {
            let keep: Vec<String> = state
                .attached
                .iter()
                .filter(|id| **id != r.credential_id)
                .cloned()
                .collect();
            if keep.is_empty() {
                return Err(ApplyError::Unsafe(
                    "detaching would leave the client with no credential".into(),
                ));
            }
            super::mtls::set_attached(auth0, spec, &keep).await?;
            steps.push(Step {
                what: format!(
                    "detached {} (attached now: {})",
                    r.credential_id,
                    keep.join(", ")
                ),
            });
        }
        if auth0
            .delete_credential(&spec.policy.client_id, &r.credential_id)
            .await?
        {
            steps.push(Step {
                what: format!("deleted {} (kid {})", r.credential_id, r.kid),
            });
        } else {
            steps.push(Step {
                what: format!("{} was already deleted", r.credential_id),
            });
        }
        retired.push(r.credential_id.clone());
    }
    Ok(Outcome::Finalized { retired })
}

/// Self-rotation: when this run signs its Management API requests as the
/// entry's own client, it must sign with the ledger's current (new) key, or
/// retiring could delete the key the tool works with.
fn refuse_self_lockout<A: Auth0Api>(
    auth0: &A,
    spec: &EntrySpec,
    ledger: &crate::ledger::LedgerEntry,
) -> Result<(), ApplyError> {
    match auth0.management_key() {
        Some((client_id, kid)) if client_id == spec.policy.client_id && kid != ledger.current.kid => {
            Err(ApplyError::Unsafe(format!(
                "this run signs its Management API requests as client {client_id} with kid {kid}, not with the \
                 ledger's current key {}; nothing was deleted (retiring could lock the tool out)",
                ledger.current.kid
            )))
        }
        _ => Ok(()),
    }
}
