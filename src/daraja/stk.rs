//! M-Pesa Express (STK push) and its query.
//!
//! Lifecycle of a push: validated and accepted (pending) → at the time the
//! scenario decides, settled (completed, money moved, receipt issued; or
//! failed) → the callback is delivered to `CallBackURL`.
//! While a push is pending, the customer is locked: a second push to the same
//! phone is refused, as on the real system.
//!
//! Rules integrators trip over, each switchable in the world:
//! * `17 Rule limited.`: a push for the same phone, `PartyB` and amount as
//!   one completed within `stk_rule_limited_window_secs` (off by default,
//!   two minutes under production rules) fails at once, without a prompt.
//! * `AccountReference` over 12 characters is acknowledged but never reaches
//!   the phone, so the push times out (`1037`); `field_limits = "documented"`
//!   refuses it, and a `TransactionDesc` over 13, synchronously instead.
//! * `account_reference_charset = "alphanumeric"` refuses references with
//!   characters other than letters, digits, space, `.`, `_` and `-`.
//! * A `TransactionType` the shortcode's kind does not take is `400.002.02
//!   Bad Request - Invalid TransactionType`; a `PartyB` that is not the
//!   merchant's is accepted and fails with `2028`.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Arc;

use axum::extract::State as AxumState;
use axum::response::Response;
use chrono::{DateTime, Utc};
use compact_str::CompactString;
use secrecy::ExposeSecret;

use super::error::{DarajaError, ErrorKind};
use super::extract::{Authed, BodyProblem, JsonBytes, JsonObject};
use super::ids;
use super::products::{self, Api};
use super::results::stk_result_desc;
use super::scenario::{delayed, gate, Gate, PhoneNumberForm, Variants};
use super::shapes::Shape;
use super::wire::{self, StkPushRequest, StkPushResponse, StkQueryRequest, StkQueryResponse, TransactionType};
use super::world::{Charset, FieldLimits, Shortcode, ShortcodeKind, StkQueryPending, World};
use super::{accounts, Daraja, Due, State};
use crate::app_state::AppState;
use crate::callbacks;
use crate::clock::{after_ms_u64, eat};
use crate::crypto::lnm;
use crate::fastmap::HashMap;
use crate::handset::PromptAnswer;
use crate::ledger::{LedgerError, Money};
use crate::markets::Market;
use crate::retained::Retained;
use crate::scenarios::{CallbackScript, Decision, ResultCode};
use crate::store::Core;

/// M-Pesa Express transactions of a tenant; settled ones are forgotten,
/// oldest first, past the retention limit.
#[derive(Debug, Default)]
pub struct StkState {
    pub txs: Retained<StkTx>,
    /// The pending push of each locked customer.
    pending_by_msisdn: HashMap<CompactString, Arc<str>>,
    /// When each (phone, PartyB, amount) last completed, for `17 Rule limited.`;
    /// kept only while the rule is on, at most the retention limit of them,
    /// those outside the window forgotten first.
    completed: Completions,
}

/// When each (phone, `PartyB`, amount) last completed, and the order the
/// completions were noted in.
#[derive(Debug, Default)]
struct Completions {
    at: HashMap<Completed, DateTime<Utc>>,
    /// Oldest first; a note replaced by a later completion of the same key
    /// is skipped when it comes up.
    order: VecDeque<(Completed, DateTime<Utc>)>,
}

/// The phone, `PartyB` and amount of a completed push.
type Completed = (CompactString, CompactString, Money);

