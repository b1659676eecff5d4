//! Settling a request: the planned failure, or the API's execution; then
//! the result callback to `ResultURL` (after a `QueueTimeOutURL` notice when
//! the scenario asks), and the request forgotten past the retention limit.
//!
//! Each API's result has the layout captured traffic shows ([`layout`]):
//! numeric codes, except the strings of a successful B2B or tax result (the
//! portal's samples, the only successes known); parameters on success, and
//! on failure only where real failures carry them (account balance, and
//! B2Pochi's single `CreditPartyName` object); and each API's own
//! `ReferenceData`: the internal `QueueTimeoutURL` (B2C, reversal, balance),
//! the merchant's own `QueueTimeOutURL` (B2Pochi), `BillReferenceNumber`,
//! `QueueTimeoutURL` and a value-less `Occassion` (B2B, tax), or a single
//! `Occasion` object (transaction status).

use chrono::{DateTime, Utc};
use compact_str::CompactString;

use super::{ApiKind, ApiRequest, RequestStatus};
use crate::callbacks;
use crate::daraja::ids;
use crate::daraja::records::{Party, Record, RecordKind, RecordStatus};
use crate::daraja::results::api_result_desc;
use crate::daraja::scenario::FailedTransactionId;
use crate::daraja::shapes::Shape;
use crate::daraja::wire::{
    self, Code, Item, OneOrMany, ReferenceData, ResultBody, ResultEnvelope, ResultParameters, Scalar,
};
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
    pub(super) parameters: Vec<Item>,
    /// The shape of a success, where an API has more than one (transaction status).
    pub(super) shape: Option<Shape>,
    pub(super) reason: Option<String>,
}

impl Executed {
    pub(super) fn failure(code: ResultCode, desc: Option<String>, reason: impl Into<String>) -> Executed {
        let desc = desc.unwrap_or_else(|| api_result_desc(&code).to_owned());
        Executed { code, desc, receipt: None, parameters: Vec::new(), shape: None, reason: Some(reason.into()) }
    }

    pub(super) fn code(code: u32, reason: impl Into<String>) -> Executed {
        Executed::failure(ResultCode::Number(code), None, reason)
    }

    pub(super) fn text_code(code: &str, reason: impl Into<String>) -> Executed {
        Executed::failure(ResultCode::Text(code.to_owned()), None, reason)
    }

