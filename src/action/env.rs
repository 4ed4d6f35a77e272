//! The runner's environment, typed. This is the only place in the crate that
//! reads `INPUT_*`, `GITHUB_*` and `RUNNER_*` variables, and it reads them from
//! a map so tests never touch the process environment.
//!
//! Runner facts this follows: an input `dry-run` arrives as `INPUT_DRY-RUN`
//! (upper-cased, spaces → `_`, hyphens kept); `required` is not enforced, so
//! every input is validated here; values are trimmed and booleans accept only
//! `true|True|TRUE|false|False|FALSE` (the toolkit's rules).

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::secret::SecretString;

/// Every input the action reads, as declared in `action.yml` (kebab-case).
pub const INPUTS: &[&str] = &[
    "command",
    "manifest",
    "github-token",
    "github-api-url",
    "repository",
    "auth0-client-id",
    "auth0-client-secret",
    "auth0-private-key",
    "auth0-base-url",
    "age-identity",
    "mtls-cname-api-key",
    "dry-run",
    "only",
    "shard",
    "shard-size",
    "force",
    "dashboard",
    "verify-private-key",
    "verify-client-id",
    "verify-audience",
    "verify-domain",
    "verify-base-url",
];

/// Every output the action may write, as declared in `action.yml`.
pub const OUTPUTS: &[&str] = &[
    "mode",
    "plan",
    "changes",
    "rotated",
    "pull-request-number",
    "pull-request-url",
    "pull-request-branch",
    "pull-request-operation",
    "pull-requests",
    "retired",
    "dashboard-issue-number",
    "matrix",
];

/// The `command` input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandInput {
    /// Pick from the event.
    Auto,
    /// Plan only.
    Plan,
    /// Stage 1.
    Rotate,
    /// Stage 2.
    Finalize,
    /// Consumer canary: one token exchange with a key from a secret.
    Verify,
    /// Plan, summary and dashboard; never fails on pending changes.
    Status,
}

impl CommandInput {
    /// The accepted words.
    pub const WORDS: &'static str = "auto, plan, rotate, finalize, verify, status";

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "" | "auto" => Self::Auto,
            "plan" => Self::Plan,
            "rotate" => Self::Rotate,
            "finalize" => Self::Finalize,
            "verify" => Self::Verify,
            "status" => Self::Status,
            _ => return None,
        })
    }
}

/// The action's inputs, validated.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// `command`.
    pub command: CommandInput,
    /// `manifest` (relative to the workspace).
    pub manifest: PathBuf,
    /// `github-token`.
    pub github_token: Option<SecretString>,
    /// `github-api-url` (default: `GITHUB_API_URL`).
    pub github_api_url: Option<String>,
    /// `repository` holding the ledger and PRs (default: `GITHUB_REPOSITORY`).
    pub repository: Option<String>,
    /// `auth0-client-id`.
    pub auth0_client_id: Option<String>,
    /// `auth0-client-secret`.
    pub auth0_client_secret: Option<SecretString>,
    /// `auth0-private-key` (PKCS#8 PEM text).
    pub auth0_private_key: Option<SecretString>,
    /// `auth0-base-url`: `TENANT=URL` per line or comma.
    pub auth0_base_urls: BTreeMap<String, String>,
    /// `age-identity`.
    pub age_identity: Option<SecretString>,
    /// `mtls-cname-api-key`: the custom domain's cname-api-key for the
    /// mTLS proofs of self-signed certificates.
    pub mtls_cname_api_key: Option<SecretString>,
    /// `dry-run`.
    pub dry_run: bool,
    /// `only`: entries (`name` or `tenant/name`).
    pub only: Vec<String>,
    /// `shard`: run shard `i/n` of the `matrix` output.
    pub shard: Option<String>,
    /// `shard-size`: entries per shard (default: one shard per tenant).
    pub shard_size: Option<usize>,
    /// `force`: entries to rotate even if not due.
    pub force: Vec<String>,
    /// `dashboard`.
    pub dashboard: bool,
    /// `verify-private-key`: PEM, or the JSON secret format.
    pub verify_private_key: Option<SecretString>,
    /// `verify-client-id`.
    pub verify_client_id: Option<String>,
    /// `verify-audience`.
    pub verify_audience: Option<String>,
    /// `verify-domain`.
    pub verify_domain: Option<String>,
    /// `verify-base-url`.
    pub verify_base_url: Option<String>,
}

