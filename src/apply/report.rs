//! What `rotate` and `finalize` did, per entry.

use serde::Serialize;

use crate::github::WriteOutcome;
use crate::workspace::PullOperation;

/// A step that changed something.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// Short description (no key material).
    pub what: String,
}

/// A pull request an entry opened or updated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PullRef {
    /// Number.
    pub number: u64,
    /// Web URL.
    pub url: String,
    /// Its head branch.
    pub branch: String,
    /// Whether it was created or updated.
    pub operation: PullOperation,
}

impl PullRef {
    /// The PR GitHub answered with, and what was done to it.
    pub(crate) fn new(pull: crate::github::Pull, operation: PullOperation) -> Self {
        PullRef {
            number: pull.number,
            url: pull.html_url,
            branch: pull.head.branch,
            operation,
        }
    }
}

/// The result for one entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// A new credential is attached, verified, stored and proposed in a PR.
    Rotated {
        /// New credential id.
        credential_id: String,
        /// New kid.
        kid: String,
        /// Credentials the PR retires.
        retiring: Vec<String>,
        /// PR number.
        pull: u64,
        /// PR URL.
        pull_url: String,
        /// Whether the PR was created or updated.
        pull_operation: PullOperation,
        /// The PR's branch.
        branch: String,
        /// Whether a token exchange proved the key.
        verified: bool,
    },
    /// A rotation was already in flight; its PR was refreshed.
    Refreshed {
        /// PR number.
        pull: u64,
        /// PR URL.
        pull_url: String,
        /// The PR's branch.
        branch: String,
    },
    /// Old credentials were detached and deleted.
    Finalized {
        /// Retired credential ids.
        retired: Vec<String>,
    },
    /// A signing-key or connection-key step changed something (a rotation,
    /// a revoke, a PR asking consumers to prepare).
    Applied {
        /// What changed.
        summary: String,
        /// The PR opened or updated, if any.
        pull: Option<PullRef>,
    },
    /// Waiting for a time or an event; a later run continues. Not a failure.
    Waiting {
        /// Why, and until when.
        reason: String,
    },
    /// Nothing to do.
    Unchanged {
        /// Why.
        reason: String,
    },
    /// A human must decide; nothing was changed for this entry.
    NeedsAttention {
        /// What is wrong and what to do.
        reason: String,
    },
    /// The entry failed; independent entries went on.
    Failed {
        /// What went wrong (never key material).
        error: String,
    },
}

impl Outcome {
    /// A key step that opened or updated `pull`: records the step
    /// (`PR #n created: <title>`) and returns [`Outcome::Applied`].
    pub(crate) fn proposed(
        summary: String,
        (pull, op): (crate::github::Pull, PullOperation),
        title: &str,
        steps: &mut Vec<String>,
    ) -> Outcome {
        steps.push(format!("PR #{} {op}: {title}", pull.number));
        Outcome::Applied {
            summary,
            pull: Some(PullRef::new(pull, op)),
        }
    }

    /// A rotation to `ledger`'s current credential, proposed in `pull`,
    /// retiring what the ledger retires.
    pub(crate) fn rotated(
        ledger: &crate::ledger::LedgerEntry,
        pull: PullRef,
        verified: bool,
    ) -> Outcome {
        Outcome::Rotated {
            credential_id: ledger.current.credential_id.clone(),
            kid: ledger.current.kid.clone(),
            retiring: ledger
                .retiring
                .iter()
                .map(|r| r.credential_id.clone())
                .collect(),
            pull: pull.number,
            pull_url: pull.url,
            pull_operation: pull.operation,
            branch: pull.branch,
            verified,
        }
    }

    /// The PR this outcome opened, updated or refreshed.
    pub fn pull(&self) -> Option<PullRef> {
        match self {
            Outcome::Rotated {
                pull,
                pull_url,
                pull_operation,
                branch,
                ..
            } => Some(PullRef {
                number: *pull,
                url: pull_url.clone(),
                branch: branch.clone(),
                operation: *pull_operation,
            }),
            Outcome::Refreshed {
                pull,
                pull_url,
                branch,
            } => Some(PullRef {
                number: *pull,
                url: pull_url.clone(),
                branch: branch.clone(),
                operation: PullOperation::Updated,
            }),
            Outcome::Applied { pull, .. } => pull.clone(),
            _ => None,
        }
    }
}

