//! The workflows `init` writes, rendered for a manifest: the action pinned
//! by commit, and a GitHub App token that asks for exactly the permissions
//! the manifest's sinks need. Pure: text in, text out.

use std::collections::BTreeSet;

use crate::manifest::{Manifest, SecretStore, Sink, VariableStore};

/// The scheduled rotation + finalize-on-merge workflow, before rendering.
const ROTATE_TEMPLATE: &str = include_str!("templates/rotate.yml");
/// The consumer canary on rotation PRs, before rendering.
const CANARY_TEMPLATE: &str = include_str!("templates/canary.yml");
/// A separate finalize-on-merge workflow, before rendering.
const FINALIZE_TEMPLATE: &str = include_str!("templates/finalize.yml");

/// Where the generated workflows take the action from: a repository and
/// the full commit SHA of a release, with its version as a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionPin {
    /// `owner/name` of the action's repository.
    pub repo: String,
    /// The release commit (40 lowercase hex digits).
    pub sha: String,
    /// The release's tag, e.g. `v0.1.0`.
    pub version: String,
}

/// The action's home repository.
pub const ACTION_REPO: &str = "auth0-rotate/auth0-rotate";

/// Why a workflow cannot be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The pin is not `owner/name` at a full commit SHA.
    #[error("the action must be pinned to a full commit SHA (40 hex digits), got {0:?}; take it from the release notes' `uses:` line")]
    BadSha(String),
    /// The repository is not `owner/name`.
    #[error("the action repository must be owner/name, got {0:?}")]
    BadRepo(String),
    /// The version comment is not a plain tag.
    #[error("the action version must look like v1.2.3, got {0:?}")]
    BadVersion(String),
    /// A manifest value would be read as a workflow expression.
    #[error("{0:?} contains `${{{{`, which a workflow would evaluate as an expression; it cannot be written into a workflow")]
    Expression(String),
}

impl ActionPin {
    /// A pin, checked: `repo` is `owner/name`, `sha` 40 hex digits
    /// (lowercased), `version` a tag like `v1.2.3`.
    pub fn new(repo: &str, sha: &str, version: &str) -> Result<Self, RenderError> {
        let name_ok = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        match repo.split_once('/') {
            Some((o, n)) if name_ok(o) && name_ok(n) => {}
            _ => return Err(RenderError::BadRepo(repo.to_owned())),
        }
        if sha.len() != 40 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(RenderError::BadSha(sha.to_owned()));
        }
        let tag_ok = version.strip_prefix('v').is_some_and(|v| {
            !v.is_empty()
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
        });
        if !tag_ok {
            return Err(RenderError::BadVersion(version.to_owned()));
        }
        Ok(Self {
            repo: repo.to_owned(),
            sha: sha.to_ascii_lowercase(),
            version: version.to_owned(),
        })
    }

    /// The pin `docs/examples/` shows: this release's version at a
    /// placeholder commit that `init --action-sha` replaces.
    pub fn example() -> Self {
        Self {
            repo: ACTION_REPO.to_owned(),
            sha: "0".repeat(40),
            version: format!("v{}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// The `uses:` value: `owner/name@<sha> # <version>`.
    pub fn uses(&self) -> String {
        format!("{}@{} # {}", self.repo, self.sha, self.version)
    }
}

/// What the rotation workflow's App token must be allowed, derived from the
/// manifest: GitHub App permission inputs (`permission-<name>: <level>`) and
/// the other repositories its sinks write to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenScope {
    /// `(permission, level)`, sorted by permission.
    pub permissions: BTreeSet<(&'static str, &'static str)>,
    /// `owner/name` of every repository a sink names besides this one.
    pub other_repos: BTreeSet<String>,
}

impl TokenScope {
    /// The scope a run of `manifest` needs.
    pub fn for_manifest(manifest: &Manifest) -> Self {
        let mut scope = Self::default();
        // Ledger commits and branches, rotation PRs, the dashboard issue,
        // and the lock's question whether the run holding it still runs.
        scope.permissions.extend([
            ("contents", "write"),
            ("pull-requests", "write"),
            ("issues", "write"),
            ("actions", "read"),
        ]);
        for sink in manifest.entries.iter().flat_map(|e| &e.sinks) {
            scope.add_sink(sink);
        }
        scope
    }

    fn add_sink(&mut self, sink: &Sink) {
        let (permission, repo, environment) = match sink {
            Sink::Secret { store, .. } => match store {
                SecretStore::Repo { repo } => ("secrets", repo, false),
                SecretStore::Environment { repo, .. } => ("secrets", repo, true),
                SecretStore::Org { .. } => ("organization-secrets", &None, false),
            },
            Sink::Variable { store, .. } => match store {
                VariableStore::Repo { repo } => ("actions-variables", repo, false),
                VariableStore::Environment { repo, .. } => ("actions-variables", repo, true),
                VariableStore::Org { .. } => ("organization-actions-variables", &None, false),
            },
        };
        self.permissions.insert((permission, "write"));
        if environment {
            self.permissions.insert(("environments", "read"));
        }
        if let Some(r) = repo {
            self.other_repos.insert(r.to_string());
        }
    }

    /// The `with:` lines of the token step (indented for it).
    fn with_lines(&self) -> String {
        let mut out = String::new();
        if !self.other_repos.is_empty() {
            let names: Vec<&str> = self
                .other_repos
                .iter()
                .filter_map(|r| r.split_once('/').map(|(_, n)| n))
                .collect();
            out.push_str(&format!(
                "          # This repository and the ones the sinks write to ({}); a token covers\n\
                 \x20         # one owner's installation, so they must share this repository's owner.\n\
                 \x20         owner: ${{{{ github.repository_owner }}}}\n\
                 \x20         repositories: ${{{{ steps.scope.outputs.repository }}}},{}\n",
                self.other_repos
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
                names.join(",")
            ));
        }
        for (permission, level) in &self.permissions {
            if permission.contains("variables") {
                out.push_str(
                    "          # Not declared in that action's action.yml (actions/create-github-app-token#231):\n\
                     \x20         # the runner warns \"Unexpected input\" and passes it on.\n",
                );
            }
            out.push_str(&format!("          permission-{permission}: {level}\n"));
        }
        out
    }

    /// The step that names this repository for `repositories:`, when the
    /// token must cover others too.
    fn scope_step(&self) -> &'static str {
        if self.other_repos.is_empty() {
            ""
        } else {
            "      - id: scope\n\
             \x20       run: echo \"repository=${GITHUB_REPOSITORY#*/}\" >> \"$GITHUB_OUTPUT\"\n"
        }
    }
}

