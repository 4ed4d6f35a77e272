//! `auth0-rotate demo`: a full rotation on the embedded emulator, with a
//! consumer exchanging tokens throughout, and a report at the end.

pub mod consumer;

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::emulator::auth0::{ClientView, KEY_SCOPES, ROTATION_SCOPES, SECRET_SCOPES};
use crate::emulator::github::{SecretStoreRef, TokenKind};
use crate::emulator::RunningEmulator;
use crate::github::{seal, GitHubApi, OctocrabGitHub, Repo, Store};
use crate::keys::{Alg, KeySize, PrivateKey};
use crate::ledger::LedgerEntry;
use crate::plan::PlanOptions;
use crate::run::Stage;
use crate::secret::{SecretBytes, SecretString};
use crate::session::{Management, Session, Settings};
use consumer::{Consumer, ConsumerConfig};

/// The demo tenant's domain.
pub const DOMAIN: &str = "acme-demo.eu.auth0.com";
/// The demo tenant's manifest name.
pub const TENANT: &str = "demo";
/// The rotated application.
pub const CLIENT_ID: &str = "Xq3bW8yTn2VfK7pLm4RzD9sHc6JgA1uE";
/// The API the application calls.
pub const AUDIENCE: &str = "https://billing.acme.example/";
/// The management (M2M) application.
pub const MGMT_CLIENT_ID: &str = "rotation-bot-m2m-0000000000000000";
/// Its secret (a demo value, not a real credential).
pub const MGMT_SECRET: &str = "demo-management-secret";
/// The repository.
pub const OWNER: &str = "acme";
/// The repository.
pub const REPO: &str = "infra";
/// The demo's GitHub App installation token (a demo value).
pub const GITHUB_TOKEN: &str = "ghs_demoAppInstallationToken0000000000";
/// The secret consumers read.
pub const SECRET: &str = "BILLING_AUTH0_KEY";
/// Manifest path in the repository.
pub const MANIFEST_PATH: &str = ".github/auth0-rotation.yml";

/// The demo manifest.
pub const MANIFEST: &str = r#"# auth0-rotate manifest for the demo tenant.
version: 1
tenants:
  demo:
    domain: acme-demo.eu.auth0.com
defaults:
  alg: RS256
  key_size: 2048
  rotate_every: 90d
  renew_before: 14d
  lifetime: 120d
credentials:
  - name: billing-worker
    tenant: demo
    client_id: Xq3bW8yTn2VfK7pLm4RzD9sHc6JgA1uE
    verify:
      audience: https://billing.acme.example/
    sinks:
      - kind: repo_secret
        name: BILLING_AUTH0_KEY
      - kind: variable
        name: BILLING_AUTH0_KID
        value: kid
"#;

/// One run of `stage` at the current instant, as a user's command would.
async fn run_now(session: &Session, stage: Stage) -> anyhow::Result<crate::apply::Report> {
    let (_, report) = session
        .run(stage, crate::clock::wall(), &PlanOptions::default(), &())
        .await?;
    Ok(report)
}

/// What [`seed`] created.
#[derive(Debug, Clone)]
pub struct Seeded {
    /// Emulator base URL.
    pub base_url: String,
    /// Kid of the pre-existing credential.
    pub initial_kid: String,
    /// Id of the pre-existing credential.
    pub initial_credential: String,
}

impl Seeded {
    /// How to point the CLI at the seeded emulator.
    pub fn describe(&self) -> String {
        format!(
            "seeded tenant {DOMAIN} (client {CLIENT_ID}, credential {} kid {}) and repository {OWNER}/{REPO}\n\
             try:\n  GITHUB_REPOSITORY={OWNER}/{REPO} GITHUB_API_URL={b}/github GITHUB_TOKEN={GITHUB_TOKEN} \\\n  \
             AUTH0_CLIENT_ID={MGMT_CLIENT_ID} AUTH0_CLIENT_SECRET={MGMT_SECRET} \\\n  \
             auth0-rotate plan --manifest <a copy of {MANIFEST_PATH}> --auth0-base-url {TENANT}={b}/auth0/{DOMAIN}",
            self.initial_credential,
            self.initial_kid,
            b = self.base_url
        )
    }
}

