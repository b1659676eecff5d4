//! The money APIs of both profiles (C2B, B2C, B2B, reversal) and what every
//! answered request shares: the transaction record, the synchronous answer
//! or the acknowledgement, the settlement that moves money, and the
//! asynchronous result with its acknowledgement contract.
//!
//! A request's result is planned when it is accepted (the scenario's
//! outcome, or success) and applied by [`settle`]: at once when the caller
//! answers synchronously, when its timeline event falls due otherwise.
//! Settling a success moves the money in the market's currency (customers'
//! wallets and the service providers' accounts); a wallet that cannot cover
//! it turns the result into `INS-2006`. A reversal reserves what it takes
//! back when accepted, so the same money is never returned twice.

use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};

use super::api::{Api, Profile};
use super::codes::{self, Ins, StatusTable};
use super::error::{Echo, VodafoneError};
use super::handler::{answer, Caller};
use super::markets::Market;
use super::state::{Extra, Movement, Planned, State, Status, Transaction};
use super::wire::{self, Conversation, Head, OpenApiCallback, OpenApiResponse, PortalCallback, PortalResponse};
use super::world::DuplicateKey;
use super::{accounts, ids, limits, Due, Vodafone};
use crate::callbacks::{self, CallbackJob, ReplyTo};
use crate::clock::after_ms_u64;
use crate::ledger::{LedgerError, Money};
use crate::provider::Registered;
use crate::scenarios::{Decision, ResultCode};
use crate::store::Core;

/// Which way a customer payment goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// The customer pays the service provider.
    C2b,
    /// The service provider pays the customer.
    B2c,
}

/// The result a decision plans: its outcome, or success.
pub(crate) fn planned(decision: Option<&Decision>) -> Planned {
    match decision.and_then(|d| d.outcome.as_ref().map(|o| (d, o))) {
        None => Planned::success(),
        Some((d, o)) => Planned {
            code: match &o.result_code {
                ResultCode::Number(n) => format!("INS-{n}"),
                ResultCode::Text(t) => t.clone(),
            },
            desc: o.result_desc.clone(),
            timeout: o.timeout,
            rule: Some(d.rule.clone()),
        },
    }
}

/// A code's description and HTTP status on a profile (a code the profile's
/// tables do not list is looked up in the other's, then is 400).
pub(crate) fn describe(
    profile: Profile,
    table: StatusTable,
    api: Api,
    code: &str,
    desc: Option<&str>,
) -> (String, StatusCode) {
    let other = match profile {
        Profile::Portal => Profile::OpenApi,
        Profile::OpenApi => Profile::Portal,
    };
    let entry = Ins::parse(code).and_then(|ins| {
        codes::lookup(profile, table, Some(api), ins)
            .or_else(|| codes::lookup(other, StatusTable::Documented, Some(api), ins))
    });
    let status = entry.and_then(|e| StatusCode::from_u16(e.status).ok()).unwrap_or(StatusCode::BAD_REQUEST);
    let desc =
        desc.map(str::to_owned).or_else(|| entry.map(|e| e.desc.to_owned())).unwrap_or_else(|| "Internal Error".into());
    (desc, status)
}

/// What a new transaction is, before it gets its ids.
pub(crate) struct NewTransaction {
    pub(crate) third_party: String,
    pub(crate) transaction_reference: Option<String>,
    pub(crate) msisdn: Option<String>,
    pub(crate) service_provider_code: String,
    pub(crate) amount: Option<Money>,
    pub(crate) movement: Option<Movement>,
    pub(crate) original: Option<String>,
    pub(crate) duplicate_key: Option<String>,
    pub(crate) extra: Extra,
}

