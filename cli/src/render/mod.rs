//! Formatting results for people and programs. The engine decides; these only render what it
//! returns.
//!
//! Text output shows ids, reasons, file names and messages that come from requests, entities,
//! approval records, audit logs and policy files: anyone who can write one of those could put a
//! newline (a forged row), an ANSI escape (recoloured or erased text) or a bidi override
//! (reordered text) in front of the person reading. [`shown`] escapes them. JSON, SARIF and CSV
//! carry the exact text (JSON escapes control characters itself; CSV quotes fields).

pub mod approvals;
pub mod audit_stats;
pub mod audit_stats_html;
pub mod decision;
pub mod diff;
pub mod junit;
pub mod lint;
pub mod projection;
pub mod simulate;
pub mod test;
pub mod verify;

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not reach a terminal as is: C0 and C1 controls, DEL, the Unicode line and
/// paragraph separators, and the bidi marks, embeddings, overrides and isolates that reorder
/// text on screen.
fn unsafe_char(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{61c}' | '\u{200e}' | '\u{200f}'
        | '\u{2028}' | '\u{2029}'
        | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` as it is safe to show in a terminal: every character [`unsafe_char`] names is written
/// as an escape (`\n`, `\r`, `\t`, else `\u{1b}`), so one field stays on one line and looks
/// like what it is. Text without such characters is returned as is.
pub fn shown(text: &str) -> Cow<'_, str> {
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if unsafe_char(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// [`shown`] of anything displayable.
pub fn shown_display(value: impl std::fmt::Display) -> String {
    shown(&value.to_string()).into_owned()
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `n what`, with an `s` unless there is one.
pub fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::{shown, thousands};

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        for s in ["", "Agent::\"triage-bot\"", "é ünïcode ✓ 日本", "a\\nb"] {
            assert!(matches!(shown(s), std::borrow::Cow::Borrowed(t) if t == s));
        }
    }

    #[test]
    fn controls_and_bidi_are_escaped() {
        assert_eq!(shown("a\nb\r\tc"), "a\\nb\\r\\tc");
        assert_eq!(shown("x\u{1b}[31mred"), "x\\u{1b}[31mred");
        assert_eq!(
            shown("\u{0}\u{7f}\u{85}\u{9b}"),
            "\\u{0}\\u{7f}\\u{85}\\u{9b}"
        );
        assert_eq!(shown("ab\u{202e}cd\u{2066}"), "ab\\u{202e}cd\\u{2066}");
        assert_eq!(shown("\u{2028}\u{200f}"), "\\u{2028}\\u{200f}");
        // The neighbours of the ranges stay.
        let neighbours = "\u{20}\u{a0}\u{2027}\u{202f}\u{2065}\u{206a}";
        assert_eq!(shown(neighbours), neighbours);
        for s in ["\u{202a}", "\u{202d}", "\u{2069}", "\u{9f}", "\u{1f}"] {
            assert!(!shown(s).chars().any(|c| c.is_control() || c == '\u{202a}'));
        }
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(3412), "3,412");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
