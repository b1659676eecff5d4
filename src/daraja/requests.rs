//! Requests answered through `ResultURL`: B2C (v1, v3, B2Pochi), B2B (pay
//! bill, buy goods, B2C account top-up), tax remittance, reversal,
//! transaction status and account balance.
//!
//! They share one life: validated and acknowledged synchronously (an
//! `OriginatorConversationID` and a `ConversationID`), then settled at the
//! time the world or the scenario says, when the initiator, its
//! `SecurityCredential`, its roles and the money are checked, the ledger
//! moves, and the `{"Result": ...}` callback goes to `ResultURL` (optionally
//! preceded by a `QueueTimeOutURL` notification).
//! A wrong credential or a missing role is not a synchronous error: like
//! production, the request is accepted and the result says `2001` or `21`.

use std::collections::{HashMap, VecDeque};

use axum::extract::State as AxumState;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};

use super::error::{DarajaError, ErrorKind};
use super::extract::{Authed, BodyProblem, JsonObject};
use super::ids;
use super::operators::{self, Refusal};
use super::records::{Party, Record, RecordKind, RecordStatus};
use super::results::api_result_desc;
use super::scenario::{delayed, gate, Gate};
use super::wire::{self, any_of, bounded, required, shortcode, url, whole_amount, Param, RequestAck, ResultBody};
use crate::app::AppState;
use crate::callbacks::{self, CallbackJob};
use crate::clock::eat;
use crate::http::Diagnosis;
use crate::ledger::{Account, LedgerError, Money, OrgAccount};
use crate::scenarios::{CallbackScript, Decision, ResultCode, Variants};
use crate::store::{self, TenantState};
use crate::world::{Role, ShortcodeKind, World};

/// Which API a request came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKind {
    B2c { v3: bool, pochi: bool },
    B2b,
    TaxRemittance,
    Reversal,
    TransactionStatus,
    AccountBalance,
}

impl ApiKind {
    /// The operation name scenarios match on.
    pub fn operation(self) -> &'static str {
        match self {
            ApiKind::B2c { pochi: true, .. } => "b2pochi",
            ApiKind::B2c { .. } => "b2c",
            ApiKind::B2b => "b2b",
            ApiKind::TaxRemittance => "tax_remittance",
            ApiKind::Reversal => "reversal",
            ApiKind::TransactionStatus => "transaction_status",
            ApiKind::AccountBalance => "account_balance",
        }
    }

    fn role(self) -> Role {
        match self {
            ApiKind::B2c { .. } => Role::B2c,
            ApiKind::B2b => Role::B2b,
            ApiKind::TaxRemittance => Role::TaxRemittance,
            ApiKind::Reversal => Role::Reversal,
            ApiKind::TransactionStatus => Role::TransactionStatus,
            ApiKind::AccountBalance => Role::AccountBalance,
        }
    }

    /// The CommandIDs the API accepts.
    fn command_ids(self) -> &'static [&'static str] {
        match self {
            ApiKind::B2c { pochi: true, .. } => &["BusinessPayToPochi"],
            ApiKind::B2c { .. } => &["SalaryPayment", "BusinessPayment", "PromotionPayment"],
            ApiKind::B2b => &["BusinessPayBill", "BusinessBuyGoods", "BusinessPayToBulk"],
            ApiKind::TaxRemittance => &["PayTaxToKRA"],
            ApiKind::Reversal => &["TransactionReversal"],
            ApiKind::TransactionStatus => &["TransactionStatusQuery"],
            ApiKind::AccountBalance => &["AccountBalance"],
        }
    }

    /// The field an unreadable body is reported on.
    fn first_field(self) -> &'static str {
        match self {
            ApiKind::B2c { .. } => "InitiatorName",
            _ => "Initiator",
        }
    }

    /// Where real results say the internal queue listens.
    fn internal_queue_url(self) -> &'static str {
        match self {
            ApiKind::B2c { .. } => "https://internalsandbox.safaricom.co.ke/mpesa/b2cresults/v1/submit",
            ApiKind::B2b | ApiKind::TaxRemittance => {
                "https://internalsandbox.safaricom.co.ke/mpesa/b2bresults/v1/submit"
            }
            ApiKind::Reversal => "https://internalsandbox.safaricom.co.ke/mpesa/reversalresults/v1/submit",
            ApiKind::TransactionStatus => "https://internalsandbox.safaricom.co.ke/mpesa/tsresults/v1/submit",
            ApiKind::AccountBalance => "https://internalsandbox.safaricom.co.ke/mpesa/abresults/v1/submit",
        }
    }

    /// B2B, tax and balance results carry codes as strings in the documentation.
    fn codes_as_text(self) -> bool {
        matches!(self, ApiKind::B2b | ApiKind::TaxRemittance | ApiKind::AccountBalance)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestStatus {
    Pending,
    Completed,
    Failed,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Completed => "completed",
            RequestStatus::Failed => "failed",
        }
    }
}

