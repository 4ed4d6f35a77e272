//! Command-line interface: the clap definitions here, one small file per
//! command under [`commands`], each over the one orchestrator
//! ([`crate::run`]).

pub mod commands;

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use time::OffsetDateTime;

use crate::github::Repo;
use crate::keys::Alg;
use crate::plan::PlanOptions;
use crate::secret::SecretString;
use crate::session::{Management, Settings};

/// Zero-downtime rotation of Auth0 credentials.
#[derive(Debug, Parser)]
#[command(name = "auth0-rotate", version, about)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what is due and why (exit 0: nothing to do, 2: changes pending, 1: error).
    Plan {
        /// Common options.
        #[command(flatten)]
        run: RunArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Rotate these entries even if not due (`name` or `tenant/name`).
        #[arg(long)]
        force: Vec<String>,
        /// Print the GitHub Actions matrix of shards (JSON, one shard per
        /// tenant or per `--shard-size` entries) instead of planning; needs
        /// only the manifest.
        #[arg(long)]
        matrix: bool,
    },
    /// Stage 1: rotate what is due; open or update one PR per entry.
    Rotate {
        /// Common options.
        #[command(flatten)]
        run: RunArgs,
        /// Rotate these entries even if not due.
        #[arg(long)]
        force: Vec<String>,
    },
    /// Stage 2 (after merge): detach and delete retired credentials.
    Finalize {
        /// Common options.
        #[command(flatten)]
        run: RunArgs,
    },
    /// Check a manifest and report every problem.
    Validate {
        /// Manifest path.
        #[arg(long, default_value = ".github/auth0-rotation.yml")]
        manifest: PathBuf,
    },
    /// Print the manifest's JSON Schema (for editors).
    Schema,
    /// Run the Auth0 + GitHub emulator on loopback until interrupted.
    Emulator {
        /// Listen address.
        #[arg(long, default_value = "127.0.0.1:8787")]
        listen: std::net::SocketAddr,
        /// Seed the demo tenant and repository.
        #[arg(long)]
        seed_demo: bool,
    },
    /// Measure key generation, signing, sealing and a whole rotation against
    /// their references (OpenSSL; Auth0's rate-limit floor) and print a table.
    Bench {
        /// Samples per measurement.
        #[arg(long, default_value_t = 9)]
        samples: usize,
        /// A fleet instead: rotate many entries against the emulator.
        #[command(subcommand)]
        fleet: Option<BenchCommand>,
    },
    /// Scaffold a commented manifest and the workflows rendered for it, the
    /// action pinned by commit (refuses to overwrite; an existing manifest is
    /// read, not replaced).
    Init(InitArgs),
    /// Consumer canary: one real token exchange with a key from a secret.
    Verify(VerifyArgs),
    /// Every managed credential: age, expiry, next due, PRs in flight (exit 0).
    Status {
        /// Common options.
        #[command(flatten)]
        run: RunArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Steps of the release workflow (.github/workflows/release.yml), run with
    /// the binary of the image it has just published.
    #[command(subcommand)]
    Release(commands::release::ReleaseCommand),
    /// Run as the GitHub Action (the container's entrypoint; reads INPUT_* and GITHUB_*).
    #[command(hide = true)]
    Action,
    /// Run a full rotation on the embedded emulator with a live consumer.
    Demo {
        /// Minimum token exchanges the consumer makes across the rotation.
        #[arg(long, default_value_t = 1000)]
        exchanges: u64,
    },
}

