//! Every body shape Daraja's surface emits, by the name of its golden file.
//!
//! A golden shape (`tests/golden/daraja/<name>.json`) records what captured
//! real traffic shows of one kind of body: key order, value types, object
//! versus array. Every Daraja response and callback is written through
//! [`super::wire::reply`] or [`super::wire::callback`], which take the
//! [`Shape`] the body follows, so a new kind of body needs a new variant
//! here; the conformance test (`tests/api/daraja/shapes.rs`) then fails
//! until the variant has a golden file and a case that makes the sandbox
//! emit it.
//!
//! **Invariant:** [`NAMES`] lists every variant, in declaration order, once.

macro_rules! shapes {
    ($($variant:ident => $name:literal,)*) => {
        /// One kind of body on Daraja's wire.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Shape {
            $($variant,)*
        }

        impl Shape {
            /// The golden file's name (without `.json`).
            pub(crate) fn name(self) -> &'static str {
                match self {
                    $(Shape::$variant => $name,)*
                }
            }
        }

        /// The names of every shape Daraja emits, for conformance tests.
        pub const NAMES: &[&str] = &[$($name,)*];
    };
}

shapes! {
    Token => "token",
    TokenExpiresInNumber => "token_expires_in_number",
    StkPushAck => "stk_push_ack",
    StkQueryResult => "stk_query_result",
    StkQueryResultLegacyDesc => "stk_query_result_legacy_desc",
    StkQueryPendingError => "stk_query_pending_error",
    StkCallbackSuccess => "stk_callback_success",
    StkCallbackSuccessNoBalance => "stk_callback_success_no_balance",
    StkCallbackSuccessHashedPhone => "stk_callback_success_hashed_phone",
    StkCallbackFailure => "stk_callback_failure",
    C2bRegisterAckV1 => "c2b_register_ack_v1",
    C2bRegisterAckV2 => "c2b_register_ack_v2",
    C2bRegisterAckLegacy => "c2b_register_ack_legacy",
    C2bSimulateAck => "c2b_simulate_ack",
    C2bValidation => "c2b_validation",
    C2bConfirmation => "c2b_confirmation",
    SoapFaultC2bRegister => "soap_fault_c2b_register",
    B2cAck => "b2c_ack",
    RequestAck => "request_ack",
    B2cResultSuccess => "b2c_result_success",
    B2cResultFailure => "b2c_result_failure",
    B2pochiResultSuccess => "b2pochi_result_success",
    B2pochiResultFailure => "b2pochi_result_failure",
    B2bResultSuccessWithReference => "b2b_result_success_with_reference",
    B2bResultSuccessWithoutReference => "b2b_result_success_without_reference",
    B2bResultFailureWithReference => "b2b_result_failure_with_reference",
    B2bResultFailureWithoutReference => "b2b_result_failure_without_reference",
    B2bResultFailureDoc => "b2b_result_failure_doc",
    TaxResultSuccess => "tax_result_success",
    TaxResultFailure => "tax_result_failure",
    TaxResultFailureDoc => "tax_result_failure_doc",
    ReversalResultSuccess => "reversal_result_success",
    ReversalResultFailure => "reversal_result_failure",
    StatusResultSuccessCustomerPayment => "status_result_success_customer_payment",
    StatusResultSuccessBusinessPayment => "status_result_success_business_payment",
    StatusResultFailure => "status_result_failure",
    BalanceResultSuccess => "balance_result_success",
    BalanceResultSuccessDoc => "balance_result_success_doc",
    BalanceResultFailure => "balance_result_failure",
    QueueTimeoutNotice => "queue_timeout_notice",
    PullRegisterAck => "pull_register_ack",
    PullQueryFound => "pull_query_found",
    PullQueryFoundDoc => "pull_query_found_doc",
    PullQueryEmpty => "pull_query_empty",
    QrGenerate => "qr_generate",
    ErrorEnvelope => "error_envelope",
    ErrorProductMissing => "error_product_missing",
    ErrorProductMissingEmptyDetail => "error_product_missing_empty_detail",
    ErrorPullUnauthorised => "error_pull_unauthorised",
    SpikeArrestEnvelope => "spike_arrest_envelope",
    ApigeeSpikeArrest => "apigee_spike_arrest",
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shape_has_a_unique_name() {
        let mut names = NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), NAMES.len());
        assert_eq!(Shape::Token.name(), NAMES[0]);
    }
}