/// One accepted request, until its result has been produced (and a while after).
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub kind: ApiKind,
    pub conversation_id: String,
    pub originator_conversation_id: String,
    pub initiator: String,
    pub command_id: String,
    pub party_a: String,
    pub party_b: Option<String>,
    pub amount: Option<Money>,
    pub remarks: Option<String>,
    pub occasion: Option<String>,
    pub account_reference: Option<String>,
    pub transaction_id: Option<String>,
    pub original_conversation_id: Option<String>,
    pub result_url: String,
    pub queue_timeout_url: String,
    pub accepted_at: DateTime<Utc>,
    pub settles_at: DateTime<Utc>,
    pub status: RequestStatus,
    /// A failure decided at acceptance (credential, role, scenario).
    pub planned: Option<(ResultCode, Option<String>)>,
    pub outcome_reason: String,
    pub script: CallbackScript,
    pub variants: Variants,
    pub result: Option<(ResultCode, String)>,
    pub receipt: Option<String>,
}

/// Requests by ConversationID, with the client's OriginatorConversationIDs.
#[derive(Debug, Default)]
pub struct Requests {
    /// Boxed: the map keeps spare capacity, which should cost a pointer, not a request.
    pub by_conversation: HashMap<String, Box<ApiRequest>>,
    originators: HashMap<String, String>,
    settled: VecDeque<String>,
}

macro_rules! handler {
    ($name:ident, $kind:expr) => {
        pub async fn $name(
            AxumState(app): AxumState<AppState>,
            auth: Authed,
            body: Result<JsonObject, BodyProblem>,
        ) -> Result<Response, DarajaError> {
            accept(&app, auth, body, $kind).await
        }
    };
}

handler!(b2c_v1, ApiKind::B2c { v3: false, pochi: false });
handler!(b2c_v3, ApiKind::B2c { v3: true, pochi: false });
handler!(b2pochi, ApiKind::B2c { v3: true, pochi: true });
handler!(b2b, ApiKind::B2b);
handler!(remit_tax, ApiKind::TaxRemittance);
handler!(reversal, ApiKind::Reversal);
handler!(transaction_status, ApiKind::TransactionStatus);
handler!(account_balance, ApiKind::AccountBalance);

/// A syntactically valid request.
struct Parsed {
    initiator: String,
    security_credential: String,
    command_id: String,
    party_a: String,
    party_b: Option<String>,
    amount: Option<Money>,
    remarks: Option<String>,
    occasion: Option<String>,
    account_reference: Option<String>,
    transaction_id: Option<String>,
    original_conversation_id: Option<String>,
    result_url: String,
    queue_timeout_url: String,
    client_originator_id: Option<String>,
}

async fn accept(
    app: &AppState,
    auth: Authed,
    body: Result<JsonObject, BodyProblem>,
    kind: ApiKind,
) -> Result<Response, DarajaError> {
    app.callbacks.admit().await;
    let body = body.map_err(|p| p.into_error(kind.first_field()))?.0;
    let decision = match gate(&auth.tenant, &auth.consumer_key, kind.operation(), Some(&body)) {
        Gate::Pass(decision) => decision,
        Gate::Refuse(response) => return Ok(response),
    };
    let parsed = parse(&body, kind)?;
    // Decrypting costs about a millisecond; the cache makes a repeated credential cost a hash.
    let decrypted = operators::decrypt_cached(&app.credential_cache, &app.daraja_keys, &parsed.security_credential);
    let now = auth.tenant.now();
    let (ack, diagnosis) =
        auth.tenant.with_state(|state| register(state, parsed, kind, &decrypted, now, decision.as_ref()))?;
    let mut response = delayed(Json(ack).into_response(), decision.as_ref());
    if let Some(d) = diagnosis {
        response.extensions_mut().insert(Diagnosis(d));
    }
    Ok(response)
}

/// Checks a request body as the gateway does, without acting on it (what
/// the fuzz targets call).
pub fn validate(body: &Map<String, Value>, kind: ApiKind) -> Result<(), DarajaError> {
    parse(body, kind).map(|_| ())
}