/// `bench` subcommands.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Plan and rotate a fleet on the embedded emulator with injected
    /// latency and rate limits; print wall time against Auth0's floor,
    /// requests per entry, refusals, PRs and peak RSS.
    Fleet {
        /// Entries (one client each).
        #[arg(long, default_value_t = 50)]
        entries: usize,
        /// Latency added to every request, in milliseconds.
        #[arg(long, default_value_t = 50)]
        latency_ms: u64,
        /// Auth0 Management API requests per second.
        #[arg(long, default_value_t = 10.0)]
        auth0_rps: f64,
        /// GitHub content-creating writes per minute (default: unlimited).
        #[arg(long)]
        github_writes_per_min: Option<f64>,
        /// Entries in flight at once.
        #[arg(long, default_value_t = crate::session::DEFAULT_CONCURRENCY)]
        concurrency: usize,
        /// `pull_requests.group` of the fleet's manifest: `entry`, `tenant`
        /// or `all`.
        #[arg(long, default_value = "entry", value_parser = parse_group)]
        group: crate::manifest::PullGroup,
    },
}

fn parse_group(word: &str) -> Result<crate::manifest::PullGroup, String> {
    crate::manifest::PullGroup::parse(word)
        .ok_or_else(|| format!("`{word}`: use entry, tenant or all"))
}

/// `init`: where, and which release the workflows pin.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Repository root.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// The release commit the workflows pin the action to (40 hex digits):
    /// the release notes' `uses:` line names it.
    #[arg(long)]
    pub action_sha: String,
    /// The release tag written beside the SHA (default: this binary's version).
    #[arg(long)]
    pub action_version: Option<String>,
    /// The action's repository.
    #[arg(long, default_value = crate::action::workflows::ACTION_REPO)]
    pub action_repo: String,
    /// Rewrite the workflows for the manifest as it is now (never the manifest).
    #[arg(long)]
    pub refresh_workflows: bool,
}

/// `verify`: which client, API and tenant, and where the key is.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Client id (optional when the key is in the JSON secret format).
    #[arg(long)]
    pub client_id: Option<String>,
    /// API audience to request a token for.
    #[arg(long)]
    pub audience: String,
    /// Tenant domain (the identity).
    #[arg(long)]
    pub domain: String,
    /// Send the request here instead of `https://<domain>`.
    #[arg(long)]
    pub base_url: Option<String>,
    /// Credential algorithm (default: from the JSON format, else RS256).
    #[arg(long)]
    pub alg: Option<String>,
    /// Environment variable holding the key (PEM or JSON secret format).
    #[arg(long, default_value = "AUTH0_ROTATE_VERIFY_KEY")]
    pub key_env: String,
    /// Read the key from this file instead.
    #[arg(long)]
    pub key_file: Option<PathBuf>,
}

/// Plan output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable text.
    Text,
    /// JSON.
    Json,
    /// GitHub-flavoured Markdown.
    Markdown,
}

