//! What Pesaflow tells merchants about an invoice: the instant payment
//! notification, the status query's answer, and the USSD validation request.
//!
//! A notification describes the invoice as it stood right after one payment
//! (the `upto`-th), so a notification delivered late, twice or out of order
//! still says what it said when it was due.
//! Its shape follows the world's [`NotificationFormat`]; by default it is a
//! real production notification's: paid amounts in their shortest form next
//! to a two-decimal invoice amount, `payment_date` in Nairobi time with the
//! zone spelled out, and `secure_hash` over exactly the strings sent.
//!
//! **Invariant:** pure; the time of each payment is the one recorded with it.

use std::str::FromStr;

use chrono::{DateTime, Duration, FixedOffset, Offset, Utc};

use super::amount::{self, Currency};
use super::invoice::{Channel, Invoice, InvoiceStatus, Payment};
use super::wire::{
    AmountValue, Notification, PaymentReferenceEntry, PaymentReferences, StatusResponse, UssdValidationRequest,
};
use super::world::{
    InsertedAt, NotificationAmounts, NotificationFormat, PaymentDateFormat, PaymentReferenceShape, SignatureField,
    SignatureRecipe, StatusWords,
};
use crate::crypto::secure_hash::{secure_hash, HashEncoding, HashKey, Recipe};
use crate::ledger::Money;

/// East Africa Time: UTC+3 all year.
fn eat() -> FixedOffset {
    // Three hours is within the ±24 h FixedOffset accepts; UTC is never used.
    FixedOffset::east_opt(3 * 3600).unwrap_or_else(|| Utc.fix())
}

/// The notification due after the invoice's `upto`-th payment (1-based), or
/// `None` if there is no such payment.
pub(crate) fn notification(
    invoice: &Invoice,
    upto: usize,
    format: &NotificationFormat,
    credentials: HashKey<'_>,
    encoding: HashEncoding,
) -> Option<Notification> {
    let payments = invoice.payments().get(..upto)?;
    let last = payments.last()?;
    let paid = payments.iter().fold(Money(0), |total, p| amount::add(total, p.amount));
    let status = status_after(invoice.amount_expected, paid);
    let currency = invoice.details.currency;

    let amount_paid = paid_amount(paid, format.amounts);
    let payment_date = payment_date(last.paid_at, format.payment_date);
    let signature =
        sign(invoice, &amount_paid.hash_text(), &payment_date, format.signature_recipe, credentials, encoding);
    let (secure_hash, token_hash) = match format.signature_field {
        SignatureField::SecureHash => (Some(signature), None),
        SignatureField::TokenHash => (None, Some(signature)),
        SignatureField::Both => (Some(signature.clone()), Some(signature)),
    };
    let payment_reference = match format.payment_reference {
        PaymentReferenceShape::List => {
            PaymentReferences::List(payments.iter().map(|p| reference_entry(p, currency, format)).collect())
        }
        PaymentReferenceShape::Single => PaymentReferences::Single(last.reference.clone()),
    };
    Some(Notification {
        status: match format.status_words {
            StatusWords::Lowercase => status.as_str().to_owned(),
            StatusWords::Uppercase => status.as_legacy_str().to_owned(),
        },
        secure_hash,
        token_hash,
        phone_number: last.payer.clone().or_else(|| invoice.details.client_msisdn.clone()).unwrap_or_default(),
        payment_reference,
        payment_date,
        payment_channel: match last.channel {
            Channel::Mpesa => format.payment_channel.clone(),
            // No aggregator channel name has been captured; the confirm
            // request does not say which bank it is.
            Channel::Aggregator => "BANK".to_owned(),
        },
        last_payment_amount: paid_amount(last.amount, format.amounts),
        invoice_number: invoice.number.clone(),
        invoice_amount: invoice_amount(invoice.amount_expected, format.amounts),
        currency: currency.as_str().to_owned(),
        client_invoice_ref: invoice.details.client_invoice_ref.clone(),
        amount_paid,
    })
}

