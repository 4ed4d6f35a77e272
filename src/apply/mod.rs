//! Apply: execute a plan. Every step converges — it re-reads what it is about
//! to change, adopts what a previous run already did (credentials are found
//! by kid), and never resends a POST whose outcome is unknown.

mod claims;
mod expiry;
mod finalize;
mod group;
mod mtls;
mod new_client;
mod onboard;
pub mod pr;
mod report;
mod revert;
mod rotate;
mod secret;
pub mod sinks;

pub use crate::spec::{EntrySpec, SecretFormat, SinkSpec, Upload, VariableValue};
pub use claims::{claim_chunks, Chunk, Claims};
pub use group::publish_groups;
pub use mtls::secret_content as mtls_secret_content;
pub use report::{EntryReport, Outcome, PullRef, Report, Staged, Step};

use std::collections::BTreeMap;

use futures_util::stream::{self, StreamExt};
use time::OffsetDateTime;

use crate::auth0::{Auth0Api, Auth0Error};
use crate::github::{GitHubApi, GitHubError};
use crate::journal::{JournalError, JournalKeys};
use crate::keys::KeyError;
use crate::observe::ObserveError;
use crate::plan::{Decision, EntryPlan, Plan};
use crate::workspace::{Workspace, WorkspaceError};

/// Why an entry could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Auth0 refused or failed.
    #[error(transparent)]
    Auth0(#[from] Auth0Error),
    /// GitHub refused or failed.
    #[error(transparent)]
    GitHub(#[from] GitHubError),
    /// Key work failed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Reading state failed.
    #[error(transparent)]
    Observe(#[from] ObserveError),
    /// The world changed since the plan was made.
    #[error("state changed since planning: {0}; nothing further was changed, run again")]
    Changed(String),
    /// The new key did not work.
    #[error("the new key failed verification: {0}")]
    Verify(String),
    /// The step would break a guarantee; refused.
    #[error("refused: {0}")]
    Unsafe(String),
    /// Another run holds the entry's rotation branch.
    #[error("another run is rotating this entry (its rotation branch moved since the plan); nothing was changed")]
    Busy,
    /// The new credential is attached and proven, but not every sink write
    /// is known to have succeeded. Nothing is rolled back: a write whose
    /// outcome is unknown may have put the new key in a secret.
    #[error(
        "the new credential {credential_id} is attached next to the old one, but writing the sinks failed ({detail});          it is kept (a secret may already hold its key) and the next run finishes the rotation"
    )]
    SinksIncomplete {
        /// The new credential, left attached.
        credential_id: String,
        /// The sink error.
        detail: String,
    },
    /// A sink cannot be written; checked before the first Auth0 write.
    #[error("preflight failed, nothing was changed: {0}")]
    Preflight(String),
    /// A repository write could not be made safely.
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    /// The journal could not be written or read.
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// Which stage a run carries out after planning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Stage 1: rotate what is due, refresh PRs in flight, carry out
    /// approved revokes that have become safe.
    Rotate,
    /// Stage 2: retire what a merged PR approved.
    Finalize,
}

/// Everything apply needs.
pub struct Context<'a, A, G> {
    /// Auth0 clients by tenant name.
    pub auth0: &'a BTreeMap<String, A>,
    /// GitHub.
    pub github: &'a G,
    /// Repository layout.
    pub workspace: &'a Workspace,
    /// Keys for the pending-key journal.
    pub journal: &'a JournalKeys,
    /// The custom domain's `cname-api-key`, which the customer edge sends
    /// with mTLS token requests: needed to prove a new self-signed
    /// certificate (`self_signed_tls_client_auth` entries only).
    pub mtls_cname_api_key: Option<&'a crate::secret::SecretString>,
    /// The instant to act at.
    pub now: OffsetDateTime,
}

impl<A, G> Context<'_, A, G> {
    fn auth0_for(&self, spec: &EntrySpec) -> Result<&A, ApplyError> {
        self.auth0.get(&spec.policy.tenant).ok_or_else(|| {
            ApplyError::Unsafe(format!(
                "no Auth0 management credentials for tenant {}",
                spec.policy.tenant
            ))
        })
    }
}

/// The entry on the client its plan was made for: an entry onboarded onto
/// a new client lives on it once the planner confirmed it with Auth0
/// (`None`: the manifest's client).
fn on_planned_client(spec: &EntrySpec, ep: &EntryPlan) -> Option<EntrySpec> {
    (ep.client_id != spec.policy.client_id).then(|| spec.on_client(&ep.client_id))
}

fn record(entry: &EntrySpec, steps: Vec<Step>, result: Result<Outcome, ApplyError>) -> EntryReport {
    EntryReport::new(entry.key(), steps, result)
}

