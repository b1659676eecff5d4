//! B2B and tax remittance: a business pays another from its working account.

use chrono::{DateTime, Utc};

use super::settle::*;
use super::{ApiKind, ApiRequest};
use crate::daraja::ids;
use crate::daraja::records::{Party, RecordKind};
use crate::daraja::wire::Item;
use crate::daraja::world::ShortcodeKind;
use crate::daraja::{accounts, State};
use crate::ledger::OrgAccount;
use crate::store::Core;

pub(super) fn execute(core: &mut Core, mine: &mut State, request: &ApiRequest, at: DateTime<Utc>) -> Executed {
    let world = mine.world.clone();
    if let Some(failed) = refuse_debit(&world, &request.party_a) {
        return failed;
    }
    let party_b = request.party_b.clone().unwrap_or_default();
    let Some(receiver) = world.shortcodes.get(&party_b) else {
        return Executed::code(7, format!("PartyB {party_b} is not a shortcode in this tenant's world"));
    };
    let allowed = match (request.kind, request.command_id.as_str()) {
        (ApiKind::TaxRemittance, _) => party_b == "572572",
        // The shared sandbox's test organisations take any B2B command.
        (_, _) if receiver.any_b2b_command => true,
        (_, "BusinessPayBill") => receiver.kind == ShortcodeKind::Paybill,
        (_, "BusinessBuyGoods") => matches!(receiver.kind, ShortcodeKind::Till | ShortcodeKind::Store),
        (_, "BusinessPayToBulk") => receiver.kind == ShortcodeKind::B2c,
        _ => false,
    };
    if !allowed {
        return Executed::code(
            2028,
            format!("{} to {party_b} (a {}) is not allowed", request.command_id, receiver.kind.as_str()),
        );
    }
    let amount = request.amount.unwrap_or_default();
    let receipt = ids::receipt(&mut core.ids, at).to_string();
    let receiver_name = org_public_name(&world, &party_b);
    let details = format!("{} to {receiver_name}", request.command_id);
    let from = accounts::org(&request.party_a, OrgAccount::Working);
    if let Err(e) = core.ledger.transfer(&receipt, &details, at, &from, &accounts::utility(&party_b), amount) {
        return insufficient(e, "PartyA's working account");
    }
    let fee = world.settings.b2b_charge;
    charge(core, &request.party_a, fee, &receipt, at, "Business Pay Bill Charge");
    let kind = if request.kind == ApiKind::TaxRemittance { RecordKind::TaxRemittance } else { RecordKind::B2b };
    let credit = Party { id: party_b.as_str().into(), public_name: receiver_name.clone() };
    record(core, mine, request, &receipt, kind, org_party(&world, &request.party_a), credit, amount, fee, at);
    let working = balance(core, &request.party_a, OrgAccount::Working);
    let debit_balance =
        format!("{{Amount={{CurrencyCode=KES, MinimumAmount={}, BasicAmount={working}}}}}", working.cents());
    let charges = if fee.0 > 0 { format!("Business Pay Bill Charge|KES|{fee}") } else { String::new() };
    // The portal's samples, the only successes known, write every value as a string.
    Executed::success(
        "The service request is processed successfully",
        Some(receipt),
        vec![
            Item::text("DebitAccountBalance", debit_balance.clone()),
            Item::text("Amount", amount.to_string()),
            Item::text(
                "DebitPartyAffectedAccountBalance",
                format!("Working Account|KES|{working}|{working}|0.00|0.00"),
            ),
            Item::text("TransCompletedTime", completed_time(at)),
            Item::text("DebitPartyCharges", charges),
            Item::text("ReceiverPartyPublicName", receiver_name),
            Item::text("Currency", "KES"),
            Item::text("InitiatorAccountCurrentBalance", debit_balance),
        ],
    )
}