/// Seeds the demo tenant (a client with one attached credential, whose key
/// sits in a repository secret) and the demo repository.
pub async fn seed(emu: &RunningEmulator) -> anyhow::Result<Seeded> {
    let a = &emu.emulator.auth0;
    a.create_tenant(DOMAIN);
    a.create_client(
        DOMAIN,
        MGMT_CLIENT_ID,
        "auth0-rotate (M2M)",
        Some(MGMT_SECRET),
    )?;
    a.grant(
        DOMAIN,
        MGMT_CLIENT_ID,
        &format!("https://{DOMAIN}/api/v2/"),
        &ROTATION_SCOPES
            .iter()
            .chain(KEY_SCOPES)
            .chain(SECRET_SCOPES)
            .copied()
            .collect::<Vec<_>>(),
    )?;
    a.create_client(DOMAIN, CLIENT_ID, "billing-worker", None)?;
    a.grant(DOMAIN, CLIENT_ID, AUDIENCE, &["read:invoices"])?;
    let key = PrivateKey::generate(KeySize::Rsa2048)?;
    let cred = a.add_credential(
        DOMAIN,
        CLIENT_ID,
        "billing-worker (set up by hand)",
        key.public_key_pem(),
        Alg::RS256,
        true,
    )?;

    let g = &emu.emulator.github;
    g.create_org(OWNER);
    g.create_repo(
        OWNER,
        REPO,
        "main",
        &[(MANIFEST_PATH, MANIFEST), ("README.md", "# infra\n")],
    );
    g.add_token(GITHUB_TOKEN, TokenKind::App);

    // The key a human put in the secret before adopting the tool.
    let gh = OctocrabGitHub::new(&emu.github_api_url(), &SecretString::from(GITHUB_TOKEN))?;
    let store = Store::Repo(repo());
    let pk = gh.secret_public_key(&store).await?;
    let pem = key.to_pkcs8_pem();
    let sealed = seal::seal(&pk.key, &SecretBytes::new(pem.expose().as_bytes().to_vec()))
        .map_err(anyhow::Error::msg)?;
    gh.put_secret(&store, SECRET, &sealed, &pk.key_id).await?;
    Ok(Seeded {
        base_url: emu.base_url(),
        initial_kid: cred.kid,
        initial_credential: cred.id,
    })
}

fn repo() -> Repo {
    Repo {
        owner: OWNER.into(),
        name: REPO.into(),
    }
}

/// A consumer of the demo secret that exchanges tokens for the demo
/// audience, pausing `interval` between exchanges.
pub fn consumer_config(emu: &RunningEmulator, interval: Duration) -> ConsumerConfig {
    ConsumerConfig {
        secret: SecretStoreRef::Repo {
            owner: OWNER.into(),
            repo: REPO.into(),
        },
        secret_name: SECRET.into(),
        domain: DOMAIN.into(),
        auth0_base_url: emu.auth0_base_url(DOMAIN),
        client_id: CLIENT_ID.into(),
        audience: AUDIENCE.into(),
        alg: Alg::RS256,
        interval,
    }
}

/// Settings for a run against the emulator, with the manifest at `manifest_path`.
pub fn settings(emu: &RunningEmulator, manifest_path: std::path::PathBuf) -> Settings {
    let mut s = Settings::new(
        manifest_path,
        repo(),
        emu.github_api_url(),
        SecretString::from(GITHUB_TOKEN),
    );
    s.management = Some(Management::Secret {
        client_id: MGMT_CLIENT_ID.into(),
        secret: SecretString::from(MGMT_SECRET),
    });
    s.auth0_base_urls
        .insert(TENANT.into(), emu.auth0_base_url(DOMAIN));
    // The emulator limits GitHub writes only when told to (then the
    // caller paces to match).
    s.github_writes_per_minute = None;
    s.github_writes_per_hour = None;
    s
}

