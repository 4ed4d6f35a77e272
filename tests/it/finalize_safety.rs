//! Finalize deletes only what a merged rotation PR approved. Malicious or
//! careless edits of the ledger on the default branch are refused with a
//! clear reason, and nothing is deleted.

use auth0_rotate::apply::Outcome;
use auth0_rotate::demo::{self, CLIENT_ID, DOMAIN, OWNER, REPO};
use auth0_rotate::emulator::{Emulator, RunningEmulator};
use auth0_rotate::ledger::LedgerEntry;
use auth0_rotate::plan::PlanOptions;
use auth0_rotate::session::Session;
use time::OffsetDateTime;

const LEDGER: &str = ".github/auth0-rotation.ledger/demo/billing-worker.yml";

async fn setup() -> (RunningEmulator, Session, tempfile::TempDir) {
    let emu = Emulator::new().start_local().await.unwrap();
    demo::seed(&emu).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("m.yml");
    std::fs::write(&manifest, demo::MANIFEST).unwrap();
    let session = Session::open(&demo::settings(&emu, manifest))
        .await
        .unwrap();
    (emu, session, dir)
}

async fn rotate_and_merge(emu: &RunningEmulator, session: &Session) -> LedgerEntry {
    let (_, report) = session
        .rotate(OffsetDateTime::now_utc(), &PlanOptions::default())
        .await
        .unwrap();
    assert!(
        matches!(report.entries[0].outcome, Outcome::Rotated { .. }),
        "{}",
        report.to_text()
    );
    let pull = emu.emulator.github.pulls(OWNER, REPO).remove(0);
    emu.emulator
        .github
        .merge_pull(OWNER, REPO, pull.number)
        .unwrap();
    let text = emu
        .emulator
        .github
        .file(OWNER, REPO, "main", LEDGER)
        .unwrap();
    LedgerEntry::parse(LEDGER, &String::from_utf8(text).unwrap()).unwrap()
}

async fn finalize_refuses(
    emu: &RunningEmulator,
    session: &Session,
    tampered: &LedgerEntry,
    expect: &str,
) {
    let before = emu.emulator.auth0.client(DOMAIN, CLIENT_ID).unwrap();
    emu.emulator
        .github
        .commit_files(
            OWNER,
            REPO,
            "main",
            "edit ledger",
            &[(LEDGER, Some(&tampered.render()))],
        )
        .unwrap();
    let (_, report) = session.finalize(OffsetDateTime::now_utc()).await.unwrap();
    match &report.entries[0].outcome {
        Outcome::NeedsAttention { reason } => {
            assert!(reason.contains(expect), "{reason:?} should say {expect:?}");
            assert!(
                reason.contains("nothing was deleted") || reason.contains("not attached"),
                "{reason}"
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(report.exit_code(), 1);
    let after = emu.emulator.auth0.client(DOMAIN, CLIENT_ID).unwrap();
    assert_eq!(before, after, "nothing changed in Auth0");
    assert!(
        !emu.emulator
            .requests()
            .iter()
            .any(|r| r.method == "DELETE" && r.path.starts_with("/auth0/")),
        "nothing deleted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_current_credential_listed_as_retiring_is_refused() {
    let (emu, session, _d) = setup().await;
    let mut l = rotate_and_merge(&emu, &session).await;
    l.retiring[0].credential_id = l.current.credential_id.clone();
    l.retiring[0].kid = l.current.kid.clone();
    finalize_refuses(&emu, &session, &l, "lists its current credential").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_for_another_client_is_refused() {
    let (emu, session, _d) = setup().await;
    let mut l = rotate_and_merge(&emu, &session).await;
    l.client_id = "someOtherClient000000000000000000".into();
    finalize_refuses(&emu, &session, &l, "but the manifest entry is").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retiring_kid_that_does_not_match_auth0_is_refused() {
    let (emu, session, _d) = setup().await;
    let mut l = rotate_and_merge(&emu, &session).await;
    l.retiring[0].kid = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into();
    finalize_refuses(&emu, &session, &l, "in Auth0, not").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_after_the_merge_is_refused() {
    let (emu, session, _d) = setup().await;
    let mut l = rotate_and_merge(&emu, &session).await;
    l.retiring[0].since -= time::Duration::days(30);
    finalize_refuses(&emu, &session, &l, "edited after the merge").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_current_credential_that_is_not_attached_is_refused() {
    let (emu, session, _d) = setup().await;
    let mut l = rotate_and_merge(&emu, &session).await;
    l.current.credential_id = "cred_doesNotExist0000000000".into();
    finalize_refuses(&emu, &session, &l, "not attached").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_pushed_without_any_merged_pr_is_refused() {
    let (emu, session, _d) = setup().await;
    // Someone writes a retirement of the hand-made credential straight to main.
    let client = emu.emulator.auth0.client(DOMAIN, CLIENT_ID).unwrap();
    let seed = &client.credentials[0];
    let now = OffsetDateTime::now_utc();
    // A second, attached credential for the ledger to call current.
    let other =
        auth0_rotate::keys::PrivateKey::generate(auth0_rotate::keys::KeySize::Rsa2048).unwrap();
    let cur = emu
        .emulator
        .auth0
        .add_credential(
            DOMAIN,
            CLIENT_ID,
            "auth0-rotate billing-worker 2026-11-25",
            other.public_key_pem(),
            auth0_rotate::keys::Alg::RS256,
            true,
        )
        .unwrap();
    let forged = LedgerEntry {
        version: 1,
        auth_method: auth0_rotate::manifest::AuthMethod::PrivateKeyJwt,
        attach_on_merge: false,
        journal_commit: None,
        replaces_client: None,
        retire_old_client: None,
        tenant: "demo".into(),
        entry: "billing-worker".into(),
        client_id: CLIENT_ID.into(),
        current: auth0_rotate::ledger::CredentialRecord {
            credential_id: cur.id.clone(),
            kid: cur.kid.clone(),
            alg: auth0_rotate::keys::Alg::RS256,
            created_at: now,
            expires_at: None,
        },
        retiring: vec![auth0_rotate::ledger::Retiring {
            credential_id: seed.id.clone(),
            kid: seed.kid.clone(),
            since: now,
            deadline: None,
        }],
    };
    finalize_refuses(&emu, &session, &forged, "no merged pull request").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_untampered_ledger_finalizes() {
    let (emu, session, _d) = setup().await;
    let l = rotate_and_merge(&emu, &session).await;
    let (_, report) = session.finalize(OffsetDateTime::now_utc()).await.unwrap();
    assert_eq!(
        report.entries[0].outcome,
        Outcome::Finalized {
            retired: vec![l.retiring[0].credential_id.clone()]
        }
    );
    assert_eq!(report.exit_code(), 0);
}
