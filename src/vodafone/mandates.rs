//! OpenAPI direct debits with state: a mandate is created (pending the
//! customer's approval), becomes active when its creation succeeds and the
//! customer agreed to the terms (`input_AgreedTC = 1`), and ends cancelled
//! (Direct Debit Cancel, or the admin API) or expired (past its expiry date
//! by the market's calendar, or the admin API).
//!
//! Payments move money from the mandate's customer to the service provider
//! and need an active mandate (`INS-58`); a mandate id that belongs to
//! another reference is `INS-52`, a token that is not the mandate's `INS-56`,
//! a token and an MSISDN of different customers `INS-50`.
//! The sandbox's trigger values (the default scenario, by reference for
//! payments, queries and cancellations, by MSISDN for creation) answer as
//! the real sandbox does even when no mandate exists.

use axum::response::Response;
use chrono::NaiveDate;

use super::codes::Ins;
use super::direct_debit::{CancelRequest, CreateRequest, Customer, DirectDebitRequest, PaymentRequest, QueryRequest};
use super::error::{Echo, VodafoneError};
use super::handler::{answer, Caller};
use super::payments::{accept, failure, planned, NewTransaction};
use super::state::{Extra, Mandate, MandateStatus, Movement, Planned, State, Status, Transaction};
use super::wire::{
    Conversation, DirectDebitCancelResponse, DirectDebitCreateResponse, DirectDebitPaymentResponse,
    DirectDebitQueryCallback, DirectDebitQueryResponse, Head, MandateFields, MandateView, OpenApiCallback,
};
use super::{accounts, ids, limits, Vodafone};
use crate::callbacks::Payload;
use crate::ledger::Money;

pub(crate) fn handle(caller: &Caller, request: DirectDebitRequest) -> Result<Response, VodafoneError> {
    match request {
        DirectDebitRequest::Create(c) => create(caller, c),
        DirectDebitRequest::Payment(p) => payment(caller, p),
        DirectDebitRequest::Query(q) => query(caller, q),
        DirectDebitRequest::Cancel(c) => cancel(caller, c),
    }
}

fn yyyymmdd(date: NaiveDate) -> String {
    date.format("%Y%m%d").to_string()
}

/// The mandate a request names: by id when given, else the newest of the
/// caller's with the reference.
fn find<'a>(mine: &'a State, caller: &Caller, mandate_id: Option<&str>, reference: &str) -> Option<&'a Mandate> {
    match mandate_id {
        Some(id) => mine.mandates.get(id).filter(|m| m.app == caller.owner),
        None => mine
            .mandates
            .values()
            .filter(|m| m.app == caller.owner && m.third_party_reference == reference)
            .max_by_key(|m| m.created_at),
    }
}

/// Checks the customer a request names against the mandate's.
fn check_customer(caller: &Caller, mandate: &Mandate, customer: &Customer) -> Result<(), VodafoneError> {
    match customer {
        Customer::Msisdn(msisdn) if *msisdn != mandate.msisdn => {
            Err(caller
                .error(Ins::NO_ACTIVE_MANDATE, "the mandate is another customer's (input_CustomerMSISDN differs)"))
        }
        Customer::Token(token) if *token != mandate.token => {
            Err(caller.error(Ins::INVALID_MSISDN_TOKEN, "input_MsisdnToken is not the mandate's token"))
        }
        Customer::Both { msisdn, token } if *token != mandate.token || *msisdn != mandate.msisdn => Err(caller.error(
            Ins::TOKEN_MSISDN_MISMATCH,
            "input_MsisdnToken and input_CustomerMSISDN do not name the mandate's customer",
        )),
        _ => Ok(()),
    }
}

fn new_transaction(third_party: &str, sp: &str, msisdn: Option<String>, extra: Extra) -> NewTransaction {
    NewTransaction {
        third_party: third_party.to_owned(),
        transaction_reference: None,
        msisdn,
        service_provider_code: sp.to_owned(),
        amount: None,
        movement: None,
        original: None,
        duplicate_key: None,
        extra,
    }
}

fn ok_head(tx: &Transaction) -> Option<Head> {
    match (&tx.status, &tx.result) {
        (Status::Completed, Some((code, desc))) => Some(Head::new(code.clone(), desc.clone())),
        _ => None,
    }
}