/// Everything the demo observed.
#[derive(Debug)]
pub struct Outcome {
    /// Printable log of the run.
    pub log: String,
    /// The client before.
    pub before: ClientView,
    /// The client after.
    pub after: ClientView,
    /// Successful exchanges.
    pub ok: u64,
    /// Failed exchanges.
    pub failed: u64,
    /// Kids the consumer used, in order.
    pub kids: Vec<String>,
    /// Kid of the key in the secret at the end.
    pub secret_kid: Option<String>,
    /// Ledger on the default branch at the end.
    pub ledger: Option<LedgerEntry>,
    /// The rotation PR.
    pub pull_url: Option<String>,
    /// Exit code of the final `plan`.
    pub final_plan_exit: i32,
    /// Credentials created by the second `rotate`.
    pub created_by_second_rotate: usize,
}

impl Outcome {
    /// True when the rotation had zero downtime and converged.
    pub fn success(&self) -> bool {
        self.failed == 0
            && self.after.attached.len() == 1
            && self.after.attached_kids().first() == self.secret_kid.as_ref()
            && self.ledger.as_ref().map(|l| &l.current.credential_id) == self.after.attached.first()
            && self.final_plan_exit == 0
    }
}

/// Runs the whole scenario on `emu` (already seeded) with at least
/// `exchanges` token exchanges by the consumer.
pub async fn scenario(emu: &RunningEmulator, exchanges: u64) -> anyhow::Result<Outcome> {
    use std::fmt::Write;
    let mut log = String::new();
    let dir = tempfile_dir()?;
    let manifest_path = dir.join("auth0-rotation.yml");
    std::fs::write(&manifest_path, MANIFEST)?;
    let settings = settings(emu, manifest_path);

    let consumer = Consumer::start(
        emu.emulator.github.clone(),
        consumer_config(emu, Duration::ZERO),
    );
    let quarter = (exchanges / 4).max(1);
    consumer
        .wait_for_total(quarter, Duration::from_secs(60))
        .await;
    let before = emu
        .emulator
        .auth0
        .client(DOMAIN, CLIENT_ID)
        .expect("seeded client");
    let _ = writeln!(
        log,
        "before: attached {:?} (kids {:?})",
        before.attached,
        short(&before.attached_kids())
    );

    let session = Session::open(&settings).await?;
    let now = crate::clock::wall();
    let plan = session.plan_run(now, &PlanOptions::default()).await?;
    let _ = writeln!(log, "\n$ auth0-rotate plan\n{}", plan.to_text());

    let report = run_now(&session, Stage::Rotate).await?;
    let _ = writeln!(log, "$ auth0-rotate rotate\n{}", report.to_text());
    let pull_url = report.entries.iter().find_map(|e| match &e.outcome {
        crate::apply::Outcome::Rotated { pull_url, .. } => Some(pull_url.clone()),
        _ => None,
    });
    let new_kid = report.entries.iter().find_map(|e| match &e.outcome {
        crate::apply::Outcome::Rotated { kid, .. } => Some(kid.clone()),
        _ => None,
    });

    let count_before = emu
        .emulator
        .auth0
        .client(DOMAIN, CLIENT_ID)
        .map(|c| c.credentials.len())
        .unwrap_or(0);
    let again = run_now(&session, Stage::Rotate).await?;
    let count_after = emu
        .emulator
        .auth0
        .client(DOMAIN, CLIENT_ID)
        .map(|c| c.credentials.len())
        .unwrap_or(0);
    let _ = writeln!(
        log,
        "$ auth0-rotate rotate   # again: converges, creates nothing\n{}",
        again.to_text()
    );

    // Consumers pick up the new secret (here: on their next read), then a human merges.
    if let Some(kid) = &new_kid {
        consumer
            .wait_for_kid(kid, quarter, Duration::from_secs(60))
            .await;
    }
    let pulls = emu.emulator.github.pulls(OWNER, REPO);
    if let Some(pull) = pulls.iter().find(|p| p.state == "open") {
        emu.emulator.github.merge_pull(OWNER, REPO, pull.number)?;
        let _ = writeln!(log, "merged PR #{} ({})\n", pull.number, pull.title);
    }

    let fin = run_now(&session, Stage::Finalize).await?;
    let _ = writeln!(log, "$ auth0-rotate finalize\n{}", fin.to_text());
    let fin2 = run_now(&session, Stage::Finalize).await?;
    let _ = writeln!(
        log,
        "$ auth0-rotate finalize   # again: a no-op\n{}",
        fin2.to_text()
    );

    consumer
        .wait_for_total(exchanges, Duration::from_secs(120))
        .await;
    let stats = consumer.stop().await;
    let final_plan = session
        .plan_run(crate::clock::wall(), &PlanOptions::default())
        .await?;
    let _ = writeln!(log, "$ auth0-rotate plan\n{}", final_plan.to_text());

    let after = emu
        .emulator
        .auth0
        .client(DOMAIN, CLIENT_ID)
        .expect("client");
    let secret_kid = emu
        .emulator
        .github
        .secret_plaintext(
            &SecretStoreRef::Repo {
                owner: OWNER.into(),
                repo: REPO.into(),
            },
            SECRET,
        )
        .and_then(|p| {
            PrivateKey::from_pkcs8_pem(&SecretString::new(
                String::from_utf8_lossy(p.expose()).into_owned(),
            ))
            .ok()
        })
        .map(|k| k.kid());
    let ledger_path =
        crate::ledger::entry_path(crate::ledger::DEFAULT_LEDGER_DIR, TENANT, "billing-worker");
    let ledger = emu
        .emulator
        .github
        .file(OWNER, REPO, "main", &ledger_path)
        .and_then(|b| LedgerEntry::parse(&ledger_path, &String::from_utf8_lossy(&b)).ok());
    let _ = std::fs::remove_dir_all(&dir);
    let kids = stats.kids.lock().expect("kids").clone();
    Ok(Outcome {
        log,
        before,
        after,
        ok: stats.ok.load(Ordering::SeqCst),
        failed: stats.failed.load(Ordering::SeqCst),
        kids,
        secret_kid,
        ledger,
        pull_url,
        final_plan_exit: final_plan.exit_code(),
        created_by_second_rotate: count_after.saturating_sub(count_before),
    })
}