fn parse(body: &Map<String, Value>, kind: ApiKind) -> Result<Parsed, DarajaError> {
    let initiator_field = kind.first_field();
    let initiator = required(body, initiator_field)?;
    let security_credential = required(body, "SecurityCredential")?;
    let (_, command_id) = any_of(body, &["CommandID", "Command ID"])
        .ok_or_else(|| DarajaError::field("CommandID", "CommandID is missing"))?;
    if !kind.command_ids().contains(&command_id.as_str()) {
        return Err(DarajaError::field(
            "CommandID",
            format!("CommandID {command_id:?} is not one of {:?} for this API", kind.command_ids()),
        ));
    }
    let mut parsed = Parsed {
        initiator,
        security_credential,
        command_id,
        party_a: String::new(),
        party_b: None,
        amount: None,
        remarks: None,
        occasion: None,
        account_reference: None,
        transaction_id: None,
        original_conversation_id: None,
        result_url: String::new(),
        queue_timeout_url: String::new(),
        client_originator_id: None,
    };
    match kind {
        ApiKind::B2c { v3, .. } => {
            parsed.amount = Some(whole_amount(body, "Amount")?);
            parsed.party_a = shortcode(body, "PartyA")?;
            parsed.party_b = Some(wire::msisdn(body, "PartyB")?);
            if v3 {
                parsed.client_originator_id = bounded(body, "OriginatorConversationID", 1, 100)?;
            }
        }
        ApiKind::B2b | ApiKind::TaxRemittance => {
            identifier_type(body, "SenderIdentifierType", &["4"])?;
            receiver_identifier_type(body, &["4"])?;
            parsed.amount = Some(whole_amount(body, "Amount")?);
            parsed.party_a = shortcode(body, "PartyA")?;
            parsed.party_b = Some(shortcode(body, "PartyB")?);
            parsed.account_reference = bounded(body, "AccountReference", 1, 13)?;
            let needs_reference = kind == ApiKind::TaxRemittance || parsed.command_id == "BusinessPayBill";
            if needs_reference && parsed.account_reference.is_none() {
                return Err(DarajaError::field("AccountReference", "AccountReference is required for this CommandID"));
            }
            if let Some(requester) = wire::any_of(body, &["Requester"]) {
                if !crate::world::is_msisdn(&requester.1) {
                    return Err(DarajaError::field("Requester", "Requester must be an MSISDN (2547XXXXXXXX)"));
                }
            }
        }
        ApiKind::Reversal => {
            parsed.transaction_id = Some(required(body, "TransactionID")?);
            parsed.amount = Some(whole_amount(body, "Amount")?);
            parsed.party_a = shortcode(body, "ReceiverParty")?;
            receiver_identifier_type(body, &["11", "4"])?;
        }
        ApiKind::TransactionStatus => {
            parsed.transaction_id = any_of(body, &["TransactionID", "Transaction ID"]).map(|(_, v)| v);
            parsed.original_conversation_id = any_of(body, &["OriginalConversationID"]).map(|(_, v)| v);
            if parsed.transaction_id.is_none() && parsed.original_conversation_id.is_none() {
                return Err(DarajaError::field(
                    "TransactionID",
                    "send TransactionID (the receipt), OriginalConversationID, or both",
                ));
            }
            parsed.party_a = shortcode(body, "PartyA")?;
            identifier_type(body, "IdentifierType", &["1", "2", "4"])?;
        }
        ApiKind::AccountBalance => {
            parsed.party_a = shortcode(body, "PartyA")?;
            identifier_type(body, "IdentifierType", &["4"])?;
        }
    }
    parsed.remarks = bounded(body, "Remarks", 2, 100)?;
    if parsed.remarks.is_none() && kind != ApiKind::AccountBalance {
        return Err(DarajaError::field("Remarks", "Remarks is missing (2 to 100 characters)"));
    }
    parsed.queue_timeout_url = url(body, "QueueTimeOutURL")?;
    parsed.result_url = url(body, "ResultURL")?;
    parsed.occasion = match any_of(body, &["Occassion", "Occasion"]) {
        Some((name, _)) => bounded(body, name, 0, 100)?,
        None => None,
    };
    Ok(parsed)
}

fn identifier_type(body: &Map<String, Value>, field: &'static str, allowed: &[&str]) -> Result<(), DarajaError> {
    let value = required(body, field)?;
    match allowed.contains(&value.as_str()) {
        true => Ok(()),
        false => Err(DarajaError::field(field, format!("{field} {value:?} is not one of {allowed:?}"))),
    }
}

/// The contract spells it `RecieverIdentifierType`; the correct spelling alone is refused.
fn receiver_identifier_type(body: &Map<String, Value>, allowed: &[&str]) -> Result<(), DarajaError> {
    if body.contains_key("ReceiverIdentifierType") && !body.contains_key("RecieverIdentifierType") {
        return Err(DarajaError::field(
            "RecieverIdentifierType",
            "the field is spelt RecieverIdentifierType in this API (ReceiverIdentifierType is not read)",
        ));
    }
    identifier_type(body, "RecieverIdentifierType", allowed)
}

