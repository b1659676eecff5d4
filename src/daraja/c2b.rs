//! C2B: customers paying a paybill or a till, and the merchant hearing of it.
//!
//! * `POST /mpesa/c2b/v1/registerurl`, `/v2/registerurl`: the merchant's
//!   ValidationURL, ConfirmationURL and default `ResponseType`.
//! * `POST /mpesa/c2b/v1/simulate`, `/v2/simulate`: a customer pays (sandbox only).
//! * `POST /__sandbox/c2b/pay` (admin): a customer pays from the phone, the
//!   production path.
//!
//! A payment arrives after the world's result delay. With external
//! validation on for the shortcode, the sandbox first POSTs to the
//! ValidationURL and acts on the answer: `ResultCode` `0` accepts (its
//! `ThirdPartyTransID` is echoed), `C2B0001x` rejects; an unreachable, slow
//! or unreadable validator makes the registered `ResponseType` decide.
//! A completed payment moves the money and POSTs the confirmation, with
//! the shortcode's new utility balance. Without registered URLs the payment
//! completes silently, as on the real system.
//!
//! The acknowledgements are as captured: v2 registration answers
//! `ResponseCode "00000000"` and `"Success"` (2026), v1 `"0"` and `"success"`
//! (the portal; the 2017-2019 form is the `c2b_register_ack = "legacy"`
//! variant). A simulated payment is decided like any other payment: a
//! scenario rule on `c2b_payment` applies to it, and a rule on
//! `c2b_simulate` still does when no `c2b_payment` rule fits.

use axum::extract::State as AxumState;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use compact_str::CompactString;
use serde_json::{Map, Value};

use super::error::{DarajaError, ErrorKind};
use super::extract::{Authed, BodyProblem, JsonObject};
use super::ids;
use super::organisations;
use super::products::{self, Api};
use super::records::{Party, Record, RecordKind, RecordStatus};
use super::requests::{customer_public_name, org_public_name};
use super::scenario::{delayed, gate, Gate, MsisdnForm, Variants};
use super::shapes::Shape;
use super::wire::{
    self, required, shortcode, url, whole_amount, C2bAck, C2bLegacyRegisterAck, C2bNotification, SoapFault,
};
use super::world::ShortcodeKind;
use super::{accounts, Daraja, Due, State};
use crate::app_state::AppState;
use crate::callbacks::{self, CallbackJob, Reply, ReplyTo};
use crate::clock::{after_ms_u64, eat};
use crate::fastmap::HashMap;
use crate::http::Diagnosis;
use crate::ledger::Money;
use crate::markets::Market;
use crate::provider::Registered;
use crate::retained::Retained;
use crate::scenarios::{CallbackScript, Decision, Facts};
use crate::store::{Core, Event};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseType {
    Completed,
    Cancelled,
}

#[derive(Debug, Clone)]
pub struct Registration {
    pub validation_url: String,
    pub confirmation_url: String,
    pub response_type: ResponseType,
    pub version: Version,
    pub registered_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    /// Sent, not yet arrived at M-Pesa.
    Initiated,
    /// Waiting for the merchant's ValidationURL.
    Validating,
    Completed,
    /// Rejected by the validator, or cancelled by `ResponseType`.
    Cancelled,
    /// The customer's wallet could not cover it.
    Failed,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Initiated => "initiated",
            PaymentStatus::Validating => "validating",
            PaymentStatus::Completed => "completed",
            PaymentStatus::Cancelled => "cancelled",
            PaymentStatus::Failed => "failed",
        }
    }
}

/// One customer payment to a shortcode.
#[derive(Debug, Clone)]
pub struct Payment {
    pub trans_id: String,
    pub shortcode: String,
    pub msisdn: String,
    pub amount: Money,
    pub bill_ref_number: String,
    pub buy_goods: bool,
    pub initiated_at: DateTime<Utc>,
    pub status: PaymentStatus,
    pub third_party_trans_id: String,
    /// How the outcome came about, for the admin API.
    pub outcome_reason: String,
    pub script: CallbackScript,
    pub variants: Variants,
}

