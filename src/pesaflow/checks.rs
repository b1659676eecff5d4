//! The checks every Pesaflow handler makes, in the order it makes them, as
//! pure functions from a parsed request and the world to what to do next or
//! the error to answer with.
//!
//! Order, for every hashed request: maintenance window, known client, hash,
//! then what the request names (service, invoice, currency). A hash is
//! checked before anything it covers, so a wrong hash is reported as such
//! even when a hashed field is also wrong.
//!
//! Decisions where no source shows the live answer:
//! an unknown `apiClientID` is a 401 (no key to check the hash with); an
//! unknown `serviceID` is the checkout's 422 (one live 422 went with a
//! wrong serviceID); another client's service is a 403; a currency other
//! than the service's is the checkout's 422.

use chrono::{DateTime, Utc};

use super::error::{Envelope, ErrorKind, PesaflowError};
use super::invoice::{Channel, Invoice, Invoices, NewInvoice, Origin, Payment, PaymentIn};
use super::params::{FieldError, FieldProblem, Params};
use super::wire::{CheckoutPath, CheckoutRequest, ConfirmRequest, InvoiceCreateRequest, ValidateRequest};
use super::world::{Client, Service, StatusRefNo, World};
use crate::crypto::secure_hash::{verify, Recipe};

/// A maintenance window answers every Pesaflow path.
pub(crate) fn maintenance(world: &World, at: DateTime<Utc>, envelope: Envelope) -> Result<(), PesaflowError> {
    match world.maintenance_at(at) {
        Some(window) => Err(PesaflowError::new(
            ErrorKind::Maintenance(window),
            envelope,
            "a maintenance window of the world's [pesaflow] table is open",
        )),
        None => Ok(()),
    }
}

/// The client named by the request, authenticated by its hash.
pub(crate) fn authenticate<'w>(
    world: &'w World,
    api_client_id: &str,
    recipe: Recipe,
    values: &[&str],
    given: &str,
    hash_field: &str,
    envelope: Envelope,
) -> Result<&'w Client, PesaflowError> {
    let client = world.client(api_client_id).ok_or_else(|| {
        let known: Vec<&str> = world.clients.keys().map(String::as_str).collect();
        PesaflowError::new(
            ErrorKind::InvalidSecureHash,
            envelope,
            format!(
                "api client {api_client_id:?} is not in the world's [pesaflow] clients ({}), so no key checks its {hash_field}",
                known.join(", ")
            ),
        )
    })?;
    verify(recipe, values, client.hash_key(), given, world.hash.accepted)
        .map_err(|mismatch| PesaflowError::hash(envelope, hash_field, &mismatch))?;
    Ok(client)
}