impl Completions {
    /// Notes a completion for `17 Rule limited.`: at most `limit` are kept,
    /// the oldest (those outside the window first) forgotten first, in
    /// amortized constant time per completion however many are kept.
    fn note(&mut self, key: Completed, at: DateTime<Utc>, window_secs: u64, limit: usize) {
        let window_ms = i64::try_from(window_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        let horizon = crate::clock::after_ms(at, -window_ms);
        self.at.insert(key.clone(), at);
        self.order.push_back((key, at));
        while let Some((key, when)) = self.order.front() {
            let current = self.at.get(key) == Some(when);
            if current && *when >= horizon && self.at.len() <= limit.max(1) {
                break;
            }
            let Some((key, _)) = self.order.pop_front() else { break };
            if current {
                self.at.remove(&key);
            }
        }
    }
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
    pub merchant_request_id: Arc<str>,
    pub checkout_request_id: Arc<str>,
    pub business_short_code: CompactString,
    pub party_b: CompactString,
    pub phone_number: CompactString,
    pub amount: Money,
    pub account_reference: CompactString,
    pub transaction_desc: Option<CompactString>,
    /// Shared with the request that brought it and the callbacks it sends.
    pub callback_url: Arc<str>,
    pub created_at: DateTime<Utc>,
    pub status: StkStatus,
    /// The result the scenario decided at acceptance.
    pub planned_code: ResultCode,
    /// A scenario's own wording of the result, if it gave one.
    pub planned_desc: Option<String>,
    /// Why that result was decided (scenario rule, ledger, product mismatch).
    pub outcome_reason: Cow<'static, str>,
    /// Waiting for someone to answer through the admin API; times out as 1037.
    pub awaiting_customer: bool,
    pub script: CallbackScript,
    pub variants: Variants,
    pub settles_at: DateTime<Utc>,
    pub settled_at: Option<DateTime<Utc>>,
    pub result_code: Option<ResultCode>,
    pub result_desc: Option<Cow<'static, str>>,
    pub receipt: Option<CompactString>,
}

pub(crate) const OPERATION_PUSH: &str = "stk_push";
pub(crate) const OPERATION_QUERY: &str = "stk_query";

pub(crate) async fn push(
    AxumState(app): AxumState<AppState>,
    auth: Authed,
    body: Result<JsonBytes, BodyProblem>,
) -> Result<Response, DarajaError> {
    app.callbacks.admit(&auth.tenant).await;
    products::require(&auth, Api::Express)?;
    let bytes = body.map_err(|p| p.into_error(StkPushRequest::FIRST_FIELD))?;
    let body = bytes.object().map_err(|p| p.into_error(StkPushRequest::FIRST_FIELD))?;
    let decision = match gate(&auth.tenant, &auth.consumer_key, OPERATION_PUSH, Some(&body)) {
        Gate::Pass(decision) => decision,
        Gate::Refuse(response) => return Ok(response),
    };
    let request = StkPushRequest::parse(body)?;
    let now = auth.tenant.now();
    let response =
        auth.tenant.with::<Daraja, _>(|core, mine| accept_push(core, mine, request, now, decision.as_ref()))?;
    tracing::debug!(checkout_request_id = %response.checkout_request_id, "stk push accepted");
    Ok(delayed(wire::reply(Shape::StkPushAck, &response), decision.as_ref()))
}

pub(crate) async fn query(
    AxumState(app): AxumState<AppState>,
    auth: Authed,
    body: Result<JsonObject, BodyProblem>,
) -> Result<Response, DarajaError> {
    products::require(&auth, Api::Express)?;
    let body = body.map_err(|p| p.into_error(StkQueryRequest::FIRST_FIELD))?.0;
    let decision = match gate(&auth.tenant, &auth.consumer_key, OPERATION_QUERY, Some(&body)) {
        Gate::Pass(decision) => decision,
        Gate::Refuse(response) => return Ok(response),
    };
    let request = StkQueryRequest::parse(&body)?;
    // Settle whatever is due first, so the answer never lags the clock.
    crate::scheduler::settle_due(&app, &auth.tenant).await;
    let now = auth.tenant.now();
    let variants = Variants::of(decision.as_ref());
    let response = auth.tenant.with::<Daraja, _>(|_, mine| answer_query(mine, &request, now, &variants))?;
    Ok(delayed(response, decision.as_ref()))
}

/// Why a prompt could not be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AnswerError {
    #[error("no M-Pesa Express request {0:?} in this tenant")]
    Unknown(String),
    #[error("{0:?} has already settled")]
    Settled(String),
}

