//! The pacer against a simulated Auth0 token bucket, in virtual time: a
//! fleet of workers asks the [`Model`] before each request, the bucket
//! executes or refuses it half a latency later, and the answer reaches the
//! model after the other half. Deterministic: nothing here sleeps.

use super::*;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Auth0's side: a token bucket that refills continuously, reports
/// `remaining` rounded down and the reset as the next whole second after
/// the next token (epoch seconds, as the emulator and Auth0 send them).
struct Bucket {
    burst: f64,
    rate: f64,
    tokens: f64,
    last: Duration,
}

impl Bucket {
    fn new(burst: u64, rate: f64) -> Self {
        Self {
            burst: burst as f64,
            rate,
            tokens: burst as f64,
            last: Duration::ZERO,
        }
    }

    fn execute(&mut self, t: Duration) -> Answer {
        self.tokens = (self.tokens + (t - self.last).as_secs_f64() * self.rate).min(self.burst);
        self.last = t;
        let executed = self.tokens >= 1.0;
        if executed {
            self.tokens -= 1.0;
        }
        let next_in = if executed {
            (1.0 - self.tokens.fract()) / self.rate
        } else {
            (1.0 - self.tokens) / self.rate
        };
        let reset_at = (t.as_secs_f64() + next_in).ceil();
        Answer {
            limit: self.burst as u64,
            remaining: self.tokens.floor() as u64,
            reset: Duration::from_secs_f64(reset_at - t.as_secs_f64()),
            executed,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Ask,
    Arrive,
    Answer(u64, u64, u64, bool),
}

/// What a simulated fleet saw.
#[derive(Debug)]
struct Run {
    /// Virtual time until the last request was answered.
    wall: Duration,
    /// Refused requests, and those refused after the first second.
    refused: u64,
    refused_late: u64,
    rate: Option<f64>,
}

/// `requests` requests from `workers` workers, each asking again as soon as
/// its answer is in (429s retried after the reset, as the client does);
/// `jitter` varies each one-way latency by up to that fraction.
fn simulate(
    burst: u64,
    rate: f64,
    latency: Duration,
    workers: usize,
    requests: u64,
    jitter: f64,
) -> Run {
    let start = Instant::now();
    let mut model = Model::default();
    let mut bucket = Bucket::new(burst, rate);
    let mut queue = BinaryHeap::new();
    let mut seq = 0u64;
    let mut push = |q: &mut BinaryHeap<_>, t: Duration, w: usize, s: Step| {
        seq += 1;
        q.push(Reverse((t, seq, w, s)));
    };
    for w in 0..workers {
        push(&mut queue, Duration::ZERO, w, Step::Ask);
    }
    let mut lcg = 0x2545_f491_4f6c_dd1du64;
    let mut one_way = || {
        lcg = lcg.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let unit = (lcg >> 11) as f64 / (1u64 << 53) as f64;
        latency.mul_f64(0.5 * (1.0 + jitter * (2.0 * unit - 1.0)))
    };
    let (mut sent, mut done, mut refused, mut refused_late) = (0, 0, 0, 0);
    let mut wall = Duration::ZERO;
    while let Some(Reverse((t, _, w, step))) = queue.pop() {
        match step {
            Step::Ask if sent >= requests => {}
            Step::Ask => match model.admit(start + t) {
                Ok(()) => {
                    sent += 1;
                    let at = t + one_way();
                    push(&mut queue, at, w, Step::Arrive);
                }
                Err(wait) => push(&mut queue, t + wait, w, Step::Ask),
            },
            Step::Arrive => {
                let a = bucket.execute(t);
                let at = t + one_way();
                let reset = a.reset.as_nanos() as u64;
                push(
                    &mut queue,
                    at,
                    w,
                    Step::Answer(a.limit, a.remaining, reset, a.executed),
                );
            }
            Step::Answer(limit, remaining, reset, executed) => {
                let reset = Duration::from_nanos(reset);
                model.answered(
                    start + t,
                    Answer {
                        limit,
                        remaining,
                        reset,
                        executed,
                    },
                );
                if executed {
                    done += 1;
                    wall = t;
                    push(&mut queue, t, w, Step::Ask);
                } else {
                    refused += 1;
                    refused_late += u64::from(t > Duration::from_secs(1));
                    // The client retries the same request after the reset.
                    sent -= 1;
                    push(&mut queue, t + reset, w, Step::Ask);
                }
            }
        }
        if done >= requests {
            break;
        }
    }
    assert_eq!(done, requests, "every request was executed");
    Run {
        wall,
        refused,
        refused_late,
        rate: model.rate(),
    }
}

/// The fleet keeps up with the bucket's refill (the floor counts every
/// request at the refill rate, so the full bucket at the start is the
/// only headroom) and is never refused once it has heard an answer.
fn assert_paced(burst: u64, rate: f64, latency_ms: u64, workers: usize, requests: u64) {
    let run = simulate(
        burst,
        rate,
        Duration::from_millis(latency_ms),
        workers,
        requests,
        0.4,
    );
    let floor = requests as f64 / rate;
    let ratio = run.wall.as_secs_f64() / floor;
    assert!(
        ratio <= 1.08,
        "burst {burst}, {rate}/s, {latency_ms} ms, {workers} workers: wall {:?} is {ratio:.3}× the floor {floor:.1} s ({run:?})",
        run.wall
    );
    assert_eq!(run.refused_late, 0, "{run:?}");
    assert!(run.refused <= workers as u64, "{run:?}");
    let learned = run.rate.expect("the rate was learned");
    assert!(
        (learned - rate).abs() <= rate * 0.1,
        "learned {learned:.2}/s, the bucket refills {rate}/s"
    );
}

#[test]
fn keeps_up_with_the_refill_and_is_never_refused() {
    // The bench's tenant: 10 per second, 50 ms latency, 8 entries at once.
    assert_paced(10, 10.0, 50, 8, 500);
    // Auth0's plans: Essentials (10 burst, 150/min), Enterprise production
    // (50 burst, 16/s).
    assert_paced(10, 2.5, 50, 8, 150);
    assert_paced(50, 16.0, 50, 8, 1000);
    // Slow answers with many requests in flight.
    assert_paced(10, 10.0, 400, 32, 300);
}

#[test]
fn a_bucket_of_two_is_paced_by_its_resets_and_never_refused() {
    // Auth0's Free plan: 2 burst, 2/s. A token to spare fills the bucket,
    // so the rate is never learned: one request per reset and probe.
    let run = simulate(2, 2.0, Duration::from_millis(50), 8, 120, 0.4);
    assert_eq!(run.refused_late, 0, "{run:?}");
    assert_eq!(run.rate, None, "{run:?}");
    let ratio = run.wall.as_secs_f64() / 60.0;
    assert!(
        (0.9..=2.1).contains(&ratio),
        "{ratio:.2}× the floor: {run:?}"
    );
}

#[test]
fn without_the_rate_waits_for_the_reset_then_probes() {
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    let mut m = Model::default();
    // Nothing known: no wait.
    assert!(m.admit(t0).is_ok());
    // 10 per window, 4 left (the reserve is 2): two go at once, the third
    // waits for the reset.
    m.answered(
        ms(0),
        Answer {
            limit: 10,
            remaining: 4,
            reset: Duration::from_millis(300),
            executed: true,
        },
    );
    assert!(m.admit(ms(1)).is_ok());
    assert!(m.admit(ms(2)).is_ok());
    assert_eq!(m.admit(ms(3)), Err(Duration::from_millis(297)));
    // After the reset one probe goes; the next waits for its answer…
    assert!(m.admit(ms(300)).is_ok());
    assert_eq!(m.admit(ms(310)), Err(PROBE_TICK));
    // …which says the bucket refilled: the others go.
    m.answered(
        ms(350),
        Answer {
            limit: 10,
            remaining: 9,
            reset: Duration::from_secs(1),
            executed: true,
        },
    );
    // 9 left less the two still in flight, down to the reserve of 1.5.
    for i in 0..5 {
        assert!(m.admit(ms(351 + i)).is_ok(), "request {i}");
    }
    assert!(m.admit(ms(360)).is_err());
    // A probe that never gets an answer expires.
    let mut lost = Model::default();
    lost.answered(
        ms(0),
        Answer {
            limit: 10,
            remaining: 0,
            reset: Duration::ZERO,
            executed: true,
        },
    );
    assert!(lost.admit(ms(1)).is_ok());
    assert_eq!(lost.admit(ms(500)), Err(PROBE_TICK));
    assert!(lost.admit(ms(1002)).is_ok());
}

#[test]
fn a_lost_request_ends_its_probe_and_a_full_bucket_restarts_learning() {
    let t0 = Instant::now();
    let mut m = Model::default();
    m.answered(
        t0,
        Answer {
            limit: 10,
            remaining: 0,
            reset: Duration::ZERO,
            executed: true,
        },
    );
    assert!(m.admit(t0).is_ok());
    m.lost();
    assert!(
        m.admit(t0).is_ok(),
        "the lost probe no longer holds the others"
    );
    // A full bucket's answers teach nothing of the rate.
    let mut full = Model::default();
    for i in 0..20 {
        full.answered(
            t0 + Duration::from_millis(100 * i),
            Answer {
                limit: 10,
                remaining: 9,
                reset: Duration::from_millis(100),
                executed: true,
            },
        );
    }
    assert_eq!(full.rate(), None);
}

#[tokio::test]
async fn permits_count_requests_in_flight_until_answered_or_dropped() {
    let p = Pacer::default();
    let first = p.acquire().await;
    let mut h = reqwest::header::HeaderMap::new();
    h.insert("x-ratelimit-limit", 10u64.into());
    h.insert("x-ratelimit-remaining", 5u64.into());
    p.observe(first, 200, &h, Some(Duration::from_secs(1)));
    let a = p.acquire().await;
    let b = p.acquire().await;
    assert_eq!(p.with(|m| m.outstanding), 2);
    drop(a);
    assert_eq!(p.with(|m| m.outstanding), 1);
    // A daily limit's answer does not stall the client.
    h.insert("x-ratelimit-remaining", 0u64.into());
    p.observe(b, 429, &h, Some(Duration::from_secs(86_400)));
    assert_eq!(p.with(|m| m.outstanding), 0);
    let t = Instant::now();
    drop(p.acquire().await);
    assert!(t.elapsed() < Duration::from_millis(100));
}
