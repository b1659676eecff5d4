//! Pesaflow secure hashes: one function for every recipe.
//!
//! Every Pesaflow hash is HMAC-SHA256 keyed by the API client's `key` over the
//! plain concatenation of a recipe's fields, in the recipe's order, usually
//! followed by the client's `secret` (no separators, no trimming, no
//! re-formatting: `"5"` and `"5.00"` give different hashes).
//! The digest is then written as base64 of its lowercase hex form (what PHP's
//! `base64_encode(hash_hmac('sha256', …))` gives, and what the live test
//! server accepts), or in one of the variants integrations in the wild use
//! ([`HashEncoding`]).
//!
//! [`verify`] compares in constant time and, when a hash does not match,
//! tries a few cheap alternatives (another encoding, the amount written
//! another way, the secret left out or added, key and secret swapped) so the
//! diagnosis can say what the client most likely did.
//!
//! **Invariant:** neither the key nor the secret ever appears in a value this
//! module returns or displays; a field value equal to either is shown as
//! `<redacted>`.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::ledger::Money;

/// A message layout: which fields are concatenated, in which order, and
/// whether the client's secret is appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Recipe {
    /// Online checkout (`secureHash`): `apiClientID + amountExpected +
    /// serviceID + clientIDNumber + currency + billRefNumber + billDesc +
    /// clientName + secret`.
    Checkout,
    /// Aggregator validation: `api_client_id + ref_no + amount + secret`
    /// (the request's `currency` is not hashed).
    Validate,
    /// Aggregator confirmation: `api_client_id + ref_no + amount + currency +
    /// gateway_transaction_id + gateway_transaction_date + customer_name +
    /// customer_account_number + secret`.
    Confirm,
    /// Instant payment notification (`secure_hash`, signed by Pesaflow):
    /// `client_invoice_ref + invoice_number + amount_paid + payment_date + secret`.
    Notification,
    /// The notification recipe of an older integration guide (`token_hash`):
    /// `invoice_number + amount_paid + secret`.
    NotificationInvoiceAmount,
    /// Payment status query: `api_client_id + ref_no`, with **no** secret.
    StatusQuery,
    /// USSD validation (signed by Pesaflow, checked by the merchant):
    /// `reference + service_code + secret`.
    UssdValidation,
}

impl Recipe {
    pub const ALL: [Recipe; 7] = [
        Recipe::Checkout,
        Recipe::Validate,
        Recipe::Confirm,
        Recipe::Notification,
        Recipe::NotificationInvoiceAmount,
        Recipe::StatusQuery,
        Recipe::UssdValidation,
    ];

    /// The recipe's name, as the command line and diagnoses spell it.
    pub fn name(self) -> &'static str {
        match self {
            Recipe::Checkout => "checkout",
            Recipe::Validate => "validate",
            Recipe::Confirm => "confirm",
            Recipe::Notification => "notification",
            Recipe::NotificationInvoiceAmount => "notification-invoice-amount",
            Recipe::StatusQuery => "status",
            Recipe::UssdValidation => "ussd",
        }
    }

    pub fn from_name(name: &str) -> Option<Recipe> {
        Recipe::ALL.into_iter().find(|r| r.name() == name)
    }

    /// The hashed fields in order, by their wire names, without the secret.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Recipe::Checkout => &[
                "apiClientID",
                "amountExpected",
                "serviceID",
                "clientIDNumber",
                "currency",
                "billRefNumber",
                "billDesc",
                "clientName",
            ],
            Recipe::Validate => &["api_client_id", "ref_no", "amount"],
            Recipe::Confirm => &[
                "api_client_id",
                "ref_no",
                "amount",
                "currency",
                "gateway_transaction_id",
                "gateway_transaction_date",
                "customer_name",
                "customer_account_number",
            ],
            Recipe::Notification => &["client_invoice_ref", "invoice_number", "amount_paid", "payment_date"],
            Recipe::NotificationInvoiceAmount => &["invoice_number", "amount_paid"],
            Recipe::StatusQuery => &["api_client_id", "ref_no"],
            Recipe::UssdValidation => &["reference", "service_code"],
        }
    }

    /// Whether the client's secret ends the message.
    pub fn appends_secret(self) -> bool {
        !matches!(self, Recipe::StatusQuery)
    }

    /// The position of the amount among [`Recipe::fields`], if the recipe hashes one.
    pub fn amount_field(self) -> Option<usize> {
        match self {
            Recipe::Checkout => Some(1),
            Recipe::Validate | Recipe::Confirm | Recipe::Notification => Some(2),
            Recipe::NotificationInvoiceAmount => Some(1),
            Recipe::StatusQuery | Recipe::UssdValidation => None,
        }
    }

    /// `apiClientID + amountExpected + … + secret`.
    pub fn formula(self) -> String {
        let mut parts: Vec<&str> = self.fields().to_vec();
        if self.appends_secret() {
            parts.push("secret");
        }
        parts.join(" + ")
    }
}

