//! The bodies the provider writes, in wire order, and the acknowledgement
//! contract of its asynchronous results.
//!
//! Key order follows captured traffic where there is some and the
//! documentation's field lists otherwise:
//! * Portal payment answers: `output_ResponseCode`, `output_ResponseDesc`,
//!   `output_TransactionID`, `output_ConversationID`,
//!   `output_ThirdPartyReference` (a live Mozambique C2B answer in a public
//!   database dump; the same order in a portal SDK's test fixtures). The
//!   asynchronous acknowledgement is the same without the transaction id.
//! * Portal status answers carry `output_ResponseTransactionStatus` and no
//!   conversation or transaction id: abdulmueid's PHP test suite, run
//!   against the sandbox, asserts both empty for a query and set for a
//!   payment or refund.
//! * OpenAPI answers: code, description, `output_TransactionID`,
//!   `output_ConversationID`, `output_ThirdPartyConversationID` (Golang
//!   `C2BPaymentResponse` and GoPesa's printed output); the other APIs in the
//!   documentation's order.
//! * Results POSTed to the listener (§6): `input_OriginalConversationID`
//!   first, the result code and description, the client's reference; the
//!   listener must answer `{output_OriginalConversationID,
//!   output_ResponseCode: "0", output_ResponseDesc,
//!   output_ThirdPartyConversationID}` (`INS-0` for Query Direct Debit).
//!
//! Flags are the strings `True` and `False`, as the documentation's samples
//! write `output_Reversed` and `output_SufficientBalance`.

use serde::Serialize;
use serde_json::Value;

use crate::vodafone::api::Api;

/// `True` / `False`, as the gateways write flags.
pub(crate) fn flag(value: bool) -> &'static str {
    if value {
        "True"
    } else {
        "False"
    }
}

/// `output_ResponseCode` and `output_ResponseDesc`, first in every answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Head {
    #[serde(rename = "output_ResponseCode")]
    pub(crate) code: String,
    #[serde(rename = "output_ResponseDesc")]
    pub(crate) desc: String,
}

impl Head {
    pub(crate) fn new(code: impl Into<String>, desc: impl Into<String>) -> Head {
        Head { code: code.into(), desc: desc.into() }
    }
}

/// `output_ConversationID` and `output_ThirdPartyConversationID`, side by
/// side in every OpenAPI answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Conversation {
    #[serde(rename = "output_ConversationID")]
    pub(crate) conversation_id: String,
    #[serde(rename = "output_ThirdPartyConversationID")]
    pub(crate) third_party_conversation_id: String,
}

impl Conversation {
    pub(crate) fn new(conversation_id: impl Into<String>, third_party: impl Into<String>) -> Conversation {
        Conversation { conversation_id: conversation_id.into(), third_party_conversation_id: third_party.into() }
    }
}

/// A transaction's state as status queries report it (the Mozambique
/// documentation's vocabulary; the OpenAPI documentation shows `Completed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum TransactionStatus {
    Completed,
    Pending,
    Cancelled,
    Expired,
    Failed,
    /// `N/A`: no status is known.
    NotAvailable,
}

impl TransactionStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TransactionStatus::Completed => "Completed",
            TransactionStatus::Pending => "Pending",
            TransactionStatus::Cancelled => "Cancelled",
            TransactionStatus::Expired => "Expired",
            TransactionStatus::Failed => "Failed",
            TransactionStatus::NotAvailable => "N/A",
        }
    }
}

// ---------------------------------------------------------------------------
// Portal answers.

/// C2B, B2C, B2B and reversal, synchronous (with the transaction id) or the
/// acknowledgement of an asynchronous request (without it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct PortalResponse {
    #[serde(flatten)]
    pub(crate) head: Head,
    #[serde(rename = "output_TransactionID", skip_serializing_if = "Option::is_none")]
    pub(crate) transaction_id: Option<String>,
    #[serde(rename = "output_ConversationID")]
    pub(crate) conversation_id: String,
    #[serde(rename = "output_ThirdPartyReference")]
    pub(crate) third_party_reference: String,
}

