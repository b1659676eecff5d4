//! The portal's requests (`/ipg/v1x/`): C2B single stage, B2C, B2B,
//! reversal and query transaction status, parsed into typed values or the
//! portal's refusal.
//!
//! Field sets are the Mozambique documentation's (wire contract §7.2 and its
//! source), cross-checked with the SDKs that call this gateway:
//! * C2B and B2C: `input_TransactionReference`, `input_CustomerMSISDN`,
//!   `input_Amount`, `input_ThirdPartyReference`, `input_ServiceProviderCode`
//!   (the payee on C2B, the payer on B2C). No country, currency or
//!   description: those are the OpenAPI's.
//! * B2B: `input_PrimaryPartyCode` (debited) and `input_ReceiverPartyCode`
//!   (credited) instead of the MSISDN and service provider code
//!   (abdulmueid's PHP client, paymentsds PHP; paymentsds Python sends
//!   `input_ServiceProviderCode` instead of `input_PrimaryPartyCode` and so
//!   meets `INS-20` here, as it would on the real gateway).
//! * Reversal (`PUT`): `input_TransactionID`, `input_SecurityCredential`,
//!   `input_InitiatorIdentifier`, `input_ThirdPartyReference`,
//!   `input_ServiceProviderCode`, optional `input_ReversalAmount` (absent:
//!   the whole amount). Two SDKs send `input_Amount`; it is not a reversal
//!   field and is ignored, so their reversals are whole.
//! * Query transaction status (`GET`, query string): `input_ThirdPartyReference`,
//!   `input_QueryReference` (a transaction id, third-party reference or
//!   conversation id), `input_ServiceProviderCode`.
//!
//! The MSISDN must be the market's (Mozambique: `258` + 9 digits); the local
//! 9-digit form gains the calling code; anything else is `INS-2051`.
//! Field-specific codes: `INS-13` shortcodes, `INS-14` query reference,
//! `INS-15` amounts, `INS-17` transaction reference, `INS-18` transaction id,
//! `INS-19` third-party reference, `INS-24` initiator, `INS-25` credential.

use serde_json::{Map, Value};

use crate::ledger::Money;
use crate::vodafone::api::{Api, Profile};
use crate::vodafone::codes::Ins;
use crate::vodafone::fields::{names, rules, Reader};
use crate::vodafone::markets::Market;