impl fmt::Display for Recipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How the 32-byte digest is written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HashEncoding {
    /// base64 of the 64 lowercase hex characters (88 characters ending `==`):
    /// the documented PHP, Java, C# and Elixir samples, the SDKs, and what the
    /// live test server accepts.
    #[default]
    Base64OfHex,
    /// The 64 lowercase hex characters, no base64 (an integration that says
    /// Pesaflow support sent it such an example).
    Hex,
    /// base64 of the raw 32 bytes (44 characters): a Pesaflow white-label,
    /// the npm SDK, and the seed's PHP USSD sample.
    Base64OfRaw,
    /// base64 of the raw bytes, then lower-cased: what the seed's Python USSD
    /// sample computes (lossy, so no server can really expect it).
    LowercaseBase64OfRaw,
}

impl HashEncoding {
    pub const ALL: [HashEncoding; 4] =
        [HashEncoding::Base64OfHex, HashEncoding::Hex, HashEncoding::Base64OfRaw, HashEncoding::LowercaseBase64OfRaw];

    /// The name the world file and the command line use.
    pub fn name(self) -> &'static str {
        match self {
            HashEncoding::Base64OfHex => "b64hex",
            HashEncoding::Hex => "hex",
            HashEncoding::Base64OfRaw => "b64raw",
            HashEncoding::LowercaseBase64OfRaw => "b64raw-lowercase",
        }
    }

    pub fn from_name(name: &str) -> Option<HashEncoding> {
        HashEncoding::ALL.into_iter().find(|e| e.name() == name)
    }

    /// What the encoding is, in words, for diagnoses.
    pub fn describe(self) -> &'static str {
        match self {
            HashEncoding::Base64OfHex => "base64 of the lowercase hex digest",
            HashEncoding::Hex => "the lowercase hex digest",
            HashEncoding::Base64OfRaw => "base64 of the raw digest",
            HashEncoding::LowercaseBase64OfRaw => "base64 of the raw digest, lower-cased",
        }
    }

    fn encode(self, digest: &[u8; 32]) -> String {
        match self {
            HashEncoding::Base64OfHex => STANDARD.encode(hex(digest)),
            HashEncoding::Hex => hex(digest),
            HashEncoding::Base64OfRaw => STANDARD.encode(digest),
            HashEncoding::LowercaseBase64OfRaw => STANDARD.encode(digest).to_lowercase(),
        }
    }
}

impl fmt::Display for HashEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An API client's two hashing credentials: `key` keys the HMAC, `secret` is
/// appended to the message. Mixing them up is the classic integration bug.
#[derive(Clone, Copy)]
pub struct HashKey<'a> {
    pub key: &'a str,
    pub secret: &'a str,
}

impl fmt::Debug for HashKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HashKey { key: <redacted>, secret: <redacted> }")
    }
}

/// Why a hash could not be computed at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashInputError {
    /// The number of values does not fit the recipe.
    #[error("the {recipe} recipe hashes {expected} fields ({formula}), {got} were given")]
    Arity { recipe: Recipe, expected: usize, got: usize, formula: String },
}

/// The hash of `values` (in [`Recipe::fields`] order) under `recipe`.
pub fn secure_hash(
    recipe: Recipe,
    values: &[&str],
    credentials: HashKey<'_>,
    encoding: HashEncoding,
) -> Result<String, HashInputError> {
    check_arity(recipe, values)?;
    Ok(encoding.encode(&digest(credentials.key, values, recipe.appends_secret().then_some(credentials.secret))))
}

/// A hash that matched: under which recipe and encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashMatch {
    pub recipe: Recipe,
    pub encoding: HashEncoding,
}

