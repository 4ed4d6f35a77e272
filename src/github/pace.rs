//! GitHub's content-creating budget, spent before GitHub refuses: at most
//! [`WRITES_PER_MINUTE`] writes (POST, PATCH, PUT, DELETE) in any minute,
//! GitHub's documented secondary limit for content-creating requests, and
//! how long a request may wait out rate limits GitHub reports.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Content-creating requests GitHub allows per minute (secondary limit).
pub const WRITES_PER_MINUTE: usize = 80;

/// How long one request may wait, in total, for rate limits GitHub reports
/// (`retry-after`, `x-ratelimit-reset`); beyond it the request fails with
/// the time the limit resets.
pub const RATE_LIMIT_BUDGET: Duration = Duration::from_secs(15 * 60);

const WINDOW: Duration = Duration::from_secs(60);

/// A sliding one-minute window of the writes this client sent.
#[derive(Debug)]
pub(super) struct WritePacer {
    per_minute: usize,
    sent: Mutex<VecDeque<Instant>>,
}

impl Default for WritePacer {
    fn default() -> Self {
        Self::new(WRITES_PER_MINUTE)
    }
}

impl WritePacer {
    /// At most `per_minute` writes in any minute (at least one).
    pub(super) fn new(per_minute: usize) -> Self {
        Self {
            per_minute: per_minute.max(1),
            sent: Mutex::default(),
        }
    }

    /// Waits until one more write fits in the window, then counts it.
    pub(super) async fn acquire(&self) {
        loop {
            let wait = self.try_take(Instant::now());
            match wait {
                None => return,
                Some(w) => {
                    tracing::info!(
                        wait_ms = w.as_millis() as u64,
                        per_minute = self.per_minute,
                        "pacing GitHub writes to stay within the content-creation limit"
                    );
                    tokio::time::sleep(w).await;
                }
            }
        }
    }

    /// Counts a write at `now` if it fits; otherwise how long until it does.
    fn try_take(&self, now: Instant) -> Option<Duration> {
        let mut sent = self
            .sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            sent.pop_front();
        }
        if sent.len() < self.per_minute {
            sent.push_back(now);
            return None;
        }
        let oldest = *sent.front()?;
        Some(WINDOW.saturating_sub(now.duration_since(oldest)) + Duration::from_millis(5))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_holds_at_most_its_writes_and_frees_the_oldest_first() {
        let p = WritePacer::new(2);
        let t0 = Instant::now();
        assert_eq!(p.try_take(t0), None);
        assert_eq!(p.try_take(t0 + Duration::from_secs(10)), None);
        let wait = p.try_take(t0 + Duration::from_secs(20)).unwrap();
        assert!(
            wait > Duration::from_secs(39) && wait <= Duration::from_secs(41),
            "{wait:?}"
        );
        assert_eq!(
            p.try_take(t0 + Duration::from_secs(60)),
            None,
            "t0 left the window"
        );
        assert!(p.try_take(t0 + Duration::from_secs(61)).is_some());
        assert_eq!(p.try_take(t0 + Duration::from_secs(71)), None);
    }
}
