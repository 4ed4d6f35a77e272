//! The HTTP fault matrix: for every request index k of a full rotate and of
//! a full finalize (Auth0 and GitHub requests alike, in order), and for every
//! fault kind the emulator injects — 500, 429 with reset headers, timeout,
//! connection reset, and crash after apply — fault that request, then rerun
//! without faults. I1–I4 are checked after every run, and the end state must
//! equal the fault-free one.

use crate::support;
use support::world::{assert_end_state, invariants, merge, world_with, World};

use std::time::Duration as StdDuration;

use auth0_rotate::apply::Outcome;
use auth0_rotate::emulator::faults::{FaultKind, FaultRule};
use auth0_rotate::plan::PlanOptions;
use time::{Duration, OffsetDateTime};

/// The clients' deadline in the fault runs. Long enough that a loaded
/// machine (the other tests of the binary run alongside) does not time out
/// a request the emulator answers; the `timeout` fault holds past it.
const TIMEOUT: StdDuration = StdDuration::from_millis(1500);

fn kinds() -> Vec<(&'static str, FaultKind)> {
    vec![
        ("500", FaultKind::ServerError { status: 500 }),
        (
            "429",
            FaultKind::RateLimited {
                reset_secs: 0,
                github_headers: Default::default(),
                status: None,
            },
        ),
        (
            "timeout",
            FaultKind::Timeout {
                hold_ms: 2500,
                apply: false,
            },
        ),
        ("reset", FaultKind::ConnectionReset),
        ("crash after apply", FaultKind::CrashAfterApply),
    ]
}

fn requests(w: &World) -> usize {
    w.emu.emulator.requests().len()
}

async fn rotate(w: &World, now: OffsetDateTime) -> Outcome {
    match w.session.rotate(now, &PlanOptions::default()).await {
        Ok((_, r)) => r.entries[0].outcome.clone(),
        Err(e) => Outcome::Failed {
            error: e.to_string(),
        },
    }
}

async fn finalize(w: &World, now: OffsetDateTime) -> Outcome {
    match w.session.finalize(now).await {
        Ok((_, r)) => r.entries[0].outcome.clone(),
        Err(e) => Outcome::Failed {
            error: e.to_string(),
        },
    }
}

fn rotated(o: &Outcome) -> bool {
    matches!(o, Outcome::Rotated { .. } | Outcome::Refreshed { .. })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_of_rotate_and_finalize_under_every_fault_converges() {
    // Request counts of the fault-free stages (observation included), with
    // the default deadline: under load a 400 ms deadline can expire and add
    // a retry, which would count a request no fault run makes.
    let w = world_with(None).await;
    let now = OffsetDateTime::now_utc();
    let before = requests(&w);
    assert!(rotated(&rotate(&w, now).await));
    let rotate_requests = requests(&w) - before;
    merge(&w).await;
    let before = requests(&w);
    assert!(matches!(finalize(&w, now).await, Outcome::Finalized { .. }));
    let finalize_requests = requests(&w) - before;
    assert_end_state(&w, "fault-free");
    w.emu.stop().await;

    let mut cases = 0;
    let mut fired = 0;
    for (stage, n) in [("rotate", rotate_requests), ("finalize", finalize_requests)] {
        for k in 1..=n as u64 {
            for (name, kind) in kinds() {
                let ctx = format!("{stage}: {name} on request {k}");
                let w = world_with(Some(TIMEOUT)).await;
                let mut now = OffsetDateTime::now_utc();
                if stage == "finalize" {
                    assert!(rotated(&rotate(&w, now).await), "{ctx}");
                    merge(&w).await;
                }
                let faults = w.emu.emulator.faults();
                faults.add(FaultRule::new(kind).nth(k));
                let first = if stage == "rotate" {
                    rotate(&w, now).await
                } else {
                    finalize(&w, now).await
                };
                fired += faults.total_fired();
                faults.clear();
                invariants(&w, stage == "finalize", &format!("{ctx} ({first:?})"));
                if stage == "rotate" {
                    let mut done = rotated(&first);
                    for attempt in 0..3 {
                        if done {
                            break;
                        }
                        now += Duration::minutes(11);
                        let o = rotate(&w, now).await;
                        invariants(&w, false, &format!("{ctx}, rerun {attempt}"));
                        assert!(
                            !matches!(o, Outcome::NeedsAttention { .. }),
                            "{ctx}: rerun needs a human: {o:?}"
                        );
                        done = rotated(&o);
                    }
                    assert!(done, "{ctx}: rotate did not converge");
                    merge(&w).await;
                    invariants(&w, true, &format!("{ctx}, merged"));
                }
                let o = finalize(&w, now).await;
                assert!(
                    matches!(o, Outcome::Finalized { .. } | Outcome::Unchanged { .. }),
                    "{ctx}: {o:?}"
                );
                assert_end_state(&w, &ctx);
                let plan = w.session.plan(now, &PlanOptions::default()).await.unwrap();
                assert_eq!(plan.exit_code(), 0, "{ctx}: {}", plan.to_text());
                w.emu.stop().await;
                cases += 1;
            }
        }
    }
    println!(
        "fault matrix: ({rotate_requests} rotate + {finalize_requests} finalize requests) x {} fault kinds = {cases} cases, {cases} passed ({fired} faults fired)",
        kinds().len()
    );
    assert_eq!(cases, (rotate_requests + finalize_requests) * kinds().len());
    assert_eq!(fired, cases as u64, "every case injected its fault");
}
