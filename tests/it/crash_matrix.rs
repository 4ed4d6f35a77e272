//! The crash matrix: for every call index k of a full rotate and a full
//! finalize, and for both crash kinds (the call never reaches the server /
//! the call is applied but its response is lost), crash there, then rerun
//! without faults until done. The guarantees are checked after every run:
//!
//! - I1 every key in a secret belongs to an attached, unexpired credential;
//! - I2 one or two credentials are attached, never zero, never three;
//! - I3 the old credential stays attached until the PR is merged;
//! - I4 reruns converge to the fault-free end state, with no orphan left.

use crate::support;
use support::crash::{Crash, CrashAuth0, CrashGitHub};
use support::world::{assert_end_state, invariants, merge, secret_kid, world, World};

use std::collections::BTreeMap;

use auth0_rotate::apply::{self, Context, Outcome, Report};
use auth0_rotate::demo::{self, CLIENT_ID, DOMAIN};
use auth0_rotate::emulator::Emulator;
use auth0_rotate::plan::PlanOptions;
use auth0_rotate::session::Session;
use time::{Duration, OffsetDateTime};

async fn rotate(w: &World, crash: Option<&Crash>, now: OffsetDateTime) -> Report {
    let plan = w.session.plan(now, &PlanOptions::default()).await.unwrap();
    match crash {
        None => {
            let ctx = Context {
                auth0: &w.session.auth0,
                github: &w.session.github,
                workspace: &w.session.workspace,
                journal: &w.session.journal,
                mtls_cname_api_key: None,
                now,
            };
            apply::rotate(&ctx, &w.session.specs, &plan).await
        }
        Some(c) => {
            let auth0: BTreeMap<_, _> = w
                .session
                .auth0
                .iter()
                .map(|(k, v)| (k.clone(), CrashAuth0 { inner: v, crash: c }))
                .collect();
            let github = CrashGitHub {
                inner: &w.session.github,
                crash: c,
            };
            let ctx = Context {
                auth0: &auth0,
                github: &github,
                workspace: &w.session.workspace,
                journal: &w.session.journal,
                mtls_cname_api_key: None,
                now,
            };
            apply::rotate(&ctx, &w.session.specs, &plan).await
        }
    }
}

async fn finalize(w: &World, crash: Option<&Crash>, now: OffsetDateTime) -> Report {
    let plan = w.session.plan(now, &PlanOptions::default()).await.unwrap();
    match crash {
        None => {
            let ctx = Context {
                auth0: &w.session.auth0,
                github: &w.session.github,
                workspace: &w.session.workspace,
                journal: &w.session.journal,
                mtls_cname_api_key: None,
                now,
            };
            apply::finalize(&ctx, &w.session.specs, &plan).await
        }
        Some(c) => {
            let auth0: BTreeMap<_, _> = w
                .session
                .auth0
                .iter()
                .map(|(k, v)| (k.clone(), CrashAuth0 { inner: v, crash: c }))
                .collect();
            let github = CrashGitHub {
                inner: &w.session.github,
                crash: c,
            };
            let ctx = Context {
                auth0: &auth0,
                github: &github,
                workspace: &w.session.workspace,
                journal: &w.session.journal,
                mtls_cname_api_key: None,
                now,
            };
            apply::finalize(&ctx, &w.session.specs, &plan).await
        }
    }
}

fn converged_rotation(r: &Report) -> bool {
    matches!(
        r.entries[0].outcome,
        Outcome::Rotated { .. } | Outcome::Refreshed { .. }
    )
}

