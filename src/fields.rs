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
        Some(Value::String(s)) => trimmed(s),
        Some(Value::Number(n)) => Ok(Cow::Owned(number_text(n))),
        Some(other) => Err(FieldProblem::WrongType(type_name(other))),
    }
}

/// A string field as text: trimmed, and never empty.
fn trimmed(s: &str) -> Result<Cow<'_, str>, FieldProblem> {
    match s.trim() {
        "" => Err(FieldProblem::Empty),
        t => Ok(Cow::Borrowed(t)),
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

/// Reads the named top-level fields of a request body, wherever they are held.
/// What the scenario engine's `fields` matchers read through.
pub(crate) trait Fields: std::fmt::Debug {
    /// The field as [`text`] reads it, borrowed where it can be; `None`
    /// where [`text`] fails.
    fn text_ref(&self, name: &str) -> Option<Cow<'_, str>>;
}

impl Fields for Map<String, Value> {
    fn text_ref(&self, name: &str) -> Option<Cow<'_, str>> {
        text_ref(self, name)
    }
}

/// A field's value as [`text`] reads it, borrowed where it can be; `None`
/// where [`text`] fails. For a [`Fields`] reader holding JSON values.
pub(crate) fn value_text(value: Option<&Value>) -> Option<Cow<'_, str>> {
    borrowed_text(value).ok()
}

/// A JSON object's fields, in the body's order, with strings borrowed from
/// the body wherever JSON allows (no escapes); a nested object keeps its
/// fields the same way, an array only its type.
///
/// What a handler on a hot path reads its request from: no tree of owned
/// values is built and no field name is copied. A field named twice reads
/// as its last value, as a parsed [`Map`] would.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Object<'a> {
    fields: Vec<(Cow<'a, str>, Field<'a>)>,
}

/// One field of an [`Object`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Field<'a> {
    Null,
    Bool,
    Number(serde_json::Number),
    Text(Cow<'a, str>),
    Array,
    Object(Object<'a>),
}

impl Field<'_> {
    /// The name of the field's type, as [`type_name`] says it.
    fn type_name(&self) -> &'static str {
        match self {
            Field::Null => "null",
            Field::Bool => "a boolean",
            Field::Number(_) => "a number",
            Field::Text(_) => "a string",
            Field::Array => "an array",
            Field::Object(_) => "an object",
        }
    }

    /// The field as [`text`] reads a JSON value.
    fn text(&self) -> Result<Cow<'_, str>, FieldProblem> {
        match self {
            Field::Null => Err(FieldProblem::Missing),
            Field::Text(s) => trimmed(s),
            Field::Number(n) => Ok(Cow::Owned(number_text(n))),
            other => Err(FieldProblem::WrongType(other.type_name())),
        }
    }
}

/// Why a body is not an [`Object`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NotAnObject {
    /// Valid JSON of another type (its name, as [`type_name`] says it).
    Other(&'static str),
    /// Not JSON: serde_json's words, with line and column.
    Malformed(String),
}

/// The fields a request body's own object has room for from the start.
const TOP_LEVEL_FIELDS: usize = 16;

/// What `serde_json::from_slice` does, with room made for the body's fields
/// at once (the gateways' bodies have up to about sixteen).
fn read_object<'de, R: serde_json::de::Read<'de>>(
    mut deserializer: serde_json::Deserializer<R>,
) -> Result<Field<'de>, serde_json::Error> {
    serde::Deserializer::deserialize_any(&mut deserializer, FieldVisitor { capacity: TOP_LEVEL_FIELDS })
        .and_then(|field| deserializer.end().map(|()| field))
}

