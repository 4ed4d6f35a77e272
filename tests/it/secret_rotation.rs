//! Client-secret rotation (`secret_rotation`) on the emulator: the
//! alternating scheme keeps a consumer that follows the sink working
//! through every step, under compound faults, concurrent runs and edited
//! ledgers; the single scheme waits for the merge and writes the sinks at
//! once; every refusal changes nothing.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use auth0_rotate::apply::Outcome;
use auth0_rotate::auth0::token::{client_credentials, ClientAuth};
use auth0_rotate::demo::{self, AUDIENCE, DOMAIN, OWNER, REPO};
use auth0_rotate::emulator::faults::{FaultKind, FaultRule, Service};
use auth0_rotate::emulator::github::{MergeMethod, SecretStoreRef};
use auth0_rotate::emulator::{Emulator, RunningEmulator};
use auth0_rotate::ledger::SecretLedger;
use auth0_rotate::plan::{Attention, Decision, PlanOptions};
use auth0_rotate::secret::SecretString;
use auth0_rotate::session::Session;
use time::{Duration, OffsetDateTime};

const A: &str = "legacyAAAAAAAAAAAAAAAAAAAAAAAAAA";
const B: &str = "legacyBBBBBBBBBBBBBBBBBBBBBBBBBB";
const A_SECRET: &str = "the-original-secret-of-client-a";
const B_SECRET: &str = "the-original-secret-of-client-b";
const SINK: &str = "LEGACY_AUTH0_CLIENT";
const LEDGER: &str = ".github/auth0-rotation.ledger/demo/legacy.yml";

fn manifest(scheme: &str) -> String {
    let standby = if scheme == "alternating" {
        format!("    standby_client_id: {B}\n")
    } else {
        String::new()
    };
    format!(
        "version: 1\ntenants:\n  demo:\n    domain: {DOMAIN}\ncredentials:\n  - name: legacy\n    tenant: demo\n    \
         client_id: {A}\n    rotate_every: 30d\n    auth_method: client_secret_post\n    secret_rotation: {scheme}\n\
         {standby}    verify:\n      audience: {AUDIENCE}\n    sinks:\n      - kind: repo_secret\n        name: {SINK}\n        format: json\n"
    )
}

struct Setup {
    emu: RunningEmulator,
    dir: tempfile::TempDir,
    identity: String,
}

impl Setup {
    async fn new() -> Setup {
        let emu = Emulator::new().start_local().await.unwrap();
        demo::seed(&emu).await.unwrap();
        let a = &emu.emulator.auth0;
        for (id, secret) in [(A, A_SECRET), (B, B_SECRET)] {
            a.create_client(DOMAIN, id, "legacy-worker", Some(secret))
                .unwrap();
            a.grant(DOMAIN, id, AUDIENCE, &["read:invoices"]).unwrap();
        }
        let identity = {
            use age::secrecy::ExposeSecret;
            age::x25519::Identity::generate()
                .to_string()
                .expose_secret()
                .to_owned()
        };
        Setup {
            emu,
            dir: tempfile::tempdir().unwrap(),
            identity,
        }
    }

    async fn session_with(&self, manifest: &str, identity: bool) -> Session {
        let path = self.dir.path().join("m.yml");
        std::fs::write(&path, manifest).unwrap();
        let mut settings = demo::settings(&self.emu, path);
        if identity {
            settings.age_identity = Some(SecretString::new(self.identity.clone()));
        }
        Session::open(&settings).await.unwrap()
    }

    async fn session(&self, scheme: &str) -> Session {
        self.session_with(&manifest(scheme), true).await
    }

    fn sink(&self) -> Option<(String, String)> {
        sink_of(&self.emu.emulator)
    }

    fn open_pull(&self) -> Option<u64> {
        let gh = &self.emu.emulator.github;
        gh.pulls(OWNER, REPO)
            .into_iter()
            .find(|p| p.state == "open")
            .map(|p| p.number)
    }

    fn merge(&self, method: MergeMethod) {
        let n = self.open_pull().expect("an open PR");
        self.emu
            .emulator
            .github
            .merge_pull_with(OWNER, REPO, n, method)
            .unwrap();
    }

    async fn works(&self, client: &str, secret: &str) -> bool {
        exchange(&self.emu.auth0_base_url(DOMAIN), client, secret).await
    }

    fn main_ledger(&self) -> Option<String> {
        file_text(&self.emu, "main")
    }

