//! Issue 8, one named test per case: the ways the guarantees broke under
//! compound faults, concurrent runs and hostile repository content.

use crate::support;

use std::process::Command;
use std::time::Duration as StdDuration;

use auth0_rotate::apply::Outcome;
use auth0_rotate::demo::{self, CLIENT_ID, DOMAIN, OWNER, REPO, SECRET};
use auth0_rotate::emulator::faults::{FaultKind, FaultRule, Service};
use auth0_rotate::emulator::{Emulator, RunningEmulator};
use auth0_rotate::ledger::LedgerEntry;
use auth0_rotate::plan::{Decision, PlanOptions};
use support::world::{invariants, merge, secret_kid, world};
use time::OffsetDateTime;

const BRANCH: &str = "auth0-rotate/demo/billing-worker";
const LEDGER: &str = ".github/auth0-rotation.ledger/demo/billing-worker.yml";
const JOURNAL: &str = ".github/auth0-rotation.ledger/demo/billing-worker.pending.yml";

fn ledger_on(emu: &RunningEmulator, git_ref: &str) -> LedgerEntry {
    let text = emu
        .emulator
        .github
        .file(OWNER, REPO, git_ref, LEDGER)
        .unwrap();
    LedgerEntry::parse(LEDGER, &String::from_utf8(text).unwrap()).unwrap()
}

fn open_pull_body(emu: &RunningEmulator) -> String {
    emu.emulator
        .github
        .pulls(OWNER, REPO)
        .into_iter()
        .find(|p| p.state == "open")
        .and_then(|p| p.body)
        .expect("an open PR")
}

/// Runs the CLI against the emulator; returns (exit code, stdout, stderr).
async fn cli(
    emu: &RunningEmulator,
    manifest: &std::path::Path,
    args: &[&str],
) -> (i32, String, String) {
    let mut cmd = command(emu, manifest, args);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The CLI command for `args` against the emulator.
fn command(emu: &RunningEmulator, manifest: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_auth0-rotate"));
    cmd.args(args)
        .arg("--manifest")
        .arg(manifest)
        .arg("--auth0-base-url")
        .arg(format!("{}={}", demo::TENANT, emu.auth0_base_url(DOMAIN)))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AUTH0_ROTATE_LOG", "info")
        .env("GITHUB_REPOSITORY", format!("{OWNER}/{REPO}"))
        .env("GITHUB_API_URL", emu.github_api_url())
        .env("GITHUB_TOKEN", demo::GITHUB_TOKEN)
        .env("AUTH0_CLIENT_ID", demo::MGMT_CLIENT_ID)
        .env("AUTH0_CLIENT_SECRET", demo::MGMT_SECRET);
    cmd
}

/// One `rotate` of the world's session at `now`.
async fn rotate(w: &support::world::World, now: OffsetDateTime) -> auth0_rotate::apply::Report {
    w.session
        .rotate(now, &PlanOptions::default())
        .await
        .unwrap()
        .1
}

fn manifest_file(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("m.yml");
    std::fs::write(&path, demo::MANIFEST).unwrap();
    path
}

/// Case 1: the secret PUT is applied but its response is lost, and the
/// retries get 502. The run must not roll back the credential the secret now
/// holds; the next run (at once, not BUSY) finishes the rotation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case1_an_ambiguous_sink_write_never_rolls_back_the_new_credential() {
    let w = world().await;
    let now = OffsetDateTime::now_utc();
    let faults = w.emu.emulator.faults();
    let secret_put = "/repos/*/*/actions/secrets/*";
    faults.add(
        FaultRule::new(FaultKind::CrashAfterApply)
            .service(Service::GitHub)
            .method("PUT")
            .path(secret_put)
            .nth(1),
    );
    faults.add(
        FaultRule::new(FaultKind::ServerError { status: 502 })
            .service(Service::GitHub)
            .method("PUT")
            .path(secret_put)
            .always(),
    );
    let report = rotate(&w, now).await;
    let Outcome::Failed { error } = &report.entries[0].outcome else {
        panic!("{}", report.to_text());
    };
    assert!(error.contains("is kept"), "{error}");
    // The secret holds the new key (the lost write happened) and its
    // credential is attached next to the old one: consumers keep working.
    invariants(&w, false, "after the ambiguous write");
    let client = w.emu.emulator.auth0.client(DOMAIN, CLIENT_ID).unwrap();
    assert_eq!(client.attached.len(), 2, "nothing rolled back: {client:?}");
    assert!(client
        .attached_kids()
        .contains(&secret_kid(&w.emu.emulator)));

    // The next run, right away, is not BUSY: it resumes and opens the PR.
    faults.clear();
    let plan = w.session.plan(now, &PlanOptions::default()).await.unwrap();
    assert!(
        matches!(plan.entries[0].decision, Decision::Resume { .. }),
        "{}",
        plan.to_text()
    );
    let report = rotate(&w, now).await;
    assert!(
        matches!(report.entries[0].outcome, Outcome::Rotated { .. }),
        "{}",
        report.to_text()
    );
    invariants(&w, false, "after the resume");
    w.emu.stop().await;
}

