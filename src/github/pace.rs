//! GitHub's content-creating budget, spent before GitHub refuses: at most
//! [`WRITES_PER_MINUTE`] writes (POST, PATCH, PUT, DELETE) in any minute and
//! [`WRITES_PER_HOUR`] in any hour, GitHub's documented secondary limits
//! for content-creating requests, and how long a request may wait out rate
//! limits GitHub reports.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Content-creating requests GitHub allows per minute (secondary limit).
pub const WRITES_PER_MINUTE: usize = 80;

/// Content-creating requests GitHub allows per hour (secondary limit).
pub const WRITES_PER_HOUR: usize = 500;

/// How long one request may wait, in total, for rate limits GitHub reports
/// (`retry-after`, `x-ratelimit-reset`); beyond it the request fails with
/// the time the limit resets.
pub const RATE_LIMIT_BUDGET: Duration = Duration::from_secs(15 * 60);

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

/// Sliding windows (a minute, an hour) over the writes this client sent.
#[derive(Debug)]
pub(super) struct WritePacer {
    /// (window, writes allowed in it); empty: unpaced.
    limits: Vec<(Duration, usize)>,
    sent: Mutex<VecDeque<Instant>>,
}

impl Default for WritePacer {
    fn default() -> Self {
        Self::new(Some(WRITES_PER_MINUTE), Some(WRITES_PER_HOUR))
    }
}

impl WritePacer {
    /// At most `per_minute` writes in any minute and `per_hour` in any hour
    /// (each at least one; `None`: that window is not limited).
    pub(super) fn new(per_minute: Option<usize>, per_hour: Option<usize>) -> Self {
        let limits = [(MINUTE, per_minute), (HOUR, per_hour)]
            .into_iter()
            .filter_map(|(w, n)| Some((w, n?.max(1))))
            .collect();
        Self {
            limits,
            sent: Mutex::default(),
        }
    }

    /// Whether any window is limited.
    pub(super) fn is_paced(&self) -> bool {
        !self.limits.is_empty()
    }

    /// Waits until one more write fits in every window, then counts it.
    /// Waits past a minute are reported with how many writes the hour
    /// holds, so a long run shows why it waits.
    pub(super) async fn acquire(&self) {
        loop {
            let wait = self.try_take(Instant::now());
            match wait {
                None => return,
                Some(w) if w > MINUTE => {
                    tracing::warn!(
                        wait_s = w.as_secs(),
                        limits = ?self.limits_per_window(),
                        "GitHub's hourly content-creation limit is spent; waiting before the next write"
                    );
                    tokio::time::sleep(w.min(MINUTE)).await;
                }
                Some(w) => {
                    tracing::info!(
                        wait_ms = w.as_millis() as u64,
                        limits = ?self.limits_per_window(),
                        "pacing GitHub writes to stay within the content-creation limit"
                    );
                    tokio::time::sleep(w).await;
                }
            }
        }
    }

    fn limits_per_window(&self) -> Vec<String> {
        self.limits
            .iter()
            .map(|(w, n)| format!("{n} per {} s", w.as_secs()))
            .collect()
    }

    /// Counts a write at `now` if it fits every window; otherwise how long
    /// until it does.
    fn try_take(&self, now: Instant) -> Option<Duration> {
        let mut sent = self
            .sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let longest = self.limits.iter().map(|(w, _)| *w).max()?;
        while sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= longest)
        {
            sent.pop_front();
        }
        let wait = self
            .limits
            .iter()
            .filter_map(|&(window, limit)| {
                // Sent times are in order: the window holds a suffix.
                let inside =
                    sent.len() - sent.partition_point(|t| now.duration_since(*t) >= window);
                if inside < limit {
                    return None;
                }
                // The write that must leave the window first.
                let leaving = sent[sent.len() - limit];
                Some(window.saturating_sub(now.duration_since(leaving)) + Duration::from_millis(5))
            })
            .max();
        if wait.is_none() {
            sent.push_back(now);
        }
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_holds_at_most_its_writes_and_frees_the_oldest_first() {
        let p = WritePacer::new(Some(2), None);
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

    #[test]
    fn the_hour_holds_at_most_its_writes_beside_the_minute() {
        let p = WritePacer::new(Some(3), Some(5));
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        // Three in the first minute, then the minute is full.
        for s in [0, 1, 2] {
            assert_eq!(p.try_take(at(s)), None);
        }
        assert!(p.try_take(at(3)).is_some());
        // Two more in the next minute, then the hour is full until the
        // first write leaves it.
        assert_eq!(p.try_take(at(61)), None);
        assert_eq!(p.try_take(at(62)), None);
        let wait = p.try_take(at(130)).unwrap();
        assert!(
            wait > Duration::from_secs(3469) && wait <= Duration::from_secs(3471),
            "{wait:?}"
        );
        assert_eq!(p.try_take(at(3600)), None, "the first write left the hour");
        assert!(p.try_take(at(3600)).is_some(), "the second is still in it");
        assert!(!WritePacer::new(None, None).is_paced());
    }
}