/// The rotation workflow (`.github/workflows/auth0-rotate.yml`) for
/// `manifest`, with the action pinned by `pin`.
pub fn rotate(manifest: &Manifest, pin: &ActionPin) -> String {
    let scope = TokenScope::for_manifest(manifest);
    ROTATE_TEMPLATE
        .replace("{{ledger_dir}}", crate::ledger::DEFAULT_LEDGER_DIR)
        .replace("{{scope_step}}", scope.scope_step())
        .replace("{{token_scope}}", &scope.with_lines())
        .replace("{{uses}}", &pin.uses())
}

/// The stand-alone finalize workflow (documentation: `init` does not
/// write it, the rotation workflow finalizes too).
pub fn finalize(pin: &ActionPin) -> String {
    FINALIZE_TEMPLATE.replace("{{uses}}", &pin.uses())
}

/// The canary workflow: one real token exchange per entry that has a
/// `verify` audience and a secret in this repository, with the key as
/// consumers read it. `None` when no entry qualifies.
pub fn canary(manifest: &Manifest, pin: &ActionPin) -> Result<Option<String>, RenderError> {
    let mut steps = String::new();
    for e in &manifest.entries {
        let (Some(verify), Some(secret)) = (&e.verify, own_secret(&e.sinks)) else {
            continue;
        };
        let domain = &manifest.tenants[&e.tenant].domain;
        steps.push_str(&format!(
            "      - name: {}\n        uses: {}\n        with:\n          command: verify\n\
             \x20         verify-private-key: ${{{{ secrets.{secret} }}}}\n\
             \x20         verify-client-id: {}\n          verify-audience: {}\n\
             \x20         verify-domain: {}\n",
            quoted(&format!("canary {}/{}", e.tenant, e.name))?,
            pin.uses(),
            quoted(&e.client_id)?,
            quoted(&verify.audience)?,
            quoted(domain)?,
        ));
    }
    Ok((!steps.is_empty()).then(|| CANARY_TEMPLATE.replace("{{steps}}", &steps)))
}