/// Case 2: someone with contents:write swaps `current` and `retiring` on the
/// rotation branch. A scheduled run does not rewrite the PR; merging it
/// does not retire the live credential.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case2_a_swapped_ledger_on_the_bot_branch_never_deletes_the_live_key() {
    let w = world().await;
    let now = OffsetDateTime::now_utc();
    let r = rotate(&w, now).await;
    assert!(matches!(r.entries[0].outcome, Outcome::Rotated { .. }));
    let honest = ledger_on(&w.emu, BRANCH);
    let mut swapped = honest.clone();
    let old = swapped.retiring[0].clone();
    swapped.retiring[0].credential_id = honest.current.credential_id.clone();
    swapped.retiring[0].kid = honest.current.kid.clone();
    swapped.current.credential_id = old.credential_id.clone();
    swapped.current.kid = old.kid.clone();
    w.emu
        .emulator
        .github
        .commit_files(
            OWNER,
            REPO,
            BRANCH,
            "fix ledger",
            &[(LEDGER, Some(&swapped.render()))],
        )
        .unwrap();
    let body_before = open_pull_body(&w.emu);

    // A scheduled run before the merge: refuses to adopt the edited branch.
    let r = rotate(&w, now).await;
    match &r.entries[0].outcome {
        Outcome::NeedsAttention { reason } => {
            assert!(reason.contains("cannot be trusted"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(r.exit_code(), 1);
    assert_eq!(
        open_pull_body(&w.emu),
        body_before,
        "the PR text was not rewritten"
    );

    // Merged anyway: finalize refuses, nothing is deleted.
    merge(&w).await;
    let before = w.emu.emulator.auth0.client(DOMAIN, CLIENT_ID).unwrap();
    let (_, r) = w.session.finalize(now).await.unwrap();
    match &r.entries[0].outcome {
        Outcome::NeedsAttention { reason } => {
            assert!(reason.contains("nothing was deleted"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(r.exit_code(), 1);
    assert_eq!(
        w.emu.emulator.auth0.client(DOMAIN, CLIENT_ID).unwrap(),
        before
    );
    invariants(&w, true, "after the refused finalize");
    w.emu.stop().await;
}

/// Case 2, PRs the tool did not write: a rotation PR whose branch gained
/// another file is not refreshed (the tool does not vouch for it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case2_a_pull_request_changing_more_than_its_ledger_is_not_adopted() {
    let w = world().await;
    let now = OffsetDateTime::now_utc();
    let r = rotate(&w, now).await;
    assert!(matches!(r.entries[0].outcome, Outcome::Rotated { .. }));
    w.emu
        .emulator
        .github
        .commit_files(
            OWNER,
            REPO,
            BRANCH,
            "ci",
            &[(".github/workflows/deploy.yml", Some("on: push\n"))],
        )
        .unwrap();
    let body_before = open_pull_body(&w.emu);
    let r = rotate(&w, now).await;
    match &r.entries[0].outcome {
        Outcome::NeedsAttention { reason } => {
            assert!(reason.contains("deploy.yml"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        open_pull_body(&w.emu),
        body_before,
        "the PR text was not rewritten"
    );
    invariants(&w, false, "after the refusal");
    w.emu.stop().await;
}

/// True when the runner would execute `line` as a workflow command.
fn is_command(line: &str) -> bool {
    auth0_rotate::text::starts_command(line)
}

/// Case 3: a ledger value holding a newline and `::stop-commands::` never
/// reaches stdout or stderr as a command, and masks are not switched off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case3_repository_text_never_becomes_a_workflow_command() {
    let emu = Emulator::new().start_local().await.unwrap();
    demo::seed(&emu).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let manifest = manifest_file(&dir);
    let hostile = "version: 1\ntenant: demo\nentry: billing-worker\nclient_id: x\ncurrent:\n  \
        credential_id: \"cred_1\\n::stop-commands::zzz\"\n  kid: k\n  alg: RS256\n  \
        created_at: 2026-01-01T00:00:00Z\n";
    emu.emulator
        .github
        .commit_files(OWNER, REPO, "main", "ledger", &[(LEDGER, Some(hostile))])
        .unwrap();
    // An Auth0 credential name is printed too (as a leftover).
    let other =
        auth0_rotate::keys::PrivateKey::generate(auth0_rotate::keys::KeySize::Rsa2048).unwrap();
    emu.emulator
        .auth0
        .add_credential(
            DOMAIN,
            CLIENT_ID,
            "left\n::stop-commands::yyy",
            other.public_key_pem(),
            auth0_rotate::keys::Alg::RS256,
            false,
        )
        .unwrap();
    for args in [
        ["plan"].as_slice(),
        ["rotate"].as_slice(),
        ["finalize"].as_slice(),
    ] {
        let (code, out, err) = cli(&emu, &manifest, args).await;
        assert_ne!(
            code, 0,
            "{args:?}: a corrupt ledger is an error\n{out}\n{err}"
        );
        for line in out.lines().chain(err.lines()) {
            assert!(
                !is_command(line),
                "{args:?} printed a command line: {line:?}"
            );
        }
        assert!(
            out.contains("stop-commands")
                || err.contains("stop-commands")
                || err.contains("not an identifier"),
            "{args:?}: the refusal names the field\n{out}\n{err}"
        );
    }
    emu.stop().await;
}

/// Case 4: N simultaneous `rotate` processes against an emulator with
/// latency: exactly one journals and registers a credential.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case4_exactly_one_of_eight_simultaneous_processes_rotates() {
    const N: usize = 8;
    for round in 0..3 {
        let emu = Emulator::new().start_local().await.unwrap();
        demo::seed(&emu).await.unwrap();
        emu.emulator
            .faults()
            .set_latency(StdDuration::from_millis(25));
        let dir = tempfile::tempdir().unwrap();
        let manifest = manifest_file(&dir);
        // Start every process first, then collect: they run at once. Half
        // start together; the others are staggered, so some plan before
        // the winner's claim and act after it.
        let mut children = Vec::new();
        for i in 0..N {
            if i >= N / 2 {
                tokio::time::sleep(StdDuration::from_millis(60)).await;
            }
            children.push(
                command(&emu, &manifest, &["rotate"])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap(),
            );
        }
        let results: Vec<(i32, String, String)> = tokio::task::spawn_blocking(move || {
            children
                .into_iter()
                .map(|c| {
                    let out = c.wait_with_output().unwrap();
                    (
                        out.status.code().unwrap_or(-1),
                        String::from_utf8_lossy(&out.stdout).into_owned(),
                        String::from_utf8_lossy(&out.stderr).into_owned(),
                    )
                })
                .collect()
        })
        .await
        .unwrap();
        let client = emu.emulator.auth0.client(DOMAIN, CLIENT_ID).unwrap();
        assert_eq!(
            client.credentials.len(),
            2,
            "round {round}: exactly one credential registered: {client:?}"
        );
        let rotated = results
            .iter()
            .filter(|(_, out, _)| out.contains("rotated: new kid"))
            .count();
        assert_eq!(rotated, 1, "round {round}: exactly one run rotates");
        let journal_commits = emu
            .emulator
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/credentials"))
            .count();
        assert_eq!(
            journal_commits, 1,
            "round {round}: one POST of a credential"
        );
        assert_eq!(emu.emulator.github.pulls(OWNER, REPO).len(), 1);
        emu.stop().await;
    }
}

/// Case 5: a run that failed definitely releases its journal, so the next
/// run proceeds at once; a journal from a finished workflow run is no lock;
/// an unconfirmed lock is never a silent exit 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case5_a_failed_run_does_not_block_its_entry() {
    let w = world().await;
    let now = OffsetDateTime::now_utc();
    // The attach is refused (a 4xx): the run fails after its journal.
    w.emu.emulator.faults().add(
        FaultRule::new(FaultKind::ServerError { status: 500 })
            .service(Service::Auth0)
            .method("PATCH")
            .path("/api/v2/clients/*")
            .always(),
    );
    let r = rotate(&w, now).await;
    assert!(
        matches!(r.entries[0].outcome, Outcome::Failed { .. }),
        "{}",
        r.to_text()
    );
    w.emu.emulator.faults().clear();
    let plan = w.session.plan(now, &PlanOptions::default()).await.unwrap();
    assert!(
        !matches!(plan.entries[0].decision, Decision::Busy { .. }),
        "{}",
        plan.to_text()
    );
    let r = rotate(&w, now).await;
    assert!(
        matches!(r.entries[0].outcome, Outcome::Rotated { .. }),
        "{}",
        r.to_text()
    );
    w.emu.stop().await;
}

/// Case 5: a journal held by a workflow run is a lock while the Actions API
/// says the run is in progress, and none once it completed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case5_a_lock_is_checked_through_the_actions_api() {
    let emu = Emulator::new().start_local().await.unwrap();
    demo::seed(&emu).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = demo::settings(&emu, manifest_file(&dir));
    settings.runner = auth0_rotate::journal::Holder {
        github_run_id: Some(77),
        host: None,
        pid: None,
    };
    let session = auth0_rotate::session::Session::open(&settings)
        .await
        .unwrap();
    let now = OffsetDateTime::now_utc();
    // Run 77 journals, then dies before attaching (the attach request drops).
    emu.emulator
        .github
        .set_workflow_run(OWNER, REPO, 77, "in_progress");
    emu.emulator.faults().add(
        FaultRule::new(FaultKind::ConnectionReset)
            .service(Service::Auth0)
            .method("PATCH")
            .path("/api/v2/clients/*")
            .always(),
    );
    let branch_before = emu.emulator.github.file(
        OWNER,
        REPO,
        BRANCH,
        ".github/auth0-rotation.ledger/demo/billing-worker.pending.yml",
    );
    assert!(branch_before.is_none());
    let _ = session.rotate(now, &PlanOptions::default()).await.unwrap();
    emu.emulator.faults().clear();
    // Simulate a crash: the journal is live again (remove `ended`).
    let path = ".github/auth0-rotation.ledger/demo/billing-worker.pending.yml";
    let text =
        String::from_utf8(emu.emulator.github.file(OWNER, REPO, BRANCH, path).unwrap()).unwrap();
    let live: String = text
        .lines()
        .take_while(|l| !l.starts_with("ended:"))
        .map(|l| format!("{l}\n"))
        .collect();
    emu.emulator
        .github
        .commit_files(OWNER, REPO, BRANCH, "crash", &[(path, Some(&live))])
        .unwrap();
    let plan = session.plan(now, &PlanOptions::default()).await.unwrap();
    assert!(
        matches!(
            plan.entries[0].decision,
            Decision::Busy {
                confirmed: true,
                ..
            }
        ),
        "{}",
        plan.to_text()
    );
    assert!(
        plan.to_text().contains("workflow run 77"),
        "{}",
        plan.to_text()
    );
    emu.emulator
        .github
        .set_workflow_run(OWNER, REPO, 77, "completed");
    let plan = session.plan(now, &PlanOptions::default()).await.unwrap();
    assert!(
        matches!(
            plan.entries[0].decision,
            Decision::Rotate { .. } | Decision::Resume { .. }
        ),
        "{}",
        plan.to_text()
    );
    emu.stop().await;
}

/// Journals are repository text too: anyone can age-encrypt a key of their
/// own to the tool's public recipient. A journal without the tool's tag is
/// never resumed, so a forged one cannot put a key its author knows into
/// the secrets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case5_a_forged_journal_is_never_resumed() {
    use auth0_rotate::journal::{Holder, Journal, JournalKeys};
    let w = world().await;
    let now = OffsetDateTime::now_utc();
    let recipient = w
        .session
        .journal
        .recipient()
        .expect("the world has an identity");
    let attacker =
        auth0_rotate::keys::PrivateKey::generate(auth0_rotate::keys::KeySize::Rsa2048).unwrap();
    // Encrypted to the tool's recipient only (as an outsider can).
    let outsider = JournalKeys::new(
        Some(&auth0_rotate::secret::SecretString::new({
            use age::secrecy::ExposeSecret;
            age::x25519::Identity::generate()
                .to_string()
                .expose_secret()
                .to_owned()
        })),
        &[recipient],
    )
    .unwrap();
    let forged = Journal {
        version: 1,
        tenant: "demo".into(),
        entry: "billing-worker".into(),
        client_id: CLIENT_ID.into(),
        kid: attacker.kid(),
        replaces: w.seed_credential.clone(),
        started_at: now - time::Duration::hours(1),
        encrypted_key: outsider.seal(&attacker).unwrap(),
        certificate: None,
        holder: Holder::default(),
        ended: None,
        mac: None,
    };
    // Even a tag from another identity does not make it authentic.
    let forged = outsider.sign(&forged);
    w.emu
        .emulator
        .github
        .commit_files(
            OWNER,
            REPO,
            BRANCH,
            "journal",
            &[(JOURNAL, Some(&forged.render()))],
        )
        .unwrap();
    let plan = w.session.plan(now, &PlanOptions::default()).await.unwrap();
    assert!(
        !matches!(plan.entries[0].decision, Decision::Resume { .. }),
        "{}",
        plan.to_text()
    );
    let _ = rotate(&w, now).await;
    assert_ne!(
        secret_kid(&w.emu.emulator),
        attacker.kid(),
        "the forged key reached the secret"
    );
    let client = w.emu.emulator.auth0.client(DOMAIN, CLIENT_ID).unwrap();
    assert!(
        !client.credentials.iter().any(|c| c.kid == attacker.kid()),
        "the forged key was registered in Auth0"
    );
    invariants(&w, false, "after the forged journal");
    w.emu.stop().await;
}

/// Case 6: a sink that cannot be written (an environment that does not
/// exist) is found before the first Auth0 write: nothing is registered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case6_every_sink_is_preflighted_before_the_first_auth0_write() {
    let emu = Emulator::new().start_local().await.unwrap();
    demo::seed(&emu).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("m.yml");
    let text = demo::MANIFEST.replace(
        "      - kind: variable\n",
        "      - kind: environment_secret\n        environment: no-such-env\n        name: OTHER_KEY\n      - kind: variable\n",
    );
    assert_ne!(
        text,
        demo::MANIFEST,
        "the demo manifest has the expected sink line"
    );
    std::fs::write(&manifest, &text).unwrap();
    let session = auth0_rotate::session::Session::open(&demo::settings(&emu, manifest))
        .await
        .unwrap();
    let before = emu.emulator.auth0.client(DOMAIN, CLIENT_ID).unwrap();
    let (_, r) = session
        .rotate(OffsetDateTime::now_utc(), &PlanOptions::default())
        .await
        .unwrap();
    match &r.entries[0].outcome {
        Outcome::Failed { error } => {
            assert!(error.contains("preflight"), "{error}");
            assert!(error.contains("no-such-env"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        emu.emulator.auth0.client(DOMAIN, CLIENT_ID).unwrap(),
        before
    );
    assert!(
        !emu.emulator.requests().iter().any(|r| r.method != "GET"
            && r.path.contains("/auth0/")
            && !r.path.ends_with("/oauth/token")),
        "no Auth0 write"
    );
    emu.stop().await;
}

/// Case 7: one attached and one unattached leftover: the plan names the
/// leftover instead of failing on the POST every run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case7_an_unattached_leftover_is_planned() {
    let w = world().await;
    let other =
        auth0_rotate::keys::PrivateKey::generate(auth0_rotate::keys::KeySize::Rsa2048).unwrap();
    let left = w
        .emu
        .emulator
        .auth0
        .add_credential(
            DOMAIN,
            CLIENT_ID,
            "leftover",
            other.public_key_pem(),
            auth0_rotate::keys::Alg::RS256,
            false,
        )
        .unwrap();
    let plan = w
        .session
        .plan(OffsetDateTime::now_utc(), &PlanOptions::default())
        .await
        .unwrap();
    assert!(plan.to_text().contains(&left.id), "{}", plan.to_text());
    assert!(
        plan.to_text().contains("not attached"),
        "{}",
        plan.to_text()
    );
    let (_, r) = w
        .session
        .rotate(OffsetDateTime::now_utc(), &PlanOptions::default())
        .await
        .unwrap();
    assert!(matches!(
        r.entries[0].outcome,
        Outcome::NeedsAttention { .. }
    ));
    assert_eq!(r.exit_code(), 1);
    w.emu.stop().await;
}

/// Case 8: a server that accepts and then drips bytes cannot hold a run:
/// the request times out after its deadline, naming the host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case8_a_dripping_server_times_out_with_the_host_named() {
    let emu = Emulator::new().start_local().await.unwrap();
    demo::seed(&emu).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let manifest = manifest_file(&dir);
    for (service, path) in [
        (Service::GitHub, "/repos"),
        (Service::Auth0, "/api/v2/clients"),
    ] {
        emu.emulator.faults().clear();
        emu.emulator.faults().add(
            FaultRule::new(FaultKind::Drip { interval_ms: 200 })
                .service(service)
                .method("GET")
                .path(path)
                .always(),
        );
        let started = std::time::Instant::now();
        let (code, out, err) = cli(&emu, &manifest, &["plan", "--http-timeout", "2"]).await;
        let took = started.elapsed();
        assert_eq!(code, 1, "{service:?}: {out}\n{err}");
        let text = format!("{out}{err}");
        assert!(
            text.contains("timed out after 2 s talking to http://127.0.0.1"),
            "{service:?}: {text}"
        );
        assert!(
            took < StdDuration::from_secs(30),
            "{service:?}: held for {took:?}"
        );
    }
    emu.stop().await;
}

/// Case 9: exit codes. A usage error is not 2; a plan that cannot read
/// Auth0 is not 0; `--force` naming an unknown entry is an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case9_exit_codes_mean_what_they_say() {
    let emu = Emulator::new().start_local().await.unwrap();
    demo::seed(&emu).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let manifest = manifest_file(&dir);
    let (code, _, _) = cli(&emu, &manifest, &["plan", "--no-such-flag"]).await;
    assert_eq!(code, 1, "usage error");
    let (code, out, err) = cli(&emu, &manifest, &["plan", "--force", "nope"]).await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("nope"), "{err}");
    let (code, _, _) = cli(&emu, &manifest, &["rotate", "--force", "nope"]).await;
    assert_eq!(code, 1);
    emu.emulator.faults().add(
        FaultRule::new(FaultKind::ServerError { status: 503 })
            .service(Service::Auth0)
            .always(),
    );
    let (code, out, err) = cli(&emu, &manifest, &["plan"]).await;
    assert_eq!(
        code, 1,
        "a plan that could not read Auth0 fails\n{out}\n{err}"
    );
    emu.emulator.faults().clear();
    let (code, out, _) = cli(&emu, &manifest, &["plan"]).await;
    assert_eq!(code, 2, "changes pending\n{out}");
    emu.stop().await;
}

/// The secret name the demo writes, for readers of the tests above.
#[test]
fn the_demo_writes_one_secret() {
    assert_eq!(SECRET, "BILLING_AUTH0_KEY");
}
