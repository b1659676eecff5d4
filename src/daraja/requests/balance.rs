//! Account balance: the shortcode's accounts in the real `AccountBalance` string format.
//!
//! As captured (2026): a leading `ActionType`, the balance string, and a
//! numeric `BOCompletedTime`; as the portal's sample (`result_shape =
//! "documentation"`): the balance string and a string `BOCompletedTime`.

use chrono::{DateTime, Utc};

use super::settle::*;
use super::ApiRequest;
use crate::daraja::results::api_result_desc;
use crate::daraja::wire::{Item, Scalar};
use crate::daraja::State;
use crate::ledger::{Money, OrgAccount};
use crate::scenarios::ResultCode;
use crate::store::Core;

pub(super) fn execute(core: &mut Core, mine: &mut State, request: &ApiRequest, at: DateTime<Utc>) -> Executed {
    let world = mine.world.clone();
    if let Some(failed) = refuse_debit(&world, &request.party_a) {
        return failed;
    }
    let line = |name: &str, amount: Money| format!("{name}|KES|{amount}|{amount}|0.00|0.00");
    let accounts = [
        line("Working Account", balance(core, &request.party_a, OrgAccount::Working)),
        line("Float Account", Money(0)),
        line("Utility Account", balance(core, &request.party_a, OrgAccount::Utility)),
        line("Charges Paid Account", balance(core, &request.party_a, OrgAccount::ChargesPaid)),
        line("Organization Settlement Account", Money(0)),
    ]
    .join("&");
    let completed = completed_time(at);
    match request.variants.documented_results {
        true => Executed::success(
            "The service request is processed successfully",
            None,
            vec![Item::text("AccountBalance", accounts), Item::text("BOCompletedTime", completed)],
        ),
        false => Executed::success(
            api_result_desc(&ResultCode::Number(0)),
            None,
            vec![
                Item::text("ActionType", "AccountBalance"),
                Item::text("AccountBalance", accounts),
                Item::new("BOCompletedTime", Scalar::digits(&completed)),
            ],
        ),
    }
}
