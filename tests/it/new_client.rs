//! Onboarding onto a new client (`onboard: new_client`): stage 1 creates a
//! sibling client on private_key_jwt with the old client's grants, proves
//! it and points the sinks at it (JSON with its client id) while the old
//! secret keeps working; the merge approves retiring the old client
//! (`rotate_secret` or `remove_grants`); the entry then lives on the new
//! client. A consumer that follows the sink never fails, under compound
//! faults, concurrent runs, edited ledgers and crashes at every call.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::support::crash::{Crash, CrashAuth0, CrashGitHub};
use auth0_rotate::apply::{self, Context, Outcome, Report};
use auth0_rotate::auth0::token::{client_credentials, ClientAuth};
use auth0_rotate::demo::{self, AUDIENCE, CLIENT_ID, DOMAIN, MGMT_CLIENT_ID, OWNER, REPO};
use auth0_rotate::emulator::auth0::{ONBOARDING_SCOPES, ROTATION_SCOPES, SECRET_SCOPES};
use auth0_rotate::emulator::faults::{FaultKind, FaultRule, Service};
use auth0_rotate::emulator::github::{MergeMethod, SecretStoreRef};
use auth0_rotate::emulator::{Emulator, RunningEmulator};
use auth0_rotate::keys::{Alg, PrivateKey};
use auth0_rotate::ledger::LedgerEntry;
use auth0_rotate::plan::{Attention, Decision, Onboard, PlanOptions};
use auth0_rotate::secret::SecretString;
use auth0_rotate::session::Session;
use time::{Duration, OffsetDateTime};

const LEGACY: &str = "legacyWorkerOnSecret000000000000";
const LEGACY_SECRET: &str = "a-legacy-client-secret-set-by-hand";
const SINK: &str = "LEGACY_AUTH0_CLIENT";
const BRANCH: &str = "auth0-rotate/demo/legacy-worker";
const LEDGER: &str = ".github/auth0-rotation.ledger/demo/legacy-worker.yml";

fn manifest(retire: &str) -> String {
    format!(
        r#"version: 1
tenants:
  demo:
    domain: acme-demo.eu.auth0.com
credentials:
  - name: legacy-worker
    tenant: demo
    client_id: legacyWorkerOnSecret000000000000
    rotate_every: 90d
    onboard: new_client
    retire_old_client: {retire}
    verify:
      audience: https://billing.acme.example/
    sinks:
      - kind: repo_secret
        name: LEGACY_AUTH0_CLIENT
        format: json
"#
    )
}

/// The tool's Management API scopes: rotation, client secrets, onboarding
/// and creating clients with inline credentials.
fn tool_scopes() -> Vec<&'static str> {
    ROTATION_SCOPES
        .iter()
        .chain(SECRET_SCOPES)
        .chain(ONBOARDING_SCOPES)
        .chain(&["create:client_credentials"])
        .copied()
        .collect()
}

struct Setup {
    emu: RunningEmulator,
    session: Session,
    dir: tempfile::TempDir,
    identity: SecretString,
}

async fn setup(retire: &str) -> Setup {
    setup_with(retire, &tool_scopes()).await
}

