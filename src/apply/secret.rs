//! Client-secret rotation (`secret_rotation`): the steps the planner's
//! `SwitchSecret`, `ProposeSecret`, `SetSecret` and `RetireSecret` name.
//!
//! Every secret is derived ([`crate::observe::derived_secret`]) from the age
//! identity, the client and the ledger's `rotation`, so each step converges:
//! a run that stopped half-way, or two runs at once, set and write the very
//! same secret, and Auth0's own record (read back with `read:client_keys`)
//! tells whether a step is done. A PATCH whose outcome is unknown is sent
//! again unchanged; nothing is undone.

use super::pr::{self, LedgerPull};
use super::sinks::{client_secret_content, write_secret_sinks, SecretObserver};
use super::{ApplyError, Context, EntrySpec, Outcome, Step};
use crate::auth0::Auth0Api;
use crate::github::GitHubApi;
use crate::ledger::{SecretLedger, SecretLedgerKind, LEDGER_VERSION};
use crate::manifest::{SecretRotation, SecretScheme};
use crate::observe::{derived_secret, held, read_secret_ledger, retired_rotation};
use crate::plan::Held;
use crate::secret::SecretString;

fn step(steps: &mut Vec<Step>, what: String) {
    steps.push(Step { what });
}

/// The default branch's client-secret ledger, re-read before a write.
async fn main_ledger<A, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
) -> Result<Option<SecretLedger>, ApplyError> {
    let ws = ctx.workspace;
    let path = ws.ledger_path(&spec.policy.tenant, &spec.policy.entry);
    Ok(read_secret_ledger(ctx.github, ws, &path, &ws.default_branch).await?)
}

/// The merged ledger, re-checked: present, a merged PR's, still approving.
async fn approved_ledger<A, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
) -> Result<SecretLedger, ApplyError> {
    let ledger = main_ledger(ctx, spec)
        .await?
        .ok_or_else(|| ApplyError::Changed("the ledger left the default branch".into()))?;
    let ws = ctx.workspace;
    let branch = ws.branch(&spec.policy.tenant, &spec.policy.entry);
    let path = ws.ledger_path(&spec.policy.tenant, &spec.policy.entry);
    let origin =
        crate::observe::secret_provenance(ctx.github, ws, (&branch, &path), &ledger).await?;
    if let crate::plan::Provenance::Unverified { reason } = origin {
        return Err(ApplyError::Unsafe(format!(
            "the client-secret ledger cannot be trusted, nothing was changed: {reason}"
        )));
    }
    Ok(ledger)
}

/// The secret of `rotation` for `client_id`.
fn secret_for<A, G>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    client_id: &str,
    rotation: &str,
) -> Result<SecretString, ApplyError> {
    derived_secret(ctx.journal, spec, client_id, rotation).ok_or_else(|| {
        ApplyError::Unsafe("secret_rotation needs the age identity (age-identity)".into())
    })
}

/// Which derived secret of `rotation` the client holds now, refusing a
/// client that authenticates with credentials.
async fn holds<A: Auth0Api, G>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    auth0: &A,
    client_id: &str,
    rotation: &str,
) -> Result<Held, ApplyError> {
    let client = auth0.get_client(client_id).await?;
    if client.client_authentication_methods.is_some() {
        return Err(ApplyError::Unsafe(format!(
            "client {client_id} authenticates with credentials, not a client secret; nothing was changed"
        )));
    }
    Ok(client.client_secret.as_ref().map_or(Held::Other, |s| {
        held(ctx.journal, spec, client_id, rotation, s)
    }))
}

/// Stage 1 of `alternating`: a new secret on the idle client `to`, proven
/// by a token exchange before the sinks point at it, then the PR. The active
/// client is not touched: consumers keep working whichever they use.
pub(super) async fn switch<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    to: &str,
    (planned_head, on_secret): (Option<&str>, Option<SecretObserver<'_>>),
    steps: &mut Vec<Step>,
) -> Result<Outcome, ApplyError> {
    let auth0 = ctx.auth0_for(spec)?;
    let main = main_ledger(ctx, spec).await?;
    let active = main
        .as_ref()
        .map_or(spec.policy.client_id.clone(), |l| l.active.clone());
    if active == to {
        return Err(ApplyError::Changed(format!(
            "client {to} became the active client since the plan"
        )));
    }
    let rotation = main
        .as_ref()
        .map_or_else(|| "initial".to_owned(), |l| crate::plan::rfc3339(l.since));
    let secret = secret_for(ctx, spec, to, &rotation)?;
    super::sinks::preflight(ctx.github, &spec.sinks).await?;
    if holds(ctx, spec, auth0, to, &rotation).await? == Held::Current {
        step(
            steps,
            format!("client {to} already holds this rotation's secret"),
        );
    } else {
        set_forward(auth0, to, &secret).await?;
        step(
            steps,
            format!("set a new secret on client {to} (idle: nobody uses it yet)"),
        );
    }
    if !prove(auth0, spec, to, &secret, steps).await {
        return Err(ApplyError::Verify(format!(
            "client {to}'s new secret was not accepted by a token exchange; the sinks were not changed \
             (consumers keep using client {active}) and the next run tries again with the same secret"
        )));
    }
    write(ctx, spec, to, &secret, on_secret, steps).await?;
    let ledger = SecretLedger {
        version: LEDGER_VERSION,
        kind: SecretLedgerKind::ClientSecret,
        tenant: spec.policy.tenant.clone(),
        entry: spec.policy.entry.clone(),
        scheme: SecretScheme::Alternating,
        active: to.to_owned(),
        since: ctx.now,
        rotation,
        retiring: Some(active.clone()),
        set_on_merge: false,
    };
    let file = LedgerPull {
        title: format!(
            "auth0-rotate: switch {} to client {to} (new secret)",
            spec.key()
        ),
        body: switch_body(spec, &ledger, &active),
        ledger: ledger.render(),
    };
    publish(
        ctx,
        spec,
        &file,
        planned_head,
        steps,
        "switched the sinks to a new secret",
    )
    .await
}

