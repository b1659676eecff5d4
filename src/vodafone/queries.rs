//! Query transaction status (both profiles) and query beneficiary name
//! (OpenAPI).
//!
//! A status query reads the sandbox's own records: a transaction id, the
//! gateway's conversation id, or the client's reference names a money
//! transaction of the same account or application. The sandbox's trigger
//! values (the default scenario) answer as the real sandbox does even when
//! no such transaction exists; `000000000000000000001` reads as reversed.
//! Nothing found is `INS-23` on the OpenAPI and `N/A` on the portal (whose
//! documentation lists `N/A` among the statuses).

use axum::response::Response;

use super::codes::Ins;
use super::error::VodafoneError;
use super::handler::{answer, Caller};
use super::payments::{accept, failure, planned, NewTransaction};
use super::state::{Extra, Planned, State, Status, Transaction};
use super::wire::{
    flag, BeneficiaryNameResponse, Conversation, Head, OpenApiStatusResponse, PortalStatusResponse, TransactionStatus,
};
use super::{ids, Vodafone};

/// The status word of a transaction.
fn status_word(tx: &Transaction) -> &'static str {
    match (tx.status, tx.result.as_ref().map(|(code, _)| code.as_str())) {
        (Status::Pending, _) => TransactionStatus::Pending.as_str(),
        (Status::Completed, _) => TransactionStatus::Completed.as_str(),
        (Status::Failed, Some("INS-5")) => TransactionStatus::Cancelled.as_str(),
        (Status::Failed, Some("INS-9")) => TransactionStatus::Expired.as_str(),
        (Status::Failed, _) => TransactionStatus::Failed.as_str(),
    }
}

/// What a status query finds, as the result's extras; `None` when nothing
/// is found and no trigger value answers for it.
fn lookup(
    caller: &Caller,
    mine: &State,
    reference: &str,
    plan: &Planned,
    ids_gen: &mut crate::ids::IdGen,
) -> Option<Extra> {
    if let Some(tx) = mine.find(&caller.owner, reference) {
        return Some(Extra::Status {
            original_transaction_id: tx.transaction_id.clone(),
            reversed: tx.reversed.0 > 0,
            status: status_word(tx),
        });
    }
    plan.rule.as_ref().map(|_| Extra::Status {
        original_transaction_id: Some(ids::transaction_id(ids_gen)),
        reversed: reference == super::SANDBOX_REVERSED_QUERY_REFERENCE,
        status: TransactionStatus::Completed.as_str(),
    })
}

/// Records a query as a transaction (for reports and its asynchronous
/// result) and returns it, settled when the caller answers synchronously.
fn record(caller: &Caller, new: NewTransaction, plan: Planned) -> Result<Transaction, VodafoneError> {
    caller
        .tenant
        .with::<Vodafone, _>(|core, mine| {
            let id = accept(core, mine, caller, new, plan);
            mine.transactions.get(&id).cloned()
        })
        .ok_or_else(|| caller.error(Ins::INTERNAL_ERROR, "the query was forgotten at once (retention limit 0?)"))
}

fn query(third_party: &str, sp: &str, extra: Extra) -> NewTransaction {
    NewTransaction {
        third_party: third_party.to_owned(),
        transaction_reference: None,
        msisdn: None,
        service_provider_code: sp.to_owned(),
        amount: None,
        movement: None,
        original: None,
        duplicate_key: None,
        extra,
    }
}

pub(crate) fn portal_status(caller: &Caller, s: super::portal::StatusQuery) -> Result<Response, VodafoneError> {
    let plan = planned(caller.decision.as_ref());
    let extra = caller.tenant.with::<Vodafone, _>(|core, mine| {
        lookup(caller, mine, &s.query_reference, &plan, &mut core.ids).unwrap_or(Extra::Status {
            original_transaction_id: None,
            reversed: false,
            status: TransactionStatus::NotAvailable.as_str(),
        })
    });
    let tx = record(caller, query(&s.third_party_reference, &s.service_provider_code, extra), plan)?;
    let Some((code, desc)) = tx.result.clone().filter(|_| tx.status == Status::Completed) else {
        let (code, desc) = tx.result.clone().unwrap_or_default();
        return Err(failure(caller, &tx, &code, &desc));
    };
    let status = match &tx.extra {
        Extra::Status { status, .. } => status,
        _ => TransactionStatus::NotAvailable.as_str(),
    };
    Ok(answer(
        caller.api.success_status(),
        &PortalStatusResponse {
            head: Head::new(code, desc),
            transaction_status: status,
            conversation_id: None,
            third_party_reference: tx.third_party,
        },
    ))
}