#[derive(Debug, Default)]
pub struct C2bState {
    pub registrations: HashMap<String, Registration>,
    /// Payments; finished ones are forgotten, oldest first, past the retention limit.
    pub payments: Retained<Payment>,
}

pub(crate) const OPERATION_REGISTER: &str = "c2b_register";
pub(crate) const OPERATION_SIMULATE: &str = "c2b_simulate";
/// The operation scenarios match for the payment itself (validation and confirmation).
pub(crate) const OPERATION_PAYMENT: &str = "c2b_payment";

// ---------------------------------------------------------------------------
// Register URL

pub(crate) async fn register_v1(
    state: AxumState<AppState>,
    auth: Authed,
    body: Result<JsonObject, BodyProblem>,
) -> Result<Response, DarajaError> {
    register(state, auth, body, Version::V1).await
}

pub(crate) async fn register_v2(
    state: AxumState<AppState>,
    auth: Authed,
    body: Result<JsonObject, BodyProblem>,
) -> Result<Response, DarajaError> {
    register(state, auth, body, Version::V2).await
}

/// Words a C2B URL must not contain, in any case.
const FORBIDDEN_WORDS: &[&str] = &["m-pesa", "mpesa", "safaricom", "exe", "exec", "cmd", "sql", "query"];
/// Public URL testers the real system blocks in production.
const URL_TESTERS: &[&str] = &["ngrok", "mockbin", "requestbin"];

async fn register(
    AxumState(_app): AxumState<AppState>,
    auth: Authed,
    body: Result<JsonObject, BodyProblem>,
    version: Version,
) -> Result<Response, DarajaError> {
    products::require(&auth, Api::C2b(version))?;
    let body = body.map_err(|p| p.into_error("ShortCode"))?.0;
    let decision = match gate(&auth.tenant, &auth.consumer_key, OPERATION_REGISTER, Some(&body)) {
        Gate::Pass(decision) => decision,
        Gate::Refuse(response) => return Ok(response),
    };
    let production = auth.tenant.world_of::<Daraja>().settings.production_rules;
    let RegisterRequest { short_code, response_type, confirmation_url, validation_url } =
        parse_register(&body, production)?;
    auth.tenant.with::<Daraja, _>(|core, mine| organisations::ensure(core, mine, &short_code));
    let world = auth.tenant.world_of::<Daraja>();
    let Some(sc) = world.shortcodes.get(&short_code) else {
        return Err(DarajaError::field("ShortCode", format!("shortcode {short_code} is not in this tenant's world")));
    };
    if !sc.usable_in_api() {
        return Err(DarajaError::field(
            "ShortCode",
            format!("{short_code} is a {}; register URLs on the paybill or store number", sc.kind.as_str()),
        ));
    }
    if !sc.c2b {
        // The Apigee fault the real sandbox answers for an M-Pesa Express-only shortcode.
        let mut response = wire::reply_as(
            Shape::SoapFaultC2bRegister,
            StatusCode::INTERNAL_SERVER_ERROR,
            wire::APIGEE_CONTENT_TYPE,
            &SoapFault::url_vault(),
        );
        response.extensions_mut().insert(Diagnosis(format!(
            "shortcode {short_code} is enabled for M-Pesa Express only (c2b = false in the world); C2B URLs cannot be registered on it"
        )));
        return Ok(response);
    }
    let now = auth.tenant.now();
    let once = world.settings.c2b_register_once;
    auth.tenant.with::<Daraja, _>(|_, mine| {
        if production && mine.c2b.registrations.contains_key(&short_code) {
            return Err(DarajaError::new(
                ErrorKind::Custom { code: "500.003.1001".into(), message: "Urls are already registered.".into() },
                "production rules: URLs are registered once; delete them (POST /__sandbox/c2b/{shortcode}/unregister) to register again",
            ));
        }
        if once && mine.c2b.registrations.contains_key(&short_code) {
            // As the shared sandbox answered a second registration in 2026.
            return Err(DarajaError::new(
                ErrorKind::Custom {
                    code: "500.003.1001".into(),
                    message: format!("Duplicate notification info, SP ID is 107078, correlator is {short_code}"),
                },
                "c2b_register_once: this shortcode's URLs are registered; forget them (POST /__sandbox/c2b/{shortcode}/unregister) to register again",
            ));
        }
        let registration = Registration { validation_url, confirmation_url, response_type, version, registered_at: now };
        mine.c2b.registrations.insert(short_code.clone(), registration);
        Ok(())
    })?;
    let variants = Variants::of(decision.as_ref());
    if variants.legacy_register_ack {
        let legacy = C2bLegacyRegisterAck {
            conversation_id: "",
            originator_coversation_id: "",
            response_description: "success",
        };
        return Ok(delayed(wire::reply(Shape::C2bRegisterAckLegacy, &legacy), decision.as_ref()));
    }
    // v2 as captured in 2026, v1 as the portal shows it.
    let (shape, code, description) = match version {
        Version::V1 => (Shape::C2bRegisterAckV1, "0", "success"),
        Version::V2 => (Shape::C2bRegisterAckV2, "00000000", "Success"),
    };
    let originator = auth.tenant.with_core(|core| ids::originator_conversation_id(&mut core.ids));
    Ok(delayed(wire::reply(shape, &ack(&variants, originator, code, description)), decision.as_ref()))
}

