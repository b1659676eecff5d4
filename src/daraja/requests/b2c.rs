//! B2C (v1, v3, B2Pochi): the business pays a customer from its utility account.

use chrono::{DateTime, Utc};

use super::settle::*;
use super::ApiRequest;
use crate::clock::eat;
use crate::daraja::ids;
use crate::daraja::records::{Party, RecordKind};
use crate::daraja::results::api_result_desc;
use crate::daraja::wire::{Item, Scalar};
use crate::daraja::{accounts, State};
use crate::ledger::OrgAccount;
use crate::markets::Market;
use crate::scenarios::ResultCode;
use crate::store::Core;

pub(super) fn execute(core: &mut Core, mine: &mut State, request: &ApiRequest, at: DateTime<Utc>) -> Executed {
    let world = mine.world.clone();
    if let Some(failed) = refuse_debit(&world, &request.party_a) {
        return failed;
    }
    let amount = request.amount.unwrap_or_default();
    let shillings = amount.cents() / 100;
    if shillings < world.settings.b2c_min_amount {
        return Executed::code(
            2,
            format!("KES {amount} is below the B2C minimum of {}", world.settings.b2c_min_amount),
        );
    }
    if shillings > world.settings.b2c_max_amount {
        return Executed::code(
            3,
            format!("KES {amount} is above the B2C maximum of {}", world.settings.b2c_max_amount),
        );
    }
    let msisdn = request.party_b.clone().unwrap_or_default();
    core.ensure_customer(Market::Kenya, &msisdn);
    let receipt = ids::receipt(&mut core.ids, at).to_string();
    let public_name = customer_public_name(core, &msisdn);
    let details = format!("Business Payment to {public_name}");
    let from = accounts::utility(&request.party_a);
    if let Err(e) = core.ledger.transfer(&receipt, &details, at, &from, &accounts::customer(&msisdn), amount) {
        return insufficient(e, "the B2C shortcode's utility account");
    }
    let fee = world.settings.b2c_charge;
    charge(core, &request.party_a, fee, &receipt, at, "Business Payment Charge");
    record(
        core,
        mine,
        request,
        &receipt,
        RecordKind::B2c,
        org_party(&world, &request.party_a),
        Party { id: msisdn.into(), public_name: public_name.clone() },
        amount,
        fee,
        at,
    );
    let completed = eat(at).format("%d.%m.%Y %H:%M:%S").to_string();
    let funds = |account| Scalar::decimal(balance(core, &request.party_a, account));
    Executed::success(
        api_result_desc(&ResultCode::Number(0)),
        Some(receipt.clone()),
        vec![
            Item::new("TransactionAmount", Scalar::amount(amount)),
            Item::text("TransactionReceipt", receipt),
            Item::text("ReceiverPartyPublicName", public_name),
            Item::text("TransactionCompletedDateTime", completed),
            Item::new("B2CUtilityAccountAvailableFunds", funds(OrgAccount::Utility)),
            Item::new("B2CWorkingAccountAvailableFunds", funds(OrgAccount::Working)),
            Item::text("B2CRecipientIsRegisteredCustomer", "Y"),
            Item::new("B2CChargesPaidAccountAvailableFunds", funds(OrgAccount::ChargesPaid)),
        ],
    )
}
