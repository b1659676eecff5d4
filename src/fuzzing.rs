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
use crate::fields::Object;
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
    StkPushRequest::parse(Object::parse(data).ok()?).ok().map(|push| push.business_short_code.into())
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
    // The push reads the body's fields without a tree, the query through
    // one: both must accept and refuse the same bodies.
    let object = Object::parse(data);
    let Some(body) = json_object(data) else {
        assert!(object.is_err(), "a body that is not a JSON object is refused by both readers");
        return;
    };
    let Ok(object) = object else {
        panic!("a JSON object is read by both readers");
    };
    if let Ok(push) = StkPushRequest::parse(object) {
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
        account_reference: Some(input.to_string().into()),
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

// ---------------------------------------------------------------------------
// Hostile numbers: documents whose every numeric field comes from the input,
// biased towards the boundaries the sandbox checks.

/// Values a hostile number is drawn from: every boundary the sandbox checks
/// (and one past it), the ends of the integer types, and non-numbers.
const EDGES: &[&str] = &[
    "0",
    "1",
    "-1",
    "100",
    "101",
    "600000",
    "600001",
    "86400000",
    "86400001",
    "31536000",
    "31536001",
    "36500",
    "36501",
    "1000000000",
    "1000000001",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "1e13",
    "1e300",
    "-1e300",
    "nan",
    "inf",
    "0.5",
];

/// The input as a stream of numbers in TOML syntax: each 9 bytes give one,
/// the first byte choosing between a boundary, the raw 64 bits (unsigned
/// or signed) and a small number.
fn hostile_numbers(data: &[u8]) -> impl Iterator<Item = String> + '_ {
    data.chunks(9).map(|chunk| {
        let (selector, rest) = chunk.split_first().map_or((0, &[][..]), |(s, r)| (*s, r));
        let mut raw = [0u8; 8];
        for (slot, byte) in raw.iter_mut().zip(rest) {
            *slot = *byte;
        }
        let value = u64::from_le_bytes(raw);
        match selector % 4 {
            0 => {
                let index = usize::try_from(value % EDGES.len() as u64).unwrap_or(0);
                EDGES.get(index).copied().unwrap_or("0").to_owned()
            }
            1 => value.to_string(),
            2 => i64::from_le_bytes(raw).to_string(),
            _ => (value % 1000).to_string(),
        }
    })
}

/// Fills each `{}` of `template` with the next number ("0" once the input
/// runs out).
fn fill(template: &str, numbers: &mut impl Iterator<Item = String>) -> String {
    let mut parts = template.split("{}");
    let mut out = parts.next().unwrap_or_default().to_owned();
    for part in parts {
        out.push_str(&numbers.next().unwrap_or_else(|| "0".to_owned()));
        out.push_str(part);
    }
    out
}

const WORLD_NUMBERS: &str = "[daraja]
token_ttl_secs = {}
timestamp_window_secs = {}
stk_answer_delay_ms = {}
stk_timeout_secs = {}
stk_min_amount = {}
stk_max_amount = {}
result_delay_ms = {}
c2b_validation_timeout_ms = {}
lockout_after_failures = {}
web_password_days = {}
b2c_min_amount = {}
b2c_max_amount = {}
[daraja.charges]
b2c = {}
b2b = {}
[customer_defaults]
balance = {}
[[customers]]
msisdn = \"254708374149\"
balance = {}
[[initiators]]
name = \"fuzz\"
password = \"p\"
password_age_days = {}
[[rate_limits]]
capacity = {}
refill = {}
period_ms = {}
initial = {}
";