/// What the client most likely did instead, when it can be told cheaply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MismatchHint {
    /// The right digest, written in an encoding this endpoint does not accept.
    Encoding(HashEncoding),
    /// The hash matches with the amount written another way (`"5.00"` for `"5"`).
    AmountText { field: &'static str, sent: String, hashed: String },
    /// The secret was appended although this recipe has none.
    SecretAppended,
    /// The secret was left out.
    SecretMissing,
    /// The secret keyed the HMAC and the key was appended.
    KeyAndSecretSwapped,
    /// The hex digits are upper case.
    UppercaseHex,
    /// The hash has spaces where base64 has `+`: an unencoded `+` in a query
    /// string or form body was decoded as a space.
    PlusAsSpace,
    /// The hash has surrounding whitespace.
    Whitespace,
}

/// A hash that did not match, with everything needed to say why, except the
/// credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashMismatch {
    pub recipe: Recipe,
    /// The encodings this endpoint accepts.
    pub accepted: Vec<HashEncoding>,
    /// Each hashed field with the value used, secrets redacted.
    pub fields: Vec<(&'static str, String)>,
    /// The shape of what was sent (length, alphabet), never its content.
    pub given_shape: String,
    pub hint: Option<MismatchHint>,
}

impl fmt::Display for HashMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let encodings: Vec<&str> = self.accepted.iter().map(|e| e.describe()).collect();
        let values: Vec<String> = self.fields.iter().map(|(_, v)| format!("{v:?}")).collect();
        let mut values = values.join(" + ");
        if self.recipe.appends_secret() {
            values.push_str(" + <secret>");
        }
        write!(
            f,
            "the hash ({}) does not match the {} recipe: HMAC-SHA256 keyed by the client's key over {} = {}, written as {}",
            self.given_shape,
            self.recipe,
            self.recipe.formula(),
            values,
            encodings.join(" or "),
        )?;
        match &self.hint {
            None => Ok(()),
            Some(MismatchHint::Encoding(e)) => {
                write!(f, "; the digest is right but written as {}, which this endpoint does not accept", e.describe())
            }
            Some(MismatchHint::AmountText { field, sent, hashed }) => write!(
                f,
                "; it matches the same recipe with {field} {hashed:?} instead of the {sent:?} sent: hash the amount exactly as sent"
            ),
            Some(MismatchHint::SecretAppended) => {
                write!(f, "; it matches with the secret appended, but this recipe has no secret")
            }
            Some(MismatchHint::SecretMissing) => write!(f, "; it matches without the secret: append the secret"),
            Some(MismatchHint::KeyAndSecretSwapped) => write!(
                f,
                "; it matches with key and secret swapped: the key keys the HMAC, the secret ends the message"
            ),
            Some(MismatchHint::UppercaseHex) => write!(f, "; it matches with upper-case hex: use lower case"),
            Some(MismatchHint::PlusAsSpace) => write!(
                f,
                "; it matches once its spaces are read as '+': URL-encode the hash ('+' as %2B) in query strings and forms"
            ),
            Some(MismatchHint::Whitespace) => write!(f, "; it matches without its surrounding whitespace"),
        }
    }
}

/// Checks `given` against the hash of `values` under `recipe`, accepting any
/// of the `accepted` encodings (the default if none is given), in constant time.
/// The mismatch is boxed: it is the rare path, and it is large.
pub fn verify(
    recipe: Recipe,
    values: &[&str],
    credentials: HashKey<'_>,
    given: &str,
    accepted: &[HashEncoding],
) -> Result<HashMatch, Box<HashMismatch>> {
    let accepted: Vec<HashEncoding> =
        if accepted.is_empty() { vec![HashEncoding::default()] } else { accepted.to_vec() };
    let mismatch = |hint: Option<MismatchHint>| {
        Box::new(HashMismatch {
            recipe,
            accepted: accepted.clone(),
            fields: shown_fields(recipe, values, credentials),
            given_shape: shape(given),
            hint,
        })
    };
    if check_arity(recipe, values).is_err() {
        return Err(mismatch(None));
    }
    let secret = recipe.appends_secret().then_some(credentials.secret);
    let expected = digest(credentials.key, values, secret);
    if let Some(encoding) = accepted.iter().copied().find(|e| same(&e.encode(&expected), given)) {
        return Ok(HashMatch { recipe, encoding });
    }
    Err(mismatch(diagnose(recipe, values, credentials, given, &expected)))
}

// ---------------------------------------------------------------------------

