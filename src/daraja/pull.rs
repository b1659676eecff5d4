//! Pull Transactions: a merchant fetching the payments its shortcode received,
//! to reconcile when a confirmation never arrived.
//!
//! * `POST /pulltransactions/v1/register`: nominates a shortcode for pulling,
//!   once (`ResponseStatus` `1000`; `1001` when it is already registered).
//! * `POST /pulltransactions/v1/query`: the shortcode's received payments
//!   completed between `StartDate` and `EndDate` (EAT, at most 48 hours
//!   apart), [`PAGE_SIZE`] of them from `OffSetValue`, oldest first, in the
//!   nested array the contract shows (`"Response": [[{...}]]`).
//!
//! Answers come from M-Pesa's own records ([`super::records`]), so a query
//! reports exactly what was paid and completed. Dates arrive as EAT
//! wall-clock readings such as `2020-08-04 8:36:00`: the hour may have one
//! digit, and the seconds may have three (`10:10:000` appears in Safaricom's
//! own sample). `trxDate` goes back as RFC 3339 in UTC.
//!
//! The answers follow the one capture (2026) where it exists: a query's id
//! is `RequestID`, and none found reads `1001 No records found or
//! Organization Name not available`; a pulled `msisdn` is a number without
//! `254` (`722000000`), as the portal's sample shows. An app without the Pull
//! Transactions product gets `401.001`, as the shared sandbox answers.

use std::collections::hash_map::Entry;

use axum::response::Response;
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use serde_json::{Map, Value};

use super::error::DarajaError;
use super::extract::{Authed, BodyProblem, JsonObject};
use super::ids;
use super::products::{self, Api};
use super::records::Record;
use super::scenario::{delayed, gate, Gate, Variants};
use super::shapes::Shape;
use super::wire::{self, required, shortcode, url, PullQueryAnswer, PullRegisterAck, PullTransaction, Scalar};
use super::Daraja;
use crate::clock::eat;
use crate::fastmap::HashMap;
use crate::fields;

pub(crate) const OPERATION_REGISTER: &str = "pull_register";
pub(crate) const OPERATION_QUERY: &str = "pull_query";

/// One query returns at most this many transactions.
pub(crate) const PAGE_SIZE: usize = 1000;

/// A query's window may be at most this many hours long.
pub(crate) const MAX_WINDOW_HOURS: i64 = 48;

/// A shortcode registered for pulling.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The phone number that receives the API's notifications, as sent.
    pub nominated_number: String,
    pub callback_url: String,
    pub registered_at: DateTime<Utc>,
}

/// Pull registrations are kept by shortcode.
#[derive(Debug, Default)]
pub struct PullState {
    pub registrations: HashMap<String, Registration>,
}

// ---------------------------------------------------------------------------
// Register

pub(crate) async fn register(auth: Authed, body: Result<JsonObject, BodyProblem>) -> Result<Response, DarajaError> {
    products::require(&auth, Api::Pull)?;
    let body = body.map_err(|p| p.into_error("ShortCode"))?.0;
    let decision = match gate(&auth.tenant, &auth.consumer_key, OPERATION_REGISTER, Some(&body)) {
        Gate::Pass(decision) => decision,
        Gate::Refuse(response) => return Ok(response),
    };
    let short_code = shortcode(&body, "ShortCode")?;
    let request_type = required(&body, "RequestType")?;
    if request_type != "Pull" {
        return Err(DarajaError::field(
            "RequestType",
            format!("RequestType {request_type:?} must be exactly \"Pull\""),
        ));
    }
    let nominated_number = nominated_number(&body)?;
    let callback_url = url(&body, "CallBackURL")?;
    let world = auth.tenant.world_of::<Daraja>();
    if !world.shortcodes.contains_key(&short_code) {
        return Err(DarajaError::field("ShortCode", format!("shortcode {short_code} is not in this tenant's world")));
    }
    let now = auth.tenant.now();
    let (status, description, ref_id) = auth.tenant.with::<Daraja, _>(|core, mine| {
        let ref_id = ids::response_ref_id(&mut core.ids);
        match mine.pull.registrations.entry(short_code.clone()) {
            Entry::Occupied(_) => ("1001", "Shortcode Already Registered", ref_id),
            Entry::Vacant(slot) => {
                slot.insert(Registration { nominated_number, callback_url, registered_at: now });
                ("1000", "Shortcode Registered Successfully", ref_id)
            }
        }
    });
    let body = PullRegisterAck {
        response_ref_id: ref_id,
        response_status: status,
        short_code,
        response_description: description,
    };
    Ok(delayed(wire::reply(Shape::PullRegisterAck, &body), decision.as_ref()))
}