/// The `github` context as the runner exports it.
#[derive(Debug, Clone, Default)]
pub struct GitHubContext {
    /// `GITHUB_EVENT_NAME`.
    pub event_name: String,
    /// `GITHUB_EVENT_PATH`.
    pub event_path: Option<PathBuf>,
    /// `GITHUB_REPOSITORY` (`owner/name`).
    pub repository: Option<String>,
    /// `GITHUB_API_URL`.
    pub api_url: String,
    /// `GITHUB_SERVER_URL`.
    pub server_url: String,
    /// `GITHUB_OUTPUT`.
    pub output: Option<PathBuf>,
    /// `GITHUB_STEP_SUMMARY`.
    pub step_summary: Option<PathBuf>,
    /// `GITHUB_WORKSPACE`.
    pub workspace: Option<PathBuf>,
    /// `GITHUB_RUN_ID`.
    pub run_id: Option<String>,
    /// `GITHUB_ACTIONS == "true"`.
    pub actions: bool,
    /// `RUNNER_DEBUG == "1"`.
    pub debug: bool,
    /// `AUTH0_ROTATE_LOG`: the tool's own log filter, if set.
    pub log_filter: Option<String>,
}

impl GitHubContext {
    /// Link to this workflow run, when known.
    pub fn run_url(&self) -> Option<String> {
        Some(format!(
            "{}/{}/actions/runs/{}",
            self.server_url.trim_end_matches('/'),
            self.repository.as_ref()?,
            self.run_id.as_ref()?
        ))
    }
}

/// Everything the action reads from its environment.
#[derive(Debug, Clone)]
pub struct ActionEnv {
    /// Inputs.
    pub inputs: Inputs,
    /// Context.
    pub github: GitHubContext,
    /// `INPUT_*` variables that match no declared input (typos in `with:`).
    pub unknown_inputs: Vec<String>,
}

/// An input with a value the action cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("input `{input}`: {message}")]
pub struct EnvError {
    /// The input's name (kebab-case).
    pub input: String,
    /// What is wrong.
    pub message: String,
}

/// The environment variable the runner uses for input `name`.
pub fn input_var(name: &str) -> String {
    format!("INPUT_{}", name.replace(' ', "_").to_uppercase())
}

struct Reader<'a> {
    map: &'a BTreeMap<String, String>,
    errors: Vec<EnvError>,
}

impl Reader<'_> {
    /// A trimmed, non-empty input value.
    fn get(&self, name: &'static str) -> Option<String> {
        debug_assert!(INPUTS.contains(&name), "input {name} is not declared");
        self.map
            .get(&input_var(name))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn secret(&self, name: &'static str) -> Option<SecretString> {
        self.get(name).map(SecretString::new)
    }

    fn bool(&mut self, name: &'static str, default: bool) -> bool {
        match self.get(name).as_deref() {
            None => default,
            Some("true" | "True" | "TRUE") => true,
            Some("false" | "False" | "FALSE") => false,
            Some(other) => {
                self.errors.push(EnvError {
                    input: name.into(),
                    message: format!(
                        "{other:?} is not a boolean (use true or false, as the Actions toolkit does)"
                    ),
                });
                default
            }
        }
    }

    fn list(&self, name: &'static str) -> Vec<String> {
        split_list(self.get(name).as_deref().unwrap_or(""))
    }

    fn var(&self, name: &str) -> Option<String> {
        self.map.get(name).filter(|v| !v.is_empty()).cloned()
    }
}

