//! Pesaflow, eCitizen's payment platform: invoices, the hosted checkout,
//! M-Pesa prompts, bank and aggregator payments, instant payment
//! notifications, status queries, server-to-server invoicing and USSD.
//!
//! Endpoints:
//! * `POST /PaymentAPI/iframev2.1.php` (what live integrations call),
//!   `POST /api/PaymentAPI/checkout` (what the guide documents) and
//!   `POST /PaymentAPI/invoice/checkout` (a white-label's path): an invoice
//!   from a hashed form or JSON; the JSON answer or the payment page
//!   ([`checkout`]).
//! * `GET /checkout?request_id=…`: the hosted payment page of an invoice
//!   (the `invoice_link`); `POST /checkout/prompt`: its form, an M-Pesa
//!   prompt for any amount up to the balance; `GET /checkout/status`: what
//!   its script polls ([`checkout`], [`prompt`]).
//! * `POST /api/payment/validate`, `POST /api/payment/confirm`: banks and
//!   aggregators check and pay invoices ([`payments`]).
//! * `GET /api/invoice/payment/status` (and the guide samples'
//!   `/invoice/payment/status`): an invoice's status ([`status`]).
//! * `POST /api/oauth/generate/token`, `POST /api/invoice/create`:
//!   server-to-server invoicing ([`invoicing`]).
//! * Outbound, through the callback engine: the instant payment notification
//!   to `notificationURL` ([`notify`]) and the USSD validation request to a
//!   service's validation URL ([`ussd`]).
//!
//! Admin views under `/__sandbox/pesaflow/`: invoices, prompts and their
//! answers, the USSD trigger and its sessions ([`admin`]).
//!
//! Every hash is computed and checked by [`crate::crypto::secure_hash`].
//! Requests are read by [`params`] and [`wire`], refused by [`error`],
//! checked in order by [`checks`], billed and paid by [`invoice`], shaped by
//! the `[pesaflow]` world table ([`world`]) and steered by scenarios
//! ([`scenario`]). An M-Pesa prompt moves the Kenyan customer's wallet in the
//! shared ledger (`Account::customer(Market::Kenya, msisdn)`), the same
//! wallet every Kenyan provider moves, without knowing any other provider.
//!
//! Sources, captured traffic first: live exchanges with test.pesaflow.com
//! (token, checkout, status, invoice/create) in Bengo-Hub/truload-backend's
//! e2e logs, its integration guide and Postman collection; a real production
//! notification (2025-05-30) and two more found by exact search; the PyPI
//! `ecitizen-pesaflow-gateway` SDK and JoseModi97/pesaflow4j (golden hash
//! vectors); BethMwangi/KNA-Digital-backend (the plain-hex claim, JSON
//! bodies); a CapitalPay white-label (base64 of the raw digest,
//! `/PaymentAPI/invoice/checkout`); the official guide (the seed) for what no
//! integration shows (validate, confirm, USSD, `/api/PaymentAPI/checkout`).
//!
//! **Invariant:** nothing panics on request, world or scenario data; money
//! and the invoice that records it change together, under the tenant's lock.
//! **Invariant:** this module never imports another provider.

pub(crate) mod admin;
pub(crate) mod amount;
pub(crate) mod checkout;
pub(crate) mod checks;
pub(crate) mod credentials;
pub(crate) mod error;
pub(crate) mod extract;
pub(crate) mod invoice;
pub(crate) mod invoicing;
pub(crate) mod notification;
pub(crate) mod notify;
pub(crate) mod page;
pub(crate) mod params;
pub(crate) mod payments;
pub(crate) mod prompt;
pub(crate) mod scenario;
pub(crate) mod status;
pub(crate) mod token;
pub(crate) mod ussd;
pub(crate) mod wire;
pub(crate) mod world;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use secrecy::SecretString;

pub(crate) use credentials::PesaflowCredentials;
pub(crate) use world::World;

use self::error::{Envelope, ErrorKind, PesaflowError};
use self::invoice::Invoices;
use self::wire::CheckoutPath;
use crate::app_state::AppState;
use crate::callbacks::Reply;
use crate::fastmap::HashMap;
use crate::http::WireError;
use crate::ids::IdGen;
use crate::ledger::{Account, Money, OrgAccount};
use crate::provider::{CredentialContext, Provider, Refusal, TransactionRow, VariantSpec};
use crate::retained::Retained;
use crate::store::Core;

/// The provider's name in journals, scenario files and admin paths.
pub(crate) const PROVIDER: &str = "pesaflow";

/// The path prefixes Pesaflow owns on the shared port. Each is exact down to
/// a Pesaflow-only segment, because `/api/…` is shared with the eCitizen SSO
/// (`/api/oauth/token/introspect`, `/api/userinfo`, `/api/user-info`): the
/// token path is claimed as `/api/oauth/generate`, never `/api/oauth`.
pub(crate) const PREFIXES: &[&str] = &[
    "/PaymentAPI",
    "/api/PaymentAPI",
    "/api/payment",
    "/api/invoice",
    "/invoice/payment",
    "/api/oauth/generate",
    "/checkout",
];