/// Answers a pending prompt now, as the customer would on the phone.
pub(crate) fn answer(
    core: &mut Core,
    mine: &mut State,
    checkout_request_id: &str,
    answer: PromptAnswer,
    now: DateTime<Utc>,
) -> Result<(), AnswerError> {
    let tx = mine
        .stk
        .txs
        .get_mut(checkout_request_id)
        .ok_or_else(|| AnswerError::Unknown(checkout_request_id.to_owned()))?;
    if tx.status != StkStatus::Pending {
        return Err(AnswerError::Settled(checkout_request_id.to_owned()));
    }
    tx.planned_code = ResultCode::Number(answer.result_code());
    tx.planned_desc = None;
    tx.awaiting_customer = false;
    tx.outcome_reason = format!("answered through the admin API: {answer:?}").into();
    settle(core, mine, checkout_request_id, now);
    Ok(())
}

fn accept_push(
    core: &mut Core,
    mine: &mut State,
    request: StkPushRequest,
    now: DateTime<Utc>,
    decision: Option<&Decision>,
) -> Result<StkPushResponse, DarajaError> {
    // Borrowed, not cloned: every push on every core would write the
    // world's shared reference count.
    let world = &*mine.world;
    check_timestamp_window(world, &request.timestamp, now)?;
    check_amount_range(world, request.amount)?;
    let merchant = lnm_merchant(world, &request.business_short_code)?;
    check_password(merchant, &request.password, &request.timestamp)?;
    check_transaction_type(merchant, request.transaction_type)?;
    check_account_reference(world, &request)?;

    if let Some(open) = mine.stk.pending_by_msisdn.get(&request.phone_number) {
        return Err(DarajaError::new(
            ErrorKind::UnableToLockSubscriber,
            format!("{} already has a prompt open ({open}); wait for it to settle", request.phone_number),
        ));
    }

    let outcome = decision.and_then(|d| d.outcome.as_ref());
    let timeout_ms = world.settings.stk_timeout_secs.saturating_mul(1000);
    let rule_limited = recently_completed(world, &mine.stk, &request, now);
    let reference_chars = request.account_reference.chars().count();
    // What M-Pesa decides before the customer sees anything comes first.
    let system: Option<(u32, String, u64)> = match (product_mismatch(world, merchant, &request), rule_limited) {
        (Some(why), _) => Some((2028, why, world.settings.stk_answer_delay_ms)),
        (None, _) if reference_chars > 12 => Some((
            1037,
            format!("AccountReference is {reference_chars} characters; such a push is acknowledged but never reaches the phone (field_limits = \"observed\")"),
            timeout_ms,
        )),
        (None, Some(at)) => Some((
            17,
            format!(
                "the same phone, PartyB and amount completed at {} (within stk_rule_limited_window_secs)",
                at.to_rfc3339()
            ),
            0,
        )),
        (None, None) => None,
    };
    let (planned_code, planned_desc, outcome_reason) = match (&system, outcome) {
        (Some((code, why, _)), _) => (ResultCode::Number(*code), None, Cow::Owned(why.clone())),
        (None, Some(o)) => (
            o.result_code.clone(),
            o.result_desc.clone(),
            decision.map_or(Cow::Borrowed(""), |d| Cow::Owned(format!("scenario rule {}", d.rule))),
        ),
        (None, None) => (ResultCode::Number(0), None, Cow::Borrowed("the customer pays (no scenario rule matched)")),
    };
    let awaiting_customer = system.is_none() && outcome.is_some_and(|o| o.await_customer);
    let answer_delay_ms = world.settings.stk_answer_delay_ms;
    let delay_ms = match (&system, outcome) {
        (Some((_, _, ms)), _) => *ms,
        (None, Some(o)) if o.timeout || o.await_customer => timeout_ms,
        (None, Some(o)) => match o.after_ms {
            Some(after) => after.sample(|low, high| core.ids.between(low, high)),
            None => answer_delay_ms,
        },
        (None, None) => answer_delay_ms,
    };
    let script = decision.map(|d| d.callback.clone()).unwrap_or_default();
    let variants = Variants::of(decision);
    let response_code = variants.response_code.clone().map_or(Cow::Borrowed("0"), Cow::Owned);

    core.ensure_customer(Market::Kenya, &request.phone_number);
    // Each id is made once and shared by the transaction, its indexes, the
    // answer, the settlement event and the callback.
    let merchant_request_id: Arc<str> = ids::merchant_request_id(&mut core.ids).into();
    let checkout_request_id: Arc<str> = (0..1000)
        .map(|bump| ids::checkout_request_id(now, &request.phone_number, bump))
        .find(|id| !mine.stk.txs.contains_key(id))
        .unwrap_or_else(|| format!("ws_CO_{}", core.ids.digits(20)))
        .into();

    let settles_at = after_ms_u64(now, delay_ms);
    mine.stk.pending_by_msisdn.insert(request.phone_number.clone(), checkout_request_id.clone());
    mine.stk.txs.insert(
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
            planned_desc,
            outcome_reason,
            awaiting_customer,
            script,
            variants,
            settles_at,
            settled_at: None,
            result_code: None,
            result_desc: None,
            receipt: None,
        },
    );
    core.schedule::<Daraja>(settles_at, Due::SettleStk { checkout_request_id: checkout_request_id.clone() });
    let accepted = "Success. Request accepted for processing";
    Ok(StkPushResponse {
        merchant_request_id,
        checkout_request_id,
        response_code,
        response_description: accepted,
        customer_message: accepted,
    })
}

