//! Labels and table cells for signing-key plans (the combined renderings
//! live in [`crate::tenant_keys`]).

use super::{SigningDecision, SigningPlan, SigningWait};
use crate::plan::date;

impl SigningDecision {
    /// A short label.
    pub fn label(&self) -> &'static str {
        match self {
            SigningDecision::Rotate { .. } => "rotate",
            SigningDecision::Propose { .. } => "propose",
            SigningDecision::Publish { .. } => "open PR",
            SigningDecision::InFlight { .. } => "in flight",
            SigningDecision::Revoke { .. } => "revoke",
            SigningDecision::RevokeLater { .. } => "revoke later",
            SigningDecision::Waiting { .. } => "waiting",
            SigningDecision::NotDue { .. } => "not due",
            SigningDecision::NeedsAttention { .. } => "needs attention",
        }
    }

    /// The "when" cell: now, a date, or empty.
    pub fn when(&self) -> String {
        match self {
            SigningDecision::Rotate { .. }
            | SigningDecision::Propose { .. }
            | SigningDecision::Publish { .. }
            | SigningDecision::Revoke { .. } => "now".into(),
            SigningDecision::RevokeLater { safe_at, .. } => date(*safe_at),
            SigningDecision::NotDue { next_due } => date(*next_due),
            SigningDecision::Waiting { reason } => match reason {
                SigningWait::Gate { until, .. } => until.map(date).unwrap_or_default(),
                SigningWait::JwksCache { until } | SigningWait::RateLimit { until } => date(*until),
            },
            _ => String::new(),
        }
    }
}

impl SigningPlan {
    /// `tenant/signing-keys`.
    pub fn key(&self) -> String {
        format!("{}/signing-keys", self.tenant)
    }
}