/// Reads `NominatedNumber`, written `0722000000` (as the documentation does) or `254722000000`.
fn nominated_number(body: &Map<String, Value>) -> Result<String, DarajaError> {
    let value = required(body, "NominatedNumber")?;
    let digits = value.bytes().all(|b| b.is_ascii_digit());
    let local = value.len() == 10 && value.starts_with('0');
    let international = value.len() == 12 && value.starts_with("254");
    if !digits || !(local || international) {
        return Err(DarajaError::field(
            "NominatedNumber",
            format!("NominatedNumber {value:?} is not a phone number in the form 0722000000 or 254722000000"),
        ));
    }
    Ok(value)
}

// ---------------------------------------------------------------------------
// Query

pub(crate) async fn query(auth: Authed, body: Result<JsonObject, BodyProblem>) -> Result<Response, DarajaError> {
    products::require(&auth, Api::Pull)?;
    let body = body.map_err(|p| p.into_error("ShortCode"))?.0;
    let decision = match gate(&auth.tenant, &auth.consumer_key, OPERATION_QUERY, Some(&body)) {
        Gate::Pass(decision) => decision,
        Gate::Refuse(response) => return Ok(response),
    };
    let short_code = shortcode(&body, "ShortCode")?;
    let start = window_end(&body, "StartDate")?;
    let end = window_end(&body, "EndDate")?;
    if end < start {
        return Err(DarajaError::field("EndDate", format!("EndDate {end} is before StartDate {start}")));
    }
    if end - start > Duration::hours(MAX_WINDOW_HOURS) {
        return Err(DarajaError::field(
            "EndDate",
            format!(
                "the window from {start} to {end} is longer than {MAX_WINDOW_HOURS} hours; query in windows of at most {MAX_WINDOW_HOURS} hours"
            ),
        ));
    }
    let offset = offset(&body)?;
    let variants = Variants::of(decision.as_ref());
    let (ref_id, transactions) = auth.tenant.with::<Daraja, _>(|core, mine| {
        if !mine.pull.registrations.contains_key(&short_code) {
            return Err(DarajaError::field(
                "ShortCode",
                format!(
                    "shortcode {short_code} is not registered for Pull Transactions; POST /pulltransactions/v1/register first"
                ),
            ));
        }
        let transactions =
            page(mine.records.iter(), &short_code, start, end, offset, variants.pull_msisdn_international);
        Ok((ids::response_ref_id(&mut core.ids), transactions))
    })?;
    let id_key = variants.pull_id_key.unwrap_or("RequestID");
    let (shape, body) = match transactions.is_empty() {
        true => (
            Shape::PullQueryEmpty,
            PullQueryAnswer {
                id_key,
                id: ref_id,
                response_code: "1001",
                response_message: "No records found or Organization Name not available",
                response: None,
            },
        ),
        false => (
            if id_key == "RequestID" { Shape::PullQueryFound } else { Shape::PullQueryFoundDoc },
            PullQueryAnswer {
                id_key,
                id: ref_id,
                response_code: "1000",
                response_message: "Success",
                response: Some(vec![transactions]),
            },
        ),
    };
    Ok(delayed(wire::reply(shape, &body), decision.as_ref()))
}

