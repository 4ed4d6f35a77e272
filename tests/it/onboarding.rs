//! Onboarding a client that still uses its client secret, by cutover:
//! stage 1 registers a key (not attached) and writes it while the secret
//! keeps working; the merge approves the switch; finalize attaches the key,
//! ends the secret and proves the key. A client whose `jwt_configuration.alg`
//! is not RS256 is refused before anything is written.

use std::collections::BTreeMap;

use crate::support::crash::{Crash, CrashAuth0, CrashGitHub};
use auth0_rotate::apply::{self, Context, Outcome, Report};
use auth0_rotate::auth0::token::{client_credentials, ClientAuth};
use auth0_rotate::demo::{self, AUDIENCE, DOMAIN, OWNER, REPO};
use auth0_rotate::emulator::github::{MergeMethod, SecretStoreRef};
use auth0_rotate::emulator::{Emulator, RunningEmulator};
use auth0_rotate::keys::{Alg, PrivateKey};
use auth0_rotate::plan::{Attention, Decision, PlanOptions};
use auth0_rotate::secret::SecretString;
use auth0_rotate::session::Session;
use time::OffsetDateTime;

const LEGACY: &str = "legacyWorkerOnSecret000000000000";
const LEGACY_SECRET: &str = "a-legacy-client-secret-set-by-hand";
const SINK: &str = "LEGACY_AUTH0_KEY";

const MANIFEST: &str = r#"version: 1
tenants:
  demo:
    domain: acme-demo.eu.auth0.com
credentials:
  - name: legacy-worker
    tenant: demo
    client_id: legacyWorkerOnSecret000000000000
    rotate_every: 90d
    onboard: cutover
    verify:
      audience: https://billing.acme.example/
    sinks:
      - kind: repo_secret
        name: LEGACY_AUTH0_KEY
"#;

struct Setup {
    emu: RunningEmulator,
    session: Session,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let emu = Emulator::new().start_local().await.unwrap();
    demo::seed(&emu).await.unwrap();
    let a = &emu.emulator.auth0;
    a.create_client(DOMAIN, LEGACY, "legacy-worker", Some(LEGACY_SECRET))
        .unwrap();
    a.grant(DOMAIN, LEGACY, AUDIENCE, &["read:invoices"])
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.yml");
    std::fs::write(&path, MANIFEST).unwrap();
    let mut settings = demo::settings(&emu, path);
    let identity = age::x25519::Identity::generate();
    settings.age_identity = Some(SecretString::new({
        use age::secrecy::ExposeSecret;
        identity.to_string().expose_secret().to_owned()
    }));
    // Crashes are simulated inside this process, which stays alive: the
    // journals of these runs name no holder, so only their age counts.
    settings.runner = auth0_rotate::journal::Holder::default();
    let session = Session::open(&settings).await.unwrap();
    Setup {
        emu,
        session,
        _dir: dir,
    }
}

impl Setup {
    fn client(&self) -> auth0_rotate::emulator::auth0::ClientView {
        self.emu.emulator.auth0.client(DOMAIN, LEGACY).unwrap()
    }

    async fn exchange(&self, auth: ClientAuth<'_>) -> bool {
        client_credentials(
            &reqwest::Client::new(),
            &self.emu.auth0_base_url(DOMAIN),
            DOMAIN,
            auth,
            AUDIENCE,
        )
        .await
        .is_ok()
    }

    async fn secret_works(&self) -> bool {
        let secret = SecretString::from(LEGACY_SECRET);
        self.exchange(ClientAuth::Secret {
            client_id: LEGACY,
            secret: &secret,
        })
        .await
    }

    async fn key_works(&self, key: &PrivateKey) -> bool {
        self.exchange(ClientAuth::Key {
            client_id: LEGACY,
            key,
            alg: Alg::RS256,
        })
        .await
    }