    fn client_secret_patches(&self) -> usize {
        self.emu
            .emulator
            .requests()
            .iter()
            .filter(|r| r.method == "PATCH" && r.path.starts_with("/api/v2/clients/"))
            .count()
    }
}

fn file_text(emu: &RunningEmulator, git_ref: &str) -> Option<String> {
    let bytes = emu.emulator.github.file(OWNER, REPO, git_ref, LEDGER)?;
    Some(String::from_utf8(bytes).unwrap())
}

fn commit(emu: &RunningEmulator, branch: &str, text: &str, message: &str) {
    emu.emulator
        .github
        .commit_files(OWNER, REPO, branch, message, &[(LEDGER, Some(text))])
        .unwrap();
}

async fn delete_branch(emu: &RunningEmulator, branch: &str) {
    let url = format!(
        "{}/repos/{OWNER}/{REPO}/git/refs/heads/{branch}",
        emu.github_api_url()
    );
    let status = reqwest::Client::new()
        .delete(url)
        .bearer_auth(demo::GITHUB_TOKEN)
        .header("user-agent", "test")
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "{status}");
}

fn sink_of(emu: &auth0_rotate::emulator::Emulator) -> Option<(String, String)> {
    let store = SecretStoreRef::Repo {
        owner: OWNER.into(),
        repo: REPO.into(),
    };
    let plain = emu.github.secret_plaintext(&store, SINK)?;
    let v: serde_json::Value = serde_json::from_slice(plain.expose()).unwrap();
    Some((
        v["client_id"].as_str().unwrap().to_owned(),
        v["client_secret"].as_str().unwrap().to_owned(),
    ))
}

async fn exchange(base: &str, client_id: &str, secret: &str) -> bool {
    let secret = SecretString::new(secret.to_owned());
    client_credentials(
        &reqwest::Client::new(),
        base,
        DOMAIN,
        ClientAuth::Secret {
            client_id,
            secret: &secret,
        },
        AUDIENCE,
    )
    .await
    .is_ok()
}

