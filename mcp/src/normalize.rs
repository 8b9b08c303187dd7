//! Argument normalisation, applied before a call is decided and to what is forwarded.
//!
//! Deciding on `/srv/public/../secret/key` while a policy forbids `/srv/secret/*` would let `..`
//! walk around the forbid. The gateway resolves the path lexically, decides on the result and
//! forwards that same result, so what was decided is exactly what the server is asked to do.

use serde_json::Value;

use crate::config::Normalize;

/// An argument that cannot be normalised; the call is denied with this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NormalizeError {
    /// Paths must be strings (or lists of strings).
    #[error("argument `{0}` must be a path string")]
    NotText(String),
    /// A relative path would be resolved by the server against a folder the policy never sees.
    #[error("argument `{0}`: `{1}` is not an absolute path")]
    Relative(String, String),
    /// `~` is expanded by some servers to a home folder the policy never sees.
    #[error("argument `{0}`: `{1}` starts with `~`, which the server would expand")]
    Home(String, String),
    /// A NUL byte, which no file system path holds.
    #[error("argument `{0}` holds a NUL character")]
    Nul(String),
}

/// Normalises `value` (the argument `name`) in place.
pub fn normalize(name: &str, how: Normalize, value: &mut Value) -> Result<(), NormalizeError> {
    match (how, value) {
        (Normalize::Path, Value::String(s)) => {
            *s = path(name, s)?;
            Ok(())
        }
        (Normalize::Path, Value::Array(items)) => {
            for item in items {
                match item {
                    Value::String(s) => *s = path(name, s)?,
                    _ => return Err(NormalizeError::NotText(name.to_string())),
                }
            }
            Ok(())
        }
        (Normalize::Path, _) => Err(NormalizeError::NotText(name.to_string())),
    }
}

/// `/a/./b//c/../d/` → `/a/b/d`; `..` never climbs above `/`.
fn path(name: &str, text: &str) -> Result<String, NormalizeError> {
    if text.contains('\0') {
        return Err(NormalizeError::Nul(name.to_string()));
    }
    if text.starts_with('~') {
        return Err(NormalizeError::Home(name.to_string(), text.to_string()));
    }
    if !text.starts_with('/') {
        return Err(NormalizeError::Relative(name.to_string(), text.to_string()));
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    Ok(format!("/{}", parts.join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn norm(v: Value) -> Result<Value, NormalizeError> {
        let mut v = v;
        normalize("path", Normalize::Path, &mut v).map(|()| v)
    }

    #[test]
    fn resolves_dots_and_slashes_without_climbing_above_root() {
        for (given, want) in [
            ("/srv/public/../secret/key", "/srv/secret/key"),
            ("//srv///a/./b/", "/srv/a/b"),
            ("/../../etc/passwd", "/etc/passwd"),
            ("/", "/"),
            ("/a/..", "/"),
            ("/a/...", "/a/..."),
        ] {
            assert_eq!(norm(json!(given)), Ok(json!(want)), "{given}");
        }
        assert_eq!(norm(json!(["/a/../b", "/c//d"])), Ok(json!(["/b", "/c/d"])));
    }

    #[test]
    fn refuses_what_it_cannot_resolve() {
        assert!(matches!(
            norm(json!("secret/key")),
            Err(NormalizeError::Relative(..))
        ));
        assert!(matches!(
            norm(json!("../x")),
            Err(NormalizeError::Relative(..))
        ));
        assert!(matches!(norm(json!("~/x")), Err(NormalizeError::Home(..))));
        assert!(matches!(norm(json!("/a\0b")), Err(NormalizeError::Nul(_))));
        assert!(matches!(norm(json!(3)), Err(NormalizeError::NotText(_))));
        assert!(matches!(
            norm(json!(["/a", 1])),
            Err(NormalizeError::NotText(_))
        ));
    }
}
