//! Request parameters as Pesaflow's Phoenix server sees them.
//!
//! Live integrations post the same endpoints as form data or as JSON and both
//! work, so every parser reads a [`Params`] built from either.
//! Unlike [`crate::fields`], values are never trimmed or re-spelled: a hashed
//! field must reach the hash exactly as sent.
//! A JSON number becomes its JSON text (`100`, `100.5`), a boolean `true` or
//! `false`; `null` counts as missing.
//! When a field is repeated in a form, the last one wins, as in Plug.
//!
//! [`Params::to_elixir`] renders the parameters the way Pesaflow's 422 body
//! prints them (`%{"amountExpected" => "100.00", …}`).

use serde_json::{Map, Value};
use url::form_urlencoded;

use super::amount::{Amount, AmountProblem, Currency};
pub(crate) use crate::fields::FieldProblem as Shape;

/// The parameters of one request, in arrival order.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Params {
    entries: Vec<(String, Value)>,
}

/// Why a body could not be read as parameters at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BodyError {
    /// The body claims to be JSON but does not parse.
    #[error("the body is not valid JSON: {0}")]
    NotJson(String),
    /// The JSON is valid but not an object.
    #[error("the JSON body must be an object, got {0}")]
    NotAnObject(&'static str),
}

/// One field that is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {problem}")]
pub(crate) struct FieldError {
    /// The field as the client must spell it (`items[0].price` inside arrays).
    pub(crate) field: String,
    pub(crate) problem: FieldProblem,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FieldProblem {
    /// Missing, empty, or not a scalar: the problems every provider shares.
    #[error(transparent)]
    Shape(#[from] Shape),
    #[error("{0}")]
    Amount(#[from] AmountProblem),
    #[error("is not a currency Pesaflow bills in: {0:?} (expected an upper-case code such as KES)")]
    UnknownCurrency(String),
    #[error("is not an absolute http(s) URL: {0:?}")]
    NotAUrl(String),
    #[error("is not a Kenyan mobile number (2547XXXXXXXX or 2541XXXXXXXX): {0:?}")]
    NotAPhoneNumber(String),
    #[error("must be true or false, got {0:?}")]
    NotABoolean(String),
    #[error("must be a date and time written {format}, got {given:?}")]
    NotADateTime { format: &'static str, given: String },
    #[error("must be one of {allowed}, got {given:?}")]
    NotOneOf { allowed: String, given: String },
    #[error("is not a JSON object: {0}")]
    NotAnObject(String),
    #[error("must be a whole number from {min} to {max}, got {given:?}")]
    OutOfRange { min: u64, max: u64, given: String },
    #[error("is not a Pesaflow field; Pesaflow spells it {expected}")]
    Misspelled { expected: &'static str },
    #[error("must be an array of objects")]
    NotAList,
}

impl FieldError {
    pub(crate) fn new(field: impl Into<String>, problem: FieldProblem) -> FieldError {
        FieldError { field: field.into(), problem }
    }
}

impl Params {
    /// `application/x-www-form-urlencoded`; bytes that are not UTF-8 become U+FFFD.
    pub(crate) fn from_form(body: &[u8]) -> Params {
        let entries =
            form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), Value::String(v.into_owned()))).collect();
        Params { entries }
    }

    /// A JSON object body.
    pub(crate) fn from_json(body: &[u8]) -> Result<Params, BodyError> {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(Params::from_object(map)),
            Ok(other) => Err(BodyError::NotAnObject(type_name(&other))),
            Err(e) => Err(BodyError::NotJson(e.to_string())),
        }
    }

    pub(crate) fn from_object(map: Map<String, Value>) -> Params {
        Params { entries: map.into_iter().collect() }
    }

    /// JSON when the content type says so, or when it is absent and the body
    /// starts with `{`; form data otherwise (a browser form sends no JSON).
    pub(crate) fn from_body(content_type: Option<&str>, body: &[u8]) -> Result<Params, BodyError> {
        let json = match content_type {
            Some(ct) => ct.to_ascii_lowercase().contains("json"),
            None => body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{'),
        };
        if json {
            Params::from_json(body)
        } else {
            Ok(Params::from_form(body))
        }
    }

    /// The field's value; the last one when a form repeats it.
    pub(crate) fn get(&self, name: &str) -> Option<&Value> {
        self.entries.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// Adds the parameters of `other` that this one lacks (a status query's
    /// fields sent in a body rather than the query string).
    pub(crate) fn fill_from(&mut self, other: Params) {
        for (name, value) in other.entries {
            if self.get(&name).is_none() {
                self.entries.push((name, value));
            }
        }
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A required field as sent: missing, `null` and empty are refused.
    /// Whitespace-only counts as empty, but other text is kept untrimmed.
    pub(crate) fn required(&self, name: &str) -> Result<String, FieldError> {
        match self.optional(name)? {
            Some(text) => Ok(text),
            None => match self.get(name) {
                None | Some(Value::Null) => Err(FieldError::new(name, Shape::Missing.into())),
                Some(_) => Err(FieldError::new(name, Shape::Empty.into())),
            },
        }
    }

    /// An optional field: missing, `null`, empty or blank is `None`.
    pub(crate) fn optional(&self, name: &str) -> Result<Option<String>, FieldError> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => match value_text(value) {
                Some(text) if text.trim().is_empty() => Ok(None),
                Some(text) => Ok(Some(text)),
                None => Err(FieldError::new(name, Shape::WrongType(type_name(value)).into())),
            },
        }
    }

    pub(crate) fn amount(&self, name: &str) -> Result<Amount, FieldError> {
        let text = self.required(name)?;
        Amount::parse(&text).map_err(|p| FieldError::new(name, p.into()))
    }

    pub(crate) fn currency(&self, name: &str) -> Result<Currency, FieldError> {
        let text = self.required(name)?;
        Currency::parse(&text).ok_or_else(|| FieldError::new(name, FieldProblem::UnknownCurrency(text)))
    }

    /// `true`, `"true"`, `"True"`, `"1"`, `"yes"`, `"on"` are true;
    /// `false`, `"false"`, `"0"`, `"no"`, `"off"` and absence are false.
    pub(crate) fn flag(&self, name: &str) -> Result<bool, FieldError> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(value) => {
                let text = value_text(value)
                    .ok_or_else(|| FieldError::new(name, Shape::WrongType(type_name(value)).into()))?;
                match text.trim().to_ascii_lowercase().as_str() {
                    "true" | "1" | "yes" | "on" => Ok(true),
                    "false" | "0" | "no" | "off" | "" => Ok(false),
                    _ => Err(FieldError::new(name, FieldProblem::NotABoolean(text))),
                }
            }
        }
    }

