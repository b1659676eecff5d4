//! The `INS-*` response codes, their descriptions and HTTP statuses, per
//! profile.
//!
//! * **OpenAPI** (`openapi`): the portal documentation's per-API tables
//!   (wire contract §7.1). Statuses vary by API in a few places and
//!   [`lookup`] takes the API into account: `INS-0` is 201 for the APIs that
//!   create a transaction and 200 for sessions and queries; Query Direct Debit
//!   answers `INS-1` and `INS-52` with 500 and `INS-55`/`INS-56` with 401; in
//!   Direct Debit Cancel `INS-6` reads "Mandate does not exist". Query Direct
//!   Debit lists `INS-54` under both 400 and 401; 400 is used, as everywhere
//!   else. `INS-999` "Invalid Use Case" is not in the published tables; an
//!   integrator saw it on the sandbox and its trigger matrix maps a value to
//!   it, so it is here with 400.
//! * **Portal** (`portal`): two third-party copies of the Mozambique table
//!   disagree (wire contract §7.2). [`StatusTable::Documented`] (the default)
//!   is the table of the Mozambique API documentation mirror: it agrees with
//!   the OpenAPI documentation on every code the two gateways share
//!   (`INS-6` 401, `INS-9` 408, `INS-10` 409, `INS-2006` 422), which the
//!   other copy does not. [`StatusTable::Alternate`] is the other copy
//!   (`BrilliantMind\MPesa` `Response.php`): `INS-4`, `INS-5`, `INS-6`,
//!   `INS-10` and `INS-2006` are 400, `INS-16` is 500, `INS-26` and
//!   `INS-2001` are 401, and four descriptions differ (`INS-23`, `INS-26`,
//!   `INS-2051`, `INS-2057`), for worlds whose clients were written against it.
//!
//! The same number can mean different things on the two gateways: `INS-26`
//! is "Invalid Currency Used" on the OpenAPI and "Not authorized" on the
//! portal, and `INS-993`..`INS-997` are session limits on one and direct-debit
//! conditions on the other. Look codes up with their profile.

use crate::vodafone::api::{Api, Profile};

/// An `INS-<n>` code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Ins(pub(crate) u16);