/// The portal's status query answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct PortalStatusResponse {
    #[serde(flatten)]
    pub(crate) head: Head,
    #[serde(rename = "output_ResponseTransactionStatus")]
    pub(crate) transaction_status: &'static str,
    /// Left out by default (see the module documentation); the Mozambique
    /// documentation's table lists it.
    #[serde(rename = "output_ConversationID", skip_serializing_if = "Option::is_none")]
    pub(crate) conversation_id: Option<String>,
    #[serde(rename = "output_ThirdPartyReference")]
    pub(crate) third_party_reference: String,
}

/// How the portal's asynchronous results write a success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) enum ResultCodeStyle {
    /// `"0"` / `"Request Processed Successfully"`, as the Mozambique
    /// documentation's callback sample writes it; failures keep their
    /// `INS-<n>` code (the default).
    #[default]
    Zero,
    /// `"INS-0"` / `"Request processed successfully"`, as the synchronous
    /// answers and the OpenAPI's results write it.
    Ins,
}

impl ResultCodeStyle {
    /// The `input_ResultCode` and `input_ResultDesc` for an outcome.
    pub(crate) fn apply(self, code: &str, desc: &str) -> (String, String) {
        match (self, code) {
            (ResultCodeStyle::Zero, "INS-0") => ("0".into(), "Request Processed Successfully".into()),
            _ => (code.to_owned(), desc.to_owned()),
        }
    }
}

/// The portal's asynchronous result, POSTed to the account's URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct PortalCallback {
    #[serde(rename = "input_OriginalConversationID")]
    pub(crate) original_conversation_id: String,
    #[serde(rename = "input_ThirdPartyReference")]
    pub(crate) third_party_reference: String,
    #[serde(rename = "input_TransactionID")]
    pub(crate) transaction_id: String,
    #[serde(rename = "input_ResultCode")]
    pub(crate) result_code: String,
    #[serde(rename = "input_ResultDesc")]
    pub(crate) result_desc: String,
}

// ---------------------------------------------------------------------------
// OpenAPI answers.

/// `getSession`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct SessionResponse {
    #[serde(flatten)]
    pub(crate) head: Head,
    #[serde(rename = "output_SessionID")]
    pub(crate) session_id: String,
}

/// C2B, B2C, B2B and reversal, synchronous (with the transaction id) or the
/// acknowledgement of an asynchronous request (without it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct OpenApiResponse {
    #[serde(flatten)]
    pub(crate) head: Head,
    #[serde(rename = "output_TransactionID", skip_serializing_if = "Option::is_none")]
    pub(crate) transaction_id: Option<String>,
    #[serde(flatten)]
    pub(crate) ids: Conversation,
}

/// Query transaction status; the status fields are absent from an
/// asynchronous acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct OpenApiStatusResponse {
    #[serde(flatten)]
    pub(crate) head: Head,
    #[serde(rename = "output_ResponseTransactionStatus", skip_serializing_if = "Option::is_none")]
    pub(crate) transaction_status: Option<&'static str>,
    #[serde(flatten)]
    pub(crate) ids: Conversation,
    #[serde(rename = "output_OriginalTransactionID", skip_serializing_if = "Option::is_none")]
    pub(crate) original_transaction_id: Option<String>,
    #[serde(rename = "output_Reversed", skip_serializing_if = "Option::is_none")]
    pub(crate) reversed: Option<&'static str>,
}

/// Query beneficiary name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct BeneficiaryNameResponse {
    #[serde(flatten)]
    pub(crate) head: Head,
    #[serde(rename = "output_CustomerFirstName", skip_serializing_if = "Option::is_none")]
    pub(crate) first_name: Option<String>,
    #[serde(rename = "output_CustomerLastName", skip_serializing_if = "Option::is_none")]
    pub(crate) last_name: Option<String>,
    #[serde(flatten)]
    pub(crate) ids: Conversation,
}

/// Direct debit creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct DirectDebitCreateResponse {
    #[serde(flatten)]
    pub(crate) head: Head,
    #[serde(rename = "output_TransactionReference", skip_serializing_if = "Option::is_none")]
    pub(crate) transaction_reference: Option<String>,
    /// "Only returned in successful messages."
    #[serde(rename = "output_MsisdnToken", skip_serializing_if = "Option::is_none")]
    pub(crate) msisdn_token: Option<String>,
    #[serde(flatten)]
    pub(crate) ids: Conversation,
    #[serde(rename = "output_MandateID", skip_serializing_if = "Option::is_none")]
    pub(crate) mandate_id: Option<String>,
}

