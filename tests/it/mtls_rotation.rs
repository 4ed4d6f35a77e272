//! Self-signed mTLS certificate rotation (`auth_method:
//! self_signed_tls_client_auth`) on the emulator: a consumer that follows
//! the sink and exchanges through the customer edge keeps working through
//! two rotations; compound faults, concurrent runs, a swapped ledger and a
//! crash at every call converge without a second credential or a retired
//! certificate in use; OpenSSL reads what the sink holds.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::support::crash::{Crash, CrashAuth0, CrashGitHub};

use auth0_rotate::apply::{self, Context, Outcome, Report};
use auth0_rotate::auth0::token::{client_credentials, ClientAuth};
use auth0_rotate::demo::{self, AUDIENCE, DOMAIN, OWNER, REPO};
use auth0_rotate::emulator::faults::{FaultKind, FaultRule, Service};
use auth0_rotate::emulator::github::SecretStoreRef;
use auth0_rotate::emulator::{Emulator, RunningEmulator};
use auth0_rotate::keys::{certificate_thumbprint_sha256, KeySize, PrivateKey};
use auth0_rotate::ledger::LedgerEntry;
use auth0_rotate::manifest::AuthMethod;
use auth0_rotate::plan::{Decision, PlanOptions};
use auth0_rotate::secret::SecretString;
use auth0_rotate::session::Session;
use time::{Duration, OffsetDateTime};

const APP: &str = "mtls_worker_0123456789";
const CNAME_KEY: &str = "cname-key-9a8b7c6d";
const SINK: &str = "MTLS_WORKER_CLIENT";
const LEDGER: &str = ".github/auth0-rotation.ledger/demo/mtls-worker.yml";
const BRANCH: &str = "auth0-rotate/demo/mtls-worker";

fn manifest(edge: &str) -> String {
    format!(
        "version: 1\ntenants:\n  demo:\n    domain: {DOMAIN}\ncredentials:\n  - name: mtls-worker\n    tenant: demo\n    \
         client_id: {APP}\n    rotate_every: 30d\n    lifetime: 90d\n    auth_method: self_signed_tls_client_auth\n    \
         verify:\n      audience: {AUDIENCE}\n      edge_url: {edge}\n    sinks:\n      - kind: repo_secret\n        \
         name: {SINK}\n        format: json\n"
    )
}

struct Setup {
    emu: RunningEmulator,
    dir: tempfile::TempDir,
    identity: String,
    /// The certificate a human attached before the tool took over.
    initial_cert: String,
    initial_credential: String,
}

impl Setup {
    async fn new() -> Setup {
        let emu = Emulator::new().start_local().await.unwrap();
        demo::seed(&emu).await.unwrap();
        let a = &emu.emulator.auth0;
        a.create_client(DOMAIN, APP, "mtls-worker", Some("mtls-worker-secret"))
            .unwrap();
        a.grant(DOMAIN, APP, AUDIENCE, &["read:invoices"]).unwrap();
        a.set_custom_domain(DOMAIN, CNAME_KEY).unwrap();
        let key = PrivateKey::generate(KeySize::Rsa2048).unwrap();
        let initial_cert = key
            .mtls_certificate(
                APP,
                OffsetDateTime::now_utc() - Duration::minutes(5),
                Duration::days(365),
            )
            .unwrap();
        let cred = a
            .add_certificate(DOMAIN, APP, "mtls-worker (by hand)", &initial_cert, true)
            .unwrap();
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
            initial_cert,
            initial_credential: cred.id,
        }
    }

    fn edge(&self) -> String {
        self.emu.auth0_base_url(DOMAIN)
    }

    async fn session_with(&self, cname_key: Option<&str>) -> Session {
        let path = self.dir.path().join("m.yml");
        std::fs::write(&path, manifest(&self.edge())).unwrap();
        let mut settings = demo::settings(&self.emu, path);
        settings.age_identity = Some(SecretString::new(self.identity.clone()));
        settings.mtls_cname_api_key = cname_key.map(SecretString::from);
        // Crashes are simulated in this living process: name no holder.
        settings.runner = auth0_rotate::journal::Holder::default();
        Session::open(&settings).await.unwrap()
    }

    async fn session(&self) -> Session {
        self.session_with(Some(CNAME_KEY)).await
    }

    fn sink(&self) -> Option<SinkContent> {
        sink_of(&self.emu.emulator)
    }

    /// The certificate a consumer uses: the sink's, else the initial one.
    fn consumer_cert(&self) -> String {
        self.sink()
            .map_or_else(|| self.initial_cert.clone(), |s| s.certificate)
    }

    async fn works(&self, cert: &str) -> bool {
        exchange(&self.edge(), cert).await
    }

    fn open_pulls(&self) -> Vec<u64> {
        let gh = &self.emu.emulator.github;
        gh.pulls(OWNER, REPO)
            .into_iter()
            .filter(|p| p.state == "open")
            .map(|p| p.number)
            .collect()
    }

    fn merge(&self) {
        let n = self.open_pulls()[0];
        self.emu.emulator.github.merge_pull(OWNER, REPO, n).unwrap();
    }

    fn ledger_at(&self, git_ref: &str) -> Option<LedgerEntry> {
        let bytes = self
            .emu
            .emulator
            .github
            .file(OWNER, REPO, git_ref, LEDGER)?;
        Some(LedgerEntry::parse(LEDGER, &String::from_utf8(bytes).unwrap()).unwrap())
    }

    fn client(&self) -> auth0_rotate::emulator::auth0::ClientView {
        self.emu.emulator.auth0.client(DOMAIN, APP).unwrap()
    }

    fn credential_posts(&self) -> usize {
        self.emu
            .emulator
            .requests()
            .iter()
            .filter(|r| {
                r.method == "POST"
                    && r.path.contains("mtls%5Fworker")
                    && r.path.ends_with("/credentials")
            })
            .count()
    }
}

