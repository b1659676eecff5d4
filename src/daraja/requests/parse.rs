//! Reading a request body as the gateway does: field presence, formats,
//! CommandIDs per API, and the contract's spellings.

use serde_json::{Map, Value};

use super::ApiKind;
use crate::daraja::error::DarajaError;
use crate::daraja::wire::{self, any_of, bounded, required, shortcode, url, whole_amount};
use crate::ledger::Money;
use crate::markets::Market;

/// A syntactically valid request.
pub(super) struct Parsed {
    pub(super) initiator: String,
    pub(super) security_credential: String,
    pub(super) command_id: String,
    pub(super) party_a: String,
    pub(super) party_b: Option<String>,
    pub(super) amount: Option<Money>,
    pub(super) remarks: Option<String>,
    pub(super) occasion: Option<String>,
    pub(super) account_reference: Option<String>,
    pub(super) transaction_id: Option<String>,
    pub(super) original_conversation_id: Option<String>,
    pub(super) result_url: String,
    pub(super) queue_timeout_url: String,
    pub(super) client_originator_id: Option<String>,
}

/// Checks a request body as the gateway does, without acting on it (what
/// the fuzz targets call).
pub(crate) fn validate(body: &Map<String, Value>, kind: ApiKind) -> Result<(), DarajaError> {
    parse(body, kind).map(|_| ())
}

pub(super) fn parse(body: &Map<String, Value>, kind: ApiKind) -> Result<Parsed, DarajaError> {
    let initiator_field = kind.first_field();
    let initiator = required(body, initiator_field)?;
    let security_credential = required(body, "SecurityCredential")?;
    let (_, command_id) = any_of(body, &["CommandID", "Command ID"])
        .ok_or_else(|| DarajaError::field("CommandID", "CommandID is missing"))?;
    if !kind.command_ids().contains(&command_id.as_str()) {
        return Err(DarajaError::field(
            "CommandID",
            format!("CommandID {command_id:?} is not one of {:?} for this API", kind.command_ids()),
        ));
    }
    let mut parsed = Parsed {
        initiator,
        security_credential,
        command_id,
        party_a: String::new(),
        party_b: None,
        amount: None,
        remarks: None,
        occasion: None,
        account_reference: None,
        transaction_id: None,
        original_conversation_id: None,
        result_url: String::new(),
        queue_timeout_url: String::new(),
        client_originator_id: None,
    };
    match kind {
        ApiKind::B2c { v3, .. } => {
            parsed.amount = Some(whole_amount(body, "Amount")?);
            parsed.party_a = shortcode(body, "PartyA")?;
            parsed.party_b = Some(wire::msisdn(body, "PartyB")?);
            if v3 {
                parsed.client_originator_id = bounded(body, "OriginatorConversationID", 1, 100)?;
            }
        }
        ApiKind::B2b | ApiKind::TaxRemittance => {
            identifier_type(body, "SenderIdentifierType", &["4"])?;
            receiver_identifier_type(body, &["4"])?;
            parsed.amount = Some(whole_amount(body, "Amount")?);
            parsed.party_a = shortcode(body, "PartyA")?;
            parsed.party_b = Some(shortcode(body, "PartyB")?);
            parsed.account_reference = bounded(body, "AccountReference", 1, 13)?;
            let needs_reference = kind == ApiKind::TaxRemittance || parsed.command_id == "BusinessPayBill";
            if needs_reference && parsed.account_reference.is_none() {
                return Err(DarajaError::field("AccountReference", "AccountReference is required for this CommandID"));
            }
            if let Some(requester) = wire::any_of(body, &["Requester"]) {
                if !Market::Kenya.is_msisdn(&requester.1) {
                    return Err(DarajaError::field("Requester", "Requester must be an MSISDN (2547XXXXXXXX)"));
                }
            }
        }
        ApiKind::Reversal => {
            parsed.transaction_id = Some(required(body, "TransactionID")?);
            parsed.amount = Some(whole_amount(body, "Amount")?);
            parsed.party_a = shortcode(body, "ReceiverParty")?;
            receiver_identifier_type(body, &["11", "4"])?;
        }
        ApiKind::TransactionStatus => {
            parsed.transaction_id = any_of(body, &["TransactionID", "Transaction ID"]).map(|(_, v)| v);
            parsed.original_conversation_id = any_of(body, &["OriginalConversationID"]).map(|(_, v)| v);
            if parsed.transaction_id.is_none() && parsed.original_conversation_id.is_none() {
                return Err(DarajaError::field(
                    "TransactionID",
                    "send TransactionID (the receipt), OriginalConversationID, or both",
                ));
            }
            parsed.party_a = shortcode(body, "PartyA")?;
            identifier_type(body, "IdentifierType", &["1", "2", "4"])?;
        }
        ApiKind::AccountBalance => {
            parsed.party_a = shortcode(body, "PartyA")?;
            identifier_type(body, "IdentifierType", &["4"])?;
        }
    }
    parsed.remarks = bounded(body, "Remarks", 2, 100)?;
    if parsed.remarks.is_none() && kind != ApiKind::AccountBalance {
        return Err(DarajaError::field("Remarks", "Remarks is missing (2 to 100 characters)"));
    }
    parsed.queue_timeout_url = url(body, "QueueTimeOutURL")?;
    parsed.result_url = url(body, "ResultURL")?;
    parsed.occasion = match any_of(body, &["Occassion", "Occasion"]) {
        Some((name, _)) => bounded(body, name, 0, 100)?,
        None => None,
    };
    Ok(parsed)
}

fn identifier_type(body: &Map<String, Value>, field: &'static str, allowed: &[&str]) -> Result<(), DarajaError> {
    let value = required(body, field)?;
    match allowed.contains(&value.as_str()) {
        true => Ok(()),
        false => Err(DarajaError::field(field, format!("{field} {value:?} is not one of {allowed:?}"))),
    }
}

/// The contract spells it `RecieverIdentifierType`; the correct spelling alone is refused.
fn receiver_identifier_type(body: &Map<String, Value>, allowed: &[&str]) -> Result<(), DarajaError> {
    if body.contains_key("ReceiverIdentifierType") && !body.contains_key("RecieverIdentifierType") {
        return Err(DarajaError::field(
            "RecieverIdentifierType",
            "the field is spelt RecieverIdentifierType in this API (ReceiverIdentifierType is not read)",
        ));
    }
    identifier_type(body, "RecieverIdentifierType", allowed)
}