/// Stage 1: rotate what is due and refresh PRs in flight.
pub async fn rotate<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    specs: &[EntrySpec],
    plan: &Plan,
) -> Report {
    rotate_observed(ctx, specs, plan, None, 1).await
}

/// [`rotate`], `concurrency` entries at a time (each entry's steps stay in
/// order; entries share nothing but the clients), calling `on_secret` with
/// every secret value before it is sealed or written (see
/// [`sinks::SecretObserver`]). The report is in manifest order.
pub async fn rotate_observed<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    specs: &[EntrySpec],
    plan: &Plan,
    on_secret: Option<sinks::SecretObserver<'_>>,
    concurrency: usize,
) -> Report {
    let (claims, chunks) = claim_chunks(ctx, specs, plan, concurrency);
    let claims = &claims;
    // Futures made up front (not in a stream closure), so the run stays Send.
    let runs: Vec<_> = specs
        .iter()
        .zip(&plan.entries)
        .map(|(spec, ep)| rotate_one(ctx, spec, ep, on_secret, claims))
        .collect();
    let entries = stream::iter(runs).buffered(concurrency.max(1)).collect();
    let ((), entries) = tokio::join!(claims.run(ctx, chunks, concurrency), entries);
    let mut report = Report { entries };
    publish_groups(ctx, specs, plan, &mut report).await;
    report
}

/// Stage 1 for one entry: carries out its decision (rotate, resume,
/// republish, refresh its PR, propose a new expiry). A grouped entry's
/// rotation stops at its branch; [`publish_groups`] proposes it. A decision with nothing to do reports
/// `unchanged`; a problem, or a lock nobody can confirm is held, reports
/// `needs attention` and changes nothing. An entry claimed with its group
/// (see [`Claims`]) goes on from its claim.
pub async fn rotate_one<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    ep: &EntryPlan,
    on_secret: Option<sinks::SecretObserver<'_>>,
    claims: &Claims,
) -> EntryReport {
    if let Some(claimed) = claims.take(&spec.key()).await {
        return rotate_claimed(ctx, spec, claimed, on_secret).await;
    }
    let mut steps = Vec::new();
    let head = ep.branch_head.as_deref();
    let moved = on_planned_client(spec, ep);
    let spec = moved.as_ref().unwrap_or(spec);
    if secret::is_secret_entry(spec) {
        let result = rotate_secret(ctx, spec, ep, on_secret, &mut steps).await;
        return record(spec, steps, result);
    }
    let result = match &ep.decision {
        Decision::Rotate { reason } => {
            let mode = rotate::Mode::Fresh(reason);
            let planned = (head, &ep.seen);
            let r = rotate::rotate_entry(ctx, spec, mode, planned, &mut steps, on_secret).await;
            return record_staged(spec, steps, r);
        }
        Decision::Republish { .. } => rotate::republish(ctx, spec, head, &mut steps).await,
        Decision::Resume { kid } => {
            let mode = rotate::Mode::Resume(kid);
            let planned = (head, &ep.seen);
            let r = rotate::rotate_entry(ctx, spec, mode, planned, &mut steps, on_secret).await;
            return record_staged(spec, steps, r);
        }
        // The group's PR is refreshed once for all its entries.
        Decision::InFlight { pull, url } if ep.group_pull.is_some() => Ok(Outcome::Refreshed {
            pull: *pull,
            pull_url: url.clone(),
            branch: group::group_of(ctx.workspace, spec).unwrap_or_default(),
        }),
        Decision::InFlight { pull, .. } => rotate::refresh_pull(ctx, spec, *pull, &mut steps).await,
        Decision::ProposeExpiry {
            credential_id, to, ..
        } => {
            let target = expiry::Target {
                credential_id,
                to: *to,
            };
            expiry::propose(ctx, spec, &target, head, &mut steps).await
        }
        Decision::Onboard {
            strategy: crate::manifest::Onboard::NewClient,
            resume,
        } => new_client::start(ctx, spec, resume.as_deref(), head, &mut steps, on_secret).await,
        Decision::Onboard { resume, .. } => {
            onboard::start(ctx, spec, resume.as_deref(), head, &mut steps, on_secret).await
        }
        Decision::ProposeRevert { to } => revert::propose(ctx, spec, *to, head, &mut steps).await,
        // A merged revert (or a forced new secret) need not wait for finalize.
        Decision::Revert { to } => revert::carry_out(ctx, spec, *to, &mut steps, on_secret).await,
        Decision::NeedsAttention { .. }
        | Decision::Busy {
            confirmed: false, ..
        } => Ok(Outcome::NeedsAttention {
            reason: ep.explanation.clone(),
        }),
        _ => Ok(Outcome::Unchanged {
            reason: ep.explanation.clone(),
        }),
    };
    record(spec, steps, result)
}