const SCENARIO_NUMBERS: &str = "[[rules]]
when = { operation = \"stk_push\", amount = { min = {}, max = {} } }
outcome = { result_code = {}, after_ms = {} }
fault = { delay_ms = {}, status = {} }
callback = { delay_ms = { min = {}, max = {} }, duplicates = {}, duplicate_spacing_ms = {}, out_of_order = true, hold_max_ms = {}, retry_ms = [{}, {}] }
[[rules]]
callback = { delay_ms = {}, duplicates = {}, duplicate_spacing_ms = {} }
[[rate_limits]]
capacity = {}
refill = {}
period_ms = {}
initial = {}
";

/// The instants hostile numbers are added to: the ends of what a virtual
/// clock shows, and now.
fn extreme_instants() -> [chrono::DateTime<chrono::Utc>; 3] {
    [crate::clock::dawn(), chrono::Utc::now(), crate::clock::horizon()]
}

/// The world document [`world_numbers`] makes of an input (for checking seeds).
pub fn world_numbers_text(data: &[u8]) -> String {
    fill(WORLD_NUMBERS, &mut hostile_numbers(data))
}

/// The scenario document [`scenario_numbers`] makes of an input (for checking seeds).
pub fn scenario_numbers_text(data: &[u8]) -> String {
    fill(SCENARIO_NUMBERS, &mut hostile_numbers(data))
}

/// Whether a scenario document parses, with the error if not.
pub fn parsed_scenario(text: &str) -> Result<(), String> {
    scenarios::Scenario::parse(text, "seed").map(|_| ()).map_err(|e| e.to_string())
}

/// A world document whose every number comes from the input: it resolves
/// or is refused, and a world that resolves makes a tenant, at the ends of
/// the virtual calendar, whose rate limits and customers work.
pub fn world_numbers(data: &[u8]) {
    if data.len() > MAX_INPUT_LEN {
        return;
    }
    let text = world_numbers_text(data);
    let Ok(doc) = World::parse_doc(&text, "fuzz") else { return };
    let Ok(world) = World::from_overlays(&[(doc, "fuzz".into())]) else { return };
    for at in extreme_instants() {
        let tenants = crate::store::Tenants::new(
            1,
            world.clone(),
            crate::clock::Clock::virtual_at(at),
            crate::config::Config::local().limits,
            scenarios::ScenarioSet::default(),
            crate::ids::Secrets::Seeded,
        );
        let tenant = tenants.default_tenant();
        tenant.with_core(|core| {
            for now in extreme_instants() {
                let _ = core.take_token("fuzz", "daraja", "stk_push", now);
            }
            let _ = core.ensure_customer(crate::markets::Market::Kenya, "254700000001");
        });
    }
}

/// One core to plan callbacks on, shared by every input (reset after each).
fn fuzz_tenants() -> &'static crate::store::Tenants {
    static TENANTS: OnceLock<crate::store::Tenants> = OnceLock::new();
    TENANTS.get_or_init(|| {
        crate::store::Tenants::new(
            1,
            World::default_world(),
            crate::clock::Clock::virtual_at(crate::clock::horizon()),
            crate::config::Config::local().limits,
            scenarios::ScenarioSet::default(),
            crate::ids::Secrets::Seeded,
        )
    })
}

/// A scenario whose every number comes from the input: it parses or is
/// refused, and a scenario that parses plans its callbacks, delays its
/// outcomes and takes rate-limit tokens at the ends of the virtual
/// calendar without panicking.
pub fn scenario_numbers(data: &[u8]) {
    if data.len() > MAX_INPUT_LEN {
        return;
    }
    let text = scenario_numbers_text(data);
    let Ok(scenario) = scenarios::Scenario::parse(&text, "fuzz.toml") else { return };
    let job = crate::callbacks::CallbackJob::new(
        "cb-1",
        "daraja",
        "fuzz",
        "tx-1",
        "http://127.0.0.1:9/fuzz",
        &serde_json::json!({}),
    );
    let scenario = std::sync::Arc::new(scenario);
    fuzz_tenants().default_tenant().with_core(|core| {
        core.scenarios = scenarios::ScenarioSet { scenarios: vec![scenario.clone()] };
        for at in extreme_instants() {
            for rule in &scenario.rules {
                let decision = &rule.decision;
                crate::callbacks::plan(core, job.clone(), &decision.callback, at);
                if let Some(delay) = decision.outcome.as_ref().and_then(|o| o.after_ms) {
                    let ms = delay.sample(|low, high| core.ids.between(low, high));
                    let _ = crate::clock::after_ms_u64(at, ms);
                }
                let facts = scenarios::Facts {
                    provider: "daraja",
                    operation: "stk_push",
                    amount: Some(Money::from_shillings(10)),
                    ..scenarios::Facts::default()
                };
                let _ = core.decide(&facts);
            }
            let _ = core.take_token("fuzz", "daraja", "stk_push", at);
        }
        core.timeline.clear();
        core.held.clear();
        core.scenarios = scenarios::ScenarioSet::default();
    });
}

