//! Fuzz target bodies: one function per target in `fuzz/fuzz_targets/`.
//!
//! This module exists so the libFuzzer targets and the ordinary regression
//! test (`tests/fuzz_regressions.rs`) share one body: a fuzz target is a
//! one-line call into this module, and the regression test replays every
//! committed corpus and crash file through the same call on the stable
//! toolchain, without libFuzzer.
//! Each function feeds arbitrary bytes to the library functions the HTTP
//! handlers call, and must return without panicking whatever the input.
//! The only panics here are `assert!`s of properties that must hold for
//! every input (a round trip, a derived password checking out); a failing
//! assertion is a bug the fuzzer found.

use std::borrow::Cow;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::crypto::keys::KeyPair;
use crate::crypto::{credential, lnm};
use crate::daraja::wire::{StkPushRequest, StkQueryRequest};
use crate::ledger::Money;
use crate::scenarios;
use crate::world::World;
use crate::{fields, httpauth};

/// Inputs longer than this are rejected by every target: the HTTP layer caps
/// request bodies well below it, and long inputs only slow the fuzzer down.
pub const MAX_INPUT_LEN: usize = 64 * 1024;

/// Inputs to [`security_credential`] longer than this are rejected: a real
/// credential is 344 characters, and each input costs an RSA decryption.
pub const MAX_CREDENTIAL_LEN: usize = 2048;

/// The byte that separates the four parts of an [`lnm_password`] input.
pub const LNM_SEPARATOR: char = '\n';