fn register(
    state: &mut TenantState,
    parsed: Parsed,
    kind: ApiKind,
    decrypted: &Result<Vec<u8>, crate::crypto::credential::CredentialError>,
    now: DateTime<Utc>,
    decision: Option<&Decision>,
) -> Result<(RequestAck, Option<String>), DarajaError> {
    if let Some(id) = &parsed.client_originator_id {
        if state.daraja.requests.originators.contains_key(id) {
            return Err(DarajaError::new(
                ErrorKind::DuplicateOriginator,
                format!(
                    "OriginatorConversationID {id:?} was already used by this app's tenant; send a new one per request"
                ),
            ));
        }
    }
    let world = state.world.clone();
    let conversation_id = ids::conversation_id(&mut state.ids, now);
    let originator_conversation_id =
        parsed.client_originator_id.clone().unwrap_or_else(|| ids::originator_conversation_id(&mut state.ids));

    let refusal = operators::authorize(
        &mut state.daraja.operators,
        &world,
        &parsed.initiator,
        decrypted,
        kind.role(),
        &parsed.party_a,
        now,
    )
    .err();
    let outcome = decision.and_then(|d| d.outcome.as_ref());
    let (planned, outcome_reason) = match (&refusal, outcome) {
        (Some(Refusal { result_code, diagnosis }), _) => {
            (Some((ResultCode::Number(*result_code), None)), diagnosis.clone())
        }
        (None, Some(o)) if o.result_code != ResultCode::Number(0) => (
            Some((o.result_code.clone(), o.result_desc.clone())),
            decision.map_or_else(String::new, |d| format!("scenario rule {}", d.rule)),
        ),
        _ => (None, String::new()),
    };
    let delay_ms = match outcome.and_then(|o| o.after_ms) {
        Some(after) => after.sample(|low, high| state.ids.between(low, high)),
        None => world.daraja.result_delay_ms,
    };
    let settles_at = now + Duration::milliseconds(delay_ms as i64);
    let variants = decision.map(|d| d.variants.clone()).unwrap_or_default();
    let response_code = variants.response_code.clone().unwrap_or_else(|| "0".into());
    let request = ApiRequest {
        kind,
        conversation_id: conversation_id.clone(),
        originator_conversation_id: originator_conversation_id.clone(),
        initiator: parsed.initiator,
        command_id: parsed.command_id,
        party_a: parsed.party_a,
        party_b: parsed.party_b,
        amount: parsed.amount,
        remarks: parsed.remarks,
        occasion: parsed.occasion,
        account_reference: parsed.account_reference,
        transaction_id: parsed.transaction_id,
        original_conversation_id: parsed.original_conversation_id,
        result_url: parsed.result_url,
        queue_timeout_url: parsed.queue_timeout_url,
        accepted_at: now,
        settles_at,
        status: RequestStatus::Pending,
        planned,
        outcome_reason: outcome_reason.clone(),
        script: decision.map(|d| d.callback.clone()).unwrap_or_default(),
        variants,
        result: None,
        receipt: None,
    };
    if let Some(id) = &parsed.client_originator_id {
        state.daraja.requests.originators.insert(id.clone(), conversation_id.clone());
    }
    state.daraja.requests.by_conversation.insert(conversation_id.clone(), Box::new(request));
    state.timeline.schedule(
        settles_at,
        store::Due::Daraja(super::Due::SettleRequest { conversation_id: conversation_id.clone() }),
    );
    let ack = RequestAck {
        conversation_id,
        originator_conversation_id,
        response_code,
        response_description: "Accept the service request successfully.".into(),
    };
    let diagnosis = refusal.map(|r| format!("accepted, but the result will be {}: {}", r.result_code, r.diagnosis));
    Ok((ack, diagnosis))
}

/// What executing a request produced.
struct Executed {
    code: ResultCode,
    desc: String,
    receipt: Option<String>,
    parameters: Vec<Param>,
    reference: Vec<Param>,
    reason: Option<String>,
}

impl Executed {
    fn failure(code: ResultCode, desc: Option<String>, reason: impl Into<String>) -> Executed {
        let desc = desc.unwrap_or_else(|| api_result_desc(&code).to_owned());
        Executed {
            code,
            desc,
            receipt: None,
            parameters: Vec::new(),
            reference: Vec::new(),
            reason: Some(reason.into()),
        }
    }

    fn code(code: u32, reason: impl Into<String>) -> Executed {
        Executed::failure(ResultCode::Number(code), None, reason)
    }

    fn text_code(code: &str, reason: impl Into<String>) -> Executed {
        Executed::failure(ResultCode::Text(code.to_owned()), None, reason)
    }
}

