//! Finding the part of a policy's text a finding is about (Cedar's public API exposes no
//! positions below the policy): the `@tier(...)` annotation, the `permit (...)` head, a
//! keyword in the conditions. Matches only count outside strings and comments.

use crate::lexical::code_only;

/// The text of one policy inside its file.
pub(crate) struct PolicyText {
    offset: usize,
    /// The policy's bytes, with strings and comments blanked out (same length and offsets).
    code: Vec<u8>,
}

impl PolicyText {
    /// The policy at `offset..offset + len` of `file`.
    pub(crate) fn new(file: &str, offset: usize, len: usize) -> Self {
        let text = file.get(offset..offset + len).unwrap_or_default();
        Self {
            offset,
            code: code_only(text),
        }
    }

    /// `(offset, len)` in the file of the `@key(...)` annotation.
    pub(crate) fn annotation(&self, key: &str) -> Option<(usize, usize)> {
        let needle = format!("@{key}");
        let mut from = 0;
        while let Some(at) = find(&self.code, needle.as_bytes(), from) {
            from = at + 1;
            let after = at + needle.len();
            // `@tier` must not match `@tiers`.
            if self
                .code
                .get(after)
                .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
            {
                continue;
            }
            let end = self.closing_paren(after).map_or(after, |e| e + 1);
            return Some((self.offset + at, end - at));
        }
        None
    }

    /// `(offset, len)` of the head: `permit (...)` or `forbid (...)` with its scope.
    pub(crate) fn head(&self) -> (usize, usize) {
        let start = ["permit", "forbid"]
            .iter()
            .filter_map(|kw| self.keyword(kw, 0))
            .min();
        match start {
            Some(start) => {
                let end = self.closing_paren(start).map_or(start + 6, |e| e + 1);
                (self.offset + start, end - start)
            }
            None => (self.offset, self.code.len()),
        }
    }

    /// `(offset, len)` of the first `when`/`unless` keyword after the head.
    pub(crate) fn condition_keyword(&self, kw: &str) -> Option<(usize, usize)> {
        let (head, len) = self.head();
        let after = head + len - self.offset;
        self.keyword(kw, after)
            .map(|at| (self.offset + at, kw.len()))
    }

    /// `(offset, len)` of the first occurrence of `needle` in the code after the head.
    pub(crate) fn in_body(&self, needle: &str) -> Option<(usize, usize)> {
        let (head, len) = self.head();
        let after = head + len - self.offset;
        find(&self.code, needle.as_bytes(), after).map(|at| (self.offset + at, needle.len()))
    }

    /// The first whole-word `kw` at or after `from` (relative to the policy).
    fn keyword(&self, kw: &str, from: usize) -> Option<usize> {
        let mut from = from;
        while let Some(at) = find(&self.code, kw.as_bytes(), from) {
            from = at + 1;
            let word = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
            let before = at.checked_sub(1).and_then(|i| self.code.get(i));
            if !word(before) && !word(self.code.get(at + kw.len())) {
                return Some(at);
            }
        }
        None
    }

    /// Index of the `)` closing the first `(` at or after `from`.
    fn closing_paren(&self, from: usize) -> Option<usize> {
        let open = find(&self.code, b"(", from)?;
        let mut depth = 0usize;
        for (i, b) in self.code.iter().enumerate().skip(open) {
            match b {
                b'(' => depth += 1,
                b')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            }
        }
        None
    }
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "// note: permit\n@id(\"a\")\n@tier(\"auto\") // @tier(\"x\")\npermit (principal, action == Action::\"when\", resource)\nwhen { context.x == \"permit(\" && resource.y };";

    fn at(file: &str, span: (usize, usize)) -> String {
        file[span.0..span.0 + span.1].to_string()
    }

    #[test]
    fn finds_annotations_head_and_keywords_outside_strings_and_comments() {
        let start = P.find("@id").unwrap();
        let t = PolicyText::new(P, start, P.len() - start);
        assert_eq!(at(P, t.annotation("tier").unwrap()), "@tier(\"auto\")");
        assert_eq!(at(P, t.annotation("id").unwrap()), "@id(\"a\")");
        assert!(t.annotation("ti").is_none());
        assert_eq!(
            at(P, t.head()),
            "permit (principal, action == Action::\"when\", resource)"
        );
        assert_eq!(at(P, t.condition_keyword("when").unwrap()), "when");
        assert_eq!(at(P, t.in_body(".y").unwrap()), ".y");
        assert!(t.condition_keyword("unless").is_none());
    }

    #[test]
    fn escaped_quotes_stay_inside_strings() {
        let p = "@reason(\"say \\\"permit\\\" twice\") forbid (principal, action, resource);";
        let t = PolicyText::new(p, 0, p.len());
        assert_eq!(at(p, t.head()), "forbid (principal, action, resource)");
    }
}