/// Splits a list input on newlines and commas, trimming and dropping blanks.
pub fn split_list(s: &str) -> Vec<String> {
    s.split(['\n', ','])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl ActionEnv {
    /// Reads the action's environment from `map` (name → value). Collects
    /// every invalid input before failing.
    pub fn from_map(map: &BTreeMap<String, String>) -> Result<Self, Vec<EnvError>> {
        let mut r = Reader {
            map,
            errors: Vec::new(),
        };
        let command_text = r.get("command").unwrap_or_default();
        let command = CommandInput::parse(&command_text).unwrap_or_else(|| {
            r.errors.push(EnvError {
                input: "command".into(),
                message: format!(
                    "{command_text:?} is not a command (one of: {})",
                    CommandInput::WORDS
                ),
            });
            CommandInput::Auto
        });
        let manifest = PathBuf::from(
            r.get("manifest")
                .unwrap_or_else(|| crate::manifest::DEFAULT_PATH.to_owned()),
        );
        let mut auth0_base_urls = BTreeMap::new();
        for pair in r.list("auth0-base-url") {
            match pair.split_once('=') {
                Some((t, u)) if !t.trim().is_empty() && !u.trim().is_empty() => {
                    auth0_base_urls.insert(t.trim().to_owned(), u.trim().to_owned());
                }
                _ => r.errors.push(EnvError {
                    input: "auth0-base-url".into(),
                    message: format!("expected TENANT=URL, got {pair:?}"),
                }),
            }
        }
        let shard_size = match r.get("shard-size").map(|v| v.parse::<usize>()) {
            None => None,
            Some(Ok(n)) if n > 0 => Some(n),
            Some(_) => {
                r.errors.push(EnvError {
                    input: "shard-size".into(),
                    message: "expected a whole number of entries, at least 1".into(),
                });
                None
            }
        };
        let dry_run = r.bool("dry-run", false);
        let dashboard = r.bool("dashboard", true);
        let inputs = Inputs {
            command,
            manifest,
            github_token: r.secret("github-token"),
            github_api_url: r.get("github-api-url"),
            repository: r.get("repository"),
            auth0_client_id: r.get("auth0-client-id"),
            auth0_client_secret: r.secret("auth0-client-secret"),
            auth0_private_key: r.secret("auth0-private-key"),
            auth0_base_urls,
            age_identity: r.secret("age-identity"),
            mtls_cname_api_key: r.secret("mtls-cname-api-key"),
            dry_run,
            only: r.list("only"),
            shard: r.get("shard"),
            shard_size,
            force: r.list("force"),
            dashboard,
            verify_private_key: r.secret("verify-private-key"),
            verify_client_id: r.get("verify-client-id"),
            verify_audience: r.get("verify-audience"),
            verify_domain: r.get("verify-domain"),
            verify_base_url: r.get("verify-base-url"),
        };
        let github = GitHubContext {
            event_name: r.var("GITHUB_EVENT_NAME").unwrap_or_default(),
            event_path: r.var("GITHUB_EVENT_PATH").map(PathBuf::from),
            repository: r.var("GITHUB_REPOSITORY"),
            api_url: r
                .var("GITHUB_API_URL")
                .unwrap_or_else(|| "https://api.github.com".into()),
            server_url: r
                .var("GITHUB_SERVER_URL")
                .unwrap_or_else(|| "https://github.com".into()),
            output: r.var("GITHUB_OUTPUT").map(PathBuf::from),
            step_summary: r.var("GITHUB_STEP_SUMMARY").map(PathBuf::from),
            workspace: r.var("GITHUB_WORKSPACE").map(PathBuf::from),
            run_id: r.var("GITHUB_RUN_ID"),
            actions: r.var("GITHUB_ACTIONS").as_deref() == Some("true"),
            debug: r.var("RUNNER_DEBUG").as_deref() == Some("1"),
            log_filter: r.var("AUTH0_ROTATE_LOG"),
        };
        let declared: Vec<String> = INPUTS.iter().map(|n| input_var(n)).collect();
        let unknown_inputs = map
            .keys()
            .filter(|k| k.starts_with("INPUT_") && !declared.contains(k))
            .cloned()
            .collect();
        if r.errors.is_empty() {
            Ok(Self {
                inputs,
                github,
                unknown_inputs,
            })
        } else {
            Err(r.errors)
        }
    }

    /// Reads the process environment (only `INPUT_*`, `GITHUB_*`, `RUNNER_*`
    /// and the tool's log filter `AUTH0_ROTATE_LOG`).
    #[expect(
        clippy::disallowed_methods,
        reason = "the action's one read of the environment"
    )]
    pub fn from_process() -> Result<Self, Vec<EnvError>> {
        let map: BTreeMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .filter(|(k, _)| {
                k.starts_with("INPUT_")
                    || k.starts_with("GITHUB_")
                    || k.starts_with("RUNNER_")
                    || k == "AUTH0_ROTATE_LOG"
            })
            .collect();
        Self::from_map(&map)
    }

    /// The repository holding the ledger and PRs.
    pub fn repository(&self) -> Option<String> {
        self.inputs
            .repository
            .clone()
            .or_else(|| self.github.repository.clone())
    }

    /// The GitHub REST API base URL.
    pub fn api_url(&self) -> String {
        self.inputs
            .github_api_url
            .clone()
            .unwrap_or_else(|| self.github.api_url.clone())
    }

    /// The manifest path to open (relative paths resolve in the workspace).
    pub fn manifest_path(&self) -> PathBuf {
        match &self.github.workspace {
            Some(ws) if self.inputs.manifest.is_relative() => ws.join(&self.inputs.manifest),
            _ => self.inputs.manifest.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn hyphenated_inputs_keep_their_hyphen() {
        assert_eq!(input_var("dry-run"), "INPUT_DRY-RUN");
        assert_eq!(input_var("github-token"), "INPUT_GITHUB-TOKEN");
        let env = ActionEnv::from_map(&map(&[
            ("INPUT_DRY-RUN", " TRUE "),
            ("INPUT_ONLY", "a, prod/b\nc"),
            ("INPUT_AUTH0-BASE-URL", "prod=http://127.0.0.1:1/auth0/x"),
            ("INPUT_WITH-TYPO", "x"),
        ]))
        .unwrap();
        assert!(env.inputs.dry_run);
        assert!(env.inputs.dashboard);
        assert_eq!(env.inputs.command, CommandInput::Auto);
        assert_eq!(env.inputs.only, ["a", "prod/b", "c"]);
        assert_eq!(
            env.inputs.auth0_base_urls["prod"],
            "http://127.0.0.1:1/auth0/x"
        );
        assert_eq!(env.unknown_inputs, ["INPUT_WITH-TYPO"]);
        assert_eq!(env.github.api_url, "https://api.github.com");
    }

    #[test]
    fn every_bad_input_is_reported_at_once() {
        let errs = ActionEnv::from_map(&map(&[
            ("INPUT_DRY-RUN", "yes"),
            ("INPUT_COMMAND", "deploy"),
            ("INPUT_AUTH0-BASE-URL", "nourl"),
        ]))
        .unwrap_err();
        let names: Vec<&str> = errs.iter().map(|e| e.input.as_str()).collect();
        assert_eq!(names, ["command", "auth0-base-url", "dry-run"]);
    }

    #[test]
    fn reading_an_empty_environment_touches_only_declared_inputs() {
        // `Reader::get` asserts (in debug builds) that each name is declared.
        let env = ActionEnv::from_map(&BTreeMap::new()).unwrap();
        assert_eq!(
            env.inputs.manifest,
            PathBuf::from(".github/auth0-rotation.yml")
        );
        assert!(env.inputs.github_token.is_none());
    }
}
