//! Client-side pacing of one tenant's Management API requests, driven by
//! the `x-ratelimit-limit`, `x-ratelimit-remaining` and `x-ratelimit-reset`
//! headers of its answers.
//!
//! Auth0's limit is a token bucket: `x-ratelimit-limit` is its size, and
//! the refill rate is not in any header. The pacer learns the rate from
//! the answers themselves: between two answers the bucket lost one token
//! per request Auth0 executed and gained the refill, so over a window of
//! answers `refill = remaining_last − remaining_first + answers` (the
//! rounding of each `remaining` cancels out but for the two ends). With
//! the rate known, requests go as fast as the bucket refills while a
//! reserve (15 % of it) stays free; every answer corrects the estimate of
//! what is left, counting the requests still in flight. Until the rate is
//! known, requests at the reserve wait for `x-ratelimit-reset` and then
//! go one at a time to find out how far the bucket refilled. A bucket of
//! two (Auth0's Free plan) is full whenever it has a token to spare, and a
//! full bucket's answers say nothing of the refill: it stays paced by its
//! resets.
//!
//! An answer whose reset lies beyond the longest retry wait describes an
//! endpoint's own limit (e.g. daily) and is not paced by. With several
//! entries in flight, this is what keeps a run within the budget.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Tokens kept in reserve: 15 % of the bucket. A fraction of a token
/// counts: a bucket of 2 is used down to 0.3, so it is never waited for
/// until full (a full bucket wastes its refill).
fn reserve(limit: u64) -> f64 {
    limit as f64 * 0.15
}

/// The shortest wait for a token (rounding must not make it zero).
const MIN_WAIT: Duration = Duration::from_millis(1);

/// How often a request waiting behind a probe looks again.
const PROBE_TICK: Duration = Duration::from_millis(20);

/// A probe that got no answer with rate-limit headers this long does not
/// hold the others back any more.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// The rate is learned over answers spanning at least this long…
const LEARN_SPAN: Duration = Duration::from_secs(1);
/// …and at least this many of them.
const LEARN_ANSWERS: u64 = 5;
/// Answers older than this no longer count towards the rate.
const LEARN_WINDOW: Duration = Duration::from_secs(4);

/// One answer that executed its request (a 429 does not take a token).
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    remaining: u64,
    /// How many executed answers came before this one, this one included.
    index: u64,
}

/// What the pacer believes about the bucket.
#[derive(Debug, Default)]
pub(crate) struct Model {
    /// Bucket size (`x-ratelimit-limit`); 0 until an answer says it.
    limit: u64,
    /// Tokens free at `at`, after every request sent so far.
    tokens: f64,
    at: Option<Instant>,
    /// Learned refill, tokens per second.
    rate: Option<f64>,
    /// When tokens are added next (`x-ratelimit-reset`), for use while the
    /// rate is unknown.
    reset: Option<Instant>,
    /// When a request went out to learn how far the bucket refilled (a
    /// probe without an answer, e.g. a lost connection, expires).
    probing: Option<Instant>,
    /// Requests sent and not answered yet.
    outstanding: u64,
    /// Executed answers so far, and the recent ones.
    answers: u64,
    samples: VecDeque<Sample>,
}

/// What an answer's rate-limit headers said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Answer {
    /// `x-ratelimit-limit`.
    pub limit: u64,
    /// `x-ratelimit-remaining`.
    pub remaining: u64,
    /// Time until `x-ratelimit-reset` (or `retry-after`).
    pub reset: Duration,
    /// Whether the request was executed (anything but a 429).
    pub executed: bool,
}

impl Model {
    /// The learned refill rate, tokens per second.
    #[cfg(test)]
    pub(crate) fn rate(&self) -> Option<f64> {
        self.rate
    }

    /// May a request go at `now`? `Ok` counts it as sent; `Err` is how long
    /// to wait before asking again.
    pub(crate) fn admit(&mut self, now: Instant) -> Result<(), Duration> {
        if self.limit == 0 {
            self.outstanding += 1;
            return Ok(());
        }
        let reserve = reserve(self.limit);
        if let Some(rate) = self.rate {
            self.refill(now, rate);
            if self.tokens >= reserve + 1.0 {
                self.take();
                return Ok(());
            }
            let wait = Duration::from_secs_f64((reserve + 1.0 - self.tokens) / rate);
            return Err(wait.max(MIN_WAIT));
        }
        if self.tokens >= reserve + 1.0 {
            self.take();
            return Ok(());
        }
        match self.reset {
            Some(reset) if reset > now => Err(reset - now),
            _ if self.probing.is_none_or(|t| now - t > PROBE_TIMEOUT) => {
                self.probing = Some(now);
                self.take();
                Ok(())
            }
            _ => Err(PROBE_TICK),
        }
    }

    fn take(&mut self) {
        self.tokens -= 1.0;
        self.outstanding += 1;
    }

