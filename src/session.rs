//! One run of the tool: load → validate → resolve → observe → plan → apply,
//! shared by the CLI commands, the GitHub Action and the demo.

use std::collections::BTreeMap;
use std::path::PathBuf;

use futures_util::stream::{self, StreamExt};
use time::OffsetDateTime;

use crate::apply::{self, Context, EntrySpec, Report};
use crate::auth0::{Auth0Api, Auth0Error, HttpAuth0, ManagementAuth};
use crate::github::{GitHubApi, GitHubError, OctocrabGitHub, Repo};
use crate::journal::{Holder, JournalError, JournalKeys};
use crate::keys::{Alg, PrivateKey};
use crate::manifest::{self, Manifest, ManifestErrors};
use crate::observe::{
    observe_listed_entry, observe_new_client_entry, observe_secret_entry, ObserveError,
};
use crate::plan::{self, Plan, PlanOptions};
use crate::secret::SecretString;
use crate::workspace::Workspace;

/// Management API credentials (one M2M application used for every tenant
/// unless overridden per tenant).
#[derive(Debug, Clone)]
pub enum Management {
    /// Client id and secret.
    Secret {
        /// Client id.
        client_id: String,
        /// Client secret.
        secret: SecretString,
    },
    /// Client id and a private key (private_key_jwt).
    Key {
        /// Client id.
        client_id: String,
        /// PKCS#8 PEM.
        key_pem: SecretString,
        /// Its credential's algorithm.
        alg: Alg,
    },
}

/// Everything a run needs from its caller.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Manifest file.
    pub manifest_path: PathBuf,
    /// The repository holding the ledger and PRs.
    pub repo: Repo,
    /// GitHub REST base URL.
    pub github_api_url: String,
    /// GitHub token (App installation token or fine-grained PAT).
    pub github_token: SecretString,
    /// Default Management API credentials.
    pub management: Option<Management>,
    /// Per-tenant Management API credentials.
    pub management_by_tenant: BTreeMap<String, Management>,
    /// Per-tenant base URL overrides (proxies, the emulator).
    pub auth0_base_urls: BTreeMap<String, String>,
    /// Ledger directory.
    pub ledger_dir: String,
    /// Rotation branch prefix.
    pub branch_prefix: String,
    /// Restrict to these entries (`name` or `tenant/name`); empty = all.
    pub only: Vec<String>,
    /// age identity (file text) for the pending-key journal.
    pub age_identity: Option<SecretString>,
    /// Escrow recipients of journaled keys.
    pub age_recipients: Vec<String>,
    /// Per-request timeout of the Auth0 and GitHub clients (default 30 s / 60 s).
    pub http_timeout: Option<std::time::Duration>,
    /// GitHub writes sent per minute at most (default GitHub's documented
    /// 80); `None`: not paced (a GitHub without that limit, e.g. the
    /// emulator in a benchmark).
    pub github_writes_per_minute: Option<usize>,
    /// GitHub writes sent per hour at most (default GitHub's documented
    /// 500); `None`: not paced.
    pub github_writes_per_hour: Option<usize>,
    /// This run, as its journals name their holder (default: this process).
    pub runner: crate::journal::Holder,
    /// Entries observed and applied at once (default
    /// [`DEFAULT_CONCURRENCY`]); 1 runs them one after another.
    pub concurrency: usize,
    /// The custom domain's `cname-api-key`, sent with the mTLS token
    /// requests that prove a new self-signed certificate (entries with
    /// `auth_method: self_signed_tls_client_auth`). From the action input
    /// `mtls-cname-api-key` or the CLI's `AUTH0_MTLS_CNAME_API_KEY` only.
    pub mtls_cname_api_key: Option<SecretString>,
}

/// Entries a run works on at once by default. Auth0 paces each tenant's
/// Management API requests (see [`crate::auth0`]), so more entries in
/// flight mostly overlap latency.
pub const DEFAULT_CONCURRENCY: usize = 8;

impl Settings {
    /// Defaults for everything but the required values.
    pub fn new(
        manifest_path: PathBuf,
        repo: Repo,
        github_api_url: String,
        github_token: SecretString,
    ) -> Self {
        Self {
            manifest_path,
            repo,
            github_api_url,
            github_token,
            management: None,
            management_by_tenant: BTreeMap::new(),
            auth0_base_urls: BTreeMap::new(),
            ledger_dir: crate::ledger::DEFAULT_LEDGER_DIR.to_owned(),
            branch_prefix: "auth0-rotate".to_owned(),
            only: Vec::new(),
            age_identity: None,
            age_recipients: Vec::new(),
            http_timeout: None,
            github_writes_per_minute: Some(crate::github::WRITES_PER_MINUTE),
            github_writes_per_hour: Some(crate::github::WRITES_PER_HOUR),
            runner: this_process(),
            concurrency: DEFAULT_CONCURRENCY,
            mtls_cname_api_key: None,
        }
    }
}

