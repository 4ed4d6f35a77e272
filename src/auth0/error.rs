use std::fmt;
use std::time::Duration;

/// An Auth0 API failure. Messages are Auth0's own (they never echo key
/// material), truncated; request bodies are never included.
#[derive(Debug, thiserror::Error)]
pub enum Auth0Error {
    /// The API answered with an error status.
    #[error("Auth0 {operation} failed: HTTP {status}: {}{}", crate::text::neutral(message), code_suffix(.code))]
    Api {
        /// What was attempted, e.g. `POST /clients/{id}/credentials`.
        operation: String,
        /// HTTP status.
        status: u16,
        /// Auth0's message or OAuth error description.
        message: String,
        /// Auth0's `errorCode` / OAuth `error`.
        code: Option<String>,
        /// Seconds until the rate limit resets, from `x-ratelimit-reset` on a 429.
        retry_after: Option<u64>,
    },
    /// The request did not complete (connection, timeout, TLS).
    #[error("Auth0 {operation}: request failed: {}", crate::text::neutral(detail))]
    Transport {
        /// What was attempted.
        operation: String,
        /// Transport message.
        detail: String,
    },
    /// The response did not parse.
    #[error(
        "Auth0 {operation}: unexpected response: {}",
        crate::text::neutral(detail)
    )]
    Decode {
        /// What was attempted.
        operation: String,
        /// Parse message.
        detail: String,
    },
    /// Local signing failed.
    #[error("cannot sign client assertion: {0}")]
    Key(#[from] crate::keys::KeyError),
}

fn code_suffix(code: &Option<String>) -> String {
    code.as_ref()
        .map(|c| format!(" ({})", crate::text::neutral(c)))
        .unwrap_or_default()
}

/// A transport failure, saying where and, for a timeout, after how long:
/// "timed out after 30 s talking to https://tenant.auth0.com/api/v2/clients".
pub(crate) fn transport(operation: &str, e: &reqwest::Error, deadline: Duration) -> Auth0Error {
    let url = e
        .url()
        .map(|u| {
            let mut u = u.clone();
            u.set_query(None);
            u.to_string()
        })
        .unwrap_or_else(|| "Auth0".into());
    let detail = if e.is_timeout() {
        format!("timed out after {} s talking to {url}", deadline.as_secs())
    } else if e.is_connect() {
        format!("could not connect to {url}: {e}")
    } else {
        e.to_string()
    };
    Auth0Error::Transport {
        operation: operation.into(),
        detail,
    }
}

impl Auth0Error {
    /// The HTTP status, for API errors.
    pub fn status(&self) -> Option<u16> {
        match self {
            Auth0Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// True for 404.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// True when retrying later may succeed (429, 5xx, transport).
    pub fn is_transient(&self) -> bool {
        matches!(self, Auth0Error::Transport { .. })
            || self.status().is_some_and(|s| s == 429 || s >= 500)
    }
}

/// Keeps API messages short and single-line in reports.
pub(crate) fn clip(message: &str) -> String {
    let one_line: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() > 300 {
        format!("{}…", one_line.chars().take(300).collect::<String>())
    } else {
        one_line
    }
}

impl fmt::Display for crate::auth0::types::NewCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "credential {:?} ({})", self.name, self.alg)
    }
}