/// A consumer that reads the sink before every exchange (client A's
/// original secret until the sink exists) and counts failed exchanges.
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
                let (id, secret) =
                    sink_of(&emu).unwrap_or_else(|| (A.to_owned(), A_SECRET.to_owned()));
                let counter = if exchange(&base, &id, &secret).await {
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

fn decision(plan: &auth0_rotate::plan::Plan) -> &Decision {
    &plan.entries[0].decision
}

async fn rotate(session: &Session, now: OffsetDateTime) -> auth0_rotate::apply::Report {
    session
        .rotate(now, &PlanOptions::default())
        .await
        .unwrap()
        .1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alternating_rotation_keeps_a_consumer_probe_working_through_two_turns() {
    let s = Setup::new().await;
    let probe = Probe::start(&s.emu);
    let session = s.session("alternating").await;
    let now = OffsetDateTime::now_utc();

    let plan = session.plan(now, &PlanOptions::default()).await.unwrap();
    assert_eq!(
        decision(&plan),
        &Decision::SwitchSecret {
            to_client: B.into()
        },
        "{}",
        plan.to_text()
    );
    let report = rotate(&session, now).await;
    assert!(
        matches!(
            report.entries[0].outcome,
            Outcome::Applied { pull: Some(_), .. }
        ),
        "{}",
        report.to_text()
    );
    let (id, b_secret) = s.sink().expect("the sink was written");
    assert_eq!(id, B);
    assert!(s.works(B, &b_secret).await);
    assert!(!s.works(B, B_SECRET).await, "B's old secret was replaced");
    assert!(
        s.works(A, A_SECRET).await,
        "A keeps working until the merge"
    );
    let plan = session.plan(now, &PlanOptions::default()).await.unwrap();
    assert!(
        matches!(decision(&plan), Decision::InFlight { .. }),
        "{}",
        plan.to_text()
    );
    let ledger = s.main_ledger();
    assert!(ledger.is_none(), "nothing on main before the merge");

    // The merge approves retiring A.
    s.merge(MergeMethod::Squash);
    let (_, report) = session.finalize(now).await.unwrap();
    assert_eq!(report.exit_code(), 0, "{}", report.to_text());
    assert!(!s.works(A, A_SECRET).await, "A's secret is retired");
    assert!(s.works(B, &b_secret).await);
    let text = s.main_ledger().expect("the merged ledger");
    assert!(
        !text.contains(&b_secret) && !text.contains(A_SECRET),
        "{text}"
    );
    let merged = SecretLedger::parse(LEDGER, &text).unwrap();
    assert_eq!(
        (merged.active.as_str(), merged.retiring.as_deref()),
        (B, Some(A))
    );
    let (_, again) = session.finalize(now).await.unwrap();
    assert!(
        matches!(again.entries[0].outcome, Outcome::Unchanged { .. }),
        "a second finalize changes nothing: {}",
        again.to_text()
    );

    // Thirty days later it is A's turn again, with a new secret.
    let later = now + Duration::days(31);
    let plan = session.plan(later, &PlanOptions::default()).await.unwrap();
    assert_eq!(
        decision(&plan),
        &Decision::SwitchSecret {
            to_client: A.into()
        }
    );
    rotate(&session, later).await;
    let (id, a_secret) = s.sink().unwrap();
    assert_eq!(id, A);
    assert_ne!(a_secret, A_SECRET);
    assert!(s.works(B, &b_secret).await, "B works until this merge");
    s.merge(MergeMethod::Merge);
    session.finalize(later).await.unwrap();
    assert!(!s.works(B, &b_secret).await, "B's secret is retired");
    assert!(s.works(A, &a_secret).await);

    let (ok, failed) = probe.stop().await;
    assert_eq!(failed, 0, "{ok} exchanges succeeded, {failed} failed");
    assert!(ok > 0);
}

/// Applied-then-lost followed by failing retries, for the switch and for
/// the retirement, then a sink write that fails: each rerun converges on
/// the same secret, the consumer never fails, and nothing is undone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compound_faults_converge_on_the_same_secret() {
    let s = Setup::new().await;
    let probe = Probe::start(&s.emu);
    let session = s.session("alternating").await;
    let now = OffsetDateTime::now_utc();
    let faults = s.emu.emulator.faults();
    let patch = |kind| {
        FaultRule::new(kind)
            .service(Service::Auth0)
            .method("PATCH")
            .path("/api/v2/clients/*")
    };
    faults.add(patch(FaultKind::CrashAfterApply).nth(1));
    faults.add(patch(FaultKind::ServerError { status: 503 }).always());
    let report = rotate(&session, now).await;
    assert!(report.exit_code() != 0, "{}", report.to_text());
    assert!(s.sink().is_none(), "no sink before the secret is proven");
    assert!(!s.works(B, B_SECRET).await, "the lost PATCH did happen");
    faults.clear();

    faults.add(
        FaultRule::new(FaultKind::ServerError { status: 500 })
            .service(Service::GitHub)
            .method("PUT")
            .path("/repos/*/*/actions/secrets/*")
            .always(),
    );
    let report = rotate(&session, now).await;
    assert!(report.exit_code() != 0, "{}", report.to_text());
    assert!(s.open_pull().is_none());
    faults.clear();

    let patches = s.client_secret_patches();
    let report = rotate(&session, now).await;
    assert!(
        matches!(
            report.entries[0].outcome,
            Outcome::Applied { pull: Some(_), .. }
        ),
        "{}",
        report.to_text()
    );
    assert_eq!(
        s.client_secret_patches(),
        patches,
        "B already held this rotation's secret: no PATCH"
    );
    let (id, b_secret) = s.sink().unwrap();
    assert_eq!(id, B);
    assert!(s.works(B, &b_secret).await);

    s.merge(MergeMethod::Rebase);
    faults.add(patch(FaultKind::CrashAfterApply).nth(1));
    faults.add(patch(FaultKind::ServerError { status: 503 }).always());
    let (_, report) = session.finalize(now).await.unwrap();
    assert!(report.exit_code() != 0, "{}", report.to_text());
    assert!(
        !s.works(A, A_SECRET).await,
        "the lost retirement did happen"
    );
    faults.clear();
    let (_, report) = session.finalize(now).await.unwrap();
    assert!(
        matches!(report.entries[0].outcome, Outcome::Unchanged { .. }),
        "{}",
        report.to_text()
    );
    let (ok, failed) = probe.stop().await;
    assert_eq!(failed, 0, "{ok} exchanges succeeded, {failed} failed");
}

/// Two runs at once set the same secret and write the same sink; one PR.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_at_once_agree() {
    let s = Setup::new().await;
    let (one, two) = (
        s.session("alternating").await,
        s.session("alternating").await,
    );
    let now = OffsetDateTime::now_utc();
    let (r1, r2) = tokio::join!(rotate(&one, now), rotate(&two, now));
    let opened = [&r1, &r2]
        .iter()
        .filter(|r| matches!(r.entries[0].outcome, Outcome::Applied { pull: Some(_), .. }))
        .count();
    assert!(opened >= 1, "{}\n{}", r1.to_text(), r2.to_text());
    let pulls: Vec<_> = s
        .emu
        .emulator
        .github
        .pulls(OWNER, REPO)
        .into_iter()
        .filter(|p| p.state == "open")
        .collect();
    assert_eq!(pulls.len(), 1);
    let (id, secret) = s.sink().unwrap();
    assert_eq!(id, B);
    assert!(s.works(B, &secret).await);
    assert!(s.works(A, A_SECRET).await);
}

