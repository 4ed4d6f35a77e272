//! The emulator's clock: real time plus an offset tests can advance.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use time::OffsetDateTime;

/// A shared, advanceable clock.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_secs: Arc<AtomicI64>,
}

impl Clock {
    /// Current emulated time.
    pub fn now(&self) -> OffsetDateTime {
        crate::clock::wall() + time::Duration::seconds(self.offset_secs.load(Ordering::SeqCst))
    }

    /// Moves the clock forward (or back, with a negative value).
    pub fn advance(&self, by: time::Duration) {
        self.offset_secs
            .fetch_add(by.whole_seconds(), Ordering::SeqCst);
    }
}

/// Formats an instant the way Auth0 does: UTC with milliseconds, `…T12:29:31.850Z`.
pub fn auth0_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Parses an RFC 3339 instant the way Auth0 stores it: in UTC, truncated
/// to milliseconds (`…T09:33:13Z` and `…T09:33:13.000+00:00` are one instant).
pub fn parse_auth0_time(s: &str) -> Option<OffsetDateTime> {
    let t = OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    let t = t.to_offset(time::UtcOffset::UTC);
    t.replace_nanosecond(t.millisecond() as u32 * 1_000_000)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn formats_like_auth0() {
        assert_eq!(
            auth0_time(datetime!(2026-07-01 12:29:31.850 UTC)),
            "2026-07-01T12:29:31.850Z"
        );
    }

    #[test]
    fn advances() {
        let c = Clock::default();
        let a = c.now();
        c.advance(time::Duration::days(2));
        assert!(c.now() - a >= time::Duration::days(2));
    }
}
