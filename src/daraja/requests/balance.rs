//! Account balance: the shortcode's accounts in the real `AccountBalance` string format.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::settle::*;
use super::ApiRequest;
use crate::clock::eat;
use crate::daraja::results::api_result_desc;
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
    Executed {
        code: ResultCode::Number(0),
        desc: api_result_desc(&ResultCode::Number(0)).to_owned(),
        receipt: None,
        parameters: vec![
            ("AccountBalance", Some(json!(accounts))),
            ("BOCompletedTime", Some(json!(crate::crypto::lnm::format_timestamp(eat(at))))),
        ],
        reference: Vec::new(),
        reason: None,
    }
}
