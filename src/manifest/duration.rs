//! Manifest durations: a positive integer followed by one unit, `s`, `m`,
//! `h`, `d` or `w` (`90d`, `12h`, `2w`), at most [`MAX_SECONDS`].

use time::Duration;

/// The longest accepted duration: 3650 days. Longer values would put
/// timestamps decades away and overflow date arithmetic downstream.
pub const MAX_SECONDS: i64 = 3650 * 86_400;

/// Why a duration text was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DurationError {
    /// Not `<digits><unit>`; the string explains what is wrong.
    Syntax(&'static str),
    /// The value is zero.
    Zero,
    /// Longer than [`MAX_SECONDS`].
    TooLong,
}

/// Parses `<digits><unit>`.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    if text.is_empty() {
        return Err(DurationError::Syntax("it is empty"));
    }
    if text.starts_with('-') {
        return Err(DurationError::Syntax("it is negative"));
    }
    if text.chars().any(char::is_whitespace) {
        return Err(DurationError::Syntax("it contains whitespace"));
    }
    if text.contains(['.', ',']) {
        return Err(DurationError::Syntax("fractions are not supported"));
    }
    let Some(unit) = text.chars().last() else {
        return Err(DurationError::Syntax("it is empty"));
    };
    let digits = &text[..text.len() - unit.len_utf8()];
    if unit.is_ascii_digit() {
        return Err(DurationError::Syntax("the unit is missing"));
    }
    let unit_seconds: i64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        'w' => 604_800,
        'S' | 'M' | 'H' | 'D' | 'W' => return Err(DurationError::Syntax("units are lowercase")),
        _ => {
            return Err(DurationError::Syntax(
                "the unit is not one of s, m, h, d, w",
            ))
        }
    };
    if digits.is_empty() {
        return Err(DurationError::Syntax("the number is missing"));
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DurationError::Syntax(
            "it must be a whole number followed by a single unit",
        ));
    }
    // Leading zeros are harmless; strip them so the length check below is meaningful.
    let trimmed = digits.trim_start_matches('0');
    if trimmed.is_empty() {
        return Err(DurationError::Zero);
    }
    if trimmed.len() > 12 {
        return Err(DurationError::TooLong);
    }
    let n: i64 = trimmed.parse().map_err(|_| DurationError::TooLong)?;
    let seconds = n.checked_mul(unit_seconds).ok_or(DurationError::TooLong)?;
    if seconds > MAX_SECONDS {
        return Err(DurationError::TooLong);
    }
    Ok(Duration::seconds(seconds))
}

/// Canonical text: the largest of `d`, `h`, `m`, `s` that divides the value.
pub fn format(d: Duration) -> String {
    let s = d.whole_seconds();
    for (unit, size) in [('d', 86_400), ('h', 3_600), ('m', 60)] {
        if s != 0 && s % size == 0 {
            return format!("{}{unit}", s / size);
        }
    }
    format!("{s}s")
}

pub(crate) fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(*d))
}

pub(crate) fn serialize_opt<S: serde::Serializer>(
    d: &Option<Duration>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&format(*d)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse("45s"), Ok(Duration::seconds(45)));
        assert_eq!(parse("5m"), Ok(Duration::minutes(5)));
        assert_eq!(parse("12h"), Ok(Duration::hours(12)));
        assert_eq!(parse("90d"), Ok(Duration::days(90)));
        assert_eq!(parse("2w"), Ok(Duration::weeks(2)));
        assert_eq!(parse("007d"), Ok(Duration::days(7)));
        assert_eq!(parse("3650d"), Ok(Duration::days(3650)));
    }

    #[test]
    fn rejects_bad_text() {
        for bad in [
            "", "d", "90", "-5d", "1.5d", "90 d", "90D", "90y", "9x0d", "+5d", "1d2h", "½d", "90dd",
        ] {
            assert!(
                matches!(parse(bad), Err(DurationError::Syntax(_))),
                "{bad:?} -> {:?}",
                parse(bad)
            );
        }
        assert_eq!(parse("0d"), Err(DurationError::Zero));
        assert_eq!(parse("000s"), Err(DurationError::Zero));
        assert_eq!(parse("3651d"), Err(DurationError::TooLong));
        assert_eq!(
            parse("99999999999999999999999w"),
            Err(DurationError::TooLong)
        );
        assert_eq!(parse("9223372036854775807s"), Err(DurationError::TooLong));
    }

    #[test]
    fn formats_canonically() {
        assert_eq!(format(Duration::weeks(2)), "14d");
        assert_eq!(format(Duration::hours(36)), "36h");
        assert_eq!(format(Duration::seconds(90)), "90s");
        assert_eq!(format(Duration::minutes(2)), "2m");
    }
}
