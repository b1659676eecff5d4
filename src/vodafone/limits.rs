//! The OpenAPI application's limits (wire contract §2.4): per session, one
//! transaction's largest value (`INS-995`), the session's total value
//! (`INS-994`) and count (`INS-993`), the hours of the market's day the API
//! may be used (`INS-996`); per customer and market day, the total value
//! (`INS-990`) and count (`INS-991`). Two or more breached at once answer
//! `INS-992 Multiple Limits Breached`.
//!
//! "Once the session limits are reached for the API, no further transaction
//! can be completed until a new session key is generated": a new session
//! starts its counters at zero. A request counts when it is accepted,
//! whatever its result.

use chrono::Timelike;

use super::api::Profile;
use super::codes::Ins;
use super::error::VodafoneError;
use super::handler::Caller;
use super::state::{State, Usage};
use crate::ledger::Money;
use crate::store::Core;

/// Refuses a request that breaches a limit; counts it otherwise.
pub(crate) fn check_and_count(
    _core: &mut Core,
    mine: &mut State,
    caller: &Caller,
    msisdn: Option<&str>,
    amount: Money,
) -> Result<(), VodafoneError> {
    if caller.profile != Profile::OpenApi {
        return Ok(());
    }
    let limits = &caller.limits;
    let session = caller.session.as_deref().and_then(|id| mine.sessions.get(id)).map(|s| s.usage).unwrap_or_default();
    let today = caller.market.today(caller.now);
    let day_key = msisdn.map(|m| (caller.owner.clone(), m.to_owned(), today));
    let customer = day_key.as_ref().and_then(|k| mine.customer_days.get(k)).copied().unwrap_or_default();
    let plus = |usage: Usage| Money(usage.value.0.saturating_add(amount.0));
    let mut breached: Vec<(Ins, String)> = Vec::new();
    if let Some(max) = limits.single_transaction_max.filter(|max| amount > *max) {
        breached.push((
            Ins::SINGLE_TRANSACTION_LIMIT,
            format!("the amount {amount} is above the single transaction limit {max}"),
        ));
    }
    if let Some(max) = limits.session_value_max.filter(|max| plus(session) > *max) {
        breached.push((
            Ins::ORGANISATION_VALUE_LIMIT,
            format!("the session's total would be {}, above {max}", plus(session)),
        ));
    }
    if let Some(max) = limits.session_count_max.filter(|max| session.count.saturating_add(1) > *max) {
        breached.push((
            Ins::ORGANISATION_COUNT_LIMIT,
            format!("the session has made {} transactions, the limit is {max}", session.count),
        ));
    }
    if let Some((from, until)) = limits.usage_hours {
        let hour = caller.market.local(caller.now).hour();
        if !(u32::from(from)..u32::from(until)).contains(&hour) {
            breached.push((
                Ins::OUTSIDE_USAGE_TIME,
                format!("it is {hour}h in {}; the API may be used from {from}h to {until}h", caller.market),
            ));
        }
    }
    if let Some(max) = limits.customer_daily_value_max.filter(|max| plus(customer) > *max) {
        breached.push((
            Ins::CUSTOMER_VALUE_LIMIT,
            format!("the customer's total today would be {}, above {max}", plus(customer)),
        ));
    }
    if let Some(max) = limits.customer_daily_count_max.filter(|max| customer.count.saturating_add(1) > *max) {
        breached.push((
            Ins::CUSTOMER_COUNT_LIMIT,
            format!("the customer has made {} transactions today, the limit is {max}", customer.count),
        ));
    }
    match breached.len() {
        0 => {}
        1 => {
            let (ins, why) = breached.remove(0);
            return Err(caller.error(ins, why));
        }
        _ => {
            let why: Vec<String> = breached.into_iter().map(|(ins, why)| format!("{ins}: {why}")).collect();
            return Err(caller.error(Ins::MULTIPLE_LIMITS, why.join("; ")));
        }
    }
    if let Some(s) = caller.session.as_deref().and_then(|id| mine.sessions.get_mut(id)) {
        s.usage.add(amount);
    }
    if let Some(key) = day_key {
        mine.count_customer_day(key, amount);
    }
    Ok(())
}
