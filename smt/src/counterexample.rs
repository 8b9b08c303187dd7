//! A solver's counterexample as a tollgate request, and the engine's decision on it.

use cedar_policy_symcc::Env;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tollgate_engine::{CalendarDate, Decision, NOW, Pack, ProposedAction, Timestamp};

/// A concrete request the solver produced: what `tollgate decide` would take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Counterexample {
    /// `{"principal", "action", "resource", "context"}`, the context without `now`.
    pub request: Value,
    /// The evaluation time (`--at`) that fills `context.now`, when the action reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// The entities, in Cedar's entities JSON format.
    pub entities: Value,
}

/// A counterexample the engine decided, confirming what the solver claimed.
#[derive(Debug, Clone)]
pub struct Confirmed {
    /// The request.
    pub counterexample: Counterexample,
    /// The engine's decision on it.
    pub decision: Decision,
}

impl Counterexample {
    /// The request and entities of a solver model.
    pub(crate) fn from_env(env: &Env) -> Result<Self, String> {
        let request = &env.request;
        let uid = |u: Option<&cedar_policy::EntityUid>, what: &str| {
            u.map(|u| Value::String(u.to_string()))
                .ok_or_else(|| format!("the counterexample has no concrete {what}"))
        };
        let mut context = match request.context() {
            Some(c) => match c.to_json_value().map_err(|e| e.to_string())? {
                Value::Object(map) => map,
                _ => return Err("the counterexample's context is not a record".into()),
            },
            None => Map::new(),
        };
        let at = match context.remove(NOW) {
            Some(now) => Some(datetime_arg(&now)?),
            None => None,
        };
        // Action entities come from the schema, in the engine as in `tollgate decide`.
        let entities = without_actions(&env.entities.to_json_value().map_err(|e| e.to_string())?);
        Ok(Self {
            request: serde_json::json!({
                "principal": uid(request.principal(), "principal")?,
                "action": uid(request.action(), "action")?,
                "resource": uid(request.resource(), "resource")?,
                "context": Value::Object(context),
            }),
            at,
            entities,
        })
    }

    /// `{"request", "at", "entities"}`: what a finding or report shows, and what `tollgate
    /// decide --request … --entities … --at …` takes.
    pub fn to_json(&self) -> Value {
        serde_json::json!({"request": self.request, "at": self.at, "entities": self.entities})
    }

    /// The engine's decision on this request (at `at`, or at the start of `today` when the
    /// action does not read the time).
    pub(crate) fn decide(&self, pack: &Pack, today: CalendarDate) -> Result<Decision, String> {
        let request = ProposedAction::from_json(&self.request).map_err(|e| e.to_string())?;
        let entities = pack
            .entities_from_json(&without_actions(&self.entities))
            .map_err(|e| e.to_string())?;
        let at = match &self.at {
            Some(at) => at.parse::<Timestamp>().map_err(|e| e.to_string())?,
            None => today.start_of_day(),
        };
        pack.decide(&request, &entities, at)
            .map_err(|e| e.to_string())
    }
}