/// A checkout's client, authenticated, and the service it bills.
pub(crate) fn checkout<'w>(
    world: &'w World,
    request: &CheckoutRequest,
    params: &Params,
) -> Result<(&'w Client, &'w Service), PesaflowError> {
    let client = authenticate(
        world,
        &request.api_client_id,
        Recipe::Checkout,
        &request.hash_values(),
        &request.secure_hash,
        "secureHash",
        Envelope::Error,
    )?;
    let service = world.service(&request.service_id).ok_or_else(|| {
        let error = FieldError::new(
            "serviceID",
            FieldProblem::NotOneOf {
                allowed: format!(
                    "the services of api client {} ({})",
                    client.api_client_id,
                    world
                        .services_of(&client.api_client_id)
                        .map(|s| s.service_id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                given: request.service_id.clone(),
            },
        );
        PesaflowError::field(Envelope::Error, &error, params)
    })?;
    owned_by(service, client, Envelope::Error)?;
    if service.currency != request.currency {
        let error = FieldError::new(
            "currency",
            FieldProblem::NotOneOf {
                allowed: service.currency.as_str().into(),
                given: request.currency.as_str().to_owned(),
            },
        );
        return Err(PesaflowError::field(Envelope::Error, &error, params));
    }
    Ok((client, service))
}

/// A client may bill only its own services: 403 Forbidden Access otherwise.
fn owned_by(service: &Service, client: &Client, envelope: Envelope) -> Result<(), PesaflowError> {
    if service.api_client_id == client.api_client_id {
        return Ok(());
    }
    Err(PesaflowError::new(
        ErrorKind::Forbidden,
        envelope,
        format!(
            "service {} belongs to api client {}, not {}",
            service.service_id, service.api_client_id, client.api_client_id
        ),
    ))
}

/// The invoice a checkout bills.
pub(crate) fn checkout_invoice(request: &CheckoutRequest, service: &Service, path: CheckoutPath) -> NewInvoice {
    let net = request.amount_expected.money();
    NewInvoice {
        api_client_id: request.api_client_id.clone(),
        service_id: service.service_id.clone(),
        client_invoice_ref: request.bill_ref_number.clone(),
        currency: request.currency,
        amount_net: net,
        amount_text: request.amount_expected.text().to_owned(),
        commission: service.commission.on(net),
        bill_desc: request.bill_desc.clone(),
        client_name: request.client_name.clone(),
        client_id_number: request.client_id_number.clone(),
        client_msisdn: request.msisdn().or_else(|| request.client_msisdn.clone()),
        client_email: request.client_email.clone(),
        notification_url: request.notification_url.clone(),
        callback_url_on_success: request.callback_url_on_success.clone(),
        callback_url_on_failure: request.callback_url_on_failure.clone(),
        picture_url: request.picture_url.clone(),
        origin: Origin::Checkout(path),
    }
}

/// The service an `invoice/create` bills: `account_id` names a service of
/// the token's client; some integrations send their api_client_id there,
/// which is accepted when the client has exactly one service.
pub(crate) fn invoice_create<'w>(
    world: &'w World,
    client: &Client,
    request: &InvoiceCreateRequest,
) -> Result<&'w Service, PesaflowError> {
    if !client.invoice_create {
        return Err(PesaflowError::new(
            ErrorKind::NotGranted,
            Envelope::StatusMessage,
            format!("api client {} has invoice_create = false in the world's [pesaflow] clients", client.api_client_id),
        ));
    }
    let service = match world.service(&request.account_id) {
        Some(service) => service,
        None if request.account_id == client.api_client_id => {
            let mut own = world.services_of(&client.api_client_id);
            match (own.next(), own.next()) {
                (Some(only), None) => only,
                _ => {
                    return Err(PesaflowError::new(
                        ErrorKind::BadRequest,
                        Envelope::StatusMessage,
                        format!(
                            "account_id {:?} is the api client, which has several services: send the service id",
                            request.account_id
                        ),
                    ))
                }
            }
        }
        None => {
            return Err(PesaflowError::new(
                ErrorKind::BadRequest,
                Envelope::StatusMessage,
                format!("account_id {:?} is not a service of the world's [pesaflow] services", request.account_id),
            ))
        }
    };
    owned_by(service, client, Envelope::StatusMessage)?;
    if service.currency != request.currency {
        return Err(PesaflowError::new(
            ErrorKind::BadRequest,
            Envelope::StatusMessage,
            format!(
                "currency {} is not service {}'s currency {}",
                request.currency, service.service_id, service.currency
            ),
        ));
    }
    Ok(service)
}

/// The invoice an `invoice/create` bills: the same as a checkout's, the
/// service's fee added to `amount_net` (or `amount_expected` without it).
pub(crate) fn created_invoice(request: &InvoiceCreateRequest, client: &Client, service: &Service) -> NewInvoice {
    let net = request.amount_net.as_ref().unwrap_or(&request.amount_expected);
    NewInvoice {
        api_client_id: client.api_client_id.clone(),
        service_id: service.service_id.clone(),
        client_invoice_ref: request.client_invoice_ref.clone(),
        currency: request.currency,
        amount_net: net.money(),
        amount_text: net.text().to_owned(),
        commission: service.commission.on(net.money()),
        bill_desc: request.desc.clone().or_else(|| request.items.first().map(|i| i.desc.clone())).unwrap_or_default(),
        client_name: request.name.clone(),
        client_id_number: request.id_number.clone().unwrap_or_default(),
        client_msisdn: request
            .msisdn
            .as_deref()
            .and_then(super::wire::normalise_msisdn)
            .or_else(|| request.msisdn.clone()),
        client_email: request.email.clone(),
        notification_url: request.notification_url.clone(),
        callback_url_on_success: request.callback_url.clone(),
        callback_url_on_failure: None,
        picture_url: None,
        origin: Origin::InvoiceCreate,
    }
}

