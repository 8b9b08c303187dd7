//! Lexical scans over Cedar policy text, for where tollgate works on text rather than on Cedar's
//! AST: pointing lint findings at part of a policy, cutting a large file between policies,
//! turning a `forbid` into a `permit` without a round trip through Cedar's JSON form, and
//! telling whether a policy's conditions may name a variable. Every scan sees code only:
//! string literals and `//` comments are blanked first. Where the loader relies on a scan, it
//! checks the result by parsing it, so a wrong scan costs speed, never correctness.

/// `text` with the contents of string literals (quotes kept) and `//` comments replaced by
/// spaces: same length and offsets, and only code left to match.
pub(crate) fn code_only(text: &str) -> Vec<u8> {
    #[derive(PartialEq)]
    enum State {
        Code,
        Str,
        Comment,
    }
    let bytes = text.as_bytes();
    let mut out = bytes.to_vec();
    let mut blank = |i: usize| {
        if let Some(o) = out.get_mut(i) {
            *o = b' ';
        }
    };
    let mut state = State::Code;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match state {
            State::Code if b == b'"' => state = State::Str,
            State::Code if b == b'/' && bytes.get(i + 1) == Some(&b'/') => {
                state = State::Comment;
                blank(i);
            }
            State::Code => {}
            State::Str if b == b'\\' => {
                blank(i);
                blank(i + 1);
                i += 1;
            }
            State::Str if b == b'"' => state = State::Code,
            State::Comment if b == b'\n' => state = State::Code,
            State::Str | State::Comment => blank(i),
        }
        i += 1;
    }
    out
}

/// Whether `b` can be part of an identifier.
pub(crate) fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The offset just after the first `;` at or after `from` in code: the end of a policy (`;`
/// appears nowhere else in Cedar's grammar).
pub(crate) fn policy_boundary_after(text: &str, from: usize) -> Option<usize> {
    let code = code_only(text);
    code.get(from..)?
        .iter()
        .position(|&b| b == b';')
        .map(|i| from + i + 1)
}

/// How many times `word` appears as a whole identifier in the code of `text`.
pub(crate) fn whole_words(text: &str, word: &str) -> usize {
    let code = code_only(text);
    let word = word.as_bytes();
    if word.is_empty() {
        return 0;
    }
    code.windows(word.len())
        .enumerate()
        .filter(|&(at, w)| {
            let before = at.checked_sub(1).and_then(|i| code.get(i)).copied();
            let after = code.get(at + word.len()).copied();
            w == word && !before.is_some_and(is_ident_byte) && !after.is_some_and(is_ident_byte)
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blanks_strings_and_comments_only() {
        let text = "permit // a \"b\"\n(\"x\\\"y\") ;";
        let code = String::from_utf8(code_only(text)).unwrap();
        assert_eq!(code.len(), text.len());
        assert_eq!(code, format!("permit{}\n(\"    \") ;", " ".repeat(9)));
    }

    #[test]
    fn boundaries_skip_strings_and_comments() {
        let text = "permit(principal, action, resource) when { \"a;b\" == \"\\\";\" };\n// x; y\nforbid(principal, action, resource);";
        let first = text.find("};").map(|i| i + 2);
        assert_eq!(policy_boundary_after(text, 0), first);
        assert_eq!(
            policy_boundary_after(text, first.unwrap()),
            Some(text.len())
        );
        assert_eq!(
            policy_boundary_after("permit(principal, action, resource)", 0),
            None
        );
    }

    #[test]
    fn counts_whole_identifiers_in_code() {
        let count = |t| whole_words(t, "action");
        assert_eq!(count("permit(principal, action, resource);"), 1);
        assert_eq!(
            count(
                "@reason(\"any action\") permit(principal, action == Action::\"a\", resource) when { context.action_kind == \"action\" }; // action"
            ),
            1
        );
        assert_eq!(
            count("permit(principal, action, resource) when { action == Action::\"a\" };"),
            2
        );
        assert_eq!(
            count("permit(principal,action,resource) when { context.action };"),
            2
        );
    }
}