/// Records a transaction and settles it now (synchronous) or schedules its
/// settlement (asynchronous); returns its conversation id.
pub(crate) fn accept(
    core: &mut Core,
    mine: &mut State,
    caller: &Caller,
    new: NewTransaction,
    planned: Planned,
) -> String {
    let conversation_id = ids::conversation_id(&mut core.ids);
    let transaction_id = ids::transaction_id(&mut core.ids);
    let tx = Transaction {
        conversation_id: conversation_id.clone(),
        transaction_id: Some(transaction_id),
        profile: caller.profile,
        api: caller.api,
        market: caller.market,
        owner: caller.owner.clone(),
        third_party: new.third_party,
        transaction_reference: new.transaction_reference,
        msisdn: new.msisdn,
        service_provider_code: new.service_provider_code,
        amount: new.amount,
        movement: new.movement,
        reversed: Money(0),
        original: new.original,
        status: Status::Pending,
        result: None,
        at: caller.now,
        settled_at: None,
        async_url: caller.async_url.clone(),
        script: caller.decision.as_ref().map(|d| d.callback.clone()).unwrap_or_default(),
        ack: None,
        duplicate_key: new.duplicate_key,
        extra: new.extra,
        reason: String::new(),
        planned,
    };
    let timeout = tx.planned.timeout;
    mine.insert(tx, core.limits.transactions);
    if caller.async_url.is_none() {
        settle(core, mine, &conversation_id, caller.now);
        return conversation_id;
    }
    let world = mine.world.clone();
    let after = caller.decision.as_ref().and_then(|d| d.outcome.as_ref()).and_then(|o| o.after_ms);
    let delay = match (timeout, after) {
        (true, _) => world.timeout_ms,
        (false, Some(after)) => after.sample(|low, high| core.ids.between(low, high)),
        (false, None) => world.result_delay_ms,
    };
    core.schedule::<Vodafone>(
        after_ms_u64(caller.now, delay),
        Due::Settle { conversation_id: conversation_id.clone() },
    );
    conversation_id
}

/// Applies a transaction's planned result: moves the money of a success,
/// records the outcome, and sends the asynchronous result if it has a URL.
pub(crate) fn settle(core: &mut Core, mine: &mut State, conversation_id: &str, at: DateTime<Utc>) {
    let Some(tx) = mine.transactions.get(conversation_id).cloned() else { return };
    if tx.status.is_final() {
        return;
    }
    let (code, reason) = if tx.planned.is_success() {
        match &tx.movement {
            Some(m) => {
                let reference = tx.transaction_id.clone().unwrap_or_default();
                let details = format!("{} {}", tx.api.operation(), tx.third_party);
                match core.ledger.transfer(&reference, &details, at, &m.from, &m.to, m.amount) {
                    Ok(()) => (Ins::SUCCESS.code(), format!("moved {} {}", tx.market.currency(), m.amount)),
                    Err(LedgerError::Insufficient { available, needed }) => (
                        Ins::INSUFFICIENT_BALANCE.code(),
                        format!("the paying account holds {} {available}, less than {needed}", tx.market.currency()),
                    ),
                    Err(e) => (Ins::INTERNAL_ERROR.code(), format!("the ledger refused the movement: {e}")),
                }
            }
            None => (Ins::SUCCESS.code(), "no money moves".to_owned()),
        }
    } else {
        let rule = tx.planned.rule.clone().unwrap_or_default();
        (tx.planned.code.clone(), format!("scenario rule {rule}"))
    };
    let success = code == Ins::SUCCESS.code();
    if let (Some(original), Some(m)) = (&tx.original, &tx.movement) {
        if !success {
            // Give back what the reversal reserved when it was accepted.
            if let Some(orig) = mine.transactions.get_mut(original) {
                orig.reversed = Money(orig.reversed.0.saturating_sub(m.amount.0).max(0));
            }
        }
    }
    super::mandates::settled(mine, &tx, success);
    let table = if tx.profile == Profile::Portal { mine.world.portal_status_table } else { StatusTable::Documented };
    let desc_override = if success { None } else { tx.planned.desc.as_deref() };
    let (desc, _) = describe(tx.profile, table, tx.api, &code, desc_override);
    if let Some(t) = mine.transactions.get_mut(conversation_id) {
        t.status = if success { Status::Completed } else { Status::Failed };
        t.result = Some((code.clone(), desc.clone()));
        t.settled_at = Some(at);
        t.reason = reason;
    }
    mine.finish(conversation_id, core.limits.transactions);
    if let Some(url) = &tx.async_url {
        let settled = mine.transactions.get(conversation_id).cloned().unwrap_or(tx.clone());
        send_result(core, mine, &settled, url, &code, &desc, at);
    }
}