    fn sink_key(&self) -> Option<PrivateKey> {
        let store = SecretStoreRef::Repo {
            owner: OWNER.into(),
            repo: REPO.into(),
        };
        let plain = self.emu.emulator.github.secret_plaintext(&store, SINK)?;
        Some(
            PrivateKey::from_pkcs8_pem(&SecretString::new(
                String::from_utf8(plain.expose().to_vec()).unwrap(),
            ))
            .unwrap(),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cutover_switches_the_client_at_the_finalize_after_the_merge() {
    let s = setup().await;
    let now = OffsetDateTime::now_utc();
    let plan = s.session.plan(now, &PlanOptions::default()).await.unwrap();
    assert!(
        matches!(
            plan.entries[0].decision,
            Decision::Onboard { resume: None, .. }
        ),
        "{}",
        plan.to_text()
    );

    let (_, report) = s
        .session
        .rotate(now, &PlanOptions::default())
        .await
        .unwrap();
    assert!(
        matches!(
            report.entries[0].outcome,
            Outcome::Applied { pull: Some(_), .. }
        ),
        "{}",
        report.to_text()
    );
    let c = s.client();
    assert!(c.attached.is_empty(), "nothing attached before the merge");
    assert_eq!(c.credentials.len(), 1, "the key is registered");
    let key = s
        .sink_key()
        .expect("the key is in the sink before the merge");
    assert_eq!(c.credentials[0].kid, key.kid());
    assert!(
        s.secret_works().await,
        "the secret keeps working until the merge"
    );
    assert!(
        !s.key_works(&key).await,
        "the key is not accepted before the merge"
    );
    let pr = s
        .emu
        .emulator
        .github
        .pulls(OWNER, REPO)
        .into_iter()
        .find(|p| p.state == "open")
        .unwrap();
    assert!(pr.title.contains("private_key_jwt"), "{}", pr.title);
    let body = pr.body.clone().unwrap_or_default();
    assert!(body.contains("stop working when finalize runs"), "{body}");

    let plan = s.session.plan(now, &PlanOptions::default()).await.unwrap();
    assert!(
        plan.entries[0].explanation.contains("cutover in flight"),
        "{}",
        plan.to_text()
    );
    // Merged, not yet finalized: nothing has changed for consumers.
    s.emu
        .emulator
        .github
        .merge_pull_with(OWNER, REPO, pr.number, MergeMethod::Rebase)
        .unwrap();
    assert!(s.secret_works().await);

    let (plan, report) = s.session.finalize(OffsetDateTime::now_utc()).await.unwrap();
    assert!(
        matches!(plan.entries[0].decision, Decision::Cutover { .. }),
        "{}",
        plan.to_text()
    );
    assert_eq!(report.exit_code(), 0, "{}", report.to_text());
    assert!(
        report.to_text().contains("verified by a token exchange"),
        "{}",
        report.to_text()
    );
    assert_eq!(s.client().attached_kids(), vec![key.kid()]);
    assert!(!s.secret_works().await, "the secret ends at the finalize");
    assert!(
        s.key_works(&key).await,
        "the key works from the finalize on"
    );

    let plan = s
        .session
        .plan(OffsetDateTime::now_utc(), &PlanOptions::default())
        .await
        .unwrap();
    assert!(
        matches!(plan.entries[0].decision, Decision::NotDue { .. }),
        "now rotated like any other entry: {}",
        plan.to_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_not_on_rs256_is_refused_before_anything_is_written() {
    let s = setup().await;
    s.emu
        .emulator
        .auth0
        .set_jwt_alg(DOMAIN, LEGACY, "HS256")
        .unwrap();
    let (plan, report) = s
        .session
        .rotate(OffsetDateTime::now_utc(), &PlanOptions::default())
        .await
        .unwrap();
    assert_eq!(
        plan.entries[0].decision,
        Decision::NeedsAttention {
            problem: Attention::NotRs256 {
                alg: "HS256".into()
            }
        },
        "{}",
        plan.to_text()
    );
    let reason = match &report.entries[0].outcome {
        Outcome::NeedsAttention { reason } => reason.clone(),
        other => panic!("{other:?}"),
    };
    assert!(
        reason.contains("RS256") && reason.contains("nothing was changed"),
        "{reason}"
    );
    assert_eq!(report.exit_code(), 1);
    assert!(s.client().credentials.is_empty(), "no key registered");
    assert!(s.sink_key().is_none(), "no sink written");
    assert!(s.emu.emulator.github.pulls(OWNER, REPO).is_empty());
    assert!(s.secret_works().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_on_a_secret_without_onboard_is_explained() {
    let s = setup().await;
    let path = s._dir.path().join("plain.yml");
    std::fs::write(&path, MANIFEST.replace("    onboard: cutover\n", "")).unwrap();
    let session = Session::open(&demo::settings(&s.emu, path)).await.unwrap();
    let plan = session
        .plan(OffsetDateTime::now_utc(), &PlanOptions::default())
        .await
        .unwrap();
    assert!(
        matches!(
            plan.entries[0].decision,
            Decision::NeedsAttention {
                problem: Attention::OnSecret { .. }
            }
        ),
        "{}",
        plan.to_text()
    );
    assert!(plan.entries[0].explanation.contains("onboard: cutover"));
}

/// One stage of `s.session`, with every Auth0 and GitHub call going through
/// `crash`.
async fn crashing(s: &Setup, crash: &Crash, finalize: bool, now: OffsetDateTime) -> Report {
    let session = &s.session;
    let plan = session.plan(now, &PlanOptions::default()).await.unwrap();
    let auth0: BTreeMap<_, _> = session
        .auth0
        .iter()
        .map(|(k, v)| (k.clone(), CrashAuth0 { inner: v, crash }))
        .collect();
    let github = CrashGitHub {
        inner: &session.github,
        crash,
    };
    let ctx = Context {
        auth0: &auth0,
        github: &github,
        workspace: &session.workspace,
        journal: &session.journal,
        mtls_cname_api_key: None,
        now,
    };
    if finalize {
        apply::finalize(&ctx, &session.specs, &plan).await
    } else {
        apply::rotate(&ctx, &session.specs, &plan).await
    }
}

/// Before the merge the secret works and no key is attached; every key a
/// sink holds is registered in Auth0 (never deleted: it may be in use).
async fn before_merge_invariants(s: &Setup, ctx: &str) {
    let c = s.client();
    assert!(c.attached.is_empty(), "{ctx}: attached before the merge");
    assert!(s.secret_works().await, "{ctx}: the secret stopped working");
    if let Some(k) = s.sink_key() {
        assert!(
            c.credentials.iter().any(|x| x.kid == k.kid()),
            "{ctx}: the sink's key is not registered"
        );
    }
}

fn open_pull(s: &Setup) -> Option<u64> {
    s.emu
        .emulator
        .github
        .pulls(OWNER, REPO)
        .into_iter()
        .find(|p| p.state == "open")
        .map(|p| p.number)
}

/// Every call of an onboarding's rotate and finalize, crashed before it
/// reaches the server and after it was applied with its answer lost: reruns
/// converge to one attached credential whose key is the sink's, the secret
/// works until the merge, and no credential is ever orphaned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_crash_point_of_an_onboarding_converges() {
    let s = setup().await;
    let now = OffsetDateTime::now_utc();
    let counter = Crash::never();
    crashing(&s, &counter, false, now).await;
    let rotate_calls = counter.calls();
    let pr = open_pull(&s).expect("a PR");
    s.emu.emulator.github.merge_pull(OWNER, REPO, pr).unwrap();
    let counter = Crash::never();
    crashing(&s, &counter, true, now).await;
    let finalize_calls = counter.calls();
    assert_eq!(s.client().attached.len(), 1);

    let mut cases = 0;
    for (finalize, calls) in [(false, rotate_calls), (true, finalize_calls)] {
        for k in 0..calls {
            for applied in [false, true] {
                let ctx = format!(
                    "{} call {k} ({})",
                    if finalize { "finalize" } else { "rotate" },
                    if applied {
                        "applied, answer lost"
                    } else {
                        "not applied"
                    }
                );
                let s = setup().await;
                let mut now = OffsetDateTime::now_utc();
                if finalize {
                    s.session
                        .rotate(now, &PlanOptions::default())
                        .await
                        .unwrap();
                } else {
                    let crash = Crash::new(k, applied);
                    crashing(&s, &crash, false, now).await;
                    assert!(crash.crashed(), "{ctx}: never reached");
                    before_merge_invariants(&s, &ctx).await;
                    for _ in 0..3 {
                        if open_pull(&s).is_some() {
                            break;
                        }
                        now += time::Duration::minutes(11);
                        let (_, r) = s
                            .session
                            .rotate(now, &PlanOptions::default())
                            .await
                            .unwrap();
                        before_merge_invariants(&s, &format!("{ctx}, rerun")).await;
                        assert_eq!(r.exit_code(), 0, "{ctx}: {}", r.to_text());
                    }
                }
                before_merge_invariants(&s, &ctx).await;
                let pr = open_pull(&s).unwrap_or_else(|| panic!("{ctx}: no PR"));
                s.emu.emulator.github.merge_pull(OWNER, REPO, pr).unwrap();
                if finalize {
                    let crash = Crash::new(k, applied);
                    crashing(&s, &crash, true, now).await;
                    assert!(crash.crashed(), "{ctx}: never reached");
                }
                let (_, r) = s.session.finalize(now).await.unwrap();
                assert_eq!(r.exit_code(), 0, "{ctx}: {}", r.to_text());
                let key = s.sink_key().unwrap();
                let c = s.client();
                assert_eq!(c.attached_kids(), vec![key.kid()], "{ctx}");
                assert_eq!(c.credentials.len(), 1, "{ctx}: an orphan was left");
                assert!(!s.secret_works().await, "{ctx}: the secret still works");
                assert!(s.key_works(&key).await, "{ctx}: the sink's key fails");
                s.emu.stop().await;
                cases += 1;
            }
        }
    }
    println!("{cases} onboarding crash cases converged");
}

/// The cutover PR's branch ledger edited to name another key: the PR is not
/// trusted, and merging it anyway switches nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_cutover_ledger_switches_nothing() {
    let s = setup().await;
    let now = OffsetDateTime::now_utc();
    s.session
        .rotate(now, &PlanOptions::default())
        .await
        .unwrap();
    let gh = &s.emu.emulator.github;
    let branch = "auth0-rotate/demo/legacy-worker";
    let path = ".github/auth0-rotation.ledger/demo/legacy-worker.yml";
    let text = String::from_utf8(gh.file(OWNER, REPO, branch, path).unwrap()).unwrap();
    let mut edited = auth0_rotate::ledger::LedgerEntry::parse(path, &text).unwrap();
    let attacker = PrivateKey::generate(auth0_rotate::keys::KeySize::Rsa2048).unwrap();
    edited.current.kid = attacker.kid();
    gh.commit_files(
        OWNER,
        REPO,
        branch,
        "use my key",
        &[(path, Some(&edited.render()))],
    )
    .unwrap();
    let plan = s.session.plan(now, &PlanOptions::default()).await.unwrap();
    assert!(
        plan.entries[0].explanation.contains("cannot be trusted"),
        "{}",
        plan.to_text()
    );
    let pr = open_pull(&s).unwrap();
    gh.merge_pull_with(OWNER, REPO, pr, MergeMethod::Merge)
        .unwrap();
    let (plan, report) = s.session.finalize(OffsetDateTime::now_utc()).await.unwrap();
    assert!(
        matches!(
            plan.entries[0].decision,
            Decision::NeedsAttention {
                problem: Attention::UnsafeLedger { .. }
            }
        ),
        "{}",
        plan.to_text()
    );
    assert_eq!(report.exit_code(), 1);
    assert!(s.client().attached.is_empty(), "nothing attached");
    assert!(s.secret_works().await, "the secret still works");
}
