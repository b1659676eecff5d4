//! Daraja result codes and their descriptions, as the real callbacks word them.
//!
//! Where traffic words a code in several ways, the most recent capture wins:
//! `1032 Request cancelled by user` without a period (the portal's sample,
//! 2021 and 2025 callbacks), `2 Declined due to limit rule.` (the portal's
//! table), and `17 System internal error.` in results of the result APIs
//! (the one captured result with 17, 2024), where M-Pesa Express's 17 is
//! `Rule limited.` (a 2021 production callback).

/// The `ResultDesc` of an M-Pesa Express result code.
pub(crate) fn stk_result_desc(code: u32) -> &'static str {
    match code {
        0 => "The service request is processed successfully.",
        1 => "The balance is insufficient for the transaction.",
        2 => "Declined due to limit rule.",
        3 => "Declined due to limit rule: greater than the maximum transaction amount.",
        4 => "Declined due to limit rule: would exceed daily transfer limit.",
        8 => "Declined due to limit rule: would exceed the maximum balance.",
        17 => "Rule limited.",
        26 => "System busy.",
        1001 => "Unable to lock subscriber, a transaction is already in process for the current subscriber",
        1019 => "Transaction has expired.",
        1025 => "An error occurred while sending a push request.",
        1032 => "Request cancelled by user",
        1037 => "No response from user.",
        2001 => "The initiator information is invalid.",
        2028 => "The request is not permitted according to product assignment.",
        8006 => "The security credential is locked.",
        9999 => "An error occurred while sending a push request.",
        4999 => "The transaction is still under processing",
        _ => "The service request failed.",
    }
}

/// The `ResultDesc` of a result API's code (B2C, B2B, reversal, status, balance).
pub(crate) fn api_result_desc(code: &crate::scenarios::ResultCode) -> &'static str {
    use crate::scenarios::ResultCode;
    match code {
        ResultCode::Number(n) => match n {
            0 => "The service request is processed successfully.",
            1 => "The balance is insufficient for the transaction.",
            2 => "Declined due to limit rule: less than the minimum transaction amount.",
            3 => "Declined due to limit rule: greater than the maximum transaction amount.",
            4 => "Declined due to limit rule: would exceed daily transfer limit.",
            6 => "Unresolved Primary Party.",
            7 => "Unresolved Receiver Party.",
            8 => "Declined due to limit rule: would exceed the maximum balance.",
            11 => "The DebitParty is in an invalid state.",
            17 => "System internal error.",
            21 => "The initiator is not allowed to initiate this request.",
            2001 => "The initiator information is invalid.",
            2006 => "Declined due to account rule: The account status does not allow this transaction.",
            2028 => "The request is not permitted according to product assignment.",
            2032 => "The transaction receipt number does not exist.",
            2040 => {
                "Credit Party customer type (Unregistered or Registered Customer) can't be supported by the service."
            }
            8006 => "The security credential is locked.",
            _ => "The service request failed.",
        },
        ResultCode::Text(t) => match t.as_str() {
            "R000001" => "The transaction has already been reversed.",
            "R000002" => "The OriginalTransactionID is invalid.",
            "SFC_IC0003" => "The operator does not exist.",
            _ => "The service request failed.",
        },
    }
}