/// A syntactically valid URL registration.
#[derive(Debug, Clone)]
pub(crate) struct RegisterRequest {
    pub short_code: String,
    pub response_type: ResponseType,
    pub confirmation_url: String,
    pub validation_url: String,
}

/// Reads a registration; `production` adds the production URL rules.
pub(crate) fn parse_register(body: &Map<String, Value>, production: bool) -> Result<RegisterRequest, DarajaError> {
    let short_code = shortcode(body, "ShortCode")?;
    let response_type = match required(body, "ResponseType")?.as_str() {
        "Completed" => ResponseType::Completed,
        "Cancelled" => ResponseType::Cancelled,
        other => {
            return Err(DarajaError::field(
                "ResponseType",
                format!("ResponseType {other:?} must be exactly \"Completed\" or \"Cancelled\" (sentence case)"),
            ))
        }
    };
    let confirmation_url = c2b_url(body, "ConfirmationURL", production)?;
    let validation_url = c2b_url(body, "ValidationURL", production)?;
    Ok(RegisterRequest { short_code, response_type, confirmation_url, validation_url })
}

/// Reads a simulated payment.
pub(crate) fn parse_simulate(body: &Map<String, Value>) -> Result<PayRequest, DarajaError> {
    let short_code = shortcode(body, "ShortCode")?;
    let command_id = required(body, "CommandID")?;
    let buy_goods = match command_id.as_str() {
        "CustomerPayBillOnline" => false,
        "CustomerBuyGoodsOnline" => true,
        other => {
            return Err(DarajaError::field(
                "CommandID",
                format!("CommandID {other:?} is neither CustomerPayBillOnline nor CustomerBuyGoodsOnline"),
            ))
        }
    };
    let amount = whole_amount(body, "Amount")?;
    let msisdn = wire::msisdn(body, "Msisdn")?;
    let bill_ref_number = crate::fields::optional_text(body, "BillRefNumber").ok().flatten().unwrap_or_default();
    Ok(PayRequest { shortcode: short_code, msisdn, amount, bill_ref_number, buy_goods: Some(buy_goods) })
}

/// The acknowledgement of register and simulate, with the contract's
/// misspelt `OriginatorCoversationID` and the given code unless variants
/// ask otherwise.
fn ack(variants: &Variants, originator: String, code: &str, description: &str) -> C2bAck {
    C2bAck {
        originator_key: variants.originator_key.clone().unwrap_or_else(|| "OriginatorCoversationID".into()),
        originator_conversation_id: originator,
        response_code: variants.response_code.clone().unwrap_or_else(|| code.to_owned()),
        response_description: description.to_owned(),
    }
}

