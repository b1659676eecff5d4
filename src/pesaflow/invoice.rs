//! Invoices: what a checkout or an `invoice/create` bills, and the payments
//! made towards it.
//!
//! An invoice is `pending` until a first payment, `partial` while less than
//! the amount expected is paid, and `settled` once it is all paid. The amount
//! expected is the merchant's amount (`amount_net`) plus the service's
//! commission, as the live test server answers (100.00 + 5.00 = 105.00).
//!
//! Paying is idempotent by payment reference (an M-Pesa receipt or an
//! aggregator's `gateway_transaction_id`): a reference already seen returns
//! the earlier receipt and changes nothing, whichever invoice it names.
//! A payment above what is due is recorded whole and settles the invoice
//! under [`Overpayment::Accept`] (a bank or M-Pesa has already moved the
//! money), or is refused under [`Overpayment::Refuse`].
//!
//! **Invariant:** `amount_paid` is the sum of the payments, computed with
//! saturating arithmetic; no floats; all time comes from the caller.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};

use super::amount::{self, Currency};
use super::wire::CheckoutPath;
use super::world::{NotifyOn, Overpayment};
use crate::fastmap::HashMap;
use crate::ids::IdGen;
use crate::ledger::Money;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum InvoiceStatus {
    Pending,
    Partial,
    Settled,
}

impl InvoiceStatus {
    /// `pending`, `partial`, `settled`: the live and documented vocabulary.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            InvoiceStatus::Pending => "pending",
            InvoiceStatus::Partial => "partial",
            InvoiceStatus::Settled => "settled",
        }
    }

    /// `PENDING`, `PARTIAL`, `SUCCESS`: the Postman collection's vocabulary.
    pub(crate) fn as_legacy_str(self) -> &'static str {
        match self {
            InvoiceStatus::Pending => "PENDING",
            InvoiceStatus::Partial => "PARTIAL",
            InvoiceStatus::Settled => "SUCCESS",
        }
    }
}

/// How an invoice came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    Checkout(CheckoutPath),
    InvoiceCreate,
    /// A customer who dialled the USSD channel with a reference.
    Ussd,
}

impl Origin {
    /// How the admin views name it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Origin::Checkout(CheckoutPath::Iframe) => "checkout",
            Origin::Checkout(CheckoutPath::Documented) => "checkout (documented path)",
            Origin::Checkout(CheckoutPath::WhiteLabel) => "checkout (white-label path)",
            Origin::InvoiceCreate => "invoice/create",
            Origin::Ussd => "ussd",
        }
    }
}

/// How a payment arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Channel {
    /// An M-Pesa prompt from the checkout page or `sendSTK`.
    Mpesa,
    /// A bank or aggregator's `payment/confirm`.
    Aggregator,
}

impl Channel {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Channel::Mpesa => "mpesa",
            Channel::Aggregator => "aggregator",
        }
    }
}

/// What a new invoice is made of; the checkout and `invoice/create`
/// handlers fill it from their requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewInvoice {
    pub(crate) api_client_id: String,
    pub(crate) service_id: String,
    pub(crate) client_invoice_ref: String,
    pub(crate) currency: Currency,
    /// The merchant's amount.
    pub(crate) amount_net: Money,
    /// The merchant's amount exactly as sent, for recomputing a checkout hash.
    pub(crate) amount_text: String,
    pub(crate) commission: Money,
    pub(crate) bill_desc: String,
    pub(crate) client_name: String,
    pub(crate) client_id_number: String,
    pub(crate) client_msisdn: Option<String>,
    pub(crate) client_email: Option<String>,
    pub(crate) notification_url: Option<String>,
    pub(crate) callback_url_on_success: Option<String>,
    pub(crate) callback_url_on_failure: Option<String>,
    pub(crate) picture_url: Option<String>,
    pub(crate) origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invoice {
    /// Pesaflow's reference: upper-case letters, `GWLQKD`.
    pub(crate) number: String,
    /// The token of the hosted checkout link (`/checkout?request_id=…`).
    pub(crate) request_id: String,
    pub(crate) details: NewInvoice,
    /// `amount_net + commission`: what the customer must pay.
    pub(crate) amount_expected: Money,
    pub(crate) created_at: DateTime<Utc>,
    payments: Vec<Payment>,
}