/// Stage 1 of `single`: the PR, nothing else.
pub(super) async fn propose<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    planned_head: Option<&str>,
    steps: &mut Vec<Step>,
) -> Result<Outcome, ApplyError> {
    let client_id = &spec.policy.client_id;
    let ledger = SecretLedger {
        version: LEDGER_VERSION,
        kind: SecretLedgerKind::ClientSecret,
        tenant: spec.policy.tenant.clone(),
        entry: spec.policy.entry.clone(),
        scheme: SecretScheme::Single,
        active: client_id.clone(),
        since: ctx.now,
        rotation: crate::plan::rfc3339(ctx.now),
        retiring: None,
        set_on_merge: true,
    };
    let file = LedgerPull {
        title: format!(
            "auth0-rotate: replace the client secret of {} (not zero-downtime)",
            spec.key()
        ),
        body: single_body(spec, &ledger),
        ledger: ledger.render(),
    };
    publish(
        ctx,
        spec,
        &file,
        planned_head,
        steps,
        "proposed a new client secret",
    )
    .await
}

async fn publish<A, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    file: &LedgerPull,
    planned_head: Option<&str>,
    steps: &mut Vec<Step>,
    summary: &str,
) -> Result<Outcome, ApplyError> {
    let published = pr::publish_ledger(ctx.github, ctx.workspace, spec, file, planned_head).await;
    let (pull, op) = published.map_err(|e| match e {
        ApplyError::Changed(_) => ApplyError::Busy,
        e => e,
    })?;
    let mut lines = Vec::new();
    let outcome = Outcome::proposed(summary.to_owned(), (pull, op), &file.title, &mut lines);
    steps.extend(lines.into_iter().map(|what| Step { what }));
    Ok(outcome)
}

/// After the merge of a `single` rotation: the sinks first, then Auth0, so
/// that Auth0 holding the new secret means the sinks were written (a run
/// that stopped between the two writes the same secret again).
pub(super) async fn set<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    on_secret: Option<SecretObserver<'_>>,
    steps: &mut Vec<Step>,
) -> Result<Outcome, ApplyError> {
    let auth0 = ctx.auth0_for(spec)?;
    let ledger = approved_ledger(ctx, spec).await?;
    let client_id = ledger.active.as_str();
    if !ledger.set_on_merge || client_id != spec.policy.client_id {
        return Err(ApplyError::Changed(
            "the ledger on the default branch no longer approves a new secret".into(),
        ));
    }
    let secret = secret_for(ctx, spec, client_id, &ledger.rotation)?;
    if holds(ctx, spec, auth0, client_id, &ledger.rotation).await? == Held::Current {
        return Ok(Outcome::Unchanged {
            reason: format!("client {client_id} already holds the approved secret"),
        });
    }
    super::sinks::preflight(ctx.github, &spec.sinks).await?;
    write(ctx, spec, client_id, &secret, on_secret, steps).await?;
    set_forward(auth0, client_id, &secret).await?;
    step(
        steps,
        format!("set the new secret on client {client_id} (the previous one stops working)"),
    );
    let verified = prove(auth0, spec, client_id, &secret, steps).await;
    Ok(Outcome::Applied {
        summary: format!(
            "replaced the client secret{}",
            if verified {
                ", verified by a token exchange"
            } else {
                ""
            }
        ),
        pull: None,
    })
}

/// After the merge of an `alternating` switch: the previous client gets a
/// secret only this tool can derive, once the active client is shown to
/// hold the secret the sinks were given.
pub(super) async fn retire<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    client_id: &str,
    steps: &mut Vec<Step>,
) -> Result<Outcome, ApplyError> {
    let auth0 = ctx.auth0_for(spec)?;
    let ledger = approved_ledger(ctx, spec).await?;
    if ledger.retiring.as_deref() != Some(client_id) || ledger.active == client_id {
        return Err(ApplyError::Changed(format!(
            "the ledger on the default branch no longer retires client {client_id}"
        )));
    }
    let active = &ledger.active;
    if holds(ctx, spec, auth0, active, &ledger.rotation).await? != Held::Current {
        return Err(ApplyError::Unsafe(format!(
            "client {active} does not hold the secret the sinks were given, so client {client_id} may still \
             be the one in use; nothing was changed"
        )));
    }
    let rotation = retired_rotation(&ledger.rotation);
    if holds(ctx, spec, auth0, client_id, &ledger.rotation).await? == Held::Retired {
        return Ok(Outcome::Unchanged {
            reason: format!("client {client_id}'s secret was already replaced"),
        });
    }
    let secret = secret_for(ctx, spec, client_id, &rotation)?;
    set_forward(auth0, client_id, &secret).await?;
    step(
        steps,
        format!("replaced client {client_id}'s secret with one nobody holds"),
    );
    Ok(Outcome::Applied {
        summary: format!("retired client {client_id}'s secret; client {active} is in use"),
        pull: None,
    })
}

