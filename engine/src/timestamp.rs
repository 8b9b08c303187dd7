//! Evaluation time. The engine never reads a clock (wasm32-unknown-unknown has none, and a
//! caller-controlled clock would let an agent pick the time its delegation is checked at):
//! every call that needs time takes a [`Timestamp`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// An instant, parsed from RFC 3339 with any offset and kept in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

/// A string that is not an RFC 3339 timestamp tollgate can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not an RFC 3339 timestamp ({reason}); example: 2026-06-01T12:00:00Z")]
pub struct BadTimestamp {
    /// What was given.
    pub input: String,
    /// Why it was refused.
    pub reason: String,
}

impl Timestamp {
    /// Wraps an `OffsetDateTime`, normalising to UTC. Years outside 0000..=9999 are refused
    /// because Cedar's `datetime()` cannot represent them.
    pub fn from_offset_date_time(t: OffsetDateTime) -> Result<Self, BadTimestamp> {
        let utc = t.to_offset(UtcOffset::UTC);
        if !(0..=9999).contains(&utc.year()) {
            return Err(BadTimestamp {
                input: t.to_string(),
                reason: "year outside 0000..9999".into(),
            });
        }
        Ok(Self(utc))
    }

    /// Seconds since the Unix epoch with nanoseconds, for callers that hold a system time.
    pub fn from_unix_nanos(nanos: i128) -> Result<Self, BadTimestamp> {
        let t = OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(|e| BadTimestamp {
            input: nanos.to_string(),
            reason: e.to_string(),
        })?;
        Self::from_offset_date_time(t)
    }

    /// The underlying UTC date-time.
    pub fn as_offset_date_time(&self) -> OffsetDateTime {
        self.0
    }

    /// The form Cedar's `datetime()` accepts: UTC with milliseconds, `YYYY-MM-DDThh:mm:ss.SSSZ`.
    /// Sub-millisecond precision is truncated.
    pub fn to_cedar_datetime(&self) -> String {
        let fmt = format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        // Formatting a UTC date-time in 0000..=9999 with this description cannot fail; fall back
        // to RFC 3339 rather than panic should `time` ever disagree.
        self.0
            .format(&fmt)
            .or_else(|_| self.0.format(&Rfc3339))
            .unwrap_or_default()
    }

    /// RFC 3339 in UTC (`Z`), the form written into records.
    pub fn to_rfc3339(&self) -> String {
        self.0
            .format(&Rfc3339)
            .unwrap_or_else(|_| self.to_cedar_datetime())
    }
}

impl FromStr for Timestamp {
    type Err = BadTimestamp;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = OffsetDateTime::parse(s.trim(), &Rfc3339).map_err(|e| BadTimestamp {
            input: s.to_string(),
            reason: e.to_string(),
        })?;
        Self::from_offset_date_time(t).map_err(|e| BadTimestamp {
            input: s.to_string(),
            ..e
        })
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A calendar day, `YYYY-MM-DD`: lint's `--today` and the `@review_by` of exceptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CalendarDate(time::Date);

/// A string that is not a `YYYY-MM-DD` date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a date written YYYY-MM-DD ({reason}); example: 2026-06-01")]
pub struct BadDate {
    /// What was given.
    pub input: String,
    /// Why it was refused.
    pub reason: String,
}

impl CalendarDate {
    /// The UTC day of an instant.
    pub fn of(t: Timestamp) -> Self {
        Self(t.0.date())
    }

    /// Midnight UTC at the start of the day.
    pub fn start_of_day(self) -> Timestamp {
        Timestamp(self.0.midnight().assume_utc())
    }
}

impl FromStr for CalendarDate {
    type Err = BadDate;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fmt = format_description!("[year]-[month]-[day]");
        time::Date::parse(s, &fmt).map(Self).map_err(|e| BadDate {
            input: s.to_string(),
            reason: e.to_string(),
        })
    }
}

impl fmt::Display for CalendarDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fmt = format_description!("[year]-[month]-[day]");
        match self.0.format(&fmt) {
            Ok(s) => f.write_str(&s),
            Err(_) => write!(f, "{}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_offsets_to_utc_millis() {
        let t: Timestamp = "2026-06-01T14:00:00.123456+02:00".parse().unwrap();
        assert_eq!(t.to_cedar_datetime(), "2026-06-01T12:00:00.123Z");
        let z: Timestamp = "2026-06-01T12:00:00Z".parse().unwrap();
        assert_eq!(z.to_cedar_datetime(), "2026-06-01T12:00:00.000Z");
        assert!(z < t);
    }

    #[test]
    fn calendar_dates_parse_strictly_and_order() {
        let a: CalendarDate = "2026-06-01".parse().unwrap();
        let b: CalendarDate = "2026-12-31".parse().unwrap();
        assert!(a < b);
        assert_eq!(a.to_string(), "2026-06-01");
        assert_eq!(a.start_of_day().to_rfc3339(), "2026-06-01T00:00:00Z");
        let t: Timestamp = "2026-06-01T23:30:00-02:00".parse().unwrap();
        assert_eq!(CalendarDate::of(t).to_string(), "2026-06-02");
        for bad in ["", "2026-6-1", "2026-02-30", "soon", "2026-06-01T00:00:00Z"] {
            assert!(bad.parse::<CalendarDate>().is_err(), "{bad}");
        }
    }

    #[test]
    fn refuses_garbage_and_dates_without_time() {
        for bad in [
            "",
            "2026-06-01",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-06-01T12:00:00",
        ] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad}");
        }
    }
}