async fn setup_with(retire: &str, scopes: &[&str]) -> Setup {
    let emu = Emulator::new().start_local().await.unwrap();
    demo::seed(&emu).await.unwrap();
    let a = &emu.emulator.auth0;
    a.create_client(DOMAIN, LEGACY, "legacy-worker", Some(LEGACY_SECRET))
        .unwrap();
    a.grant(DOMAIN, LEGACY, AUDIENCE, &["read:invoices"])
        .unwrap();
    a.grant(
        DOMAIN,
        MGMT_CLIENT_ID,
        &format!("https://{DOMAIN}/api/v2/"),
        scopes,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let identity = SecretString::new({
        use age::secrecy::ExposeSecret;
        age::x25519::Identity::generate()
            .to_string()
            .expose_secret()
            .to_owned()
    });
    Setup {
        session: open(&emu, &dir, &manifest(retire), &identity).await,
        emu,
        dir,
        identity,
    }
}

async fn open(
    emu: &RunningEmulator,
    dir: &tempfile::TempDir,
    text: &str,
    identity: &SecretString,
) -> Session {
    let path = dir.path().join("m.yml");
    std::fs::write(&path, text).unwrap();
    let mut settings = demo::settings(emu, path);
    settings.age_identity = Some(identity.clone());
    // Crashes are simulated inside this process, which stays alive: the
    // journals of these runs name no holder, so only their age counts.
    settings.runner = auth0_rotate::journal::Holder::default();
    Session::open(&settings).await.unwrap()
}

/// What a consumer reads from the sink: the client id and its key.
fn sink_of(emu: &Emulator) -> Option<(String, PrivateKey)> {
    let store = SecretStoreRef::Repo {
        owner: OWNER.into(),
        repo: REPO.into(),
    };
    let plain = emu.github.secret_plaintext(&store, SINK)?;
    let v: serde_json::Value = serde_json::from_slice(plain.expose()).unwrap();
    let pem = SecretString::new(v["private_key_pem"].as_str().unwrap().to_owned());
    Some((
        v["client_id"].as_str().unwrap().to_owned(),
        PrivateKey::from_pkcs8_pem(&pem).unwrap(),
    ))
}

async fn exchange(base: &str, auth: ClientAuth<'_>) -> bool {
    client_credentials(&reqwest::Client::new(), base, DOMAIN, auth, AUDIENCE)
        .await
        .is_ok()
}

/// One exchange as a consumer that follows the sink: the sink's client and
/// key when it exists, the old client's secret before.
async fn consumer_works(emu: &Emulator, base: &str) -> bool {
    match sink_of(emu) {
        Some((id, key)) => {
            let auth = ClientAuth::Key {
                client_id: &id,
                key: &key,
                alg: Alg::RS256,
            };
            exchange(base, auth).await
        }
        None => {
            let secret = SecretString::from(LEGACY_SECRET);
            let auth = ClientAuth::Secret {
                client_id: LEGACY,
                secret: &secret,
            };
            exchange(base, auth).await
        }
    }
}

/// A consumer exchanging tokens in a loop, reading the sink each time.
struct Probe {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Probe {
    fn start(emu: &RunningEmulator) -> Probe {
        let (stop, ok, failed) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicU64::new(0)),
        );
        let base = emu.auth0_base_url(DOMAIN);
        let emu = emu.emulator.clone();
        let (s, o, f) = (stop.clone(), ok.clone(), failed.clone());
        let task = tokio::spawn(async move {
            while !s.load(Ordering::SeqCst) {
                let counter = if consumer_works(&emu, &base).await {
                    &o
                } else {
                    &f
                };
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        });
        Probe {
            stop,
            ok,
            failed,
            task,
        }
    }

    async fn stop(self) -> (u64, u64) {
        self.stop.store(true, Ordering::SeqCst);
        self.task.await.unwrap();
        (
            self.ok.load(Ordering::SeqCst),
            self.failed.load(Ordering::SeqCst),
        )
    }
}

impl Setup {
    fn base(&self) -> String {
        self.emu.auth0_base_url(DOMAIN)
    }

    async fn old_secret_works(&self) -> bool {
        let secret = SecretString::from(LEGACY_SECRET);
        let auth = ClientAuth::Secret {
            client_id: LEGACY,
            secret: &secret,
        };
        exchange(&self.base(), auth).await
    }

    async fn consumer_works(&self) -> bool {
        consumer_works(&self.emu.emulator, &self.base()).await
    }

    fn sink(&self) -> Option<(String, PrivateKey)> {
        sink_of(&self.emu.emulator)
    }

    /// Clients other than the seeded ones: the siblings created.
    fn siblings(&self) -> Vec<String> {
        self.emu
            .emulator
            .auth0
            .client_ids(DOMAIN)
            .into_iter()
            .filter(|c| ![MGMT_CLIENT_ID, CLIENT_ID, LEGACY].contains(&c.as_str()))
            .collect()
    }

    fn grants_of(&self, client: &str) -> Vec<(String, Vec<String>)> {
        self.emu
            .emulator
            .auth0
            .grants(DOMAIN)
            .into_iter()
            .filter(|g| g.client_id == client)
            .map(|g| (g.audience, g.scopes))
            .collect()
    }

    fn open_pull(&self) -> Option<u64> {
        self.emu
            .emulator
            .github
            .pulls(OWNER, REPO)
            .into_iter()
            .find(|p| p.state == "open")
            .map(|p| p.number)
    }

    fn merge(&self) {
        let pr = self.open_pull().expect("an open PR");
        self.emu
            .emulator
            .github
            .merge_pull_with(OWNER, REPO, pr, MergeMethod::Squash)
            .unwrap();
    }

    fn ledger_at(&self, git_ref: &str) -> Option<LedgerEntry> {
        let bytes = self
            .emu
            .emulator
            .github
            .file(OWNER, REPO, git_ref, LEDGER)?;
        Some(LedgerEntry::parse(LEDGER, &String::from_utf8(bytes).unwrap()).unwrap())
    }

    fn commit_ledger(&self, branch: &str, ledger: &LedgerEntry, message: &str) {
        self.emu
            .emulator
            .github
            .commit_files(
                OWNER,
                REPO,
                branch,
                message,
                &[(LEDGER, Some(&ledger.render()))],
            )
            .unwrap();
    }

    async fn rotate(&self, now: OffsetDateTime) -> Report {
        self.session
            .rotate(now, &PlanOptions::default())
            .await
            .unwrap()
            .1
    }
}

fn decision(plan: &auth0_rotate::plan::Plan) -> &Decision {
    &plan.entries[0].decision
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_following_the_sink_never_fails_through_onboarding_finalize_and_a_rotation() {
    let s = setup("rotate_secret").await;
    let probe = Probe::start(&s.emu);
    let now = OffsetDateTime::now_utc();
    let plan = s.session.plan(now, &PlanOptions::default()).await.unwrap();
    assert_eq!(
        decision(&plan),
        &Decision::Onboard {
            strategy: Onboard::NewClient,
            resume: None
        },
        "{}",
        plan.to_text()
    );

    let report = s.rotate(now).await;
    assert!(
        matches!(
            report.entries[0].outcome,
            Outcome::Applied { pull: Some(_), .. }
        ),
        "{}",
        report.to_text()
    );
    let siblings = s.siblings();
    assert_eq!(siblings.len(), 1, "one new client");
    let new = siblings[0].clone();
    let (id, key) = s.sink().expect("the sink holds the new client");
    assert_eq!(id, new);
    assert_eq!(s.grants_of(&new), s.grants_of(LEGACY), "the same grants");
    assert!(
        s.old_secret_works().await,
        "the old client works until the merge"
    );
    let pr = s.emu.emulator.github.pulls(OWNER, REPO).remove(0);
    assert_eq!(
        pr.title,
        "auth0-rotate: onboard demo/legacy-worker onto a new client"
    );
    let body = pr.body.unwrap_or_default();
    assert!(body.contains("at their own pace"), "{body}");
    assert!(body.contains("secret with one nobody stores"), "{body}");
    let branch = s.ledger_at(BRANCH).unwrap();
    assert_eq!(
        (branch.client_id.as_str(), branch.replaces_client.as_deref()),
        (new.as_str(), Some(LEGACY))
    );

    let plan = s.session.plan(now, &PlanOptions::default()).await.unwrap();
    assert!(
        matches!(decision(&plan), Decision::InFlight { .. }),
        "{}",
        plan.to_text()
    );
    let again = s.rotate(now).await;
    assert_eq!(
        again.exit_code(),
        0,
        "refreshing the PR: {}",
        again.to_text()
    );
    assert_eq!(s.siblings().len(), 1);

    s.merge();
    assert!(s.old_secret_works().await, "merged, not yet finalized");
    let (plan, report) = s.session.finalize(now).await.unwrap();
    assert!(
        matches!(decision(&plan), Decision::RetireOldClient { .. }),
        "{}",
        plan.to_text()
    );
    assert!(
        plan.entries[0]
            .explanation
            .contains("client_id can then be set"),
        "{}",
        plan.to_text()
    );
    assert_eq!(report.exit_code(), 0, "{}", report.to_text());
    assert!(!s.old_secret_works().await, "the old secret is retired");
    let secret = s.emu.emulator.auth0.client_secret(DOMAIN, LEGACY).unwrap();
    assert!(!report.to_text().contains(secret.expose()), "never printed");
    let (_, again) = s.session.finalize(now).await.unwrap();
    assert!(
        matches!(again.entries[0].outcome, Outcome::Unchanged { .. }),
        "a second finalize changes nothing: {}",
        again.to_text()
    );

    // The entry now lives on the new client, and rotates there.
    let plan = s.session.plan(now, &PlanOptions::default()).await.unwrap();
    assert!(
        matches!(decision(&plan), Decision::NotDue { .. }),
        "{}",
        plan.to_text()
    );
    assert_eq!(plan.entries[0].client_id, new);
    assert!(plan.entries[0].explanation.contains("lives on client"));
    let later = now + Duration::days(91);
    let report = s.rotate(later).await;
    assert!(
        matches!(report.entries[0].outcome, Outcome::Rotated { .. }),
        "{}",
        report.to_text()
    );
    let (id, rotated) = s.sink().unwrap();
    assert_eq!(id, new, "the rotation stays on the new client");
    assert_ne!(rotated.kid(), key.kid());
    let proposed = s.ledger_at(BRANCH).unwrap();
    assert_eq!(proposed.replaces_client.as_deref(), Some(LEGACY));
    s.merge();
    let (_, report) = s.session.finalize(later).await.unwrap();
    assert_eq!(report.exit_code(), 0, "{}", report.to_text());
    let c = s.emu.emulator.auth0.client(DOMAIN, &new).unwrap();
    assert_eq!(c.attached_kids(), vec![rotated.kid()]);
    assert!(!s.old_secret_works().await);

    let (ok, failed) = probe.stop().await;
    assert_eq!(failed, 0, "{ok} exchanges succeeded, {failed} failed");
    assert!(ok > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_grants_leaves_the_old_client_without_a_token_for_the_api() {
    let s = setup("remove_grants").await;
    let probe = Probe::start(&s.emu);
    let now = OffsetDateTime::now_utc();
    s.rotate(now).await;
    let new = s.siblings().remove(0);
    let body = s.emu.emulator.github.pulls(OWNER, REPO).remove(0).body;
    assert!(body
        .unwrap_or_default()
        .contains("deletes every client grant"));
    s.merge();
    let (_, report) = s.session.finalize(now).await.unwrap();
    assert_eq!(report.exit_code(), 0, "{}", report.to_text());
    assert!(s.grants_of(LEGACY).is_empty(), "the old grants are gone");
    assert!(!s.old_secret_works().await, "no token for the API");
    assert_eq!(
        s.emu
            .emulator
            .auth0
            .client_secret(DOMAIN, LEGACY)
            .unwrap()
            .expose(),
        LEGACY_SECRET,
        "its secret is untouched"
    );
    assert_eq!(s.grants_of(&new).len(), 1);
    let plan = s.session.plan(now, &PlanOptions::default()).await.unwrap();
    assert_eq!(plan.entries[0].client_id, new, "{}", plan.to_text());
    let (ok, failed) = probe.stop().await;
    assert_eq!(failed, 0, "{ok} exchanges succeeded, {failed} failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_create_then_failing_retries_end_with_one_client_and_grants_copied_once() {
    let s = setup("rotate_secret").await;
    let probe = Probe::start(&s.emu);
    let now = OffsetDateTime::now_utc();
    let faults = s.emu.emulator.faults();
    let rule = |method: &str, path: &str, kind| {
        FaultRule::new(kind)
            .service(Service::Auth0)
            .method(method)
            .path(path)
    };
    // `*` makes the pattern a glob over the whole path: the collection
    // only, not `/api/v2/clients/{id}…`.
    let clients = "/api/v2/*ients";
    faults.add(rule("POST", clients, FaultKind::CrashAfterApply).nth(1));
    faults.add(rule("GET", clients, FaultKind::ServerError { status: 503 }).always());
    let report = s.rotate(now).await;
    assert_ne!(report.exit_code(), 0, "{}", report.to_text());
    assert_eq!(s.siblings().len(), 1, "the lost create did happen");
    assert!(s.sink().is_none(), "no sink before the client is proven");
    assert!(s.open_pull().is_none());
    faults.clear();

    let grants = "/api/v2/client-grants";
    faults.add(rule("POST", grants, FaultKind::CrashAfterApply).nth(1));
    faults.add(rule("GET", grants, FaultKind::ServerError { status: 503 }).always());
    let report = s.rotate(now).await;
    assert_ne!(report.exit_code(), 0, "{}", report.to_text());
    faults.clear();

    let report = s.rotate(now).await;
    assert!(
        matches!(
            report.entries[0].outcome,
            Outcome::Applied { pull: Some(_), .. }
        ),
        "{}",
        report.to_text()
    );
    let siblings = s.siblings();
    assert_eq!(siblings.len(), 1, "exactly one sibling: {siblings:?}");
    assert_eq!(
        s.grants_of(&siblings[0]),
        vec![(AUDIENCE.to_owned(), vec!["read:invoices".to_owned()])],
        "the grant was copied once"
    );
    assert_eq!(s.sink().unwrap().0, siblings[0]);
    let (ok, failed) = probe.stop().await;
    assert_eq!(failed, 0, "{ok} exchanges succeeded, {failed} failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_at_once_create_one_client_and_one_pr() {
    let s = setup("rotate_secret").await;
    let other = open(&s.emu, &s.dir, &manifest("rotate_secret"), &s.identity).await;
    let now = OffsetDateTime::now_utc();
    let options = PlanOptions::default();
    let (a, b) = tokio::join!(s.session.rotate(now, &options), other.rotate(now, &options));
    let (a, b) = (a.unwrap().1, b.unwrap().1);
    let won = [&a, &b]
        .iter()
        .filter(|r| matches!(r.entries[0].outcome, Outcome::Applied { pull: Some(_), .. }))
        .count();
    assert_eq!(won, 1, "{}\n{}", a.to_text(), b.to_text());
    assert_eq!(s.siblings().len(), 1);
    assert_eq!(s.emu.emulator.github.pulls(OWNER, REPO).len(), 1);
    assert!(s.consumer_works().await);
}

/// Finalize refused: the plan names the reason, nothing was retired.
async fn finalize_retires_nothing(s: &Setup, now: OffsetDateTime) {
    let (plan, report) = s.session.finalize(now).await.unwrap();
    assert!(
        matches!(
            decision(&plan),
            Decision::NeedsAttention {
                problem: Attention::UnsafeLedger { .. }
            }
        ),
        "{}",
        plan.to_text()
    );
    assert_eq!(report.exit_code(), 1, "{}", report.to_text());
    assert!(s.old_secret_works().await, "the old client was not retired");
    assert_eq!(s.grants_of(LEGACY).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swapped_branch_ledger_retires_nothing() {
    let s = setup("remove_grants").await;
    let now = OffsetDateTime::now_utc();
    s.rotate(now).await;
    let mut swapped = s.ledger_at(BRANCH).unwrap();
    swapped.client_id = CLIENT_ID.to_owned();
    s.commit_ledger(BRANCH, &swapped, "point at another client");
    let plan = s.session.plan(now, &PlanOptions::default()).await.unwrap();
    assert!(
        plan.entries[0].explanation.contains("cannot be trusted"),
        "{}",
        plan.to_text()
    );
    s.merge();
    finalize_retires_nothing(&s, now).await;
    assert!(s.consumer_works().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_committed_to_main_without_a_merged_pr_retires_nothing() {
    let s = setup("rotate_secret").await;
    let now = OffsetDateTime::now_utc();
    s.rotate(now).await;
    let ledger = s.ledger_at(BRANCH).unwrap();
    s.commit_ledger("main", &ledger, "approve it myself");
    finalize_retires_nothing(&s, now).await;
    let plan = s.session.plan(now, &PlanOptions::default()).await.unwrap();
    assert!(
        plan.entries[0].explanation.contains("nothing was retired"),
        "{}",
        plan.to_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_not_on_rs256_is_refused_and_nothing_is_written() {
    let s = setup("rotate_secret").await;
    s.emu
        .emulator
        .auth0
        .set_jwt_alg(DOMAIN, LEGACY, "HS256")
        .unwrap();
    let report = s.rotate(OffsetDateTime::now_utc()).await;
    let text = report.to_text();
    assert_eq!(report.exit_code(), 1, "{text}");
    assert!(
        text.contains("RS256") && text.contains("nothing was changed"),
        "{text}"
    );
    assert!(s.siblings().is_empty());
    assert!(s.sink().is_none());
    assert!(s.emu.emulator.github.pulls(OWNER, REPO).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_scope_is_named_and_nothing_is_written() {
    let scopes: Vec<&str> = tool_scopes()
        .into_iter()
        .filter(|s| *s != "create:clients")
        .collect();
    let s = setup_with("rotate_secret", &scopes).await;
    let report = s.rotate(OffsetDateTime::now_utc()).await;
    let text = report.to_text();
    assert_ne!(report.exit_code(), 0, "{text}");
    assert!(
        text.contains("create:clients") && text.contains("nothing was changed"),
        "{text}"
    );
    assert!(
        text.contains("Machine To Machine Applications"),
        "the fix: {text}"
    );
    assert!(s.siblings().is_empty());
    assert!(s.sink().is_none());
    assert!(
        s.emu
            .emulator
            .github
            .file(OWNER, REPO, BRANCH, LEDGER)
            .is_none()
            && s.ledger_at(BRANCH).is_none(),
        "no branch"
    );
    assert!(s.old_secret_works().await);
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

/// The consumer works, at most one sibling exists, and before the merge
/// the old secret works.
async fn invariants(s: &Setup, ctx: &str, merged: bool) {
    assert!(s.consumer_works().await, "{ctx}: the consumer failed");
    assert!(s.siblings().len() <= 1, "{ctx}: {:?}", s.siblings());
    if !merged {
        assert!(s.old_secret_works().await, "{ctx}: the old secret stopped");
    }
}

/// Every call of stage 1 and of finalize, crashed before it reaches the
/// server and after it was applied with its answer lost: reruns converge
/// on one sibling holding the sink's key and the old client's grants, the
/// old secret is retired, and a consumer following the sink never fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_crash_point_of_a_new_client_onboarding_converges() {
    let s = setup("rotate_secret").await;
    let now = OffsetDateTime::now_utc();
    let counter = Crash::never();
    crashing(&s, &counter, false, now).await;
    let rotate_calls = counter.calls();
    s.merge();
    let counter = Crash::never();
    crashing(&s, &counter, true, now).await;
    let finalize_calls = counter.calls();
    assert!(!s.old_secret_works().await);

    let mut cases = 0;
    for (finalize, calls) in [(false, rotate_calls), (true, finalize_calls)] {
        for k in 0..calls {
            for applied in [false, true] {
                let stage = if finalize { "finalize" } else { "rotate" };
                let how = if applied {
                    "applied, answer lost"
                } else {
                    "not applied"
                };
                let ctx = format!("{stage} call {k} ({how})");
                let s = setup("rotate_secret").await;
                let mut now = OffsetDateTime::now_utc();
                if finalize {
                    s.rotate(now).await;
                } else {
                    let crash = Crash::new(k, applied);
                    crashing(&s, &crash, false, now).await;
                    assert!(crash.crashed(), "{ctx}: never reached");
                    invariants(&s, &ctx, false).await;
                    for _ in 0..3 {
                        if s.open_pull().is_some() {
                            break;
                        }
                        now += Duration::minutes(11);
                        let r = s.rotate(now).await;
                        invariants(&s, &format!("{ctx}, rerun"), false).await;
                        assert_eq!(r.exit_code(), 0, "{ctx}: {}", r.to_text());
                    }
                }
                invariants(&s, &ctx, false).await;
                s.merge();
                if finalize {
                    let crash = Crash::new(k, applied);
                    crashing(&s, &crash, true, now).await;
                    assert!(crash.crashed(), "{ctx}: never reached");
                    invariants(&s, &ctx, true).await;
                }
                let (_, r) = s.session.finalize(now).await.unwrap();
                assert_eq!(r.exit_code(), 0, "{ctx}: {}", r.to_text());
                let siblings = s.siblings();
                assert_eq!(siblings.len(), 1, "{ctx}");
                let (id, key) = s.sink().unwrap();
                assert_eq!(id, siblings[0], "{ctx}");
                let c = s.emu.emulator.auth0.client(DOMAIN, &id).unwrap();
                assert_eq!(c.attached_kids(), vec![key.kid()], "{ctx}");
                assert_eq!(s.grants_of(&id), s.grants_of(LEGACY), "{ctx}");
                assert!(s.consumer_works().await, "{ctx}: the sink's client fails");
                assert!(!s.old_secret_works().await, "{ctx}: the old secret works");
                s.emu.stop().await;
                cases += 1;
            }
        }
    }
    println!("{cases} new-client crash cases converged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finalize_rechecks_the_new_clients_grants_before_retiring_the_old_one() {
    let s = setup("remove_grants").await;
    let now = OffsetDateTime::now_utc();
    s.rotate(now).await;
    let new = s.siblings().remove(0);
    s.merge();
    // After the plan was made, someone removes the new client's grant.
    let plan = s.session.plan(now, &PlanOptions::default()).await.unwrap();
    assert!(matches!(decision(&plan), Decision::RetireOldClient { .. }));
    let grant = s
        .emu
        .emulator
        .auth0
        .grants(DOMAIN)
        .into_iter()
        .find(|g| g.client_id == new)
        .unwrap();
    use auth0_rotate::auth0::Auth0Api as _;
    assert!(s.session.auth0["demo"]
        .delete_client_grant(&grant.id)
        .await
        .unwrap());
    let report = apply::finalize(
        &Context {
            auth0: &s.session.auth0,
            github: &s.session.github,
            workspace: &s.session.workspace,
            journal: &s.session.journal,
            mtls_cname_api_key: None,
            now,
        },
        &s.session.specs,
        &plan,
    )
    .await;
    let text = report.to_text();
    assert_eq!(report.exit_code(), 1, "{text}");
    assert!(
        text.contains("would lose access") && text.contains("nothing was changed"),
        "{text}"
    );
    assert_eq!(
        s.grants_of(LEGACY).len(),
        1,
        "the old client keeps its grant"
    );
    assert!(s.old_secret_works().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_secret_patch_at_finalize_then_failing_retries_converge() {
    let s = setup("rotate_secret").await;
    let probe = Probe::start(&s.emu);
    let now = OffsetDateTime::now_utc();
    s.rotate(now).await;
    s.merge();
    let faults = s.emu.emulator.faults();
    let patch = |kind| {
        FaultRule::new(kind)
            .service(Service::Auth0)
            .method("PATCH")
            .path(&format!("/api/v2/clients/{LEGACY}"))
    };
    faults.add(patch(FaultKind::CrashAfterApply).nth(1));
    faults.add(patch(FaultKind::ServerError { status: 503 }).always());
    let (_, report) = s.session.finalize(now).await.unwrap();
    assert_ne!(report.exit_code(), 0, "{}", report.to_text());
    assert!(!s.old_secret_works().await, "the lost PATCH did happen");
    faults.clear();
    let (plan, report) = s.session.finalize(now).await.unwrap();
    assert_eq!(report.exit_code(), 0, "{}", report.to_text());
    assert!(
        matches!(decision(&plan), Decision::NotDue { .. }),
        "Auth0 shows it done: {}",
        plan.to_text()
    );
    let (ok, failed) = probe.stop().await;
    assert_eq!(failed, 0, "{ok} exchanges succeeded, {failed} failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_manifest_can_name_the_new_client_once_onboarded() {
    let s = setup("rotate_secret").await;
    let now = OffsetDateTime::now_utc();
    s.rotate(now).await;
    s.merge();
    s.session.finalize(now).await.unwrap();
    let new = s.siblings().remove(0);
    let text = manifest("rotate_secret").replace(LEGACY, &new);
    let session = open(&s.emu, &s.dir, &text, &s.identity).await;
    let plan = session.plan(now, &PlanOptions::default()).await.unwrap();
    assert!(
        matches!(decision(&plan), Decision::NotDue { .. }),
        "{}",
        plan.to_text()
    );
    assert_eq!(plan.entries[0].client_id, new);
    let later = now + Duration::days(91);
    let (_, report) = session
        .rotate(later, &PlanOptions::default())
        .await
        .unwrap();
    assert!(
        matches!(report.entries[0].outcome, Outcome::Rotated { .. }),
        "{}",
        report.to_text()
    );
    assert_eq!(s.sink().unwrap().0, new);
}