fn ack_head() -> Head {
    Head::new(Ins::SUCCESS.code(), "Request processed successfully")
}

fn failed(caller: &Caller, tx: &Transaction) -> VodafoneError {
    let (code, desc) = tx.result.clone().unwrap_or_default();
    let mut error = failure(caller, tx, &code, &desc);
    error.echo.transaction_id = None;
    error
}

fn create(caller: &Caller, c: CreateRequest) -> Result<Response, VodafoneError> {
    let plan = planned(caller.decision.as_ref());
    let tx = caller.tenant.with::<Vodafone, _>(|core, mine| {
        let today = caller.market.today(caller.now);
        let existing = mine.mandates.values().find(|m| {
            m.app == caller.owner
                && m.service_provider_code == c.service_provider_code
                && m.third_party_reference == c.third_party_reference
                && matches!(m.status_on(today), MandateStatus::Created | MandateStatus::Active)
        });
        if let Some(m) = existing {
            return Err(caller
                .error(
                    Ins::DUPLICATE_TRANSACTION,
                    format!(
                        "mandate {} already has input_ThirdPartyReference {:?}",
                        m.mandate_id, m.third_party_reference
                    ),
                )
                .with_echo(Echo {
                    conversation_id: None,
                    third_party: Some(c.third_party_conversation_id.clone()),
                    ..Echo::default()
                }));
        }
        let mandate = Mandate {
            mandate_id: ids::mandate_id(&mut core.ids),
            app: caller.owner.clone(),
            market: caller.market,
            msisdn: c.customer_msisdn.clone(),
            token: ids::msisdn_token(&mut core.ids),
            service_provider_code: c.service_provider_code.clone(),
            third_party_reference: c.third_party_reference.clone(),
            transaction_reference: ids::direct_debit_reference(&mut core.ids),
            status: MandateStatus::Created,
            frequency: c.schedule.map(|s| s.frequency),
            first_payment_date: c.schedule.map(|s| s.first_payment_date),
            day_range: c.schedule.map(|s| s.day_range).unwrap_or((None, None)),
            expiry_date: c.expiry_date,
            created_at: caller.now,
            agreed_tc: c.agreed_tc,
            payments: 0,
        };
        let extra = Extra::Mandate {
            mandate_id: Some(mandate.mandate_id.clone()),
            token: Some(mandate.token.clone()),
            reference: Some(mandate.transaction_reference.clone()),
        };
        mine.add_mandate(mandate);
        let new = new_transaction(
            &c.third_party_conversation_id,
            &c.service_provider_code,
            Some(c.customer_msisdn.clone()),
            extra,
        );
        let id = accept(core, mine, caller, new, plan);
        Ok(mine.transactions.get(&id).cloned())
    })?;
    let tx = tx.ok_or_else(|| caller.error(Ins::INTERNAL_ERROR, "the request was forgotten at once"))?;
    let ids = Conversation::new(tx.conversation_id.clone(), tx.third_party.clone());
    let Extra::Mandate { mandate_id, token, reference } = tx.extra.clone() else {
        return Err(failed(caller, &tx));
    };
    if tx.status == Status::Pending {
        let body = DirectDebitCreateResponse {
            head: ack_head(),
            transaction_reference: None,
            msisdn_token: None,
            ids,
            mandate_id: None,
        };
        return Ok(answer(caller.api.success_status(), &body));
    }
    let Some(head) = ok_head(&tx) else { return Err(failed(caller, &tx)) };
    let body =
        DirectDebitCreateResponse { head, transaction_reference: reference, msisdn_token: token, ids, mandate_id };
    Ok(answer(caller.api.success_status(), &body))
}

