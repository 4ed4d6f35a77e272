//! A plan of many entries on one tenant reads the tenant's client list
//! (paged) instead of each client: the plan is the same either way, a list
//! that fails falls back to reading the clients one by one, a client the
//! list does not show is read on its own, and the rotation and finalize
//! that follow work from what the list showed.

use std::fmt::Write;

use auth0_rotate::demo::{self, AUDIENCE, DOMAIN};
use auth0_rotate::emulator::faults::{FaultKind, FaultRule, Service};
use auth0_rotate::emulator::{Emulator, LoggedRequest, RunningEmulator};
use auth0_rotate::keys::{Alg, KeySize, PrivateKey};
use auth0_rotate::plan::{Decision, PlanOptions};
use auth0_rotate::session::{Session, LIST_FROM};

/// Entries with a client each, one more than the listing threshold.
const WORKERS: usize = LIST_FROM + 2;
/// An entry whose client Auth0 does not have.
const MISSING: &str = "listingMissingClient00000000000";

fn client(i: usize) -> String {
    format!("listingWorker{i:02}0000000000000000000")
}

/// The demo world plus `WORKERS` clients with a credential each, and a
/// manifest naming them and one client that does not exist.
async fn world() -> (RunningEmulator, Session, tempfile::TempDir) {
    let emu = Emulator::new().start_local().await.unwrap();
    demo::seed(&emu).await.unwrap();
    let a = &emu.emulator.auth0;
    let key = PrivateKey::generate(KeySize::Rsa2048).unwrap();
    let mut m = format!(
        "version: 1\ntenants:\n  demo:\n    domain: {DOMAIN}\ndefaults:\n  rotate_every: 90d\ncredentials:\n"
    );
    for i in 0..WORKERS {
        let id = client(i);
        a.create_client(DOMAIN, &id, &format!("worker {i}"), None)
            .unwrap();
        a.grant(DOMAIN, &id, AUDIENCE, &["read:invoices"]).unwrap();
        a.add_credential(
            DOMAIN,
            &id,
            "by hand",
            key.public_key_pem(),
            Alg::RS256,
            true,
        )
        .unwrap();
        let _ = writeln!(
            m,
            "  - {{name: w{i:02}, tenant: demo, client_id: {id}, verify: {{audience: \"{AUDIENCE}\"}}, sinks: [{{kind: repo_secret, name: W{i:02}_KEY}}]}}"
        );
    }
    let _ = writeln!(
        m,
        "  - {{name: gone, tenant: demo, client_id: {MISSING}, sinks: [{{kind: repo_secret, name: GONE_KEY}}]}}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.yml");
    std::fs::write(&path, m).unwrap();
    let session = Session::open(&demo::settings(&emu, path)).await.unwrap();
    (emu, session, dir)
}

/// Management API requests since `from`, by method and what they read.
#[derive(Debug, Default, PartialEq)]
struct Reads {
    list: usize,
    client: usize,
    credentials: usize,
    other: usize,
}

fn reads(log: &[LoggedRequest]) -> Reads {
    let mut r = Reads::default();
    for q in log.iter().filter(|q| q.path.contains("/api/v2/")) {
        let tail = q.path.split("/api/v2").nth(1).unwrap_or_default();
        let parts: Vec<&str> = tail.trim_start_matches('/').split('/').collect();
        match (q.method.as_str(), parts.as_slice()) {
            ("GET", ["clients"]) => r.list += 1,
            ("GET", ["clients", _]) => r.client += 1,
            ("GET", ["clients", _, "credentials"]) => r.credentials += 1,
            _ => r.other += 1,
        }
    }
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_of_many_entries_lists_the_clients_and_plans_the_same() {
    let (emu, session, _dir) = world().await;
    let now = auth0_rotate::clock::wall();
    let before = emu.emulator.requests().len();
    let listed = session.plan(now, &PlanOptions::default()).await.unwrap();
    let r = reads(&emu.emulator.requests()[before..]);
    assert_eq!(
        r,
        Reads {
            list: 1,
            // The client the list does not show is read on its own.
            client: 1,
            credentials: WORKERS,
            other: 0,
        },
        "one page lists every client"
    );
    // The same plan when the list fails: every client read on its own.
    emu.emulator.faults().add(
        FaultRule::new(FaultKind::ServerError { status: 500 })
            .service(Service::Auth0)
            .method("GET")
            .path("/api/v2/client*")
            .always(),
    );
    let before = emu.emulator.requests().len();
    let one_by_one = session.plan(now, &PlanOptions::default()).await.unwrap();
    let r = reads(&emu.emulator.requests()[before..]);
    assert!(r.list >= 1, "{r:?}");
    assert_eq!(r.client, WORKERS + 1, "{r:?}");
    assert_eq!(listed.to_json(), one_by_one.to_json());
    emu.emulator.faults().clear();
    // Every worker is adopted; the missing client is reported.
    let decisions: Vec<&Decision> = listed.entries.iter().map(|e| &e.decision).collect();
    assert_eq!(decisions.len(), WORKERS + 1);
    assert!(
        !matches!(decisions[WORKERS], Decision::Rotate { .. }),
        "{:?}",
        decisions[WORKERS]
    );
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_planned_from_the_list_rotate_and_finalize() {
    let (emu, session, _dir) = world().await;
    let now = auth0_rotate::clock::wall();
    // Every worker adopts its hand-made credential by rotating it.
    let before = emu.emulator.requests().len();
    let (plan, report) = session.rotate(now, &PlanOptions::default()).await.unwrap();
    let rotated = plan
        .entries
        .iter()
        .filter(|e| matches!(e.decision, Decision::Rotate { .. }))
        .count();
    assert_eq!(rotated, WORKERS, "{}", plan.to_text());
    let r = reads(&emu.emulator.requests()[before..]);
    assert_eq!(r.list, 1, "{r:?}");
    assert_eq!(
        r.client,
        1 + WORKERS,
        "the missing client, and each attach's re-read: {r:?}"
    );
    let a = &emu.emulator.auth0;
    for i in 0..WORKERS {
        let c = a.client(DOMAIN, &client(i)).unwrap();
        assert_eq!(c.attached.len(), 2, "worker {i}: {report:?}");
    }
    // Merged, the PRs finalize: each worker keeps only its new credential.
    for p in emu.emulator.github.pulls(demo::OWNER, demo::REPO) {
        emu.emulator
            .github
            .merge_pull(demo::OWNER, demo::REPO, p.number)
            .unwrap();
    }
    session.finalize(now).await.unwrap();
    for i in 0..WORKERS {
        let c = a.client(DOMAIN, &client(i)).unwrap();
        assert_eq!(c.attached.len(), 1, "worker {i} after finalize");
        assert_eq!(c.credentials.len(), 1, "worker {i} after finalize");
    }
    emu.stop().await;
}