    /// An optional absolute `http`/`https` URL.
    pub(crate) fn url(&self, name: &str) -> Result<Option<String>, FieldError> {
        match self.optional(name)? {
            Some(text) => url_field(name, text).map(Some),
            None => Ok(None),
        }
    }

    /// The parameters as Elixir's `inspect` prints a map of them: keys sorted
    /// by their bytes, strings quoted and escaped, long strings cut the way
    /// `inspect` cuts them. `extra` adds entries the server adds itself.
    pub(crate) fn to_elixir(&self, extra: &[(&str, Value)]) -> String {
        let mut map: std::collections::BTreeMap<&str, &Value> = std::collections::BTreeMap::new();
        for (k, v) in &self.entries {
            map.insert(k, v);
        }
        for (k, v) in extra {
            map.insert(k, v);
        }
        elixir_map(map.into_iter())
    }
}

/// `text` if it is an absolute `http`/`https` URL.
pub(crate) fn url_field(name: &str, text: String) -> Result<String, FieldError> {
    match url::Url::parse(text.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => Ok(text),
        _ => Err(FieldError::new(name, FieldProblem::NotAUrl(text))),
    }
}

/// A value as text, for scalar values only.
pub(crate) fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

pub(crate) fn type_name(value: &Value) -> &'static str {
    crate::fields::type_name(value)
}

