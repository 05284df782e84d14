//! The one timestamp format stored anywhere, on the platform and in replicas: RFC 3339 in UTC,
//! fixed width with microseconds (`2026-11-30T10:15:02.123456Z`), so that text order is time
//! order and a column of them sorts and compares as text on SQLite and PostgreSQL alike.

use chrono::{DateTime, SecondsFormat, Utc};

/// Now, in the stored format.
pub fn now() -> String {
    stamp(Utc::now())
}

/// `t` in the stored format.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_fixed_width_so_text_order_is_time_order() {
        let a = DateTime::parse_from_rfc3339("2026-11-30T10:15:02Z")
            .expect("a")
            .to_utc();
        let b = DateTime::parse_from_rfc3339("2026-11-30T10:15:02.5Z")
            .expect("b")
            .to_utc();
        assert_eq!(stamp(a), "2026-11-30T10:15:02.000000Z");
        assert_eq!(stamp(b), "2026-11-30T10:15:02.500000Z");
        assert!(stamp(a) < stamp(b));
        assert_eq!(now().len(), stamp(a).len());
    }
}