/// [`record`] for a key rotation, which may hold its ledger for its group.
fn record_staged(
    spec: &EntrySpec,
    steps: Vec<Step>,
    result: Result<(Outcome, Option<Staged>), ApplyError>,
) -> EntryReport {
    let (result, staged) = match result {
        Ok((outcome, staged)) => (Ok(outcome), staged),
        Err(e) => (Err(e), None),
    };
    let mut report = record(spec, steps, result);
    report.staged = staged;
    report
}

/// Stage 1 for an entry claimed with its group (see [`claims`]).
async fn rotate_claimed<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    claimed: claims::Claimed,
    on_secret: Option<sinks::SecretObserver<'_>>,
) -> EntryReport {
    match claimed {
        claims::Claimed::Failed { steps, error } => record(spec, steps, Err(error)),
        claims::Claimed::Ready {
            prepared,
            claimed,
            mut steps,
        } => {
            let with = (prepared.as_ref(), claimed.as_str());
            let result = claims::carry_on(ctx, spec, with, &mut steps, on_secret).await;
            record_staged(spec, steps, result)
        }
    }
}

/// Both stages of an entry with `secret_rotation`: what is approved need not
/// wait for finalize, and a PR in flight has nothing to refresh.
async fn rotate_secret<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    ep: &EntryPlan,
    on_secret: Option<sinks::SecretObserver<'_>>,
    steps: &mut Vec<Step>,
) -> Result<Outcome, ApplyError> {
    let head = ep.branch_head.as_deref();
    match &ep.decision {
        Decision::SwitchSecret { to_client } => {
            secret::switch(ctx, spec, to_client, (head, on_secret), steps).await
        }
        Decision::ProposeSecret { .. } => secret::propose(ctx, spec, head, steps).await,
        Decision::SetSecret { .. } => secret::set(ctx, spec, on_secret, steps).await,
        Decision::RetireSecret { client_id } => secret::retire(ctx, spec, client_id, steps).await,
        Decision::NeedsAttention { .. } => Ok(Outcome::NeedsAttention {
            reason: ep.explanation.clone(),
        }),
        _ => Ok(Outcome::Unchanged {
            reason: ep.explanation.clone(),
        }),
    }
}

/// Stage 2: retire the credentials a merged rotation approved.
pub async fn finalize<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    specs: &[EntrySpec],
    plan: &Plan,
) -> Report {
    finalize_concurrently(ctx, specs, plan, 1).await
}

/// [`finalize`], `concurrency` entries at a time; the report is in
/// manifest order.
pub async fn finalize_concurrently<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    specs: &[EntrySpec],
    plan: &Plan,
    concurrency: usize,
) -> Report {
    let runs: Vec<_> = specs
        .iter()
        .zip(&plan.entries)
        .map(|(spec, ep)| finalize_one(ctx, spec, ep))
        .collect();
    let entries = stream::iter(runs)
        .buffered(concurrency.max(1))
        .collect()
        .await;
    Report { entries }
}

/// Stage 2 for one entry: retires what its `Finalize` decision names, or
/// sets the expiry its `UpdateExpiry` decision names (each re-checked
/// against Auth0 first); any other decision changes nothing.
pub async fn finalize_one<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    spec: &EntrySpec,
    ep: &EntryPlan,
) -> EntryReport {
    let mut steps = Vec::new();
    let moved = on_planned_client(spec, ep);
    let spec = moved.as_ref().unwrap_or(spec);
    if secret::is_secret_entry(spec) {
        let result = match &ep.decision {
            Decision::SetSecret { .. } | Decision::RetireSecret { .. } => {
                rotate_secret(ctx, spec, ep, None, &mut steps).await
            }
            Decision::NeedsAttention { .. } => Ok(Outcome::NeedsAttention {
                reason: ep.explanation.clone(),
            }),
            _ => Ok(Outcome::Unchanged {
                reason: ep.explanation.clone(),
            }),
        };
        return record(spec, steps, result);
    }
    let result = match &ep.decision {
        Decision::Finalize { retire } => {
            finalize::finalize_entry(ctx, spec, retire, &mut steps).await
        }
        Decision::UpdateExpiry { credential_id, to } => {
            let target = expiry::Target {
                credential_id,
                to: *to,
            };
            expiry::update(ctx, spec, &target, &mut steps).await
        }
        Decision::Revert { to } => revert::carry_out(ctx, spec, *to, &mut steps, None).await,
        Decision::Cutover { credential_id } => {
            onboard::cutover(ctx, spec, credential_id, &mut steps).await
        }
        Decision::RetireOldClient { how, .. } => {
            new_client::retire(ctx, spec, *how, &mut steps).await
        }
        Decision::NeedsAttention { .. } => Ok(Outcome::NeedsAttention {
            reason: ep.explanation.clone(),
        }),
        _ => Ok(Outcome::Unchanged {
            reason: ep.explanation.clone(),
        }),
    };
    record(spec, steps, result)
}