impl<'a> Object<'a> {
    /// Reads a body that must be one JSON object, exactly as
    /// `serde_json::from_slice::<Value>` would accept or refuse it (its
    /// nesting limit included: every value is read through `deserialize_any`).
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Object<'a>, NotAnObject> {
        // A body that is UTF-8 as a whole (checked once, which is cheaper
        // than checking each string as the byte reader does) is read as
        // text, with the same results; any other as bytes, so it is refused
        // where and as `from_slice` refuses it.
        let read = match std::str::from_utf8(bytes) {
            Ok(text) => read_object(serde_json::Deserializer::from_str(text)),
            Err(_) => read_object(serde_json::Deserializer::from_slice(bytes)),
        };
        match read {
            Ok(Field::Object(object)) => Ok(object),
            Ok(other) => Err(NotAnObject::Other(other.type_name())),
            Err(e) => Err(NotAnObject::Malformed(e.to_string())),
        }
    }

    /// The field's last value.
    pub(crate) fn get(&self, name: &str) -> Option<&Field<'a>> {
        self.fields.iter().rev().find(|(n, _)| n == name).map(|(_, f)| f)
    }

    /// The field as [`text`] reads it, taken out of the object (it reads as
    /// missing afterwards), borrowed from the body where it can be.
    pub(crate) fn take_text(&mut self, name: &str) -> Result<Cow<'a, str>, FieldProblem> {
        let Some((_, field)) = self.fields.iter_mut().rev().find(|(n, _)| n == name) else {
            return Err(FieldProblem::Missing);
        };
        match std::mem::replace(field, Field::Null) {
            Field::Text(Cow::Borrowed(s)) => trimmed(s),
            other => other.text().map(|t| Cow::Owned(t.into_owned())),
        }
    }

    /// Like [`Object::take_text`], but a missing, null or empty field is `None`.
    pub(crate) fn take_optional_text(&mut self, name: &str) -> Result<Option<Cow<'a, str>>, FieldProblem> {
        match self.take_text(name) {
            Ok(s) => Ok(Some(s)),
            Err(FieldProblem::Missing | FieldProblem::Empty) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl Fields for Object<'_> {
    fn text_ref(&self, name: &str) -> Option<Cow<'_, str>> {
        self.get(name)?.text().ok()
    }
}

/// A field name, borrowed from the body unless it has escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Key<'de>, D::Error> {
        struct KeyVisitor;
        impl<'de> serde::de::Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

impl<'de> serde::Deserialize<'de> for Field<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Field<'de>, D::Error> {
        deserializer.deserialize_any(FieldVisitor { capacity: 0 })
    }
}

/// Reads one value; an object's fields into a list made with room for
/// `capacity` of them.
struct FieldVisitor {
    capacity: usize,
}