/// The input as text, the way a handler sees a body that is not valid UTF-8.
fn text(data: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// The input as a JSON object, if it is one.
fn json_object(data: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice::<Value>(data) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// The `BusinessShortCode` of a push body the STK push parser accepts in
/// full (for checking that seeds reach past the first check).
pub fn accepted_stk_push(data: &[u8]) -> Option<String> {
    StkPushRequest::parse(&json_object(data)?).ok().map(|push| push.business_short_code)
}

/// The key and secret of an `Authorization: Basic` header, as the OAuth
/// handler decodes them.
pub fn basic_credentials(data: &[u8]) -> Option<(String, String)> {
    httpauth::basic(Some(data)).ok()
}

/// Whether a world document parses and resolves, with the error if not.
pub fn resolved_world(data: &[u8]) -> Result<(), String> {
    let doc = World::parse_doc(&text(data), "seed").map_err(|e| e.to_string())?;
    World::from_overlays(&[(doc, "seed".into())]).map(|_| ()).map_err(|e| e.to_string())
}

/// An M-Pesa Express request body, parsed as both the push and the query
/// handler parse it.
pub fn daraja_stk_push(data: &[u8]) {
    if data.len() > MAX_INPUT_LEN {
        return;
    }
    let Some(body) = json_object(data) else {
        return;
    };
    if let Ok(push) = StkPushRequest::parse(&body) {
        // A parsed push has passed every field check, so its parts must be well-formed.
        assert!(lnm::parse_timestamp(&push.timestamp).is_ok(), "an accepted push has a valid Timestamp");
        assert!(push.amount.cents() > 0, "an accepted Amount is positive");
        assert!(push.amount.is_whole_shillings(), "an accepted Amount is whole shillings");
    }
    let _ = StkQueryRequest::parse(&body);
}

/// An `Authorization` header, read as the OAuth handler (Basic) and every
/// authenticated endpoint (Bearer) read it.
pub fn auth_header(data: &[u8]) {
    if data.len() > MAX_INPUT_LEN {
        return;
    }
    let _ = httpauth::basic(Some(data));
    if let Ok(token) = httpauth::bearer(Some(data)) {
        assert!(!token.is_empty(), "a Bearer token is never empty");
    }
}

/// A Lipa na M-Pesa password check: the input is
/// `Password \n BusinessShortCode \n Passkey \n Timestamp` (missing parts are
/// empty).
pub fn lnm_password(data: &[u8]) {
    if data.len() > MAX_INPUT_LEN {
        return;
    }
    let input = text(data);
    let mut parts = input.splitn(4, LNM_SEPARATOR);
    let given = parts.next().unwrap_or_default();
    let shortcode = parts.next().unwrap_or_default();
    let passkey = parts.next().unwrap_or_default();
    let timestamp = parts.next().unwrap_or_default();

    if let Ok(at) = lnm::parse_timestamp(timestamp) {
        assert_eq!(lnm::format_timestamp(at), timestamp, "a parsed Timestamp formats back to itself");
    }
    let _ = lnm::check_password(given, shortcode, passkey, timestamp);
    let derived = lnm::password(shortcode, passkey, timestamp);
    assert_eq!(
        lnm::check_password(&derived, shortcode, passkey, timestamp),
        Ok(()),
        "a password derived from the shortcode, passkey and timestamp checks out"
    );
}

/// An amount, as the STK push parser reads `Amount`.
pub fn money(data: &[u8]) {
    if data.len() > MAX_INPUT_LEN {
        return;
    }
    if let Some(amount) = Money::parse(&text(data)) {
        assert!(amount.cents() >= 0, "a parsed amount is never negative");
        assert_eq!(Money::parse(&amount.to_string()), Some(amount), "an amount parses back from its display");
    }
}

/// A JSON body read field by field, leniently, as every provider reads it.
pub fn fields(data: &[u8]) {
    if data.len() > MAX_INPUT_LEN {
        return;
    }
    let Some(body) = json_object(data) else {
        return;
    };
    for name in body.keys() {
        let required = fields::text(&body, name);
        let optional = fields::optional_text(&body, name);
        match required {
            Ok(value) => {
                assert!(!value.is_empty(), "a present field never reads as empty text");
                assert_eq!(optional, Ok(Some(value)), "text and optional_text agree on a present field");
            }
            Err(fields::FieldProblem::Missing | fields::FieldProblem::Empty) => {
                assert_eq!(optional, Ok(None), "optional_text treats a missing or empty field as absent")
            }
            Err(problem) => assert_eq!(optional, Err(problem), "both readers report the same wrong type"),
        }
    }
    // Some key the body does not have; the first candidate almost always works.
    let missing = (0..).map(|n| format!("MissingField{n}")).find(|k| !body.contains_key(k)).unwrap_or_default();
    assert_eq!(fields::text(&body, &missing), Err(fields::FieldProblem::Missing));
    assert_eq!(fields::optional_text(&body, &missing), Ok(None));
}

/// The committed Daraja test key pair, loaded once per process (loading
/// parses PEM and checks the pair, which would dominate every execution).
fn daraja_keys() -> &'static KeyPair {
    static KEYS: OnceLock<KeyPair> = OnceLock::new();
    KEYS.get_or_init(|| crate::daraja::keys::pair().expect("the committed Daraja test keys load"))
}

/// A `SecurityCredential`, decrypted with the sandbox's private key as the
/// credential-checking endpoints do.
pub fn security_credential(data: &[u8]) {
    if data.len() > MAX_CREDENTIAL_LEN {
        return;
    }
    let _ = credential::decrypt(&daraja_keys().private, &text(data));
}

/// A world document, parsed and then resolved over the default world as
/// `--world FILE` is.
pub fn world_document(data: &[u8]) {
    if data.len() > MAX_INPUT_LEN {
        return;
    }
    if let Ok(doc) = World::parse_doc(&text(data), "fuzz") {
        let _ = World::from_overlays(&[(doc, "fuzz".into())]);
    }
}

/// Scenario files and decisions: the input is parsed as a scenario document;
/// whatever parses must decide totally, for request facts made from the
/// same input, without panicking.
pub fn scenario_decision(data: &[u8]) {
    if data.len() > MAX_INPUT_LEN {
        return;
    }
    let input = text(data);
    let facts = |operation| scenarios::Facts {
        provider: "daraja",
        operation,
        body: None,
        msisdn: Some(input.chars().take(20).collect()),
        amount: Money::parse(&input),
        shortcode: Some("174379".into()),
        account_reference: Some(input.to_string()),
        initiator: None,
    };
    let mut set = scenarios::ScenarioSet { scenarios: vec![scenarios::default()] };
    if let Ok(scenario) = scenarios::Scenario::parse(&input, "fuzz.toml") {
        set.scenarios.insert(0, std::sync::Arc::new(scenario));
    }
    for operation in ["oauth", "stk_push", "stk_query"] {
        let _ = set.decide(&facts(operation));
    }
}

/// Every result-API body parser (B2C, B2B, tax, reversal, status, balance)
/// and the C2B register and simulate parsers, on the same JSON object.
pub fn daraja_result_request(data: &[u8]) {
    use crate::daraja::requests::{validate, ApiKind};
    if data.len() > MAX_INPUT_LEN {
        return;
    }
    let Some(body) = json_object(data) else {
        return;
    };
    let kinds = [
        ApiKind::B2c { v3: false, pochi: false },
        ApiKind::B2c { v3: true, pochi: false },
        ApiKind::B2c { v3: true, pochi: true },
        ApiKind::B2b,
        ApiKind::TaxRemittance,
        ApiKind::Reversal,
        ApiKind::TransactionStatus,
        ApiKind::AccountBalance,
    ];
    for kind in kinds {
        let _ = validate(&body, kind);
    }
    for production in [false, true] {
        if let Ok(registration) = crate::daraja::c2b::parse_register(&body, production) {
            assert!(!production || registration.confirmation_url.to_lowercase().starts_with("https://"));
        }
    }
    if let Ok(payment) = crate::daraja::c2b::parse_simulate(&body) {
        assert!(payment.amount.cents() > 0, "a parsed payment has a positive amount");
    }
}

/// Callback allowlist entries and Standard Webhooks signatures.
pub fn callback_security(data: &[u8]) {
    if data.len() > MAX_INPUT_LEN {
        return;
    }
    let input = text(data);
    let _ = input.parse::<crate::callbacks::Destination>();
    let mut parts = input.splitn(3, '\n');
    let (secret, id, body) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let signature = crate::crypto::webhook::sign(secret, id, 1_700_000_000, body.as_bytes());
    assert!(
        crate::crypto::webhook::verify(secret, id, 1_700_000_000, body.as_bytes(), &signature),
        "a signature verifies"
    );
    let _ = crate::crypto::webhook::verify(secret, id, 1_700_000_000, body.as_bytes(), &input);
}

/// The eCitizen part of the default world, resolved once.
fn ecitizen_world() -> &'static crate::ecitizen::world::World {
    static WORLD: OnceLock<std::sync::Arc<crate::ecitizen::world::World>> = OnceLock::new();
    WORLD.get_or_init(|| World::default_world().ecitizen.clone())
}