fn c2b_url(body: &Map<String, Value>, field: &'static str, production: bool) -> Result<String, DarajaError> {
    let value = url(body, field)?;
    let lower = value.to_lowercase();
    if let Some(word) = FORBIDDEN_WORDS.iter().find(|w| lower.contains(*w)) {
        return Err(DarajaError::field(
            field,
            format!("{field} contains {word:?}; C2B URLs must not contain M-PESA, Safaricom, exe, exec, cmd, SQL or query in any case"),
        ));
    }
    if production {
        if !lower.starts_with("https://") {
            return Err(DarajaError::field(field, format!("production rules: {field} must use https")));
        }
        if let Some(tester) = URL_TESTERS.iter().find(|t| lower.contains(*t)) {
            return Err(DarajaError::field(
                field,
                format!("production rules: {field} uses a public URL tester ({tester})"),
            ));
        }
    }
    Ok(value)
}

// ---------------------------------------------------------------------------
// Simulate

pub(crate) async fn simulate_v1(
    state: AxumState<AppState>,
    auth: Authed,
    body: Result<JsonObject, BodyProblem>,
) -> Result<Response, DarajaError> {
    simulate(state, auth, body, Version::V1).await
}

pub(crate) async fn simulate_v2(
    state: AxumState<AppState>,
    auth: Authed,
    body: Result<JsonObject, BodyProblem>,
) -> Result<Response, DarajaError> {
    simulate(state, auth, body, Version::V2).await
}

async fn simulate(
    AxumState(app): AxumState<AppState>,
    auth: Authed,
    body: Result<JsonObject, BodyProblem>,
    version: Version,
) -> Result<Response, DarajaError> {
    app.callbacks.admit(&auth.tenant).await;
    products::require(&auth, Api::C2b(version))?;
    let body = body.map_err(|p| p.into_error("ShortCode"))?.0;
    let decision = match gate(&auth.tenant, &auth.consumer_key, OPERATION_SIMULATE, Some(&body)) {
        Gate::Pass(decision) => decision,
        Gate::Refuse(response) => return Ok(response),
    };
    let world = auth.tenant.world_of::<Daraja>();
    if world.settings.production_rules {
        return Err(DarajaError::new(
            ErrorKind::ResourceNotFound,
            "production rules: simulation is not supported on production",
        ));
    }
    let request = parse_simulate(&body)?;
    let now = auth.tenant.now();
    auth.tenant
        .with::<Daraja, _>(|core, mine| {
            organisations::ensure(core, mine, &request.shortcode);
            // The payment is a payment like any other: a c2b_payment rule decides it.
            let facts = payment_facts(&request.msisdn, request.amount, &request.shortcode, &request.bill_ref_number);
            let payment = core.decide(&facts).or_else(|| decision.clone());
            start_payment(core, mine, request, now, payment.as_ref())
        })
        .map_err(|why| DarajaError::field("ShortCode", why))?;
    let variants = Variants::of(decision.as_ref());
    let originator = auth.tenant.with_core(|core| ids::originator_conversation_id(&mut core.ids));
    let body = ack(&variants, originator, "0", "Accept the service request successfully.");
    Ok(delayed(wire::reply(Shape::C2bSimulateAck, &body), decision.as_ref()))
}

// ---------------------------------------------------------------------------
// The payment itself

/// What the scenario engine sees of a customer's payment to a shortcode.
pub(crate) fn payment_facts(msisdn: &str, amount: Money, shortcode: &str, bill_ref_number: &str) -> Facts<'static> {
    Facts {
        provider: super::PROVIDER,
        operation: OPERATION_PAYMENT,
        msisdn: Some(msisdn.to_owned().into()),
        amount: Some(amount),
        shortcode: Some(shortcode.to_owned().into()),
        account_reference: Some(bill_ref_number.to_owned().into()),
        ..Facts::default()
    }
}

/// A customer paying a shortcode (from simulate, or the admin API).
#[derive(Debug, Clone)]
pub(crate) struct PayRequest {
    pub shortcode: String,
    pub msisdn: String,
    pub amount: Money,
    pub bill_ref_number: String,
    /// Forced by simulate's CommandID; inferred from the shortcode's kind otherwise.
    pub buy_goods: Option<bool>,
}