/// Strings longer than this are cut, as Elixir's `inspect` does by default.
const ELIXIR_PRINTABLE_LIMIT: usize = 4096;

fn elixir_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    let mut count = 0;
    while let Some(c) = chars.next() {
        if count == ELIXIR_PRINTABLE_LIMIT {
            out.push_str("\" <> ...");
            return out;
        }
        count += 1;
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // `#{` would start an interpolation in Elixir source.
            '#' if chars.peek() == Some(&'{') => out.push_str("\\#"),
            c if c.is_control() => out.push_str(&format!("\\x{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn elixir_value(value: &Value) -> String {
    match value {
        Value::Null => "nil".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => elixir_string(s),
        Value::Array(items) => format!("[{}]", items.iter().map(elixir_value).collect::<Vec<_>>().join(", ")),
        // serde_json's map is ordered by key, as Elixir orders small maps.
        Value::Object(map) => elixir_map(map.iter().map(|(k, v)| (k.as_str(), v))),
    }
}

fn elixir_map<'a>(entries: impl Iterator<Item = (&'a str, &'a Value)>) -> String {
    let body: Vec<String> = entries.map(|(k, v)| format!("{} => {}", elixir_string(k), elixir_value(v))).collect();
    format!("%{{{}}}", body.join(", "))
}

/// What scenario matchers read any field by name through (the last of a
/// repeated field).
impl crate::fields::Fields for Params {
    fn text_ref(&self, name: &str) -> Option<std::borrow::Cow<'_, str>> {
        crate::fields::value_text(self.get(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn scenario_matchers_read_any_field_the_last_of_a_repeated_one() {
        use crate::fields::Fields;
        let form = Params::from_form(b"billRefNumber=A&billRefNumber=+B+&amountExpected=100");
        assert_eq!(form.text_ref("billRefNumber").as_deref(), Some("B"));
        let json = Params::from_json(br#"{"amountExpected": 100.0, "sendSTK": true}"#).unwrap();
        assert_eq!(json.text_ref("amountExpected").as_deref(), Some("100"));
        assert_eq!(json.text_ref("sendSTK"), None);
        assert_eq!(json.text_ref("missing"), None);
        let rule = crate::scenarios::Scenario::parse(
            "[[rules]]\nwhen = { provider = \"pesaflow\", fields = { billRefNumber = [\"B\"] } }\noutcome = { result_code = 1 }\n",
            "t.toml",
        )
        .unwrap();
        let facts = crate::scenarios::Facts { provider: "pesaflow", body: Some(&form), ..Default::default() };
        assert!(rule.rules[0].when.matches(&facts));
    }

    #[test]
    fn form_and_json_bodies_read_the_same() {
        let form = Params::from_form(b"apiClientID=588&amountExpected=100.00&sendSTK=true&billDesc=Fine+%26+fee");
        let json = Params::from_json(
            br#"{"apiClientID":"588","amountExpected":"100.00","sendSTK":true,"billDesc":"Fine & fee"}"#,
        )
        .unwrap();
        for params in [&form, &json] {
            assert_eq!(params.required("apiClientID").unwrap(), "588");
            assert_eq!(params.amount("amountExpected").unwrap().text(), "100.00");
            assert!(params.flag("sendSTK").unwrap());
            assert_eq!(params.required("billDesc").unwrap(), "Fine & fee");
        }
    }

    #[test]
    fn json_numbers_keep_their_json_spelling() {
        let params = Params::from_json(br#"{"a": 100, "b": 100.5, "c": 1e3}"#).unwrap();
        assert_eq!(params.required("a").unwrap(), "100");
        assert_eq!(params.required("b").unwrap(), "100.5");
        assert_eq!(params.required("c").unwrap(), "1000.0");
    }

    #[test]
    fn values_are_not_trimmed_but_blank_counts_as_empty() {
        let params = Params::from_form(b"name=+John+&blank=+&empty=");
        assert_eq!(params.required("name").unwrap(), " John ");
        assert_eq!(params.required("blank").unwrap_err().problem, FieldProblem::from(Shape::Empty));
        assert_eq!(params.required("empty").unwrap_err().problem, FieldProblem::from(Shape::Empty));
        assert_eq!(params.required("absent").unwrap_err().problem, FieldProblem::from(Shape::Missing));
        assert_eq!(params.optional("blank").unwrap(), None);
    }

    #[test]
    fn the_last_repeated_form_field_wins() {
        let params = Params::from_form(b"a=1&a=2");
        assert_eq!(params.required("a").unwrap(), "2");
    }

    #[test]
    fn wrong_types_and_bad_values_name_the_field() {
        let params =
            Params::from_json(br#"{"obj":{}, "list":[], "flag":"maybe", "url":"ftp://x", "cur":"kes"}"#).unwrap();
        assert_eq!(params.required("obj").unwrap_err().to_string(), "obj must be a string or a number, got an object");
        assert_eq!(params.required("list").unwrap_err().problem, FieldProblem::from(Shape::WrongType("an array")));
        assert_eq!(params.flag("flag").unwrap_err().problem, FieldProblem::NotABoolean("maybe".into()));
        assert_eq!(params.url("url").unwrap_err().problem, FieldProblem::NotAUrl("ftp://x".into()));
        assert_eq!(params.currency("cur").unwrap_err().problem, FieldProblem::UnknownCurrency("kes".into()));
    }

    #[test]
    fn the_body_kind_follows_the_content_type_or_the_first_byte() {
        assert!(Params::from_body(Some("application/json; charset=UTF-8"), b"{}").unwrap().is_empty());
        assert_eq!(Params::from_body(Some("application/json"), b"[1]"), Err(BodyError::NotAnObject("an array")));
        assert!(matches!(Params::from_body(Some("application/json"), b"{"), Err(BodyError::NotJson(_))));
        assert_eq!(Params::from_body(None, b" {\"a\":\"1\"}").unwrap().required("a").unwrap(), "1");
        assert_eq!(Params::from_body(None, b"a=1").unwrap().required("a").unwrap(), "1");
        assert_eq!(
            Params::from_body(Some("application/x-www-form-urlencoded"), b"a=1").unwrap().required("a").unwrap(),
            "1"
        );
    }

    #[test]
    fn parameters_print_as_an_elixir_map_sorted_by_key() {
        let params = Params::from_form(b"serviceID=588&sendSTK=false&amountExpected=100.00&billDesc=say+%22hi%22");
        assert_eq!(
            params.to_elixir(&[("payment_gateway_id", json!(1))]),
            r#"%{"amountExpected" => "100.00", "billDesc" => "say \"hi\"", "payment_gateway_id" => 1, "sendSTK" => "false", "serviceID" => "588"}"#
        );
        let nested = Params::from_json(br##"{"items":[{"b":null,"a":true}],"c":"#{x}\n"}"##).unwrap();
        assert_eq!(nested.to_elixir(&[]), r##"%{"c" => "\#{x}\n", "items" => [%{"a" => true, "b" => nil}]}"##);
    }

    #[test]
    fn long_strings_are_cut_as_inspect_cuts_them() {
        let long = "x".repeat(5000);
        let params = Params::from_object(json!({ "a": long }).as_object().cloned().unwrap());
        let printed = params.to_elixir(&[]);
        assert!(printed.ends_with("\" <> ...}"), "{printed:.40}");
        assert!(printed.len() < 4200);
    }

    proptest! {
        #[test]
        fn any_form_body_parses_and_prints_without_panicking(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let params = Params::from_form(&body);
            let _ = params.to_elixir(&[]);
            for name in params.names().map(str::to_owned).collect::<Vec<_>>() {
                let _ = params.amount(&name);
                let _ = params.flag(&name);
                let _ = params.url(&name);
            }
        }

        #[test]
        fn any_json_body_parses_or_is_refused_without_panicking(body in ".{0,200}") {
            if let Ok(params) = Params::from_json(body.as_bytes()) {
                let _ = params.to_elixir(&[]);
            }
        }
    }
}