/// The ID-token signer, loaded once.
fn ecitizen_oidc() -> &'static crate::ecitizen::oidc::Oidc {
    static OIDC: OnceLock<crate::ecitizen::oidc::Oidc> = OnceLock::new();
    // The committed key is checked by unit tests; it always loads.
    OIDC.get_or_init(|| crate::ecitizen::oidc::Oidc::from_committed_key().expect("the committed key loads"))
}

/// The secret of the default eCitizen client, which no diagnosis may show.
const ECITIZEN_SECRET: &str = "PesaSandboxEcitizenSecret";
/// RFC 7636 Appendix B's verifier: the fuzz targets' codes are bound to its challenge.
const ECITIZEN_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// An eCitizen authorization request: the input is a query string, checked
/// as `GET /oauth/authorize` checks it (and as the login form's body). A
/// request that passes is bound to a registered redirect URI; a refusal
/// redirects only to one, and the login page for it renders.
pub fn ecitizen_authorize(data: &[u8]) {
    use crate::ecitizen::authorize::{self, Interaction};
    use crate::ecitizen::error::Render;
    use crate::ecitizen::wire::{AuthorizeQuery, LoginForm};
    if data.len() > MAX_INPUT_LEN {
        return;
    }
    let world = ecitizen_world();
    let registered = |location: &str| {
        world.clients.iter().flat_map(|c| c.redirect_uris.iter()).any(|uri| location.starts_with(uri.as_str()))
    };
    let check_refusal = |refused: &crate::ecitizen::error::EcitizenError| {
        if let Render::Redirect { location } = &refused.render {
            assert!(registered(location), "a refusal redirects only to a registered URI: {location}");
        }
        let _ = refused.to_response();
    };
    match authorize::check(&AuthorizeQuery::parse(data), world) {
        Ok(request) => {
            let client = world.client(&request.client_id);
            assert!(
                client.is_some_and(|c| c.has_redirect_uri(&request.redirect_uri)),
                "the redirect URI is registered"
            );
            assert!(registered(&request.success_location("code")), "a code goes only to a registered URI");
            match authorize::interaction(&request, world) {
                Ok(Interaction::Page { selected }) => {
                    let html = crate::ecitizen::page::login_page(&crate::ecitizen::page::LoginPage {
                        action: "/oauth/authorize",
                        client_name: "fuzz",
                        scope: &request.scope,
                        hidden: request.hidden_fields(),
                        users: world.users.values().collect(),
                        selected,
                    });
                    assert!(!html.contains("<script"), "request text is escaped on the page");
                }
                Ok(Interaction::Approve { user_id }) => assert!(world.user(user_id).is_some()),
                Err(refused) => check_refusal(&refused),
            }
        }
        Err(refused) => check_refusal(&refused),
    }
    match authorize::decision(&LoginForm::parse(data), world) {
        Ok((request, _)) => assert!(registered(&request.success_location("code"))),
        Err(refused) => check_refusal(&refused),
    }
}