/// One payment towards an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Payment {
    /// The M-Pesa receipt or the aggregator's transaction id.
    pub(crate) reference: String,
    pub(crate) channel: Channel,
    pub(crate) amount: Money,
    pub(crate) paid_at: DateTime<Utc>,
    /// The paying MSISDN or account number.
    pub(crate) payer: Option<String>,
    pub(crate) payer_name: Option<String>,
}

impl Invoice {
    pub(crate) fn amount_paid(&self) -> Money {
        self.payments.iter().fold(Money(0), |total, p| amount::add(total, p.amount))
    }

    /// What is still due, never below zero.
    pub(crate) fn balance(&self) -> Money {
        amount::sub_floor_zero(self.amount_expected, self.amount_paid())
    }

    pub(crate) fn status(&self) -> InvoiceStatus {
        let paid = self.amount_paid();
        if paid.cents() <= 0 {
            InvoiceStatus::Pending
        } else if paid < self.amount_expected {
            InvoiceStatus::Partial
        } else {
            InvoiceStatus::Settled
        }
    }

    /// Every payment, oldest first.
    pub(crate) fn payments(&self) -> &[Payment] {
        &self.payments
    }

    pub(crate) fn last_payment(&self) -> Option<&Payment> {
        self.payments.last()
    }
}

/// What a payment did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Receipt {
    pub(crate) invoice_number: String,
    pub(crate) reference: String,
    pub(crate) amount: Money,
    /// The invoice's status right after this payment.
    pub(crate) status: InvoiceStatus,
    pub(crate) amount_paid: Money,
    /// How much above the amount expected the invoice is now paid.
    pub(crate) overpaid_by: Money,
    /// Whether an instant payment notification is due for this payment.
    pub(crate) notify: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Paid {
    /// The payment was recorded.
    Recorded(Receipt),
    /// The reference was paid before: nothing changed, this is the earlier
    /// receipt (whose invoice may differ from the one asked for).
    Repeated(Receipt),
}

/// Why a payment was not recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PayRefusal {
    /// No invoice has this number.
    #[error("no invoice {0}")]
    UnknownInvoice(String),
    /// The invoice is already paid in full.
    #[error("invoice {0} is already settled")]
    AlreadySettled(String),
    /// The payment is in another currency than the invoice.
    #[error("invoice {number} is in {expected}, the payment in {given}")]
    CurrencyMismatch { number: String, expected: Currency, given: Currency },
    /// Above the balance while overpayments are refused.
    #[error("invoice {number} has {balance} left to pay, the payment is {amount}")]
    Overpayment { number: String, balance: Money, amount: Money },
    /// Zero or negative.
    #[error("a payment must be greater than zero")]
    NotPositive,
    /// No payment reference.
    #[error("a payment needs a reference")]
    NoReference,
}

/// What is being paid, and the rules to pay it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PaymentIn {
    pub(crate) payment: Payment,
    pub(crate) currency: Currency,
    pub(crate) overpayment: Overpayment,
    pub(crate) notify_on: NotifyOn,
}

/// Whether a checkout made a new invoice or found the same one again, and
/// its number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Created {
    New(String),
    /// The same client posted the same billRefNumber, service, currency and
    /// amount again while the invoice was unpaid (a reloaded checkout form).
    Reused(String),
}

impl Created {
    pub(crate) fn number(&self) -> &str {
        match self {
            Created::New(number) | Created::Reused(number) => number,
        }
    }
}