/// Reads a window end (`StartDate` or `EndDate`) as an EAT wall-clock reading.
fn window_end(body: &Map<String, Value>, field: &'static str) -> Result<NaiveDateTime, DarajaError> {
    let value = required(body, field)?;
    parse_date(&value).ok_or_else(|| {
        DarajaError::field(
            field,
            format!("{field} {value:?} is not a date and time in the form \"2020-08-04 8:36:00\" (EAT)"),
        )
    })
}

/// Reads `OffSetValue`, how many matching transactions to skip; an absent one means 0.
fn offset(body: &Map<String, Value>) -> Result<usize, DarajaError> {
    let value = fields::optional_text(body, "OffSetValue").map_err(|p| super::wire::problem("OffSetValue", p))?;
    let Some(value) = value else { return Ok(0) };
    value.parse::<usize>().map_err(|_| {
        DarajaError::field("OffSetValue", format!("OffSetValue {value:?} is not a whole number of zero or more"))
    })
}

/// Parses `yyyy-MM-dd H:mm[:ss]`: the hour has one or two digits, the
/// seconds two or three (`000`, as the documentation's sample has them).
pub(crate) fn parse_date(text: &str) -> Option<NaiveDateTime> {
    let (date, time) = text.trim().split_once([' ', 'T'])?;
    let mut d = date.split('-');
    let year = digits(d.next()?, 4, 4)?;
    let month = digits(d.next()?, 1, 2)?;
    let day = digits(d.next()?, 1, 2)?;
    if d.next().is_some() {
        return None;
    }
    let mut t = time.trim_start().split(':');
    let hour = digits(t.next()?, 1, 2)?;
    let minute = digits(t.next()?, 2, 2)?;
    let second = match t.next() {
        Some(s) => digits(s, 2, 3)?,
        None => 0,
    };
    if t.next().is_some() {
        return None;
    }
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?.and_hms_opt(hour, minute, second)
}

/// Reads a number written with `min` to `max` ASCII digits.
fn digits(part: &str, min: usize, max: usize) -> Option<u32> {
    if !(min..=max).contains(&part.len()) || !part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    part.parse().ok()
}

/// Selects the transactions a query returns: records crediting the
/// shortcode, completed (EAT) within `start..=end`, in completion order,
/// [`PAGE_SIZE`] of them from `offset`.
pub(crate) fn page<'a>(
    records: impl Iterator<Item = &'a Record>,
    shortcode: &str,
    start: NaiveDateTime,
    end: NaiveDateTime,
    offset: usize,
    international: bool,
) -> Vec<PullTransaction> {
    records
        .filter(|r| r.credit.id == shortcode)
        .filter(|r| (start..=end).contains(&eat(r.completed_at)))
        .skip(offset)
        .take(PAGE_SIZE)
        .map(|r| transaction(r, international))
        .collect()
}

/// Writes one transaction as the query reports it.
fn transaction(record: &Record, international: bool) -> PullTransaction {
    let payer = match international {
        true => record.debit.id.as_str(),
        false => record.debit.id.strip_prefix("254").unwrap_or(&record.debit.id),
    };
    PullTransaction {
        transaction_id: record.receipt.to_string(),
        trx_date: record.completed_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        msisdn: Scalar::digits(payer),
        sender: name_of(&record.debit.public_name, &record.debit.id),
        transactiontype: record.kind.pull_type(),
        billreference: record.bill_reference.as_deref().unwrap_or_default().to_owned(),
        amount: record.amount.to_string(),
        organizationname: name_of(&record.credit.public_name, &record.credit.id),
    }
}