fn check_arity(recipe: Recipe, values: &[&str]) -> Result<(), HashInputError> {
    let expected = recipe.fields().len();
    if values.len() != expected {
        return Err(HashInputError::Arity { recipe, expected, got: values.len(), formula: recipe.formula() });
    }
    Ok(())
}

fn digest(key: &str, values: &[&str], secret: Option<&str>) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    for value in values {
        mac.update(value.as_bytes());
    }
    if let Some(secret) = secret {
        mac.update(secret.as_bytes());
    }
    mac.finalize().into_bytes().into()
}

fn hex(digest: &[u8; 32]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(64);
    for byte in digest {
        // Writing to a String cannot fail.
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Constant-time for equal lengths; the length of a hash is no secret.
fn same(expected: &str, given: &str) -> bool {
    expected.as_bytes().ct_eq(given.as_bytes()).into()
}

/// The cheap alternatives, most common mistake first.
fn diagnose(
    recipe: Recipe,
    values: &[&str],
    credentials: HashKey<'_>,
    given: &str,
    expected: &[u8; 32],
) -> Option<MismatchHint> {
    let matches_digest = |digest: &[u8; 32]| HashEncoding::ALL.iter().any(|e| same(&e.encode(digest), given));

    if let Some(encoding) = HashEncoding::ALL.into_iter().find(|e| same(&e.encode(expected), given)) {
        return Some(MismatchHint::Encoding(encoding));
    }
    if same(&hex(expected).to_uppercase(), given) || same(&STANDARD.encode(hex(expected).to_uppercase()), given) {
        return Some(MismatchHint::UppercaseHex);
    }
    if given.trim() != given && HashEncoding::ALL.iter().any(|e| same(&e.encode(expected), given.trim())) {
        return Some(MismatchHint::Whitespace);
    }
    if given.contains(' ') && HashEncoding::ALL.iter().any(|e| same(&e.encode(expected), &given.replace(' ', "+"))) {
        return Some(MismatchHint::PlusAsSpace);
    }
    if let Some(index) = recipe.amount_field() {
        let sent = values.get(index).copied().unwrap_or_default();
        for hashed in amount_spellings(sent) {
            let mut changed: Vec<&str> = values.to_vec();
            if let Some(slot) = changed.get_mut(index) {
                *slot = &hashed;
            }
            let secret = recipe.appends_secret().then_some(credentials.secret);
            if matches_digest(&digest(credentials.key, &changed, secret)) {
                let field = recipe.fields().get(index).copied().unwrap_or("amount");
                return Some(MismatchHint::AmountText { field, sent: sent.to_owned(), hashed });
            }
        }
    }
    if recipe.appends_secret() {
        if matches_digest(&digest(credentials.key, values, None)) {
            return Some(MismatchHint::SecretMissing);
        }
        if matches_digest(&digest(credentials.secret, values, Some(credentials.key))) {
            return Some(MismatchHint::KeyAndSecretSwapped);
        }
    } else if matches_digest(&digest(credentials.key, values, Some(credentials.secret))) {
        return Some(MismatchHint::SecretAppended);
    }
    None
}

/// Other ways a client may have written the same amount: `"5"`, `"5.0"`, `"5.00"`.
fn amount_spellings(sent: &str) -> Vec<String> {
    let Some(money) = Money::parse(sent) else {
        return Vec::new();
    };
    let two = money.to_string();
    let whole = money.cents() / 100;
    let mut spellings = vec![two.clone(), two.trim_end_matches('0').trim_end_matches('.').to_owned()];
    if money.is_whole_shillings() {
        spellings.push(format!("{whole}.0"));
    }
    spellings.retain(|s| s != sent);
    spellings.dedup();
    spellings
}

/// Values as shown in a diagnosis: quoted by the caller, cut when long, and
/// redacted when equal to a credential.
fn shown_fields(recipe: Recipe, values: &[&str], credentials: HashKey<'_>) -> Vec<(&'static str, String)> {
    recipe
        .fields()
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let value = values.get(i).copied().unwrap_or("<missing>");
            let shown = if !value.is_empty() && (value == credentials.key || value == credentials.secret) {
                "<redacted>".to_owned()
            } else if value.chars().count() > 40 {
                format!("{}…", value.chars().take(40).collect::<String>())
            } else {
                value.to_owned()
            };
            (*name, shown)
        })
        .collect()
}

