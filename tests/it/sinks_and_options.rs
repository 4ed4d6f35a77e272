//! Every sink kind, certificate upload, lifetime and max_overlap, end to end
//! against the emulator.

use auth0_rotate::apply::Outcome;
use auth0_rotate::demo::{self, CLIENT_ID, DOMAIN, OWNER, REPO};
use auth0_rotate::emulator::github::SecretStoreRef;
use auth0_rotate::emulator::Emulator;
use auth0_rotate::keys::PrivateKey;
use auth0_rotate::ledger::LedgerEntry;
use auth0_rotate::plan::PlanOptions;
use auth0_rotate::secret::SecretString;
use auth0_rotate::session::Session;
use time::{Duration, OffsetDateTime};

const MANIFEST: &str = r#"version: 1
tenants:
  demo:
    domain: acme-demo.eu.auth0.com
defaults:
  rotate_every: 30d
  lifetime: 60d
  max_overlap: 7d
credentials:
  - name: billing-worker
    tenant: demo
    client_id: Xq3bW8yTn2VfK7pLm4RzD9sHc6JgA1uE
    alg: PS256
    key_size: 3072
    upload: certificate
    verify:
      audience: https://billing.acme.example/
    sinks:
      - kind: repo_secret
        name: BILLING_AUTH0_KEY
      - kind: repo_secret
        repo: acme/billing-service
        name: AUTH0_CLIENT_KEY_JSON
        format: json
      - kind: environment_secret
        environment: production
        name: AUTH0_PRIVATE_KEY
      - kind: org_secret
        org: acme
        visibility: private
        name: ACME_BILLING_AUTH0_KEY
      - kind: variable
        name: BILLING_AUTH0_KID
        value: kid
      - kind: variable
        environment: production
        name: BILLING_AUTH0_CREDENTIAL
        value: credential_id
"#;

