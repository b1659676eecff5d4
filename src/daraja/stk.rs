//! M-Pesa Express (STK push) and its query.
//!
//! Lifecycle of a push: validated and accepted (pending) → at the time the
//! scenario decides, settled (completed, money moved, receipt issued; or
//! failed) → the callback is delivered to `CallBackURL`.
//! While a push is pending, the customer is locked: a second push to the same
//! phone is refused, as on the real system.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use axum::extract::State as AxumState;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use secrecy::ExposeSecret;

use super::error::{DarajaError, ErrorKind};
use super::extract::{Authed, BodyProblem, JsonObject};
use super::ids;
use super::results::stk_result_desc;
use super::wire::{self, StkPushRequest, StkPushResponse, StkQueryRequest, StkQueryResponse, TransactionType};
use crate::app::AppState;
use crate::callbacks::CallbackJob;
use crate::clock::eat;
use crate::crypto::lnm;
use crate::ledger::{Account, LedgerError, Money};
use crate::scenarios::{self, StkFacts, Timing};
use crate::store::{self, TenantState};
use crate::world::{Shortcode, ShortcodeKind, StkQueryPending, World};

/// Daraja's per-tenant state.
#[derive(Debug, Default)]
pub struct State {
    pub stk: HashMap<String, StkTx>,
    /// The pending push of each locked customer.
    pending_by_msisdn: HashMap<String, String>,
    /// Settled pushes, oldest first; the oldest are forgotten past the retention limit.
    settled: VecDeque<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StkStatus {
    Pending,
    Completed,
    Failed,
}

impl StkStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StkStatus::Pending => "pending",
            StkStatus::Completed => "completed",
            StkStatus::Failed => "failed",
        }
    }
}

/// One M-Pesa Express transaction.
#[derive(Debug, Clone)]
pub struct StkTx {
    pub merchant_request_id: String,
    pub checkout_request_id: String,
    pub business_short_code: String,
    pub party_b: String,
    pub phone_number: String,
    pub amount: Money,
    pub account_reference: String,
    pub transaction_desc: Option<String>,
    pub callback_url: String,
    pub created_at: DateTime<Utc>,
    pub status: StkStatus,
    /// The result code the scenario decided at acceptance.
    pub planned_code: u32,
    /// Why that result code was decided (test MSISDN, product mismatch, ...).
    pub outcome_reason: String,
    pub settles_at: DateTime<Utc>,
    pub settled_at: Option<DateTime<Utc>>,
    pub result_code: Option<u32>,
    pub receipt: Option<String>,
}

/// Daraja events on a tenant's timeline.
#[derive(Debug)]
pub enum Due {
    SettleStk { checkout_request_id: String },
}

pub async fn push(
    AxumState(_app): AxumState<AppState>,
    auth: Authed,
    body: Result<JsonObject, BodyProblem>,
) -> Result<Json<StkPushResponse>, DarajaError> {
    let body = body.map_err(|p| p.into_error(StkPushRequest::FIRST_FIELD))?.0;
    let request = StkPushRequest::parse(&body)?;
    let now = auth.tenant.now();
    let response = auth.tenant.with_state(|state| accept_push(state, request, now))?;
    tracing::info!(checkout_request_id = %response.checkout_request_id, "stk push accepted");
    Ok(Json(response))
}

pub async fn query(
    AxumState(app): AxumState<AppState>,
    auth: Authed,
    body: Result<JsonObject, BodyProblem>,
) -> Result<Response, DarajaError> {
    let body = body.map_err(|p| p.into_error(StkQueryRequest::FIRST_FIELD))?.0;
    let request = StkQueryRequest::parse(&body)?;
    // Settle whatever is due first, so the answer never lags the clock.
    crate::scheduler::settle_due(&app, &auth.tenant).await;
    let now = auth.tenant.now();
    auth.tenant.with_state(|state| answer_query(state, &request, now))
}

