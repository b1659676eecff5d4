//! The APIs of both profiles: their paths, methods, success statuses, the
//! portal's per-API ports, and the mapping from a request path to an API.
//!
//! Paths are matched with or without the trailing slash every documented
//! path carries; the SDKs all send it, hand-written clients often do not.
//! The aliases some SDKs use (`b2cPayment/singleStage/`,
//! `b2bPayment/singleStage/`, the documentation's `querydirectDebit/`) reach
//! the same API.

use axum::http::{Method, StatusCode};

use crate::vodafone::markets::Market;

/// Which of the two gateways a request speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Profile {
    /// The Mozambique Payments Gateway portal: `/ipg/v1x/`, API-key bearer.
    Portal,
    /// The multi-market OpenAPI: `/{sandbox|openapi}/ipg/v2/{market}/`, sessions.
    OpenApi,
}

impl Profile {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Profile::Portal => "portal",
            Profile::OpenApi => "openapi",
        }
    }
}

/// The OpenAPI's environment path segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Environment {
    /// `/sandbox/...`: the portal's "Sandbox" site.
    Sandbox,
    /// `/openapi/...`: production.
    Production,
}

impl Environment {
    pub(crate) fn segment(self) -> &'static str {
        match self {
            Environment::Sandbox => "sandbox",
            Environment::Production => "openapi",
        }
    }
}

/// One API of either profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Api {
    GetSession,
    C2bSingleStage,
    B2c,
    B2b,
    Reversal,
    QueryTransactionStatus,
    DirectDebitCreate,
    DirectDebitPayment,
    QueryDirectDebit,
    DirectDebitCancel,
    QueryBeneficiaryName,
}

impl Api {
    pub(crate) const ALL: [Api; 11] = [
        Api::GetSession,
        Api::C2bSingleStage,
        Api::B2c,
        Api::B2b,
        Api::Reversal,
        Api::QueryTransactionStatus,
        Api::DirectDebitCreate,
        Api::DirectDebitPayment,
        Api::QueryDirectDebit,
        Api::DirectDebitCancel,
        Api::QueryBeneficiaryName,
    ];

    /// The APIs the portal serves (its documentation and every portal SDK
    /// name exactly these five).
    pub(crate) const PORTAL: [Api; 5] =
        [Api::C2bSingleStage, Api::B2c, Api::B2b, Api::Reversal, Api::QueryTransactionStatus];

