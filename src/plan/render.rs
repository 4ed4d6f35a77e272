//! Plan renderings: plain text for terminals, JSON for machines, Markdown for
//! job summaries and PR bodies.

use std::fmt::Write;

use super::{date, Decision, EntryPlan, Plan};

impl Decision {
    /// A short label.
    pub fn label(&self) -> &'static str {
        match self {
            Decision::Rotate { .. } => "rotate",
            Decision::Resume { .. } => "resume",
            Decision::Republish { .. } => "open PR",
            Decision::Busy { .. } => "busy",
            Decision::InFlight { .. } => "in flight",
            Decision::Finalize { .. } => "finalize",
            Decision::ProposeExpiry { .. } => "propose expiry",
            Decision::UpdateExpiry { .. } => "set expiry",
            Decision::ProposeRevert { .. } => "propose revert",
            Decision::Revert { .. } => "revert",
            Decision::UsesSecret { .. } => "uses secret",
            Decision::Onboard { .. } => "onboard",
            Decision::Cutover { .. } => "cutover",
            Decision::RetireOldClient { .. } => "retire old client",
            Decision::SwitchSecret { .. } => "switch secret",
            Decision::ProposeSecret { .. } => "propose secret",
            Decision::SetSecret { .. } => "set secret",
            Decision::RetireSecret { .. } => "retire secret",
            Decision::NotDue { .. } => "not due",
            Decision::NeedsAttention { .. } => "needs attention",
        }
    }
}

impl EntryPlan {
    /// `tenant/entry`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.tenant, self.entry)
    }
}

impl Plan {
    /// Counts per decision label, in a fixed order.
    pub fn counts(&self) -> [(&'static str, usize); 5] {
        let n = |f: fn(&Decision) -> bool| self.entries.iter().filter(|e| f(&e.decision)).count();
        [
            (
                "to rotate",
                n(|d| {
                    matches!(
                        d,
                        Decision::Rotate { .. }
                            | Decision::Resume { .. }
                            | Decision::Republish { .. }
                            | Decision::ProposeExpiry { .. }
                            | Decision::ProposeRevert { .. }
                            | Decision::Onboard { .. }
                            | Decision::SwitchSecret { .. }
                            | Decision::ProposeSecret { .. }
                    )
                }),
            ),
            (
                "to finalize",
                n(|d| {
                    matches!(
                        d,
                        Decision::Finalize { .. }
                            | Decision::UpdateExpiry { .. }
                            | Decision::Revert { .. }
                            | Decision::Cutover { .. }
                            | Decision::RetireOldClient { .. }
                            | Decision::SetSecret { .. }
                            | Decision::RetireSecret { .. }
                    )
                }),
            ),
            (
                "in flight",
                n(|d| matches!(d, Decision::InFlight { .. } | Decision::Busy { .. })),
            ),
            (
                "need attention",
                n(|d| matches!(d, Decision::NeedsAttention { .. })),
            ),
            (
                "not due",
                n(|d| matches!(d, Decision::NotDue { .. } | Decision::UsesSecret { .. })),
            ),
        ]
    }

    fn summary_line(&self) -> String {
        self.counts()
            .iter()
            .map(|(label, n)| format!("{n} {label}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Plain text.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let width = self
            .entries
            .iter()
            .map(|e| e.key().len())
            .max()
            .unwrap_or(0);
        for e in &self.entries {
            let _ = writeln!(
                out,
                "{:width$}  {:<15}  {}",
                e.key(),
                e.decision.label().to_uppercase(),
                e.explanation
            );
            if let Some(c) = &e.current {
                let _ = write!(out, "{:width$}  current {}", "", c.credential_id);
                if let Some(k) = &c.kid {
                    let _ = write!(out, ", kid {}", super::short_kid(k));
                }
                if let Some(t) = &c.thumbprint_sha256 {
                    let _ = write!(out, ", certificate thumbprint {}", super::short_kid(t));
                }
                if let Some(a) = c.age_days {
                    let _ = write!(out, ", {a} days old");
                }
                if let Some(x) = c.expires_at {
                    let _ = write!(out, ", expires {}", date(x));
                }
                out.push('\n');
            }
        }
        let _ = writeln!(out, "\n{}", self.summary_line());
        out
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("plans always serialize")
    }

    /// GitHub-flavoured Markdown (a table and the explanations).
    pub fn to_markdown(&self) -> String {
        let mut out = String::from("### auth0-rotate plan\n\n");
        out.push_str("| Entry | Client | State | Kid | Age | Expires | Next due | Action |\n");
        out.push_str("|---|---|---|---|---|---|---|---|\n");
        for e in &self.entries {
            let c = e.current.as_ref();
            let kid = c
                .and_then(|c| c.kid.as_deref())
                .map(|k| format!("`{}`", super::short_kid(k)))
                .or_else(|| {
                    c.and_then(|c| c.thumbprint_sha256.as_deref())
                        .map(|t| format!("certificate `{}`", super::short_kid(t)))
                })
                .unwrap_or_default();
            let age = c
                .and_then(|c| c.age_days)
                .map(|a| format!("{a} d"))
                .unwrap_or_default();
            let expires = c.and_then(|c| c.expires_at).map(date).unwrap_or_default();
            let next = match &e.decision {
                Decision::NotDue { next_due } => date(*next_due),
                Decision::Rotate { .. } => "now".to_owned(),
                _ => String::new(),
            };
            let action = match &e.decision {
                Decision::InFlight { pull, url } => format!("PR [#{pull}]({url}) open"),
                d => d.label().to_owned(),
            };
            let _ = writeln!(
                out,
                "| `{}` | `{}` | {} | {} | {} | {} | {} | {} |",
                e.key(),
                e.client_id,
                e.decision.label(),
                kid,
                age,
                expires,
                next,
                action
            );
        }
        out.push('\n');
        for e in &self.entries {
            let _ = writeln!(out, "- **{}**: {}", e.key(), md_escape(&e.explanation));
        }
        let _ = writeln!(out, "\n{}", self.summary_line());
        out
    }
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('<', "&lt;")
}