/// POSTs a transaction's result to its listener, as the scenario's callback
/// script says, asking for the listener's acknowledgement.
fn send_result(core: &mut Core, mine: &State, tx: &Transaction, url: &str, code: &str, desc: &str, at: DateTime<Utc>) {
    let payload = match tx.profile {
        Profile::Portal => {
            let (result_code, result_desc) = mine.world.portal_result_code.apply(code, desc);
            crate::callbacks::Payload::json(&PortalCallback {
                original_conversation_id: tx.conversation_id.clone(),
                third_party_reference: tx.third_party.clone(),
                transaction_id: tx.transaction_id.clone().unwrap_or_default(),
                result_code,
                result_desc,
            })
        }
        Profile::OpenApi => super::mandates::result_payload(tx, code, desc)
            .unwrap_or_else(|| crate::callbacks::Payload::json(&openapi_callback(tx, code, desc))),
    };
    let id = core.ids.callback_id();
    let job = CallbackJob {
        reply_to: Some(ReplyTo { provider: Vodafone::ID, key: tx.conversation_id.clone() }),
        ..CallbackJob::with_payload(
            id,
            super::PROVIDER,
            tx.api.operation(),
            tx.conversation_id.clone(),
            url.to_owned(),
            payload,
        )
    };
    callbacks::plan(core, job, &tx.script, at);
}

/// The OpenAPI's result body (§6), with the API's extras.
fn openapi_callback(tx: &Transaction, code: &str, desc: &str) -> OpenApiCallback {
    let mut body = OpenApiCallback {
        original_conversation_id: tx.conversation_id.clone(),
        transaction_id: tx.transaction_id.clone(),
        result_code: code.to_owned(),
        result_desc: desc.to_owned(),
        third_party_conversation_id: tx.third_party.clone(),
        ..OpenApiCallback::default()
    };
    match &tx.extra {
        Extra::Status { original_transaction_id, reversed, .. } => {
            body.original_transaction_id = original_transaction_id.clone();
            body.reversed = Some(wire::flag(*reversed));
        }
        Extra::Beneficiary { first_name, last_name } => {
            body.transaction_id = None;
            body.first_name = Some(first_name.clone());
            body.last_name = Some(last_name.clone());
        }
        Extra::Mandate { .. } | Extra::MandateQuery(_) | Extra::None => {}
    }
    body
}

/// Judges and records a listener's acknowledgement of a result.
pub(crate) fn on_reply(core: &mut Core, mine: &mut State, key: &str, reply: &crate::callbacks::Reply) {
    let Some(tx) = mine.transactions.get_mut(key) else { return };
    let judgement = match (reply.status, &reply.error) {
        (_, Some(error)) => {
            wire::AckJudgement { accepted: false, remark: Some(format!("no acknowledgement: {error}")) }
        }
        (Some(status), None) if !(200..300).contains(&status) => {
            wire::AckJudgement { accepted: false, remark: Some(format!("the listener answered HTTP {status}")) }
        }
        _ => wire::judge_ack(reply.body.as_bytes(), tx.api, &tx.conversation_id),
    };
    core.judge(reply, judgement.accepted, judgement.remark.clone());
    tx.ack = Some(judgement);
}

