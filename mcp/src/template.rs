//! Structural templates over a tool call's arguments.
//!
//! `File::"{path}"` takes the argument's *value* as the entity id: the text is never re-parsed
//! as Cedar, so an argument holding `"` or `::` cannot change which entity or type is named.
//! In a context, a string that is exactly `{name}` becomes the argument's value with its JSON
//! type; placeholders inside other text join string, integer or boolean values into a string.
//! `{{` and `}}` are literal braces.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use tollgate_engine::EntityRef;

/// A template that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// Not `Type::"id"`.
    #[error("`{0}` is not an entity template like `File::\"{{path}}\"`")]
    NotEntity(String),
    /// The type part is not a Cedar entity type.
    #[error("`{0}` is not an entity type")]
    BadType(String),
    /// An unbalanced brace or an empty or odd placeholder name.
    #[error(
        "`{0}`: placeholders are `{{name}}` (letters, digits, `_`, `-`); write `{{{{` and `}}}}` for braces"
    )]
    BadPlaceholder(String),
    /// `"` or `\` in an entity id template: ids are taken as they are, with no escapes.
    #[error("`{0}`: an entity id template cannot hold `\"` or `\\`")]
    Escape(String),
    /// A value Cedar cannot hold.
    #[error("{0} cannot be a Cedar value (Cedar has no fractional numbers and no null)")]
    NotCedar(String),
}

/// Why a template could not be filled from a call's arguments. The call is denied with this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FillError {
    /// The call has no such argument.
    #[error("argument `{0}` is missing")]
    Missing(String),
    /// The argument holds a value Cedar cannot (a fractional number or null, anywhere in it).
    #[error("argument `{0}` holds a value Cedar cannot (a fractional number or null)")]
    NotCedar(String),
    /// A placeholder inside text needs a string, integer or boolean.
    #[error("argument `{0}` must be a string, integer or boolean to be part of a text")]
    NotText(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Arg(String),
}

/// Text with placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextTemplate(Vec<Piece>);

impl TextTemplate {
    fn parse(text: &str) -> Result<Self, TemplateError> {
        let bad = || TemplateError::BadPlaceholder(text.to_string());
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) if c.is_ascii_alphanumeric() || c == '_' || c == '-' => {
                                name.push(c)
                            }
                            _ => return Err(bad()),
                        }
                    }
                    if name.is_empty() {
                        return Err(bad());
                    }
                    if !literal.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Arg(name));
                }
                '}' => return Err(bad()),
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(Self(pieces))
    }

    fn fixed(text: &str) -> Self {
        Self(vec![Piece::Text(text.to_string())])
    }

    /// The single placeholder this text is made of, if it is exactly one.
    fn only_arg(&self) -> Option<&str> {
        match self.0.as_slice() {
            [Piece::Arg(name)] => Some(name),
            _ => None,
        }
    }

    fn has_args(&self) -> bool {
        self.0.iter().any(|p| matches!(p, Piece::Arg(_)))
    }

    fn literals(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|p| match p {
            Piece::Text(t) => Some(t.as_str()),
            Piece::Arg(_) => None,
        })
    }

    fn fill(&self, args: &Map<String, Value>) -> Result<String, FillError> {
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Arg(name) => match args.get(name) {
                    None => return Err(FillError::Missing(name.clone())),
                    Some(Value::String(s)) => out.push_str(s),
                    Some(Value::Bool(b)) => out.push_str(if *b { "true" } else { "false" }),
                    Some(Value::Number(n)) if n.is_i64() || n.is_u64() => {
                        out.push_str(&n.to_string())
                    }
                    Some(Value::Number(_) | Value::Null) => {
                        return Err(FillError::NotCedar(name.clone()));
                    }
                    Some(_) => return Err(FillError::NotText(name.clone())),
                },
            }
        }
        Ok(out)
    }
}

/// `Type::"id"`, the id a text template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityTemplate {
    type_name: String,
    id: TextTemplate,
}

impl EntityTemplate {
    /// Parses `Type::"text with {placeholders}"`.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let not_entity = || TemplateError::NotEntity(text.to_string());
        let (type_name, rest) = text.trim().split_once("::\"").ok_or_else(not_entity)?;
        let id = rest.strip_suffix('"').ok_or_else(not_entity)?;
        if id.contains('"') || id.contains('\\') {
            return Err(TemplateError::Escape(text.to_string()));
        }
        let id = TextTemplate::parse(id)?;
        // The type is checked once here by the engine's own reader.
        EntityRef::from_json(&json!({"type": type_name, "id": "x"}), "template")
            .map_err(|_| TemplateError::BadType(type_name.to_string()))?;
        Ok(Self {
            type_name: type_name.to_string(),
            id,
        })
    }

    /// A fixed entity.
    pub fn fixed(type_name: &str, id: &str) -> Self {
        Self {
            type_name: type_name.to_string(),
            id: TextTemplate::fixed(id),
        }
    }

    /// `Type::"{arg}"`.
    pub fn argument(type_name: &str, arg: &str) -> Self {
        Self {
            type_name: type_name.to_string(),
            id: TextTemplate(vec![Piece::Arg(arg.to_string())]),
        }
    }

    /// `{"type": T, "id": I}` with the arguments' values as they are.
    pub fn fill(&self, args: &Map<String, Value>) -> Result<Value, FillError> {
        Ok(json!({"type": self.type_name, "id": self.id.fill(args)?}))
    }
}