/// What the sink holds (its JSON).
struct SinkContent {
    client_id: String,
    credential_id: String,
    thumbprint: String,
    private_key: String,
    certificate: String,
}

fn sink_of(emu: &Emulator) -> Option<SinkContent> {
    let store = SecretStoreRef::Repo {
        owner: OWNER.into(),
        repo: REPO.into(),
    };
    let plain = emu.github.secret_plaintext(&store, SINK)?;
    let v: serde_json::Value = serde_json::from_slice(plain.expose()).unwrap();
    let field = |k: &str| v[k].as_str().unwrap_or_else(|| panic!("no {k}")).to_owned();
    Some(SinkContent {
        client_id: field("client_id"),
        credential_id: field("credential_id"),
        thumbprint: field("thumbprint_sha256"),
        private_key: field("private_key_pem"),
        certificate: field("certificate_pem"),
    })
}

async fn exchange(edge: &str, cert: &str) -> bool {
    let key = SecretString::from(CNAME_KEY);
    client_credentials(
        &reqwest::Client::new(),
        edge,
        DOMAIN,
        ClientAuth::Certificate {
            client_id: APP,
            cert_pem: cert,
            cname_api_key: &key,
        },
        AUDIENCE,
    )
    .await
    .is_ok()
}

/// A consumer that reads the sink before every exchange through the edge
/// (the initial certificate until the sink exists) and counts failures.
struct Probe {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Probe {
    fn start(s: &Setup) -> Probe {
        let (stop, ok, failed) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicU64::new(0)),
        );
        let (edge, emu, initial) = (s.edge(), s.emu.emulator.clone(), s.initial_cert.clone());
        let (st, o, f) = (stop.clone(), ok.clone(), failed.clone());
        let task = tokio::spawn(async move {
            while !st.load(Ordering::SeqCst) {
                let cert = sink_of(&emu).map_or_else(|| initial.clone(), |c| c.certificate);
                let counter = if exchange(&edge, &cert).await { &o } else { &f };
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

async fn rotate(session: &Session, now: OffsetDateTime) -> Report {
    session
        .rotate(now, &PlanOptions::default())
        .await
        .unwrap()
        .1
}

fn rotated(r: &Report) -> bool {
    matches!(r.entries[0].outcome, Outcome::Rotated { .. })
}

/// One rotation through to its finalize; returns the new certificate.
async fn full_rotation(s: &Setup, session: &Session, now: OffsetDateTime) -> String {
    let before = s.consumer_cert();
    let report = rotate(session, now).await;
    assert!(rotated(&report), "{}", report.to_text());
    let sink = s.sink().expect("the sink was written");
    assert_eq!(sink.client_id, APP);
    assert_eq!(
        certificate_thumbprint_sha256(&sink.certificate).unwrap(),
        sink.thumbprint
    );
    let proposed = s.ledger_at(BRANCH).expect("a ledger on the branch");
    assert_eq!(proposed.auth_method, AuthMethod::SelfSignedTlsClientAuth);
    assert_eq!(
        proposed.current.kid, sink.thumbprint,
        "the ledger names the thumbprint"
    );
    assert_eq!(proposed.current.credential_id, sink.credential_id);
    assert_eq!(
        s.client().mtls_attached.len(),
        2,
        "old and new side by side"
    );
    assert!(
        s.works(&before).await,
        "the old certificate works until the merge"
    );
    assert!(s.works(&sink.certificate).await);
    let plan = session.plan(now, &PlanOptions::default()).await.unwrap();
    assert!(
        matches!(plan.entries[0].decision, Decision::InFlight { .. }),
        "{}",
        plan.to_text()
    );
    assert!(
        plan.to_text().contains("certificate thumbprint"),
        "{}",
        plan.to_text()
    );
    let pull = s
        .emu
        .emulator
        .github
        .pulls(OWNER, REPO)
        .into_iter()
        .find(|p| p.state == "open")
        .unwrap();
    let body = pull.body.clone().unwrap_or_default();
    assert!(pull.title.contains("(certificate "), "{}", pull.title);
    assert!(body.contains(&sink.thumbprint), "{body}");
    assert!(body.contains("through the customer edge"), "{body}");
    assert!(!body.contains(&sink.private_key), "{body}");
    s.merge();
    let (_, report) = session.finalize(now).await.unwrap();
    assert!(
        matches!(report.entries[0].outcome, Outcome::Finalized { .. }),
        "{}",
        report.to_text()
    );
    let client = s.client();
    assert_eq!(client.mtls_attached, vec![sink.credential_id.clone()]);
    assert_eq!(
        client.credentials.len(),
        1,
        "the old certificate is deleted"
    );
    assert!(
        !s.works(&before).await,
        "the retired certificate gets no token"
    );
    sink.certificate
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_following_the_sink_never_fails_through_two_rotations() {
    let s = Setup::new().await;
    let probe = Probe::start(&s);
    let session = s.session().await;
    let now = OffsetDateTime::now_utc();
    let plan = session.plan(now, &PlanOptions::default()).await.unwrap();
    assert!(
        matches!(plan.entries[0].decision, Decision::Rotate { .. }),
        "{}",
        plan.to_text()
    );
    let first = full_rotation(&s, &session, now).await;
    assert!(!s.works(&s.initial_cert).await);
    let later = now + Duration::days(31);
    let second = full_rotation(&s, &session, later).await;
    assert_ne!(first, second);
    assert!(
        !s.works(&first).await,
        "the first rotation's certificate is retired"
    );
    let text = s
        .emu
        .emulator
        .github
        .file(OWNER, REPO, "main", LEDGER)
        .unwrap();
    let text = String::from_utf8(text).unwrap();
    let sink = s.sink().unwrap();
    assert!(!text.contains("PRIVATE KEY") && !text.contains(&sink.private_key));
    let (_, again) = session.finalize(later).await.unwrap();
    assert!(matches!(
        again.entries[0].outcome,
        Outcome::Unchanged { .. }
    ));
    let (ok, failed) = probe.stop().await;
    assert_eq!(failed, 0, "{ok} exchanges succeeded, {failed} failed");
    assert!(ok > 0);
}

/// Without the edge's cname-api-key nothing is written at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_cname_api_key_nothing_changes() {
    let s = Setup::new().await;
    let session = s.session_with(None).await;
    let before = s.client();
    let report = rotate(&session, OffsetDateTime::now_utc()).await;
    assert_ne!(report.exit_code(), 0, "{}", report.to_text());
    assert!(
        report.to_text().contains("cname-api-key"),
        "{}",
        report.to_text()
    );
    assert_eq!(s.client(), before);
    assert!(s.sink().is_none());
    assert!(s.open_pulls().is_empty());
}

/// The credential POST is applied but its answer lost, every later POST
/// fails and every other credential list fails too: the run never sends
/// the POST again (it looks the certificate up by its thumbprint), and
/// whether it finishes or a rerun does, there is one new credential, not
/// two, and the consumer never fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_credential_post_with_failing_retries_leaves_one_credential() {
    let s = Setup::new().await;
    let probe = Probe::start(&s);
    let session = s.session().await;
    let now = OffsetDateTime::now_utc();
    let faults = s.emu.emulator.faults();
    let creds = |kind, method: &str| {
        FaultRule::new(kind)
            .service(Service::Auth0)
            .method(method)
            .path("/api/v2/clients/*/credentials")
    };
    faults.add(creds(FaultKind::CrashAfterApply, "POST").nth(1));
    faults.add(creds(FaultKind::ServerError { status: 503 }, "POST").always());
    // Only the plan lists the credentials before the POST (GET 1: the
    // rotation starts from what it read, and a new key needs no look-up);
    // every look-up after the lost POST fails.
    for k in 2..=14 {
        faults.add(creds(FaultKind::ServerError { status: 503 }, "GET").nth(k));
    }
    let first = rotate(&session, now).await;
    assert!(!rotated(&first), "{}", first.to_text());
    assert_eq!(s.credential_posts(), 1, "the POST is never resent");
    assert_eq!(s.client().credentials.len(), 2, "the lost POST did happen");
    assert!(
        s.sink().is_none(),
        "no sink before the certificate is proven"
    );
    faults.clear();
    let report = rotate(&session, now + Duration::minutes(11)).await;
    assert!(
        rotated(&report),
        "{}\n{}",
        first.to_text(),
        report.to_text()
    );
    assert!(
        report
            .to_text()
            .contains("resuming the interrupted rotation"),
        "{}",
        report.to_text()
    );
    assert_eq!(s.credential_posts(), 1, "adopted, not registered again");
    let client = s.client();
    assert_eq!(client.credentials.len(), 2, "{client:?}");
    let sink = s.sink().unwrap();
    assert!(client.mtls_attached.contains(&sink.credential_id));
    s.merge();
    session.finalize(now + Duration::minutes(11)).await.unwrap();
    assert_eq!(s.client().credentials.len(), 1);
    let (ok, failed) = probe.stop().await;
    assert_eq!(failed, 0, "{ok} exchanges succeeded, {failed} failed");
}

/// Two runs at once: one wins the branch, one PR, one new credential.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_at_once_agree() {
    let s = Setup::new().await;
    let (one, two) = (s.session().await, s.session().await);
    let now = OffsetDateTime::now_utc();
    let (r1, r2) = tokio::join!(rotate(&one, now), rotate(&two, now));
    let won = [&r1, &r2].iter().filter(|r| rotated(r)).count();
    assert_eq!(won, 1, "{}\n{}", r1.to_text(), r2.to_text());
    assert_eq!(s.open_pulls().len(), 1);
    let client = s.client();
    assert_eq!(client.credentials.len(), 2, "{client:?}");
    let sink = s.sink().unwrap();
    assert_eq!(s.ledger_at(BRANCH).unwrap().current.kid, sink.thumbprint);
    assert!(s.works(&sink.certificate).await);
}

/// Someone swaps `current` and `retiring` in the ledger on the bot's
/// branch and the PR is merged: finalize retires nothing, and both
/// certificates keep working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swapped_ledger_on_the_bots_branch_retires_nothing() {
    let s = Setup::new().await;
    let session = s.session().await;
    let now = OffsetDateTime::now_utc();
    assert!(rotated(&rotate(&session, now).await));
    let mut swapped = s.ledger_at(BRANCH).unwrap();
    let old = swapped.retiring[0].clone();
    let new = swapped.current.clone();
    swapped.current.credential_id = old.credential_id.clone();
    swapped.current.kid = old.kid.clone();
    swapped.retiring[0].credential_id = new.credential_id.clone();
    swapped.retiring[0].kid = new.kid.clone();
    s.emu
        .emulator
        .github
        .commit_files(
            OWNER,
            REPO,
            BRANCH,
            "swap",
            &[(LEDGER, Some(&swapped.render()))],
        )
        .unwrap();
    s.merge();
    let before = s.client();
    let (_, report) = session.finalize(now).await.unwrap();
    assert!(
        matches!(report.entries[0].outcome, Outcome::NeedsAttention { .. }),
        "{}",
        report.to_text()
    );
    assert_eq!(s.client(), before, "nothing detached or deleted");
    assert!(s.works(&s.initial_cert).await);
    assert!(s.works(&s.sink().unwrap().certificate).await);
}

fn openssl(args: &[&str], stdin: &[u8]) -> (bool, String, String) {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("openssl: {e} (the README's test command installs it)"));
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// OpenSSL parses the sink's certificate and key: the certificate's
/// SHA-256 fingerprint is the ledger's thumbprint, its subject the client
/// id, and it certifies the sink's private key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_reads_the_sink_and_agrees_with_the_ledger() {
    use base64::Engine;
    let s = Setup::new().await;
    let session = s.session().await;
    assert!(rotated(&rotate(&session, OffsetDateTime::now_utc()).await));
    let sink = s.sink().unwrap();
    let ledger = s.ledger_at(BRANCH).unwrap();
    let (ok, out, err) = openssl(
        &["x509", "-noout", "-fingerprint", "-sha256", "-subject"],
        sink.certificate.as_bytes(),
    );
    assert!(ok, "openssl cannot parse the certificate: {err}");
    let fp_line = out.lines().find(|l| l.contains("Fingerprint=")).unwrap();
    let hex = fp_line.split_once('=').unwrap().1.replace(':', "");
    let digest: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let fingerprint = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
    assert_eq!(fingerprint, ledger.current.kid);
    assert!(out.contains(APP), "{out}");
    let (ok, cert_pub, err) = openssl(&["x509", "-noout", "-pubkey"], sink.certificate.as_bytes());
    assert!(ok, "{err}");
    let (ok, key_pub, err) = openssl(&["pkey", "-pubout"], sink.private_key.as_bytes());
    assert!(ok, "openssl cannot parse the private key: {err}");
    assert_eq!(
        cert_pub, key_pub,
        "the certificate certifies the sink's key"
    );
}