/// Direct debit payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct DirectDebitPaymentResponse {
    #[serde(flatten)]
    pub(crate) head: Head,
    #[serde(rename = "output_TransactionID", skip_serializing_if = "Option::is_none")]
    pub(crate) transaction_id: Option<String>,
    #[serde(rename = "output_MsisdnToken", skip_serializing_if = "Option::is_none")]
    pub(crate) msisdn_token: Option<String>,
    #[serde(flatten)]
    pub(crate) ids: Conversation,
}

/// Direct debit cancellation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct DirectDebitCancelResponse {
    #[serde(flatten)]
    pub(crate) head: Head,
    #[serde(rename = "output_TransactionReference", skip_serializing_if = "Option::is_none")]
    pub(crate) transaction_reference: Option<String>,
    #[serde(rename = "output_MsisdnToken", skip_serializing_if = "Option::is_none")]
    pub(crate) msisdn_token: Option<String>,
    #[serde(flatten)]
    pub(crate) ids: Conversation,
}

/// A mandate's fields as Query Direct Debit reports them, after the
/// conversation ids (in its answer with the `output_` prefix, in its
/// asynchronous result with `input_`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct MandateView {
    pub(crate) sufficient_balance: Option<bool>,
    pub(crate) msisdn_token: Option<String>,
    pub(crate) mandate_id: Option<String>,
    /// `Active`, `Pending Approval`, `Cancelled`, `Expired`.
    pub(crate) mandate_status: Option<&'static str>,
    /// `Active`, `Pending Approval`, `Locked`, `Inactive`.
    pub(crate) account_status: Option<&'static str>,
    pub(crate) first_payment_date: Option<String>,
    pub(crate) frequency: Option<&'static str>,
    pub(crate) payment_day_from: Option<String>,
    pub(crate) payment_day_to: Option<String>,
    pub(crate) expiry_date: Option<String>,
}

/// A [`MandateView`] written with a prefix, in the documentation's order;
/// absent fields are left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MandateFields {
    prefix: &'static str,
    view: MandateView,
}

impl MandateFields {
    pub(crate) fn output(view: MandateView) -> MandateFields {
        MandateFields { prefix: "output", view }
    }

    pub(crate) fn input(view: MandateView) -> MandateFields {
        MandateFields { prefix: "input", view }
    }
}

impl Serialize for MandateFields {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let v = &self.view;
        let entries = [
            ("SufficientBalance", v.sufficient_balance.map(flag)),
            ("MsisdnToken", v.msisdn_token.as_deref()),
            ("MandateID", v.mandate_id.as_deref()),
            ("MandateStatus", v.mandate_status),
            ("AccountStatus", v.account_status),
            ("FirstPaymentDate", v.first_payment_date.as_deref()),
            ("Frequency", v.frequency),
            ("PaymentDayFrom", v.payment_day_from.as_deref()),
            ("PaymentDayTo", v.payment_day_to.as_deref()),
            ("ExpiryDate", v.expiry_date.as_deref()),
        ];
        let mut map = serializer.serialize_map(None)?;
        for (name, value) in entries {
            if let Some(value) = value {
                map.serialize_entry(&format!("{}_{name}", self.prefix), value)?;
            }
        }
        map.end()
    }
}

/// Query Direct Debit's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct DirectDebitQueryResponse {
    #[serde(flatten)]
    pub(crate) head: Head,
    #[serde(rename = "output_TransactionReference", skip_serializing_if = "Option::is_none")]
    pub(crate) transaction_reference: Option<String>,
    #[serde(flatten)]
    pub(crate) ids: Conversation,
    #[serde(flatten)]
    pub(crate) mandate: MandateFields,
}

// ---------------------------------------------------------------------------
// OpenAPI asynchronous results (§6).

