//! Settling a request: the planned failure, or the API's execution; then
//! the result callback to `ResultURL` (after a `QueueTimeOutURL` notice when
//! the scenario asks), and the request forgotten past the retention limit.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::{ApiKind, ApiRequest, RequestStatus};
use crate::callbacks::{self, CallbackJob, Payload};
use crate::daraja::ids;
use crate::daraja::records::{Party, Record, RecordKind, RecordStatus};
use crate::daraja::results::api_result_desc;
use crate::daraja::wire::{self, Param, ResultBody};
use crate::daraja::world::{ShortcodeKind, World};
use crate::daraja::{accounts, State};
use crate::ledger::{Account, LedgerError, Money, OrgAccount};
use crate::markets::Currency;
use crate::scenarios::ResultCode;
use crate::store::{Core, Event};

/// What executing a request produced.
pub(super) struct Executed {
    pub(super) code: ResultCode,
    pub(super) desc: String,
    pub(super) receipt: Option<String>,
    pub(super) parameters: Vec<Param>,
    pub(super) reference: Vec<Param>,
    pub(super) reason: Option<String>,
}

impl Executed {
    pub(super) fn failure(code: ResultCode, desc: Option<String>, reason: impl Into<String>) -> Executed {
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

    pub(super) fn code(code: u32, reason: impl Into<String>) -> Executed {
        Executed::failure(ResultCode::Number(code), None, reason)
    }

    pub(super) fn text_code(code: &str, reason: impl Into<String>) -> Executed {
        Executed::failure(ResultCode::Text(code.to_owned()), None, reason)
    }
}

/// Settles a request: checks and moves money, then plans the result callback.
pub(crate) fn settle(core: &mut Core, mine: &mut State, conversation_id: &str, at: DateTime<Utc>) {
    let Some(request) = mine.requests.by_conversation.get(conversation_id).cloned() else { return };
    if request.status != RequestStatus::Pending {
        return;
    }
    let executed = match &request.planned {
        Some((code, desc)) => Executed::failure(code.clone(), desc.clone(), request.outcome_reason.clone()),
        None => match request.kind {
            ApiKind::B2c { .. } => super::b2c::execute(core, mine, &request, at),
            ApiKind::B2b | ApiKind::TaxRemittance => super::b2b::execute(core, mine, &request, at),
            ApiKind::Reversal => super::reversal::execute(core, mine, &request, at),
            ApiKind::TransactionStatus => super::status::execute(mine, &request),
            ApiKind::AccountBalance => super::balance::execute(core, mine, &request, at),
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
        (None, _) => format!("{}0000000", &ids::receipt(&mut core.ids, at)[..3]),
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
    if let Some(stored) = mine.requests.by_conversation.get_mut(conversation_id) {
        stored.status = if success { RequestStatus::Completed } else { RequestStatus::Failed };
        stored.result = Some((executed.code.clone(), executed.desc.clone()));
        stored.receipt = executed.receipt.clone();
        if let Some(reason) = &executed.reason {
            stored.outcome_reason = reason.clone();
        }
    }
    let job = CallbackJob::new(
        format!("cb-{}", core.ids.next_seq()),
        crate::daraja::PROVIDER,
        "result",
        request.conversation_id.clone(),
        request.result_url.clone(),
        &body,
    );
    let mut script = request.script.clone();
    if script.queue_timeout_first {
        let notice = queue_timeout_notice(&request, &transaction_id);
        let notice_job = CallbackJob {
            id: format!("cb-{}", core.ids.next_seq()),
            kind: "queue_timeout",
            url: request.queue_timeout_url.clone(),
            body: Payload::json(&notice),
            ..job.clone()
        };
        core.timeline.schedule(at, Event::Deliver(notice_job));
        script.delay_ms.get_or_insert(crate::scenarios::Delay::Fixed(5000));
    }
    callbacks::plan(core, job, &script, at);
    let requests = &mut mine.requests;
    let originators = &mut requests.originators;
    requests.by_conversation.finish(conversation_id, core.limits.transactions, |_, forgotten| {
        originators.remove(&forgotten.originator_conversation_id);
    });
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
pub(crate) fn customer_public_name(core: &Core, msisdn: &str) -> String {
    let (first, middle, last) = core.customer_names(msisdn);
    let name = [first, middle, last].into_iter().filter(|n| !n.is_empty()).collect::<Vec<_>>().join(" ");
    format!("{msisdn} - {name}")
}

/// `600000 - Safaricom Daraja 000`.
pub(crate) fn org_public_name(world: &World, shortcode: &str) -> String {
    let name = world.shortcodes.get(shortcode).map(|s| s.name.as_str()).unwrap_or("Unknown");
    format!("{shortcode} - {name}")
}

pub(super) fn balance(core: &Core, shortcode: &str, account: OrgAccount) -> Money {
    core.ledger.balance(&accounts::org(shortcode, account)).unwrap_or_default()
}

/// The failure naming a debit party produces, if it cannot be used in API calls.
pub(super) fn refuse_debit(world: &World, shortcode: &str) -> Option<Executed> {
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

pub(super) fn charge(core: &mut Core, shortcode: &str, amount: Money, reference: &str, at: DateTime<Utc>, what: &str) {
    if amount.0 > 0 {
        let from = accounts::org(shortcode, OrgAccount::ChargesPaid);
        let _ = core.ledger.transfer(reference, what, at, &from, &Account::Revenue(Currency::Kes), amount);
    }
}

pub(super) fn insufficient(e: LedgerError, account: &str) -> Executed {
    match e {
        LedgerError::Insufficient { available, needed } => {
            Executed::code(1, format!("{account} holds KES {available}, less than KES {needed}"))
        }
        other => Executed::code(17, format!("the ledger refused the posting: {other}")),
    }
}

pub(super) fn org_party(world: &World, shortcode: &str) -> Party {
    Party { id: shortcode.to_owned(), public_name: org_public_name(world, shortcode) }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn record(
    core: &mut Core,
    mine: &mut State,
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
    let retention = core.limits.transactions;
    mine.records.insert(record, retention);
}

pub(super) fn money_value(amount: Money) -> Value {
    json!(amount.as_f64())
}

pub(super) fn wire_number(digits: &str) -> Value {
    digits.parse::<u64>().map(Value::from).unwrap_or_else(|_| json!(digits))
}