fn key_from(bytes: &[u8]) -> PrivateKey {
    PrivateKey::from_pkcs8_pem(&SecretString::new(
        String::from_utf8(bytes.to_vec()).unwrap(),
    ))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_sinks_certificate_upload_lifetime_and_overlap() {
    let emu = Emulator::new().start_local().await.unwrap();
    let seeded = demo::seed(&emu).await.unwrap();
    let g = &emu.emulator.github;
    g.create_repo(OWNER, "billing-service", "main", &[("README.md", "x\n")]);
    g.create_environment(OWNER, REPO, "production");
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("m.yml");
    std::fs::write(&manifest, MANIFEST).unwrap();
    let session = Session::open(&demo::settings(&emu, manifest))
        .await
        .unwrap();
    let now = OffsetDateTime::now_utc();
    let (_, report) = session.rotate(now, &PlanOptions::default()).await.unwrap();
    let (cred_id, kid) = match &report.entries[0].outcome {
        Outcome::Rotated {
            credential_id,
            kid,
            verified,
            ..
        } => {
            assert!(verified, "PS256 key proven by a token exchange");
            (credential_id.clone(), kid.clone())
        }
        other => panic!("{other:?}\n{}", report.to_text()),
    };

    // Auth0: the new credential's expiry came from the certificate (lifetime 60d),
    // and the old one got the max_overlap deadline.
    let client = emu.emulator.auth0.client(DOMAIN, CLIENT_ID).unwrap();
    let new = client.credentials.iter().find(|c| c.id == cred_id).unwrap();
    assert_eq!(new.alg, "PS256");
    let expires = new
        .expires_at
        .expect("parse_expiry_from_cert set expires_at");
    assert!(
        (expires - (now + Duration::days(60))).abs() < Duration::minutes(1),
        "{expires}"
    );
    let old = client
        .credentials
        .iter()
        .find(|c| c.id == seeded.initial_credential)
        .unwrap();
    let deadline = old.expires_at.expect("max_overlap deadline");
    assert!((deadline - (now + Duration::days(7))).abs() < Duration::minutes(1));

    // Every sink holds the new key (or its public facts).
    let repo = SecretStoreRef::Repo {
        owner: OWNER.into(),
        repo: REPO.into(),
    };
    let other = SecretStoreRef::Repo {
        owner: OWNER.into(),
        repo: "billing-service".into(),
    };
    let env = SecretStoreRef::Environment {
        owner: OWNER.into(),
        repo: REPO.into(),
        environment: "production".into(),
    };
    let org = SecretStoreRef::Org { org: OWNER.into() };
    let pem = g.secret_plaintext(&repo, "BILLING_AUTH0_KEY").unwrap();
    let key = key_from(pem.expose());
    assert_eq!(key.kid(), kid);
    assert_eq!(key.public().bits(), 3072);
    assert_eq!(
        key_from(
            g.secret_plaintext(&env, "AUTH0_PRIVATE_KEY")
                .unwrap()
                .expose()
        )
        .kid(),
        kid
    );
    assert_eq!(
        key_from(
            g.secret_plaintext(&org, "ACME_BILLING_AUTH0_KEY")
                .unwrap()
                .expose()
        )
        .kid(),
        kid
    );
    let json: serde_json::Value = serde_json::from_slice(
        g.secret_plaintext(&other, "AUTH0_CLIENT_KEY_JSON")
            .unwrap()
            .expose(),
    )
    .unwrap();
    assert_eq!(json["client_id"], CLIENT_ID);
    assert_eq!(json["kid"], kid.as_str());
    assert_eq!(json["alg"], "PS256");
    assert_eq!(
        key_from(json["private_key_pem"].as_str().unwrap().as_bytes()).kid(),
        kid
    );
    assert_eq!(
        g.variable(&repo, "BILLING_AUTH0_KID").as_deref(),
        Some(kid.as_str())
    );
    assert_eq!(
        g.variable(&env, "BILLING_AUTH0_CREDENTIAL").as_deref(),
        Some(cred_id.as_str())
    );

    // The PR's ledger records the deadline.
    let pull = g.pulls(OWNER, REPO).remove(0);
    assert!(pull.body.as_deref().unwrap().contains("deadline"));
    let path = ".github/auth0-rotation.ledger/demo/billing-worker.yml";
    let ledger = LedgerEntry::parse(
        path,
        &String::from_utf8(g.file(OWNER, REPO, &pull.head_ref, path).unwrap()).unwrap(),
    )
    .unwrap();
    assert!((ledger.retiring[0].deadline.unwrap() - deadline).abs() < Duration::seconds(1));
    assert_eq!(
        ledger
            .current
            .expires_at
            .map(|e| (e - expires).abs() < Duration::seconds(1)),
        Some(true)
    );
    emu.stop().await;
}

/// Each store's public key is read once per run (GitHub's advice), and read
/// again when a PUT is refused because the store's key rotated meanwhile.
#[tokio::test]
async fn each_store_key_is_read_once_and_again_after_a_rotation() {
    use auth0_rotate::apply::sinks::write_secret_sinks;
    use auth0_rotate::apply::SinkSpec;
    use auth0_rotate::github::{OctocrabGitHub, Repo, Store};
    use auth0_rotate::secret::SecretBytes;
    let emu = Emulator::new().start_local().await.unwrap();
    demo::seed(&emu).await.unwrap();
    let gh = OctocrabGitHub::new(
        &emu.github_api_url(),
        &SecretString::from(demo::GITHUB_TOKEN),
    )
    .unwrap();
    let store = Store::Repo(Repo {
        owner: OWNER.into(),
        name: REPO.into(),
    });
    let sink = |name: &str| SinkSpec::Secret {
        store: store.clone(),
        name: name.into(),
        format: auth0_rotate::apply::SecretFormat::Json,
    };
    let sinks = [sink("ONE"), sink("TWO"), sink("THREE")];
    let key_reads = || {
        emu.emulator
            .requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path.ends_with("/secrets/public-key"))
            .count()
    };
    // The seed wrote the initial secret with a client of its own.
    let seeded = key_reads();
    let key_reads = || key_reads() - seeded;
    let content = SecretBytes::new(b"{\"v\":1}".to_vec());
    write_secret_sinks(&gh, &sinks, &content, None)
        .await
        .unwrap();
    write_secret_sinks(&gh, &sinks, &content, None)
        .await
        .unwrap();
    assert_eq!(key_reads(), 1, "one read for six writes to one store");
    let theirs = SecretStoreRef::Repo {
        owner: OWNER.into(),
        repo: REPO.into(),
    };
    emu.emulator.github.rotate_secret_key(&theirs).unwrap();
    let content = SecretBytes::new(b"{\"v\":2}".to_vec());
    write_secret_sinks(&gh, &sinks, &content, None)
        .await
        .unwrap();
    assert_eq!(key_reads(), 2, "read again once after the rotation");
    for name in ["ONE", "TWO", "THREE"] {
        let plain = emu.emulator.github.secret_plaintext(&theirs, name).unwrap();
        assert_eq!(plain.expose(), b"{\"v\":2}", "{name}");
    }
}
