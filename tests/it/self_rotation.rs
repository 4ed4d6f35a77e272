//! Self-rotation: the Management API client auth0-rotate uses is itself a
//! managed entry. The rotation runs on the old key; finalize retires the old
//! key only when it authenticates with the new one, and otherwise refuses
//! before deleting anything.

use auth0_rotate::apply::Outcome;
use auth0_rotate::demo::{self, DOMAIN, OWNER, REPO};
use auth0_rotate::emulator::auth0::{KEY_SCOPES, ROTATION_SCOPES};
use auth0_rotate::emulator::github::{MergeMethod, SecretStoreRef};
use auth0_rotate::emulator::{Emulator, RunningEmulator};
use auth0_rotate::keys::{Alg, KeySize, PrivateKey};
use auth0_rotate::plan::{Attention, Decision, PlanOptions};
use auth0_rotate::secret::SecretString;
use auth0_rotate::session::{Management, Session};
use time::OffsetDateTime;

const BOT: &str = "rotationBotPkjwt0000000000000000";
const BOT_SECRET: &str = "AUTH0_ROTATE_MGMT_KEY";

const MANIFEST: &str = r#"version: 1
tenants:
  demo:
    domain: acme-demo.eu.auth0.com
credentials:
  - name: rotation-bot
    tenant: demo
    client_id: rotationBotPkjwt0000000000000000
    rotate_every: 90d
    verify:
      audience: https://acme-demo.eu.auth0.com/api/v2/
    sinks:
      - kind: repo_secret
        name: AUTH0_ROTATE_MGMT_KEY
"#;

/// The demo tenant plus a Management client on private_key_jwt, with the
/// key a human set up; returns that key.
async fn seed_bot(emu: &RunningEmulator) -> PrivateKey {
    demo::seed(emu).await.unwrap();
    let a = &emu.emulator.auth0;
    a.create_client(DOMAIN, BOT, "auth0-rotate (private_key_jwt)", None)
        .unwrap();
    let scopes: Vec<&str> = ROTATION_SCOPES.iter().chain(KEY_SCOPES).copied().collect();
    a.grant(DOMAIN, BOT, &format!("https://{DOMAIN}/api/v2/"), &scopes)
        .unwrap();
    let key = PrivateKey::generate(KeySize::Rsa2048).unwrap();
    a.add_credential(
        DOMAIN,
        BOT,
        "set up by hand",
        key.public_key_pem(),
        Alg::RS256,
        true,
    )
    .unwrap();
    key
}

async fn session_with(emu: &RunningEmulator, dir: &tempfile::TempDir, key: &PrivateKey) -> Session {
    let path = dir.path().join("m.yml");
    std::fs::write(&path, MANIFEST).unwrap();
    let mut settings = demo::settings(emu, path);
    settings.management = Some(Management::Key {
        client_id: BOT.into(),
        key_pem: key.to_pkcs8_pem(),
        alg: Alg::RS256,
    });
    Session::open(&settings).await.unwrap()
}

/// The key the rotation wrote into the secret the workflow passes.
fn written_key(emu: &RunningEmulator) -> PrivateKey {
    let store = SecretStoreRef::Repo {
        owner: OWNER.into(),
        repo: REPO.into(),
    };
    let plain = emu
        .emulator
        .github
        .secret_plaintext(&store, BOT_SECRET)
        .unwrap();
    PrivateKey::from_pkcs8_pem(&SecretString::new(
        String::from_utf8(plain.expose().to_vec()).unwrap(),
    ))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tool_rotates_its_own_key_and_retires_the_old_one_only_with_the_new_one() {
    let emu = Emulator::new().start_local().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let old = seed_bot(&emu).await;

    // Stage 1 runs on the old key and proves the new one.
    let session = session_with(&emu, &dir, &old).await;
    let (_, report) = session
        .rotate(OffsetDateTime::now_utc(), &PlanOptions::default())
        .await
        .unwrap();
    let Outcome::Rotated { verified, .. } = &report.entries[0].outcome else {
        panic!("{}", report.to_text());
    };
    assert!(*verified, "the new key got a Management API token");
    let pull = emu.emulator.github.pulls(OWNER, REPO).remove(0);
    let body = pull.body.clone().unwrap_or_default();
    assert!(body.contains("own Management API client"), "{body}");
    let new = written_key(&emu);
    assert_ne!(new.kid(), old.kid());
    emu.emulator
        .github
        .merge_pull_with(OWNER, REPO, pull.number, MergeMethod::Squash)
        .unwrap();

    // The workflow still passes the old key: finalize refuses, deletes nothing.
    let before = emu.emulator.auth0.client(DOMAIN, BOT).unwrap();
    assert_eq!(before.attached.len(), 2);
    let (plan, report) = session.finalize(OffsetDateTime::now_utc()).await.unwrap();
    assert_eq!(
        plan.entries[0].decision,
        Decision::NeedsAttention {
            problem: Attention::SelfLockout { kid: old.kid() }
        },
        "{}",
        plan.to_text()
    );
    let reason = match &report.entries[0].outcome {
        Outcome::NeedsAttention { reason } => reason.clone(),
        other => panic!("{other:?}"),
    };
    assert!(reason.contains("nothing was deleted"), "{reason}");
    assert!(reason.contains("auth0-private-key"), "{reason}");
    assert_eq!(report.exit_code(), 1);
    assert_eq!(emu.emulator.auth0.client(DOMAIN, BOT).unwrap(), before);

    // A key Auth0 does not know cannot authenticate: the plan is incomplete
    // and nothing is deleted.
    let stranger = PrivateKey::generate(KeySize::Rsa2048).unwrap();
    let session = session_with(&emu, &dir, &stranger).await;
    let (plan, report) = session.finalize(OffsetDateTime::now_utc()).await.unwrap();
    assert!(
        matches!(
            plan.entries[0].decision,
            Decision::NeedsAttention {
                problem: Attention::ObserveFailed { .. }
            }
        ),
        "{}",
        plan.to_text()
    );
    assert_eq!(report.exit_code(), 1);
    assert_eq!(emu.emulator.auth0.client(DOMAIN, BOT).unwrap(), before);

    // With the key the rotation wrote, finalize retires the old one, and the
    // tool keeps working with the new key.
    let session = session_with(&emu, &dir, &new).await;
    let (_, report) = session.finalize(OffsetDateTime::now_utc()).await.unwrap();
    assert!(
        matches!(report.entries[0].outcome, Outcome::Finalized { .. }),
        "{}",
        report.to_text()
    );
    let after = emu.emulator.auth0.client(DOMAIN, BOT).unwrap();
    assert_eq!(after.attached_kids(), vec![new.kid()]);
    assert!(after.credentials.iter().all(|c| c.kid != old.kid()));
    let plan = session
        .plan(OffsetDateTime::now_utc(), &PlanOptions::default())
        .await
        .unwrap();
    assert!(
        matches!(plan.entries[0].decision, Decision::NotDue { .. }),
        "{}",
        plan.to_text()
    );
}