/// Writes `{client_id, client_secret}` into every sink.
async fn write<A, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    client_id: &str,
    secret: &SecretString,
    on_secret: Option<SecretObserver<'_>>,
    steps: &mut Vec<Step>,
) -> Result<(), ApplyError> {
    let content = client_secret_content(client_id, secret);
    match write_secret_sinks(ctx.github, &spec.sinks, &content, on_secret).await {
        Ok(written) => {
            for w in written {
                step(steps, format!("wrote {}", w.sink));
            }
            Ok(())
        }
        Err((written, e)) => Err(ApplyError::Unsafe(format!(
            "writing the sinks failed after {} of {} ({e}); the next run writes the same secret again",
            written.len(),
            spec.sinks.len()
        ))),
    }
}

/// `PATCH {client_secret}`, sent again unchanged when its outcome is
/// unknown (the write may have happened; repeating it is harmless).
async fn set_forward<A: Auth0Api>(
    auth0: &A,
    client_id: &str,
    secret: &SecretString,
) -> Result<(), ApplyError> {
    let mut last = None;
    for _ in 0..3 {
        match auth0.set_client_secret(client_id, secret).await {
            Ok(()) => return Ok(()),
            Err(e) if e.is_transient() || e.status().is_none() => last = Some(e),
            Err(e) => return Err(e.into()),
        }
    }
    Err(last.expect("three attempts were made").into())
}

/// A token exchange with `secret` for `verify.audience`, retried for the
/// up to 30 s Auth0 may take to apply a new secret.
async fn prove<A: Auth0Api>(
    auth0: &A,
    spec: &EntrySpec,
    client_id: &str,
    secret: &SecretString,
    steps: &mut Vec<Step>,
) -> bool {
    let Some(audience) = &spec.verify_audience else {
        return false;
    };
    for attempt in 0..5u32 {
        match auth0
            .exchange_with_secret(client_id, secret, audience)
            .await
        {
            Ok(()) => {
                step(
                    steps,
                    format!("verified client {client_id}'s new secret with a token exchange for {audience}"),
                );
                return true;
            }
            Err(e) => {
                tracing::warn!(attempt, error = %e, "the new client secret was not accepted yet");
                tokio::time::sleep(std::time::Duration::from_secs(2u64.pow(attempt))).await;
            }
        }
    }
    false
}

fn switch_body(spec: &EntrySpec, l: &SecretLedger, previous: &str) -> String {
    format!(
        "## Switch `{}` to client `{}`\n\n\
         Client `{}` on tenant `{}` got a new client secret, proven by a token exchange, and the sinks \
         ({}) now hold `{{client_id, client_secret}}` for it. Client `{previous}` still works: consumers \
         move when they next read the sinks, with no downtime.\n\n\
         **Merging approves retiring client `{previous}`'s secret**: finalize replaces it with one nobody \
         holds, so a leaked secret lives at most one rotation period. Merge once every consumer reads the \
         new value (after their next deploy or run).\n\n\
         The ledger holds no secret: each is derived from the tool's age identity and the rotation `{}`.\n",
        spec.key(),
        l.active,
        l.active,
        spec.tenant_domain,
        sink_list(spec),
        l.rotation
    )
}

fn single_body(spec: &EntrySpec, l: &SecretLedger) -> String {
    format!(
        "## Replace the client secret of `{}`\n\n\
         **This is not zero-downtime.** Auth0 keeps one secret per client. When this PR is merged, \
         finalize writes a new secret into the sinks ({}) and then sets it on client `{}` (tenant `{}`): \
         from that moment the old secret stops working, and Auth0 may take up to 30 s to apply the new \
         one. Consumers fail until they read the new value.\n\n\
         Merge when consumers can take that (for example right before their deploy). For rotation with \
         no downtime, use `secret_rotation: alternating` with a second client.\n",
        spec.key(),
        sink_list(spec),
        l.active,
        spec.tenant_domain
    )
}

fn sink_list(spec: &EntrySpec) -> String {
    spec.sinks
        .iter()
        .map(|s| s.describe())
        .collect::<Vec<_>>()
        .join(", ")
}

/// True when `spec` rotates a client secret.
pub(super) fn is_secret_entry(spec: &EntrySpec) -> bool {
    matches!(
        spec.policy.secret_rotation,
        Some(SecretRotation::Single | SecretRotation::Alternating { .. })
    )
}