/// Starts a payment; returns its TransID. `Err` says why the shortcode cannot be paid.
pub(crate) fn start_payment(
    core: &mut Core,
    mine: &mut State,
    request: PayRequest,
    now: DateTime<Utc>,
    decision: Option<&Decision>,
) -> Result<String, String> {
    let world = mine.world.clone();
    let Some(sc) = world.shortcodes.get(&request.shortcode) else {
        return Err(format!("shortcode {} is not in this tenant's world", request.shortcode));
    };
    let buy_goods = match (request.buy_goods, sc.kind) {
        (Some(false), ShortcodeKind::Paybill) | (None, ShortcodeKind::Paybill) => false,
        (Some(true), ShortcodeKind::Till | ShortcodeKind::Store)
        | (None, ShortcodeKind::Till | ShortcodeKind::Store) => true,
        (_, kind) => {
            return Err(format!("shortcode {} is a {} and cannot be paid this way", request.shortcode, kind.as_str()))
        }
    };
    core.ensure_customer(Market::Kenya, &request.msisdn);
    let trans_id = ids::receipt(&mut core.ids, now).to_string();
    let delay = decision
        .and_then(|d| d.outcome.as_ref())
        .and_then(|o| o.after_ms)
        .map(|after| after.sample(|low, high| core.ids.between(low, high)))
        .unwrap_or(world.settings.result_delay_ms);
    let payment = Payment {
        trans_id: trans_id.clone(),
        shortcode: request.shortcode,
        msisdn: request.msisdn,
        amount: request.amount,
        bill_ref_number: request.bill_ref_number,
        buy_goods,
        initiated_at: now,
        status: PaymentStatus::Initiated,
        third_party_trans_id: String::new(),
        outcome_reason: String::new(),
        script: decision.map(|d| d.callback.clone()).unwrap_or_default(),
        variants: Variants::of(decision),
    };
    mine.c2b.payments.insert(trans_id.clone(), payment);
    let at = after_ms_u64(now, delay);
    core.schedule::<Daraja>(at, Due::C2bArrive { trans_id: trans_id.clone() });
    Ok(trans_id)
}

/// The payment reaches M-Pesa: validate first if the shortcode asks for it.
pub(crate) fn arrive(core: &mut Core, mine: &mut State, trans_id: &str, at: DateTime<Utc>) {
    let world = mine.world.clone();
    let Some(payment) = mine.c2b.payments.get(trans_id).cloned() else { return };
    if payment.status != PaymentStatus::Initiated {
        return;
    }
    let available = core.ledger.balance(&accounts::customer(&payment.msisdn)).unwrap_or_default();
    if available.cents() < payment.amount.cents() {
        update(
            core,
            mine,
            trans_id,
            PaymentStatus::Failed,
            format!("the customer holds KES {available}, less than KES {}", payment.amount),
        );
        return;
    }
    let registration = mine.c2b.registrations.get(&payment.shortcode).cloned();
    let validate = world.shortcodes.get(&payment.shortcode).is_some_and(|s| s.external_validation);
    match registration {
        Some(reg) if validate => {
            update(core, mine, trans_id, PaymentStatus::Validating, "waiting for the ValidationURL".into());
            let body = notification(core, &payment, &reg, None);
            let id = core.ids.callback_id();
            let url = reg.validation_url.clone();
            let job = CallbackJob {
                timeout_ms: Some(world.settings.c2b_validation_timeout_ms),
                reply_to: Some(ReplyTo { provider: Daraja::ID, key: trans_id.to_owned() }),
                ..wire::callback(Shape::C2bValidation, id, "c2b_validation", trans_id.to_owned(), url, &body)
            };
            core.timeline.schedule(at, Event::Deliver(job));
        }
        _ => complete(core, mine, trans_id, at, "no external validation".into()),
    }
}