/// A ledger on the bot's branch edited to retire the client in use is
/// merged: finalize sees in Auth0 that the client it names as active does
/// not hold the secret it set, and retires nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swapped_branch_ledger_retires_nothing() {
    let s = Setup::new().await;
    let session = s.session("alternating").await;
    let now = OffsetDateTime::now_utc();
    rotate(&session, now).await;
    let (_, b_secret) = s.sink().unwrap();
    let branch = "auth0-rotate/demo/legacy";
    let text = file_text(&s.emu, branch).unwrap();
    let mut forged = SecretLedger::parse(LEDGER, &text).unwrap();
    forged.active = A.into();
    forged.retiring = Some(B.into());
    commit(&s.emu, branch, &forged.render(), "swap");
    s.merge(MergeMethod::Squash);
    let plan = session.plan(now, &PlanOptions::default()).await.unwrap();
    assert_eq!(
        decision(&plan),
        &Decision::NeedsAttention {
            problem: Attention::SecretDrift {
                client_id: A.into()
            }
        },
        "{}",
        plan.to_text()
    );
    let (_, report) = session.finalize(now).await.unwrap();
    assert!(report.exit_code() != 0);
    assert!(s.works(B, &b_secret).await, "the client in use still works");
    assert!(s.works(A, A_SECRET).await, "nothing was retired");
    assert!(!plan.entries[0]
        .explanation
        .lines()
        .any(|l| l.starts_with("::")));
}