/// The hosted page of an invoice: `<base>/checkout?request_id=<token>`.
pub(crate) const CHECKOUT_PAGE_PATH: &str = "/checkout";
/// Where the page's form sends an M-Pesa prompt (the sandbox's own path).
pub(crate) const PROMPT_PATH: &str = "/checkout/prompt";
/// What the page's script polls (the sandbox's own path).
pub(crate) const PAGE_STATUS_PATH: &str = "/checkout/status";
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

/// The provider.
pub struct Pesaflow;

/// Pesaflow's per-tenant state.
#[derive(Debug)]
pub struct State {
    /// Pesaflow's part of the tenant's world (credentials rotated since start included).
    pub(crate) world: Arc<World>,
    pub(crate) invoices: Invoices,
    pub(crate) prompts: Retained<prompt::Prompt>,
    /// The newest prompt of each invoice, for its page.
    pub(crate) latest_prompt: HashMap<String, String>,
    pub(crate) ussd: Retained<ussd::UssdSession>,
}

/// Pesaflow events on a tenant's timeline.
#[derive(Debug)]
pub enum Due {
    /// The customer answers (or ignores) an M-Pesa prompt.
    SettlePrompt { prompt_id: String },
}

impl Provider for Pesaflow {
    const NAME: &'static str = PROVIDER;
    const PREFIXES: &'static [&'static str] = PREFIXES;
    const OPERATIONS: &'static [&'static str] = scenario::OPERATIONS;
    const VARIANTS: &'static [VariantSpec] = &[];
    const FAULTS: &'static [&'static str] = scenario::FAULTS;
    const DEFAULT_SCENARIO: Option<&'static str> = Some(include_str!("default-scenario.toml"));

    type World = World;
    type State = State;
    type Due = Due;
    type Shared = ();
    type Credentials = PesaflowCredentials;

    fn shared() -> Result<(), String> {
        Ok(())
    }

    fn new_state(core: &mut Core, world: Arc<World>) -> State {
        for service in world.services.values() {
            if let Some(currency) = accounts::ledger_currency(service.currency) {
                core.ledger.open(accounts::collection(&service.service_id), currency, Money(0));
            }
        }
        let cap = core.limits.transactions;
        State {
            world,
            invoices: Invoices::new(cap),
            prompts: Retained::default(),
            latest_prompt: HashMap::default(),
            ussd: Retained::default(),
        }
    }

    fn world(state: &State) -> &Arc<World> {
        &state.world
    }

    fn routing_keys(world: &World) -> Vec<String> {
        world
            .clients
            .values()
            .flat_map(|c| [routing::client(&c.api_client_id), routing::key(c.hash_key().key)])
            .collect()
    }

    /// A new tenant's copies of the default clients get fresh ids, keys and
    /// secrets (numeric ids, as live ones are); their services follow them.
    fn fresh_credentials(world: &mut World, defaults: &World, ids: &mut IdGen) {
        let inherited: Vec<String> =
            world.clients.keys().filter(|id| defaults.clients.contains_key(*id)).cloned().collect();
        for old in inherited {
            let Some(mut client) = world.clients.remove(&old) else { continue };
            let new = ids.digits(9);
            client.api_client_id = new.clone();
            client.key = SecretString::from(ids.alnum(32));
            client.secret = SecretString::from(ids.alnum(32));
            world.clients.insert(new.clone(), client);
            for service in world.services.values_mut().filter(|s| s.api_client_id == old) {
                service.api_client_id = new.clone();
            }
        }
    }

    fn on_due(core: &mut Core, mine: &mut State, due: Due, at: DateTime<Utc>) {
        match due {
            Due::SettlePrompt { prompt_id } => prompt::settle(core, mine, &prompt_id, at),
        }
    }

    /// Only USSD validation answers matter to Pesaflow.
    fn on_reply(core: &mut Core, mine: &mut State, key: &str, reply: &Reply, at: DateTime<Utc>) {
        ussd::on_validation_reply(core, mine, key, reply, at);
    }

    fn routes() -> Router<AppState> {
        let mut router = Router::new();
        for path in CheckoutPath::ALL {
            router = router.route(path.path(), post(checkout::checkout));
        }
        router
            .route(CHECKOUT_PAGE_PATH, get(checkout::page))
            .route(PROMPT_PATH, post(checkout::prompt))
            .route(PAGE_STATUS_PATH, get(checkout::page_status))
            .route(VALIDATE_PATH, post(payments::validate))
            .route(CONFIRM_PATH, post(payments::confirm))
            .route(STATUS_PATH, get(status::status).post(status::status))
            .route(UNPREFIXED_STATUS_PATH, get(status::status).post(status::status))
            .route(TOKEN_PATH, post(invoicing::token))
            .route(INVOICE_CREATE_PATH, post(invoicing::create))
    }

    fn admin_routes() -> Router<AppState> {
        admin::routes()
    }

    fn bare_error(status: StatusCode) -> Arc<dyn WireError> {
        let (kind, why) = match status {
            StatusCode::NOT_FOUND => (ErrorKind::NotFound, "no Pesaflow API at this path"),
            StatusCode::METHOD_NOT_ALLOWED => (
                ErrorKind::MethodNotAllowed,
                "this Pesaflow API exists but not for this method (the status query is GET, the rest POST)",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => {
                (ErrorKind::PayloadTooLarge, "the request body is larger than the sandbox accepts")
            }
            StatusCode::REQUEST_TIMEOUT => {
                (ErrorKind::RequestTimeout, "the request took longer than the sandbox's request timeout")
            }
            _ => (ErrorKind::Internal, "the router refused the request"),
        };
        Arc::new(PesaflowError::new(kind, Envelope::Error, why))
    }

    fn refuse(refusal: Refusal<'_>) -> Response {
        scenario::refuse(refusal)
    }

    fn transactions(mine: &State, out: &mut Vec<TransactionRow>) {
        admin::transactions(mine, out);
    }

    fn credentials(ctx: &CredentialContext<'_>, _shared: &(), _core: &Core, mine: &State) -> PesaflowCredentials {
        credentials::of(ctx, mine)
    }
}

