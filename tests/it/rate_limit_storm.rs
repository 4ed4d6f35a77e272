//! A 429 storm: every other Auth0 request (Management API and token
//! endpoint alike) is answered 429 with Auth0's reset headers. A 12-entry
//! rotation still completes, creates exactly one credential per client, and
//! never retries before the reset it was given.

use std::fmt::Write;
use std::time::Instant;

use auth0_rotate::apply::Outcome;
use auth0_rotate::demo::{self, AUDIENCE, DOMAIN, OWNER, REPO};
use auth0_rotate::emulator::faults::{FaultKind, FaultRule, Service};
use auth0_rotate::emulator::Emulator;
use auth0_rotate::keys::{Alg, KeySize, PrivateKey};
use auth0_rotate::plan::PlanOptions;
use auth0_rotate::session::Session;
use time::OffsetDateTime;

const ENTRIES: usize = 12;

fn client(i: usize) -> String {
    format!("stormClient{i:02}xxxxxxxxxxxxxxxxxxx")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_12_entry_rotation_survives_a_429_storm_without_duplicates() {
    let emu = Emulator::new().start_local().await.unwrap();
    demo::seed(&emu).await.unwrap();
    let a = &emu.emulator.auth0;
    let mut manifest = String::from(
        "version: 1\ntenants:\n  demo:\n    domain: acme-demo.eu.auth0.com\ndefaults:\n  rotate_every: 90d\ncredentials:\n",
    );
    for i in 0..ENTRIES {
        a.create_client(DOMAIN, &client(i), &format!("storm {i}"), None)
            .unwrap();
        a.grant(DOMAIN, &client(i), AUDIENCE, &["read:invoices"])
            .unwrap();
        let key = PrivateKey::generate(KeySize::Rsa2048).unwrap();
        a.add_credential(
            DOMAIN,
            &client(i),
            "by hand",
            key.public_key_pem(),
            Alg::RS256,
            true,
        )
        .unwrap();
        let _ = write!(
            manifest,
            "  - name: worker-{i:02}\n    tenant: demo\n    client_id: {}\n    verify:\n      audience: {AUDIENCE}\n    sinks:\n      - kind: repo_secret\n        name: WORKER_{i:02}_KEY\n",
            client(i)
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.yml");
    std::fs::write(&path, &manifest).unwrap();
    // One entry at a time: the timing bounds below reason about one flow of
    // requests waiting out each reset (concurrent entries overlap their
    // waits; `a_50_entry_rotation_stays_within_the_rate_limit` runs those).
    let mut settings = demo::settings(&emu, path);
    settings.concurrency = 1;
    let session = Session::open(&settings).await.unwrap();

    emu.emulator.faults().add(
        FaultRule::new(FaultKind::RateLimited {
            reset_secs: 1,
            github_headers: Default::default(),
            status: None,
        })
        .service(Service::Auth0)
        .every(2),
    );
    let start = Instant::now();
    let (_, report) = session
        .rotate(OffsetDateTime::now_utc(), &PlanOptions::default())
        .await
        .unwrap();
    let took = start.elapsed();
    let storms = emu.emulator.faults().total_fired();

    for e in &report.entries {
        assert!(
            matches!(e.outcome, Outcome::Rotated { verified: true, .. }),
            "{}: {}",
            e.entry,
            report.to_text()
        );
    }
    for i in 0..ENTRIES {
        let c = a.client(DOMAIN, &client(i)).unwrap();
        assert_eq!(
            c.credentials.len(),
            2,
            "client {i}: exactly one new credential: {c:?}"
        );
        assert_eq!(c.attached.len(), 2);
    }
    assert_eq!(emu.emulator.github.pulls(OWNER, REPO).len(), ENTRIES);
    // Each 429 said "reset in ≤ 1 s": the run waited them out rather than
    // hammering (about half a second per 429 on average) and took no
    // longer than the windows it was given, plus the work itself.
    // Every other request of about six per entry, and the retries.
    assert!(storms >= 5 * ENTRIES as u64, "only {storms} 429s");
    assert!(
        took.as_secs_f64() >= storms as f64 * 0.3,
        "{storms} 429s in {took:?}: retried before the reset"
    );
    // The work itself (keys, 12 PRs) takes seconds; a loaded machine
    // stretches it, so this bound only catches waits far past the resets.
    assert!(
        took.as_secs_f64() <= storms as f64 * 1.1 + 90.0,
        "{storms} 429s took {took:?}"
    );
    println!("429 storm: {ENTRIES} entries rotated, {storms} requests answered 429, {took:.1?}");
    emu.stop().await;
}

/// Fleet scale: 50 entries rotated 8 at a time against the emulator's Auth0
/// rate limit (a bucket of 10, refilled at 25 per second). The client paces
/// itself by the `x-ratelimit-*` headers: no 429 after the first second (the
/// first answers teach it the bucket), every entry rotated exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_50_entry_rotation_stays_within_the_rate_limit() {
    let emu = Emulator::new().start_local().await.unwrap();
    demo::seed(&emu).await.unwrap();
    let a = &emu.emulator.auth0;
    let key = PrivateKey::generate(KeySize::Rsa2048).unwrap();
    let mut manifest = String::from(
        "version: 1\ntenants:\n  demo:\n    domain: acme-demo.eu.auth0.com\ndefaults:\n  rotate_every: 90d\ncredentials:\n",
    );
    let id = |i: usize| format!("paceClient{i:02}xxxxxxxxxxxxxxxxxxxx");
    for i in 0..50 {
        a.create_client(DOMAIN, &id(i), &format!("pace {i}"), None)
            .unwrap();
        a.grant(DOMAIN, &id(i), AUDIENCE, &["read:invoices"])
            .unwrap();
        a.add_credential(
            DOMAIN,
            &id(i),
            "by hand",
            key.public_key_pem(),
            Alg::RS256,
            true,
        )
        .unwrap();
        let _ = write!(
            manifest,
            "  - name: worker-{i:02}\n    tenant: demo\n    client_id: {}\n    verify:\n      audience: {AUDIENCE}\n    sinks:\n      - kind: repo_secret\n        name: PACE_{i:02}_KEY\n",
            id(i)
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.yml");
    std::fs::write(&path, &manifest).unwrap();
    let mut settings = demo::settings(&emu, path);
    settings.concurrency = 8;
    let session = Session::open(&settings).await.unwrap();
    emu.emulator
        .rate_limits()
        .set_auth0(Some(auth0_rotate::emulator::ratelimit::Auth0RateLimit {
            burst: 10,
            per_second: 25.0,
        }));
    let before = emu.emulator.requests().len();
    let start = std::time::Instant::now();
    let (_, report) = session
        .rotate(OffsetDateTime::now_utc(), &PlanOptions::default())
        .await
        .unwrap();
    assert_eq!(report.exit_code(), 0, "{}", report.to_text());
    for i in 0..50 {
        let c = a.client(DOMAIN, &id(i)).unwrap();
        assert_eq!(
            c.credentials.len(),
            2,
            "client {i}: exactly one new credential"
        );
    }
    assert_eq!(emu.emulator.github.pulls(OWNER, REPO).len(), 50);
    let log = emu.emulator.requests();
    let late: Vec<String> = log[before..]
        .iter()
        .filter(|r| r.status == 429)
        .filter(|r| {
            r.received
                .is_some_and(|t| t.duration_since(start).as_secs_f64() > 1.0)
        })
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(late.is_empty(), "429s after the first second: {late:?}");
}