/// Reruns rotate (each time past the journal's freshness window) until a PR is open.
async fn rotate_until_done(w: &World, mut now: OffsetDateTime, ctx: &str) -> OffsetDateTime {
    for attempt in 0..3 {
        now += Duration::minutes(11);
        let r = rotate(w, None, now).await;
        invariants(w, false, &format!("{ctx}, rerun {attempt}"));
        if converged_rotation(&r) {
            return now;
        }
        assert!(
            !matches!(r.entries[0].outcome, Outcome::NeedsAttention { .. }),
            "{ctx}: rerun {attempt} needs a human: {}",
            r.to_text()
        );
    }
    panic!("{ctx}: rotate did not converge in 3 reruns");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_crash_point_of_rotate_and_finalize_converges() {
    // Count the calls of a fault-free rotate and finalize.
    let w = world().await;
    let counter = Crash::never();
    let now = OffsetDateTime::now_utc();
    assert!(converged_rotation(&rotate(&w, Some(&counter), now).await));
    let rotate_calls = counter.calls();
    merge(&w).await;
    let counter = Crash::never();
    let r = finalize(&w, Some(&counter), now).await;
    assert!(
        matches!(r.entries[0].outcome, Outcome::Finalized { .. }),
        "{}",
        r.to_text()
    );
    let finalize_calls = counter.calls();
    assert_end_state(&w, "fault-free");
    w.emu.stop().await;

    let mut cases = 0;
    for (stage, calls) in [("rotate", rotate_calls), ("finalize", finalize_calls)] {
        for k in 0..calls {
            for apply_then_crash in [false, true] {
                let ctx = format!(
                    "{stage} crash at call {k} ({})",
                    if apply_then_crash {
                        "applied, response lost"
                    } else {
                        "not applied"
                    }
                );
                let w = world().await;
                let mut now = OffsetDateTime::now_utc();
                if stage == "rotate" {
                    let crash = Crash::new(k, apply_then_crash);
                    rotate(&w, Some(&crash), now).await;
                    assert!(crash.crashed(), "{ctx}: never reached");
                    invariants(&w, false, &ctx);
                    now = rotate_until_done(&w, now, &ctx).await;
                    merge(&w).await;
                    invariants(&w, true, &format!("{ctx}, merged"));
                    let r = finalize(&w, None, now).await;
                    assert!(
                        matches!(r.entries[0].outcome, Outcome::Finalized { .. }),
                        "{ctx}: {}",
                        r.to_text()
                    );
                } else {
                    assert!(converged_rotation(&rotate(&w, None, now).await));
                    merge(&w).await;
                    let crash = Crash::new(k, apply_then_crash);
                    finalize(&w, Some(&crash), now).await;
                    assert!(crash.crashed(), "{ctx}: never reached");
                    invariants(&w, true, &ctx);
                    let r = finalize(&w, None, now).await;
                    assert!(
                        matches!(
                            r.entries[0].outcome,
                            Outcome::Finalized { .. } | Outcome::Unchanged { .. }
                        ),
                        "{ctx}: {}",
                        r.to_text()
                    );
                }
                invariants(&w, true, &format!("{ctx}, finalized"));
                assert_end_state(&w, &ctx);
                let again = finalize(&w, None, now).await;
                assert!(
                    matches!(again.entries[0].outcome, Outcome::Unchanged { .. }),
                    "{ctx}: second finalize"
                );
                let plan = w.session.plan(now, &PlanOptions::default()).await.unwrap();
                assert_eq!(plan.exit_code(), 0, "{ctx}: {}", plan.to_text());
                w.emu.stop().await;
                cases += 1;
            }
        }
    }
    println!(
        "crash matrix: rotate {rotate_calls} calls + finalize {finalize_calls} calls, x 2 crash kinds = {cases} cases, {cases} passed"
    );
    assert_eq!(cases, 2 * (rotate_calls + finalize_calls));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_age_identity_an_interrupted_rotation_is_reported_not_guessed() {
    let emu = Emulator::new().start_local().await.unwrap();
    let seeded = demo::seed(&emu).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("m.yml");
    std::fs::write(&manifest, demo::MANIFEST).unwrap();
    let mut settings = demo::settings(&emu, manifest);
    // The crash is simulated in this (living) process: name no holder.
    settings.runner = auth0_rotate::journal::Holder::default();
    let session = Session::open(&settings).await.unwrap();
    let w = World {
        emu,
        session,
        seed_credential: seeded.initial_credential.clone(),
        _dir: dir,
    };
    let now = OffsetDateTime::now_utc();

    // Find the call that writes the secret, and crash right after it is applied:
    // the new key may now be in a sink, and this run's memory is gone.
    let probe = world().await;
    let counter = Crash::never();
    rotate(&probe, Some(&counter), now).await;
    probe.emu.stop().await;
    let mut k = None;
    for i in 0..counter.calls() {
        let w2 = world().await;
        let c = Crash::new(i, true);
        rotate(&w2, Some(&c), now).await;
        let changed = secret_kid(&w2.emu.emulator)
            != w2
                .emu
                .emulator
                .auth0
                .client(DOMAIN, CLIENT_ID)
                .unwrap()
                .credentials[0]
                .kid;
        w2.emu.stop().await;
        if changed {
            k = Some(i);
            break;
        }
    }
    let k = k.expect("some call writes the secret");
    let crash = Crash::new(k, true);
    rotate(&w, Some(&crash), now).await;
    invariants(&w, false, "crashed after the secret write");
    let before = w.emu.emulator.auth0.client(DOMAIN, CLIENT_ID).unwrap();
    assert_eq!(before.attached.len(), 2);

    let later = now + Duration::minutes(11);
    let plan = w
        .session
        .plan(later, &PlanOptions::default())
        .await
        .unwrap();
    let text = plan.to_text();
    assert!(text.contains("interrupted after attaching"), "{text}");
    assert!(text.contains("age identity"), "{text}");
    let r = rotate(&w, None, later).await;
    assert!(
        matches!(r.entries[0].outcome, Outcome::NeedsAttention { .. }),
        "{}",
        r.to_text()
    );
    assert_eq!(r.exit_code(), 1);
    assert_eq!(
        w.emu.emulator.auth0.client(DOMAIN, CLIENT_ID).unwrap(),
        before,
        "nothing deleted or attached"
    );
    invariants(&w, false, "after the refusal");
    w.emu.stop().await;
}