/// This process as a journal names its holder: host name (from
/// `/proc/sys/kernel/hostname`) and pid.
pub fn this_process() -> Holder {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| crate::text::check_identifiers([("host", h.as_str())]).is_ok());
    Holder {
        github_run_id: None,
        host,
        pid: Some(std::process::id()),
    }
}

/// A run that could not proceed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The manifest is invalid.
    #[error("{0}")]
    Manifest(#[from] ManifestErrors),
    /// GitHub failed.
    #[error(transparent)]
    GitHub(#[from] GitHubError),
    /// Observation failed.
    #[error(transparent)]
    Observe(#[from] ObserveError),
    /// Auth0 client setup failed.
    #[error(transparent)]
    Auth0(#[from] Auth0Error),
    /// A setting is wrong.
    #[error("{0}")]
    Settings(String),
    /// The age identity or recipients are invalid.
    #[error(transparent)]
    Journal(#[from] JournalError),
}

impl SessionError {
    /// The GitHub failure that stopped the run, if GitHub stopped it (at
    /// the start or while observing).
    pub fn github(&self) -> Option<&GitHubError> {
        match self {
            SessionError::GitHub(e) | SessionError::Observe(ObserveError::GitHub(e)) => Some(e),
            _ => None,
        }
    }

    /// When a URL could not be reached, what follows the message: the
    /// setting to check, as an edge calls it in `names`.
    pub fn hint(&self, names: &UrlSettings) -> Option<String> {
        if self
            .github()
            .and_then(GitHubError::unreachable_url)
            .is_some()
        {
            Some(names.github_hint())
        } else if matches!(self, SessionError::Auth0(e) if e.unreachable_url().is_some()) {
            Some(names.auth0_hint())
        } else {
            None
        }
    }

    /// The message an edge prints: when a URL could not be reached,
    /// followed by the setting to check.
    pub fn explain(&self, names: &UrlSettings) -> String {
        format!("{self}{}", self.hint(names).unwrap_or_default())
    }
}

/// What an edge calls the settings that point the tool at GitHub and at
/// Auth0, so that a message about a URL that could not be reached names the
/// one to change. The library knows the URLs; only the edges know their
/// inputs and options.
#[derive(Debug, Clone, Copy)]
pub struct UrlSettings {
    /// The GitHub API URL's setting, e.g. `github-api-url`.
    pub github: &'static str,
    /// The setting of a tenant's Auth0 base URL, e.g. `auth0-base-url
    /// (TENANT=URL)`.
    pub auth0: &'static str,
}

impl UrlSettings {
    /// What follows a GitHub URL that could not be reached.
    pub fn github_hint(&self) -> String {
        format!(" — check {}", self.github)
    }

    /// What follows an Auth0 URL that could not be reached.
    pub fn auth0_hint(&self) -> String {
        format!(
            " — check {} or the tenant's domain/base_url in the manifest",
            self.auth0
        )
    }
}

/// An entry of any kind (a client, a tenant's signing keys, a connection)
/// whose state could not be read in Auth0: the plan is incomplete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// True when Auth0 could not be reached or did not answer in time (not
    /// when it answered with an error).
    pub unreachable: bool,
    /// The entry, why, and where: the setting to check when Auth0 could not
    /// be reached, the Management API's URL when it answered with an error.
    pub message: String,
}

/// An opened run.
pub struct Session {
    /// The validated manifest.
    pub manifest: Manifest,
    /// Selected entries, resolved.
    pub specs: Vec<EntrySpec>,
    /// GitHub client.
    pub github: OctocrabGitHub,
    /// Auth0 clients by tenant name (tenants without credentials are absent).
    pub auth0: BTreeMap<String, HttpAuth0>,
    /// Repository layout.
    pub workspace: Workspace,
    /// Journal encryption keys.
    pub journal: JournalKeys,
    /// The run's `only` selection (empty: everything).
    pub only: Vec<String>,
    /// Entries observed and applied at once (at least 1).
    pub concurrency: usize,
    /// The custom domain's `cname-api-key` for mTLS proofs.
    pub mtls_cname_api_key: Option<SecretString>,
}

fn management_auth(m: &Management) -> Result<ManagementAuth, SessionError> {
    Ok(match m {
        Management::Secret { client_id, secret } => ManagementAuth::ClientSecret {
            client_id: client_id.clone(),
            secret: secret.clone(),
        },
        Management::Key {
            client_id,
            key_pem,
            alg,
        } => ManagementAuth::PrivateKey {
            client_id: client_id.clone(),
            key: PrivateKey::from_pkcs8_pem(key_pem).map_err(|e| {
                SessionError::Settings(format!("Auth0 management private key: {e}"))
            })?,
            alg: *alg,
        },
    })
}

/// Marks the entries whose client is the one a tenant's Management API
/// access authenticates as (self-rotation) with the kid it signs with.
fn mark_self_rotation(specs: &mut [EntrySpec], auth0: &BTreeMap<String, HttpAuth0>) {
    for spec in specs {
        let own = auth0
            .get(&spec.policy.tenant)
            .and_then(|a| a.management_key())
            .filter(|(client_id, _)| *client_id == spec.policy.client_id);
        spec.policy.management_kid = own.map(|(_, kid)| kid);
    }
}

/// Checks that every name of a selection (`only`, `force`) is a credential
/// entry (`name` or `tenant/name`), a tenant's signing keys
/// (`tenant/signing-keys`, or the tenant name) or a connection
/// (`tenant/connection/<name>` or its name).
fn check_names(manifest: &Manifest, names: &[String], what: &str) -> Result<(), SessionError> {
    let (sp, cp) = crate::tenant_keys::policies(manifest);
    let known = |f: &String| {
        manifest
            .entries
            .iter()
            .any(|e| e.name == *f || format!("{}/{}", e.tenant, e.name) == *f)
            || sp
                .iter()
                .any(|p| p.tenant == *f || format!("{}/signing-keys", p.tenant) == *f)
            || cp
                .iter()
                .any(|p| p.key() == *f || p.connection.label() == f.as_str())
    };
    let unknown: Vec<String> = names
        .iter()
        .filter(|f| !known(f))
        .map(|u| crate::text::neutral(u))
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(SessionError::Settings(format!(
            "`{what}` names entries that are not in the manifest: {}",
            unknown.join(", ")
        )))
    }
}

/// A tenant's clients by id, as its paged client list showed them.
type Listed = BTreeMap<String, std::collections::HashMap<String, crate::auth0::ClientInfo>>;

/// Entries of one tenant from which a plan lists its clients instead of
/// reading each one.
pub const LIST_FROM: usize = 10;

/// Entries observed with one read of their client and one of its
/// credentials (not secret rotations or new-client onboardings, which read
/// more clients than their own).
fn observed_plainly(spec: &EntrySpec) -> bool {
    spec.policy.secret_rotation.is_none()
        && spec.policy.onboard != Some(crate::manifest::Onboard::NewClient)
}

impl Session {
    /// Loads the manifest and connects the clients.
    pub async fn open(settings: &Settings) -> Result<Self, SessionError> {
        let manifest = manifest::load(&settings.manifest_path)?;
        Self::with_manifest(settings, manifest).await
    }

    /// Like [`Session::open`] with an already validated manifest.
    pub async fn with_manifest(
        settings: &Settings,
        manifest: Manifest,
    ) -> Result<Self, SessionError> {
        let github = match settings.http_timeout {
            Some(t) => {
                OctocrabGitHub::with_timeout(&settings.github_api_url, &settings.github_token, t)?
            }
            None => OctocrabGitHub::new(&settings.github_api_url, &settings.github_token)?,
        }
        .pace_writes(
            settings.github_writes_per_minute,
            settings.github_writes_per_hour,
        );
        let default_branch = github.default_branch(&settings.repo).await?;
        let mut specs = crate::resolve::resolve(&manifest, &settings.repo);
        check_names(&manifest, &settings.only, "only")?;
        if !settings.only.is_empty() {
            specs.retain(|s| {
                settings
                    .only
                    .iter()
                    .any(|o| *o == s.policy.entry || *o == s.key())
            });
        }
        let mut auth0 = BTreeMap::new();
        for (name, tenant) in &manifest.tenants {
            let Some(m) = settings
                .management_by_tenant
                .get(name)
                .or(settings.management.as_ref())
            else {
                continue;
            };
            let base = settings
                .auth0_base_urls
                .get(name)
                .cloned()
                .or_else(|| tenant.base_url.clone());
            auth0.insert(
                name.clone(),
                HttpAuth0::with_timeout(
                    &tenant.domain,
                    base.as_deref(),
                    management_auth(m)?,
                    settings
                        .http_timeout
                        .unwrap_or(crate::auth0::DEFAULT_TIMEOUT),
                )?,
            );
        }
        mark_self_rotation(&mut specs, &auth0);
        let pull_group = manifest.pull_group;
        let journal = JournalKeys::new(settings.age_identity.as_ref(), &settings.age_recipients)?;
        Ok(Self {
            journal,
            manifest,
            specs,
            github,
            auth0,
            workspace: Workspace {
                repo: settings.repo.clone(),
                default_branch,
                ledger_dir: settings.ledger_dir.clone(),
                branch_prefix: settings.branch_prefix.clone(),
                runner: settings.runner.clone(),
                pull_group,
            },
            only: settings.only.clone(),
            concurrency: settings.concurrency.max(1),
            mtls_cname_api_key: settings.mtls_cname_api_key.clone(),
        })
    }

    /// Checks that every `force` name names something in the manifest (see
    /// [`check_names`]); an unknown name is an error, like `only`.
    pub fn check_force(&self, force: &[String]) -> Result<(), SessionError> {
        check_names(&self.manifest, force, "force")
    }

    /// Observes every selected entry and plans at `now`.
    pub async fn plan(
        &self,
        now: OffsetDateTime,
        options: &PlanOptions,
    ) -> Result<Plan, SessionError> {
        // Observed `concurrency` at a time, in manifest order (the futures
        // are made up front, not in a stream closure, so the run stays Send).
        let listed = self.list_clients().await;
        let reads: Vec<_> = self
            .specs
            .iter()
            .map(|s| self.observe_one(s, &listed))
            .collect();
        let observed: Vec<_> = stream::iter(reads)
            .buffered(self.concurrency)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        let policies: Vec<_> = self.specs.iter().map(|s| s.policy.clone()).collect();
        let mut options = options.clone();
        options.can_resume = self.journal.can_resume();
        Ok(plan::plan(&policies, &observed, now, &options))
    }

    /// The clients of each tenant with at least [`LIST_FROM`] plainly
    /// observed entries, from the paged client list, when it takes at most
    /// half as many requests as reading each client. A list that fails
    /// leaves the clients to be read one by one.
    async fn list_clients(&self) -> Listed {
        let mut wanted: BTreeMap<&str, usize> = BTreeMap::new();
        for s in self.specs.iter().filter(|s| observed_plainly(s)) {
            *wanted.entry(s.policy.tenant.as_str()).or_default() += 1;
        }
        let mut listed = Listed::new();
        for (tenant, n) in wanted.into_iter().filter(|(_, n)| *n >= LIST_FROM) {
            let Some(auth0) = self.auth0.get(tenant) else {
                continue;
            };
            match auth0.list_clients_within(n / 2).await {
                Ok(Some(clients)) => {
                    let by_id = clients
                        .into_iter()
                        .map(|c| (c.client_id.clone(), c))
                        .collect();
                    listed.insert(tenant.to_owned(), by_id);
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(tenant, error = %e, "could not list the clients; reading them one by one");
                }
            }
        }
        listed
    }

    /// Observes one entry and checks its journal's tag.
    async fn observe_one(
        &self,
        spec: &EntrySpec,
        listed: &Listed,
    ) -> Result<plan::ObservedEntry, SessionError> {
        if spec.policy.secret_rotation.is_some() {
            let auth0 = self.auth0.get(&spec.policy.tenant);
            let (gh, ws) = (&self.github, &self.workspace);
            return Ok(observe_secret_entry(auth0, gh, ws, spec, &self.journal).await?);
        }
        let auth0 = self.auth0.get(&spec.policy.tenant);
        let mut o = if spec.policy.onboard == Some(crate::manifest::Onboard::NewClient) {
            observe_new_client_entry(auth0, &self.github, &self.workspace, spec, &self.journal)
                .await?
        } else {
            let client = listed
                .get(&spec.policy.tenant)
                .and_then(|l| l.get(&spec.policy.client_id));
            observe_listed_entry(auth0, client, &self.github, &self.workspace, spec).await?
        };
        o.journal_authentic = o
            .journal
            .as_ref()
            .is_some_and(|j| self.journal.is_authentic(j));
        Ok(o)
    }

    fn context(&self, now: OffsetDateTime) -> Context<'_, HttpAuth0, OctocrabGitHub> {
        Context {
            auth0: &self.auth0,
            github: &self.github,
            workspace: &self.workspace,
            journal: &self.journal,
            mtls_cname_api_key: self.mtls_cname_api_key.as_ref(),
            now,
        }
    }

    /// Stage 1.
    pub async fn rotate(
        &self,
        now: OffsetDateTime,
        options: &PlanOptions,
    ) -> Result<(Plan, Report), SessionError> {
        let plan = self.plan(now, options).await?;
        let report = apply::rotate_observed(
            &self.context(now),
            &self.specs,
            &plan,
            None,
            self.concurrency,
        )
        .await;
        Ok((plan, report))
    }

    /// Stage 2.
    pub async fn finalize(&self, now: OffsetDateTime) -> Result<(Plan, Report), SessionError> {
        let plan = self.plan(now, &PlanOptions::default()).await?;
        let report =
            apply::finalize_concurrently(&self.context(now), &self.specs, &plan, self.concurrency)
                .await;
        Ok((plan, report))
    }
}