/// An eCitizen token request: the input's first line is the `Authorization`
/// header, the rest the form body, where `{code}` stands for a live code
/// (bound to the default client, its first redirect URI and RFC 7636
/// Appendix B's challenge). No refusal's diagnosis shows the code, the
/// client secret or the verifier; an exchange that succeeds answers a
/// token whose ID token verifies.
pub fn ecitizen_token_form(data: &[u8]) {
    let _ = accepted_ecitizen_token_form(data);
}

/// The client of an [`ecitizen_token_form`] input whose exchange succeeds
/// in full (for checking that seeds reach past the first check).
pub fn accepted_ecitizen_token_form(data: &[u8]) -> Option<String> {
    use crate::crypto::pkce::{ChallengeMethod, PkcePair};
    use crate::ecitizen::grants::{Authorization, Grants, StoredChallenge};
    use crate::ecitizen::{token, wire::TokenForm};
    if data.len() > MAX_INPUT_LEN {
        return None;
    }
    let world = ecitizen_world();
    let now = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH + chrono::TimeDelta::days(20_000);
    let mut ids = crate::ids::IdGen::new(0, "fuzz");
    let mut grants = Grants::default();
    let pair = PkcePair::from_verifier(ECITIZEN_VERIFIER).ok()?;
    let code = grants.issue_code(
        &mut ids,
        Authorization {
            client_id: "PesaSandboxEcitizenClient".into(),
            redirect_uri: "http://localhost:3000/callback".into(),
            user_id: 1,
            scope: "openid".into(),
            nonce: None,
            challenge: Some(StoredChallenge { challenge: pair.challenge, method: ChallengeMethod::S256 }),
            auth_time: now,
        },
        now,
        600,
    );
    let input = text(data).replace("{code}", &code);
    let (header, body) = input.split_once('\n').unwrap_or(("", input.as_str()));
    let header = (!header.is_empty()).then_some(header.as_bytes());
    let form = TokenForm::parse(body.as_bytes());
    let echoed: String =
        [&form.client_id, &form.redirect_uri, &form.grant_type].iter().filter_map(|p| p.usable()).collect();
    let no_leak = |diagnosis: &str| {
        for secret in [code.as_str(), ECITIZEN_SECRET, ECITIZEN_VERIFIER] {
            assert!(echoed.contains(secret) || !diagnosis.contains(secret), "a diagnosis shows a credential");
        }
    };
    let request = match token::parse(&form, header, world.settings.error_statuses) {
        Ok(request) => request,
        Err(refused) => {
            no_leak(&refused.diagnosis);
            return None;
        }
    };
    match token::exchange(&request, world, &mut grants, &mut ids, ecitizen_oidc(), "http://fuzz", now) {
        Ok(done) => {
            assert!(grants.live_token(&done.response.access_token, now).is_some(), "the token is live");
            if let Some(jwt) = &done.response.id_token {
                assert!(ecitizen_id_token_claims(jwt).is_some(), "the ID token verifies");
            }
            Some(done.client_id)
        }
        Err(refused) => {
            no_leak(&refused.error.diagnosis);
            None
        }
    }
}

