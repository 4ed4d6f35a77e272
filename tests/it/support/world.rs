//! A seeded emulator with the demo tenant and a session on it, and the
//! rotation guarantees checked between runs.
#![allow(dead_code)]

use auth0_rotate::demo::{self, CLIENT_ID, DOMAIN, OWNER, REPO, SECRET};
use auth0_rotate::emulator::github::SecretStoreRef;
use auth0_rotate::emulator::{Emulator, RunningEmulator};
use auth0_rotate::keys::PrivateKey;
use auth0_rotate::ledger::LedgerEntry;
use auth0_rotate::secret::SecretString;
use auth0_rotate::session::Session;
use time::OffsetDateTime;

pub struct World {
    pub emu: RunningEmulator,
    pub session: Session,
    pub seed_credential: String,
    pub _dir: tempfile::TempDir,
}

pub async fn world() -> World {
    world_with(None).await
}

/// A world whose clients time out after `timeout`.
pub async fn world_with(timeout: Option<std::time::Duration>) -> World {
    let emu = Emulator::new().start_local().await.unwrap();
    let seeded = demo::seed(&emu).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("m.yml");
    std::fs::write(&manifest, demo::MANIFEST).unwrap();
    let mut settings = demo::settings(&emu, manifest);
    let identity = age::x25519::Identity::generate();
    settings.age_identity = Some(SecretString::new({
        use age::secrecy::ExposeSecret;
        identity.to_string().expose_secret().to_owned()
    }));
    settings.http_timeout = timeout;
    // Crashes are simulated inside this process, which stays alive: the
    // journals of these runs name no holder, so only their age counts.
    settings.runner = auth0_rotate::journal::Holder::default();
    let session = Session::open(&settings).await.unwrap();
    World {
        emu,
        session,
        seed_credential: seeded.initial_credential,
        _dir: dir,
    }
}

pub fn secret_kid(emu: &Emulator) -> String {
    let store = SecretStoreRef::Repo {
        owner: OWNER.into(),
        repo: REPO.into(),
    };
    let plain = emu.github.secret_plaintext(&store, SECRET).expect("secret");
    PrivateKey::from_pkcs8_pem(&SecretString::new(
        String::from_utf8(plain.expose().to_vec()).unwrap(),
    ))
    .unwrap()
    .kid()
}

pub fn invariants(w: &World, merged: bool, ctx: &str) {
    let c = w.emu.emulator.auth0.client(DOMAIN, CLIENT_ID).unwrap();
    assert!(
        (1..=2).contains(&c.attached.len()),
        "I2 {ctx}: attached {:?}",
        c.attached
    );
    let kid = secret_kid(&w.emu.emulator);
    let attached = c.attached_kids();
    assert!(
        attached.contains(&kid),
        "I1 {ctx}: secret kid {kid} not attached ({attached:?})"
    );
    let cred = c.credentials.iter().find(|x| x.kid == kid).unwrap();
    assert!(
        cred.expires_at
            .is_none_or(|e| e > OffsetDateTime::now_utc()),
        "I1 {ctx}: expired"
    );
    if !merged {
        assert!(
            c.attached.contains(&w.seed_credential),
            "I3 {ctx}: old credential retired before the merge"
        );
    }
}

pub fn assert_end_state(w: &World, ctx: &str) {
    let c = w.emu.emulator.auth0.client(DOMAIN, CLIENT_ID).unwrap();
    assert_eq!(c.attached.len(), 1, "{ctx}: {c:?}");
    assert_eq!(c.credentials.len(), 1, "{ctx}: orphan left: {c:?}");
    assert_eq!(c.attached_kids()[0], secret_kid(&w.emu.emulator), "{ctx}");
    assert!(!c.attached.contains(&w.seed_credential), "{ctx}");
    let path = ".github/auth0-rotation.ledger/demo/billing-worker.yml";
    let text = w
        .emu
        .emulator
        .github
        .file(OWNER, REPO, "main", path)
        .expect("ledger on main");
    let ledger = LedgerEntry::parse(path, &String::from_utf8(text).unwrap()).unwrap();
    assert_eq!(
        ledger.current.credential_id, c.attached[0],
        "{ctx}: ledger matches Auth0"
    );
    let open: Vec<_> = w
        .emu
        .emulator
        .github
        .pulls(OWNER, REPO)
        .into_iter()
        .filter(|p| p.state == "open")
        .collect();
    assert!(open.is_empty(), "{ctx}: PR left open");
}

pub async fn merge(w: &World) {
    let pull = w
        .emu
        .emulator
        .github
        .pulls(OWNER, REPO)
        .into_iter()
        .find(|p| p.state == "open")
        .expect("an open PR");
    w.emu
        .emulator
        .github
        .merge_pull(OWNER, REPO, pull.number)
        .unwrap();
}
