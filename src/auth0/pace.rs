//! Client-side pacing of one tenant's Management API requests, driven by
//! the `x-ratelimit-limit`, `x-ratelimit-remaining` and `x-ratelimit-reset`
//! headers of its answers: once the bucket is down to a reserve (15 % of
//! it), requests wait for the reset instead of being refused with 429. An
//! answer whose reset lies beyond the longest retry wait describes an
//! endpoint's own limit (e.g. daily) and is not paced by. With
//! several entries in flight, this is what keeps a run within the budget.

use std::time::{Duration, Instant};

use tokio::sync::Mutex;

/// What the answers said about the bucket, and what was sent since.
#[derive(Debug, Default, Clone, Copy)]
struct Bucket {
    /// Bucket size (`x-ratelimit-limit`); 0 until an answer says it.
    limit: u64,
    /// Requests left, as the newest answer said, minus those sent since.
    remaining: u64,
    /// When tokens are added next (`x-ratelimit-reset`).
    reset: Option<Instant>,
    /// When a request went out to learn how far the bucket refilled (a
    /// probe without an answer, e.g. a lost connection, expires).
    probing: Option<Instant>,
}

/// The pacer of one client (shared by its concurrent requests).
#[derive(Debug, Default)]
pub(super) struct Pacer {
    bucket: Mutex<Bucket>,
}

/// Requests kept in reserve: 15 % of the bucket, at least one.
fn reserve(limit: u64) -> u64 {
    (limit * 15).div_ceil(100).max(1)
}

/// How often a request waiting behind a probe looks again.
const PROBE_TICK: Duration = Duration::from_millis(20);

/// A probe that got no answer with rate-limit headers this long does not
/// hold the others back any more.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

impl Pacer {
    /// Waits until a request may be sent, and counts it against the bucket:
    /// above the reserve it goes at once; at the reserve it waits for the
    /// reset, after which one request at a time finds out how far the
    /// bucket refilled (headers do not say how fast it refills).
    pub(super) async fn acquire(&self) {
        loop {
            let wait = {
                let mut b = self.bucket.lock().await;
                if b.limit == 0 {
                    return;
                }
                if b.remaining > reserve(b.limit) {
                    b.remaining -= 1;
                    return;
                }
                let now = Instant::now();
                match b.reset {
                    Some(reset) if reset > now => reset - now,
                    _ if b.probing.is_none_or(|t| now - t > PROBE_TIMEOUT) => {
                        b.probing = Some(now);
                        return;
                    }
                    _ => PROBE_TICK,
                }
            };
            tracing::debug!(
                wait_ms = wait.as_millis() as u64,
                "pacing Management API requests"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// Records what an answer's headers say.
    /// An answer about the current window only ever lowers the estimate (it
    /// may be older than requests sent since); one about a later window
    /// replaces it.
    pub(super) async fn observe(
        &self,
        headers: &reqwest::header::HeaderMap,
        reset: Option<Duration>,
    ) {
        let num = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let (Some(limit), Some(remaining), Some(reset)) = (
            num("x-ratelimit-limit"),
            num("x-ratelimit-remaining"),
            reset,
        ) else {
            // No limit on this answer: it ends a probe, and a bucket whose
            // reset has passed is forgotten (nothing says it still applies).
            let mut b = self.bucket.lock().await;
            b.probing = None;
            if b.reset.is_none_or(|r| r <= Instant::now()) {
                *b = Bucket::default();
            }
            return;
        };
        // A reset further out than any retry waits is an endpoint's own
        // limit (signing-key rotation: 5 a day), not the tenant's bucket:
        // pacing by it would stall every other request for hours.
        if reset > super::http::MAX_WAIT {
            return;
        }
        let mut b = self.bucket.lock().await;
        let reset = Instant::now() + reset;
        let later_window = b
            .reset
            .is_none_or(|r| reset > r + Duration::from_millis(500));
        b.remaining = if later_window || b.probing.is_some() {
            remaining
        } else {
            b.remaining.min(remaining)
        };
        b.limit = limit;
        b.reset = Some(reset);
        b.probing = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn headers(limit: u64, remaining: u64) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-limit", HeaderValue::from(limit));
        h.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
        h
    }

    #[tokio::test]
    async fn waits_for_the_reset_once_only_the_reserve_is_left() {
        let p = Pacer::default();
        // Nothing known: no wait.
        let t = Instant::now();
        p.acquire().await;
        // 10 per window, 4 left: two go at once (4 → 2 = the reserve), the
        // third waits for the reset, and the one after it goes at once.
        p.observe(&headers(10, 4), Some(Duration::from_millis(300)))
            .await;
        p.acquire().await;
        p.acquire().await;
        assert!(
            t.elapsed() < Duration::from_millis(200),
            "{:?}",
            t.elapsed()
        );
        assert_eq!(reserve(10), 2);
        p.acquire().await;
        assert!(
            t.elapsed() >= Duration::from_millis(300),
            "{:?}",
            t.elapsed()
        );
        // That was the probe: the next request waits for its answer (or for
        // the probe to expire), and goes as soon as the answer says the
        // bucket refilled.
        let probe_answered = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            p.observe(&headers(10, 9), Some(Duration::from_secs(1)))
                .await;
        };
        let after = Instant::now();
        tokio::join!(p.acquire(), probe_answered);
        let waited = after.elapsed();
        assert!(
            waited >= Duration::from_millis(100) && waited < PROBE_TIMEOUT,
            "{waited:?}"
        );
        // An endpoint's daily limit does not stall the client.
        let daily = Pacer::default();
        daily
            .observe(&headers(5, 0), Some(Duration::from_secs(86_400)))
            .await;
        let t0 = Instant::now();
        daily.acquire().await;
        daily.acquire().await;
        assert!(t0.elapsed() < Duration::from_millis(200));
        // A probe that never gets an answer expires.
        p.observe(&headers(10, 2), Some(Duration::ZERO)).await;
        p.acquire().await;
        let lost = Instant::now();
        p.acquire().await;
        assert!(lost.elapsed() >= PROBE_TIMEOUT, "{:?}", lost.elapsed());
    }
}