/// A tenant's invoices, indexed the ways requests name them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Invoices {
    by_number: BTreeMap<String, Invoice>,
    /// Oldest first, for eviction.
    order: VecDeque<String>,
    by_client_ref: HashMap<(String, String), String>,
    by_request_id: HashMap<String, String>,
    receipts: HashMap<String, Receipt>,
    cap: usize,
}

impl Invoices {
    /// A store keeping at most `cap` invoices; the oldest are forgotten first.
    pub(crate) fn new(cap: usize) -> Invoices {
        Invoices { cap: cap.max(1), ..Invoices::default() }
    }

    pub(crate) fn len(&self) -> usize {
        self.by_number.len()
    }

    /// Bills `new`, with an invoice number of `number_length` letters and a
    /// checkout link token, both from the tenant's seeded generator.
    pub(crate) fn create(
        &mut self,
        new: NewInvoice,
        ids: &mut IdGen,
        number_length: usize,
        at: DateTime<Utc>,
    ) -> Created {
        let key = (new.api_client_id.clone(), new.client_invoice_ref.clone());
        if let Some(number) = self.by_client_ref.get(&key) {
            let same = self.by_number.get(number).is_some_and(|i| {
                i.status() == InvoiceStatus::Pending
                    && i.details.service_id == new.service_id
                    && i.details.currency == new.currency
                    && i.details.amount_net == new.amount_net
            });
            if same {
                return Created::Reused(number.clone());
            }
        }
        while self.by_number.len() >= self.cap && self.evict_oldest() {}
        let number = self.fresh_number(ids, number_length);
        let request_id = ids.alnum(20);
        let amount_expected = amount::add(new.amount_net, new.commission);
        self.by_client_ref.insert(key, number.clone());
        self.by_request_id.insert(request_id.clone(), number.clone());
        self.order.push_back(number.clone());
        let invoice = Invoice {
            number: number.clone(),
            request_id,
            details: new,
            amount_expected,
            created_at: at,
            payments: Vec::new(),
        };
        self.by_number.insert(number.clone(), invoice);
        Created::New(number)
    }

    pub(crate) fn get(&self, number: &str) -> Option<&Invoice> {
        self.by_number.get(number)
    }

    /// Every invoice kept, oldest first.
    pub(crate) fn all(&self) -> impl Iterator<Item = &Invoice> {
        self.order.iter().filter_map(|n| self.by_number.get(n))
    }

    /// The newest invoice of a client's `billRefNumber`.
    pub(crate) fn by_client_ref(&self, api_client_id: &str, client_ref: &str) -> Option<&Invoice> {
        let number = self.by_client_ref.get(&(api_client_id.to_owned(), client_ref.to_owned()))?;
        self.by_number.get(number)
    }

    /// The invoice behind a checkout link.
    pub(crate) fn by_request_id(&self, request_id: &str) -> Option<&Invoice> {
        self.by_number.get(self.by_request_id.get(request_id)?)
    }

    /// A client's invoice by Pesaflow number, or also by the client's own
    /// reference when `or_client_ref` (the status query's lenient mode).
    pub(crate) fn find(&self, api_client_id: &str, ref_no: &str, or_client_ref: bool) -> Option<&Invoice> {
        let own = self.by_number.get(ref_no).filter(|i| i.details.api_client_id == api_client_id);
        own.or_else(|| if or_client_ref { self.by_client_ref(api_client_id, ref_no) } else { None })
    }

    /// The receipt of a payment reference already recorded.
    pub(crate) fn receipt(&self, reference: &str) -> Option<&Receipt> {
        self.receipts.get(reference)
    }

