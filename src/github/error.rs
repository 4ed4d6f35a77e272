/// A GitHub API failure. Never carries request bodies (which may hold
/// sealed secrets) or tokens.
#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    /// The token may not write secrets or variables.
    #[error(
        "GitHub refused {operation} (HTTP 403: {}). The token cannot write Actions secrets or variables: \
         the workflow's GITHUB_TOKEN never can. Pass a GitHub App installation token (permissions: Secrets: write, \
         Variables: write, Environments: read, Contents: write, Pull requests: write) or a fine-grained PAT with the \
         same permissions as the `github-token` input",
        crate::text::neutral(message)
    )]
    TokenCannotWriteSecrets {
        /// What was attempted.
        operation: String,
        /// GitHub's message.
        message: String,
    },
    /// The API answered with an error status.
    #[error(
        "GitHub {operation} failed: HTTP {status}: {}",
        crate::text::neutral(message)
    )]
    Api {
        /// What was attempted.
        operation: String,
        /// HTTP status.
        status: u16,
        /// GitHub's message (and validation errors).
        message: String,
    },
    /// The request did not complete.
    #[error("GitHub {operation}: request failed: {}", crate::text::neutral(detail))]
    Transport {
        /// What was attempted.
        operation: String,
        /// Transport message.
        detail: String,
    },
    /// The request did not complete within its total deadline.
    #[error("GitHub {operation}: timed out after {secs} s talking to {url}")]
    Timeout {
        /// What was attempted.
        operation: String,
        /// The request URL.
        url: String,
        /// The deadline.
        secs: u64,
    },
    /// The response did not parse.
    #[error(
        "GitHub {operation}: unexpected response: {}",
        crate::text::neutral(detail)
    )]
    Decode {
        /// What was attempted.
        operation: String,
        /// Parse message.
        detail: String,
    },
    /// Sealing failed (bad public key).
    #[error("cannot seal secret for {store}: {detail}")]
    Seal {
        /// The store.
        store: String,
        /// What was wrong.
        detail: String,
    },
}

impl GitHubError {
    /// HTTP status of API errors.
    pub fn status(&self) -> Option<u16> {
        match self {
            GitHubError::Api { status, .. } => Some(*status),
            GitHubError::TokenCannotWriteSecrets { .. } => Some(403),
            _ => None,
        }
    }
}