/// A ledger committed straight to main (no PR) is not believed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_committed_to_main_is_not_believed() {
    let s = Setup::new().await;
    let session = s.session("alternating").await;
    let now = OffsetDateTime::now_utc();
    rotate(&session, now).await;
    let gh = &s.emu.emulator.github;
    let text = file_text(&s.emu, "auth0-rotate/demo/legacy").unwrap();
    commit(&s.emu, "main", &text, "bypass review");
    let plan = session.plan(now, &PlanOptions::default()).await.unwrap();
    // The PR is still open, so the entry is in flight; after closing it the
    // unreviewed ledger must not retire A.
    assert!(matches!(decision(&plan), Decision::InFlight { .. }));
    let n = s.open_pull().unwrap();
    gh.close_pull(OWNER, REPO, n).unwrap();
    delete_branch(&s.emu, "auth0-rotate/demo/legacy").await;
    let plan = session.plan(now, &PlanOptions::default()).await.unwrap();
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
    session.finalize(now).await.unwrap();
    assert!(s.works(A, A_SECRET).await, "nothing was retired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_rotation_waits_for_the_merge_and_writes_the_sinks_at_once() {
    let s = Setup::new().await;
    let session = s.session("single").await;
    let now = OffsetDateTime::now_utc();
    let report = rotate(&session, now).await;
    assert!(
        matches!(
            report.entries[0].outcome,
            Outcome::Applied { pull: Some(_), .. }
        ),
        "{}",
        report.to_text()
    );
    let gh = &s.emu.emulator.github;
    let pull = gh
        .pulls(OWNER, REPO)
        .into_iter()
        .find(|p| p.state == "open")
        .unwrap();
    let body = pull.body.unwrap_or_default();
    assert!(body.contains("not zero-downtime"), "{body}");
    assert!(
        s.sink().is_none() && s.works(A, A_SECRET).await,
        "nothing before the merge"
    );

    s.merge(MergeMethod::Merge);
    let (_, report) = session.finalize(now).await.unwrap();
    assert_eq!(report.exit_code(), 0, "{}", report.to_text());
    let (id, secret) = s.sink().unwrap();
    assert_eq!(id, A);
    assert!(s.works(A, &secret).await);
    assert!(!s.works(A, A_SECRET).await);
    let patches = s.client_secret_patches();
    let (_, again) = session.finalize(now).await.unwrap();
    assert!(matches!(
        again.entries[0].outcome,
        Outcome::Unchanged { .. }
    ));
    assert_eq!(s.client_secret_patches(), patches, "set once");
    let plan = session.plan(now, &PlanOptions::default()).await.unwrap();
    assert!(
        matches!(decision(&plan), Decision::NotDue { .. }),
        "{}",
        plan.to_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_change_nothing() {
    let s = Setup::new().await;
    let now = OffsetDateTime::now_utc();
    let no_identity = s.session_with(&manifest("alternating"), false).await;
    let plan = no_identity
        .plan(now, &PlanOptions::default())
        .await
        .unwrap();
    assert_eq!(
        decision(&plan),
        &Decision::NeedsAttention {
            problem: Attention::SecretNeedsIdentity
        }
    );
    assert!(plan.entries[0].explanation.contains("age-identity"));
    rotate(&no_identity, now).await;
    assert!(s.sink().is_none() && s.works(B, B_SECRET).await);

    // A standby that authenticates with a key is never given a secret.
    let key =
        auth0_rotate::keys::PrivateKey::generate(auth0_rotate::keys::KeySize::Rsa2048).unwrap();
    s.emu
        .emulator
        .auth0
        .add_credential(
            DOMAIN,
            B,
            "key",
            key.public_key_pem(),
            auth0_rotate::keys::Alg::RS256,
            true,
        )
        .unwrap();
    let session = s.session("alternating").await;
    let plan = session.plan(now, &PlanOptions::default()).await.unwrap();
    assert_eq!(
        decision(&plan),
        &Decision::NeedsAttention {
            problem: Attention::SecretClientOnKeys {
                client_id: B.into()
            }
        }
    );
    rotate(&session, now).await;
    assert!(s.sink().is_none() && s.open_pull().is_none());
}

/// The standby must be granted exactly what the active client is: a
/// consumer moving to it would otherwise gain or lose access.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_with_other_grants_is_not_switched_to() {
    let s = Setup::new().await;
    s.emu
        .emulator
        .auth0
        .grant(DOMAIN, B, AUDIENCE, &["read:invoices", "write:invoices"])
        .unwrap();
    let session = s.session("alternating").await;
    let now = OffsetDateTime::now_utc();
    let plan = session.plan(now, &PlanOptions::default()).await.unwrap();
    let Decision::NeedsAttention {
        problem: Attention::GrantsDiffer {
            client_id,
            difference,
        },
    } = decision(&plan)
    else {
        panic!("{}", plan.to_text());
    };
    assert_eq!(client_id, B);
    assert!(difference.contains("write:invoices"), "{difference}");
    rotate(&session, now).await;
    assert!(
        s.sink().is_none() && s.works(B, B_SECRET).await,
        "nothing changed"
    );
}

/// One stage with every Auth0 and GitHub call going through `crash`.
async fn crashing(
    session: &Session,
    crash: &crate::support::crash::Crash,
    finalize: bool,
    now: OffsetDateTime,
) -> auth0_rotate::apply::Report {
    use crate::support::crash::{CrashAuth0, CrashGitHub};
    let plan = session.plan(now, &PlanOptions::default()).await.unwrap();
    let auth0: std::collections::BTreeMap<_, _> = session
        .auth0
        .iter()
        .map(|(k, v)| (k.clone(), CrashAuth0 { inner: v, crash }))
        .collect();
    let github = CrashGitHub {
        inner: &session.github,
        crash,
    };
    let ctx = auth0_rotate::apply::Context {
        auth0: &auth0,
        github: &github,
        workspace: &session.workspace,
        journal: &session.journal,
        mtls_cname_api_key: None,
        now,
    };
    if finalize {
        auth0_rotate::apply::finalize(&ctx, &session.specs, &plan).await
    } else {
        auth0_rotate::apply::rotate(&ctx, &session.specs, &plan).await
    }
}

/// What a consumer following the sink uses works (A's original secret
/// until the sink exists), and A keeps working until the merge.
async fn consumer_works(s: &Setup, merged: bool, ctx: &str) {
    let (id, secret) = s.sink().unwrap_or_else(|| (A.into(), A_SECRET.into()));
    assert!(
        s.works(&id, &secret).await,
        "{ctx}: the sink's client fails"
    );
    if !merged {
        assert!(
            s.works(A, A_SECRET).await,
            "{ctx}: A failed before the merge"
        );
    }
}

/// Every call of an alternating switch and of its retirement, crashed
/// before it reaches the server and after it was applied with its answer
/// lost: the consumer never fails, and reruns converge on one PR, the sink
/// on B with a working secret and A retired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_crash_point_of_an_alternating_rotation_converges() {
    use crate::support::crash::Crash;
    let count = |finalize: bool| async move {
        let s = Setup::new().await;
        let session = s.session("alternating").await;
        let now = OffsetDateTime::now_utc();
        if finalize {
            rotate(&session, now).await;
            s.merge(MergeMethod::Squash);
        }
        let counter = Crash::never();
        crashing(&session, &counter, finalize, now).await;
        counter.calls()
    };
    let (rotate_calls, finalize_calls) = (count(false).await, count(true).await);
    assert!(
        rotate_calls > 5 && finalize_calls > 2,
        "{rotate_calls} {finalize_calls}"
    );
    let mut cases = 0;
    for (finalize, calls) in [(false, rotate_calls), (true, finalize_calls)] {
        for k in 0..calls {
            for applied in [false, true] {
                let stage = if finalize { "finalize" } else { "rotate" };
                let ctx = format!("{stage} call {k} (applied: {applied})");
                let s = Setup::new().await;
                let session = s.session("alternating").await;
                let now = OffsetDateTime::now_utc();
                let crash = Crash::new(k, applied);
                if finalize {
                    rotate(&session, now).await;
                    s.merge(MergeMethod::Squash);
                    crashing(&session, &crash, true, now).await;
                    consumer_works(&s, true, &ctx).await;
                } else {
                    crashing(&session, &crash, false, now).await;
                    consumer_works(&s, false, &ctx).await;
                    let report = rotate(&session, now).await;
                    consumer_works(&s, false, &format!("{ctx}, rerun")).await;
                    assert!(s.open_pull().is_some(), "{ctx}: {}", report.to_text());
                    s.merge(MergeMethod::Squash);
                }
                assert!(crash.crashed(), "{ctx}: never reached");
                let (_, r) = session.finalize(now).await.unwrap();
                assert_eq!(r.exit_code(), 0, "{ctx}: {}", r.to_text());
                let (id, secret) = s.sink().unwrap_or_else(|| panic!("{ctx}: no sink"));
                assert_eq!(id, B, "{ctx}");
                assert!(s.works(B, &secret).await, "{ctx}");
                assert!(!s.works(A, A_SECRET).await, "{ctx}: A was not retired");
                let pulls = s.emu.emulator.github.pulls(OWNER, REPO);
                assert_eq!(pulls.len(), 1, "{ctx}: one PR");
                cases += 1;
            }
        }
    }
    println!("{cases} alternating crash cases converged");
}

