//! The pending-key journal is a real age file: the `age` CLI decrypts the key
//! the tool journaled (with an identity made by `age-keygen`), and an escrow
//! recipient can decrypt it too.

use crate::support;
use support::crash::{Crash, CrashAuth0, CrashGitHub};

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use auth0_rotate::apply::{self, Context, Outcome};
use auth0_rotate::demo::{self, OWNER, REPO};
use auth0_rotate::emulator::Emulator;
use auth0_rotate::journal::Journal;
use auth0_rotate::keys::{PrivateKey, RsaPublicKey};
use auth0_rotate::plan::PlanOptions;
use auth0_rotate::secret::SecretString;
use auth0_rotate::session::Session;
use time::{Duration, OffsetDateTime};

fn keygen(dir: &std::path::Path, name: &str) -> (std::path::PathBuf, String) {
    let path = dir.join(name);
    let out = Command::new("age-keygen")
        .arg("-o")
        .arg(&path)
        .output()
        .expect("age-keygen (the README's test command installs age)");
    assert!(out.status.success());
    let text = std::fs::read_to_string(&path).unwrap();
    let recipient = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_owned();
    (path, recipient)
}

fn age_decrypt(identity: &std::path::Path, armored: &str) -> String {
    let mut child = Command::new("age")
        .arg("--decrypt")
        .arg("-i")
        .arg(identity)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(armored.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "age --decrypt: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_age_cli_decrypts_the_journaled_key_and_the_run_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let (identity, _) = keygen(dir.path(), "tool.txt");
    let (escrow, escrow_recipient) = keygen(dir.path(), "escrow.txt");

    let emu = Emulator::new().start_local().await.unwrap();
    demo::seed(&emu).await.unwrap();
    let manifest = dir.path().join("m.yml");
    std::fs::write(&manifest, demo::MANIFEST).unwrap();
    let mut settings = demo::settings(&emu, manifest);
    settings.age_identity = Some(SecretString::new(
        std::fs::read_to_string(&identity).unwrap(),
    ));
    settings.age_recipients = vec![escrow_recipient];
    // The crash is simulated in this (living) process: name no holder.
    settings.runner = auth0_rotate::journal::Holder::default();
    let session = Session::open(&settings).await.unwrap();

    // Crash right after the journal commit: the key exists only in the journal.
    let now = OffsetDateTime::now_utc();
    let plan = session.plan(now, &PlanOptions::default()).await.unwrap();
    let mut journal = None;
    for k in 0..40 {
        let w_emu = &emu;
        let c = Crash::new(k, false);
        let auth0: BTreeMap<_, _> = session
            .auth0
            .iter()
            .map(|(n, a)| {
                (
                    n.clone(),
                    CrashAuth0 {
                        inner: a,
                        crash: &c,
                    },
                )
            })
            .collect();
        let github = CrashGitHub {
            inner: &session.github,
            crash: &c,
        };
        let ctx = Context {
            auth0: &auth0,
            github: &github,
            workspace: &session.workspace,
            journal: &session.journal,
            mtls_cname_api_key: None,
            now,
        };
        apply::rotate(&ctx, &session.specs, &plan).await;
        let path = ".github/auth0-rotation.ledger/demo/billing-worker.pending.yml";
        if let Some(bytes) =
            w_emu
                .emulator
                .github
                .file(OWNER, REPO, "auth0-rotate/demo/billing-worker", path)
        {
            journal = Some(Journal::parse(path, &String::from_utf8(bytes).unwrap()).unwrap());
            break;
        }
    }
    let journal = journal.expect("a journal was written before the first Auth0 write");
    assert!(
        emu.emulator
            .requests()
            .iter()
            .all(|r| !(r.method == "POST" && r.path.ends_with("/credentials"))),
        "journal precedes the first Auth0 write"
    );
    let armored = journal
        .encrypted_key
        .clone()
        .expect("journal holds the encrypted key");
    assert!(armored.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
    for id in [&identity, &escrow] {
        let pem = age_decrypt(id, &armored);
        let key = PrivateKey::from_pkcs8_pem(&SecretString::new(pem)).unwrap();
        assert_eq!(key.kid(), journal.kid);
        assert_eq!(
            RsaPublicKey::from_pem(key.public_key_pem()).unwrap().kid(),
            journal.kid
        );
    }

    // The next run (past the freshness window) resumes with that very key.
    let later = now + Duration::minutes(11);
    let plan = session.plan(later, &PlanOptions::default()).await.unwrap();
    assert!(plan.to_text().contains("resumed"), "{}", plan.to_text());
    let (_, report) = session
        .rotate(later, &PlanOptions::default())
        .await
        .unwrap();
    match &report.entries[0].outcome {
        Outcome::Rotated { kid, .. } => assert_eq!(kid, &journal.kid),
        other => panic!("{other:?}\n{}", report.to_text()),
    }
    emu.stop().await;
}
