//! Lenient reading of JSON request fields, as the real gateways read them.
//!
//! Real clients send the same field as a string, an integer or a float
//! (`"174379"`, `174379`, `174379.0`); the gateways accept all of them.
//! These helpers turn a field into text the way a gateway would, and report
//! precisely what was wrong when they cannot.
//! Provider modules decide which error code a failure maps to.

use std::borrow::Cow;

use serde_json::{Map, Value};

/// What was wrong with one field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FieldProblem {
    #[error("is missing")]
    Missing,
    #[error("is empty")]
    Empty,
    #[error("must be a string or a number, got {0}")]
    WrongType(&'static str),
}

/// A field's value as text: strings as they are (trimmed), integers in
/// decimal, floats without a fractional part as integers, other floats as
/// written.
pub(crate) fn text(body: &Map<String, Value>, name: &str) -> Result<String, FieldProblem> {
    text_of(body.get(name))
}

/// Like [`text`], taking the field out of the body: a string that needs no
/// trimming is handed over as it is, without a copy. For a parser that
/// reads each field once and owns the body.
pub(crate) fn take_text(body: &mut Map<String, Value>, name: &str) -> Result<String, FieldProblem> {
    match body.remove(name) {
        Some(Value::String(s)) if !s.is_empty() && s.trim().len() == s.len() => Ok(s),
        other => text_of(other.as_ref()),
    }
}

/// Like [`optional_text`], taking the field out of the body as [`take_text`] does.
pub(crate) fn take_optional_text(body: &mut Map<String, Value>, name: &str) -> Result<Option<String>, FieldProblem> {
    optional(take_text(body, name))
}

fn text_of(value: Option<&Value>) -> Result<String, FieldProblem> {
    borrowed_text(value).map(Cow::into_owned)
}

/// Like [`text`], borrowing a string field instead of copying it; `None`
/// where [`text`] fails. What the scenario gate reads on every request.
pub(crate) fn text_ref<'a>(body: &'a Map<String, Value>, name: &str) -> Option<Cow<'a, str>> {
    borrowed_text(body.get(name)).ok()
}

/// The one reading every function here shares: a string trimmed (borrowed),
/// a number written out.
fn borrowed_text(value: Option<&Value>) -> Result<Cow<'_, str>, FieldProblem> {
    match value {
        None | Some(Value::Null) => Err(FieldProblem::Missing),
        Some(Value::String(s)) if s.trim().is_empty() => Err(FieldProblem::Empty),
        Some(Value::String(s)) => Ok(Cow::Borrowed(s.trim())),
        Some(Value::Number(n)) => Ok(Cow::Owned(number_text(n))),
        Some(other) => Err(FieldProblem::WrongType(type_name(other))),
    }
}

/// Like [`text`], but a missing, null or empty field is `None`.
pub(crate) fn optional_text(body: &Map<String, Value>, name: &str) -> Result<Option<String>, FieldProblem> {
    optional(text(body, name))
}

fn optional(text: Result<String, FieldProblem>) -> Result<Option<String>, FieldProblem> {
    match text {
        Ok(s) => Ok(Some(s)),
        Err(FieldProblem::Missing | FieldProblem::Empty) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The name of a JSON value's type, for diagnoses.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn number_text(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        _ => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn taking_or_borrowing_a_field_reads_it_as_text_does() {
        let body = json!({
            "a": "plain", "b": "  padded ", "c": "", "d": "   ", "e": 174379, "f": 1.0, "g": null, "h": [1], "i": true,
        });
        let body = body.as_object().cloned().unwrap_or_default();
        for name in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "missing"] {
            let mut taken = body.clone();
            assert_eq!(take_text(&mut taken, name), text(&body, name), "{name}");
            assert!(!taken.contains_key(name), "{name} is taken out");
            let mut taken = body.clone();
            assert_eq!(take_optional_text(&mut taken, name), optional_text(&body, name), "{name}");
            assert_eq!(text_ref(&body, name).map(Cow::into_owned), text(&body, name).ok(), "{name}");
        }
    }

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn strings_integers_and_whole_floats_read_the_same() {
        for v in [json!("174379"), json!(174379), json!(174379.0), json!(" 174379 ")] {
            assert_eq!(text(&body(json!({ "F": v })), "F").unwrap(), "174379");
        }
        assert_eq!(text(&body(json!({ "F": 1.5 })), "F").unwrap(), "1.5");
    }

    #[test]
    fn missing_empty_and_wrong_types_are_told_apart() {
        let b = body(json!({ "E": "", "N": null, "B": true, "O": {} }));
        assert_eq!(text(&b, "X"), Err(FieldProblem::Missing));
        assert_eq!(text(&b, "N"), Err(FieldProblem::Missing));
        assert_eq!(text(&b, "E"), Err(FieldProblem::Empty));
        assert_eq!(text(&b, "B"), Err(FieldProblem::WrongType("a boolean")));
        assert_eq!(optional_text(&b, "E"), Ok(None));
        assert_eq!(optional_text(&b, "O"), Err(FieldProblem::WrongType("an object")));
    }
}
