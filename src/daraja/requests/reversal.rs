//! Reversal: a customer payment or a B2B returned to its payer, once.

use chrono::{DateTime, Utc};

use super::settle::*;
use super::ApiRequest;
use crate::daraja::ids;
use crate::daraja::records::{RecordKind, RecordStatus};
use crate::daraja::results::api_result_desc;
use crate::daraja::wire::{Item, Scalar};
use crate::daraja::{accounts, State};
use crate::ledger::{Money, OrgAccount};
use crate::scenarios::ResultCode;
use crate::store::Core;

pub(super) fn execute(core: &mut Core, mine: &mut State, request: &ApiRequest, at: DateTime<Utc>) -> Executed {
    let world = mine.world.clone();
    let original_id = request.transaction_id.clone().unwrap_or_default();
    let Some(original) = mine.records.get(&original_id).cloned() else {
        return Executed::text_code(
            "R000002",
            format!("no transaction has the receipt {original_id:?} in this tenant"),
        );
    };
    if original.status == RecordStatus::Reversed {
        return Executed::text_code(
            "R000001",
            format!("{original_id} was already reversed by {}", original.linked_receipt.unwrap_or_default()),
        );
    }
    if !original.kind.reversible() {
        return Executed::code(
            2028,
            format!("{original_id} is a {:?} transaction, which cannot be reversed", original.kind),
        );
    }
    if original.credit.id != request.party_a {
        return Executed::text_code(
            "R000002",
            format!("{original_id} was paid to {}, not to ReceiverParty {}", original.credit.id, request.party_a),
        );
    }
    if request.amount.is_some_and(|a| a != original.amount) {
        return Executed::text_code(
            "R000002",
            format!("Amount {} differs from the original KES {}", request.amount.unwrap_or_default(), original.amount),
        );
    }
    let from = accounts::utility(&original.credit.id);
    let to = match original.kind {
        RecordKind::B2b => accounts::org(&original.debit.id, OrgAccount::Working),
        _ => accounts::customer(&original.debit.id),
    };
    let receipt = ids::receipt(&mut core.ids, at).to_string();
    let details = format!("Reversal of {original_id}");
    if let Err(e) = core.ledger.transfer(&receipt, &details, at, &from, &to, original.amount) {
        return insufficient(e, "the receiving shortcode's account");
    }
    if let Some(r) = mine.records.get_mut(&original_id) {
        r.status = RecordStatus::Reversed;
        r.linked_receipt = Some(receipt.as_str().into());
    }
    let debit = org_party(&world, &request.party_a);
    let credit = original.debit.clone();
    record(
        core,
        mine,
        request,
        &receipt,
        RecordKind::Reversal,
        debit.clone(),
        credit.clone(),
        original.amount,
        Money(0),
        at,
    );
    if let Some(r) = mine.records.get_mut(&receipt) {
        r.linked_receipt = Some(original_id.as_str().into());
    }
    let utility = balance(core, &request.party_a, OrgAccount::Utility);
    Executed::success(
        api_result_desc(&ResultCode::Number(0)),
        Some(receipt),
        vec![
            Item::text("DebitAccountBalance", format!("Utility Account|KES|{utility}|{utility}|0.00|0.00")),
            Item::new("Amount", Scalar::amount(original.amount)),
            Item::new("TransCompletedTime", Scalar::digits(&completed_time(at))),
            Item::text("OriginalTransactionID", original_id),
            Item::new("Charge", Scalar::Decimal(0.0)),
            Item::text("CreditPartyPublicName", credit.public_name),
            Item::text("DebitPartyPublicName", debit.public_name),
        ],
    )
}
