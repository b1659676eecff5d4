//! Transaction status: what the records say of a receipt or conversation.
//!
//! A customer's payment (M-Pesa Express, C2B) reads as the 2024 production
//! capture: a value-less `CreditPartyCharges`, the customer's
//! `MMF Account For Customer`, numeric times and amount. A business's
//! payment (B2C, B2B, tax, reversal) reads as the portal's sample, with
//! `DebitPartyCharges`, and the captured value types.

use super::settle::*;
use super::ApiRequest;
use crate::daraja::records::{RecordKind, RecordStatus};
use crate::daraja::results::api_result_desc;
use crate::daraja::shapes::Shape;
use crate::daraja::wire::{Item, Scalar};
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
    let time = Scalar::digits(&completed_time(record.completed_at));
    let status = match record.status {
        RecordStatus::Completed => "Completed",
        RecordStatus::Reversed => "Reversed",
    };
    let customer_payment = matches!(record.kind, RecordKind::PayBill | RecordKind::BuyGoods);
    let (shape, charges, account_type) = match customer_payment {
        true => {
            (Shape::StatusResultSuccessCustomerPayment, Item::bare("CreditPartyCharges"), "MMF Account For Customer")
        }
        false => {
            let charges = match record.charge.0 > 0 {
                true => format!("Fee For {}|KES|{}", record.kind.reason_type(), record.charge),
                false => String::new(),
            };
            let account = if record.kind == RecordKind::B2b { "Working Account" } else { "Utility Account" };
            (Shape::StatusResultSuccessBusinessPayment, Item::text("DebitPartyCharges", charges), account)
        }
    };
    let mut parameters = vec![
        Item::text("DebitPartyName", record.debit.public_name),
        Item::text("CreditPartyName", record.credit.public_name),
        Item::text("OriginatorConversationID", record.originator_conversation_id.unwrap_or_default()),
        Item::new("InitiatedTime", time.clone()),
    ];
    // The customer capture has the charges before the account type, the portal's sample after.
    match customer_payment {
        true => parameters.extend([charges, Item::text("DebitAccountType", account_type)]),
        false => parameters.extend([Item::text("DebitAccountType", account_type), charges]),
    }
    parameters.extend([
        Item::bare("TransactionReason"),
        Item::text("ReasonType", record.kind.reason_type()),
        Item::text("TransactionStatus", status),
        Item::new("FinalisedTime", time),
        Item::new("Amount", Scalar::amount(record.amount)),
        Item::text("ConversationID", record.conversation_id.unwrap_or_default()),
        Item::text("ReceiptNo", record.receipt),
    ]);
    Executed { shape: Some(shape), ..Executed::success(api_result_desc(&ResultCode::Number(0)), None, parameters) }
}