/// The answer for a settled (synchronous) transaction or the acknowledgement
/// of a pending (asynchronous) one: money APIs.
pub(crate) fn money_answer(caller: &Caller, conversation_id: &str) -> Result<Response, VodafoneError> {
    let tx = caller.tenant.with::<Vodafone, _>(|_, mine| mine.transactions.get(conversation_id).cloned()).ok_or_else(
        || caller.error(Ins::INTERNAL_ERROR, "the transaction was forgotten at once (retention limit 0?)"),
    )?;
    let (code, desc) = match (&tx.status, &tx.result) {
        (Status::Pending, _) | (_, None) => {
            // The acknowledgement of an asynchronous request.
            let head = Head::new(Ins::SUCCESS.code(), "Request processed successfully");
            return Ok(match caller.profile {
                Profile::Portal => answer(
                    caller.api.success_status(),
                    &PortalResponse {
                        head,
                        transaction_id: None,
                        conversation_id: tx.conversation_id,
                        third_party_reference: tx.third_party,
                    },
                ),
                Profile::OpenApi => answer(
                    caller.api.success_status(),
                    &OpenApiResponse {
                        head,
                        transaction_id: None,
                        ids: Conversation::new(tx.conversation_id, tx.third_party),
                    },
                ),
            });
        }
        (_, Some((code, desc))) => (code.clone(), desc.clone()),
    };
    if tx.status == Status::Failed {
        return Err(failure(caller, &tx, &code, &desc));
    }
    let head = Head::new(code, desc);
    Ok(match caller.profile {
        Profile::Portal => answer(
            caller.api.success_status(),
            &PortalResponse {
                head,
                transaction_id: tx.transaction_id,
                conversation_id: tx.conversation_id,
                third_party_reference: tx.third_party,
            },
        ),
        Profile::OpenApi => answer(
            caller.api.success_status(),
            &OpenApiResponse {
                head,
                transaction_id: tx.transaction_id,
                ids: Conversation::new(tx.conversation_id, tx.third_party),
            },
        ),
    })
}

/// A failed synchronous result in the error envelope, echoing the ids.
pub(crate) fn failure(caller: &Caller, tx: &Transaction, code: &str, desc: &str) -> VodafoneError {
    let (_, status) = describe(caller.profile, caller.table, caller.api, code, None);
    let echo = Echo {
        transaction_id: tx.transaction_id.clone(),
        conversation_id: Some(tx.conversation_id.clone()),
        third_party: Some(tx.third_party.clone()),
    };
    let error = match Ins::parse(code) {
        Some(ins) if desc_is_the_tables(caller, ins, desc) => caller.error(ins, tx.reason.clone()),
        _ => VodafoneError::custom(caller.profile, Some(caller.api), code, desc, status),
    };
    let mut error = error.with_table(caller.table).with_echo(echo);
    error.diagnosis = Some(tx.reason.clone());
    error
}

fn desc_is_the_tables(caller: &Caller, ins: Ins, desc: &str) -> bool {
    describe(caller.profile, caller.table, caller.api, &ins.code(), None).0 == desc
}

/// A duplicate of an earlier transaction: `INS-10`, echoing its ids.
fn duplicate(caller: &Caller, original: &Transaction, key_name: &str) -> VodafoneError {
    caller
        .error(
            Ins::DUPLICATE_TRANSACTION,
            format!("{key_name} {:?} was used by transaction {}", original.third_party, original.conversation_id),
        )
        .with_echo(Echo {
            transaction_id: original.transaction_id.clone(),
            conversation_id: Some(original.conversation_id.clone()),
            third_party: Some(original.third_party.clone()),
        })
}

/// The earlier transaction a duplicate key names, if any.
fn seen<'a>(mine: &'a State, key: &str) -> Option<&'a Transaction> {
    mine.duplicates.get(key).and_then(|c| mine.transactions.get(c))
}