/// Options shared by plan, rotate and finalize.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Manifest path.
    #[arg(long, default_value = ".github/auth0-rotation.yml")]
    pub manifest: PathBuf,
    /// Repository holding the ledger and PRs (`owner/name`).
    #[arg(long, env = "GITHUB_REPOSITORY")]
    pub repo: String,
    /// GitHub REST API base URL.
    #[arg(long, env = "GITHUB_API_URL", default_value = "https://api.github.com")]
    pub github_api_url: String,
    /// GitHub App installation token or fine-grained PAT (prefer the env var).
    #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true)]
    pub github_token: String,
    /// Management API client id.
    #[arg(long, env = "AUTH0_CLIENT_ID")]
    pub auth0_client_id: Option<String>,
    /// Management API client secret (prefer the env var).
    #[arg(long, env = "AUTH0_CLIENT_SECRET", hide_env_values = true)]
    pub auth0_client_secret: Option<String>,
    /// Management API private key (PKCS#8 PEM file) for private_key_jwt.
    #[arg(long, env = "AUTH0_PRIVATE_KEY_FILE")]
    pub auth0_private_key_file: Option<PathBuf>,
    /// The custom domain's cname-api-key, sent with the mTLS token requests
    /// that prove a new self-signed certificate (entries with `auth_method:
    /// self_signed_tls_client_auth`; prefer the env var).
    #[arg(long, env = "AUTH0_MTLS_CNAME_API_KEY", hide_env_values = true)]
    pub mtls_cname_api_key: Option<String>,
    /// Send a tenant's requests elsewhere: `TENANT=URL` (repeatable).
    #[arg(long = "auth0-base-url", value_parser = parse_pair)]
    pub auth0_base_urls: Vec<(String, String)>,
    /// Ledger directory.
    #[arg(long, default_value = crate::ledger::DEFAULT_LEDGER_DIR)]
    pub ledger_dir: String,
    /// Only these entries (`name` or `tenant/name`, repeatable).
    #[arg(long)]
    pub only: Vec<String>,
    /// Only shard `i/n` of the matrix `plan --matrix` prints (same
    /// `--shard-size`; a shard never mixes tenants).
    #[arg(long, conflicts_with = "only")]
    pub shard: Option<String>,
    /// Entries per shard (default: one shard per tenant).
    #[arg(long)]
    pub shard_size: Option<usize>,
    /// Entries observed and rotated at once (1: one after another); each
    /// tenant's Management API requests are paced by its rate-limit headers.
    #[arg(long, default_value_t = crate::session::DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
    /// age identity file (`AGE-SECRET-KEY-1…`): journal each new key, encrypted,
    /// on its rotation branch before registering it, so an interrupted run resumes.
    #[arg(long, env = "AUTH0_ROTATE_AGE_IDENTITY_FILE")]
    pub age_identity_file: Option<PathBuf>,
    /// Escrow recipient (`age1…`) that can also decrypt journaled keys (repeatable).
    #[arg(long = "age-recipient")]
    pub age_recipients: Vec<String>,
    /// Plan as of this instant (RFC 3339) instead of now.
    #[arg(long, hide = true, value_parser = parse_time)]
    pub now: Option<OffsetDateTime>,
    /// Total deadline of each HTTP request in seconds (connect, headers and
    /// body; default 30 for Auth0, 60 for GitHub).
    #[arg(long)]
    pub http_timeout: Option<u64>,
    /// The whole run's budget in seconds; a run still going then stops with
    /// exit code 1 (what it wrote is journaled, the next run converges).
    #[arg(long, default_value_t = 1800)]
    pub run_budget: u64,
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .ok_or_else(|| format!("expected TENANT=URL, got {s:?}"))
}

fn parse_time(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|e| e.to_string())
}

impl RunArgs {
    /// Builds run settings (reads the private key file if given).
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let repo = Repo::parse(&self.repo)
            .ok_or_else(|| anyhow::anyhow!("--repo must be owner/name, got {:?}", self.repo))?;
        let mut s = Settings::new(
            self.manifest.clone(),
            repo,
            self.github_api_url.clone(),
            SecretString::from(self.github_token.as_str()),
        );
        s.management = match (
            &self.auth0_client_id,
            &self.auth0_client_secret,
            &self.auth0_private_key_file,
        ) {
            (Some(id), _, Some(path)) => Some(Management::Key {
                client_id: id.clone(),
                key_pem: SecretString::new(
                    std::fs::read_to_string(path)
                        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?,
                ),
                alg: Alg::RS256,
            }),
            (Some(id), Some(secret), None) => Some(Management::Secret {
                client_id: id.clone(),
                secret: SecretString::from(secret.as_str()),
            }),
            (Some(_), None, None) => {
                anyhow::bail!("AUTH0_CLIENT_ID needs AUTH0_CLIENT_SECRET or AUTH0_PRIVATE_KEY_FILE")
            }
            (None, _, _) => None,
        };
        s.auth0_base_urls = self
            .auth0_base_urls
            .iter()
            .cloned()
            .collect::<BTreeMap<_, _>>();
        s.ledger_dir = self.ledger_dir.clone();
        s.only = self.only.clone();
        if let Some(shard) = &self.shard {
            // An invalid manifest is reported by the session, file and line.
            if let Ok(manifest) = crate::manifest::load(&self.manifest) {
                s.only = crate::shard::select(&manifest, self.shard_size, shard)?;
            }
        }
        if let Some(path) = &self.age_identity_file {
            s.age_identity = Some(SecretString::new(
                std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?,
            ));
        }
        s.age_recipients = self.age_recipients.clone();
        s.mtls_cname_api_key = self
            .mtls_cname_api_key
            .as_deref()
            .filter(|k| !k.is_empty())
            .map(SecretString::from);
        s.http_timeout = self.http_timeout.map(std::time::Duration::from_secs);
        s.concurrency = self.concurrency;
        Ok(s)
    }

    pub(crate) fn now(&self) -> OffsetDateTime {
        self.now.unwrap_or_else(crate::clock::wall)
    }
}