impl Ins {
    pub(crate) const SUCCESS: Ins = Ins(0);
    pub(crate) const INTERNAL_ERROR: Ins = Ins(1);
    /// Portal: the bearer's API key is unknown, renewed or undecryptable.
    pub(crate) const INVALID_API_KEY: Ins = Ins(2);
    /// Portal: the developer account is not active.
    pub(crate) const USER_NOT_ACTIVE: Ins = Ins(4);
    pub(crate) const TRANSACTION_FAILED: Ins = Ins(6);
    pub(crate) const REQUEST_TIMEOUT: Ins = Ins(9);
    pub(crate) const DUPLICATE_TRANSACTION: Ins = Ins(10);
    pub(crate) const INVALID_SHORTCODE: Ins = Ins(13);
    /// Portal: "Invalid Reference Used" (read here as the query reference).
    pub(crate) const INVALID_REFERENCE: Ins = Ins(14);
    pub(crate) const INVALID_AMOUNT: Ins = Ins(15);
    /// Portal: "Unable to handle the request due to a temporary overloading".
    pub(crate) const OVERLOADED: Ins = Ins(16);
    pub(crate) const INVALID_TRANSACTION_REFERENCE: Ins = Ins(17);
    pub(crate) const INVALID_TRANSACTION_ID: Ins = Ins(18);
    pub(crate) const INVALID_THIRD_PARTY_REFERENCE: Ins = Ins(19);
    pub(crate) const MISSING_PARAMETERS: Ins = Ins(20);
    pub(crate) const VALIDATION_FAILED: Ins = Ins(21);
    /// Portal: "Invalid Operation Type".
    pub(crate) const INVALID_OPERATION_TYPE: Ins = Ins(22);
    /// OpenAPI "Transaction not found"; portal "Unknown Status".
    pub(crate) const TRANSACTION_NOT_FOUND: Ins = Ins(23);
    pub(crate) const INVALID_INITIATOR: Ins = Ins(24);
    pub(crate) const INVALID_SECURITY_CREDENTIAL: Ins = Ins(25);
    /// OpenAPI: "Invalid Currency Used".
    pub(crate) const INVALID_CURRENCY: Ins = Ins(26);
    /// Portal: "Not authorized" (same number as [`Ins::INVALID_CURRENCY`]).
    pub(crate) const NOT_AUTHORIZED: Ins = Ins(26);
    pub(crate) const INVALID_THIRD_PARTY_CONVERSATION_ID: Ins = Ins(28);
    pub(crate) const INVALID_PURCHASED_ITEMS_DESC: Ins = Ins(30);
    pub(crate) const INVALID_PAYMENT_ITEMS_DESC: Ins = Ins(31);
    pub(crate) const INVALID_KYC_QUERY_TYPE: Ins = Ins(32);
    pub(crate) const NOT_YOUR_TRANSACTION: Ins = Ins(35);
    pub(crate) const INVALID_AGREED_TC: Ins = Ins(36);
    pub(crate) const INVALID_FIRST_PAYMENT_DATE: Ins = Ins(39);
    pub(crate) const INVALID_FREQUENCY: Ins = Ins(40);
    pub(crate) const INVALID_START_RANGE_DAYS: Ins = Ins(41);
    pub(crate) const INVALID_END_RANGE_DAYS: Ins = Ins(42);
    pub(crate) const INVALID_EXPIRY_DATE: Ins = Ins(43);
    pub(crate) const TOKEN_MSISDN_MISMATCH: Ins = Ins(50);
    pub(crate) const INVALID_MANDATE_ID: Ins = Ins(51);
    pub(crate) const MANDATE_REFERENCE_MISMATCH: Ins = Ins(52);
    pub(crate) const INVALID_BALANCE_AMOUNT: Ins = Ins(54);
    pub(crate) const BALANCE_AMOUNT_REQUIRED: Ins = Ins(55);
    pub(crate) const INVALID_MSISDN_TOKEN: Ins = Ins(56);
    pub(crate) const MSISDN_OR_TOKEN_REQUIRED: Ins = Ins(57);
    pub(crate) const NO_ACTIVE_MANDATE: Ins = Ins(58);
    pub(crate) const SESSION_CREATION_FAILED: Ins = Ins(989);
    pub(crate) const CUSTOMER_VALUE_LIMIT: Ins = Ins(990);
    pub(crate) const CUSTOMER_COUNT_LIMIT: Ins = Ins(991);
    pub(crate) const MULTIPLE_LIMITS: Ins = Ins(992);
    pub(crate) const ORGANISATION_COUNT_LIMIT: Ins = Ins(993);
    pub(crate) const ORGANISATION_VALUE_LIMIT: Ins = Ins(994);
    pub(crate) const SINGLE_TRANSACTION_LIMIT: Ins = Ins(995);
    pub(crate) const OUTSIDE_USAGE_TIME: Ins = Ins(996);
    pub(crate) const API_NOT_ENABLED: Ins = Ins(997);
    pub(crate) const INVALID_MARKET: Ins = Ins(998);
    pub(crate) const RECEIVER_INVALID: Ins = Ins(2002);
    pub(crate) const INSUFFICIENT_BALANCE: Ins = Ins(2006);
    pub(crate) const MSISDN_INVALID: Ins = Ins(2051);

    /// `INS-<n>`, as `output_ResponseCode` carries it.
    pub(crate) fn code(self) -> String {
        format!("INS-{}", self.0)
    }

    /// Reads `INS-<n>` (as scenario files write result codes).
    pub(crate) fn parse(text: &str) -> Option<Ins> {
        let digits = text.strip_prefix("INS-")?;
        if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok().map(Ins)
    }

    pub(crate) fn is_success(self) -> bool {
        self == Ins::SUCCESS
    }
}

impl std::fmt::Display for Ins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "INS-{}", self.0)
    }
}

/// Which copy of the portal's table sets statuses and descriptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) enum StatusTable {
    /// The Mozambique API documentation's table (consistent with the OpenAPI).
    #[default]
    Documented,
    /// The second third-party copy (`BrilliantMind\MPesa`).
    Alternate,
}