/// A grouped entry's proposed ledger, held for its group's commit
/// (`apply::publish_groups` writes it on the entry's branch and in the
/// group's PR at once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staged {
    /// The ledger the rotation proposes.
    pub ledger: crate::ledger::LedgerEntry,
    /// The run's journal commit: the head the entry's branch must still
    /// have when the ledger replaces it.
    pub claimed: String,
}

/// Per-entry record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryReport {
    /// `tenant/entry`.
    pub entry: String,
    /// Result.
    pub outcome: Outcome,
    /// Changes made, in order.
    pub steps: Vec<Step>,
    /// A grouped rotation's ledger, not yet committed (never reported).
    #[serde(skip)]
    pub staged: Option<Staged>,
}

impl EntryReport {
    /// The record of an entry's result: an error becomes
    /// [`Outcome::Failed`] (its text never holds key material).
    pub fn new(
        entry: String,
        steps: Vec<Step>,
        result: Result<Outcome, crate::apply::ApplyError>,
    ) -> Self {
        let outcome = result.unwrap_or_else(|e| {
            tracing::error!(entry = %entry, error = %e, "entry failed");
            Outcome::Failed {
                error: e.to_string(),
            }
        });
        Self {
            entry,
            outcome,
            steps,
            staged: None,
        }
    }
}

/// The whole run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Per entry, in manifest order.
    pub entries: Vec<EntryReport>,
}

impl Report {
    /// True if any entry failed.
    pub fn has_failures(&self) -> bool {
        self.entries
            .iter()
            .any(|e| matches!(e.outcome, Outcome::Failed { .. }))
    }

    /// Entries that failed or need a human.
    pub fn needing_attention(&self) -> Vec<&EntryReport> {
        self.entries
            .iter()
            .filter(|e| {
                matches!(
                    e.outcome,
                    Outcome::NeedsAttention { .. } | Outcome::Failed { .. }
                )
            })
            .collect()
    }

    /// Process exit code: 0 all fine, 1 if any entry failed or needs a human.
    pub fn exit_code(&self) -> i32 {
        i32::from(!self.needing_attention().is_empty())
    }

    /// Plain-text rendering.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for e in &self.entries {
            let head = match &e.outcome {
                Outcome::Rotated {
                    kid,
                    pull_url,
                    pull_operation,
                    verified,
                    ..
                } => format!(
                    "rotated: new kid {}, {}, PR {pull_operation}: {pull_url}",
                    crate::plan::short_kid(kid),
                    if *verified {
                        "verified by a token exchange"
                    } else {
                        "not verified (no verify.audience)"
                    }
                ),
                Outcome::Refreshed { pull_url, .. } => {
                    format!("in flight: PR refreshed: {pull_url}")
                }
                Outcome::Finalized { retired } => {
                    format!("finalized: retired {}", retired.join(", "))
                }
                Outcome::Applied { summary, pull } => match pull {
                    Some(p) => format!("{summary} (PR {}: {})", p.operation.as_str(), p.url),
                    None => summary.clone(),
                },
                Outcome::Waiting { reason } => format!("waiting: {reason}"),
                Outcome::Unchanged { reason } => format!("unchanged: {reason}"),
                Outcome::NeedsAttention { reason } => format!("NEEDS ATTENTION: {reason}"),
                Outcome::Failed { error } => format!("FAILED: {error}"),
            };
            out.push_str(&format!("{}: {head}\n", e.entry));
            for s in &e.steps {
                out.push_str(&format!("  - {}\n", s.what));
            }
        }
        out
    }
}

pub(crate) fn outcome_word(o: WriteOutcome) -> &'static str {
    match o {
        WriteOutcome::Created => "created",
        WriteOutcome::Updated => "updated",
    }
}