/// C2B (the customer pays the service provider) or B2C (the reverse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PaymentRequest {
    pub(crate) transaction_reference: String,
    /// International form, whatever form the client sent.
    pub(crate) customer_msisdn: String,
    pub(crate) amount: Money,
    pub(crate) third_party_reference: String,
    pub(crate) service_provider_code: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct B2bRequest {
    pub(crate) transaction_reference: String,
    pub(crate) amount: Money,
    pub(crate) third_party_reference: String,
    pub(crate) primary_party_code: String,
    pub(crate) receiver_party_code: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReversalRequest {
    pub(crate) transaction_id: String,
    pub(crate) security_credential: String,
    pub(crate) initiator_identifier: String,
    pub(crate) third_party_reference: String,
    pub(crate) service_provider_code: String,
    /// `None`: reverse the whole amount.
    pub(crate) reversal_amount: Option<Money>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatusQuery {
    pub(crate) third_party_reference: String,
    pub(crate) query_reference: String,
    pub(crate) service_provider_code: String,
}

/// Any portal request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PortalRequest {
    C2b(PaymentRequest),
    B2c(PaymentRequest),
    B2b(B2bRequest),
    Reversal(ReversalRequest),
    Status(StatusQuery),
}

type Refusal = crate::vodafone::error::VodafoneError;

/// Parses the body (or, for the status query, the query-string map of
/// [`crate::vodafone::fields::query_map`]) of a portal API.
pub(crate) fn parse(api: Api, body: &Map<String, Value>, market: Market) -> Result<PortalRequest, Refusal> {
    match api {
        Api::C2bSingleStage => parse_payment(api, body, market).map(PortalRequest::C2b),
        Api::B2c => parse_payment(api, body, market).map(PortalRequest::B2c),
        Api::B2b => parse_b2b(body).map(PortalRequest::B2b),
        Api::Reversal => parse_reversal(body).map(PortalRequest::Reversal),
        Api::QueryTransactionStatus => parse_status(body).map(PortalRequest::Status),
        other => Err(Reader::new(body, Profile::Portal, other)
            .error(Ins::INVALID_OPERATION_TYPE, format!("the portal has no {} API", other.operation()))),
    }
}

/// [`parse`] for a GET API, from the raw query string of the request URI.
pub(crate) fn parse_query(api: Api, query: Option<&str>, market: Market) -> Result<PortalRequest, Refusal> {
    parse(api, &crate::vodafone::fields::query_map(query), market)
}

pub(crate) fn parse_payment(api: Api, body: &Map<String, Value>, market: Market) -> Result<PaymentRequest, Refusal> {
    let r = Reader::new(body, Profile::Portal, api);
    r.require(&[
        names::TRANSACTION_REFERENCE,
        names::CUSTOMER_MSISDN,
        names::AMOUNT,
        names::THIRD_PARTY_REFERENCE,
        names::SERVICE_PROVIDER_CODE,
    ])?;
    let transaction_reference =
        r.required(names::TRANSACTION_REFERENCE, rules::TRANSACTION_REFERENCE, Ins::INVALID_TRANSACTION_REFERENCE)?;
    let customer_msisdn = market_msisdn(&r, market)?;
    let amount = r.amount(names::AMOUNT, Ins::INVALID_AMOUNT)?.0;
    let third_party_reference =
        r.required(names::THIRD_PARTY_REFERENCE, rules::THIRD_PARTY_REFERENCE, Ins::INVALID_THIRD_PARTY_REFERENCE)?;
    let service_provider_code = r.required(names::SERVICE_PROVIDER_CODE, rules::SHORTCODE, Ins::INVALID_SHORTCODE)?;
    Ok(PaymentRequest { transaction_reference, customer_msisdn, amount, third_party_reference, service_provider_code })
}

pub(crate) fn parse_b2b(body: &Map<String, Value>) -> Result<B2bRequest, Refusal> {
    let r = Reader::new(body, Profile::Portal, Api::B2b);
    r.require(&[
        names::TRANSACTION_REFERENCE,
        names::AMOUNT,
        names::THIRD_PARTY_REFERENCE,
        names::PRIMARY_PARTY_CODE,
        names::RECEIVER_PARTY_CODE,
    ])?;
    Ok(B2bRequest {
        transaction_reference: r.required(
            names::TRANSACTION_REFERENCE,
            rules::TRANSACTION_REFERENCE,
            Ins::INVALID_TRANSACTION_REFERENCE,
        )?,
        amount: r.amount(names::AMOUNT, Ins::INVALID_AMOUNT)?.0,
        third_party_reference: r.required(
            names::THIRD_PARTY_REFERENCE,
            rules::THIRD_PARTY_REFERENCE,
            Ins::INVALID_THIRD_PARTY_REFERENCE,
        )?,
        primary_party_code: r.required(names::PRIMARY_PARTY_CODE, rules::SHORTCODE, Ins::INVALID_SHORTCODE)?,
        receiver_party_code: r.required(names::RECEIVER_PARTY_CODE, rules::SHORTCODE, Ins::INVALID_SHORTCODE)?,
    })
}

pub(crate) fn parse_reversal(body: &Map<String, Value>) -> Result<ReversalRequest, Refusal> {
    let r = Reader::new(body, Profile::Portal, Api::Reversal);
    r.require(&[
        names::TRANSACTION_ID,
        names::SECURITY_CREDENTIAL,
        names::INITIATOR_IDENTIFIER,
        names::THIRD_PARTY_REFERENCE,
        names::SERVICE_PROVIDER_CODE,
    ])?;
    Ok(ReversalRequest {
        transaction_id: r.required(names::TRANSACTION_ID, rules::TRANSACTION_ID, Ins::INVALID_TRANSACTION_ID)?,
        security_credential: r.required(
            names::SECURITY_CREDENTIAL,
            rules::PORTAL_SECRET,
            Ins::INVALID_SECURITY_CREDENTIAL,
        )?,
        initiator_identifier: r.required(names::INITIATOR_IDENTIFIER, rules::PORTAL_SECRET, Ins::INVALID_INITIATOR)?,
        third_party_reference: r.required(
            names::THIRD_PARTY_REFERENCE,
            rules::THIRD_PARTY_REFERENCE,
            Ins::INVALID_THIRD_PARTY_REFERENCE,
        )?,
        service_provider_code: r.required(names::SERVICE_PROVIDER_CODE, rules::SHORTCODE, Ins::INVALID_SHORTCODE)?,
        reversal_amount: r.optional_amount(names::REVERSAL_AMOUNT, Ins::INVALID_AMOUNT)?.map(|a| a.0),
    })
}

pub(crate) fn parse_status(query: &Map<String, Value>) -> Result<StatusQuery, Refusal> {
    let r = Reader::new(query, Profile::Portal, Api::QueryTransactionStatus);
    r.require(&[names::THIRD_PARTY_REFERENCE, names::QUERY_REFERENCE, names::SERVICE_PROVIDER_CODE])?;
    Ok(StatusQuery {
        third_party_reference: r.required(
            names::THIRD_PARTY_REFERENCE,
            rules::THIRD_PARTY_REFERENCE,
            Ins::INVALID_THIRD_PARTY_REFERENCE,
        )?,
        query_reference: r.required(names::QUERY_REFERENCE, rules::PORTAL_QUERY_REFERENCE, Ins::INVALID_REFERENCE)?,
        service_provider_code: r.required(names::SERVICE_PROVIDER_CODE, rules::SHORTCODE, Ins::INVALID_SHORTCODE)?,
    })
}

fn market_msisdn(r: &Reader<'_>, market: Market) -> Result<String, Refusal> {
    let raw = r.text(names::CUSTOMER_MSISDN, Ins::MSISDN_INVALID)?.unwrap_or_default();
    market.normalize_msisdn(&raw).ok_or_else(|| {
        r.error(
            Ins::MSISDN_INVALID,
            format!(
                "{} must be {} followed by {} digits ({})",
                names::CUSTOMER_MSISDN,
                market.calling_code(),
                market.subscriber_digits(),
                crate::vodafone::fields::shape(&raw)
            ),
        )
    })
}

/// The client's reference of a request that failed to parse, when readable,
/// so the refusal can echo it as the gateway's answers do.
pub(crate) fn echoed_reference(body: &Map<String, Value>) -> Option<String> {
    match body.get(names::THIRD_PARTY_REFERENCE) {
        Some(Value::String(s)) if rules::THIRD_PARTY_REFERENCE.check(s) => Some(s.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    /// The body the Python portalsdk sample and the seed's portal send.
    fn c2b() -> Value {
        json!({
            "input_TransactionReference": "T12344C",
            "input_CustomerMSISDN": "258843330333",
            "input_Amount": "10",
            "input_ThirdPartyReference": "111PA2D",
            "input_ServiceProviderCode": "171717"
        })
    }

    fn code(result: Result<PortalRequest, Refusal>) -> String {
        result.map(|_| "INS-0".to_owned()).unwrap_or_else(|e| e.code())
    }

    #[test]
    fn the_documented_c2b_body_parses() {
        let parsed = parse(Api::C2bSingleStage, &body(c2b()), Market::Mozambique);
        assert_eq!(
            parsed,
            Ok(PortalRequest::C2b(PaymentRequest {
                transaction_reference: "T12344C".into(),
                customer_msisdn: "258843330333".into(),
                amount: Money(1000),
                third_party_reference: "111PA2D".into(),
                service_provider_code: "171717".into(),
            }))
        );
    }

    #[test]
    fn each_bad_field_gets_its_own_code() {
        let with = |field: &str, value: Value| {
            let mut b = c2b();
            b[field] = value;
            code(parse(Api::C2bSingleStage, &body(b), Market::Mozambique))
        };
        assert_eq!(with("input_Amount", json!("ten")), "INS-15");
        assert_eq!(with("input_Amount", json!(10.5)), "INS-0");
        assert_eq!(with("input_Amount", json!("0")), "INS-15");
        assert_eq!(with("input_ServiceProviderCode", json!("17")), "INS-13");
        assert_eq!(with("input_TransactionReference", json!("T-1")), "INS-17");
        assert_eq!(with("input_TransactionReference", json!(" T12344C")), "INS-0");
        assert_eq!(with("input_ThirdPartyReference", json!("a b")), "INS-19");
        assert_eq!(with("input_CustomerMSISDN", json!("843330333")), "INS-0");
        assert_eq!(with("input_CustomerMSISDN", json!("+258843330333")), "INS-2051");
        assert_eq!(with("input_CustomerMSISDN", json!(258843330333u64)), "INS-0");
        assert_eq!(with("input_Amount", json!("")), "INS-20");
        assert_eq!(with("input_Amount", json!(["10"])), "INS-15");
    }

    #[test]
    fn an_empty_or_partial_body_names_every_missing_field() {
        let err = parse(Api::B2c, &Map::new(), Market::Mozambique).unwrap_err();
        assert_eq!(err.code(), "INS-20");
        assert!(err.diagnosis.unwrap_or_default().contains("input_ServiceProviderCode"));
    }

    #[test]
    fn b2b_needs_both_party_codes() {
        let b2b = json!({
            "input_TransactionReference": "T12344C", "input_Amount": "10", "input_ThirdPartyReference": "11114",
            "input_PrimaryPartyCode": "171717", "input_ReceiverPartyCode": "979797"
        });
        assert!(matches!(parse(Api::B2b, &body(b2b.clone()), Market::Mozambique), Ok(PortalRequest::B2b(_))));
        // paymentsds Python's shape: the debited party as input_ServiceProviderCode.
        let python = json!({
            "input_TransactionReference": "T12344C", "input_Amount": "10", "input_ThirdPartyReference": "11114",
            "input_ServiceProviderCode": "171717", "input_ReceiverPartyCode": "979797"
        });
        assert_eq!(code(parse(Api::B2b, &body(python), Market::Mozambique)), "INS-20");
    }

    #[test]
    fn a_reversal_may_omit_the_amount_and_ignores_input_amount() {
        let reversal = json!({
            "input_TransactionID": "49XCDF6", "input_SecurityCredential": "Mpesa2019",
            "input_InitiatorIdentifier": "MPesa2018", "input_ThirdPartyReference": "11114",
            "input_ServiceProviderCode": "171717", "input_Amount": "10"
        });
        let Ok(PortalRequest::Reversal(parsed)) = parse(Api::Reversal, &body(reversal.clone()), Market::Mozambique)
        else {
            panic!("the documented reversal parses");
        };
        assert_eq!(parsed.reversal_amount, None);
        let mut partial = reversal;
        partial["input_ReversalAmount"] = json!("2.5");
        let Ok(PortalRequest::Reversal(parsed)) = parse(Api::Reversal, &body(partial), Market::Mozambique) else {
            panic!("a partial reversal parses");
        };
        assert_eq!(parsed.reversal_amount, Some(Money(250)));
    }

    #[test]
    fn the_status_query_reads_the_query_string() {
        let query = Some(
            "input_ThirdPartyReference=11114&input_QueryReference=AG_20180206_00005e7dccc6da08efa8&input_ServiceProviderCode=171717",
        );
        let Ok(PortalRequest::Status(status)) = parse_query(Api::QueryTransactionStatus, query, Market::Mozambique)
        else {
            panic!("the documented query parses");
        };
        assert_eq!(status.query_reference, "AG_20180206_00005e7dccc6da08efa8");
        let bad = crate::vodafone::fields::query_map(Some(
            "input_ThirdPartyReference=11114&input_QueryReference=a%26b&input_ServiceProviderCode=171717",
        ));
        assert_eq!(code(parse(Api::QueryTransactionStatus, &bad, Market::Mozambique)), "INS-14");
    }

    #[test]
    fn the_reference_is_echoed_only_when_it_is_valid() {
        assert_eq!(echoed_reference(&body(c2b())).as_deref(), Some("111PA2D"));
        assert_eq!(echoed_reference(&body(json!({"input_ThirdPartyReference": "<script>"}))), None);
    }

    proptest::proptest! {
        #[test]
        fn any_body_parses_or_is_refused_in_the_envelope(
            fields in proptest::collection::btree_map(
                proptest::sample::select(vec![
                    "input_TransactionReference", "input_CustomerMSISDN", "input_Amount",
                    "input_ThirdPartyReference", "input_ServiceProviderCode", "input_PrimaryPartyCode",
                    "input_ReceiverPartyCode", "input_TransactionID", "input_SecurityCredential",
                    "input_InitiatorIdentifier", "input_ReversalAmount", "input_QueryReference",
                ]),
                ".{0,24}",
                0..12,
            ),
            api in proptest::sample::select(Api::ALL.to_vec()),
        ) {
            let map: Map<String, Value> = fields.into_iter().map(|(k, v)| (k.to_owned(), Value::String(v))).collect();
            if let Err(e) = parse(api, &map, Market::Mozambique) {
                proptest::prop_assert!(e.code().starts_with("INS-"));
            }
        }
    }
}