/// A code's description and HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) desc: &'static str,
    pub(crate) status: u16,
}

/// `(code, description, status)`: the OpenAPI's base table.
const OPENAPI: &[(u16, &str, u16)] = &[
    (0, "Request processed successfully", 201),
    (1, "Internal Error", 400),
    (6, "Transaction Failed", 401),
    (9, "Request timeout", 408),
    (10, "Duplicate Transaction", 409),
    (13, "Invalid Shortcode Used", 400),
    (15, "Invalid Amount Used", 400),
    (17, "Invalid Transaction Reference. Length Should Be Between 1 and 20.", 400),
    (18, "Invalid TransactionID Used", 400),
    (19, "Invalid ThirdPartyReference Used", 400),
    (20, "Not All Parameters Provided. Please try again.", 400),
    (21, "Parameter validations failed. Please try again.", 400),
    (23, "Transaction not found. Contact M-Pesa Support", 400),
    (26, "Invalid Currency Used", 400),
    (28, "Invalid ThirdPartyConversationID Used", 400),
    (30, "Invalid Purchased Items Description Used", 400),
    (31, "Invalid Payment Items Description Used", 400),
    (32, "Invalid KYC Query Type Used", 400),
    (35, "This transaction do not belong to you", 400),
    (36, "Invalid Agreed TC Used", 400),
    (39, "Invalid First Payment Date Used", 400),
    (40, "Invalid Frequency Used", 400),
    (41, "Invalid Start Range Days Used", 400),
    (42, "Invalid End Range Days Used", 400),
    (43, "Invalid Expiry Date Used", 400),
    (50, "MSISDN Token and MSISDN provided does not Match", 400),
    (51, "Invalid MandateID Used", 400),
    (52, "The MandateID used does not correspond to the ThirdPartyReference used.", 400),
    (54, "Invalid BalanceAmount Used", 400),
    (55, "BalanceAmount is Mandatory when QueryBalanceAmount is True", 401),
    (56, "Invalid MSISDNToken Used", 401),
    (57, "Either MSISDN or MSISDNToken required", 500),
    (58, "No Active Mandate found", 400),
    (989, "Session Creation Failed", 400),
    (990, "Customer Transaction Value Limit Breached", 400),
    (991, "Customer Transaction Count Limit Breached", 400),
    (992, "Multiple Limits Breached", 400),
    (993, "Organization Transaction Count Limit Breached", 400),
    (994, "Organization Transaction Value Limit Breached", 400),
    (995, "API Single Transaction Limit Breached", 400),
    (996, "API Being Used Outside Of Usage Time", 400),
    (997, "API Not Enabled", 400),
    (998, "Invalid Market", 400),
    (999, "Invalid Use Case", 400),
    (2006, "Insufficient balance", 422),
    (2051, "MSISDN invalid.", 400),
];

/// The portal's table as the Mozambique API documentation prints it.
const PORTAL: &[(u16, &str, u16)] = &[
    (0, "Request processed successfully", 201),
    (1, "Internal Error", 500),
    (2, "Invalid API Key", 401),
    (4, "User is not active", 401),
    (5, "Transaction cancelled by customer", 401),
    (6, "Transaction Failed", 401),
    (9, "Request timeout", 408),
    (10, "Duplicate Transaction", 409),
    (13, "Invalid Shortcode Used", 400),
    (14, "Invalid Reference Used", 400),
    (15, "Invalid Amount Used", 400),
    (16, "Unable to handle the request due to a temporary overloading", 503),
    (17, "Invalid Transaction Reference. Length Should Be Between 1 and 20.", 400),
    (18, "Invalid TransactionID Used", 400),
    (19, "Invalid ThirdPartyReference Used", 400),
    (20, "Not All Parameters Provided. Please try again.", 400),
    (21, "Parameter validations failed. Please try again.", 400),
    (22, "Invalid Operation Type", 400),
    (23, "Unknown Status. Contact M-Pesa Support", 400),
    (24, "Invalid InitiatorIdentifier Used", 400),
    (25, "Invalid SecurityCredential Used", 400),
    (26, "Not authorized", 400),
    (993, "Direct Debit Missing", 400),
    (994, "Direct Debit Already Exists", 400),
    (995, "Customer's Profile Has Problems", 400),
    (996, "Customer Account Status Not Active", 400),
    (997, "Linking Transaction Not Found", 400),
    (998, "Invalid Market", 400),
    (2001, "Initiator authentication error.", 400),
    (2002, "Receiver invalid.", 400),
    (2006, "Insufficient balance", 422),
    (2051, "MSISDN invalid.", 400),
    (2057, "Language code invalid.", 400),
];