    /// Why a new payment towards invoice `number` would be refused, if it
    /// would: what a payer checks before moving money. A reference already
    /// recorded is not a refusal (see [`Invoices::pay`]).
    pub(crate) fn refusal(&self, number: &str, payment_in: &PaymentIn) -> Option<PayRefusal> {
        let PaymentIn { payment, currency, overpayment, .. } = payment_in;
        if payment.reference.trim().is_empty() {
            return Some(PayRefusal::NoReference);
        }
        if payment.amount.cents() <= 0 {
            return Some(PayRefusal::NotPositive);
        }
        let Some(invoice) = self.by_number.get(number) else {
            return Some(PayRefusal::UnknownInvoice(number.to_owned()));
        };
        if invoice.details.currency != *currency {
            return Some(PayRefusal::CurrencyMismatch {
                number: number.to_owned(),
                expected: invoice.details.currency,
                given: *currency,
            });
        }
        if invoice.status() == InvoiceStatus::Settled {
            return Some(PayRefusal::AlreadySettled(number.to_owned()));
        }
        let balance = invoice.balance();
        if payment.amount > balance && *overpayment == Overpayment::Refuse {
            return Some(PayRefusal::Overpayment { number: number.to_owned(), balance, amount: payment.amount });
        }
        None
    }

    /// Records a payment towards invoice `number`.
    pub(crate) fn pay(&mut self, number: &str, payment_in: PaymentIn) -> Result<Paid, PayRefusal> {
        if payment_in.payment.reference.trim().is_empty() {
            return Err(PayRefusal::NoReference);
        }
        if let Some(earlier) = self.receipts.get(&payment_in.payment.reference) {
            return Ok(Paid::Repeated(earlier.clone()));
        }
        if let Some(refusal) = self.refusal(number, &payment_in) {
            return Err(refusal);
        }
        let PaymentIn { payment, notify_on, .. } = payment_in;
        let Some(invoice) = self.by_number.get_mut(number) else {
            return Err(PayRefusal::UnknownInvoice(number.to_owned()));
        };
        let reference = payment.reference.clone();
        let amount = payment.amount;
        invoice.payments.push(payment);
        let status = invoice.status();
        let amount_paid = invoice.amount_paid();
        let notify = invoice.details.notification_url.is_some()
            && match notify_on {
                NotifyOn::EveryPayment => true,
                NotifyOn::SettledOnly => status == InvoiceStatus::Settled,
            };
        let receipt = Receipt {
            invoice_number: number.to_owned(),
            reference: reference.clone(),
            amount,
            status,
            amount_paid,
            overpaid_by: amount::sub_floor_zero(amount_paid, invoice.amount_expected),
            notify,
        };
        self.receipts.insert(reference, receipt.clone());
        Ok(Paid::Recorded(receipt))
    }

    /// Letters only, as live invoice numbers are; on the rare collision the
    /// generator draws again, and after a few draws lengthens the number.
    fn fresh_number(&self, ids: &mut IdGen, length: usize) -> String {
        let mut length = length.clamp(1, 16);
        loop {
            for _ in 0..8 {
                let number: String =
                    (0..length).map(|_| char::from(b'A' + u8::try_from(ids.between(0, 25)).unwrap_or(0))).collect();
                if !self.by_number.contains_key(&number) {
                    return number;
                }
            }
            length = length.saturating_add(1);
        }
    }