fn payment(caller: &Caller, p: PaymentRequest) -> Result<Response, VodafoneError> {
    let plan = planned(caller.decision.as_ref());
    let explicit = plan.rule.is_some();
    let tx = caller.tenant.with::<Vodafone, _>(|core, mine| {
        let key = format!("{}\u{0}{}", caller.owner, p.third_party_conversation_id);
        if let Some(original) = mine.duplicates.get(&key).and_then(|c| mine.transactions.get(c)) {
            return Err(caller
                .error(Ins::DUPLICATE_TRANSACTION, "input_ThirdPartyConversationID was used before")
                .with_echo(Echo {
                    transaction_id: original.transaction_id.clone(),
                    conversation_id: Some(original.conversation_id.clone()),
                    third_party: Some(original.third_party.clone()),
                }));
        }
        let today = caller.market.today(caller.now);
        let mandate = find(mine, caller, p.mandate_id.as_deref(), &p.third_party_reference).cloned();
        let mut mandate_found = None;
        let (movement, token, msisdn) = match mandate {
            None if explicit || !plan.is_success() => (None, None, None),
            None => {
                return Err(caller.error(
                    Ins::NO_ACTIVE_MANDATE,
                    format!(
                        "no mandate of this application for input_ThirdPartyReference {:?}",
                        p.third_party_reference
                    ),
                ))
            }
            Some(mandate) => {
                if mandate.third_party_reference != p.third_party_reference {
                    return Err(caller.error(
                        Ins::MANDATE_REFERENCE_MISMATCH,
                        format!("mandate {} was created for another input_ThirdPartyReference", mandate.mandate_id),
                    ));
                }
                check_customer(caller, &mandate, &p.customer)?;
                let status = mandate.status_on(today);
                if status != MandateStatus::Active {
                    return Err(caller.error(
                        Ins::NO_ACTIVE_MANDATE,
                        format!("mandate {} is {}", mandate.mandate_id, status.as_str()),
                    ));
                }
                let customer = accounts::customer(caller.market, &mandate.msisdn);
                core.ensure_customer(caller.market.core(), &mandate.msisdn);
                let org = accounts::org(caller.market, &p.service_provider_code);
                if core.ledger.balance(&org).is_none() {
                    return Err(caller.error(
                        Ins::INVALID_SHORTCODE,
                        format!(
                            "service provider code {} has no account in {}",
                            p.service_provider_code, caller.market
                        ),
                    ));
                }
                let movement = Movement { from: customer, to: org, amount: p.amount };
                mandate_found = Some(mandate.mandate_id.clone());
                (Some(movement), Some(mandate.token.clone()), Some(mandate.msisdn.clone()))
            }
        };
        limits::check_and_count(core, mine, caller, msisdn.as_deref(), p.amount)?;
        let extra = Extra::Mandate { mandate_id: mandate_found, token, reference: None };
        let mut new = new_transaction(&p.third_party_conversation_id, &p.service_provider_code, msisdn, extra);
        new.amount = Some(p.amount);
        new.movement = movement;
        new.duplicate_key = Some(key);
        let id = accept(core, mine, caller, new, plan);
        Ok(mine.transactions.get(&id).cloned())
    })?;
    let tx = tx.ok_or_else(|| caller.error(Ins::INTERNAL_ERROR, "the request was forgotten at once"))?;
    let ids = Conversation::new(tx.conversation_id.clone(), tx.third_party.clone());
    if tx.status == Status::Pending {
        let body = DirectDebitPaymentResponse { head: ack_head(), transaction_id: None, msisdn_token: None, ids };
        return Ok(answer(caller.api.success_status(), &body));
    }
    let Some(head) = ok_head(&tx) else {
        let (code, desc) = tx.result.clone().unwrap_or_default();
        return Err(failure(caller, &tx, &code, &desc));
    };
    let token = match &tx.extra {
        Extra::Mandate { token, .. } => token.clone(),
        _ => None,
    };
    let body = DirectDebitPaymentResponse { head, transaction_id: tx.transaction_id.clone(), msisdn_token: token, ids };
    Ok(answer(caller.api.success_status(), &body))
}

