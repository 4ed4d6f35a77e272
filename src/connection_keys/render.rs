//! Labels and table cells for connection-key plans (the combined renderings
//! live in [`crate::tenant_keys`]).

use super::ConnectionDecision;
use crate::plan::date;

impl ConnectionDecision {
    /// A short label.
    pub fn label(&self) -> &'static str {
        match self {
            ConnectionDecision::Provision => "provision",
            ConnectionDecision::Propose { .. } => "open PR",
            ConnectionDecision::InFlight { .. } => "in flight",
            ConnectionDecision::Rotate { .. } => "rotate",
            ConnectionDecision::Record { .. } => "record",
            ConnectionDecision::NotDue { .. } => "not due",
            ConnectionDecision::NeedsAttention { .. } => "needs attention",
        }
    }

    /// The "when" cell.
    pub fn when(&self) -> String {
        match self {
            ConnectionDecision::NotDue { next_due } => date(*next_due),
            ConnectionDecision::InFlight { .. } | ConnectionDecision::NeedsAttention { .. } => {
                String::new()
            }
            _ => "now".into(),
        }
    }
}