/// The result of every OpenAPI call but Query Direct Debit. The optional
/// fields are the per-API extras, placed where each API's list puts them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct OpenApiCallback {
    #[serde(rename = "input_OriginalConversationID")]
    pub(crate) original_conversation_id: String,
    /// C2B, B2C, B2B, reversal, status, direct debit payment.
    #[serde(rename = "input_TransactionID", skip_serializing_if = "Option::is_none")]
    pub(crate) transaction_id: Option<String>,
    /// Direct debit creation and cancellation.
    #[serde(rename = "input_TransactionReference", skip_serializing_if = "Option::is_none")]
    pub(crate) transaction_reference: Option<String>,
    /// Direct debit creation, payment and cancellation.
    #[serde(rename = "input_MsisdnToken", skip_serializing_if = "Option::is_none")]
    pub(crate) msisdn_token: Option<String>,
    /// Query beneficiary name.
    #[serde(rename = "input_CustomerFirstName", skip_serializing_if = "Option::is_none")]
    pub(crate) first_name: Option<String>,
    #[serde(rename = "input_CustomerLastName", skip_serializing_if = "Option::is_none")]
    pub(crate) last_name: Option<String>,
    #[serde(rename = "input_ResultCode")]
    pub(crate) result_code: String,
    #[serde(rename = "input_ResultDesc")]
    pub(crate) result_desc: String,
    #[serde(rename = "input_ThirdPartyConversationID")]
    pub(crate) third_party_conversation_id: String,
    /// Direct debit creation.
    #[serde(rename = "input_MandateID", skip_serializing_if = "Option::is_none")]
    pub(crate) mandate_id: Option<String>,
    /// Query transaction status.
    #[serde(rename = "input_OriginalTransactionID", skip_serializing_if = "Option::is_none")]
    pub(crate) original_transaction_id: Option<String>,
    #[serde(rename = "input_Reversed", skip_serializing_if = "Option::is_none")]
    pub(crate) reversed: Option<&'static str>,
}

/// Query Direct Debit's asynchronous result: `input_ResponseCode` and
/// `input_ResponseDesc` rather than `ResultCode`, and the mandate's fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct DirectDebitQueryCallback {
    #[serde(rename = "input_OriginalConversationID")]
    pub(crate) original_conversation_id: String,
    #[serde(rename = "input_ResponseCode")]
    pub(crate) code: String,
    #[serde(rename = "input_ResponseDesc")]
    pub(crate) desc: String,
    #[serde(rename = "input_TransactionReference", skip_serializing_if = "Option::is_none")]
    pub(crate) transaction_reference: Option<String>,
    #[serde(rename = "input_ThirdPartyConversationID")]
    pub(crate) third_party_conversation_id: String,
    #[serde(flatten)]
    pub(crate) mandate: MandateFields,
}

// ---------------------------------------------------------------------------
// The listener's acknowledgement.

/// What a listener answers to close out a result (the documentation's sample).
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub(crate) struct Acknowledgement {
    #[serde(rename = "output_OriginalConversationID")]
    pub(crate) original_conversation_id: String,
    #[serde(rename = "output_ResponseCode")]
    pub(crate) code: String,
    #[serde(rename = "output_ResponseDesc")]
    pub(crate) desc: String,
    #[serde(rename = "output_ThirdPartyConversationID")]
    pub(crate) third_party_conversation_id: String,
}

/// The `output_ResponseCode` a listener must answer a result of `api` with:
/// `INS-0` for Query Direct Debit, `0` for every other API.
pub(crate) fn expected_ack_code(api: Api) -> &'static str {
    match api {
        Api::QueryDirectDebit => "INS-0",
        _ => "0",
    }
}

/// How a listener's answer measured up, for the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AckJudgement {
    /// Whether the result counts as delivered.
    pub(crate) accepted: bool,
    /// What was off, in plain words (also set for an accepted answer that
    /// strays from the contract in a way that does not matter).
    pub(crate) remark: Option<String>,
}