/// The organisation account of a code in a market, if the world has it.
fn org(core: &Core, market: Market, code: &str) -> Option<crate::ledger::Account> {
    let account = accounts::org(market, code);
    core.ledger.balance(&account).map(|_| account)
}

/// A customer payment of either profile, once parsed.
#[allow(clippy::too_many_arguments)]
fn customer_payment(
    caller: &Caller,
    direction: Direction,
    msisdn: &str,
    amount: Money,
    service_provider_code: &str,
    third_party: &str,
    transaction_reference: &str,
    duplicate_key: String,
    duplicate_name: &str,
) -> Result<Response, VodafoneError> {
    let planned = planned(caller.decision.as_ref());
    let conversation_id = caller.tenant.with::<Vodafone, _>(|core, mine| {
        if let Some(original) = seen(mine, &duplicate_key) {
            return Err(duplicate(caller, original, duplicate_name));
        }
        limits::check_and_count(core, mine, caller, Some(msisdn), amount)?;
        let customer = accounts::customer(caller.market, msisdn);
        core.ensure_customer(caller.market.core(), msisdn);
        let movement = match org(core, caller.market, service_provider_code) {
            Some(org) => Some(match direction {
                Direction::C2b => Movement { from: customer, to: org, amount },
                Direction::B2c => Movement { from: org, to: customer, amount },
            }),
            None if !planned.is_success() => None,
            None => {
                return Err(caller.error(
                    Ins::INVALID_SHORTCODE,
                    format!(
                        "service provider code {service_provider_code} has no account in {} (the world's vodafone.organisations)",
                        caller.market
                    ),
                ))
            }
        };
        let new = NewTransaction {
            third_party: third_party.to_owned(),
            transaction_reference: Some(transaction_reference.to_owned()),
            msisdn: Some(msisdn.to_owned()),
            service_provider_code: service_provider_code.to_owned(),
            amount: Some(amount),
            movement,
            original: None,
            duplicate_key: Some(duplicate_key.clone()),
            extra: Extra::None,
        };
        Ok(accept(core, mine, caller, new, planned))
    })?;
    money_answer(caller, &conversation_id)
}

/// The portal's duplicate key: the account's `input_ThirdPartyReference`.
fn portal_key(caller: &Caller, third_party_reference: &str) -> String {
    format!("{}\u{0}{third_party_reference}", caller.owner)
}

/// The OpenAPI's duplicate key, as the world chooses it.
fn openapi_key(
    caller: &Caller,
    mine_key: DuplicateKey,
    conversation: &str,
    sp: &str,
    reference: Option<&str>,
) -> String {
    match (mine_key, reference) {
        (DuplicateKey::TransactionReference, Some(reference)) => format!("{}\u{0}{sp}\u{0}{reference}", caller.owner),
        _ => format!("{}\u{0}{conversation}", caller.owner),
    }
}

fn duplicate_setting(caller: &Caller) -> DuplicateKey {
    caller.tenant.with::<Vodafone, _>(|_, mine| mine.world.duplicate_key)
}

pub(crate) fn portal_payment(
    caller: &Caller,
    p: super::portal::PaymentRequest,
    direction: Direction,
) -> Result<Response, VodafoneError> {
    let key = portal_key(caller, &p.third_party_reference);
    customer_payment(
        caller,
        direction,
        &p.customer_msisdn,
        p.amount,
        &p.service_provider_code,
        &p.third_party_reference,
        &p.transaction_reference,
        key,
        "input_ThirdPartyReference",
    )
}

pub(crate) fn openapi_payment(
    caller: &Caller,
    p: super::openapi::PaymentRequest,
    direction: Direction,
) -> Result<Response, VodafoneError> {
    let setting = duplicate_setting(caller);
    let key = openapi_key(
        caller,
        setting,
        &p.third_party_conversation_id,
        &p.service_provider_code,
        Some(&p.transaction_reference),
    );
    let name = match setting {
        DuplicateKey::ThirdPartyConversationId => "input_ThirdPartyConversationID",
        DuplicateKey::TransactionReference => "input_TransactionReference",
    };
    customer_payment(
        caller,
        direction,
        &p.customer_msisdn,
        p.amount,
        &p.service_provider_code,
        &p.third_party_conversation_id,
        &p.transaction_reference,
        key,
        name,
    )
}