// ---- crash matrix ----

async fn run_stage(
    s: &Setup,
    session: &Session,
    finalize: bool,
    crash: Option<&Crash>,
    now: OffsetDateTime,
) -> Report {
    let plan = session.plan(now, &PlanOptions::default()).await.unwrap();
    let key = SecretString::from(CNAME_KEY);
    let never = Crash::never();
    let c = crash.unwrap_or(&never);
    let auth0: BTreeMap<_, _> = session
        .auth0
        .iter()
        .map(|(k, v)| (k.clone(), CrashAuth0 { inner: v, crash: c }))
        .collect();
    let github = CrashGitHub {
        inner: &session.github,
        crash: c,
    };
    let ctx = Context {
        auth0: &auth0,
        github: &github,
        workspace: &session.workspace,
        journal: &session.journal,
        mtls_cname_api_key: Some(&key),
        now,
    };
    let _ = s;
    if finalize {
        apply::finalize(&ctx, &session.specs, &plan).await
    } else {
        apply::rotate(&ctx, &session.specs, &plan).await
    }
}

/// After every run: one or two certificates attached; the consumer's
/// certificate (the sink's, or the initial one) is attached and gets a
/// token; before the merge the initial one stays attached.
async fn invariants(s: &Setup, merged: bool, ctx: &str) {
    let c = s.client();
    assert!(
        (1..=2).contains(&c.mtls_attached.len()),
        "{ctx}: attached {:?}",
        c.mtls_attached
    );
    let cert = s.consumer_cert();
    assert!(
        s.works(&cert).await,
        "{ctx}: the consumer's certificate fails"
    );
    if !merged {
        assert!(
            c.mtls_attached.contains(&s.initial_credential),
            "{ctx}: retired before the merge"
        );
    }
}