/// Where [`StatusTable::Alternate`] differs from [`PORTAL`].
const PORTAL_ALTERNATE: &[(u16, &str, u16)] = &[
    (4, "User is not active", 400),
    (5, "Transaction cancelled by customer", 400),
    (6, "Transaction Failed", 400),
    (10, "Duplicate Transaction", 400),
    (16, "Unable to handle the request due to a temporary overloading", 500),
    (23, "Unknown Status. Contact Customer Services for assistance.", 400),
    (26, "Not authorised", 401),
    (995, "Customer's profile has problems", 400),
    (2001, "Initiator authentication error", 401),
    (2002, "Receiver invalid", 400),
    (2006, "Insufficient balance", 400),
    (2051, "Invalid MSISDN", 400),
    (2057, "MSISDN is not registered", 400),
];

fn find(table: &[(u16, &'static str, u16)], ins: Ins) -> Option<Entry> {
    table.iter().find(|(code, _, _)| *code == ins.0).map(|&(_, desc, status)| Entry { desc, status })
}

/// A code's description and status on a profile, for an API when known.
/// `None` for a code the profile's tables do not list.
pub(crate) fn lookup(profile: Profile, table: StatusTable, api: Option<Api>, ins: Ins) -> Option<Entry> {
    let entry = match (profile, table) {
        (Profile::OpenApi, _) => find(OPENAPI, ins)?,
        (Profile::Portal, StatusTable::Documented) => find(PORTAL, ins)?,
        (Profile::Portal, StatusTable::Alternate) => find(PORTAL_ALTERNATE, ins).or_else(|| find(PORTAL, ins))?,
    };
    Some(per_api(profile, api, ins, entry))
}

/// The per-API differences of the OpenAPI's tables, and `INS-0`'s status.
fn per_api(profile: Profile, api: Option<Api>, ins: Ins, entry: Entry) -> Entry {
    let Some(api) = api else { return entry };
    if ins.is_success() {
        return Entry { status: api.success_status().as_u16(), ..entry };
    }
    if profile != Profile::OpenApi {
        return entry;
    }
    match (api, ins) {
        (Api::QueryDirectDebit, Ins::INTERNAL_ERROR | Ins::MANDATE_REFERENCE_MISMATCH) => {
            Entry { status: 500, ..entry }
        }
        (Api::DirectDebitCancel, Ins::TRANSACTION_FAILED) => Entry { desc: "Mandate does not exist", ..entry },
        (Api::DirectDebitCancel, Ins::INVALID_THIRD_PARTY_REFERENCE) => {
            Entry { desc: "Invalid ThirdPartyReference Used.", ..entry }
        }
        _ => entry,
    }
}

/// Every code a profile's tables list, in number order.
#[cfg(test)]
pub(crate) fn listed(profile: Profile) -> Vec<Ins> {
    let table = match profile {
        Profile::OpenApi => OPENAPI,
        Profile::Portal => PORTAL,
    };
    table.iter().map(|&(code, _, _)| Ins(code)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(profile: Profile, table: StatusTable, api: Option<Api>, ins: Ins) -> u16 {
        lookup(profile, table, api, ins).map(|e| e.status).unwrap_or(0)
    }

    #[test]
    fn codes_print_and_parse_as_ins_dash_number() {
        assert_eq!(Ins::INSUFFICIENT_BALANCE.code(), "INS-2006");
        assert_eq!(Ins::parse("INS-2006"), Some(Ins::INSUFFICIENT_BALANCE));
        for bad in ["INS-", "INS-12345", "ins-1", "INS-GAR-0", "INS- 1", "2006"] {
            assert_eq!(Ins::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_openapi_statuses_follow_the_documented_per_api_tables() {
        let s = |api, ins| status(Profile::OpenApi, StatusTable::Documented, Some(api), ins);
        assert_eq!(s(Api::C2bSingleStage, Ins::SUCCESS), 201);
        assert_eq!(s(Api::QueryTransactionStatus, Ins::SUCCESS), 200);
        assert_eq!(s(Api::GetSession, Ins::SUCCESS), 200);
        assert_eq!(s(Api::C2bSingleStage, Ins::TRANSACTION_FAILED), 401);
        assert_eq!(s(Api::C2bSingleStage, Ins::REQUEST_TIMEOUT), 408);
        assert_eq!(s(Api::C2bSingleStage, Ins::DUPLICATE_TRANSACTION), 409);
        assert_eq!(s(Api::C2bSingleStage, Ins::INSUFFICIENT_BALANCE), 422);
        assert_eq!(s(Api::C2bSingleStage, Ins::INTERNAL_ERROR), 400);
        assert_eq!(s(Api::QueryDirectDebit, Ins::INTERNAL_ERROR), 500);
        assert_eq!(s(Api::QueryDirectDebit, Ins::MSISDN_OR_TOKEN_REQUIRED), 500);
        assert_eq!(s(Api::QueryDirectDebit, Ins::BALANCE_AMOUNT_REQUIRED), 401);
        let cancel = lookup(Profile::OpenApi, StatusTable::Documented, Some(Api::DirectDebitCancel), Ins(6));
        assert_eq!(cancel.map(|e| e.desc), Some("Mandate does not exist"));
    }

    #[test]
    fn the_same_number_means_different_things_on_the_two_gateways() {
        let desc = |profile| lookup(profile, StatusTable::Documented, None, Ins(26)).map(|e| e.desc);
        assert_eq!(desc(Profile::OpenApi), Some("Invalid Currency Used"));
        assert_eq!(desc(Profile::Portal), Some("Not authorized"));
        assert_eq!(lookup(Profile::OpenApi, StatusTable::Documented, None, Ins::INVALID_API_KEY), None);
        assert_eq!(lookup(Profile::Portal, StatusTable::Documented, None, Ins::SESSION_CREATION_FAILED), None);
    }

    #[test]
    fn the_alternate_portal_table_changes_only_what_its_source_prints() {
        let s = |table, ins| status(Profile::Portal, table, Some(Api::C2bSingleStage), ins);
        assert_eq!(s(StatusTable::Documented, Ins::DUPLICATE_TRANSACTION), 409);
        assert_eq!(s(StatusTable::Alternate, Ins::DUPLICATE_TRANSACTION), 400);
        assert_eq!(s(StatusTable::Documented, Ins::INSUFFICIENT_BALANCE), 422);
        assert_eq!(s(StatusTable::Alternate, Ins::INSUFFICIENT_BALANCE), 400);
        assert_eq!(s(StatusTable::Alternate, Ins::INVALID_API_KEY), 401);
        assert_eq!(s(StatusTable::Alternate, Ins::SUCCESS), 201);
        assert_eq!(
            lookup(Profile::Portal, StatusTable::Alternate, None, Ins(2057)).map(|e| e.desc),
            Some("MSISDN is not registered")
        );
        // The alternate copy has nothing the documented one lacks.
        for &(code, _, _) in PORTAL_ALTERNATE {
            assert!(find(PORTAL, Ins(code)).is_some(), "INS-{code}");
        }
    }

    #[test]
    fn every_listed_code_has_a_description_and_a_real_http_status() {
        for profile in [Profile::Portal, Profile::OpenApi] {
            for ins in listed(profile) {
                for table in [StatusTable::Documented, StatusTable::Alternate] {
                    for api in Api::ALL {
                        let entry = lookup(profile, table, Some(api), ins).expect("listed codes resolve");
                        assert!(!entry.desc.is_empty());
                        assert!(axum::http::StatusCode::from_u16(entry.status).is_ok(), "{ins} {}", entry.status);
                    }
                }
            }
        }
    }
}