/// A context value: JSON whose strings may hold placeholders.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueTemplate {
    /// A fixed value.
    Fixed(Value),
    /// Exactly `{name}`: the argument's value, with its JSON type.
    Arg(String),
    /// A string with placeholders in it.
    Text(TextTemplate),
    /// A list of templates.
    List(Vec<ValueTemplate>),
    /// A record of templates.
    Record(BTreeMap<String, ValueTemplate>),
}

impl ValueTemplate {
    /// Parses a YAML/JSON value.
    pub fn parse(value: &Value) -> Result<Self, TemplateError> {
        Ok(match value {
            Value::String(s) => {
                let text = TextTemplate::parse(s)?;
                if let Some(name) = text.only_arg() {
                    Self::Arg(name.to_string())
                } else if text.has_args() {
                    Self::Text(text)
                } else {
                    Self::Fixed(Value::String(text.literals().collect()))
                }
            }
            Value::Null => return Err(TemplateError::NotCedar("null".into())),
            Value::Number(n) if !(n.is_i64() || n.is_u64()) => {
                return Err(TemplateError::NotCedar(n.to_string()));
            }
            Value::Number(_) | Value::Bool(_) => Self::Fixed(value.clone()),
            Value::Array(items) => {
                Self::List(items.iter().map(Self::parse).collect::<Result<_, _>>()?)
            }
            Value::Object(map) => Self::Record(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), Self::parse(v)?)))
                    .collect::<Result<_, TemplateError>>()?,
            ),
        })
    }

    /// The value for one call.
    pub fn fill(&self, args: &Map<String, Value>) -> Result<Value, FillError> {
        Ok(match self {
            Self::Fixed(v) => v.clone(),
            Self::Arg(name) => {
                let value = args
                    .get(name)
                    .ok_or_else(|| FillError::Missing(name.clone()))?;
                if !cedar_can_hold(value) {
                    return Err(FillError::NotCedar(name.clone()));
                }
                value.clone()
            }
            Self::Text(text) => Value::String(text.fill(args)?),
            Self::List(items) => Value::Array(
                items
                    .iter()
                    .map(|t| t.fill(args))
                    .collect::<Result<_, _>>()?,
            ),
            Self::Record(map) => Value::Object(
                map.iter()
                    .map(|(k, t)| Ok((k.clone(), t.fill(args)?)))
                    .collect::<Result<_, FillError>>()?,
            ),
        })
    }
}

/// Whether a JSON value has a Cedar counterpart: no null and no fractional number anywhere.
pub fn cedar_can_hold(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Number(n) => n.is_i64() || n.is_u64(),
        Value::Bool(_) | Value::String(_) => true,
        Value::Array(items) => items.iter().all(cedar_can_hold),
        Value::Object(map) => map.values().all(cedar_can_hold),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn entity_ids_take_the_value_as_it_is() {
        let t = EntityTemplate::parse(r#"File::"{path}""#).unwrap();
        let hostile = r#"/x" , Admin::"root"#;
        assert_eq!(
            t.fill(&args(json!({"path": hostile}))),
            Ok(json!({"type": "File", "id": hostile}))
        );
        let t = EntityTemplate::parse(r#"Ns::Repo::"{owner}/{name}""#).unwrap();
        assert_eq!(
            t.fill(&args(json!({"owner": "a", "name": "b"}))),
            Ok(json!({"type": "Ns::Repo", "id": "a/b"}))
        );
    }

    #[test]
    fn entity_templates_refuse_escapes_and_bad_types() {
        assert!(matches!(
            EntityTemplate::parse(r#"File::"a\"b""#),
            Err(TemplateError::Escape(_))
        ));
        assert!(matches!(
            EntityTemplate::parse(r#"1File::"x""#),
            Err(TemplateError::BadType(_))
        ));
        assert!(matches!(
            EntityTemplate::parse("File"),
            Err(TemplateError::NotEntity(_))
        ));
        assert!(matches!(
            EntityTemplate::parse(r#"File::"{""#),
            Err(TemplateError::BadPlaceholder(_))
        ));
        assert!(matches!(
            EntityTemplate::parse(r#"File::"{}""#),
            Err(TemplateError::BadPlaceholder(_))
        ));
    }

    #[test]
    fn context_values_keep_their_type_and_refuse_what_cedar_cannot_hold() {
        let t = ValueTemplate::parse(
            &json!({"path": "{path}", "n": "{n}", "label": "f:{path}", "braces": "{{x}}", "k": 3}),
        )
        .unwrap();
        assert_eq!(
            t.fill(&args(json!({"path": "/a", "n": 7}))),
            Ok(json!({"path": "/a", "n": 7, "label": "f:/a", "braces": "{x}", "k": 3}))
        );
        assert_eq!(
            t.fill(&args(json!({"path": "/a", "n": 0.5}))),
            Err(FillError::NotCedar("n".into()))
        );
        assert_eq!(
            t.fill(&args(json!({"path": "/a", "n": [1, null]}))),
            Err(FillError::NotCedar("n".into()))
        );
        assert_eq!(
            t.fill(&args(json!({"n": 1}))),
            Err(FillError::Missing("path".into()))
        );
        assert_eq!(
            ValueTemplate::parse(&json!({"label": "x{p}"}))
                .unwrap()
                .fill(&args(json!({"p": [1]}))),
            Err(FillError::NotText("p".into()))
        );
        assert!(ValueTemplate::parse(&json!(1.5)).is_err());
        assert!(ValueTemplate::parse(&json!(null)).is_err());
    }
}
