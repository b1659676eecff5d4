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
//! The acknowledgement puts `ConversationID` first for B2C and B2Pochi and
//! `OriginatorConversationID` first for the others, as captured. A test
//! organisation (`600xxx`) the world lacks is created on first use
//! ([`super::organisations`]).

mod b2b;
mod b2c;
mod balance;
mod parse;
mod reversal;
mod settle;
mod status;

pub(crate) use parse::validate;
use parse::{parse, Parsed};
pub(crate) use settle::{customer_public_name, org_public_name, settle};

use axum::extract::State as AxumState;
use axum::response::Response;
use chrono::{DateTime, Utc};

use super::error::{DarajaError, ErrorKind};
use super::extract::{Authed, BodyProblem, JsonObject};
use super::ids;
use super::operators::{self, Refusal};
use super::organisations;
use super::products::{self, Api};
use super::scenario::{delayed, gate, Gate, Variants};
use super::shapes::Shape;
use super::wire::{self, B2cAck, RequestAck};
use super::world::Role;
use super::{Daraja, Due, State};
use crate::app_state::AppState;
use crate::clock::after_ms_u64;
use crate::fastmap::HashMap;
use crate::http::Diagnosis;
use crate::ledger::Money;
use crate::retained::Retained;
use crate::scenarios::{CallbackScript, Decision, ResultCode};
use crate::store::Core;

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

    /// The API product it belongs to.
    fn api(self) -> Api {
        match self {
            ApiKind::B2c { pochi: true, .. } => Api::B2pochi,
            _ => Api::Mpesa,
        }
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
    /// Settled requests are forgotten, oldest first, past the retention limit.
    pub by_conversation: Retained<ApiRequest>,
    /// Client OriginatorConversationIDs (B2C v3), for duplicate detection.
    originators: HashMap<String, String>,
}

macro_rules! handler {
    ($name:ident, $kind:expr) => {
        pub(crate) async fn $name(
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

async fn accept(
    app: &AppState,
    auth: Authed,
    body: Result<JsonObject, BodyProblem>,
    kind: ApiKind,
) -> Result<Response, DarajaError> {
    app.callbacks.admit(&auth.tenant).await;
    products::require(&auth, kind.api())?;
    let body = body.map_err(|p| p.into_error(kind.first_field()))?.0;
    let decision = match gate(&auth.tenant, &auth.consumer_key, kind.operation(), Some(&body)) {
        Gate::Pass(decision) => decision,
        Gate::Refuse(response) => return Ok(response),
    };
    let parsed = parse(&body, kind)?;
    // Decrypting costs about a millisecond; the cache makes a repeated credential cost a hash.
    let shared = app.shared::<Daraja>();
    let decrypted = operators::decrypt_cached(&shared.credential_cache, &shared.keys, &parsed.security_credential);
    let now = auth.tenant.now();
    let (ack, diagnosis) = auth
        .tenant
        .with::<Daraja, _>(|core, mine| register(core, mine, parsed, kind, &decrypted, now, decision.as_ref()))?;
    let answer = match kind {
        ApiKind::B2c { .. } => wire::reply(
            Shape::B2cAck,
            &B2cAck {
                conversation_id: ack.conversation_id,
                originator_conversation_id: ack.originator_conversation_id,
                response_code: ack.response_code,
                response_description: ack.response_description,
            },
        ),
        _ => wire::reply(Shape::RequestAck, &ack),
    };
    let mut response = delayed(answer, decision.as_ref());
    if let Some(d) = diagnosis {
        response.extensions_mut().insert(Diagnosis(d));
    }
    Ok(response)
}

fn register(
    core: &mut Core,
    mine: &mut State,
    parsed: Parsed,
    kind: ApiKind,
    decrypted: &Result<Vec<u8>, crate::crypto::credential::CredentialError>,
    now: DateTime<Utc>,
    decision: Option<&Decision>,
) -> Result<(RequestAck, Option<String>), DarajaError> {
    if let Some(id) = &parsed.client_originator_id {
        if mine.requests.originators.contains_key(id) {
            return Err(DarajaError::new(
                ErrorKind::DuplicateOriginator,
                format!(
                    "OriginatorConversationID {id:?} was already used by this app's tenant; send a new one per request"
                ),
            ));
        }
    }
    organisations::ensure(core, mine, &parsed.party_a);
    if matches!(kind, ApiKind::B2b | ApiKind::TaxRemittance) {
        if let Some(receiver) = &parsed.party_b {
            organisations::ensure(core, mine, receiver);
        }
    }
    let world = mine.world.clone();
    let conversation_id = ids::conversation_id(&mut core.ids, now);
    let originator_conversation_id =
        parsed.client_originator_id.clone().unwrap_or_else(|| ids::originator_conversation_id(&mut core.ids));

    let verdict = operators::authorize(
        &mut mine.operators,
        &world,
        &parsed.initiator,
        decrypted,
        kind.role(),
        &parsed.party_a,
        now,
    );
    let (refusal, note) = match verdict {
        Ok(note) => (None, note),
        Err(refusal) => (Some(refusal), None),
    };
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
        Some(after) => after.sample(|low, high| core.ids.between(low, high)),
        None => world.settings.result_delay_ms,
    };
    let settles_at = after_ms_u64(now, delay_ms);
    let variants = Variants::of(decision);
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
        mine.requests.originators.insert(id.clone(), conversation_id.clone());
    }
    mine.requests.by_conversation.insert(conversation_id.clone(), request);
    core.schedule::<Daraja>(settles_at, Due::SettleRequest { conversation_id: conversation_id.clone() });
    let ack = RequestAck {
        originator_conversation_id,
        conversation_id,
        response_code,
        response_description: "Accept the service request successfully.",
    };
    let diagnosis =
        refusal.map(|r| format!("accepted, but the result will be {}: {}", r.result_code, r.diagnosis)).or(note);
    Ok((ack, diagnosis))
}