async fn converge_rotation(
    s: &Setup,
    session: &Session,
    mut now: OffsetDateTime,
    ctx: &str,
) -> OffsetDateTime {
    for attempt in 0..3 {
        now += Duration::minutes(11);
        let r = run_stage(s, session, false, None, now).await;
        invariants(s, false, &format!("{ctx}, rerun {attempt}")).await;
        if matches!(
            r.entries[0].outcome,
            Outcome::Rotated { .. } | Outcome::Refreshed { .. }
        ) {
            return now;
        }
        assert!(
            !matches!(r.entries[0].outcome, Outcome::NeedsAttention { .. }),
            "{ctx}: rerun {attempt} needs a human: {}",
            r.to_text()
        );
    }
    panic!("{ctx}: rotate did not converge in 3 reruns");
}

async fn end_state(s: &Setup, session: &Session, now: OffsetDateTime, ctx: &str) {
    let c = s.client();
    assert_eq!(c.mtls_attached.len(), 1, "{ctx}: {c:?}");
    assert_eq!(c.credentials.len(), 1, "{ctx}: orphan left: {c:?}");
    let sink = s.sink().expect("sink");
    assert_eq!(c.mtls_attached[0], sink.credential_id, "{ctx}");
    assert_eq!(
        c.credentials[0].thumbprint_sha256.as_deref(),
        Some(sink.thumbprint.as_str())
    );
    assert_eq!(
        s.ledger_at("main").unwrap().current.kid,
        sink.thumbprint,
        "{ctx}"
    );
    assert!(s.open_pulls().is_empty(), "{ctx}: PR left open");
    assert!(
        !s.works(&s.initial_cert).await,
        "{ctx}: the retired certificate works"
    );
    let plan = session.plan(now, &PlanOptions::default()).await.unwrap();
    assert_eq!(plan.exit_code(), 0, "{ctx}: {}", plan.to_text());
}