/// Settles a request: checks and moves money, then plans the result callback.
pub fn settle(state: &mut TenantState, conversation_id: &str, at: DateTime<Utc>) {
    let Some(request) = state.daraja.requests.by_conversation.get(conversation_id).cloned() else { return };
    if request.status != RequestStatus::Pending {
        return;
    }
    let executed = match &request.planned {
        Some((code, desc)) => Executed::failure(code.clone(), desc.clone(), request.outcome_reason.clone()),
        None => match request.kind {
            ApiKind::B2c { .. } => execute_b2c(state, &request, at),
            ApiKind::B2b | ApiKind::TaxRemittance => execute_b2b(state, &request, at),
            ApiKind::Reversal => execute_reversal(state, &request, at),
            ApiKind::TransactionStatus => execute_status(state, &request, at),
            ApiKind::AccountBalance => execute_balance(state, &request, at),
        },
    };
    let mut reference = executed.reference.clone();
    reference.push(("QueueTimeoutURL", Some(json!(request.kind.internal_queue_url()))));
    if matches!(request.kind, ApiKind::B2b | ApiKind::TaxRemittance | ApiKind::TransactionStatus) {
        reference.push(("Occassion", request.occasion.clone().map(Value::from)));
    }
    let success = executed.code == ResultCode::Number(0);
    let transaction_id = match (&executed.receipt, success) {
        (Some(receipt), _) => receipt.clone(),
        (None, _) => format!("{}0000000", &ids::receipt(&mut state.ids, at)[..3]),
    };
    let body = wire::result_callback(&ResultBody {
        result_code: &executed.code,
        result_desc: &executed.desc,
        originator_conversation_id: &request.originator_conversation_id,
        conversation_id: &request.conversation_id,
        transaction_id: &transaction_id,
        codes_as_text: request.kind.codes_as_text(),
        result_type: 0,
        parameters: if success { executed.parameters.clone() } else { Vec::new() },
        single_parameter_as_object: request.variants.result_parameter_object.unwrap_or(false),
        reference,
    });
    if let Some(stored) = state.daraja.requests.by_conversation.get_mut(conversation_id) {
        stored.status = if success { RequestStatus::Completed } else { RequestStatus::Failed };
        stored.result = Some((executed.code.clone(), executed.desc.clone()));
        stored.receipt = executed.receipt.clone();
        if let Some(reason) = &executed.reason {
            stored.outcome_reason = reason.clone();
        }
    }
    let job = CallbackJob::new(
        format!("cb-{}", state.ids.next_seq()),
        super::PROVIDER,
        "result",
        request.conversation_id.clone(),
        request.result_url.clone(),
        body,
    );
    let mut script = request.script.clone();
    if script.queue_timeout_first {
        let notice = queue_timeout_notice(&request, &transaction_id);
        let notice_job = CallbackJob {
            id: format!("cb-{}", state.ids.next_seq()),
            kind: "queue_timeout",
            url: request.queue_timeout_url.clone(),
            body: callbacks::raw_body(&notice),
            ..job.clone()
        };
        state.timeline.schedule(at, store::Due::Deliver(notice_job));
        script.delay_ms.get_or_insert(crate::scenarios::Delay::Fixed(5000));
    }
    callbacks::plan(state, job, &script, at);
    let requests = &mut state.daraja.requests;
    requests.settled.push_back(conversation_id.to_owned());
    while requests.settled.len() > state.limits.transactions {
        if let Some(old) = requests.settled.pop_front() {
            if let Some(forgotten) = requests.by_conversation.remove(&old) {
                requests.originators.remove(&forgotten.originator_conversation_id);
            }
        }
    }
}

/// The notification sent to `QueueTimeOutURL` when a request timed out in
/// the queue. No real sample exists; SDKs model it as the Result envelope
/// with `ResultType` 1 (waiting for further messages).
fn queue_timeout_notice(request: &ApiRequest, transaction_id: &str) -> Value {
    wire::result_callback(&ResultBody {
        result_code: &ResultCode::Number(100_000_001),
        result_desc: "The request timed out while awaiting processing in the queue.",
        originator_conversation_id: &request.originator_conversation_id,
        conversation_id: &request.conversation_id,
        transaction_id,
        codes_as_text: request.kind.codes_as_text(),
        result_type: 1,
        parameters: Vec::new(),
        single_parameter_as_object: false,
        reference: vec![("QueueTimeoutURL", Some(json!(request.kind.internal_queue_url())))],
    })
}

// ---------------------------------------------------------------------------
// Execution, one function per API.

/// `254708374149 - JOHN DOE`.
pub fn customer_public_name(state: &TenantState, msisdn: &str) -> String {
    let (first, middle, last) = state.customer_names(msisdn);
    let name = [first, middle, last].into_iter().filter(|n| !n.is_empty()).collect::<Vec<_>>().join(" ");
    format!("{msisdn} - {name}")
}

/// `600000 - Safaricom Daraja 000`.
pub fn org_public_name(world: &World, shortcode: &str) -> String {
    let name = world.shortcodes.get(shortcode).map(|s| s.name.as_str()).unwrap_or("Unknown");
    format!("{shortcode} - {name}")
}

fn balance(state: &TenantState, shortcode: &str, account: OrgAccount) -> Money {
    state.ledger.balance(&Account::org(shortcode, account)).unwrap_or_default()
}

/// The failure naming a debit party produces, if it cannot be used in API calls.
fn refuse_debit(world: &World, shortcode: &str) -> Option<Executed> {
    match world.shortcodes.get(shortcode) {
        None => Some(Executed::code(6, format!("PartyA {shortcode} is not a shortcode in this tenant's world"))),
        Some(sc) if !sc.usable_in_api() => {
            let hint = match (&sc.kind, &sc.store) {
                (ShortcodeKind::Till, Some(store)) => format!("; API calls use its store number {store}"),
                _ => String::new(),
            };
            Some(Executed::code(
                11,
                format!("{shortcode} is a {} and cannot be used in API calls{hint}", sc.kind.as_str()),
            ))
        }
        Some(_) => None,
    }
}