    /// The scenario operation name (one of [`crate::vodafone::OPERATIONS`]);
    /// also the product name an OpenAPI application enables.
    pub(crate) fn operation(self) -> &'static str {
        match self {
            Api::GetSession => "get_session",
            Api::C2bSingleStage => "c2b_payment",
            Api::B2c => "b2c_payment",
            Api::B2b => "b2b_payment",
            Api::Reversal => "reversal",
            Api::QueryTransactionStatus => "query_transaction_status",
            Api::DirectDebitCreate => "direct_debit_create",
            Api::DirectDebitPayment => "direct_debit_payment",
            Api::QueryDirectDebit => "query_direct_debit",
            Api::DirectDebitCancel => "direct_debit_cancel",
            Api::QueryBeneficiaryName => "query_beneficiary_name",
        }
    }

    pub(crate) fn from_operation(name: &str) -> Option<Api> {
        Api::ALL.into_iter().find(|api| api.operation() == name)
    }

    /// The documented path segment after the profile's prefix.
    pub(crate) fn path_segment(self) -> &'static str {
        match self {
            Api::GetSession => "getSession/",
            Api::C2bSingleStage => "c2bPayment/singleStage/",
            Api::B2c => "b2cPayment/",
            Api::B2b => "b2bPayment/",
            Api::Reversal => "reversal/",
            Api::QueryTransactionStatus => "queryTransactionStatus/",
            Api::DirectDebitCreate => "directDebitCreation/",
            Api::DirectDebitPayment => "directDebitPayment/",
            Api::QueryDirectDebit => "queryDirectDebit/",
            Api::DirectDebitCancel => "directDebitCancel/",
            Api::QueryBeneficiaryName => "queryBeneficiaryName/",
        }
    }

    /// The documented method: GET for queries and sessions, PUT for reversal
    /// and cancel, POST for the rest.
    pub(crate) fn method(self) -> Method {
        match self {
            Api::GetSession | Api::QueryTransactionStatus | Api::QueryDirectDebit | Api::QueryBeneficiaryName => {
                Method::GET
            }
            Api::Reversal | Api::DirectDebitCancel => Method::PUT,
            Api::C2bSingleStage | Api::B2c | Api::B2b | Api::DirectDebitCreate | Api::DirectDebitPayment => {
                Method::POST
            }
        }
    }

    /// Whether parameters travel in the query string (GET) or a JSON body.
    pub(crate) fn reads_query_string(self) -> bool {
        self.method() == Method::GET
    }

    /// `INS-0`'s HTTP status: 201 for the APIs that create a transaction,
    /// 200 for sessions and queries (OpenAPI documentation, §7.1; the portal's
    /// table prints "200 / 201" and is read the same way).
    pub(crate) fn success_status(self) -> StatusCode {
        match self {
            Api::GetSession | Api::QueryTransactionStatus | Api::QueryDirectDebit | Api::QueryBeneficiaryName => {
                StatusCode::OK
            }
            _ => StatusCode::CREATED,
        }
    }

    /// Whether the API moves money in the ledger.
    pub(crate) fn moves_money(self) -> bool {
        matches!(self, Api::C2bSingleStage | Api::B2c | Api::B2b | Api::Reversal | Api::DirectDebitPayment)
    }

    /// The TCP port the real portal host serves this API on; every portal SDK
    /// hard-codes these (paymentsds JS/Python/PHP `constants`, abdulmueid's
    /// PHP `Transaction.php`, the Dart `mpesa_sdk_mz`).
    pub(crate) fn portal_port(self) -> Option<u16> {
        match self {
            Api::C2bSingleStage => Some(18352),
            Api::B2c => Some(18345),
            Api::B2b => Some(18349),
            Api::Reversal => Some(18354),
            Api::QueryTransactionStatus => Some(18353),
            _ => None,
        }
    }

    /// The path a portal client calls, e.g. `/ipg/v1x/c2bPayment/singleStage/`.
    #[cfg(test)]
    pub(crate) fn portal_path(self) -> Option<String> {
        self.portal_port().map(|_| format!("{PORTAL_PREFIX}{}", self.path_segment()))
    }

    /// The path an OpenAPI client calls.
    pub(crate) fn openapi_path(self, environment: Environment, market: Market) -> String {
        format!("/{}/ipg/v2/{}/{}", environment.segment(), market.context(), self.path_segment())
    }

    /// The API a path segment names, aliases included.
    fn from_segment(segment: &str) -> Option<Api> {
        let segment = segment.trim_end_matches('/');
        let api = match segment {
            "getSession" => Api::GetSession,
            "c2bPayment/singleStage" => Api::C2bSingleStage,
            "b2cPayment" | "b2cPayment/singleStage" => Api::B2c,
            "b2bPayment" | "b2bPayment/singleStage" => Api::B2b,
            "reversal" => Api::Reversal,
            "queryTransactionStatus" => Api::QueryTransactionStatus,
            "directDebitCreation" => Api::DirectDebitCreate,
            "directDebitPayment" => Api::DirectDebitPayment,
            "queryDirectDebit" | "querydirectDebit" => Api::QueryDirectDebit,
            "directDebitCancel" => Api::DirectDebitCancel,
            "queryBeneficiaryName" => Api::QueryBeneficiaryName,
            _ => return None,
        };
        Some(api)
    }
}

/// The portal's path prefix.
pub(crate) const PORTAL_PREFIX: &str = "/ipg/v1x/";

/// Where a request path leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Portal { api: Api },
    OpenApi { environment: Environment, market: Market, api: Api },
}

impl Route {
    pub(crate) fn api(self) -> Api {
        match self {
            Route::Portal { api } | Route::OpenApi { api, .. } => api,
        }
    }
}