/// How Pesaflow's credentials route a request to its tenant: a client id
/// (checkout, validate, confirm, status) or a key (the server token).
/// Prefixed so an id and a key never collide.
pub(crate) mod routing {
    pub(crate) fn client(api_client_id: &str) -> String {
        format!("client:{api_client_id}")
    }

    pub(crate) fn key(key: &str) -> String {
        format!("key:{key}")
    }
}

/// Pesaflow's ledger accounts: each service collects into an account of its
/// own, in its currency.
pub(crate) mod accounts {
    use super::*;
    use crate::markets::Currency;

    /// Where a service's payments are collected.
    pub(crate) fn collection(service_id: &str) -> Account {
        Account::org(PROVIDER, service_id, OrgAccount::Utility)
    }

    /// The ledger's currency for a Pesaflow currency, when the ledger keeps
    /// accounts in it (invoices in other currencies are recorded without
    /// postings).
    pub(crate) fn ledger_currency(currency: super::amount::Currency) -> Option<Currency> {
        Currency::ALL.into_iter().find(|c| c.code() == currency.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The segment-aware prefix test the router uses.
    fn under(path: &str, prefix: &str) -> bool {
        path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }

    #[test]
    fn every_path_falls_under_exactly_one_prefix() {
        let paths = [
            CheckoutPath::Iframe.path(),
            CheckoutPath::Documented.path(),
            CheckoutPath::WhiteLabel.path(),
            CHECKOUT_PAGE_PATH,
            PROMPT_PATH,
            PAGE_STATUS_PATH,
            VALIDATE_PATH,
            CONFIRM_PATH,
            STATUS_PATH,
            UNPREFIXED_STATUS_PATH,
            TOKEN_PATH,
            INVOICE_CREATE_PATH,
        ];
        for path in paths {
            assert_eq!(PREFIXES.iter().filter(|p| under(path, p)).count(), 1, "{path}");
        }
    }

    #[test]
    fn no_prefix_claims_an_ecitizen_or_daraja_path() {
        let others = [
            "/oauth/authorize",
            "/oauth/access-token",
            "/api/oauth/token",
            "/api/oauth/token/introspect",
            "/api/userinfo",
            "/api/user-info",
            "/.well-known/openid-configuration",
            "/oauth/v1/generate",
            "/mpesa/stkpush/v1/processrequest",
        ];
        for path in others {
            assert!(!PREFIXES.iter().any(|p| under(path, p)), "{path}");
        }
    }

    #[test]
    fn the_invoice_link_has_the_live_shape() {
        assert_eq!(
            invoice_link("http://127.0.0.1:3000/", "d8HbuZT_0nO3XLjH7nRy"),
            "http://127.0.0.1:3000/checkout?request_id=d8HbuZT_0nO3XLjH7nRy"
        );
    }

    #[test]
    fn a_new_tenant_gets_fresh_client_credentials_its_services_follow() {
        let defaults = World::default_world();
        let mut world = defaults.clone();
        let mut ids = IdGen::new(1, "tenant-1");
        Pesaflow::fresh_credentials(&mut world, &defaults, &mut ids);
        assert_eq!(world.clients.len(), 2);
        assert!(world.clients.keys().all(|id| id.len() == 9 && !defaults.clients.contains_key(id)));
        for service in world.services.values() {
            assert!(world.clients.contains_key(&service.api_client_id), "{service:?}");
        }
        let keys = Pesaflow::routing_keys(&world);
        assert!(keys.iter().all(|k| !Pesaflow::routing_keys(&defaults).contains(k)));
    }
}
