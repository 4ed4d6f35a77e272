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
        "GitHub {operation} failed: HTTP {status} from {url}: {}",
        crate::text::neutral(message)
    )]
    Api {
        /// What was attempted.
        operation: String,
        /// The request URL, without its query.
        url: String,
        /// HTTP status.
        status: u16,
        /// GitHub's message (and validation errors).
        message: String,
    },
    /// GitHub could not be reached: the connection, the DNS lookup or the
    /// TLS handshake failed, so the request never got to it.
    #[error("could not reach GitHub at {url}: {}", crate::text::neutral(cause))]
    Unreachable {
        /// What was attempted.
        operation: String,
        /// The request URL, without its query.
        url: String,
        /// The innermost cause, e.g. `connection refused`.
        cause: String,
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
        /// The request URL, without its query.
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

    /// The URL GitHub could not be reached at (a connection, DNS or TLS
    /// failure, or no answer within the deadline): the edge turns it into
    /// the setting to check.
    pub fn unreachable_url(&self) -> Option<&str> {
        match self {
            GitHubError::Unreachable { url, .. } | GitHubError::Timeout { url, .. } => Some(url),
            _ => None,
        }
    }
}

/// A request that got no answer, as the error that says where it went: a
/// failure to connect (refused, DNS, TLS) is [`GitHubError::Unreachable`],
/// anything later (a connection dropped mid-answer) is
/// [`GitHubError::Transport`]. Both name the URL and the innermost cause.
pub(super) fn no_answer(operation: &str, url: &str, e: &octocrab::Error) -> GitHubError {
    let cause = crate::text::root_cause(e);
    if failed_to_connect(e) {
        GitHubError::Unreachable {
            operation: operation.into(),
            url: url.into(),
            cause,
        }
    } else {
        GitHubError::Transport {
            operation: operation.into(),
            detail: format!("{cause} (talking to {url})"),
        }
    }
}

/// `e` and its sources, outermost first.
fn chain<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |e| e.source())
}

/// True when the request never got to GitHub. hyper's client files a
/// refused connection, a failed DNS lookup and a failed TLS handshake under
/// its `Connect` kind, which it shows only in its message.
fn failed_to_connect(e: &(dyn std::error::Error + 'static)) -> bool {
    chain(e).any(|e| {
        e.to_string() == "client error (Connect)"
            || e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error with a source, as hyper's client wraps a connector's.
    #[derive(Debug, thiserror::Error)]
    #[error("{what}")]
    struct Wrapped {
        what: &'static str,
        #[source]
        source: std::io::Error,
    }

    #[test]
    fn a_failed_connection_is_told_from_a_dropped_answer() {
        let connect = Wrapped {
            what: "client error (Connect)",
            source: std::io::Error::other(
                "failed to lookup address information: Name or service not known",
            ),
        };
        assert!(failed_to_connect(&connect));
        assert_eq!(
            crate::text::root_cause(&connect),
            "failed to lookup address information: Name or service not known"
        );
        let refused = std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused (os error 111)",
        );
        assert!(failed_to_connect(&refused));
        assert_eq!(crate::text::root_cause(&refused), "connection refused");
        let dropped = Wrapped {
            what: "client error (SendRequest)",
            source: std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset"),
        };
        assert!(!failed_to_connect(&dropped));
    }

    #[test]
    fn only_unreachable_and_timeout_errors_have_an_unreachable_url() {
        let unreachable = GitHubError::Unreachable {
            operation: "GET repository".into(),
            url: "http://127.0.0.1:9/repos/acme/infra".into(),
            cause: "connection refused".into(),
        };
        assert_eq!(
            unreachable.to_string(),
            "could not reach GitHub at http://127.0.0.1:9/repos/acme/infra: connection refused"
        );
        let timeout = GitHubError::Timeout {
            operation: "GET repository".into(),
            url: "http://127.0.0.1:9/repos/acme/infra".into(),
            secs: 60,
        };
        for e in [&unreachable, &timeout] {
            assert_eq!(
                e.unreachable_url(),
                Some("http://127.0.0.1:9/repos/acme/infra")
            );
        }
        let api = GitHubError::Api {
            operation: "GET contents".into(),
            url: "http://127.0.0.1:9/repos/acme/infra/contents/x.yml".into(),
            status: 500,
            message: "boom".into(),
        };
        assert_eq!(api.unreachable_url(), None);
        assert_eq!(
            api.to_string(),
            "GitHub GET contents failed: HTTP 500 from http://127.0.0.1:9/repos/acme/infra/contents/x.yml: boom"
        );
    }
}