/// B2B of either profile, once parsed.
#[allow(clippy::too_many_arguments)]
fn b2b(
    caller: &Caller,
    amount: Money,
    primary: &str,
    receiver: &str,
    third_party: &str,
    transaction_reference: &str,
    duplicate_key: String,
    duplicate_name: &str,
) -> Result<Response, VodafoneError> {
    let planned = planned(caller.decision.as_ref());
    let conversation_id = caller.tenant.with::<Vodafone, _>(|core, mine| {
        if let Some(original) = seen(mine, &duplicate_key) {
            return Err(duplicate(caller, original, duplicate_name));
        }
        limits::check_and_count(core, mine, caller, None, amount)?;
        let movement = match (org(core, caller.market, primary), org(core, caller.market, receiver)) {
            (Some(from), Some(to)) => Some(Movement { from, to, amount }),
            _ if !planned.is_success() => None,
            (None, _) => {
                return Err(caller.error(
                    Ins::INVALID_SHORTCODE,
                    format!("the primary party {primary} has no account in {}", caller.market),
                ))
            }
            (_, None) => {
                let ins =
                    if caller.profile == Profile::Portal { Ins::RECEIVER_INVALID } else { Ins::INVALID_SHORTCODE };
                return Err(caller.error(ins, format!("the receiver {receiver} has no account in {}", caller.market)));
            }
        };
        let new = NewTransaction {
            third_party: third_party.to_owned(),
            transaction_reference: Some(transaction_reference.to_owned()),
            msisdn: None,
            service_provider_code: primary.to_owned(),
            amount: Some(amount),
            movement,
            original: None,
            duplicate_key: Some(duplicate_key.clone()),
            extra: Extra::None,
        };
        Ok(accept(core, mine, caller, new, planned))
    })?;
    money_answer(caller, &conversation_id)
}

pub(crate) fn portal_b2b(caller: &Caller, b: super::portal::B2bRequest) -> Result<Response, VodafoneError> {
    let key = portal_key(caller, &b.third_party_reference);
    b2b(
        caller,
        b.amount,
        &b.primary_party_code,
        &b.receiver_party_code,
        &b.third_party_reference,
        &b.transaction_reference,
        key,
        "input_ThirdPartyReference",
    )
}

pub(crate) fn openapi_b2b(caller: &Caller, b: super::openapi::B2bRequest) -> Result<Response, VodafoneError> {
    let setting = duplicate_setting(caller);
    let key = openapi_key(
        caller,
        setting,
        &b.third_party_conversation_id,
        &b.primary_party_code,
        Some(&b.transaction_reference),
    );
    b2b(
        caller,
        b.amount,
        &b.primary_party_code,
        &b.receiver_party_code,
        &b.third_party_conversation_id,
        &b.transaction_reference,
        key,
        "input_ThirdPartyConversationID",
    )
}