/// A client's invoice by the reference a request sends: the invoice number,
/// or also the merchant's own reference when the world allows it.
pub(crate) fn find_invoice<'i>(
    world: &World,
    invoices: &'i Invoices,
    api_client_id: &str,
    ref_no: &str,
) -> Option<&'i Invoice> {
    invoices.find(api_client_id, ref_no, world.status_ref_no == StatusRefNo::InvoiceNumberOrClientRef)
}

/// The invoice an aggregator names, once its request is authenticated by
/// `(recipe, values, secure_hash)`; or the documented 404 `Bill not found`.
fn bill<'i>(
    world: &World,
    invoices: &'i Invoices,
    api_client_id: &str,
    ref_no: &str,
    (recipe, values, given): (Recipe, &[&str], &str),
) -> Result<&'i Invoice, PesaflowError> {
    authenticate(world, api_client_id, recipe, values, given, "secure_hash", Envelope::StatusDescription)?;
    find_invoice(world, invoices, api_client_id, ref_no).ok_or_else(|| {
        PesaflowError::new(
            ErrorKind::BillNotFound,
            Envelope::StatusDescription,
            format!("api client {api_client_id} has no invoice {ref_no:?}"),
        )
    })
}

/// An aggregator's validation: the invoice, in the request's currency.
pub(crate) fn validate<'i>(
    world: &World,
    invoices: &'i Invoices,
    request: &ValidateRequest,
) -> Result<&'i Invoice, PesaflowError> {
    let hashed = (Recipe::Validate, &request.hash_values()[..], request.secure_hash.as_str());
    let invoice = bill(world, invoices, &request.api_client_id, &request.ref_no, hashed)?;
    if invoice.details.currency != request.currency {
        return Err(PesaflowError::new(
            ErrorKind::BadRequest,
            Envelope::StatusDescription,
            format!("invoice {} is in {}, not {}", invoice.number, invoice.details.currency, request.currency),
        ));
    }
    Ok(invoice)
}