/// The status query's answer, as test.pesaflow.com gives it.
pub(crate) fn status_response(invoice: &Invoice) -> StatusResponse {
    StatusResponse {
        status: invoice.status().as_str().to_owned(),
        ref_no: invoice.number.clone(),
        payment_date: invoice
            .last_payment()
            .map(|p| p.paid_at.with_timezone(&eat()).format("%Y-%m-%d %H:%M:%S").to_string()),
        name: invoice.details.client_name.clone(),
        currency: invoice.details.currency.as_str().to_owned(),
        client_invoice_ref: invoice.details.client_invoice_ref.clone(),
        amount_paid: amount::two_decimals(invoice.amount_paid()),
        amount_expected: amount::two_decimals(invoice.amount_expected),
    }
}

/// What Pesaflow POSTs to a merchant's USSD validation URL.
pub(crate) fn ussd_validation_request(
    reference: &str,
    service_code: &str,
    credentials: HashKey<'_>,
    encoding: HashEncoding,
) -> UssdValidationRequest {
    UssdValidationRequest {
        reference: reference.to_owned(),
        service_code: service_code.to_owned(),
        secure_hash: hash(Recipe::UssdValidation, &[reference, service_code], credentials, encoding),
    }
}

/// `payment_date` of a notification.
pub(crate) fn payment_date(at: DateTime<Utc>, format: PaymentDateFormat) -> String {
    match format {
        PaymentDateFormat::Eat => {
            at.with_timezone(&eat()).format("%Y-%m-%d %H:%M:%S%:z EAT Africa/Nairobi").to_string()
        }
        PaymentDateFormat::Utc => at.format("%Y-%m-%d %H:%M:%SZ").to_string(),
        PaymentDateFormat::Iso => at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    }
}

fn status_after(expected: Money, paid: Money) -> InvoiceStatus {
    if paid.cents() <= 0 {
        InvoiceStatus::Pending
    } else if paid < expected {
        InvoiceStatus::Partial
    } else {
        InvoiceStatus::Settled
    }
}

fn reference_entry(payment: &Payment, currency: Currency, format: &NotificationFormat) -> PaymentReferenceEntry {
    let inserted_at = match format.inserted_at {
        InsertedAt::ThreeHoursBehind => payment.paid_at - Duration::hours(3),
        InsertedAt::Utc => payment.paid_at,
    };
    PaymentReferenceEntry {
        payment_reference: payment.reference.clone(),
        payment_date: payment.paid_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        inserted_at: inserted_at.format("%Y-%m-%dT%H:%M:%S").to_string(),
        currency: currency.as_str().to_owned(),
        amount: paid_amount(payment.amount, format.amounts),
    }
}

/// A paid amount: shortest (`"5"`) as live traffic writes it.
fn paid_amount(money: Money, amounts: NotificationAmounts) -> AmountValue {
    match amounts {
        NotificationAmounts::AsPaid => AmountValue::Text(amount::shortest(money)),
        NotificationAmounts::TwoDecimals => AmountValue::Text(amount::two_decimals(money)),
        NotificationAmounts::Numbers => number(money),
    }
}

/// The invoice amount: always two decimals, unless numbers are asked for.
fn invoice_amount(money: Money, amounts: NotificationAmounts) -> AmountValue {
    match amounts {
        NotificationAmounts::AsPaid | NotificationAmounts::TwoDecimals => {
            AmountValue::Text(amount::two_decimals(money))
        }
        NotificationAmounts::Numbers => number(money),
    }
}

fn number(money: Money) -> AmountValue {
    let text = amount::shortest(money);
    serde_json::Number::from_str(&text).map(AmountValue::Number).unwrap_or(AmountValue::Text(text))
}

fn sign(
    invoice: &Invoice,
    amount_paid: &str,
    payment_date: &str,
    recipe: SignatureRecipe,
    credentials: HashKey<'_>,
    encoding: HashEncoding,
) -> String {
    let d = &invoice.details;
    match recipe {
        SignatureRecipe::Seed => hash(
            Recipe::Notification,
            &[&d.client_invoice_ref, &invoice.number, amount_paid, payment_date],
            credentials,
            encoding,
        ),
        SignatureRecipe::InvoiceAmount => {
            hash(Recipe::NotificationInvoiceAmount, &[&invoice.number, amount_paid], credentials, encoding)
        }
        SignatureRecipe::CheckoutEcho => hash(
            Recipe::Checkout,
            &[
                &d.api_client_id,
                &d.amount_text,
                &d.service_id,
                &d.client_id_number,
                d.currency.as_str(),
                &d.client_invoice_ref,
                &d.bill_desc,
                &d.client_name,
            ],
            credentials,
            encoding,
        ),
    }
}