/// "88 characters of base64", "64 hex characters", "17 characters".
fn shape(given: &str) -> String {
    let len = given.chars().count();
    if len == 0 {
        return "empty".into();
    }
    let is_hex = given.bytes().all(|b| b.is_ascii_hexdigit());
    let is_base64 = given.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=');
    if is_hex {
        format!("{len} hex characters")
    } else if is_base64 {
        format!("{len} characters of base64")
    } else {
        format!("{len} characters")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SDK: HashKey<'static> = HashKey { key: "KEY1", secret: "SECRET1" };

    fn sdk_checkout(amount: &str) -> [&str; 8] {
        ["CLIENT1", amount, "SERVICE1", "12345678", "KES", "INV-0001", "School fees", "Jane Doe"]
    }

    /// A published vector: (source, recipe, key, secret, values, encoding, hash).
    type Vector =
        (&'static str, Recipe, &'static str, &'static str, &'static [&'static str], HashEncoding, &'static str);

    const VECTORS: &[Vector] = &[
        (
            "ecitizen-pesaflow-gateway 0.1.2 golden vector (reference 1.4)",
            Recipe::Checkout,
            "KEY1",
            "SECRET1",
            &["CLIENT1", "500.00", "SERVICE1", "12345678", "KES", "INV-0001", "School fees", "Jane Doe"],
            HashEncoding::Base64OfHex,
            "YjEyZWIxYmMzNzM4MGY4NmViZjQxNTYwNjM2MDZiNmVjY2M4NDlhNmE5YWZlODk2ZGM2NWRlM2M2NzdkMTAyYw==",
        ),
        (
            "the same, as plain hex",
            Recipe::Checkout,
            "KEY1",
            "SECRET1",
            &["CLIENT1", "500.00", "SERVICE1", "12345678", "KES", "INV-0001", "School fees", "Jane Doe"],
            HashEncoding::Hex,
            "b12eb1bc37380f86ebf4156063606b6eccc849a6a9afe896dc65de3c677d102c",
        ),
        (
            "the same, as base64 of the raw digest",
            Recipe::Checkout,
            "KEY1",
            "SECRET1",
            &["CLIENT1", "500.00", "SERVICE1", "12345678", "KES", "INV-0001", "School fees", "Jane Doe"],
            HashEncoding::Base64OfRaw,
            "sS6xvDc4D4br9BVgY2BrbszISaapr+iW3GXePGd9ECw=",
        ),
        (
            "the same with the amount sent as \"500\": a different hash",
            Recipe::Checkout,
            "KEY1",
            "SECRET1",
            &["CLIENT1", "500", "SERVICE1", "12345678", "KES", "INV-0001", "School fees", "Jane Doe"],
            HashEncoding::Base64OfHex,
            "NzFmMDcwYmVkMWMxZThjZWNkZTFmMmQwNzE5NmRiN2U1ZmU1MjkyZGFmZDk3MWJiMjdhZTdmNGNmNWQxN2U0MQ==",
        ),
        (
            "JoseModi97/pesaflow4j Pesaflow4jGatewayTest checkout",
            Recipe::Checkout,
            "APIKEY1",
            "SECRET1",
            &["CID1", "500.00", "SID1", "12345678", "KES", "INV-0001", "School fees", "Jane Doe"],
            HashEncoding::Base64OfHex,
            "MzY5Mzk0YmI5NzE5NTIxNWE0N2FjZWRmMWJjNzQ0MTk2OWFlNTkyYzM4N2ExMzUwOTMyYmU4ZDE1YTlhZjA1Mg==",
        ),
        (
            "JoseModi97/pesaflow4j Pesaflow4jGatewayTest notification",
            Recipe::Notification,
            "APIKEY1",
            "SECRET1",
            &["INV-0001", "TXN123", "500.00", "2026-01-15"],
            HashEncoding::Base64OfHex,
            "NGMxZmQxOTg1MDc3MGNiYzI3MWFiZmU4NWM2N2Y1MjBjNWUxYTY1ZWEwYmMyODVkZWU3ODc1NDY4MzRkMWRhNA==",
        ),
        (
            "notification with the real payment_date format, checked with the SDK (reference 1.5)",
            Recipe::Notification,
            "KEY1",
            "SECRET1",
            &["INV-0001", "ABCXYZ", "500.00", "2025-05-30 02:16:03+03:00 EAT Africa/Nairobi"],
            HashEncoding::Base64OfHex,
            "OGRmYzM2YzdiOTIxY2FhN2JiMGJjZDliYzA0YWNlOGI2ZjdlNTM5Y2I5ODExNTA2ZTY1NDc5ZGYwYjI3NTJiMw==",
        ),
    ];

    /// The worked examples of the Pesaflow integration notes, with the
    /// default world's sandbox credentials: one per recipe.
    const WORKED: &[(Recipe, &[&str], &str)] = &[
        (
            Recipe::Checkout,
            &["1", "100.00", "1001", "12345678", "KES", "REF-1", "Business name search", "Jane Doe"],
            "MDE3ZDNiODI2MmMyZDVjZDgzOGFmYjdjNzg0MGNmOGUyZmU0ZTAxNmNkNjQ4YzY2MDE1MTdlZjA2MjlmMDcwZg==",
        ),
        (
            Recipe::Validate,
            &["1", "GWLQKD", "105.00"],
            "ODNmZTEyZTYyYWUzN2JiNjYyNTM4ZWZkMTcwMWI0NjU0NzYyMjQyMGE1NWY1ZjE3YmE1OGY0NDQyYjIyMGI3MQ==",
        ),
        (
            Recipe::Confirm,
            &["1", "GWLQKD", "105.00", "KES", "1234434", "2021-01-26 15:30:01", "JOHN DOE", "438485959"],
            "MGE4ZTE3MDcwOGZiNjYyZDBjNDc2NzM4MDQwODE0NzQ5ZGQ2NThlOTVlMjZmY2FhOTY5OWIyNzYzMGYwMTg2Yw==",
        ),
        (
            Recipe::Notification,
            &["REF-1", "GWLQKD", "105", "2026-02-11 17:31:40+03:00 EAT Africa/Nairobi"],
            "YjYxY2I2MThjYjg4ODhjZmQ3MmI2NmI3NDQ4YmFiMTE3YjFiNTU3OWJiNjJiZTBjMjhjYWM1NzIwOWI5YzcyZQ==",
        ),
        (
            Recipe::NotificationInvoiceAmount,
            &["GWLQKD", "105"],
            "YmE5ODg5Mjk5ZmE1MzM1OWIwNzc5MGQ4ZGRiN2NhNmJlNGI1OGZjNmUyYzY4MjllN2MwMDI2ODU1YWRmMDZjOQ==",
        ),
        (
            Recipe::StatusQuery,
            &["1", "GWLQKD"],
            "NzNhNGJjYjZlY2JiNTUyM2U4MjI0MDlhZWJlZWM1NWNiNDQ1ODhkZDE2MWQ3OTQ5YWE3ZTBiZmVjMGUzNDE1Mw==",
        ),
        (
            Recipe::UssdValidation,
            &["12345678", "1002"],
            "MjM1NmQ2Njg5NmQ5MzllZGNkOWVmMTI0ODZjZTYxMmMwYzAwNDg1MmM0Yzg0ZDUwZmUyNThiMDEwZTViOGYwOQ==",
        ),
    ];

    #[test]
    fn the_integration_notes_worked_examples_hold() {
        let sandbox = HashKey { key: "PesaflowSandboxKey", secret: "PesaflowSandboxSecret" };
        for (recipe, values, expected) in WORKED {
            assert_eq!(
                secure_hash(*recipe, values, sandbox, HashEncoding::Base64OfHex).unwrap(),
                *expected,
                "{recipe}"
            );
        }
        assert!(WORKED.iter().map(|(r, _, _)| *r).eq(Recipe::ALL), "one example per recipe, in order");
    }

    #[test]
    fn every_published_vector_hashes_and_verifies() {
        for (source, recipe, key, secret, values, encoding, expected) in VECTORS {
            let credentials = HashKey { key, secret };
            assert_eq!(secure_hash(*recipe, values, credentials, *encoding).unwrap(), *expected, "{source}");
            assert_eq!(
                verify(*recipe, values, credentials, expected, &[*encoding]),
                Ok(HashMatch { recipe: *recipe, encoding: *encoding }),
                "{source}"
            );
        }
    }

    #[test]
    fn a_real_production_notification_hash_is_base64_of_lowercase_hex() {
        // The secure_hash of a real IPN of 2025-05-30 (reference §1.5); its
        // credentials are unknown, so only its encoding can be checked.
        let real = "MzA5YzdkODFmZTdiM2E2MmU0NDJjNzZkN2IxOTAxMzkxZjUzNTgyNTU0NjE1MDE3Y2FjNDVkYmUyNDE5ZTJjNA==";
        let decoded = String::from_utf8(STANDARD.decode(real).unwrap()).unwrap();
        assert_eq!(decoded, "309c7d81fe7b3a62e442c76d7b1901391f53582554615017cac45dbe2419e2c4");
        assert_eq!(shape(real), "88 characters of base64");
        let ours = secure_hash(Recipe::Notification, &["a", "b", "5", "d"], SDK, HashEncoding::Base64OfHex).unwrap();
        assert_eq!(shape(&ours), shape(real));
    }

    #[test]
    fn the_status_query_hashes_no_secret() {
        let with_any_secret = |secret| {
            secure_hash(Recipe::StatusQuery, &["588", "GWLQKD"], HashKey { key: "k", secret }, HashEncoding::Hex)
                .unwrap()
        };
        assert_eq!(with_any_secret("one"), with_any_secret("two"));
        let manual = {
            let mut mac = Hmac::<Sha256>::new_from_slice(b"k").unwrap();
            mac.update(b"588GWLQKD");
            hex(&mac.finalize().into_bytes().into())
        };
        assert_eq!(with_any_secret("one"), manual);
    }

    #[test]
    fn every_recipe_hashes_its_fields_in_order_then_the_secret() {
        let key = HashKey { key: "my-key", secret: "my-secret" };
        for recipe in Recipe::ALL {
            let values: Vec<String> = recipe.fields().iter().map(|f| format!("<{f}>")).collect();
            let refs: Vec<&str> = values.iter().map(String::as_str).collect();
            let mut message = values.concat();
            if recipe.appends_secret() {
                message.push_str("my-secret");
            }
            let mut mac = Hmac::<Sha256>::new_from_slice(b"my-key").unwrap();
            mac.update(message.as_bytes());
            let expected = STANDARD.encode(hex(&mac.finalize().into_bytes().into()));
            assert_eq!(secure_hash(recipe, &refs, key, HashEncoding::Base64OfHex).unwrap(), expected, "{recipe}");
        }
    }

    #[test]
    fn a_wrong_number_of_values_is_an_error_not_a_panic() {
        let err = secure_hash(Recipe::Validate, &["1", "2"], SDK, HashEncoding::Hex).unwrap_err();
        assert!(err.to_string().contains("api_client_id + ref_no + amount + secret"), "{err}");
    }

    #[test]
    fn verify_accepts_the_configured_encodings_only() {
        let values = sdk_checkout("500.00");
        let b64hex = "YjEyZWIxYmMzNzM4MGY4NmViZjQxNTYwNjM2MDZiNmVjY2M4NDlhNmE5YWZlODk2ZGM2NWRlM2M2NzdkMTAyYw==";
        let ok = verify(Recipe::Checkout, &values, SDK, b64hex, &[HashEncoding::Base64OfHex]).unwrap();
        assert_eq!(ok, HashMatch { recipe: Recipe::Checkout, encoding: HashEncoding::Base64OfHex });

        let hex = "b12eb1bc37380f86ebf4156063606b6eccc849a6a9afe896dc65de3c677d102c";
        let err = verify(Recipe::Checkout, &values, SDK, hex, &[HashEncoding::Base64OfHex]).unwrap_err();
        assert_eq!(err.hint, Some(MismatchHint::Encoding(HashEncoding::Hex)));
        assert!(verify(Recipe::Checkout, &values, SDK, hex, &HashEncoding::ALL).is_ok());
    }

    #[test]
    fn a_hash_over_a_reformatted_amount_is_named() {
        let hashed_with_decimals =
            secure_hash(Recipe::Checkout, &sdk_checkout("500.00"), SDK, HashEncoding::Base64OfHex).unwrap();
        let err =
            verify(Recipe::Checkout, &sdk_checkout("500"), SDK, &hashed_with_decimals, &[HashEncoding::Base64OfHex])
                .unwrap_err();
        assert_eq!(
            err.hint,
            Some(MismatchHint::AmountText { field: "amountExpected", sent: "500".into(), hashed: "500.00".into() })
        );
        let text = err.to_string();
        assert!(text.contains("checkout recipe"), "{text}");
        assert!(text.contains("apiClientID + amountExpected + serviceID"), "{text}");
        assert!(text.contains("\"CLIENT1\" + \"500\""), "{text}");
        assert!(text.contains("amountExpected \"500.00\" instead of the \"500\" sent"), "{text}");
        assert!(!text.contains("KEY1") && !text.contains("SECRET1"), "{text}");
    }

    #[test]
    fn the_usual_credential_mistakes_are_named() {
        let key = HashKey { key: "the-key", secret: "the-secret" };
        let values = ["588", "GWLQKD", "105.00"];
        let without_secret = STANDARD.encode(hex(&digest("the-key", &values, None)));
        let err = verify(Recipe::Validate, &values, key, &without_secret, &[]).unwrap_err();
        assert_eq!(err.hint, Some(MismatchHint::SecretMissing));

        let swapped = STANDARD.encode(hex(&digest("the-secret", &values, Some("the-key"))));
        let err = verify(Recipe::Validate, &values, key, &swapped, &[]).unwrap_err();
        assert_eq!(err.hint, Some(MismatchHint::KeyAndSecretSwapped));

        let status = ["588", "GWLQKD"];
        let with_secret = STANDARD.encode(hex(&digest("the-key", &status, Some("the-secret"))));
        let err = verify(Recipe::StatusQuery, &status, key, &with_secret, &[]).unwrap_err();
        assert_eq!(err.hint, Some(MismatchHint::SecretAppended));

        let upper = STANDARD.encode(hex(&digest("the-key", &status, None)).to_uppercase());
        let err = verify(Recipe::StatusQuery, &status, key, &upper, &[]).unwrap_err();
        assert_eq!(err.hint, Some(MismatchHint::UppercaseHex));
    }

    #[test]
    fn a_plus_decoded_as_a_space_is_recognised() {
        let raw = secure_hash(Recipe::Checkout, &sdk_checkout("500.00"), SDK, HashEncoding::Base64OfRaw).unwrap();
        assert!(raw.contains('+'));
        let mangled = raw.replace('+', " ");
        let err =
            verify(Recipe::Checkout, &sdk_checkout("500.00"), SDK, &mangled, &[HashEncoding::Base64OfRaw]).unwrap_err();
        assert_eq!(err.hint, Some(MismatchHint::PlusAsSpace));
    }

    #[test]
    fn a_field_equal_to_a_credential_is_redacted_in_the_diagnosis() {
        let values = ["KEY1", "x", "SECRET1"];
        let err = verify(Recipe::Validate, &values, SDK, "nope", &[]).unwrap_err();
        let text = err.to_string();
        assert!(!text.contains("KEY1") && !text.contains("SECRET1"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
    }

    #[test]
    fn recipes_and_encodings_round_trip_through_their_names() {
        for recipe in Recipe::ALL {
            assert_eq!(Recipe::from_name(recipe.name()), Some(recipe));
        }
        for encoding in HashEncoding::ALL {
            assert_eq!(HashEncoding::from_name(encoding.name()), Some(encoding));
        }
        assert_eq!(format!("{SDK:?}"), "HashKey { key: <redacted>, secret: <redacted> }");
    }

    proptest! {
        #[test]
        fn a_computed_hash_always_verifies_and_any_change_is_refused(
            values in proptest::collection::vec(".{0,20}", 8),
            key in ".{0,20}",
            secret in ".{0,20}",
            which in 0usize..8,
        ) {
            let refs: Vec<&str> = values.iter().map(String::as_str).collect();
            let credentials = HashKey { key: &key, secret: &secret };
            for encoding in HashEncoding::ALL {
                let hash = secure_hash(Recipe::Checkout, &refs, credentials, encoding).unwrap();
                prop_assert!(verify(Recipe::Checkout, &refs, credentials, &hash, &[encoding]).is_ok());
            }
            let mut changed = values.clone();
            changed[which].push('x');
            let changed: Vec<&str> = changed.iter().map(String::as_str).collect();
            let hash = secure_hash(Recipe::Checkout, &refs, credentials, HashEncoding::Base64OfHex).unwrap();
            prop_assert!(verify(Recipe::Checkout, &changed, credentials, &hash, &[HashEncoding::Base64OfHex]).is_err());
        }

        #[test]
        fn verifying_any_input_never_panics(
            given in ".{0,100}",
            values in proptest::collection::vec(".{0,10}", 0..10),
            recipe in 0usize..7,
        ) {
            let refs: Vec<&str> = values.iter().map(String::as_str).collect();
            let _ = verify(Recipe::ALL[recipe], &refs, SDK, &given, &HashEncoding::ALL);
        }
    }
}
