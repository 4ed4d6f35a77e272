//! Expiry changes: a changed `lifetime` moves the current credential's
//! `expires_at` through the entry's PR instead of rotating, and is set only
//! after a merged PR approved it; an expiry in the past, a forged ledger and
//! a rejected PR change nothing.

use std::time::Duration as StdDuration;

use auth0_rotate::apply::Outcome;
use auth0_rotate::demo::consumer::Consumer;
use auth0_rotate::demo::{self, CLIENT_ID, DOMAIN, OWNER, REPO};
use auth0_rotate::emulator::github::MergeMethod;
use auth0_rotate::emulator::{Emulator, RunningEmulator};
use auth0_rotate::ledger::LedgerEntry;
use auth0_rotate::plan::{Attention, Decision, PlanOptions};
use auth0_rotate::session::Session;
use time::{Duration, OffsetDateTime};

const LEDGER: &str = ".github/auth0-rotation.ledger/demo/billing-worker.yml";

struct Setup {
    emu: RunningEmulator,
    dir: tempfile::TempDir,
}

impl Setup {
    /// The demo, rotated once (lifetime 120d), merged and finalized: the
    /// entry is managed and nothing is due.
    async fn managed() -> Setup {
        let emu = Emulator::new().start_local().await.unwrap();
        demo::seed(&emu).await.unwrap();
        let s = Setup {
            emu,
            dir: tempfile::tempdir().unwrap(),
        };
        let session = s.session_with_lifetime("120d").await;
        let (_, report) = session
            .rotate(OffsetDateTime::now_utc(), &PlanOptions::default())
            .await
            .unwrap();
        assert!(
            matches!(report.entries[0].outcome, Outcome::Rotated { .. }),
            "{}",
            report.to_text()
        );
        s.merge_open_pull(MergeMethod::Merge);
        let (_, report) = session.finalize(OffsetDateTime::now_utc()).await.unwrap();
        assert_eq!(report.exit_code(), 0, "{}", report.to_text());
        s
    }

    /// A session on the demo manifest with `lifetime` replaced.
    async fn session_with_lifetime(&self, lifetime: &str) -> Session {
        let path = self.dir.path().join("m.yml");
        let text = demo::MANIFEST.replace("lifetime: 120d", &format!("lifetime: {lifetime}"));
        std::fs::write(&path, text).unwrap();
        Session::open(&demo::settings(&self.emu, path))
            .await
            .unwrap()
    }

    fn merge_open_pull(&self, method: MergeMethod) {
        let gh = &self.emu.emulator.github;
        let pull = gh
            .pulls(OWNER, REPO)
            .into_iter()
            .find(|p| p.state == "open")
            .expect("an open PR");
        gh.merge_pull_with(OWNER, REPO, pull.number, method)
            .unwrap();
    }

    fn main_ledger(&self) -> LedgerEntry {
        let text = self
            .emu
            .emulator
            .github
            .file(OWNER, REPO, "main", LEDGER)
            .unwrap();
        LedgerEntry::parse(LEDGER, &String::from_utf8(text).unwrap()).unwrap()
    }

    /// Auth0's record of the ledger's current credential: (created, expires).
    fn current_in_auth0(&self) -> (String, Option<OffsetDateTime>) {
        let id = self.main_ledger().current.credential_id;
        let c = self.emu.emulator.auth0.client(DOMAIN, CLIENT_ID).unwrap();
        let cred = c.credentials.iter().find(|c| c.id == id).unwrap();
        (id, cred.expires_at)
    }

    fn auth0_writes(&self) -> usize {
        self.emu
            .emulator
            .requests()
            .iter()
            .filter(|r| r.method != "GET" && r.path.contains("/api/v2/"))
            .count()
    }
}

/// The whole flow, with a consumer exchanging tokens throughout: propose
/// (nothing changes in Auth0 and no secret is written), in flight, squash
/// merge, finalize sets the expiry, then nothing is left to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_lifetime_moves_the_expiry_through_a_pr() {
    let s = Setup::managed().await;
    let consumer = Consumer::start(
        s.emu.emulator.github.clone(),
        demo::consumer_config(&s.emu, StdDuration::from_millis(20)),
    );
    let (cred, before) = s.current_in_auth0();
    let created = s.main_ledger().current.created_at;
    let session = s.session_with_lifetime("60d").await;
    let now = OffsetDateTime::now_utc();

    let plan = session.plan(now, &PlanOptions::default()).await.unwrap();
    let Decision::ProposeExpiry { to, from, .. } = plan.entries[0].decision.clone() else {
        panic!("{}", plan.to_text());
    };
    assert_eq!(from, before);
    assert_eq!(to, created + Duration::days(60), "created_at + lifetime");

    let writes = s.auth0_writes();
    let secret_before = auth0_rotate_secret(&s);
    let (_, report) = session.rotate(now, &PlanOptions::default()).await.unwrap();
    let pull = match &report.entries[0].outcome {
        Outcome::Applied { pull: Some(p), .. } => p.clone(),
        other => panic!("{other:?}\n{}", report.to_text()),
    };
    assert_eq!(
        s.auth0_writes(),
        writes,
        "proposing writes nothing to Auth0"
    );
    assert_eq!(s.current_in_auth0().1, before);
    assert_eq!(auth0_rotate_secret(&s), secret_before, "no secret written");
    let snap = s
        .emu
        .emulator
        .github
        .pulls(OWNER, REPO)
        .into_iter()
        .find(|p| p.number == pull.number)
        .unwrap();
    assert!(snap.title.contains("set the expiry"), "{}", snap.title);
    let body = snap.body.unwrap_or_default();
    assert!(body.contains("No key changes"), "{body}");
    assert!(body.contains("stop working earlier"), "{body}");

    let plan = session.plan(now, &PlanOptions::default()).await.unwrap();
    assert!(
        plan.entries[0]
            .explanation
            .contains("expiry change in flight"),
        "{}",
        plan.to_text()
    );

    s.merge_open_pull(MergeMethod::Squash);
    let (plan, report) = session.finalize(OffsetDateTime::now_utc()).await.unwrap();
    assert!(
        matches!(plan.entries[0].decision, Decision::UpdateExpiry { .. }),
        "{}",
        plan.to_text()
    );
    assert_eq!(report.exit_code(), 0, "{}", report.to_text());
    let (same, after) = s.current_in_auth0();
    assert_eq!(same, cred, "the credential was not rotated");
    assert_eq!(after, Some(to), "Auth0 holds the approved instant");

    let plan = session
        .plan(OffsetDateTime::now_utc(), &PlanOptions::default())
        .await
        .unwrap();
    assert!(
        matches!(plan.entries[0].decision, Decision::NotDue { .. }),
        "{}",
        plan.to_text()
    );
    assert_eq!(plan.exit_code(), 0);
    assert!(
        consumer
            .wait_for_total(20, StdDuration::from_secs(10))
            .await
    );
    let stats = consumer.stop().await;
    let failed = stats.failed.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(failed, 0, "{:?}", stats.errors.lock().unwrap());
}