/// An admin API body, read as every admin endpoint that takes JSON reads
/// it: a clock move, a tenant creation, a scenario request. Whatever is
/// accepted stays within its documented ranges.
pub fn admin_body(data: &[u8]) {
    use crate::admin::fuzzing as admin;
    if data.len() > MAX_INPUT_LEN {
        return;
    }
    admin::clock_move(data);
    admin::tenant_creation(data);
    admin::scenario_request(data);
}

/// The Vodafone bearer decoder for the fuzz targets (the 2048-bit pair, so
/// an input that decrypts costs a seventh of a 4096-bit decryption).
fn vodafone_decoder() -> &'static crate::vodafone::bearer::BearerDecoder {
    use crate::vodafone::bearer::BearerDecoder;
    use crate::vodafone::keys::{KeySize, ProviderKeys};
    static DECODER: OnceLock<BearerDecoder> = OnceLock::new();
    DECODER.get_or_init(|| {
        BearerDecoder::new(ProviderKeys::load(KeySize::Rsa2048).expect("the committed Vodafone keys load"), 64)
    })
}

/// A Vodafone `Authorization` header, decoded as every portal and OpenAPI
/// call's bearer is (scheme, Base64, length, RSA PKCS#1 v1.5, UTF-8), and
/// what a mismatch would say of it.
pub fn vodafone_bearer(data: &[u8]) {
    if data.len() > MAX_CREDENTIAL_LEN {
        return;
    }
    if let Ok(secret) = vodafone_decoder().decode(Some(data)) {
        let _ = crate::vodafone::bearer::describe_mismatch(&secret, crate::vodafone::bearer::Secret::ApiKey);
    }
}

/// A portal request: the first byte picks the API, the rest is its JSON
/// body (or, for the status query, its query string), parsed as the handler
/// parses it; every refusal is an `INS-*` code.
pub fn vodafone_portal_request(data: &[u8]) {
    use crate::vodafone::api::{Api, Profile};
    use crate::vodafone::markets::Market;
    use crate::vodafone::{fields::Reader, portal};
    let Some((&pick, rest)) = data.split_first() else { return };
    if rest.len() > MAX_INPUT_LEN {
        return;
    }
    let api = Api::PORTAL[usize::from(pick) % Api::PORTAL.len()];
    let result = if api.reads_query_string() {
        portal::parse_query(api, Some(&text(rest)), Market::Mozambique)
    } else {
        Reader::body(rest, Profile::Portal, api).and_then(|map| portal::parse(api, &map, Market::Mozambique))
    };
    if let Err(refusal) = result {
        assert!(refusal.code().starts_with("INS-"), "a portal refusal is an INS code");
        let _ = serde_json::to_vec(&refusal.body());
    }
}

/// An OpenAPI request: the first byte picks the API and the second the
/// market, the rest is its JSON body or query string.
pub fn vodafone_openapi_request(data: &[u8]) {
    use crate::vodafone::api::{Api, Profile};
    use crate::vodafone::markets::Market;
    use crate::vodafone::{fields::Reader, openapi};
    let [pick, market, rest @ ..] = data else { return };
    if rest.len() > MAX_INPUT_LEN {
        return;
    }
    let api = Api::ALL[usize::from(*pick) % Api::ALL.len()];
    let market = Market::ALL[usize::from(*market) % Market::ALL.len()];
    let today = chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap_or_default();
    let result = if api.reads_query_string() {
        openapi::parse_query(api, Some(&text(rest)), market, today)
    } else {
        Reader::body(rest, Profile::OpenApi, api).and_then(|map| openapi::parse(api, &map, market, today))
    };
    if let Err(refusal) = result {
        assert!(refusal.code().starts_with("INS-"), "an OpenAPI refusal is an INS code");
        let _ = serde_json::to_vec(&refusal.body());
    }
}

