//! Transaction status: what the records say of a receipt or conversation.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::settle::*;
use super::ApiRequest;
use crate::clock::eat;
use crate::daraja::records::{RecordKind, RecordStatus};
use crate::daraja::results::api_result_desc;
use crate::daraja::State;
use crate::scenarios::ResultCode;

pub(super) fn execute(mine: &State, request: &ApiRequest) -> Executed {
    let records = &mine.records;
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