    /// A success with its parameters, in wire order.
    pub(super) fn success(desc: &str, receipt: Option<String>, parameters: Vec<Item>) -> Executed {
        Executed { code: ResultCode::Number(0), desc: desc.to_owned(), receipt, parameters, shape: None, reason: None }
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
    let success = executed.code == ResultCode::Number(0);
    let transaction_id = match (&executed.receipt, request.variants.failed_transaction_id) {
        (Some(receipt), _) => receipt.clone(),
        (None, FailedTransactionId::Placeholder) => {
            let prefix: String = ids::receipt(&mut core.ids, at).chars().take(3).collect();
            format!("{prefix}0000000")
        }
        (None, FailedTransactionId::Receipt) => ids::receipt(&mut core.ids, at).to_string(),
        (None, FailedTransactionId::Zeros) => "0000000000000000".to_owned(),
    };
    let (shape, body) = layout(core, &request, &executed, &transaction_id, at);
    if let Some(stored) = mine.requests.by_conversation.get_mut(conversation_id) {
        stored.status = if success { RequestStatus::Completed } else { RequestStatus::Failed };
        stored.result = Some((executed.code.clone(), executed.desc.clone()));
        stored.receipt = executed.receipt.clone();
        if let Some(reason) = &executed.reason {
            stored.outcome_reason = reason.clone();
        }
    }
    let job = wire::callback(
        shape,
        core.ids.callback_id(),
        "result",
        request.conversation_id.clone(),
        request.result_url.clone(),
        &body,
    );
    let mut script = request.script.clone();
    if script.queue_timeout_first {
        let notice = queue_timeout_notice(&request, &transaction_id);
        let notice_job = wire::callback(
            Shape::QueueTimeoutNotice,
            core.ids.callback_id(),
            "queue_timeout",
            request.conversation_id.clone(),
            request.queue_timeout_url.clone(),
            &notice,
        );
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

/// `BOCompletedTime`, `TransCompletedTime` and the like: `yyyyMMddHHmmss` in EAT.
pub(super) fn completed_time(at: DateTime<Utc>) -> String {
    crate::crypto::lnm::format_timestamp(crate::clock::eat(at))
}

/// The `ErrorMsg` of a failed balance query: captured for 8006 only, with
/// its trailing space; other codes say their description.
fn balance_error_message(code: &ResultCode, desc: &str) -> String {
    match code {
        ResultCode::Number(8006) => "API Password is locked. ".to_owned(),
        _ => desc.to_owned(),
    }
}

/// The result's body, as real results of the API lay it out, and its shape.
fn layout(
    core: &Core,
    request: &ApiRequest,
    executed: &Executed,
    transaction_id: &str,
    at: DateTime<Utc>,
) -> (Shape, ResultEnvelope) {
    let success = executed.code == ResultCode::Number(0);
    let documented = request.variants.documented_results;
    let internal = || Item::text("QueueTimeoutURL", request.kind.internal_queue_url());
    let b2b_references = || {
        let mut items = Vec::new();
        if let Some(reference) = &request.account_reference {
            items.push(Item::new("BillReferenceNumber", Scalar::digits(reference)));
        }
        items.push(internal());
        items.push(Item { key: "Occassion", value: request.occasion.clone().map(Scalar::Text) });
        OneOrMany::Many(items)
    };
    let with_reference = request.account_reference.is_some();
    let numeric = (Code::Number(0), false);
    // (shape, ResultType, codes as text, parameters, references)
    let (shape, result_type, codes_as_text, parameters, references) = match (request.kind, success) {
        (ApiKind::B2c { pochi: false, .. }, true) => {
            (Shape::B2cResultSuccess, numeric.0, numeric.1, Some(many(executed)), OneOrMany::One(internal()))
        }
        (ApiKind::B2c { pochi: false, .. }, false) => {
            (Shape::B2cResultFailure, numeric.0, numeric.1, None, OneOrMany::One(internal()))
        }
        (ApiKind::B2c { pochi: true, .. }, _) => {
            // B2Pochi names the merchant's own QueueTimeOutURL (captured 2026).
            let own = OneOrMany::One(Item::text("QueueTimeoutURL", request.queue_timeout_url.clone()));
            match success {
                true => (Shape::B2pochiResultSuccess, numeric.0, numeric.1, Some(many(executed)), own),
                false => {
                    let receiver = request.party_b.as_deref().unwrap_or_default();
                    let name = Item::text("CreditPartyName", super::customer_public_name(core, receiver));
                    (Shape::B2pochiResultFailure, numeric.0, numeric.1, Some(OneOrMany::One(name)), own)
                }
            }
        }
        (ApiKind::B2b, true) => {
            let shape = match with_reference {
                true => Shape::B2bResultSuccessWithReference,
                false => Shape::B2bResultSuccessWithoutReference,
            };
            (shape, Code::Text("0".into()), true, Some(many(executed)), b2b_references())
        }
        (ApiKind::TaxRemittance, true) => {
            (Shape::TaxResultSuccess, Code::Text("0".into()), true, Some(many(executed)), b2b_references())
        }
        (ApiKind::B2b, false) if documented => {
            let completed = Item::new("BOCompletedTime", Scalar::digits(&completed_time(at)));
            (Shape::B2bResultFailureDoc, numeric.0, false, Some(OneOrMany::One(completed)), OneOrMany::One(internal()))
        }
        (ApiKind::TaxRemittance, false) if documented => {
            let completed = Item::text("BOCompletedTime", completed_time(at));
            let parameters = Some(OneOrMany::Many(vec![completed]));
            (Shape::TaxResultFailureDoc, Code::Text("0".into()), false, parameters, OneOrMany::One(internal()))
        }
        (ApiKind::B2b, false) => {
            let shape = match with_reference {
                true => Shape::B2bResultFailureWithReference,
                false => Shape::B2bResultFailureWithoutReference,
            };
            (shape, numeric.0, false, None, b2b_references())
        }
        (ApiKind::TaxRemittance, false) => (Shape::TaxResultFailure, numeric.0, false, None, b2b_references()),
        (ApiKind::Reversal, true) => {
            (Shape::ReversalResultSuccess, numeric.0, false, Some(many(executed)), OneOrMany::One(internal()))
        }
        (ApiKind::Reversal, false) => {
            (Shape::ReversalResultFailure, numeric.0, false, None, OneOrMany::One(internal()))
        }
        (ApiKind::TransactionStatus, _) => {
            let occasion = OneOrMany::One(Item { key: "Occasion", value: request.occasion.clone().map(Scalar::Text) });
            match success {
                true => {
                    let shape = executed.shape.unwrap_or(Shape::StatusResultSuccessBusinessPayment);
                    (shape, numeric.0, false, Some(many(executed)), occasion)
                }
                false => (Shape::StatusResultFailure, numeric.0, false, None, occasion),
            }
        }
        (ApiKind::AccountBalance, true) if documented => (
            Shape::BalanceResultSuccessDoc,
            Code::Text("0".into()),
            true,
            Some(many(executed)),
            OneOrMany::One(internal()),
        ),
        (ApiKind::AccountBalance, true) => {
            (Shape::BalanceResultSuccess, numeric.0, false, Some(many(executed)), OneOrMany::One(internal()))
        }
        (ApiKind::AccountBalance, false) => {
            let parameters = vec![
                Item::text("ActionType", "AccountBalance"),
                Item::text("ErrorMsg", balance_error_message(&executed.code, &executed.desc)),
                Item::new("BOCompletedTime", Scalar::digits(&completed_time(at))),
            ];
            // The failure's QueueTimeoutURL item carries no value (captured 2026).
            (
                Shape::BalanceResultFailure,
                numeric.0,
                false,
                Some(OneOrMany::Many(parameters)),
                OneOrMany::One(Item::bare("QueueTimeoutURL")),
            )
        }
    };
    let parameters = parameters.map(|p| match (request.variants.result_parameter_object, p) {
        (Some(true), OneOrMany::Many(mut items)) if items.len() == 1 => OneOrMany::One(items.remove(0)),
        (Some(false), OneOrMany::One(item)) => OneOrMany::Many(vec![item]),
        (_, p) => p,
    });
    let body = ResultEnvelope {
        result: ResultBody {
            result_type,
            result_code: Code::of(&executed.code, codes_as_text),
            result_desc: executed.desc.clone(),
            originator_conversation_id: request.originator_conversation_id.clone(),
            conversation_id: request.conversation_id.clone(),
            transaction_id: transaction_id.to_owned(),
            result_parameters: parameters.map(|result_parameter| ResultParameters { result_parameter }),
            reference_data: Some(ReferenceData { reference_item: references }),
        },
    };
    (shape, body)
}

fn many(executed: &Executed) -> OneOrMany<Item> {
    OneOrMany::Many(executed.parameters.clone())
}

/// The notification sent to `QueueTimeOutURL` when a request timed out in
/// the queue. No real sample exists; SDKs model it as the Result envelope
/// with `ResultType` 1 (waiting for further messages), numeric codes as
/// every captured result of the same APIs has.
fn queue_timeout_notice(request: &ApiRequest, transaction_id: &str) -> ResultEnvelope {
    ResultEnvelope {
        result: ResultBody {
            result_type: Code::Number(1),
            result_code: Code::Number(100_000_001),
            result_desc: "The request timed out while awaiting processing in the queue.".into(),
            originator_conversation_id: request.originator_conversation_id.clone(),
            conversation_id: request.conversation_id.clone(),
            transaction_id: transaction_id.to_owned(),
            result_parameters: None,
            reference_data: Some(ReferenceData {
                reference_item: OneOrMany::One(Item::text("QueueTimeoutURL", request.kind.internal_queue_url())),
            }),
        },
    }
}

// ---------------------------------------------------------------------------
// Execution, one function per API.

/// `254708374149 - JOHN DOE`: held inline up to 24 bytes (a record keeps
/// two, and most fit), so naming a party seldom allocates.
pub(crate) fn customer_public_name(core: &Core, msisdn: &str) -> CompactString {
    let (first, middle, last) = core.world.customer_names_ref(msisdn);
    let mut text = CompactString::default();
    text.push_str(msisdn);
    text.push_str(" - ");
    let mut separator = "";
    for name in [first, middle, last].into_iter().filter(|n| !n.is_empty()) {
        text.push_str(separator);
        text.push_str(name);
        separator = " ";
    }
    text
}

/// `600000 - Safaricom Daraja 000`.
pub(crate) fn org_public_name(world: &World, shortcode: &str) -> CompactString {
    let name = world.shortcodes.get(shortcode).map(|s| s.name.as_str()).unwrap_or("Unknown");
    let mut text = CompactString::default();
    for part in [shortcode, " - ", name] {
        text.push_str(part);
    }
    text
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
    Party { id: shortcode.into(), public_name: org_public_name(world, shortcode) }
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
        receipt: receipt.into(),
        kind,
        completed_at: at,
        debit,
        credit,
        amount,
        charge,
        status: RecordStatus::Completed,
        originator_conversation_id: Some(request.originator_conversation_id.clone()),
        conversation_id: Some(request.conversation_id.clone()),
        bill_reference: request.account_reference.as_deref().map(CompactString::from),
        initiator: Some(request.initiator.clone()),
        linked_receipt: None,
    };
    let retention = core.limits.transactions;
    mine.records.insert(record, retention);
}
