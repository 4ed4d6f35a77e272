//! No private key material appears in anything the tool prints or writes in
//! clear: logs at trace level, plans, reports, PR titles and bodies, ledger
//! files, variables — and the output of the `demo` binary.
#![expect(
    clippy::disallowed_methods,
    reason = "a test is an edge: it reads the clock"
)]

#[path = "it/support/scan.rs"]
mod scan;
use scan::assert_clean;

use std::io::Write;
use std::sync::{Arc, Mutex};

use auth0_rotate::demo::{self, OWNER, REPO, SECRET};
use auth0_rotate::emulator::github::SecretStoreRef;
use auth0_rotate::emulator::Emulator;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_secret_in_logs_plans_reports_or_pull_requests() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    // Global, not thread-local: the other tests of this binary run on other
    // threads at the same time, and tracing caches per-callsite interest
    // process-wide, so a thread-local subscriber can miss events.
    tracing::subscriber::set_global_default(subscriber)
        .expect("the only subscriber in this binary");

    let emu = Emulator::new().start_local().await.unwrap();
    demo::seed(&emu).await.unwrap();
    let store = SecretStoreRef::Repo {
        owner: OWNER.into(),
        repo: REPO.into(),
    };
    let secret = |e: &Emulator| {
        String::from_utf8(
            e.github
                .secret_plaintext(&store, SECRET)
                .unwrap()
                .expose()
                .to_vec(),
        )
        .unwrap()
    };
    let initial = secret(&emu.emulator);
    let out = demo::scenario(&emu, 200).await.unwrap();
    let rotated = secret(&emu.emulator);
    assert_ne!(initial, rotated);
    let keys = vec![initial, rotated];

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("registered credential"),
        "tracing output was captured"
    );
    assert_clean(&logs, &keys, "tracing output");
    assert_clean(&out.log, &keys, "plan and report text");
    for pull in emu.emulator.github.pulls(OWNER, REPO) {
        assert_clean(&pull.title, &keys, "PR title");
        assert_clean(pull.body.as_deref().unwrap_or(""), &keys, "PR body");
    }
    let ledger = emu
        .emulator
        .github
        .file(
            OWNER,
            REPO,
            "main",
            ".github/auth0-rotation.ledger/demo/billing-worker.yml",
        )
        .unwrap();
    assert_clean(&String::from_utf8(ledger).unwrap(), &keys, "ledger");
    let kid_var = emu
        .emulator
        .github
        .variable(&store, "BILLING_AUTH0_KID")
        .unwrap();
    assert_clean(&kid_var, &keys, "variable");
    emu.stop().await;
}

#[test]
fn the_demo_binary_prints_no_key_material() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_auth0-rotate"))
        .args(["demo", "--exchanges", "100"])
        .env("AUTH0_ROTATE_LOG", "trace")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("zero-downtime rotation complete"));
    assert!(stdout.contains("0 failed"));
    for (name, text) in [("stdout", &stdout), ("stderr", &stderr)] {
        assert_clean(text, &[], name);
        assert!(
            !text.contains(demo::MGMT_SECRET),
            "{name}: the management client secret was printed"
        );
        assert!(
            !text.contains("emu."),
            "{name}: an access token was printed"
        );
    }
}

