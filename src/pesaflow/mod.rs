//! Pesaflow, eCitizen's payment platform: its pure layer.
//!
//! Endpoints this module prepares for (handlers plug in through the
//! provider seam):
//! * `POST /PaymentAPI/iframev2.1.php` (live), `/api/PaymentAPI/checkout`
//!   (documented), `/PaymentAPI/invoice/checkout` (white-label): create an
//!   invoice from a hashed form or JSON; answer JSON or the payment page
//!   ([`wire::CheckoutRequest`], [`page`]).
//! * `GET /checkout?request_id=…`: the hosted payment page of an invoice.
//! * `POST /api/payment/validate`, `POST /api/payment/confirm`: banks and
//!   aggregators check and pay invoices ([`wire::ValidateRequest`],
//!   [`wire::ConfirmRequest`]).
//! * `GET /api/invoice/payment/status` (and `/invoice/payment/status`):
//!   an invoice's status ([`wire::StatusQuery`]).
//! * `POST /api/oauth/generate/token`, `POST /api/invoice/create`:
//!   server-to-server invoicing ([`token`], [`wire::InvoiceCreateRequest`]).
//! * Outbound, through the callback engine: the instant payment notification
//!   to `notificationURL` and the USSD validation request ([`notification`]).
//!
//! Every hash is computed and checked by [`crate::crypto::secure_hash`].
//! Requests are read by [`params`] and [`wire`], refused by [`error`],
//! billed and paid by [`invoice`], shaped by the `[pesaflow]` world table
//! ([`world`]) and steered by scenarios ([`scenario`]).
//!
//! **Invariant:** nothing here does I/O, reads a clock or draws randomness
//! other than from the [`crate::ids::IdGen`] passed in; nothing panics on
//! request, world or scenario data.
//! **Invariant:** this module never imports another provider.

pub(crate) mod amount;
pub(crate) mod checks;
pub(crate) mod error;
pub(crate) mod invoice;
pub(crate) mod notification;
pub(crate) mod page;
pub(crate) mod params;
pub(crate) mod scenario;
pub(crate) mod token;
pub(crate) mod wire;
pub(crate) mod world;

/// The provider's name in journals, scenario files and admin paths.
pub(crate) const PROVIDER: &str = "pesaflow";

/// The path prefixes Pesaflow owns on the shared port (longest prefix wins).
pub(crate) const PREFIXES: &[&str] = &[
    "/PaymentAPI/",
    "/api/PaymentAPI/",
    "/api/payment/",
    "/api/invoice/",
    "/invoice/payment/",
    "/api/oauth/generate/",
    "/checkout",
];

/// The hosted page of an invoice: `<base>/checkout?request_id=<token>`.
pub(crate) const CHECKOUT_PAGE_PATH: &str = "/checkout";
pub(crate) const VALIDATE_PATH: &str = "/api/payment/validate";
pub(crate) const CONFIRM_PATH: &str = "/api/payment/confirm";
pub(crate) const STATUS_PATH: &str = "/api/invoice/payment/status";
/// The status path of the guide's PHP and Elixir samples.
pub(crate) const UNPREFIXED_STATUS_PATH: &str = "/invoice/payment/status";
pub(crate) const TOKEN_PATH: &str = "/api/oauth/generate/token";
pub(crate) const INVOICE_CREATE_PATH: &str = "/api/invoice/create";

/// The `invoice_link` of an invoice, as the live server writes it.
pub(crate) fn invoice_link(base_url: &str, request_id: &str) -> String {
    format!("{}{CHECKOUT_PAGE_PATH}?request_id={request_id}", base_url.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pesaflow::wire::CheckoutPath;

    #[test]
    fn every_path_falls_under_a_prefix() {
        let paths = [
            CheckoutPath::Iframe.path(),
            CheckoutPath::Documented.path(),
            CheckoutPath::WhiteLabel.path(),
            CHECKOUT_PAGE_PATH,
            VALIDATE_PATH,
            CONFIRM_PATH,
            STATUS_PATH,
            UNPREFIXED_STATUS_PATH,
            TOKEN_PATH,
            INVOICE_CREATE_PATH,
        ];
        for path in paths {
            assert!(PREFIXES.iter().any(|p| path.starts_with(p)), "{path}");
        }
    }

    #[test]
    fn the_invoice_link_has_the_live_shape() {
        assert_eq!(
            invoice_link("http://127.0.0.1:3000/", "d8HbuZT_0nO3XLjH7nRy"),
            "http://127.0.0.1:3000/checkout?request_id=d8HbuZT_0nO3XLjH7nRy"
        );
    }
}