    /// Forgets the oldest invoice; false when there is none.
    fn evict_oldest(&mut self) -> bool {
        let Some(number) = self.order.pop_front() else { return false };
        let Some(invoice) = self.by_number.remove(&number) else { return true };
        self.by_request_id.remove(&invoice.request_id);
        let key = (invoice.details.api_client_id.clone(), invoice.details.client_invoice_ref.clone());
        if self.by_client_ref.get(&key) == Some(&number) {
            self.by_client_ref.remove(&key);
        }
        for payment in &invoice.payments {
            self.receipts.remove(&payment.reference);
        }
        true
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    pub(crate) fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 5, 29, 23, minute, 3).single().unwrap()
    }

    pub(crate) fn new_invoice(client_ref: &str, net: i64, commission: i64) -> NewInvoice {
        NewInvoice {
            api_client_id: "1".into(),
            service_id: "1001".into(),
            client_invoice_ref: client_ref.into(),
            currency: Currency::KES,
            amount_net: Money(net),
            amount_text: amount::two_decimals(Money(net)),
            commission: Money(commission),
            bill_desc: "Business name search".into(),
            client_name: "Jane Doe".into(),
            client_id_number: "12345678".into(),
            client_msisdn: Some("254712345678".into()),
            client_email: None,
            notification_url: Some("https://shop.example/ipn".into()),
            callback_url_on_success: None,
            callback_url_on_failure: None,
            picture_url: None,
            origin: Origin::Checkout(CheckoutPath::Iframe),
        }
    }

    pub(crate) fn mpesa(reference: &str, cents: i64, minute: u32) -> PaymentIn {
        PaymentIn {
            payment: Payment {
                reference: reference.into(),
                channel: Channel::Mpesa,
                amount: Money(cents),
                paid_at: at(minute),
                payer: Some("254712345678".into()),
                payer_name: None,
            },
            currency: Currency::KES,
            overpayment: Overpayment::Accept,
            notify_on: NotifyOn::EveryPayment,
        }
    }

    /// An invoice with a chosen number and payments, to reproduce captures.
    pub(crate) fn invoice_with(number: &str, new: NewInvoice, payments: Vec<Payment>) -> Invoice {
        let amount_expected = amount::add(new.amount_net, new.commission);
        Invoice {
            number: number.into(),
            request_id: "d8HbuZT_0nO3XLjH7nRy".into(),
            details: new,
            amount_expected,
            created_at: at(0),
            payments,
        }
    }

    fn recorded(paid: Result<Paid, PayRefusal>) -> Receipt {
        match paid {
            Ok(Paid::Recorded(receipt)) => receipt,
            other => panic!("expected a recorded payment, got {other:?}"),
        }
    }

    #[test]
    fn an_invoice_goes_pending_partial_settled() {
        let mut invoices = Invoices::new(100);
        let mut ids = IdGen::new(1, "test");
        let created = invoices.create(new_invoice("REF-1", 10000, 500), &mut ids, 6, at(0));
        assert!(matches!(created, Created::New(_)));
        let invoice = invoices.get(created.number()).unwrap();
        assert_eq!(invoice.amount_expected, Money(10500));
        assert_eq!(invoice.status(), InvoiceStatus::Pending);
        assert!(invoice.number.len() == 6 && invoice.number.bytes().all(|b| b.is_ascii_uppercase()));
        assert_eq!(invoice.request_id.len(), 20);
        let number = invoice.number.clone();

        let first = recorded(invoices.pay(&number, mpesa("TET6QMYYAK", 5000, 1)));
        assert_eq!((first.status, first.amount_paid, first.notify), (InvoiceStatus::Partial, Money(5000), true));
        let second = recorded(invoices.pay(&number, mpesa("TET6QMYYAL", 5500, 2)));
        assert_eq!((second.status, second.amount_paid), (InvoiceStatus::Settled, Money(10500)));
        let invoice = invoices.get(&number).unwrap();
        assert_eq!(invoice.balance(), Money(0));
        assert_eq!(invoice.payments().len(), 2);
        assert_eq!(invoice.last_payment().map(|p| p.reference.as_str()), Some("TET6QMYYAL"));
        assert_eq!(invoices.pay(&number, mpesa("X", 1, 3)), Err(PayRefusal::AlreadySettled(number.clone())));
    }

    #[test]
    fn a_repeated_reference_never_pays_twice() {
        let mut invoices = Invoices::new(100);
        let mut ids = IdGen::new(1, "test");
        let number = invoices.create(new_invoice("REF-1", 10000, 0), &mut ids, 6, at(0)).number().to_owned();
        let other = invoices.create(new_invoice("REF-2", 10000, 0), &mut ids, 6, at(0)).number().to_owned();
        let first = recorded(invoices.pay(&number, mpesa("1234434", 4000, 1)));
        let again = invoices.pay(&number, mpesa("1234434", 4000, 2)).unwrap();
        assert_eq!(again, Paid::Repeated(first.clone()));
        let elsewhere = invoices.pay(&other, mpesa("1234434", 9999, 2)).unwrap();
        assert_eq!(elsewhere, Paid::Repeated(first), "the earlier receipt, whichever invoice is named");
        assert_eq!(invoices.get(&number).unwrap().amount_paid(), Money(4000));
        assert_eq!(invoices.get(&other).unwrap().amount_paid(), Money(0));
    }

    #[test]
    fn overpayment_settles_or_is_refused_by_policy() {
        let mut invoices = Invoices::new(100);
        let mut ids = IdGen::new(1, "test");
        let number = invoices.create(new_invoice("REF-1", 500, 0), &mut ids, 6, at(0)).number().to_owned();
        let mut refuse = mpesa("A", 700, 1);
        refuse.overpayment = Overpayment::Refuse;
        assert_eq!(
            invoices.pay(&number, refuse),
            Err(PayRefusal::Overpayment { number: number.clone(), balance: Money(500), amount: Money(700) })
        );
        let receipt = recorded(invoices.pay(&number, mpesa("A", 700, 1)));
        assert_eq!((receipt.status, receipt.overpaid_by), (InvoiceStatus::Settled, Money(200)));
    }

    #[test]
    fn refusals_change_nothing() {
        let mut invoices = Invoices::new(100);
        let mut ids = IdGen::new(1, "test");
        let number = invoices.create(new_invoice("REF-1", 500, 0), &mut ids, 6, at(0)).number().to_owned();
        let mut dollars = mpesa("A", 100, 1);
        dollars.currency = Currency::parse("USD").unwrap();
        assert!(matches!(invoices.pay(&number, dollars), Err(PayRefusal::CurrencyMismatch { .. })));
        assert_eq!(invoices.pay(&number, mpesa("B", 0, 1)), Err(PayRefusal::NotPositive));
        assert_eq!(invoices.pay(&number, mpesa(" ", 100, 1)), Err(PayRefusal::NoReference));
        assert_eq!(invoices.pay("NOPE", mpesa("C", 100, 1)), Err(PayRefusal::UnknownInvoice("NOPE".into())));
        assert_eq!(invoices.get(&number).unwrap().status(), InvoiceStatus::Pending);
        assert!(invoices.receipt("A").is_none() && invoices.receipt("C").is_none());
    }

    #[test]
    fn notifications_follow_the_switch_and_need_a_url() {
        let mut invoices = Invoices::new(100);
        let mut ids = IdGen::new(1, "test");
        let number = invoices.create(new_invoice("REF-1", 1000, 0), &mut ids, 6, at(0)).number().to_owned();
        let mut partial = mpesa("A", 400, 1);
        partial.notify_on = NotifyOn::SettledOnly;
        assert!(!recorded(invoices.pay(&number, partial)).notify);
        let mut rest = mpesa("B", 600, 2);
        rest.notify_on = NotifyOn::SettledOnly;
        assert!(recorded(invoices.pay(&number, rest)).notify);

        let mut silent = new_invoice("REF-2", 1000, 0);
        silent.notification_url = None;
        let number = invoices.create(silent, &mut ids, 6, at(0)).number().to_owned();
        assert!(!recorded(invoices.pay(&number, mpesa("C", 1000, 3))).notify);
    }

    #[test]
    fn a_reposted_checkout_reuses_the_unpaid_invoice() {
        let mut invoices = Invoices::new(100);
        let mut ids = IdGen::new(1, "test");
        let first = invoices.create(new_invoice("REF-1", 1000, 0), &mut ids, 6, at(0)).number().to_owned();
        let again = invoices.create(new_invoice("REF-1", 1000, 0), &mut ids, 6, at(1));
        assert_eq!(again, Created::Reused(first.clone()));
        let changed = invoices.create(new_invoice("REF-1", 2000, 0), &mut ids, 6, at(2));
        assert!(matches!(changed, Created::New(_)));
        let changed = changed.number().to_owned();
        assert_ne!(changed, first);
        assert_eq!(invoices.by_client_ref("1", "REF-1").map(|i| i.number.clone()), Some(changed));
    }

    #[test]
    fn invoices_are_found_by_number_client_ref_and_link() {
        let mut invoices = Invoices::new(100);
        let mut ids = IdGen::new(1, "test");
        let created = invoices.create(new_invoice("REF-1", 1000, 0), &mut ids, 8, at(0));
        let invoice = invoices.get(created.number()).unwrap();
        let (number, request_id) = (invoice.number.clone(), invoice.request_id.clone());
        assert_eq!(number.len(), 8);
        assert_eq!(invoices.find("1", &number, false).map(|i| &i.number), Some(&number));
        assert!(invoices.find("2", &number, true).is_none(), "another client's invoice is not found");
        assert!(invoices.find("1", "REF-1", false).is_none());
        assert_eq!(invoices.find("1", "REF-1", true).map(|i| &i.number), Some(&number));
        assert_eq!(invoices.by_request_id(&request_id).map(|i| &i.number), Some(&number));
    }

    #[test]
    fn the_same_seed_gives_the_same_numbers() {
        let numbers = |seed| {
            let mut invoices = Invoices::new(100);
            let mut ids = IdGen::new(seed, "tenant");
            (0..3)
                .map(|i| invoices.create(new_invoice(&format!("R{i}"), 100, 0), &mut ids, 6, at(0)).number().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(numbers(7), numbers(7));
        assert_ne!(numbers(7), numbers(8));
    }

    #[test]
    fn the_oldest_invoices_are_forgotten_past_the_cap() {
        let mut invoices = Invoices::new(2);
        let mut ids = IdGen::new(1, "test");
        let first = invoices.create(new_invoice("R1", 100, 0), &mut ids, 6, at(0)).number().to_owned();
        invoices.pay(&first, mpesa("P1", 100, 1)).unwrap();
        invoices.create(new_invoice("R2", 100, 0), &mut ids, 6, at(0));
        invoices.create(new_invoice("R3", 100, 0), &mut ids, 6, at(0));
        assert_eq!(invoices.len(), 2);
        assert!(invoices.get(&first).is_none() && invoices.by_client_ref("1", "R1").is_none());
        assert!(invoices.receipt("P1").is_none());
    }

    proptest! {
        #[test]
        fn amount_paid_is_always_the_sum_of_recorded_payments(
            payments in proptest::collection::vec((0usize..6, -100i64..2_000), 0..40),
        ) {
            let mut invoices = Invoices::new(100);
            let mut ids = IdGen::new(3, "prop");
            let number = invoices.create(new_invoice("R", 5_000, 250), &mut ids, 6, at(0)).number().to_owned();
            let mut recorded_total = 0i64;
            for (i, (reference, cents)) in payments.into_iter().enumerate() {
                let before = invoices.get(&number).unwrap().status();
                let minute = u32::try_from(i % 60).unwrap();
                if let Ok(Paid::Recorded(r)) = invoices.pay(&number, mpesa(&format!("REF{reference}"), cents, minute)) {
                    recorded_total += r.amount.cents();
                    prop_assert!(before != InvoiceStatus::Settled);
                }
                let invoice = invoices.get(&number).unwrap();
                prop_assert_eq!(invoice.amount_paid(), Money(recorded_total));
                prop_assert!(invoice.payments().len() <= 6);
                prop_assert_eq!(invoice.status() == InvoiceStatus::Settled, recorded_total >= 5_250);
            }
        }
    }
}