/// Returns the name part of a public name (`254708374149 - JOHN DOE` gives `JOHN DOE`).
fn name_of(public_name: &str, id: &str) -> String {
    public_name.strip_prefix(id).and_then(|rest| rest.strip_prefix(" - ")).unwrap_or(public_name).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daraja::records::{Party, RecordKind, RecordStatus, Records};
    use crate::ledger::Money;
    use chrono::TimeZone;

    fn at(text: &str) -> NaiveDateTime {
        parse_date(text).unwrap()
    }

    #[test]
    fn dates_take_one_or_two_hour_digits_and_the_documented_three_second_digits() {
        assert_eq!(at("2020-08-04 8:36:00").to_string(), "2020-08-04 08:36:00");
        assert_eq!(at("2020-08-04 08:36:00").to_string(), "2020-08-04 08:36:00");
        assert_eq!(at("2020-08-16 10:10:000").to_string(), "2020-08-16 10:10:00");
        assert_eq!(at(" 2020-8-4 8:36 ").to_string(), "2020-08-04 08:36:00");
        for bad in [
            "",
            "2020-08-04",
            "04-08-2020 08:00:00",
            "2020-13-04 08:00:00",
            "2020-02-30 08:00:00",
            "2020-08-04 24:00:00",
            "2020-08-04 8:6:00",
            "2020-08-04 8:36:00:00",
            "2020-08-04 8:36:0",
            "2020-08-04 -8:36:00",
            "2020-08-04 ８:36:00",
        ] {
            assert_eq!(parse_date(bad), None, "{bad:?}");
        }
    }

    fn record(n: usize, shortcode: &str, at: DateTime<Utc>) -> Record {
        Record {
            receipt: compact_str::format_compact!("R{n:09}"),
            kind: RecordKind::PayBill,
            completed_at: at,
            debit: Party { id: "254708374149".into(), public_name: "254708374149 - JOHN DOE".into() },
            credit: Party { id: shortcode.into(), public_name: format!("{shortcode} - Shop").into() },
            amount: Money(16800),
            charge: Money(0),
            status: RecordStatus::Completed,
            originator_conversation_id: None,
            conversation_id: None,
            bill_reference: Some("INV-1".into()),
            initiator: None,
            linked_receipt: None,
        }
    }

    #[test]
    fn a_page_holds_at_most_a_thousand_records_of_the_shortcode_in_the_window() {
        // 05:00 UTC is 08:00 EAT.
        let first = Utc.with_ymd_and_hms(2020, 8, 4, 5, 0, 0).unwrap();
        let mut records = Records::default();
        for n in 0..1500 {
            records.insert(record(n, "600000", first + Duration::seconds(n as i64)), 10_000);
        }
        records.insert(record(9000, "600984", first), 10_000);
        records.insert(record(9001, "600000", first - Duration::seconds(1)), 10_000);
        let (start, end) = (at("2020-08-04 8:00:00"), at("2020-08-05 8:00:00"));
        let one = page(records.iter(), "600000", start, end, 0, false);
        assert_eq!(one.len(), PAGE_SIZE);
        assert_eq!(one[0].transaction_id, "R000000000");
        assert_eq!(one[0].trx_date, "2020-08-04T05:00:00Z");
        assert_eq!(one[0].msisdn, Scalar::Integer(708_374_149), "without 254, as the portal's sample");
        assert_eq!(one[0].sender, "JOHN DOE");
        assert_eq!(one[0].organizationname, "Shop");
        assert_eq!(one[0].amount, "168.00");
        assert_eq!(one[0].transactiontype, "c2b-pay-bill-debit");
        let international = page(records.iter(), "600000", start, end, 0, true);
        assert_eq!(international[0].msisdn, Scalar::Integer(254_708_374_149));
        let two = page(records.iter(), "600000", start, end, PAGE_SIZE, false);
        assert_eq!(two.len(), 500);
        assert_eq!(two[0].transaction_id, "R000001000");
        assert!(page(records.iter(), "600000", start, end, 1500, false).is_empty());
        let narrow = page(records.iter(), "600000", at("2020-08-04 8:00:10"), at("2020-08-04 8:00:19"), 0, false);
        assert_eq!(narrow.len(), 10);
    }
}