/// A reversal of either profile, once parsed.
fn reversal(
    caller: &Caller,
    transaction_id: &str,
    amount: Option<Money>,
    service_provider_code: &str,
    third_party: &str,
    duplicate_key: String,
) -> Result<Response, VodafoneError> {
    let planned = planned(caller.decision.as_ref());
    let explicit = planned.rule.is_some();
    let conversation_id = caller.tenant.with::<Vodafone, _>(|core, mine| {
        if let Some(original) = seen(mine, &duplicate_key) {
            return Err(duplicate(caller, original, "the third-party id"));
        }
        let original = mine
            .by_transaction_id
            .get(transaction_id)
            .and_then(|c| mine.transactions.get(c))
            .filter(|t| t.api.moves_money())
            .cloned();
        let invalid = |why: String| caller.error(Ins::INVALID_TRANSACTION_ID, why);
        let (movement, original_id) = match original {
            None if explicit || !planned.is_success() => (None, None),
            None => return Err(invalid(format!("no transaction {transaction_id} to reverse in this tenant"))),
            Some(original) => {
                if original.owner != caller.owner {
                    let ins = if caller.profile == Profile::OpenApi {
                        Ins::NOT_YOUR_TRANSACTION
                    } else {
                        Ins::INVALID_TRANSACTION_ID
                    };
                    return Err(caller.error(
                        ins,
                        format!("transaction {transaction_id} belongs to another account or application"),
                    ));
                }
                let Some(m) = original.movement.clone().filter(|_| original.status == Status::Completed) else {
                    return Err(invalid(format!("transaction {transaction_id} is not a completed payment")));
                };
                if original.original.is_some() {
                    return Err(invalid(format!("transaction {transaction_id} is itself a reversal")));
                }
                let left = Money(m.amount.0.saturating_sub(original.reversed.0));
                if left.0 <= 0 {
                    return Err(invalid(format!("transaction {transaction_id} is already reversed in full")));
                }
                let take = amount.unwrap_or(left);
                if take.0 > left.0 {
                    return Err(caller.error(
                        Ins::INVALID_AMOUNT,
                        format!("the reversal amount {take} is more than the {left} left to reverse"),
                    ));
                }
                if let Some(orig) = mine.transactions.get_mut(&original.conversation_id) {
                    orig.reversed = Money(orig.reversed.0.saturating_add(take.0));
                }
                (Some(Movement { from: m.to, to: m.from, amount: take }), Some(original.conversation_id))
            }
        };
        let new = NewTransaction {
            third_party: third_party.to_owned(),
            transaction_reference: None,
            msisdn: None,
            service_provider_code: service_provider_code.to_owned(),
            amount: movement.as_ref().map(|m| m.amount).or(amount),
            movement,
            original: original_id,
            duplicate_key: Some(duplicate_key.clone()),
            extra: Extra::None,
        };
        Ok(accept(core, mine, caller, new, planned))
    })?;
    money_answer(caller, &conversation_id)
}

pub(crate) fn portal_reversal(caller: &Caller, r: super::portal::ReversalRequest) -> Result<Response, VodafoneError> {
    let credentials_ok = caller.tenant.with::<Vodafone, _>(|_, mine| {
        use secrecy::ExposeSecret;
        let account = mine.world.accounts.iter().find(|a| a.name == caller.owner).cloned();
        account.map(|a| {
            (
                a.initiator_identifier == r.initiator_identifier,
                a.security_credential.expose_secret() == r.security_credential,
            )
        })
    });
    match credentials_ok {
        Some((false, _)) => {
            return Err(caller
                .error(Ins::INVALID_INITIATOR, "input_InitiatorIdentifier is not the account's initiator identifier"))
        }
        Some((_, false)) => {
            return Err(caller.error(
                Ins::INVALID_SECURITY_CREDENTIAL,
                "input_SecurityCredential is not the account's security credential",
            ))
        }
        _ => {}
    }
    let key = portal_key(caller, &r.third_party_reference);
    reversal(caller, &r.transaction_id, r.reversal_amount, &r.service_provider_code, &r.third_party_reference, key)
}

pub(crate) fn openapi_reversal(caller: &Caller, r: super::openapi::ReversalRequest) -> Result<Response, VodafoneError> {
    let key = openapi_key(caller, DuplicateKey::ThirdPartyConversationId, &r.third_party_conversation_id, "", None);
    reversal(
        caller,
        &r.transaction_id,
        r.reversal_amount,
        &r.service_provider_code,
        &r.third_party_conversation_id,
        key,
    )
}