fn answer_query(
    mine: &State,
    request: &StkQueryRequest,
    now: DateTime<Utc>,
    variants: &Variants,
) -> Result<Response, DarajaError> {
    let world = &*mine.world;
    check_timestamp_window(world, &request.timestamp, now)?;
    let merchant = lnm_merchant(world, &request.business_short_code)?;
    check_password(merchant, &request.password, &request.timestamp)?;
    let tx = mine
        .stk
        .txs
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
    let (result_code, result_desc) = match (tx.status, &tx.result_code) {
        (StkStatus::Pending, _) | (_, None) => match world.settings.stk_query_pending {
            StkQueryPending::Error => {
                return Err(DarajaError {
                    request_id: Some(tx.checkout_request_id.to_string()),
                    ..DarajaError::new(
                        ErrorKind::TransactionBeingProcessed,
                        format!("the customer has not answered yet; it settles at {}", tx.settles_at.to_rfc3339()),
                    )
                })
            }
            StkQueryPending::ResultCode4999 => ("4999".to_owned(), stk_result_desc(4999).to_owned()),
        },
        (_, Some(code)) => {
            (wire::code_text(code), tx.result_desc.as_deref().unwrap_or_else(|| describe(code)).to_owned())
        }
    };
    // "successfully" in the 2026 capture; "successsfully" from 2018 to 2023.
    let (shape, description) = match variants.legacy_query_description {
        true => (Shape::StkQueryResultLegacyDesc, "The service request has been accepted successsfully"),
        false => (Shape::StkQueryResult, "The service request has been accepted successfully"),
    };
    let body = StkQueryResponse {
        response_code: "0".into(),
        response_description: description.into(),
        merchant_request_id: tx.merchant_request_id.to_string(),
        checkout_request_id: tx.checkout_request_id.to_string(),
        result_code,
        result_desc,
    };
    Ok(wire::reply(shape, &body))
}