/// Every call of a single-secret finalize, crashed before and after it was
/// applied: the rerun writes the same secret, and the sink ends holding the
/// secret Auth0 accepts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_crash_point_of_a_single_secret_finalize_converges() {
    use crate::support::crash::Crash;
    let merged = || async {
        let s = Setup::new().await;
        let session = s.session("single").await;
        let now = OffsetDateTime::now_utc();
        rotate(&session, now).await;
        s.merge(MergeMethod::Merge);
        (s, session, now)
    };
    let calls = {
        let (_s, session, now) = merged().await;
        let counter = Crash::never();
        crashing(&session, &counter, true, now).await;
        counter.calls()
    };
    assert!(calls > 2, "{calls}");
    for k in 0..calls {
        for applied in [false, true] {
            let ctx = format!("finalize call {k} (applied: {applied})");
            let (s, session, now) = merged().await;
            let crash = Crash::new(k, applied);
            crashing(&session, &crash, true, now).await;
            assert!(crash.crashed(), "{ctx}: never reached");
            if let Some((_, secret)) = s.sink() {
                let set = !s.works(A, A_SECRET).await;
                assert!(
                    !set || s.works(A, &secret).await,
                    "{ctx}: Auth0 changed, the sink did not"
                );
            }
            let (_, r) = session.finalize(now).await.unwrap();
            assert_eq!(r.exit_code(), 0, "{ctx}: {}", r.to_text());
            let (id, secret) = s.sink().unwrap_or_else(|| panic!("{ctx}: no sink"));
            assert_eq!(id, A);
            assert!(s.works(A, &secret).await, "{ctx}: the sink's secret fails");
            assert!(!s.works(A, A_SECRET).await, "{ctx}");
        }
    }
}