fn short(kids: &[String]) -> Vec<String> {
    kids.iter().map(|k| crate::plan::short_kid(k)).collect()
}

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let mut raw = [0u8; 8];
    aws_lc_rs::rand::fill(&mut raw).map_err(|_| std::io::Error::other("rng"))?;
    let dir = std::env::temp_dir().join(format!(
        "auth0-rotate-demo-{}",
        raw.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// `auth0-rotate demo`.
pub async fn run(exchanges: u64) -> anyhow::Result<i32> {
    let emu = crate::emulator::Emulator::new().start_local().await?;
    crate::outln!(
        "emulator on {} (Auth0 tenant {DOMAIN}, GitHub repository {OWNER}/{REPO})",
        emu.base_url()
    );
    let seeded = seed(&emu).await?;
    crate::outln!(
        "seeded: client {CLIENT_ID} with credential {} (kid {}…), its key in secret {SECRET}\n",
        seeded.initial_credential,
        &seeded.initial_kid[..12]
    );
    let out = scenario(&emu, exchanges).await?;
    emu.stop().await;
    crate::out!("{}", out.log);
    crate::outln!("── report ──");
    crate::outln!("credentials before: attached {:?}", out.before.attached);
    crate::outln!(
        "credentials after:  attached {:?}, all records {:?}",
        out.after.attached,
        out.after
            .credentials
            .iter()
            .map(|c| c.id.as_str())
            .collect::<Vec<_>>()
    );
    crate::outln!("kids used by the consumer: {:?}", short(&out.kids));
    crate::outln!("token exchanges: {} ok, {} failed", out.ok, out.failed);
    if let Some(url) = &out.pull_url {
        crate::outln!("pull request: {url}");
    }
    let ok = out.success() && out.ok + out.failed >= exchanges;
    crate::outln!(
        "result: {}",
        if ok {
            "zero-downtime rotation complete"
        } else {
            "FAILED"
        }
    );
    Ok(if ok { 0 } else { 1 })
}