impl<'de> serde::de::Visitor<'de> for FieldVisitor {
    type Value = Field<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Field<'de>, E> {
        Ok(Field::Null)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Field<'de>, E> {
        Ok(Field::Bool)
    }

    fn visit_i64<E>(self, n: i64) -> Result<Field<'de>, E> {
        Ok(Field::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Field<'de>, E> {
        Ok(Field::Number(n.into()))
    }

    fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Field<'de>, E> {
        // serde_json reads no NaN or infinity, so this always holds.
        serde_json::Number::from_f64(n).map(Field::Number).ok_or_else(|| E::custom("a number that is not finite"))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Field<'de>, E> {
        Ok(Field::Text(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Field<'de>, E> {
        Ok(Field::Text(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Field<'de>, E> {
        Ok(Field::Text(Cow::Owned(s)))
    }

    /// An array's elements are read (so a malformed or too deeply nested
    /// one is refused as a tree would refuse it) and dropped.
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Field<'de>, A::Error> {
        while seq.next_element::<Field<'de>>()?.is_some() {}
        Ok(Field::Array)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Field<'de>, A::Error> {
        // serde_json gives no size hint; a guess is made for the body's own
        // object only (see `Object::parse`), never paid by nested ones.
        let mut fields = Vec::with_capacity(self.capacity);
        while let Some(Key(name)) = map.next_key::<Key<'de>>()? {
            fields.push((name, map.next_value::<Field<'de>>()?));
        }
        Ok(Field::Object(Object { fields }))
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

    /// Every field of `json` read from an [`Object`] and from a parsed [`Map`].
    fn read_both_ways(json: &str) {
        let map = match serde_json::from_str::<Value>(json) {
            Ok(Value::Object(map)) => map,
            other => panic!("{json} is an object: {other:?}"),
        };
        let bytes = json.as_bytes();
        let object = Object::parse(bytes).expect("an object");
        let names = map.keys().map(String::as_str).chain(["missing"]);
        for name in names {
            assert_eq!(Fields::text_ref(&object, name), text_ref(&map, name), "{name} in {json}");
            let mut taken = Object::parse(bytes).expect("an object");
            assert_eq!(taken.take_text(name).map(Cow::into_owned), text(&map, name), "{name} in {json}");
            assert_eq!(taken.take_text(name), Err(FieldProblem::Missing), "{name} is taken out of {json}");
            let mut taken = Object::parse(bytes).expect("an object");
            let optional = taken.take_optional_text(name).map(|t| t.map(Cow::into_owned));
            assert_eq!(optional, optional_text(&map, name), "{name} in {json}");
        }
    }

    #[test]
    fn an_object_reads_every_field_as_a_parsed_map_does() {
        read_both_ways(
            r#"{"a": "plain", "b": "  padded ", "c": "", "d": "   ", "e": 174379, "f": 1.0, "g": null,
                "h": [1, [2]], "i": true, "j": {"k": {}}, "l": "esc\"aped ", "m": -5, "n": 1.5e3, "o": 1e-2,
                "p": 18446744073709551615, "\u0071": "escaped name", "r": "first", "r": "last", "s": 1, "s": null}"#,
        );
        read_both_ways("{}");
    }

    #[test]
    fn an_object_refuses_what_a_parsed_map_refuses_with_the_same_words() {
        for json in ["[1]", "1", "\"s\"", "true", "null", "", "{", "{\"a\":}", "{} x", "{\"a\": 1e400}", "{\"a\" 1}"] {
            let expected = match serde_json::from_str::<Value>(json) {
                Ok(Value::Object(_)) => panic!("{json} is not an object"),
                Ok(other) => NotAnObject::Other(type_name(&other)),
                Err(e) => NotAnObject::Malformed(e.to_string()),
            };
            assert_eq!(Object::parse(json.as_bytes()).err(), Some(expected), "{json}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_as_a_parsed_map_refuses_it() {
        for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
            // Nested in a field, at the top, and just within the limit.
            let inner = format!("{}1{}", open.repeat(100_000), close.repeat(100_000));
            let within = format!("{{\"a\": {}1{}}}", open.repeat(100), close.repeat(100));
            assert!(Object::parse(within.as_bytes()).is_ok(), "{within}");
            for json in [format!("{{\"a\": {inner}}}"), inner] {
                let expected = serde_json::from_str::<Value>(&json).map(|_| ()).map_err(|e| e.to_string());
                assert!(expected.is_err(), "serde_json refuses nesting this deep");
                let got = Object::parse(json.as_bytes()).map(|_| ());
                assert_eq!(
                    got.map_err(|e| format!("{e:?}")),
                    expected.map_err(|e| format!("{:?}", NotAnObject::Malformed(e)))
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn an_object_agrees_with_a_parsed_map_on_any_text(json in r#"\{("[a-c\\]{0,2}": ?(-?[0-9.e]{1,4}|"[ a-c\\"]{0,3}"|null|true|\[\]|\{\}), ?){0,4}"[a-c]": ?[0-9"a]{0,3}\}"#) {
            match serde_json::from_str::<Value>(&json) {
                Ok(Value::Object(_)) => read_both_ways(&json),
                Ok(other) => proptest::prop_assert_eq!(Object::parse(json.as_bytes()).err(), Some(NotAnObject::Other(type_name(&other)))),
                Err(e) => proptest::prop_assert_eq!(Object::parse(json.as_bytes()).err(), Some(NotAnObject::Malformed(e.to_string()))),
            }
        }
    }

    /// What `serde_json::from_slice::<Value>` says of `bytes`, as [`Object::parse`] words it.
    fn as_from_slice(bytes: &[u8]) -> Option<NotAnObject> {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(_)) => None,
            Ok(other) => Some(NotAnObject::Other(type_name(&other))),
            Err(e) => Some(NotAnObject::Malformed(e.to_string())),
        }
    }

    #[test]
    fn a_body_that_is_not_utf8_is_refused_as_the_byte_reader_refuses_it() {
        let bodies: [&[u8]; 6] = [
            b"{\"a\": \"\xff\"}",
            b"{\"\xc3\": 1}",
            b"{\"a\": 1}\xff",
            b"{\"a\": \"\xed\xa0\x80\"}",
            b"\xef\xbb\xbf{}",
            b"{\"caf\xc3\xa9\": \"\xc3\xa9\"}",
        ];
        for bytes in bodies {
            assert_eq!(Object::parse(bytes).err(), as_from_slice(bytes), "{bytes:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn an_object_agrees_with_the_byte_reader_on_any_bytes(
            bytes in proptest::collection::vec(proptest::sample::select(b"{}[]\":, a1\\\xff\xc3\xa9\xed\xa0".to_vec()), 0..14)
        ) {
            proptest::prop_assert_eq!(Object::parse(&bytes).err(), as_from_slice(&bytes));
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