pub(crate) fn openapi_status(caller: &Caller, s: super::openapi::StatusQuery) -> Result<Response, VodafoneError> {
    let mut plan = planned(caller.decision.as_ref());
    let extra =
        caller.tenant.with::<Vodafone, _>(|core, mine| lookup(caller, mine, &s.query_reference, &plan, &mut core.ids));
    let extra = match extra {
        Some(extra) => extra,
        None if plan.is_success() => {
            plan = Planned { code: Ins::TRANSACTION_NOT_FOUND.code(), desc: None, timeout: false, rule: None };
            Extra::None
        }
        None => Extra::None,
    };
    let tx = record(caller, query(&s.third_party_conversation_id, &s.service_provider_code, extra), plan)?;
    let ids = Conversation::new(tx.conversation_id.clone(), tx.third_party.clone());
    match (&tx.status, &tx.result, &tx.extra) {
        (Status::Pending, _, _) => Ok(answer(
            caller.api.success_status(),
            &OpenApiStatusResponse {
                head: Head::new(Ins::SUCCESS.code(), "Request processed successfully"),
                transaction_status: None,
                ids,
                original_transaction_id: None,
                reversed: None,
            },
        )),
        (Status::Completed, Some((code, desc)), Extra::Status { original_transaction_id, reversed, status }) => {
            Ok(answer(
                caller.api.success_status(),
                &OpenApiStatusResponse {
                    head: Head::new(code.clone(), desc.clone()),
                    transaction_status: Some(status),
                    ids,
                    original_transaction_id: original_transaction_id.clone(),
                    reversed: Some(flag(*reversed)),
                },
            ))
        }
        (_, result, _) => {
            let (code, desc) = result.clone().unwrap_or_else(|| (Ins::TRANSACTION_NOT_FOUND.code(), String::new()));
            let mut error = failure(caller, &tx, &code, &desc);
            error.echo.transaction_id = None;
            if code == Ins::TRANSACTION_NOT_FOUND.code() {
                error.diagnosis =
                    Some(format!("no transaction of this application answers to {:?}", s.query_reference));
            }
            Err(error)
        }
    }
}

pub(crate) fn beneficiary_name(
    caller: &Caller,
    q: super::openapi::BeneficiaryNameQuery,
) -> Result<Response, VodafoneError> {
    let plan = planned(caller.decision.as_ref());
    let (first_name, _, last_name) = caller.tenant.with_core(|core| core.customer_names(&q.customer_msisdn));
    let mut new =
        query(&q.third_party_conversation_id, &q.service_provider_code, Extra::Beneficiary { first_name, last_name });
    new.msisdn = Some(q.customer_msisdn.clone());
    let tx = record(caller, new, plan)?;
    let ids = Conversation::new(tx.conversation_id.clone(), tx.third_party.clone());
    match (&tx.status, &tx.result, &tx.extra) {
        (Status::Pending, _, _) => Ok(answer(
            caller.api.success_status(),
            &BeneficiaryNameResponse {
                head: Head::new(Ins::SUCCESS.code(), "Request processed successfully"),
                first_name: None,
                last_name: None,
                ids,
            },
        )),
        (Status::Completed, Some((code, desc)), Extra::Beneficiary { first_name, last_name }) => Ok(answer(
            caller.api.success_status(),
            &BeneficiaryNameResponse {
                head: Head::new(code.clone(), desc.clone()),
                first_name: Some(first_name.clone()),
                last_name: Some(last_name.clone()),
                ids,
            },
        )),
        (_, result, _) => {
            let (code, desc) = result.clone().unwrap_or_default();
            let mut error = failure(caller, &tx, &code, &desc);
            error.echo.transaction_id = None;
            Err(error)
        }
    }
}