    fn refill(&mut self, now: Instant, rate: f64) {
        if let Some(at) = self.at.filter(|at| now > *at) {
            let cap = self.limit as f64;
            self.tokens = (self.tokens + rate * (now - at).as_secs_f64()).min(cap);
        }
        self.at = Some(now);
    }

    /// A request sent got no usable answer (a transport error, or an
    /// endpoint's own limit): it no longer counts as in flight, and it ends
    /// a probe.
    pub(crate) fn lost(&mut self) {
        self.outstanding = self.outstanding.saturating_sub(1);
        self.probing = None;
    }

    /// An answer without rate-limit headers: as [`Model::lost`], and a
    /// bucket whose reset has passed is forgotten while its rate is
    /// unknown, since nothing says it still applies.
    pub(crate) fn unlimited(&mut self, now: Instant) {
        self.lost();
        if self.rate.is_none() && self.reset.is_none_or(|r| r <= now) {
            *self = Model {
                outstanding: self.outstanding,
                ..Model::default()
            };
        }
    }

    /// Records an answer's headers, received at `now`.
    pub(crate) fn answered(&mut self, now: Instant, a: Answer) {
        self.outstanding = self.outstanding.saturating_sub(1);
        self.probing = None;
        if a.limit != self.limit {
            // Another bucket (or the first answer): what was learned of the
            // old one says nothing of this one.
            self.samples.clear();
            self.rate = None;
            self.limit = a.limit;
        }
        // What Auth0 has left, less what is on its way there. Requests it
        // executed before this one but answered later are counted twice,
        // and `remaining` is rounded down: the estimate errs low.
        self.tokens = a.remaining as f64 - self.outstanding as f64;
        self.at = Some(now);
        self.reset = Some(now + a.reset);
        if a.executed {
            self.learn(now, a.remaining);
        }
    }

    /// Adds an executed answer to the window and re-estimates the rate.
    fn learn(&mut self, now: Instant, remaining: u64) {
        self.answers += 1;
        // A full bucket drops refill on the floor: what came before it says
        // nothing of the rate.
        if remaining + 1 >= self.limit {
            self.samples.clear();
        }
        self.samples.push_back(Sample {
            at: now,
            remaining,
            index: self.answers,
        });
        while self
            .samples
            .front()
            .is_some_and(|s| now - s.at > LEARN_WINDOW)
        {
            self.samples.pop_front();
        }
        let (Some(first), Some(last)) = (self.samples.front(), self.samples.back()) else {
            return;
        };
        let span = last.at - first.at;
        let executed = last.index - first.index;
        if span < LEARN_SPAN || executed < LEARN_ANSWERS {
            return;
        }
        let refill = last.remaining as f64 - first.remaining as f64 + executed as f64;
        if refill > 0.0 {
            self.rate = Some(refill / span.as_secs_f64());
        }
    }
}

/// The pacer of one client (shared by its concurrent requests).
#[derive(Debug, Default)]
pub(super) struct Pacer {
    model: Mutex<Model>,
}

/// A request the pacer let go: report its answer with [`Pacer::observe`];
/// dropped unreported (a transport error), it no longer counts as in
/// flight.
#[derive(Debug)]
pub(super) struct Permit<'a> {
    pacer: &'a Pacer,
    reported: bool,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.reported {
            self.pacer.with(Model::lost);
        }
    }
}

impl Pacer {
    fn with<T>(&self, f: impl FnOnce(&mut Model) -> T) -> T {
        let mut m = self
            .model
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut m)
    }

    /// Waits until a request may be sent, and counts it as sent.
    pub(super) async fn acquire(&self) -> Permit<'_> {
        loop {
            match self.with(|m| m.admit(Instant::now())) {
                Ok(()) => {
                    return Permit {
                        pacer: self,
                        reported: false,
                    }
                }
                Err(wait) => {
                    tracing::debug!(
                        wait_ms = wait.as_millis() as u64,
                        "pacing Management API requests"
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Records what the answer to `permit`'s request said (`reset`: time
    /// until `x-ratelimit-reset`, as the caller read it).
    pub(super) fn observe(
        &self,
        mut permit: Permit<'_>,
        status: u16,
        headers: &reqwest::header::HeaderMap,
        reset: Option<Duration>,
    ) {
        permit.reported = true;
        let num = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let now = Instant::now();
        let (Some(limit), Some(remaining), Some(reset)) = (
            num("x-ratelimit-limit"),
            num("x-ratelimit-remaining"),
            reset,
        ) else {
            self.with(|m| m.unlimited(now));
            return;
        };
        // A reset further out than any retry waits is an endpoint's own
        // limit (signing-key rotation: 5 a day), not the tenant's bucket:
        // pacing by it would stall every other request for hours.
        if reset > super::http::MAX_WAIT {
            self.with(Model::lost);
            return;
        }
        self.with(|m| {
            m.answered(
                now,
                Answer {
                    limit,
                    remaining,
                    reset,
                    executed: status != 429,
                },
            );
        });
    }
}

#[cfg(test)]
mod tests;