async fn crash_case(stage: &str, k: usize, applied: bool) {
    let ctx = format!(
        "{stage} crash at call {k} ({})",
        if applied {
            "applied, response lost"
        } else {
            "not applied"
        }
    );
    let s = Setup::new().await;
    let session = s.session().await;
    let mut now = OffsetDateTime::now_utc();
    let crash = Crash::new(k, applied);
    if stage == "rotate" {
        run_stage(&s, &session, false, Some(&crash), now).await;
        assert!(crash.crashed(), "{ctx}: never reached");
        invariants(&s, false, &ctx).await;
        now = converge_rotation(&s, &session, now, &ctx).await;
        s.merge();
        invariants(&s, true, &format!("{ctx}, merged")).await;
        let r = run_stage(&s, &session, true, None, now).await;
        assert!(
            matches!(r.entries[0].outcome, Outcome::Finalized { .. }),
            "{ctx}: {}",
            r.to_text()
        );
    } else {
        let r = run_stage(&s, &session, false, None, now).await;
        assert!(rotated(&r), "{ctx}: {}", r.to_text());
        s.merge();
        run_stage(&s, &session, true, Some(&crash), now).await;
        assert!(crash.crashed(), "{ctx}: never reached");
        invariants(&s, true, &ctx).await;
        let r = run_stage(&s, &session, true, None, now).await;
        assert!(
            matches!(
                r.entries[0].outcome,
                Outcome::Finalized { .. } | Outcome::Unchanged { .. }
            ),
            "{ctx}: {}",
            r.to_text()
        );
    }
    end_state(&s, &session, now, &ctx).await;
    s.emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_crash_point_of_an_mtls_rotation_and_finalize_converges() {
    let s = Setup::new().await;
    let session = s.session().await;
    let now = OffsetDateTime::now_utc();
    let counter = Crash::never();
    assert!(rotated(
        &run_stage(&s, &session, false, Some(&counter), now).await
    ));
    let rotate_calls = counter.calls();
    s.merge();
    let counter = Crash::never();
    let r = run_stage(&s, &session, true, Some(&counter), now).await;
    assert!(
        matches!(r.entries[0].outcome, Outcome::Finalized { .. }),
        "{}",
        r.to_text()
    );
    let finalize_calls = counter.calls();
    end_state(&s, &session, now, "fault-free").await;
    s.emu.stop().await;

    let mut cases = 0;
    for (stage, calls) in [("rotate", rotate_calls), ("finalize", finalize_calls)] {
        for k in 0..calls {
            for applied in [false, true] {
                crash_case(stage, k, applied).await;
                cases += 1;
            }
        }
    }
    println!(
        "mTLS crash matrix: rotate {rotate_calls} calls + finalize {finalize_calls} calls, x 2 crash kinds = {cases} cases, {cases} passed"
    );
    assert_eq!(cases, 2 * (rotate_calls + finalize_calls));
}