/// The first secret an entry writes into this repository.
fn own_secret(sinks: &[Sink]) -> Option<&str> {
    sinks.iter().find_map(|s| match s {
        Sink::Secret {
            store: SecretStore::Repo { repo: None },
            name,
            ..
        } => Some(name.as_str()),
        _ => None,
    })
}

/// A YAML double-quoted scalar (a JSON string is one); refuses text a
/// workflow would evaluate as an expression.
fn quoted(value: &str) -> Result<String, RenderError> {
    if value.contains("${{") {
        return Err(RenderError::Expression(value.to_owned()));
    }
    Ok(serde_json::to_string(value).expect("a string serializes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> Manifest {
        crate::manifest::parse(
            std::path::Path::new("example.yml"),
            crate::manifest::EXAMPLE_MANIFEST,
        )
        .unwrap()
    }

    #[test]
    fn pins_are_checked() {
        let sha = "a".repeat(40);
        assert!(ActionPin::new(ACTION_REPO, &sha, "v1.2.3").is_ok());
        assert_eq!(
            ActionPin::new(ACTION_REPO, &"A".repeat(40), "v1.2.3")
                .unwrap()
                .sha,
            sha
        );
        assert!(matches!(
            ActionPin::new(ACTION_REPO, "abc123", "v1"),
            Err(RenderError::BadSha(_))
        ));
        assert!(matches!(
            ActionPin::new(ACTION_REPO, &"g".repeat(40), "v1"),
            Err(RenderError::BadSha(_))
        ));
        assert!(matches!(
            ActionPin::new("auth0-rotate", &sha, "v1"),
            Err(RenderError::BadRepo(_))
        ));
        assert!(matches!(
            ActionPin::new(ACTION_REPO, &sha, "1.2.3"),
            Err(RenderError::BadVersion(_))
        ));
        assert!(matches!(
            ActionPin::new(ACTION_REPO, &sha, "v1 # x"),
            Err(RenderError::BadVersion(_))
        ));
    }

    #[test]
    fn the_token_asks_for_what_the_sinks_need() {
        let scope = TokenScope::for_manifest(&example());
        let names: Vec<String> = scope
            .permissions
            .iter()
            .map(|(p, l)| format!("{p}:{l}"))
            .collect();
        assert_eq!(
            names,
            [
                "actions:read",
                "actions-variables:write",
                "contents:write",
                "environments:read",
                "issues:write",
                "organization-secrets:write",
                "pull-requests:write",
                "secrets:write",
            ]
        );
        assert_eq!(
            scope.other_repos.iter().collect::<Vec<_>>(),
            ["acme/billing-service"]
        );
    }

    #[test]
    fn a_manifest_with_only_own_secrets_asks_for_no_more() {
        let text = "version: 1\ntenants:\n  t:\n    domain: t.eu.auth0.com\n\
                    credentials:\n  - name: w\n    tenant: t\n    client_id: abcdefghij0123456789abcdefghij01\n\
                    \x20   rotate_every: 30d\n    sinks:\n      - kind: repo_secret\n        name: W_KEY\n";
        let m = crate::manifest::parse(std::path::Path::new("m.yml"), text).unwrap();
        let wf = rotate(&m, &ActionPin::example());
        assert!(wf.contains("permission-secrets: write"));
        assert!(!wf.contains("variables"), "{wf}");
        assert!(!wf.contains("environments") && !wf.contains("organization"));
        assert!(!wf.contains("repositories:") && !wf.contains("id: scope"));
        assert_eq!(
            wf.matches("{{").count(),
            wf.matches("${{").count(),
            "every placeholder filled"
        );
    }

    #[test]
    fn the_canary_verifies_each_entry_with_its_own_secret() {
        let wf = canary(&example(), &ActionPin::example()).unwrap().unwrap();
        assert!(wf.contains("verify-private-key: ${{ secrets.BILLING_AUTH0_KEY }}"));
        assert!(wf.contains("verify-audience: \"https://billing.acme.example/\""));
        assert!(wf.contains("verify-domain: \"acme.eu.auth0.com\""));
        assert!(!wf.contains("{{steps}}"));
    }

    #[test]
    fn an_expression_is_never_written_into_a_workflow() {
        assert_eq!(
            quoted("${{ secrets.X }}"),
            Err(RenderError::Expression("${{ secrets.X }}".into()))
        );
        assert_eq!(quoted("a\"b").unwrap(), "\"a\\\"b\"");
    }
}