fn charge(state: &mut TenantState, shortcode: &str, amount: Money, reference: &str, at: DateTime<Utc>, what: &str) {
    if amount.0 > 0 {
        let from = Account::org(shortcode, OrgAccount::ChargesPaid);
        let _ = state.ledger.transfer(reference, what, at, &from, &Account::Revenue, amount);
    }
}

fn execute_b2c(state: &mut TenantState, request: &ApiRequest, at: DateTime<Utc>) -> Executed {
    let world = state.world.clone();
    if let Some(failed) = refuse_debit(&world, &request.party_a) {
        return failed;
    }
    let amount = request.amount.unwrap_or_default();
    let shillings = amount.cents() / 100;
    if shillings < world.daraja.b2c_min_amount {
        return Executed::code(2, format!("KES {amount} is below the B2C minimum of {}", world.daraja.b2c_min_amount));
    }
    if shillings > world.daraja.b2c_max_amount {
        return Executed::code(3, format!("KES {amount} is above the B2C maximum of {}", world.daraja.b2c_max_amount));
    }
    let msisdn = request.party_b.clone().unwrap_or_default();
    state.ensure_customer(&msisdn);
    let receipt = ids::receipt(&mut state.ids, at);
    let public_name = customer_public_name(state, &msisdn);
    let details = format!("Business Payment to {public_name}");
    let from = Account::utility(&request.party_a);
    if let Err(e) = state.ledger.transfer(&receipt, &details, at, &from, &Account::Customer(msisdn.clone()), amount) {
        return insufficient(e, "the B2C shortcode's utility account");
    }
    let fee = world.daraja.b2c_charge;
    charge(state, &request.party_a, fee, &receipt, at, "Business Payment Charge");
    record(
        state,
        request,
        &receipt,
        RecordKind::B2c,
        org_party(&world, &request.party_a),
        Party { id: msisdn, public_name: public_name.clone() },
        amount,
        fee,
        at,
    );
    let completed = eat(at).format("%d.%m.%Y %H:%M:%S").to_string();
    Executed {
        code: ResultCode::Number(0),
        desc: api_result_desc(&ResultCode::Number(0)).to_owned(),
        receipt: Some(receipt.clone()),
        parameters: vec![
            ("TransactionAmount", Some(wire::amount_value(amount))),
            ("TransactionReceipt", Some(json!(receipt))),
            ("ReceiverPartyPublicName", Some(json!(public_name))),
            ("TransactionCompletedDateTime", Some(json!(completed))),
            (
                "B2CUtilityAccountAvailableFunds",
                Some(money_value(balance(state, &request.party_a, OrgAccount::Utility))),
            ),
            (
                "B2CWorkingAccountAvailableFunds",
                Some(money_value(balance(state, &request.party_a, OrgAccount::Working))),
            ),
            ("B2CRecipientIsRegisteredCustomer", Some(json!("Y"))),
            (
                "B2CChargesPaidAccountAvailableFunds",
                Some(money_value(balance(state, &request.party_a, OrgAccount::ChargesPaid))),
            ),
        ],
        reference: Vec::new(),
        reason: None,
    }
}