fn accept_push(
    state: &mut TenantState,
    request: StkPushRequest,
    now: DateTime<Utc>,
) -> Result<StkPushResponse, DarajaError> {
    let world = state.world.clone();
    check_timestamp_window(&world, &request.timestamp, now)?;
    check_amount_range(&world, request.amount)?;
    let merchant = lnm_merchant(&world, &request.business_short_code)?;
    check_password(merchant, &request.password, &request.timestamp)?;

    if let Some(open) = state.daraja.pending_by_msisdn.get(&request.phone_number) {
        return Err(DarajaError::new(
            ErrorKind::UnableToLockSubscriber,
            format!("{} already has a prompt open ({open}); wait for it to settle", request.phone_number),
        ));
    }

    let decision = scenarios::decide_stk(&StkFacts {
        msisdn: &request.phone_number,
        shortcode: &request.business_short_code,
        amount_cents: request.amount.cents(),
        account_reference: &request.account_reference,
    });
    let (planned_code, outcome_reason) = match product_mismatch(&world, merchant, &request) {
        Some(why) => (2028, why),
        None => (decision.result_code, decision.reason.clone()),
    };
    let delay = match decision.timing {
        Timing::Answer => Duration::milliseconds(world.daraja.stk_answer_delay_ms as i64),
        Timing::Timeout => Duration::seconds(world.daraja.stk_timeout_secs as i64),
    };

    state.ensure_customer(&request.phone_number);
    let merchant_request_id = ids::merchant_request_id(&mut state.ids);
    let checkout_request_id = (0..1000)
        .map(|bump| ids::checkout_request_id(now, &request.phone_number, bump))
        .find(|id| !state.daraja.stk.contains_key(id))
        .unwrap_or_else(|| format!("ws_CO_{}", state.ids.digits(20)));

    let settles_at = now + delay;
    state.daraja.pending_by_msisdn.insert(request.phone_number.clone(), checkout_request_id.clone());
    state.daraja.stk.insert(
        checkout_request_id.clone(),
        StkTx {
            merchant_request_id: merchant_request_id.clone(),
            checkout_request_id: checkout_request_id.clone(),
            business_short_code: request.business_short_code,
            party_b: request.party_b,
            phone_number: request.phone_number,
            amount: request.amount,
            account_reference: request.account_reference,
            transaction_desc: request.transaction_desc,
            callback_url: request.callback_url,
            created_at: now,
            status: StkStatus::Pending,
            planned_code,
            outcome_reason,
            settles_at,
            settled_at: None,
            result_code: None,
            receipt: None,
        },
    );
    state
        .timeline
        .schedule(settles_at, store::Due::Daraja(Due::SettleStk { checkout_request_id: checkout_request_id.clone() }));
    let accepted = "Success. Request accepted for processing".to_owned();
    Ok(StkPushResponse {
        merchant_request_id,
        checkout_request_id,
        response_code: "0".into(),
        response_description: accepted.clone(),
        customer_message: accepted,
    })
}

fn answer_query(
    state: &mut TenantState,
    request: &StkQueryRequest,
    now: DateTime<Utc>,
) -> Result<Response, DarajaError> {
    let world = state.world.clone();
    check_timestamp_window(&world, &request.timestamp, now)?;
    let merchant = lnm_merchant(&world, &request.business_short_code)?;
    check_password(merchant, &request.password, &request.timestamp)?;
    let tx = state
        .daraja
        .stk
        .get(&request.checkout_request_id)
        .filter(|tx| tx.business_short_code == request.business_short_code)
        .ok_or_else(|| {
            DarajaError::field(
                "CheckoutRequestID",
                format!(
                    "no M-Pesa Express request {:?} exists for shortcode {} (unknown, from another tenant, or forgotten past the retention limit)",
                    request.checkout_request_id, request.business_short_code
                ),
            )
        })?;
    let (result_code, result_desc) = match (tx.status, tx.result_code) {
        (StkStatus::Pending, _) | (_, None) => match world.daraja.stk_query_pending {
            StkQueryPending::Error => {
                return Err(DarajaError {
                    kind: ErrorKind::TransactionBeingProcessed,
                    diagnosis: Some(format!(
                        "the customer has not answered yet; it settles at {}",
                        tx.settles_at.to_rfc3339()
                    )),
                    request_id: Some(tx.checkout_request_id.clone()),
                })
            }
            StkQueryPending::ResultCode4999 => (4999, stk_result_desc(4999)),
        },
        (_, Some(code)) => (code, stk_result_desc(code)),
    };
    Ok(Json(StkQueryResponse {
        response_code: "0".into(),
        response_description: "The service request has been accepted successsfully".into(),
        merchant_request_id: tx.merchant_request_id.clone(),
        checkout_request_id: tx.checkout_request_id.clone(),
        result_code: result_code.to_string(),
        result_desc: result_desc.into(),
    })
    .into_response())
}