/// The sealed secret value of the demo sink (ciphertext changes on every write).
fn auth0_rotate_secret(s: &Setup) -> Vec<u8> {
    let store = auth0_rotate::emulator::github::SecretStoreRef::Repo {
        owner: OWNER.into(),
        repo: REPO.into(),
    };
    s.emu
        .emulator
        .github
        .secret_plaintext(&store, demo::SECRET)
        .unwrap()
        .expose()
        .to_vec()
}

/// A lifetime that puts the expiry before now is refused with the way out,
/// and nothing is proposed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiry_in_the_past_is_refused() {
    let s = Setup::managed().await;
    let (_, before) = s.current_in_auth0();
    let session = s.session_with_lifetime("30d").await;
    let later = OffsetDateTime::now_utc() + Duration::days(45);
    let pulls = s.emu.emulator.github.pulls(OWNER, REPO).len();
    let (plan, report) = session
        .rotate(later, &PlanOptions::default())
        .await
        .unwrap();
    assert!(
        matches!(
            plan.entries[0].decision,
            Decision::NeedsAttention {
                problem: Attention::ExpiryInPast { .. }
            }
        ),
        "{}",
        plan.to_text()
    );
    let reason = match &report.entries[0].outcome {
        Outcome::NeedsAttention { reason } => reason.clone(),
        other => panic!("{other:?}"),
    };
    assert!(
        reason.contains("has passed") && reason.contains("--force"),
        "{reason}"
    );
    assert_eq!(report.exit_code(), 1);
    assert_eq!(s.emu.emulator.github.pulls(OWNER, REPO).len(), pulls);
    assert_eq!(s.current_in_auth0().1, before);
}

/// A new expiry committed straight to the default branch (no merged PR
/// proposed it) is not set; a PR closed without merging is reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_or_rejected_expiry_changes_nothing() {
    let s = Setup::managed().await;
    let (_, before) = s.current_in_auth0();
    let session = s.session_with_lifetime("60d").await;

    let mut forged = s.main_ledger();
    forged.current.expires_at = Some(OffsetDateTime::now_utc() + Duration::days(3650));
    s.emu
        .emulator
        .github
        .commit_files(
            OWNER,
            REPO,
            "main",
            "extend the key",
            &[(LEDGER, Some(&forged.render()))],
        )
        .unwrap();
    let (_, report) = session.finalize(OffsetDateTime::now_utc()).await.unwrap();
    let reason = match &report.entries[0].outcome {
        Outcome::NeedsAttention { reason } => reason.clone(),
        other => panic!("{other:?}\n{}", report.to_text()),
    };
    assert!(reason.contains("nothing was changed"), "{reason}");
    assert!(reason.contains("edited after the merge"), "{reason}");
    assert_eq!(s.current_in_auth0().1, before);

    // Put the approved ledger back, propose, and reject the PR.
    let gh = &s.emu.emulator.github;
    let merged = gh
        .pulls(OWNER, REPO)
        .into_iter()
        .find(|p| p.merged)
        .unwrap();
    let approved = gh.file(OWNER, REPO, &merged.head_sha, LEDGER).unwrap();
    let approved = String::from_utf8(approved).unwrap();
    gh.commit_files(OWNER, REPO, "main", "restore", &[(LEDGER, Some(&approved))])
        .unwrap();
    let (_, report) = session
        .rotate(OffsetDateTime::now_utc(), &PlanOptions::default())
        .await
        .unwrap();
    let Outcome::Applied { pull: Some(p), .. } = &report.entries[0].outcome else {
        panic!("{}", report.to_text());
    };
    gh.close_pull(OWNER, REPO, p.number).unwrap();
    let (plan, report) = session
        .rotate(OffsetDateTime::now_utc(), &PlanOptions::default())
        .await
        .unwrap();
    assert!(
        plan.entries[0]
            .explanation
            .contains("closed without merging")
            && plan.entries[0].explanation.contains("new expiry"),
        "{}",
        plan.to_text()
    );
    assert_eq!(report.exit_code(), 1);
    assert_eq!(s.current_in_auth0().1, before);
}
