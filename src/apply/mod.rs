//! Apply: execute a plan. Every step converges — it re-reads what it is about
//! to change, adopts what a previous run already did (credentials are found
//! by kid), and never resends a POST whose outcome is unknown.

mod finalize;
pub mod pr;
mod report;
mod rotate;
pub mod sinks;
mod spec;

pub use report::{EntryReport, Outcome, Report, Step};
pub use spec::{EntrySpec, SecretFormat, SinkSpec, Upload, VariableValue};

use std::collections::BTreeMap;

use time::OffsetDateTime;

use crate::auth0::{Auth0Api, Auth0Error};
use crate::github::{GitHubApi, GitHubError};
use crate::journal::{JournalError, JournalKeys};
use crate::keys::KeyError;
use crate::observe::{ObserveError, Workspace};
use crate::plan::{Decision, Plan};

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
    /// The journal could not be written or read.
    #[error(transparent)]
    Journal(#[from] JournalError),
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

fn record(entry: &EntrySpec, steps: Vec<Step>, result: Result<Outcome, ApplyError>) -> EntryReport {
    let outcome = match result {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(entry = %entry.key(), error = %e, "entry failed");
            Outcome::Failed {
                error: e.to_string(),
            }
        }
    };
    EntryReport {
        entry: entry.key(),
        outcome,
        steps,
    }
}

/// Stage 1: rotate what is due and refresh PRs in flight.
pub async fn rotate<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    specs: &[EntrySpec],
    plan: &Plan,
) -> Report {
    rotate_observed(ctx, specs, plan, None).await
}

/// [`rotate`], calling `on_secret` with every secret value before it is
/// sealed or written (see [`sinks::SecretObserver`]).
pub async fn rotate_observed<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    specs: &[EntrySpec],
    plan: &Plan,
    on_secret: Option<sinks::SecretObserver<'_>>,
) -> Report {
    let mut report = Report::default();
    for (spec, ep) in specs.iter().zip(&plan.entries) {
        let mut steps = Vec::new();
        let result = match &ep.decision {
            Decision::Rotate { reason } => {
                rotate::rotate_entry(
                    ctx,
                    spec,
                    rotate::Mode::Fresh(reason),
                    ep.branch_head.as_deref(),
                    &mut steps,
                    on_secret,
                )
                .await
            }
            Decision::Republish { .. } => {
                rotate::republish(ctx, spec, ep.branch_head.as_deref(), &mut steps).await
            }
            Decision::Resume { kid } => {
                rotate::rotate_entry(
                    ctx,
                    spec,
                    rotate::Mode::Resume(kid),
                    ep.branch_head.as_deref(),
                    &mut steps,
                    on_secret,
                )
                .await
            }
            Decision::InFlight { pull, .. } => {
                rotate::refresh_pull(ctx, spec, *pull, &mut steps).await
            }
            // A lock nobody can confirm is held is not a silent success.
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
        report.entries.push(record(spec, steps, result));
    }
    report
}

/// Stage 2: retire the credentials a merged rotation approved.
pub async fn finalize<A: Auth0Api, G: GitHubApi>(
    ctx: &Context<'_, A, G>,
    specs: &[EntrySpec],
    plan: &Plan,
) -> Report {
    let mut report = Report::default();
    for (spec, ep) in specs.iter().zip(&plan.entries) {
        let mut steps = Vec::new();
        let result = match &ep.decision {
            Decision::Finalize { retire } => {
                finalize::finalize_entry(ctx, spec, retire, &mut steps).await
            }
            Decision::NeedsAttention { .. } => Ok(Outcome::NeedsAttention {
                reason: ep.explanation.clone(),
            }),
            _ => Ok(Outcome::Unchanged {
                reason: ep.explanation.clone(),
            }),
        };
        report.entries.push(record(spec, steps, result));
    }
    report
}