/// Settles a due push: moves the money (or not), issues the receipt and
/// produces the callback.
pub fn on_due(state: &mut TenantState, due: Due, at: DateTime<Utc>) -> Vec<CallbackJob> {
    let Due::SettleStk { checkout_request_id } = due;
    let TenantState { ledger, ids: id_gen, daraja, limits, .. } = state;
    let Some(tx) = daraja.stk.get_mut(&checkout_request_id) else { return Vec::new() };
    if tx.status != StkStatus::Pending {
        return Vec::new();
    }
    let mut code = tx.planned_code;
    let mut receipt = None;
    if code == 0 {
        let payer = Account::Customer(tx.phone_number.clone());
        let payee = Account::utility(&tx.party_b);
        let candidate = ids::receipt(id_gen, at);
        match ledger.transfer(&candidate, at, &payer, &payee, tx.amount) {
            Ok(()) => receipt = Some(candidate),
            Err(LedgerError::Insufficient { available, .. }) => {
                code = 1;
                tx.outcome_reason = format!("the customer holds KES {available}, less than KES {}", tx.amount);
            }
            Err(e) => {
                tracing::warn!(error = %e, "stk settlement could not post");
                code = 1025;
            }
        }
    }
    tx.status = if code == 0 { StkStatus::Completed } else { StkStatus::Failed };
    tx.result_code = Some(code);
    tx.receipt = receipt.clone();
    tx.settled_at = Some(at);
    daraja.pending_by_msisdn.remove(&tx.phone_number);

    let transaction_date = lnm::format_timestamp(eat(at));
    let body = wire::stk_callback(&wire::StkResult {
        merchant_request_id: &tx.merchant_request_id,
        checkout_request_id: &tx.checkout_request_id,
        result_code: code,
        result_desc: stk_result_desc(code),
        paid: receipt.as_deref().map(|receipt| wire::StkPaid {
            amount: tx.amount,
            receipt,
            transaction_date: &transaction_date,
            phone_number: &tx.phone_number,
        }),
    });
    let job = CallbackJob {
        id: format!("cb-{}", id_gen.next_seq()),
        provider: super::PROVIDER,
        kind: "stk_callback",
        correlation_id: tx.checkout_request_id.clone(),
        url: tx.callback_url.clone(),
        body: Arc::new(body),
        attempt: 1,
        retry_delays_ms: Arc::from(Vec::new()),
    };

    daraja.settled.push_back(checkout_request_id);
    while daraja.settled.len() > limits.transactions {
        if let Some(old) = daraja.settled.pop_front() {
            daraja.stk.remove(&old);
        }
    }
    vec![job]
}