/// `verify --key-env NAME`: the key is in the variable the user named.
#[expect(
    clippy::disallowed_methods,
    reason = "the CLI reads the one variable its --key-env option names"
)]
pub(crate) fn key_from_env(name: &str) -> anyhow::Result<SecretString> {
    std::env::var(name)
        .map(SecretString::new)
        .map_err(|_| anyhow::anyhow!("environment variable {name} is not set (or use --key-file)"))
}

pub(crate) fn options(force: &[String]) -> PlanOptions {
    PlanOptions {
        force: force.iter().cloned().collect(),
        can_resume: false,
    }
}

/// Runs a command; returns the process exit code. `plan`, `rotate` and
/// `finalize` run within their `--run-budget`.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    let budget = match &cli.command {
        Command::Plan { run, .. } | Command::Rotate { run, .. } | Command::Finalize { run } => {
            Some(std::time::Duration::from_secs(run.run_budget))
        }
        _ => None,
    };
    match budget {
        Some(b) => match tokio::time::timeout(b, run_command(cli)).await {
            Ok(r) => r,
            Err(_) => {
                crate::errln!(
                    "error: the run exceeded its budget of {} s (--run-budget) and was stopped; \
                     a rotation it started is journaled and the next run continues it",
                    b.as_secs()
                );
                Ok(1)
            }
        },
        None => run_command(cli).await,
    }
}

async fn run_command(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Plan {
            run, matrix: true, ..
        } => commands::plan::matrix(&run),
        Command::Plan {
            run, format, force, ..
        } => commands::plan::run(&run, format, &force).await,
        Command::Rotate { run, force } => commands::rotate::run(&run, &force).await,
        Command::Finalize { run } => commands::finalize::run(&run).await,
        Command::Validate { manifest } => Ok(commands::validate::run(&manifest)),
        Command::Schema => commands::schema::run(),
        Command::Emulator { listen, seed_demo } => commands::emulator::run(listen, seed_demo).await,
        Command::Demo { exchanges } => crate::demo::run(exchanges).await,
        Command::Bench {
            fleet:
                Some(BenchCommand::Fleet {
                    entries,
                    latency_ms,
                    auth0_rps,
                    github_writes_per_min,
                    concurrency,
                    group,
                }),
            ..
        } => {
            let args = crate::bench::fleet::FleetArgs {
                entries,
                latency: std::time::Duration::from_millis(latency_ms),
                auth0_rps,
                github_writes_per_min,
                concurrency,
                group,
            };
            crate::out!("{}", crate::bench::fleet::run(args).await?);
            Ok(0)
        }
        Command::Bench { samples, .. } => {
            crate::out!("{}", crate::bench::run(samples).await?);
            Ok(0)
        }
        Command::Init(args) => Ok(commands::init::run(&args)),
        Command::Verify(args) => commands::verify::run(args).await,
        Command::Status { run, format } => commands::status::run(&run, format).await,
        Command::Release(command) => Ok(commands::release::run(&command)),
        Command::Action => Ok(crate::action::run().await),
    }
}