/// What Query Direct Debit reports of a mandate (or of the sandbox's
/// trigger values when none exists).
fn view(
    caller: &Caller,
    core: &crate::store::Core,
    mandate: Option<&Mandate>,
    q: &QueryRequest,
) -> Option<MandateView> {
    let today = caller.market.today(caller.now);
    let msisdn = match (&q.customer, mandate) {
        (_, Some(m)) => Some(m.msisdn.clone()),
        (Customer::Msisdn(m) | Customer::Both { msisdn: m, .. }, None) => Some(m.clone()),
        (Customer::Token(_), None) => None,
    };
    let account_status = msisdn
        .as_deref()
        .and_then(|m| super::SANDBOX_ACCOUNT_STATUS.iter().find(|(number, _)| *number == m).map(|(_, s)| *s))
        .unwrap_or("Active");
    let sufficient_balance = q.balance_amount.map(|wanted| match msisdn.as_deref() {
        Some(m) if m.starts_with("00000000000") => wanted <= super::SANDBOX_BALANCE_THRESHOLD,
        Some(m) => core.ledger.balance(&accounts::customer(caller.market, m)).unwrap_or(Money(0)) >= wanted,
        None => false,
    });
    match mandate {
        Some(m) => Some(MandateView {
            sufficient_balance,
            msisdn_token: Some(m.token.clone()),
            mandate_id: Some(m.mandate_id.clone()),
            mandate_status: Some(m.status_on(today).wire()),
            account_status: Some(account_status),
            first_payment_date: m.first_payment_date.map(yyyymmdd),
            frequency: m.frequency.map(|f| f.code()),
            payment_day_from: m.day_range.0.map(|d| format!("{d:02}")),
            payment_day_to: m.day_range.1.map(|d| format!("{d:02}")),
            expiry_date: m.expiry_date.map(yyyymmdd),
        }),
        None => {
            let id = q.mandate_id.as_deref()?;
            let status = super::SANDBOX_MANDATE_STATUS.iter().find(|(known, _)| *known == id).map(|(_, s)| *s)?;
            Some(MandateView {
                sufficient_balance,
                mandate_id: Some(id.to_owned()),
                mandate_status: Some(status),
                account_status: Some(account_status),
                ..MandateView::default()
            })
        }
    }
}

fn query(caller: &Caller, q: QueryRequest) -> Result<Response, VodafoneError> {
    let mut plan = planned(caller.decision.as_ref());
    let explicit = plan.rule.is_some();
    let tx = caller.tenant.with::<Vodafone, _>(|core, mine| {
        let mandate = find(mine, caller, q.mandate_id.as_deref(), &q.third_party_reference).cloned();
        if let Some(m) = &mandate {
            check_customer(caller, m, &q.customer)?;
        }
        let view = match view(caller, core, mandate.as_ref(), &q) {
            Some(view) => view,
            None if explicit => MandateView { account_status: Some("Active"), ..MandateView::default() },
            None => {
                if plan.is_success() {
                    plan = Planned { code: Ins::NO_ACTIVE_MANDATE.code(), desc: None, timeout: false, rule: None };
                }
                MandateView::default()
            }
        };
        let mut new = new_transaction(
            &q.third_party_conversation_id,
            &q.service_provider_code,
            mandate.as_ref().map(|m| m.msisdn.clone()),
            Extra::MandateQuery(Box::new(view)),
        );
        new.transaction_reference = mandate.map(|m| m.transaction_reference);
        let id = accept(core, mine, caller, new, plan.clone());
        Ok(mine.transactions.get(&id).cloned())
    })?;
    let tx = tx.ok_or_else(|| caller.error(Ins::INTERNAL_ERROR, "the request was forgotten at once"))?;
    let ids = Conversation::new(tx.conversation_id.clone(), tx.third_party.clone());
    if tx.status == Status::Pending {
        let body = DirectDebitQueryResponse {
            head: ack_head(),
            transaction_reference: None,
            ids,
            mandate: MandateFields::output(MandateView::default()),
        };
        return Ok(answer(caller.api.success_status(), &body));
    }
    let Some(head) = ok_head(&tx) else { return Err(failed(caller, &tx)) };
    let view = match &tx.extra {
        Extra::MandateQuery(view) => (**view).clone(),
        _ => MandateView::default(),
    };
    let body = DirectDebitQueryResponse {
        head,
        transaction_reference: tx.transaction_reference.clone(),
        ids,
        mandate: MandateFields::output(view),
    };
    Ok(answer(caller.api.success_status(), &body))
}