/// Judges a listener's answer to a result with conversation id
/// `conversation_id`. Only the code decides; a wrong or missing
/// conversation id is remarked on, since the documentation shows it echoed
/// but says nothing of checking it. A number `0` is taken as `"0"`.
pub(crate) fn judge_ack(body: &[u8], api: Api, conversation_id: &str) -> AckJudgement {
    let expected = expected_ack_code(api);
    let refuse = |remark: String| AckJudgement { accepted: false, remark: Some(remark) };
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return refuse(format!("the acknowledgement is not JSON; expected output_ResponseCode {expected:?}"));
    };
    let Value::Object(map) = value else {
        return refuse("the acknowledgement is not a JSON object".into());
    };
    let code = match map.get("output_ResponseCode") {
        None | Some(Value::Null) => {
            return refuse(format!("the acknowledgement has no output_ResponseCode (expected {expected:?})"))
        }
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => {
            return refuse(format!("output_ResponseCode is {}, expected {expected:?}", crate::fields::type_name(other)))
        }
    };
    if code != expected {
        let shown: String = code.chars().take(24).collect();
        return refuse(format!("output_ResponseCode is {shown:?}, expected {expected:?}"));
    }
    let remark = match map.get("output_OriginalConversationID") {
        Some(Value::String(s)) if s == conversation_id => None,
        Some(_) => Some("output_OriginalConversationID does not echo the result's conversation id".to_owned()),
        None => Some("output_OriginalConversationID is missing".to_owned()),
    };
    AckJudgement { accepted: true, remark }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(value: &impl Serialize) -> String {
        serde_json::to_string(value).unwrap_or_default()
    }

    #[test]
    fn a_portal_payment_answer_matches_the_captured_live_one_key_for_key() {
        let answer = PortalResponse {
            head: Head::new("INS-0", "Request processed successfully"),
            transaction_id: Some("8AL05GXL79O".into()),
            conversation_id: "7dc387c7926d46ecbee22efd26bd246c".into(),
            third_party_reference: "COMLEI16".into(),
        };
        assert_eq!(
            json(&answer),
            r#"{"output_ResponseCode":"INS-0","output_ResponseDesc":"Request processed successfully","output_TransactionID":"8AL05GXL79O","output_ConversationID":"7dc387c7926d46ecbee22efd26bd246c","output_ThirdPartyReference":"COMLEI16"}"#
        );
        let ack = PortalResponse { transaction_id: None, ..answer };
        assert!(!json(&ack).contains("TransactionID"));
    }

    #[test]
    fn an_openapi_answer_and_session_follow_the_documented_order() {
        let answer = OpenApiResponse {
            head: Head::new("INS-0", "Request processed successfully"),
            transaction_id: Some("cUmNsY2j0Fr5".into()),
            ids: Conversation::new("8cba707babcf4b36921f9ff1bd957cb1", "8a89835c71f15e99396"),
        };
        assert_eq!(
            json(&answer),
            r#"{"output_ResponseCode":"INS-0","output_ResponseDesc":"Request processed successfully","output_TransactionID":"cUmNsY2j0Fr5","output_ConversationID":"8cba707babcf4b36921f9ff1bd957cb1","output_ThirdPartyConversationID":"8a89835c71f15e99396"}"#
        );
        let session = SessionResponse {
            head: Head::new("INS-0", "Request processed successfully"),
            session_id: "AAA6d1f93910052de0534912jbsj1j2kk".into(),
        };
        assert_eq!(
            json(&session),
            r#"{"output_ResponseCode":"INS-0","output_ResponseDesc":"Request processed successfully","output_SessionID":"AAA6d1f93910052de0534912jbsj1j2kk"}"#
        );
    }

    #[test]
    fn a_status_answer_writes_flags_as_true_and_false_strings() {
        let answer = OpenApiStatusResponse {
            head: Head::new("INS-0", "Request processed successfully"),
            transaction_status: Some(TransactionStatus::Completed.as_str()),
            ids: Conversation::new("c", "t"),
            original_transaction_id: Some("4C123GE3".into()),
            reversed: Some(flag(false)),
        };
        assert!(json(&answer).ends_with(r#""output_OriginalTransactionID":"4C123GE3","output_Reversed":"False"}"#));
        let portal = PortalStatusResponse {
            head: Head::new("INS-0", "Request processed successfully"),
            transaction_status: TransactionStatus::NotAvailable.as_str(),
            conversation_id: None,
            third_party_reference: "11114".into(),
        };
        assert_eq!(
            json(&portal),
            r#"{"output_ResponseCode":"INS-0","output_ResponseDesc":"Request processed successfully","output_ResponseTransactionStatus":"N/A","output_ThirdPartyReference":"11114"}"#
        );
    }

    #[test]
    fn results_put_the_per_api_extras_where_each_api_lists_them() {
        let payment = OpenApiCallback {
            original_conversation_id: "fd1e9143d22544459f7c66e1860ef276".into(),
            transaction_id: Some("hv9ahxcg4ccv".into()),
            result_code: "INS-0".into(),
            result_desc: "Request processed successfully".into(),
            third_party_conversation_id: "1e9b774d1da34af78412a498cbc28f5e".into(),
            ..OpenApiCallback::default()
        };
        assert_eq!(
            json(&payment),
            r#"{"input_OriginalConversationID":"fd1e9143d22544459f7c66e1860ef276","input_TransactionID":"hv9ahxcg4ccv","input_ResultCode":"INS-0","input_ResultDesc":"Request processed successfully","input_ThirdPartyConversationID":"1e9b774d1da34af78412a498cbc28f5e"}"#
        );
        let mandate = OpenApiCallback {
            transaction_id: None,
            transaction_reference: Some("vgisfyn4b22w6tmqjftatq75lyuie6vc".into()),
            msisdn_token: Some("cvgwUBZ3lAO9ivwhWAFeng==".into()),
            mandate_id: Some("15045".into()),
            ..payment
        };
        let text = json(&mandate);
        let order = [
            "OriginalConversationID",
            "TransactionReference",
            "MsisdnToken",
            "ResultCode",
            "ThirdPartyConversationID",
            "MandateID",
        ];
        let positions: Vec<_> = order.iter().map(|k| text.find(k).unwrap_or(usize::MAX)).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
    }

    #[test]
    fn query_direct_debit_writes_the_mandate_with_its_prefix_in_order() {
        let view = MandateView {
            sufficient_balance: Some(true),
            mandate_id: Some("15045".into()),
            mandate_status: Some("Active"),
            account_status: Some("Active"),
            ..MandateView::default()
        };
        let answer = DirectDebitQueryResponse {
            head: Head::new("INS-0", "Request processed successfully"),
            transaction_reference: Some("vgisfyn4b22w6tmqjftatq75lyuie6vc".into()),
            ids: Conversation::new("c", "t"),
            mandate: MandateFields::output(view.clone()),
        };
        assert_eq!(
            json(&answer),
            r#"{"output_ResponseCode":"INS-0","output_ResponseDesc":"Request processed successfully","output_TransactionReference":"vgisfyn4b22w6tmqjftatq75lyuie6vc","output_ConversationID":"c","output_ThirdPartyConversationID":"t","output_SufficientBalance":"True","output_MandateID":"15045","output_MandateStatus":"Active","output_AccountStatus":"Active"}"#
        );
        let result = DirectDebitQueryCallback {
            original_conversation_id: "c".into(),
            code: "INS-0".into(),
            desc: "Request processed successfully".into(),
            transaction_reference: None,
            third_party_conversation_id: "t".into(),
            mandate: MandateFields::input(view),
        };
        assert!(json(&result).contains(r#""input_ResponseCode":"INS-0""#));
        assert!(json(&result).ends_with(r#""input_MandateStatus":"Active","input_AccountStatus":"Active"}"#));
    }

    #[test]
    fn the_portal_writes_a_successful_result_as_the_documentation_does() {
        assert_eq!(
            ResultCodeStyle::Zero.apply("INS-0", "Request processed successfully"),
            ("0".to_owned(), "Request Processed Successfully".to_owned())
        );
        assert_eq!(ResultCodeStyle::Zero.apply("INS-6", "Transaction Failed").0, "INS-6");
        assert_eq!(ResultCodeStyle::Ins.apply("INS-0", "Request processed successfully").0, "INS-0");
    }

    #[test]
    fn acknowledgements_are_judged_by_their_code() {
        let sample = br#"{"output_OriginalConversationID":"fd1e","output_ResponseCode":"0","output_ResponseDesc":"Successfully Accepted Result","output_ThirdPartyConversationID":"1e9b"}"#;
        assert_eq!(judge_ack(sample, Api::C2bSingleStage, "fd1e"), AckJudgement { accepted: true, remark: None });
        assert!(!judge_ack(sample, Api::QueryDirectDebit, "fd1e").accepted, "QDD expects INS-0");
        let other = judge_ack(sample, Api::B2c, "other");
        assert!(other.accepted && other.remark.is_some());
        assert!(judge_ack(br#"{"output_ResponseCode":0}"#, Api::B2c, "x").accepted);
        assert!(!judge_ack(br#"{"output_ResponseCode":"INS-0"}"#, Api::B2c, "x").accepted);
        assert!(!judge_ack(b"OK", Api::B2c, "x").accepted);
        assert!(!judge_ack(b"[]", Api::B2c, "x").accepted);
        assert!(!judge_ack(b"{}", Api::B2c, "x").accepted);
        let parsed: Result<Acknowledgement, _> = serde_json::from_slice(sample);
        assert!(parsed.is_ok());
    }
}