fn execute_b2b(state: &mut TenantState, request: &ApiRequest, at: DateTime<Utc>) -> Executed {
    let world = state.world.clone();
    if let Some(failed) = refuse_debit(&world, &request.party_a) {
        return failed;
    }
    let party_b = request.party_b.clone().unwrap_or_default();
    let Some(receiver) = world.shortcodes.get(&party_b) else {
        return Executed::code(7, format!("PartyB {party_b} is not a shortcode in this tenant's world"));
    };
    let allowed = match (request.kind, request.command_id.as_str()) {
        (ApiKind::TaxRemittance, _) => party_b == "572572",
        (_, "BusinessPayBill") => receiver.kind == ShortcodeKind::Paybill,
        (_, "BusinessBuyGoods") => matches!(receiver.kind, ShortcodeKind::Till | ShortcodeKind::Store),
        (_, "BusinessPayToBulk") => receiver.kind == ShortcodeKind::B2c,
        _ => false,
    };
    if !allowed {
        return Executed::code(
            2028,
            format!("{} to {party_b} (a {}) is not allowed", request.command_id, receiver.kind.as_str()),
        );
    }
    let amount = request.amount.unwrap_or_default();
    let receipt = ids::receipt(&mut state.ids, at);
    let receiver_name = org_public_name(&world, &party_b);
    let details = format!("{} to {receiver_name}", request.command_id);
    let from = Account::org(&request.party_a, OrgAccount::Working);
    if let Err(e) = state.ledger.transfer(&receipt, &details, at, &from, &Account::utility(&party_b), amount) {
        return insufficient(e, "PartyA's working account");
    }
    let fee = world.daraja.b2b_charge;
    charge(state, &request.party_a, fee, &receipt, at, "Business Pay Bill Charge");
    let kind = if request.kind == ApiKind::TaxRemittance { RecordKind::TaxRemittance } else { RecordKind::B2b };
    let credit = Party { id: party_b.clone(), public_name: receiver_name.clone() };
    record(state, request, &receipt, kind, org_party(&world, &request.party_a), credit, amount, fee, at);
    let working = balance(state, &request.party_a, OrgAccount::Working);
    let debit_balance =
        format!("{{Amount={{CurrencyCode=KES, MinimumAmount={}, BasicAmount={working}}}}}", working.cents());
    let charges = if fee.0 > 0 { format!("Business Pay Bill Charge|KES|{fee}") } else { String::new() };
    let mut reference = Vec::new();
    if let Some(bill) = &request.account_reference {
        reference.push(("BillReferenceNumber", Some(json!(bill))));
    }
    Executed {
        code: ResultCode::Number(0),
        desc: "The service request is processed successfully".into(),
        receipt: Some(receipt),
        parameters: vec![
            ("DebitAccountBalance", Some(json!(debit_balance))),
            ("Amount", Some(json!(amount.to_string()))),
            (
                "DebitPartyAffectedAccountBalance",
                Some(json!(format!("Working Account|KES|{working}|{working}|0.00|0.00"))),
            ),
            ("TransCompletedTime", Some(json!(crate::crypto::lnm::format_timestamp(eat(at))))),
            ("DebitPartyCharges", Some(json!(charges))),
            ("ReceiverPartyPublicName", Some(json!(receiver_name))),
            ("Currency", Some(json!("KES"))),
            ("InitiatorAccountCurrentBalance", Some(json!(debit_balance))),
        ],
        reference,
        reason: None,
    }
}

fn execute_reversal(state: &mut TenantState, request: &ApiRequest, at: DateTime<Utc>) -> Executed {
    let world = state.world.clone();
    let original_id = request.transaction_id.clone().unwrap_or_default();
    let Some(original) = state.daraja.records.get(&original_id).cloned() else {
        return Executed::text_code(
            "R000002",
            format!("no transaction has the receipt {original_id:?} in this tenant"),
        );
    };
    if original.status == RecordStatus::Reversed {
        return Executed::text_code(
            "R000001",
            format!("{original_id} was already reversed by {}", original.linked_receipt.unwrap_or_default()),
        );
    }
    if !original.kind.reversible() {
        return Executed::code(
            2028,
            format!("{original_id} is a {:?} transaction, which cannot be reversed", original.kind),
        );
    }
    if original.credit.id != request.party_a {
        return Executed::text_code(
            "R000002",
            format!("{original_id} was paid to {}, not to ReceiverParty {}", original.credit.id, request.party_a),
        );
    }
    if request.amount.is_some_and(|a| a != original.amount) {
        return Executed::text_code(
            "R000002",
            format!("Amount {} differs from the original KES {}", request.amount.unwrap_or_default(), original.amount),
        );
    }
    let from = Account::utility(&original.credit.id);
    let to = match original.kind {
        RecordKind::B2b => Account::org(&original.debit.id, OrgAccount::Working),
        _ => Account::Customer(original.debit.id.clone()),
    };
    let receipt = ids::receipt(&mut state.ids, at);
    let details = format!("Reversal of {original_id}");
    if let Err(e) = state.ledger.transfer(&receipt, &details, at, &from, &to, original.amount) {
        return insufficient(e, "the receiving shortcode's account");
    }
    if let Some(r) = state.daraja.records.get_mut(&original_id) {
        r.status = RecordStatus::Reversed;
        r.linked_receipt = Some(receipt.clone());
    }
    let debit = org_party(&world, &request.party_a);
    let credit = original.debit.clone();
    record(
        state,
        request,
        &receipt,
        RecordKind::Reversal,
        debit.clone(),
        credit.clone(),
        original.amount,
        Money(0),
        at,
    );
    if let Some(r) = state.daraja.records.get_mut(&receipt) {
        r.linked_receipt = Some(original_id.clone());
    }
    let utility = balance(state, &request.party_a, OrgAccount::Utility);
    Executed {
        code: ResultCode::Number(0),
        desc: api_result_desc(&ResultCode::Number(0)).to_owned(),
        receipt: Some(receipt),
        parameters: vec![
            ("DebitAccountBalance", Some(json!(format!("Utility Account|KES|{utility}|{utility}|0.00|0.00")))),
            ("Amount", Some(wire::amount_value(original.amount))),
            ("TransCompletedTime", Some(wire_number(&crate::crypto::lnm::format_timestamp(eat(at))))),
            ("OriginalTransactionID", Some(json!(original_id))),
            ("Charge", Some(json!(0.0))),
            ("CreditPartyPublicName", Some(json!(credit.public_name))),
            ("DebitPartyPublicName", Some(json!(debit.public_name))),
        ],
        reference: Vec::new(),
        reason: None,
    }
}