fn hash(recipe: Recipe, values: &[&str], credentials: HashKey<'_>, encoding: HashEncoding) -> String {
    // Every call above passes exactly the recipe's number of values, so
    // hashing cannot fail.
    secure_hash(recipe, values, credentials, encoding).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::secure_hash::verify;
    use crate::pesaflow::invoice::tests::{invoice_with, new_invoice};
    use crate::pesaflow::world::World;
    use chrono::TimeZone;

    const KEY: HashKey<'static> = HashKey { key: "KEY1", secret: "SECRET1" };

    fn payment(reference: &str, cents: i64, at: DateTime<Utc>) -> Payment {
        Payment {
            reference: reference.into(),
            channel: Channel::Mpesa,
            amount: Money(cents),
            paid_at: at,
            payer: Some("254700000000".into()),
            payer_name: None,
        }
    }

    /// The invoice of the real notification of 2025-05-30 (reference §1.5).
    fn real_invoice() -> Invoice {
        let mut details = new_invoice("RNH3B02", 500, 0);
        details.client_msisdn = None;
        let paid_at = Utc.with_ymd_and_hms(2025, 5, 29, 23, 16, 3).single().unwrap();
        invoice_with("WQBGPWRR", details, vec![payment("TET6QMYYAK", 500, paid_at)])
    }

    #[test]
    fn the_default_notification_reproduces_a_real_one() {
        let world = World::default_world();
        let sent = notification(&real_invoice(), 1, &world.notification, KEY, HashEncoding::Base64OfHex).unwrap();
        let mut json = serde_json::to_value(&sent).unwrap();
        let hash = json.as_object_mut().unwrap().remove("secure_hash").unwrap();
        // The real notification without its secure_hash (its credentials are unknown).
        let real = r#"{"status":"settled","phone_number":"254700000000","payment_reference":[{"payment_reference":"TET6QMYYAK","payment_date":"2025-05-29T23:16:03Z","inserted_at":"2025-05-29T20:16:03","currency":"KES","amount":"5"}],"payment_date":"2025-05-30 02:16:03+03:00 EAT Africa/Nairobi","payment_channel":"MPESA","last_payment_amount":"5","invoice_number":"WQBGPWRR","invoice_amount":"5.00","currency":"KES","client_invoice_ref":"RNH3B02","amount_paid":"5"}"#;
        let mut without_hash = serde_json::to_string(&sent).unwrap();
        without_hash = without_hash.replace(&format!(",\"secure_hash\":{hash}"), "");
        assert_eq!(without_hash, real);
        // A merchant verifies it with the seed's recipe over the strings it received.
        let values = ["RNH3B02", "WQBGPWRR", "5", "2025-05-30 02:16:03+03:00 EAT Africa/Nairobi"];
        assert!(
            verify(Recipe::Notification, &values, KEY, hash.as_str().unwrap(), &[HashEncoding::Base64OfHex]).is_ok()
        );
        // Signing "5.00" instead of the "5" sent is the classic mismatch.
        let reformatted = ["RNH3B02", "WQBGPWRR", "5.00", "2025-05-30 02:16:03+03:00 EAT Africa/Nairobi"];
        assert!(verify(Recipe::Notification, &reformatted, KEY, hash.as_str().unwrap(), &[]).is_err());
    }

    #[test]
    fn a_partial_payment_notifies_partial_with_every_payment_so_far() {
        let world = World::default_world();
        let mut details = new_invoice("REF-9", 10000, 500);
        details.client_msisdn = Some("254712345678".into());
        let t = |m| Utc.with_ymd_and_hms(2026, 2, 11, 14, m, 0).single().unwrap();
        let invoice = invoice_with("GWLQKD", details, vec![payment("AAA", 5000, t(1)), payment("BBB", 5500, t(2))]);
        let first = notification(&invoice, 1, &world.notification, KEY, HashEncoding::Base64OfHex).unwrap();
        assert_eq!(first.status, "partial");
        assert_eq!(first.amount_paid, AmountValue::Text("50".into()));
        assert!(matches!(&first.payment_reference, PaymentReferences::List(l) if l.len() == 1));
        let second = notification(&invoice, 2, &world.notification, KEY, HashEncoding::Base64OfHex).unwrap();
        assert_eq!(second.status, "settled");
        assert_eq!(second.amount_paid, AmountValue::Text("105".into()));
        assert_eq!(second.invoice_amount, AmountValue::Text("105.00".into()));
        assert_eq!(second.last_payment_amount, AmountValue::Text("55".into()));
        assert!(notification(&invoice, 3, &world.notification, KEY, HashEncoding::Base64OfHex).is_none());
        assert!(notification(&invoice, 0, &world.notification, KEY, HashEncoding::Base64OfHex).is_none());
    }

    #[test]
    fn the_legacy_shape_is_available_behind_switches() {
        let mut format = World::default_world().notification;
        format.signature_field = SignatureField::TokenHash;
        format.signature_recipe = SignatureRecipe::InvoiceAmount;
        format.amounts = NotificationAmounts::Numbers;
        format.status_words = StatusWords::Uppercase;
        format.payment_date = PaymentDateFormat::Iso;
        format.payment_reference = PaymentReferenceShape::Single;
        let sent = notification(&real_invoice(), 1, &format, KEY, HashEncoding::Base64OfHex).unwrap();
        let json = serde_json::to_string(&sent).unwrap();
        assert!(json.contains(r#""status":"SUCCESS""#), "{json}");
        assert!(json.contains(r#""amount_paid":5"#) && json.contains(r#""invoice_amount":5"#), "{json}");
        assert!(json.contains(r#""payment_reference":"TET6QMYYAK""#), "{json}");
        assert!(json.contains(r#""payment_date":"2025-05-29T23:16:03Z""#), "{json}");
        assert!(sent.secure_hash.is_none());
        let token_hash = sent.token_hash.unwrap();
        assert!(verify(Recipe::NotificationInvoiceAmount, &["WQBGPWRR", "5"], KEY, &token_hash, &[]).is_ok());
    }

    #[test]
    fn the_checkout_echo_signs_the_checkout_recipe_over_the_amount_as_sent() {
        let mut format = World::default_world().notification;
        format.signature_recipe = SignatureRecipe::CheckoutEcho;
        let mut invoice = real_invoice();
        invoice.details.amount_text = "5".into();
        let sent = notification(&invoice, 1, &format, KEY, HashEncoding::Base64OfRaw).unwrap();
        let d = &invoice.details;
        let values = [
            d.api_client_id.as_str(),
            "5",
            &d.service_id,
            &d.client_id_number,
            "KES",
            "RNH3B02",
            &d.bill_desc,
            &d.client_name,
        ];
        assert!(
            verify(Recipe::Checkout, &values, KEY, &sent.secure_hash.unwrap(), &[HashEncoding::Base64OfRaw]).is_ok()
        );
    }

    #[test]
    fn payment_dates_are_written_in_each_format() {
        let at = Utc.with_ymd_and_hms(2023, 6, 14, 12, 33, 16).single().unwrap();
        assert_eq!(payment_date(at, PaymentDateFormat::Eat), "2023-06-14 15:33:16+03:00 EAT Africa/Nairobi");
        assert_eq!(payment_date(at, PaymentDateFormat::Utc), "2023-06-14 12:33:16Z");
        assert_eq!(payment_date(at, PaymentDateFormat::Iso), "2023-06-14T12:33:16Z");
    }

    #[test]
    fn the_status_answer_is_null_dated_until_paid() {
        let mut pending = real_invoice();
        pending = invoice_with("GWLQKD", pending.details.clone(), Vec::new());
        let answer = status_response(&pending);
        assert_eq!(answer.status, "pending");
        assert_eq!(answer.payment_date, None);
        assert_eq!((answer.amount_paid.as_str(), answer.amount_expected.as_str()), ("0.00", "5.00"));
        let paid = status_response(&real_invoice());
        assert_eq!(paid.status, "settled");
        assert_eq!(paid.payment_date.as_deref(), Some("2025-05-30 02:16:03"));
        assert_eq!(paid.amount_paid, "5.00");
    }

    #[test]
    fn the_ussd_request_is_signed_with_reference_service_code_and_secret() {
        let request = ussd_validation_request("12345678", "1002", KEY, HashEncoding::Base64OfHex);
        assert!(verify(Recipe::UssdValidation, &["12345678", "1002"], KEY, &request.secure_hash, &[]).is_ok());
    }
}