/// Settles a pending push: moves the money (or not), issues the receipt and
/// plans the callback as the scenario's script says.
pub(crate) fn settle(core: &mut Core, mine: &mut State, checkout_request_id: &str, at: DateTime<Utc>) {
    let Core { ledger, ids: id_gen, limits, .. } = &mut *core;
    let limit = limits.transactions;
    let Some(tx) = mine.stk.txs.get_mut(checkout_request_id) else { return };
    if tx.status != StkStatus::Pending {
        return;
    }
    if tx.awaiting_customer {
        tx.planned_code = ResultCode::Number(1037);
        tx.planned_desc = None;
        tx.outcome_reason = "nobody answered the prompt before it timed out".into();
    }
    let mut code = tx.planned_code.clone();
    let mut receipt = None;
    if code == ResultCode::Number(0) {
        let payer = accounts::customer(&tx.phone_number);
        let payee = accounts::utility(&tx.party_b);
        let candidate = ids::receipt(id_gen, at);
        let details =
            ["Pay Bill Online from ", &tx.phone_number, " via M-Pesa Express, account ", &tx.account_reference]
                .concat();
        match ledger.transfer(&candidate, details, at, &payer, &payee, tx.amount) {
            Ok(()) => receipt = Some(candidate),
            Err(LedgerError::Insufficient { available, .. }) => {
                code = ResultCode::Number(1);
                tx.outcome_reason = format!("the customer holds KES {available}, less than KES {}", tx.amount).into();
            }
            Err(e) => {
                tracing::warn!(error = %e, "stk settlement could not post");
                code = ResultCode::Number(1025);
            }
        }
    }
    let desc = match (&code, &tx.planned_desc) {
        (c, Some(d)) if *c == tx.planned_code => Cow::Owned(d.clone()),
        (c, _) => Cow::Borrowed(describe(c)),
    };
    tx.status = if receipt.is_some() { StkStatus::Completed } else { StkStatus::Failed };
    tx.result_code = Some(code.clone());
    tx.receipt = receipt.clone();
    tx.settled_at = Some(at);
    mine.stk.pending_by_msisdn.remove(&tx.phone_number);
    let window = mine.world.settings.stk_rule_limited_window_secs;
    if receipt.is_some() && window > 0 {
        let key = (tx.phone_number.clone(), tx.party_b.clone(), tx.amount);
        mine.stk.completed.note(key, at, window, limit);
    }

    let transaction_date = lnm::format_timestamp(eat(at));
    let phone_number = match tx.variants.phone_number {
        Some(PhoneNumberForm::Hashed) => Cow::Owned(hex_sha256(&tx.phone_number)),
        _ => Cow::Borrowed(tx.phone_number.as_str()),
    };
    let (shape, body) = wire::stk_callback(&wire::StkResult {
        merchant_request_id: &tx.merchant_request_id,
        checkout_request_id: &tx.checkout_request_id,
        result_code: &code,
        result_desc: &desc,
        paid: receipt.as_deref().map(|receipt| wire::StkPaid {
            amount: tx.amount,
            receipt,
            transaction_date: &transaction_date,
            phone_number: &phone_number,
            balance_item: tx.variants.balance_item.unwrap_or(true),
        }),
    });
    let job = wire::callback(
        shape,
        id_gen.callback_id(),
        "stk_callback",
        tx.checkout_request_id.clone(),
        tx.callback_url.clone(),
        &body,
    );
    tx.result_desc = Some(desc);
    let paid = receipt
        .clone()
        .map(|r| (r, tx.party_b.clone(), tx.phone_number.clone(), tx.amount, tx.account_reference.clone()));
    callbacks::plan(core, job, &tx.script, at);
    mine.stk.txs.finish(checkout_request_id, limit, |_, _| {});
    if let Some((receipt, shortcode, msisdn, amount, account)) = paid {
        let payee = mine.world.shortcodes.get(shortcode.as_str());
        let kind = match payee.map(|s| s.kind) {
            Some(ShortcodeKind::Till) => super::records::RecordKind::BuyGoods,
            _ => super::records::RecordKind::PayBill,
        };
        let confirms = payee.is_some_and(|s| s.stk_confirmation);
        // The record takes the strings; the confirmation, rarely asked for, copies them first.
        let confirmation = confirms.then(|| (receipt.clone(), shortcode.clone(), msisdn.clone(), account.clone()));
        super::c2b::record_payment(core, mine, receipt, kind, msisdn, shortcode, amount, Some(account), at);
        if let Some((receipt, shortcode, msisdn, account)) = confirmation {
            super::c2b::confirm_stk_payment(core, mine, &receipt, &shortcode, &msisdn, amount, &account, at);
        }
    }
}

fn describe(code: &ResultCode) -> &'static str {
    match code {
        ResultCode::Number(n) => stk_result_desc(*n),
        ResultCode::Text(_) => stk_result_desc(u32::MAX),
    }
}