/// A listener's answer to an asynchronous result, judged against the
/// acknowledgement contract (the first byte picks the API).
pub fn vodafone_acknowledgement(data: &[u8]) {
    use crate::vodafone::api::Api;
    let Some((&pick, rest)) = data.split_first() else { return };
    if rest.len() > MAX_INPUT_LEN {
        return;
    }
    let api = Api::ALL[usize::from(pick) % Api::ALL.len()];
    let judgement = crate::vodafone::wire::judge_ack(rest, api, "fd1e9143d22544459f7c66e1860ef276");
    assert!(judgement.accepted || judgement.remark.is_some(), "a refused acknowledgement says why");
}

/// A receiver's answer to a callback, read by the plain-HTTP client: the
/// first byte is how many bytes each read hands over (0: all at once), the
/// next two how many bytes of the body to keep, the rest is what the
/// receiver sends. Whatever it sends, the client returns without
/// panicking and keeps no more than it was asked to.
pub fn callback_answer(data: &[u8]) {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    let [piece, high, low, answer @ ..] = data else { return };
    if answer.len() > MAX_INPUT_LEN {
        return;
    }
    let capture = usize::from(u16::from_be_bytes([*high, *low]));
    let receiver = Scripted { answer, piece: usize::from(*piece) };
    let mut exchange = std::pin::pin!(crate::callbacks::answer_of(receiver, b"POST / HTTP/1.1\r\n\r\n", capture));
    // The receiver never makes the client wait, so each poll makes progress.
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..=answer.len().saturating_add(2) {
        if let Poll::Ready(result) = exchange.as_mut().poll(&mut cx) {
            if let Ok((status, body, _)) = result {
                assert!(body.len() <= capture, "kept {} bytes of {capture}", body.len());
                assert!((100..1000).contains(&status), "status {status}");
            }
            return;
        }
    }
    panic!("the client waited on a receiver that never makes it wait");
}

/// A receiver that takes any request and answers with `answer`, `piece`
/// bytes per read (all of it when 0), then closes.
struct Scripted<'a> {
    answer: &'a [u8],
    piece: usize,
}

impl tokio::io::AsyncRead for Scripted<'_> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let piece = if self.piece == 0 { self.answer.len() } else { self.piece };
        let n = piece.min(buf.remaining()).min(self.answer.len());
        let (now, later) = self.answer.split_at(n);
        buf.put_slice(now);
        self.answer = later;
        std::task::Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for Scripted<'_> {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// A Pesaflow request body, read as a form and as JSON, through every
/// Pesaflow parser: the checkout on each of its paths (lenient and strict
/// field names), validate, confirm, the status query, the token exchange,
/// `invoice/create`, and a merchant's USSD answer.
pub fn pesaflow_form(data: &[u8]) {
    use crate::pesaflow::params::Params;
    use crate::pesaflow::wire::{
        CheckoutPath, CheckoutRequest, ConfirmRequest, FieldNames, InvoiceCreateRequest, StatusQuery, TokenRequest,
        UssdValidationAnswer, ValidateRequest,
    };
    if data.len() > MAX_INPUT_LEN {
        return;
    }
    let mut bodies = vec![Params::from_form(data)];
    if let Ok(json) = Params::from_json(data) {
        bodies.push(json);
    }
    for params in &bodies {
        let _ = params.to_elixir(&[]);
        for path in CheckoutPath::ALL {
            for names in [FieldNames::Lenient, FieldNames::Strict] {
                if let Ok(checkout) = CheckoutRequest::parse(params, path, names) {
                    let sent = params.required("amountExpected").ok();
                    assert_eq!(
                        sent.as_deref(),
                        Some(checkout.amount_expected.text()),
                        "an accepted amount is hashed exactly as sent"
                    );
                    assert!(checkout.amount_expected.money().cents() > 0, "an accepted amount is positive");
                    assert!(!checkout.send_stk || checkout.msisdn().is_some(), "a prompt always has a phone");
                }
            }
        }
        let _ = ValidateRequest::parse(params);
        let _ = ConfirmRequest::parse(params);
        let _ = StatusQuery::parse(params);
        let _ = TokenRequest::parse(params);
        if let Ok(created) = InvoiceCreateRequest::parse(params) {
            let _ = created.items_total();
        }
    }
    let _ = UssdValidationAnswer::parse(data);
}