/// The paybill or store number an M-Pesa Express request names, with its passkey.
fn lnm_merchant<'w>(world: &'w World, shortcode: &str) -> Result<&'w Shortcode, DarajaError> {
    let merchant = world.shortcodes.get(shortcode).ok_or_else(|| {
        DarajaError::new(
            ErrorKind::MerchantDoesNotExist,
            format!("shortcode {shortcode} is not in this tenant's world"),
        )
    })?;
    match merchant.kind {
        ShortcodeKind::Paybill | ShortcodeKind::Store if merchant.passkey.is_some() => Ok(merchant),
        ShortcodeKind::Till => Err(DarajaError::new(
            ErrorKind::MerchantDoesNotExist,
            format!(
                "{shortcode} is a till; M-Pesa Express calls use its store number {} as BusinessShortCode and the till as PartyB",
                merchant.store.as_deref().unwrap_or("?")
            ),
        )),
        _ => Err(DarajaError::new(
            ErrorKind::MerchantDoesNotExist,
            format!("shortcode {shortcode} ({}) is not enabled for Lipa na M-Pesa Online (it has no passkey)", merchant.kind.as_str()),
        )),
    }
}

fn check_password(merchant: &Shortcode, password: &str, timestamp: &str) -> Result<(), DarajaError> {
    let passkey = merchant.passkey.as_ref().map(|p| p.expose_secret()).unwrap_or_default();
    lnm::check_password(password, &merchant.number, passkey, timestamp)
        .map_err(|mismatch| DarajaError::new(ErrorKind::WrongCredentials, mismatch.to_string()))
}

fn check_amount_range(world: &World, amount: Money) -> Result<(), DarajaError> {
    let (min, max) = (world.daraja.stk_min_amount, world.daraja.stk_max_amount);
    let shillings = amount.cents() / 100;
    if shillings < min || shillings > max {
        return Err(DarajaError::field(
            "Amount",
            format!("Amount {amount} is outside KES {min} to {max} per transaction"),
        ));
    }
    Ok(())
}

/// Clients send their local time, in whatever zone their machine is in
/// (UTC-12 to UTC+14), so the window spans every zone plus the tolerance.
fn check_timestamp_window(world: &World, timestamp: &str, now: DateTime<Utc>) -> Result<(), DarajaError> {
    let tolerance = world.daraja.timestamp_window_secs as i64;
    if tolerance == 0 {
        return Ok(());
    }
    let Ok(sent) = lnm::parse_timestamp(timestamp) else {
        return Err(DarajaError::field("Timestamp", "Timestamp is not YYYYMMDDHHmmss"));
    };
    let offset = (sent - now.naive_utc()).num_seconds();
    let earliest = -12 * 3600 - tolerance;
    let latest = 14 * 3600 + tolerance;
    if offset < earliest || offset > latest {
        return Err(DarajaError::field(
            "Timestamp",
            format!(
                "Timestamp {timestamp} is {} from the sandbox clock ({} UTC); it must be the current time in some time zone, give or take {tolerance} s",
                human_offset(offset),
                now.format("%Y-%m-%d %H:%M:%S")
            ),
        ));
    }
    Ok(())
}

fn human_offset(secs: i64) -> String {
    let sign = if secs < 0 { "-" } else { "+" };
    let secs = secs.unsigned_abs();
    format!("{sign}{}h{:02}m", secs / 3600, secs % 3600 / 60)
}

/// A push the merchant's products do not allow: the real system accepts it,
/// then fails it with 2028.
fn product_mismatch(world: &World, merchant: &Shortcode, request: &StkPushRequest) -> Option<String> {
    match (request.transaction_type, merchant.kind) {
        (TransactionType::CustomerPayBillOnline, ShortcodeKind::Paybill) if request.party_b != merchant.number => {
            Some(format!("PartyB {} differs from the paybill {}", request.party_b, merchant.number))
        }
        (TransactionType::CustomerPayBillOnline, ShortcodeKind::Paybill) => None,
        (TransactionType::CustomerBuyGoodsOnline, ShortcodeKind::Store) => {
            let till = world.shortcodes.get(&request.party_b);
            let ok =
                till.is_some_and(|t| t.kind == ShortcodeKind::Till && t.store.as_deref() == Some(&merchant.number));
            (!ok).then(|| format!("PartyB {} is not a till of store {}", request.party_b, merchant.number))
        }
        (kind, _) => Some(format!("{kind:?} is not allowed on a {}", merchant.kind.as_str())),
    }
}