fn cancel(caller: &Caller, c: CancelRequest) -> Result<Response, VodafoneError> {
    let mut plan = planned(caller.decision.as_ref());
    let explicit = plan.rule.is_some();
    let tx = caller.tenant.with::<Vodafone, _>(|core, mine| {
        let today = caller.market.today(caller.now);
        let mandate = find(mine, caller, c.mandate_id.as_deref(), &c.third_party_reference).cloned();
        let extra = match &mandate {
            Some(m) => {
                check_customer(caller, m, &c.customer)?;
                if matches!(m.status_on(today), MandateStatus::Cancelled | MandateStatus::Expired) && plan.is_success()
                {
                    plan = Planned { code: Ins::TRANSACTION_FAILED.code(), desc: None, timeout: false, rule: None };
                }
                Extra::Mandate {
                    mandate_id: Some(m.mandate_id.clone()),
                    token: Some(m.token.clone()),
                    reference: Some(m.transaction_reference.clone()),
                }
            }
            None => {
                if !explicit && plan.is_success() {
                    plan = Planned { code: Ins::TRANSACTION_FAILED.code(), desc: None, timeout: false, rule: None };
                }
                Extra::Mandate { mandate_id: None, token: None, reference: None }
            }
        };
        let new =
            new_transaction(&c.third_party_conversation_id, &c.service_provider_code, mandate.map(|m| m.msisdn), extra);
        let id = accept(core, mine, caller, new, plan.clone());
        Ok(mine.transactions.get(&id).cloned())
    })?;
    let tx = tx.ok_or_else(|| caller.error(Ins::INTERNAL_ERROR, "the request was forgotten at once"))?;
    let ids = Conversation::new(tx.conversation_id.clone(), tx.third_party.clone());
    if tx.status == Status::Pending {
        let body = DirectDebitCancelResponse { head: ack_head(), transaction_reference: None, msisdn_token: None, ids };
        return Ok(answer(caller.api.success_status(), &body));
    }
    let Some(head) = ok_head(&tx) else { return Err(failed(caller, &tx)) };
    let (reference, token) = match &tx.extra {
        Extra::Mandate { reference, token, .. } => (reference.clone(), token.clone()),
        _ => (None, None),
    };
    let body = DirectDebitCancelResponse { head, transaction_reference: reference, msisdn_token: token, ids };
    Ok(answer(caller.api.success_status(), &body))
}

/// What a settled direct-debit request does to its mandate.
pub(crate) fn settled(mine: &mut State, tx: &Transaction, success: bool) {
    let Extra::Mandate { mandate_id: Some(id), .. } = &tx.extra else { return };
    let Some(mandate) = mine.mandates.get_mut(id) else { return };
    match (tx.api, success) {
        (super::api::Api::DirectDebitCreate, true) if mandate.agreed_tc => mandate.status = MandateStatus::Active,
        (super::api::Api::DirectDebitCreate, true) => {}
        (super::api::Api::DirectDebitCreate, false) => {
            mine.mandates.remove(id);
        }
        (super::api::Api::DirectDebitCancel, true) => mandate.status = MandateStatus::Cancelled,
        (super::api::Api::DirectDebitPayment, true) => mandate.payments = mandate.payments.saturating_add(1),
        _ => {}
    }
}

/// The asynchronous result of a direct-debit request, `None` for other APIs.
pub(crate) fn result_payload(tx: &Transaction, code: &str, desc: &str) -> Option<Payload> {
    use super::api::Api;
    let success = code == Ins::SUCCESS.code();
    let (mandate_id, token, reference) = match &tx.extra {
        Extra::Mandate { mandate_id, token, reference } if success => {
            (mandate_id.clone(), token.clone(), reference.clone())
        }
        _ => (None, None, None),
    };
    let base = OpenApiCallback {
        original_conversation_id: tx.conversation_id.clone(),
        result_code: code.to_owned(),
        result_desc: desc.to_owned(),
        third_party_conversation_id: tx.third_party.clone(),
        ..OpenApiCallback::default()
    };
    let body = match tx.api {
        Api::DirectDebitCreate => {
            OpenApiCallback { transaction_reference: reference, msisdn_token: token, mandate_id, ..base }
        }
        Api::DirectDebitPayment => {
            OpenApiCallback { transaction_id: tx.transaction_id.clone(), msisdn_token: token, ..base }
        }
        Api::DirectDebitCancel => OpenApiCallback { transaction_reference: reference, msisdn_token: token, ..base },
        Api::QueryDirectDebit => {
            let view = match &tx.extra {
                Extra::MandateQuery(view) if success => (**view).clone(),
                _ => MandateView::default(),
            };
            return Some(Payload::json(&DirectDebitQueryCallback {
                original_conversation_id: tx.conversation_id.clone(),
                code: code.to_owned(),
                desc: desc.to_owned(),
                transaction_reference: tx.transaction_reference.clone().filter(|_| success),
                third_party_conversation_id: tx.third_party.clone(),
                mandate: MandateFields::input(view),
            }));
        }
        _ => return None,
    };
    Some(Payload::json(&body))
}