/// Separates the parts of a [`pesaflow_secure_hash`] input.
pub const HASH_SEPARATOR: char = '\n';

/// A [`pesaflow_secure_hash`] input, split: the recipe and encoding the first
/// byte picks, then the key, the secret, the hash given and the values.
struct HashInput {
    recipe: crate::crypto::secure_hash::Recipe,
    encoding: crate::crypto::secure_hash::HashEncoding,
    parts: Vec<String>,
}

impl HashInput {
    fn read(data: &[u8]) -> Option<HashInput> {
        use crate::crypto::secure_hash::{HashEncoding, Recipe};
        let (&selector, rest) = data.split_first()?;
        if rest.len() > MAX_INPUT_LEN {
            return None;
        }
        let recipes = Recipe::ALL;
        let encodings = HashEncoding::ALL;
        let recipe = *recipes.get(usize::from(selector) % recipes.len())?;
        let encoding = *encodings.get(usize::from(selector / 16) % encodings.len())?;
        let parts = text(rest).split(HASH_SEPARATOR).map(str::to_owned).collect();
        Some(HashInput { recipe, encoding, parts })
    }

    fn part(&self, index: usize) -> &str {
        self.parts.get(index).map_or("", String::as_str)
    }

    fn values(&self) -> Vec<&str> {
        self.parts.iter().skip(3).map(String::as_str).collect()
    }

    fn credentials(&self) -> crate::crypto::secure_hash::HashKey<'_> {
        crate::crypto::secure_hash::HashKey { key: self.part(0), secret: self.part(1) }
    }
}

/// Pesaflow secure hashes: the first byte picks the recipe and the encoding;
/// the rest is `key \n secret \n given \n value \n value …`. Whatever the
/// input, a hash computed from the values verifies, and a mismatch's
/// diagnosis never shows a key or secret.
pub fn pesaflow_secure_hash(data: &[u8]) {
    use crate::crypto::secure_hash::{secure_hash, verify};
    let Some(input) = HashInput::read(data) else {
        return;
    };
    let (recipe, encoding, credentials, values) = (input.recipe, input.encoding, input.credentials(), input.values());
    match secure_hash(recipe, &values, credentials, encoding) {
        Ok(hash) => {
            let matched = verify(recipe, &values, credentials, &hash, &[encoding]);
            assert!(matched.is_ok(), "a hash computed from the values verifies");
        }
        Err(_) => assert_ne!(values.len(), recipe.fields().len(), "only a wrong number of values is refused"),
    }
    if let Err(mismatch) = verify(recipe, &values, credentials, input.part(2), &[]) {
        let diagnosis = mismatch.to_string();
        // Values are shown quoted (`{:?}`), which escapes control characters,
        // so a credential with one cannot appear raw unless it leaked.
        for credential in [credentials.key, credentials.secret] {
            if credential.chars().any(char::is_control) {
                assert!(!diagnosis.contains(credential), "a diagnosis never shows a key or secret");
            }
        }
    }
}

/// Whether the hash a [`pesaflow_secure_hash`] input gives matches its
/// values under its recipe and encoding (for checking that seeds are real
/// vectors).
pub fn pesaflow_hash_matches(data: &[u8]) -> bool {
    let Some(input) = HashInput::read(data) else {
        return false;
    };
    let values = input.values();
    crate::crypto::secure_hash::verify(input.recipe, &values, input.credentials(), input.part(2), &[input.encoding])
        .is_ok()
}

/// The `billRefNumber` of a checkout body (form or JSON) the lenient parser
/// accepts in full on the live path (for checking that seeds reach past the
/// first check).
pub fn accepted_pesaflow_checkout(data: &[u8]) -> Option<String> {
    use crate::pesaflow::params::Params;
    use crate::pesaflow::wire::{CheckoutPath, CheckoutRequest, FieldNames};
    let params = Params::from_body(None, data).ok()?;
    CheckoutRequest::parse(&params, CheckoutPath::Iframe, FieldNames::Lenient).ok().map(|c| c.bill_ref_number)
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
        let targets: [fn(&[u8]); 18] = [
            world_numbers,
            scenario_numbers,
            admin_body,
            pesaflow_form,
            pesaflow_secure_hash,
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