async fn cli(
    emu: &auth0_rotate::emulator::RunningEmulator,
    manifest: &std::path::Path,
    args: &[&str],
) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_auth0-rotate"));
    cmd.args(args)
        .arg("--manifest")
        .arg(manifest)
        .arg("--auth0-base-url")
        .arg(format!(
            "{}={}",
            demo::TENANT,
            emu.auth0_base_url(demo::DOMAIN)
        ))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AUTH0_ROTATE_LOG", "debug")
        .env("GITHUB_REPOSITORY", format!("{OWNER}/{REPO}"))
        .env("GITHUB_API_URL", emu.github_api_url())
        .env("GITHUB_TOKEN", demo::GITHUB_TOKEN)
        .env("AUTH0_CLIENT_ID", demo::MGMT_CLIENT_ID)
        .env("AUTH0_CLIENT_SECRET", demo::MGMT_SECRET);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_commands_print_no_key_material_and_use_plan_exit_codes() {
    let emu = Emulator::new().start_local().await.unwrap();
    demo::seed(&emu).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("auth0-rotation.yml");
    std::fs::write(&manifest, demo::MANIFEST).unwrap();
    let store = SecretStoreRef::Repo {
        owner: OWNER.into(),
        repo: REPO.into(),
    };
    let read = || {
        String::from_utf8(
            emu.emulator
                .github
                .secret_plaintext(&store, SECRET)
                .unwrap()
                .expose()
                .to_vec(),
        )
        .unwrap()
    };
    let mut keys = vec![read()];
    let mut transcript = String::new();

    let (code, out, err) = cli(&emu, &manifest, &["plan", "--format", "json"]).await;
    assert_eq!(code, 2, "changes pending: {out}{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan["entries"][0]["decision"]["action"], "rotate");
    transcript += &(out + &err);

    let (code, out, err) = cli(&emu, &manifest, &["rotate"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("rotated"), "{out}");
    keys.push(read());
    transcript += &(out + &err);

    let pull = emu.emulator.github.pulls(OWNER, REPO).remove(0);
    emu.emulator
        .github
        .merge_pull(OWNER, REPO, pull.number)
        .unwrap();
    let (code, out, err) = cli(&emu, &manifest, &["finalize"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("finalized"), "{out}");
    transcript += &(out + &err);

    for format in ["text", "markdown"] {
        let (code, out, err) = cli(&emu, &manifest, &["plan", "--format", format]).await;
        assert_eq!(code, 0, "nothing to do after finalize: {out}{err}");
        transcript += &(out + &err);
    }
    assert_clean(&transcript, &keys, "CLI output");
    assert!(!transcript.contains(demo::MGMT_SECRET));
    assert!(!transcript.contains(demo::GITHUB_TOKEN));
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_the_tool_commits_holds_a_clear_key() {
    // A rotation with an age identity, interrupted after its journal commit
    // and resumed: every file the tool wrote on any branch, every PR, every
    // variable and the dashboard are scanned for the keys involved.
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::new().start_local().await.unwrap();
    demo::seed(&emu).await.unwrap();
    let store = SecretStoreRef::Repo {
        owner: OWNER.into(),
        repo: REPO.into(),
    };
    let read = |e: &Emulator| {
        String::from_utf8(
            e.github
                .secret_plaintext(&store, SECRET)
                .unwrap()
                .expose()
                .to_vec(),
        )
        .unwrap()
    };
    let initial = read(&emu.emulator);
    let manifest = dir.path().join("m.yml");
    std::fs::write(&manifest, demo::MANIFEST).unwrap();
    let mut settings = demo::settings(&emu, manifest);
    let identity = age::x25519::Identity::generate();
    settings.age_identity = Some(auth0_rotate::secret::SecretString::new({
        use age::secrecy::ExposeSecret;
        identity.to_string().expose_secret().to_owned()
    }));
    let session = auth0_rotate::session::Session::open(&settings)
        .await
        .unwrap();
    let now = time::OffsetDateTime::now_utc();
    // Crash the first run right after the journal commit (the first Auth0 write fails).
    emu.emulator.faults().add(
        auth0_rotate::emulator::faults::FaultRule::new(
            auth0_rotate::emulator::faults::FaultKind::ConnectionReset,
        )
        .service(auth0_rotate::emulator::faults::Service::Auth0)
        .method("POST")
        .path("/api/v2/clients/*/credentials")
        .always(),
    );
    let _ = session
        .rotate(now, &auth0_rotate::plan::PlanOptions::default())
        .await;
    let branch = "auth0-rotate/demo/billing-worker";
    let journal = emu.emulator.github.file(
        OWNER,
        REPO,
        branch,
        ".github/auth0-rotation.ledger/demo/billing-worker.pending.yml",
    );
    let journal = String::from_utf8(journal.expect("journal committed")).unwrap();
    assert!(journal.contains("BEGIN AGE ENCRYPTED FILE"));
    emu.emulator.faults().clear();
    let (_, report) = session
        .rotate(
            now + time::Duration::minutes(11),
            &auth0_rotate::plan::PlanOptions::default(),
        )
        .await
        .unwrap();
    assert!(
        report.to_text().contains("resuming"),
        "{}",
        report.to_text()
    );
    let keys = vec![initial, read(&emu.emulator)];

    assert_clean(&journal, &keys, "journal");
    for git_ref in ["main", branch] {
        for path in [
            ".github/auth0-rotation.yml",
            ".github/auth0-rotation.ledger/demo/billing-worker.yml",
            ".github/auth0-rotation.ledger/demo/billing-worker.pending.yml",
        ] {
            if let Some(bytes) = emu.emulator.github.file(OWNER, REPO, git_ref, path) {
                assert_clean(
                    &String::from_utf8(bytes).unwrap(),
                    &keys,
                    &format!("{git_ref}:{path}"),
                );
            }
        }
    }
    for pull in emu.emulator.github.pulls(OWNER, REPO) {
        assert_clean(
            &format!("{}\n{}", pull.title, pull.body.unwrap_or_default()),
            &keys,
            "PR",
        );
    }
    for issue in emu.emulator.github.issues(OWNER, REPO) {
        assert_clean(&issue.body.unwrap_or_default(), &keys, "issue");
    }
    assert_clean(&report.to_text(), &keys, "report");
    let leftovers: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("auth0-rotate"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect();
    for text in leftovers {
        assert_clean(&text, &keys, "temp file");
    }
    emu.stop().await;
}