fn execute_status(state: &mut TenantState, request: &ApiRequest, _at: DateTime<Utc>) -> Executed {
    let records = &state.daraja.records;
    let found = request
        .transaction_id
        .as_deref()
        .and_then(|id| records.get(id))
        .or_else(|| request.original_conversation_id.as_deref().and_then(|id| records.by_conversation(id)));
    let Some(record) = found.cloned() else {
        return Executed::code(2032, "no transaction with that receipt or conversation id in this tenant");
    };
    let time = |at: DateTime<Utc>| crate::crypto::lnm::format_timestamp(eat(at));
    let charges = if record.charge.0 > 0 {
        format!("Fee For {}|KES|{}", record.kind.reason_type(), record.charge)
    } else {
        String::new()
    };
    let status = match record.status {
        RecordStatus::Completed => "Completed",
        RecordStatus::Reversed => "Reversed",
    };
    Executed {
        code: ResultCode::Number(0),
        desc: api_result_desc(&ResultCode::Number(0)).to_owned(),
        receipt: None,
        parameters: vec![
            ("DebitPartyName", Some(json!(record.debit.public_name))),
            ("CreditPartyName", Some(json!(record.credit.public_name))),
            ("OriginatorConversationID", Some(json!(record.originator_conversation_id.clone().unwrap_or_default()))),
            ("InitiatedTime", Some(json!(time(record.completed_at)))),
            (
                "DebitAccountType",
                Some(json!(if record.kind == RecordKind::B2b { "Working Account" } else { "Utility Account" })),
            ),
            ("DebitPartyCharges", Some(json!(charges))),
            ("TransactionReason", None),
            ("ReasonType", Some(json!(record.kind.reason_type()))),
            ("TransactionStatus", Some(json!(status))),
            ("FinalisedTime", Some(json!(time(record.completed_at)))),
            ("Amount", Some(json!(record.amount.to_string()))),
            ("ConversationID", Some(json!(record.conversation_id.clone().unwrap_or_default()))),
            ("ReceiptNo", Some(json!(record.receipt))),
        ],
        reference: Vec::new(),
        reason: None,
    }
}

fn execute_balance(state: &mut TenantState, request: &ApiRequest, at: DateTime<Utc>) -> Executed {
    let world = state.world.clone();
    if let Some(failed) = refuse_debit(&world, &request.party_a) {
        return failed;
    }
    let line = |name: &str, amount: Money| format!("{name}|KES|{amount}|{amount}|0.00|0.00");
    let accounts = [
        line("Working Account", balance(state, &request.party_a, OrgAccount::Working)),
        line("Float Account", Money(0)),
        line("Utility Account", balance(state, &request.party_a, OrgAccount::Utility)),
        line("Charges Paid Account", balance(state, &request.party_a, OrgAccount::ChargesPaid)),
        line("Organization Settlement Account", Money(0)),
    ]
    .join("&");
    Executed {
        code: ResultCode::Number(0),
        desc: api_result_desc(&ResultCode::Number(0)).to_owned(),
        receipt: None,
        parameters: vec![
            ("AccountBalance", Some(json!(accounts))),
            ("BOCompletedTime", Some(json!(crate::crypto::lnm::format_timestamp(eat(at))))),
        ],
        reference: Vec::new(),
        reason: None,
    }
}

fn insufficient(e: LedgerError, account: &str) -> Executed {
    match e {
        LedgerError::Insufficient { available, needed } => {
            Executed::code(1, format!("{account} holds KES {available}, less than KES {needed}"))
        }
        other => Executed::code(17, format!("the ledger refused the posting: {other}")),
    }
}

fn org_party(world: &World, shortcode: &str) -> Party {
    Party { id: shortcode.to_owned(), public_name: org_public_name(world, shortcode) }
}

#[allow(clippy::too_many_arguments)]
fn record(
    state: &mut TenantState,
    request: &ApiRequest,
    receipt: &str,
    kind: RecordKind,
    debit: Party,
    credit: Party,
    amount: Money,
    charge: Money,
    at: DateTime<Utc>,
) {
    let record = Record {
        receipt: receipt.to_owned(),
        kind,
        completed_at: at,
        debit,
        credit,
        amount,
        charge,
        status: RecordStatus::Completed,
        originator_conversation_id: Some(request.originator_conversation_id.clone()),
        conversation_id: Some(request.conversation_id.clone()),
        bill_reference: request.account_reference.clone(),
        initiator: Some(request.initiator.clone()),
        linked_receipt: None,
    };
    let retention = state.limits.transactions;
    state.daraja.records.insert(record, retention);
}

fn money_value(amount: Money) -> Value {
    json!(amount.as_f64())
}

fn wire_number(digits: &str) -> Value {
    digits.parse::<u64>().map(Value::from).unwrap_or_else(|_| json!(digits))
}