/// Acts on the validator's answer (or its silence).
pub(crate) fn on_validation_reply(core: &mut Core, mine: &mut State, trans_id: &str, reply: &Reply, at: DateTime<Utc>) {
    let Some(payment) = mine.c2b.payments.get(trans_id).cloned() else { return };
    if payment.status != PaymentStatus::Validating {
        return;
    }
    let fallback = mine.c2b.registrations.get(&payment.shortcode).map(|r| r.response_type);
    let answer = reply
        .status
        .filter(|s| (200..300).contains(s))
        .and_then(|_| serde_json::from_str::<Value>(&reply.body).ok())
        .and_then(|v| {
            let code = v.get("ResultCode").map(|c| match c {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })?;
            let third_party = v.get("ThirdPartyTransID").and_then(Value::as_str).unwrap_or_default().to_owned();
            Some((code, third_party))
        });
    match answer {
        Some((code, third_party)) if code == "0" => {
            if let Some(p) = mine.c2b.payments.get_mut(trans_id) {
                p.third_party_trans_id = third_party;
            }
            complete(core, mine, trans_id, at, "the ValidationURL accepted it".into());
        }
        Some((code, _)) => {
            update(
                core,
                mine,
                trans_id,
                PaymentStatus::Cancelled,
                format!("the ValidationURL rejected it with {code}"),
            );
        }
        None => {
            let why = match (&reply.error, reply.status) {
                (Some(e), _) => format!("the ValidationURL failed ({e})"),
                (None, Some(s)) if !(200..300).contains(&s) => format!("the ValidationURL answered HTTP {s}"),
                _ => "the ValidationURL's answer had no ResultCode".to_owned(),
            };
            match fallback {
                Some(ResponseType::Completed) | None => {
                    complete(core, mine, trans_id, at, format!("{why}; ResponseType Completed applies"))
                }
                Some(ResponseType::Cancelled) => update(
                    core,
                    mine,
                    trans_id,
                    PaymentStatus::Cancelled,
                    format!("{why}; ResponseType Cancelled applies"),
                ),
            }
        }
    }
}

fn update(core: &mut Core, mine: &mut State, trans_id: &str, status: PaymentStatus, reason: String) {
    let payments = &mut mine.c2b.payments;
    if let Some(p) = payments.get_mut(trans_id) {
        p.status = status;
        p.outcome_reason = reason;
    }
    if matches!(status, PaymentStatus::Completed | PaymentStatus::Cancelled | PaymentStatus::Failed) {
        payments.finish(trans_id, core.limits.transactions, |_, _| {});
    }
}

/// Moves the money, records it and sends the confirmation.
fn complete(core: &mut Core, mine: &mut State, trans_id: &str, at: DateTime<Utc>, reason: String) {
    let Some(payment) = mine.c2b.payments.get(trans_id).cloned() else { return };
    let payer = accounts::customer(&payment.msisdn);
    let payee = accounts::utility(&payment.shortcode);
    let details = match payment.buy_goods {
        true => format!("Merchant Payment from {}", payment.msisdn),
        false => format!("Pay Bill from {} - Acc. {}", payment.msisdn, payment.bill_ref_number),
    };
    if let Err(e) = core.ledger.transfer(trans_id, &details, at, &payer, &payee, payment.amount) {
        update(core, mine, trans_id, PaymentStatus::Failed, format!("the ledger refused it: {e}"));
        return;
    }
    update(core, mine, trans_id, PaymentStatus::Completed, reason);
    let kind = if payment.buy_goods { RecordKind::BuyGoods } else { RecordKind::PayBill };
    record_payment(
        core,
        mine,
        trans_id.into(),
        kind,
        payment.msisdn.as_str().into(),
        payment.shortcode.as_str().into(),
        payment.amount,
        Some(payment.bill_ref_number.as_str().into()),
        at,
    );
    send_confirmation(core, mine, &payment, at);
}

/// Sends the C2B confirmation of a completed payment to the shortcode's
/// registered ConfirmationURL, if any.
fn send_confirmation(core: &mut Core, mine: &mut State, payment: &Payment, at: DateTime<Utc>) {
    let Some(reg) = mine.c2b.registrations.get(&payment.shortcode).cloned() else { return };
    let balance = core.ledger.balance(&accounts::utility(&payment.shortcode)).unwrap_or_default();
    let body = notification(core, payment, &reg, Some(balance));
    let id = core.ids.callback_id();
    let job = wire::callback(
        Shape::C2bConfirmation,
        id,
        "c2b_confirmation",
        payment.trans_id.clone(),
        reg.confirmation_url,
        &body,
    );
    let script = payment.script.clone();
    callbacks::plan(core, job, &script, at);
}