/// An aggregator's confirmation, authenticated, as a payment to record on
/// the invoice it names (whose number is returned with it).
pub(crate) fn confirm(
    world: &World,
    invoices: &Invoices,
    request: &ConfirmRequest,
    at: DateTime<Utc>,
) -> Result<(String, PaymentIn), PesaflowError> {
    let hashed = (Recipe::Confirm, &request.hash_values()[..], request.secure_hash.as_str());
    let invoice = bill(world, invoices, &request.api_client_id, &request.ref_no, hashed)?;
    let payment = Payment {
        reference: request.gateway_transaction_id.clone(),
        channel: Channel::Aggregator,
        amount: request.amount.money(),
        // The aggregator's date has no zone; the sandbox clock dates the payment.
        paid_at: at,
        payer: Some(request.customer_account_number.clone()),
        payer_name: Some(request.customer_name.clone()),
    };
    Ok((
        invoice.number.clone(),
        PaymentIn {
            payment,
            currency: request.currency,
            overpayment: world.overpayment,
            notify_on: world.notification.notify_on,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::secure_hash::{secure_hash, HashEncoding};
    use crate::ids::IdGen;
    use crate::ledger::Money;
    use crate::pesaflow::invoice::{tests::at, Created, Paid};
    use crate::pesaflow::wire::FieldNames;

    fn signed_checkout(
        world: &World,
        client: &str,
        service: &str,
        currency: &str,
        amount: &str,
    ) -> (Params, CheckoutRequest) {
        let unsigned = format!(
            "apiClientID={client}&serviceID={service}&billDesc=Search&currency={currency}&billRefNumber=REF-1\
&clientMSISDN=0712345678&clientName=Jane+Doe&clientIDNumber=12345678&amountExpected={amount}\
&notificationURL=https%3A%2F%2Fshop.example%2Fipn&format=json&secureHash=x"
        );
        let request =
            CheckoutRequest::parse(&Params::from_form(unsigned.as_bytes()), CheckoutPath::Iframe, FieldNames::Lenient)
                .unwrap();
        let key = world
            .client(client)
            .map(Client::hash_key)
            .unwrap_or(crate::crypto::secure_hash::HashKey { key: "unknown", secret: "unknown" });
        let hash = secure_hash(Recipe::Checkout, &request.hash_values(), key, HashEncoding::Base64OfHex).unwrap();
        let signed = unsigned.replace("secureHash=x", &format!("secureHash={}", urlencode(&hash)));
        let params = Params::from_form(signed.as_bytes());
        let request = CheckoutRequest::parse(&params, CheckoutPath::Iframe, FieldNames::Lenient).unwrap();
        (params, request)
    }

    fn urlencode(text: &str) -> String {
        url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
    }

    #[test]
    fn a_signed_checkout_bills_the_service_with_its_fee() {
        let world = World::default_world();
        let (params, request) = signed_checkout(&world, "1", "1001", "KES", "100.00");
        let (client, service) = checkout(&world, &request, &params).unwrap();
        assert_eq!((client.api_client_id.as_str(), service.service_id.as_str()), ("1", "1001"));
        let new = checkout_invoice(&request, service, CheckoutPath::Iframe);
        assert_eq!((new.amount_net, new.commission), (Money(10000), Money(500)));
        assert_eq!(new.client_msisdn.as_deref(), Some("254712345678"));
    }

    #[test]
    fn checkout_refusals_come_in_check_order() {
        let world = World::default_world();
        let (params, mut request) = signed_checkout(&world, "1", "1001", "KES", "100.00");
        request.bill_desc.push('!');
        let err = checkout(&world, &request, &params).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidSecureHash);
        assert!(err.diagnosis.unwrap().contains("checkout recipe"));

        let (params, request) = signed_checkout(&world, "9", "1001", "KES", "100.00");
        let err = checkout(&world, &request, &params).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidSecureHash);
        assert!(err.diagnosis.unwrap().contains("\"9\" is not in the world's [pesaflow] clients (1, 2)"));

        let (params, request) = signed_checkout(&world, "1", "7777", "KES", "100.00");
        let err = checkout(&world, &request, &params).unwrap_err();
        assert!(matches!(err.kind, ErrorKind::InvalidParams { .. }));
        assert_eq!(err.status().as_u16(), 422);
        assert_eq!(
            err.diagnosis.as_deref(),
            Some("serviceID must be one of the services of api client 1 (1001, 1002), got \"7777\"")
        );

        let (params, request) = signed_checkout(&world, "1", "2001", "KES", "100.00");
        assert_eq!(checkout(&world, &request, &params).unwrap_err().kind, ErrorKind::Forbidden);

        let (params, request) = signed_checkout(&world, "1", "1001", "USD", "100.00");
        let err = checkout(&world, &request, &params).unwrap_err();
        assert_eq!(err.diagnosis.as_deref(), Some("currency must be one of KES, got \"USD\""));
    }

    #[test]
    fn an_aggregator_validates_then_confirms_once() {
        let world = World::default_world();
        let mut invoices = Invoices::new(100);
        let mut ids = IdGen::new(1, "t");
        let (params, request) = signed_checkout(&world, "1", "1001", "KES", "100.00");
        let (_, service) = checkout(&world, &request, &params).unwrap();
        let number =
            match invoices.create(checkout_invoice(&request, service, CheckoutPath::Iframe), &mut ids, 6, at(0)) {
                Created::New(n) | Created::Reused(n) => n,
            };
        let key = world.client("1").unwrap().hash_key();

        let validate_hash =
            secure_hash(Recipe::Validate, &["1", &number, "105"], key, HashEncoding::Base64OfHex).unwrap();
        let body = format!(
            r#"{{"api_client_id":"1","ref_no":"{number}","currency":"KES","amount":"105","secure_hash":"{validate_hash}"}}"#
        );
        let request = ValidateRequest::parse(&Params::from_json(body.as_bytes()).unwrap()).unwrap();
        assert_eq!(validate(&world, &invoices, &request).unwrap().balance(), Money(10500));

        let values = ["1", number.as_str(), "105", "KES", "1234434", "2021-01-26 15:30:01", "JOHN DOE", "438485959"];
        let confirm_hash = secure_hash(Recipe::Confirm, &values, key, HashEncoding::Base64OfHex).unwrap();
        let body = format!(
            r#"{{"api_client_id":"1","ref_no":"{number}","amount":"105","currency":"KES","gateway_transaction_id":"1234434",
               "gateway_transaction_date":"2021-01-26 15:30:01","customer_name":"JOHN DOE",
               "customer_account_number":"438485959","secure_hash":"{confirm_hash}"}}"#
        );
        let request = ConfirmRequest::parse(&Params::from_json(body.as_bytes()).unwrap()).unwrap();
        let (target, payment) = confirm(&world, &invoices, &request, at(5)).unwrap();
        assert!(matches!(invoices.pay(&target, payment.clone()), Ok(Paid::Recorded(r)) if r.notify));
        assert!(matches!(invoices.pay(&target, payment), Ok(Paid::Repeated(_))));
        assert_eq!(invoices.get(&number).unwrap().amount_paid(), Money(10500));

        let body = format!(
            r#"{{"api_client_id":"1","ref_no":"NOPE","currency":"KES","amount":"105","secure_hash":"{validate_hash}"}}"#
        );
        let request = ValidateRequest::parse(&Params::from_json(body.as_bytes()).unwrap()).unwrap();
        assert_eq!(
            validate(&world, &invoices, &request).unwrap_err().kind,
            ErrorKind::InvalidSecureHash,
            "the hash covers ref_no"
        );
    }

    #[test]
    fn invoice_create_needs_the_grant_and_a_service_of_the_client() {
        let world = World::default_world();
        let body = |account: &str| {
            format!(
                r#"{{"account_id":"{account}","amount_expected":"100.00","client_invoice_ref":"R","currency":"KES","name":"N"}}"#
            )
        };
        let parse = |text: String| InvoiceCreateRequest::parse(&Params::from_json(text.as_bytes()).unwrap()).unwrap();
        let agency = world.client("1").unwrap();
        let county = world.client("2").unwrap();
        assert_eq!(invoice_create(&world, county, &parse(body("2001"))).unwrap_err().kind, ErrorKind::NotGranted);
        let service = invoice_create(&world, agency, &parse(body("1001"))).unwrap();
        let new = created_invoice(&parse(body("1001")), agency, service);
        assert_eq!((new.amount_net, new.commission), (Money(10000), Money(500)));
        assert_eq!(invoice_create(&world, agency, &parse(body("2001"))).unwrap_err().kind, ErrorKind::Forbidden);
        let err = invoice_create(&world, agency, &parse(body("1"))).unwrap_err();
        assert!(err.diagnosis.unwrap().contains("several services"), "client 1 has two services");
    }

    #[test]
    fn maintenance_windows_answer_before_anything_else() {
        let overlay: crate::pesaflow::world::WorldDoc = toml::from_str(
            "[[maintenance]]\nfrom = \"2025-05-29T00:00:00Z\"\nuntil = \"2025-05-30T00:00:00Z\"\nstatus = 503",
        )
        .unwrap();
        let world = World::from_overlays(&[overlay]).unwrap();
        let err = maintenance(&world, at(0), Envelope::Error).unwrap_err();
        assert_eq!(err.status().as_u16(), 503);
        assert!(maintenance(&World::default_world(), at(0), Envelope::Error).is_ok());
    }
}