/// Why a path under the provider's prefixes leads nowhere.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RouteError {
    /// The OpenAPI market segment is not one of the five (`INS-998`).
    #[error("{0:?} is not a market (vodafoneGHA, vodacomTZN, vodacomLES, vodacomDRC, vodacomMOZ)")]
    UnknownMarket(String),
    /// No API of the profile has this path.
    #[error("no API at {0:?}")]
    UnknownApi(String),
    /// The path is under neither profile's prefix.
    #[error("the path is not under /ipg/v1x/ or /{{sandbox|openapi}}/ipg/v2/{{market}}/")]
    NotOurs,
}

/// Maps a request path to a route. The portal serves only its five APIs; a
/// session or direct-debit path under `/ipg/v1x/` is an unknown API there.
pub(crate) fn route(path: &str) -> Result<Route, RouteError> {
    if let Some(rest) = path.strip_prefix(PORTAL_PREFIX) {
        return match Api::from_segment(rest) {
            Some(api) if api.portal_port().is_some() => Ok(Route::Portal { api }),
            _ => Err(RouteError::UnknownApi(clip(rest))),
        };
    }
    let (environment, rest) = if let Some(rest) = path.strip_prefix("/sandbox/ipg/v2/") {
        (Environment::Sandbox, rest)
    } else if let Some(rest) = path.strip_prefix("/openapi/ipg/v2/") {
        (Environment::Production, rest)
    } else {
        return Err(RouteError::NotOurs);
    };
    let (market, rest) = rest.split_once('/').unwrap_or((rest, ""));
    let market = Market::from_context(market).ok_or_else(|| RouteError::UnknownMarket(clip(market)))?;
    let api = Api::from_segment(rest).ok_or_else(|| RouteError::UnknownApi(clip(rest)))?;
    Ok(Route::OpenApi { environment, market, api })
}

/// Path pieces go into diagnoses; keep them short.
fn clip(text: &str) -> String {
    text.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portal_paths_and_ports_match_what_the_sdks_call() {
        assert_eq!(route("/ipg/v1x/c2bPayment/singleStage/"), Ok(Route::Portal { api: Api::C2bSingleStage }));
        assert_eq!(route("/ipg/v1x/reversal"), Ok(Route::Portal { api: Api::Reversal }));
        let ports: Vec<_> = Api::PORTAL.iter().map(|a| a.portal_port().unwrap_or(0)).collect();
        assert_eq!(ports, [18352, 18345, 18349, 18354, 18353]);
        assert_eq!(Api::B2b.portal_path().as_deref(), Some("/ipg/v1x/b2bPayment/"));
        assert!(matches!(route("/ipg/v1x/getSession/"), Err(RouteError::UnknownApi(_))));
    }

    #[test]
    fn openapi_paths_name_environment_market_and_api() {
        assert_eq!(
            route("/sandbox/ipg/v2/vodacomTZN/c2bPayment/singleStage/"),
            Ok(Route::OpenApi {
                environment: Environment::Sandbox,
                market: Market::Tanzania,
                api: Api::C2bSingleStage
            })
        );
        assert_eq!(route("/openapi/ipg/v2/vodacomMOZ/querydirectDebit/").map(Route::api), Ok(Api::QueryDirectDebit));
        assert_eq!(route("/sandbox/ipg/v2/vodafoneGHA/b2cPayment/singleStage/").map(Route::api), Ok(Api::B2c));
        assert_eq!(
            route("/sandbox/ipg/v2/vodacomKEN/getSession/"),
            Err(RouteError::UnknownMarket("vodacomKEN".into()))
        );
        assert!(matches!(route("/sandbox/ipg/v2/vodacomLES/nothing/"), Err(RouteError::UnknownApi(_))));
        assert_eq!(route("/oauth/v1/generate"), Err(RouteError::NotOurs));
    }

    #[test]
    fn each_api_documents_one_method_and_a_round_tripping_path() {
        for api in Api::ALL {
            let path = api.openapi_path(Environment::Production, Market::Lesotho);
            assert_eq!(route(&path).map(Route::api), Ok(api), "{path}");
            assert_eq!(Api::from_operation(api.operation()), Some(api));
        }
        assert_eq!(Api::Reversal.method(), Method::PUT);
        assert_eq!(Api::QueryTransactionStatus.success_status(), StatusCode::OK);
        assert_eq!(Api::B2b.success_status(), StatusCode::CREATED);
    }
}