/// The entities without action entities: the engine adds the schema's own.
fn without_actions(entities: &Value) -> Value {
    match entities {
        Value::Array(items) => Value::Array(
            items
                .iter()
                .filter(|e| {
                    e.pointer("/uid/type")
                        .and_then(Value::as_str)
                        .is_none_or(|t| t != "Action" && !t.ends_with("::Action"))
                })
                .cloned()
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The RFC 3339 form of a Cedar `datetime` value in JSON: `{"__extn": {"fn": "datetime",
/// "arg": …}}`, or the solver's `offset(datetime(…), duration(…))` form.
fn datetime_arg(value: &Value) -> Result<String, String> {
    instant(value)
        .map(|t| t.to_rfc3339())
        .map_err(|e| format!("context.now {value}: {e}"))
}

fn instant(value: &Value) -> Result<Timestamp, String> {
    let function = value.pointer("/__extn/fn").and_then(Value::as_str);
    match function {
        Some("datetime") => {
            let arg = value
                .pointer("/__extn/arg")
                .and_then(Value::as_str)
                .ok_or("a datetime without its text")?;
            datetime_text(arg)
        }
        Some("offset") => {
            let (Some(base), Some(duration)) = (
                value.pointer("/__extn/args/0"),
                value
                    .pointer("/__extn/args/1/__extn/arg")
                    .and_then(Value::as_str),
            ) else {
                return Err("an offset without its datetime and duration".into());
            };
            if value
                .pointer("/__extn/args/1/__extn/fn")
                .and_then(Value::as_str)
                != Some("duration")
            {
                return Err("an offset by something other than a duration".into());
            }
            let base = instant(base)?.as_offset_date_time().unix_timestamp_nanos();
            let nanos = duration_millis(duration)?
                .checked_mul(1_000_000)
                .and_then(|d| base.checked_add(d))
                .ok_or("the offset overflows")?;
            Timestamp::from_unix_nanos(nanos).map_err(|e| e.to_string())
        }
        _ => Err("not a datetime".into()),
    }
}

/// A Cedar `datetime` text: `YYYY-MM-DD`, or a time with `Z` or a `±hhmm` offset.
fn datetime_text(arg: &str) -> Result<Timestamp, String> {
    let rfc3339 = if arg.len() == 10 {
        format!("{arg}T00:00:00Z")
    } else if let Some((time, sign, offset)) = split_offset(arg) {
        let (hours, minutes) = offset.split_at_checked(2).unwrap_or((offset, "00"));
        format!("{time}{sign}{hours}:{minutes}")
    } else {
        arg.to_string()
    };
    rfc3339.parse::<Timestamp>().map_err(|e| e.to_string())
}

/// Milliseconds of a Cedar `duration` text: an optional `-`, then amounts with units `d`,
/// `h`, `m`, `s`, `ms` in that order (e.g. `1d2h`, `-90000ms`).
fn duration_millis(text: &str) -> Result<i128, String> {
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if rest.is_empty() {
        return Err(format!("an empty duration `{text}`"));
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (number, tail) = rest.split_at_checked(digits).ok_or("a bad duration")?;
        let amount: i128 = number
            .parse()
            .map_err(|_| format!("a duration `{text}` with a unit but no amount"))?;
        let unit_len = tail.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, after) = tail.split_at_checked(unit_len).ok_or("a bad duration")?;
        let scale: i128 = match unit {
            "d" => 86_400_000,
            "h" => 3_600_000,
            "m" => 60_000,
            "s" => 1_000,
            "ms" => 1,
            other => return Err(format!("a duration `{text}` with unit `{other}`")),
        };
        total = amount
            .checked_mul(scale)
            .and_then(|a| total.checked_add(a))
            .ok_or("the duration overflows")?;
        rest = after;
    }
    Ok(if negative { -total } else { total })
}

/// `2026-01-01T00:00:00+0100` → (`2026-01-01T00:00:00`, '+', `0100`).
fn split_offset(arg: &str) -> Option<(&str, char, &str)> {
    let (time, offset) = arg.split_at_checked(arg.len().checked_sub(5)?)?;
    let mut chars = offset.chars();
    let sign = chars.next().filter(|c| *c == '+' || *c == '-')?;
    let digits = chars.as_str();
    (time.contains('T') && digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then_some((time, sign, digits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cedar_datetimes_become_rfc3339() {
        let dt = |arg: &str| {
            datetime_arg(&serde_json::json!({"__extn": {"fn": "datetime", "arg": arg}}))
        };
        assert_eq!(dt("2026-12-02").unwrap(), "2026-12-02T00:00:00Z");
        assert_eq!(dt("2026-12-02T10:00:00Z").unwrap(), "2026-12-02T10:00:00Z");
        assert_eq!(
            dt("2026-12-02T10:00:00.250Z").unwrap(),
            "2026-12-02T10:00:00.25Z"
        );
        assert_eq!(
            dt("2026-12-02T10:00:00+0100").unwrap(),
            "2026-12-02T09:00:00Z"
        );
        assert!(datetime_arg(&serde_json::json!("2026-12-02")).is_err());
        let offset = |ms: &str| {
            datetime_arg(&serde_json::json!({"__extn": {"fn": "offset", "args": [
                {"__extn": {"fn": "datetime", "arg": "1970-01-01"}},
                {"__extn": {"fn": "duration", "arg": ms}}
            ]}}))
        };
        assert_eq!(offset("1796256000000ms").unwrap(), "2026-12-03T00:00:00Z");
        assert_eq!(offset("20425d").unwrap(), "2025-12-03T00:00:00Z");
        assert_eq!(offset("1d1h1m1s1ms").unwrap(), "1970-01-02T01:01:01.001Z");
        assert!(offset("-1d").unwrap().starts_with("1969-12-31T00:00:00"));
        assert!(offset("5y").is_err());
        assert!(offset("").is_err());
    }
}