/// A paid M-Pesa Express push to a paybill whose world asks for it also
/// sends the C2B confirmation.
#[allow(clippy::too_many_arguments)]
pub(crate) fn confirm_stk_payment(
    core: &mut Core,
    mine: &mut State,
    receipt: &str,
    shortcode: &str,
    msisdn: &str,
    amount: Money,
    account: &str,
    at: DateTime<Utc>,
) {
    let confirms = mine.world.shortcodes.get(shortcode).is_some_and(|s| s.stk_confirmation);
    if !confirms {
        return;
    }
    let payment = Payment {
        trans_id: receipt.to_owned(),
        shortcode: shortcode.to_owned(),
        msisdn: msisdn.to_owned(),
        amount,
        bill_ref_number: account.to_owned(),
        buy_goods: false,
        initiated_at: at,
        status: PaymentStatus::Completed,
        third_party_trans_id: String::new(),
        outcome_reason: "paid through M-Pesa Express".into(),
        script: CallbackScript::default(),
        variants: Variants::default(),
    };
    send_confirmation(core, mine, &payment, at);
}

/// Records a customer's payment to a shortcode (C2B or M-Pesa Express).
#[allow(clippy::too_many_arguments)]
pub(crate) fn record_payment(
    core: &mut Core,
    mine: &mut State,
    receipt: CompactString,
    kind: RecordKind,
    msisdn: CompactString,
    shortcode: CompactString,
    amount: Money,
    bill_reference: Option<CompactString>,
    at: DateTime<Utc>,
) {
    let debit_name = customer_public_name(core, &msisdn);
    let credit_name = org_public_name(&mine.world, &shortcode);
    let record = Record {
        receipt,
        kind,
        completed_at: at,
        debit: Party { id: msisdn, public_name: debit_name },
        credit: Party { id: shortcode, public_name: credit_name },
        amount,
        charge: Money(0),
        status: RecordStatus::Completed,
        originator_conversation_id: None,
        conversation_id: None,
        bill_reference,
        initiator: None,
        linked_receipt: None,
    };
    mine.records.insert(record, core.limits.transactions);
}

/// The validation and confirmation body (the same shape; `OrgAccountBalance`
/// and `ThirdPartyTransID` are blank on validation). All values are strings.
fn notification(core: &Core, payment: &Payment, reg: &Registration, balance: Option<Money>) -> C2bNotification {
    let (first_name, middle_name, last_name) = core.customer_names(&payment.msisdn);
    let msisdn = match payment.variants.msisdn.unwrap_or(MsisdnForm::Masked) {
        MsisdnForm::Full => payment.msisdn.clone(),
        MsisdnForm::Hashed => super::stk::hex_sha256(&payment.msisdn),
        MsisdnForm::Masked => mask(&payment.msisdn, reg.version),
    };
    C2bNotification {
        transaction_type: if payment.buy_goods { "Buy Goods" } else { "Pay Bill" },
        trans_id: payment.trans_id.clone(),
        trans_time: crate::crypto::lnm::format_timestamp(eat(payment.initiated_at)),
        trans_amount: payment.amount.to_string(),
        business_short_code: payment.shortcode.clone(),
        bill_ref_number: payment.bill_ref_number.clone(),
        invoice_number: String::new(),
        org_account_balance: balance.map(|b| b.to_string()).unwrap_or_default(),
        third_party_trans_id: payment.third_party_trans_id.clone(),
        msisdn,
        first_name,
        middle_name,
        last_name,
    }
}

/// `2547 ***** 126` (v2) or `25470****149` (v1), as the real notifications mask.
pub(crate) fn mask(msisdn: &str, version: Version) -> String {
    let chars: Vec<char> = msisdn.chars().collect();
    if chars.len() < 8 {
        return msisdn.to_owned();
    }
    let tail: String = chars[chars.len() - 3..].iter().collect();
    match version {
        Version::V2 => format!("{} ***** {tail}", chars[..4].iter().collect::<String>()),
        Version::V1 => format!("{}****{tail}", chars[..5].iter().collect::<String>()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msisdns_are_masked_as_each_version_does() {
        assert_eq!(mask("254708374126", Version::V2), "2547 ***** 126");
        assert_eq!(mask("254708374149", Version::V1), "25470****149");
        assert_eq!(mask("123", Version::V1), "123");
    }
}