/// Whether the text after an [`ecitizen_bearer`] input's first line is an
/// ID token the sandbox signed (for checking the seeds).
pub fn verified_ecitizen_id_token(data: &[u8]) -> bool {
    let input = text(data);
    let (_, rest) = input.split_once('\n').unwrap_or(("", &input));
    ecitizen_id_token_claims(rest.trim()).is_some()
}

/// The claims of an ID token the sandbox signed, if its signature verifies.
fn ecitizen_id_token_claims(jwt: &str) -> Option<Value> {
    let jwk = ecitizen_oidc().jwks().keys.into_iter().next()?;
    let key = jsonwebtoken::DecodingKey::from_rsa_components(&jwk.n, &jwk.e).ok()?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    jsonwebtoken::decode::<Value>(jwt, &key, &validation).ok().map(|data| data.claims)
}

/// Bearer tokens and JWTs: the input's first line is the `Authorization`
/// header and the rest a query string, read as user info reads them; the
/// rest is also an introspection form, and a JWT checked against the
/// ID-token key (a token the sandbox signed verifies, anything else is
/// refused, nothing panics).
pub fn ecitizen_bearer(data: &[u8]) {
    use crate::ecitizen::grants::Grants;
    use crate::ecitizen::resource;
    use crate::ecitizen::wire::{IntrospectForm, UserInfoQuery};
    use crate::ecitizen::world::UserInfoErrors;
    if data.len() > MAX_INPUT_LEN {
        return;
    }
    let world = ecitizen_world();
    let now = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH + chrono::TimeDelta::days(20_000);
    let input = text(data);
    let (header, rest) = input.split_once('\n').unwrap_or(("", &input));
    let header = (!header.is_empty()).then_some(header.as_bytes());
    let grants = Grants::default();
    for mode in [UserInfoErrors::Seed, UserInfoErrors::Rfc6750] {
        let query = UserInfoQuery::parse(rest.as_bytes());
        if let Ok(token) = resource::bearer_token(&query, header, mode) {
            assert!(!token.is_empty(), "a token is never empty");
            assert!(resource::userinfo(token, world, &grants, now).is_err(), "no token is live in empty grants");
        }
    }
    let form = IntrospectForm::parse(rest.as_bytes());
    if let Ok(answer) = resource::introspect(&form, world, &grants, now) {
        let json = serde_json::to_string(&answer).unwrap_or_default();
        assert_eq!(json, r#"{"active":false}"#, "an unknown token is inactive");
    }
    let _ = jsonwebtoken::decode_header(rest.trim());
    if let Some(claims) = ecitizen_id_token_claims(rest.trim()) {
        assert!(claims.get("iss").is_some(), "only the sandbox's ID tokens verify, and they have an issuer");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_accepts_empty_and_oversized_inputs() {
        let oversized = vec![b'{'; MAX_INPUT_LEN + 1];
        let targets: [fn(&[u8]); 13] = [
            ecitizen_authorize,
            ecitizen_token_form,
            ecitizen_bearer,
            daraja_result_request,
            callback_security,
            daraja_stk_push,
            auth_header,
            lnm_password,
            money,
            fields,
            security_credential,
            world_document,
            scenario_decision,
        ];
        for target in targets {
            target(b"");
            target(&oversized);
            target(&[0xff, 0xfe, b'\n', 0x00]);
        }
    }
}