pub(super) fn hex_sha256(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
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
    let (min, max) = (world.settings.stk_min_amount, world.settings.stk_max_amount);
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
    let tolerance = world.settings.timestamp_window_secs as i64;
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

/// A `TransactionType` the shortcode's kind does not take is refused at
/// once (`CustomerBuyGoodsOnline` on 174379 answered `Invalid TransactionType`, 2026).
fn check_transaction_type(merchant: &Shortcode, transaction_type: TransactionType) -> Result<(), DarajaError> {
    match (transaction_type, merchant.kind) {
        (TransactionType::CustomerPayBillOnline, ShortcodeKind::Paybill)
        | (TransactionType::CustomerBuyGoodsOnline, ShortcodeKind::Store) => Ok(()),
        (kind, _) => Err(DarajaError::field(
            "TransactionType",
            format!(
                "{kind:?} is not a TransactionType of {} (a {}); paybills take CustomerPayBillOnline, store numbers CustomerBuyGoodsOnline",
                merchant.number,
                merchant.kind.as_str()
            ),
        )),
    }
}

/// The world's limits on `AccountReference`: its characters, and (as
/// documented) the lengths of it and `TransactionDesc`.
fn check_account_reference(world: &World, request: &StkPushRequest) -> Result<(), DarajaError> {
    if world.settings.field_limits == FieldLimits::Documented {
        request.check_documented_lengths()?;
    }
    if world.settings.account_reference_charset == Charset::Alphanumeric {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '_' | '-');
        if let Some(bad) = request.account_reference.chars().find(|c| !allowed(*c)) {
            return Err(DarajaError::field(
                "AccountReference",
                format!("AccountReference holds {bad:?}; only letters, digits, space, '.', '_' and '-' are allowed (account_reference_charset = \"alphanumeric\")"),
            ));
        }
    }
    Ok(())
}

/// When the same phone, `PartyB` and amount last completed, if within the
/// world's rule-limited window.
fn recently_completed(
    world: &World,
    stk: &StkState,
    request: &StkPushRequest,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let window = world.settings.stk_rule_limited_window_secs;
    if window == 0 {
        return None;
    }
    let key = (request.phone_number.clone(), request.party_b.clone(), request.amount);
    let at = *stk.completed.at.get(&key)?;
    let elapsed = (now - at).num_seconds();
    (elapsed >= 0 && elapsed.unsigned_abs() <= window).then_some(at)
}

/// A `PartyB` the merchant does not own: the real system accepts the push,
/// then fails it with 2028.
fn product_mismatch(world: &World, merchant: &Shortcode, request: &StkPushRequest) -> Option<String> {
    match merchant.kind {
        ShortcodeKind::Paybill if request.party_b != merchant.number => {
            Some(format!("PartyB {} differs from the paybill {}", request.party_b, merchant.number))
        }
        ShortcodeKind::Store => {
            let till = world.shortcodes.get(request.party_b.as_str());
            let ok =
                till.is_some_and(|t| t.kind == ShortcodeKind::Till && t.store.as_deref() == Some(&merchant.number));
            (!ok).then(|| format!("PartyB {} is not a till of store {}", request.party_b, merchant.number))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn completions_noted_for_rule_limited_stay_bounded_oldest_forgotten_first() {
        let t0 = Utc.with_ymd_and_hms(2026, 12, 5, 12, 0, 0).single().expect("a time");
        let at = |secs: i64| t0 + chrono::Duration::seconds(secs);
        let key = |n: u32| {
            (compact_str::format_compact!("2547{n:08}"), CompactString::const_new("174379"), Money::from_shillings(1))
        };
        let mut completed = Completions::default();
        // Five within a 60 s window, three kept: the two oldest go.
        for n in 0..5 {
            completed.note(key(n), at(i64::from(n)), 60, 3);
        }
        let mut kept: Vec<_> = completed.at.keys().map(|k| k.0.clone()).collect();
        kept.sort();
        assert_eq!(kept, [key(2).0, key(3).0, key(4).0]);
        // The same key again, later: its older note is skipped, not counted twice.
        completed.note(key(4), at(50), 60, 3);
        assert_eq!(completed.at.len(), 3);
        assert_eq!(completed.at[&key(4)], at(50));
        // Past the window, the old ones go though the map is not full.
        completed.note(key(9), at(100), 60, 3);
        assert_eq!(completed.at.len(), 2, "{:?}", completed.at);
        assert!(completed.at.contains_key(&key(4)) && completed.at.contains_key(&key(9)));
        assert!(completed.order.len() <= 3, "{:?}", completed.order);
        // Many more: the queue never holds more than the map plus the one just noted.
        for n in 10..10_000 {
            completed.note(key(n), at(200 + i64::from(n)), 60, 100);
            assert!(completed.at.len() <= 100);
            assert!(completed.order.len() <= completed.at.len().saturating_add(1));
        }
    }
}
