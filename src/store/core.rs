//! A tenant's state: the core every provider shares, and one state per
//! provider, behind the tenant's one lock.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use secrecy::SecretString;

use super::timeline::{Event, Timeline};
use super::Limits;
use crate::callbacks::{CallbackJob, Reply};
use crate::fastmap::HashMap;
use crate::ids::{IdGen, Secrets};
use crate::journal::Acknowledgement;
use crate::ledger::{Account, Ledger, Money};
use crate::markets::{Currency, Market};
use crate::provider::Registered;
use crate::providers::{States, World};
use crate::scenarios::{Decision, Facts, RateLimit, ScenarioSet};
use crate::world::Common;

/// Everything about a tenant that changes, behind one lock: the core and
/// every provider's state, so money and a provider's record of it change
/// together.
#[derive(Debug)]
pub struct TenantState {
    pub core: Core,
    pub providers: States,
    /// The due time last handed to the scheduler's wakeups for this tenant
    /// (see `Tenant::with_state`).
    pub(super) armed: Option<DateTime<Utc>>,
}

impl TenantState {
    pub(super) fn new(
        world: &World,
        seed: u64,
        tenant_id: &str,
        limits: Limits,
        scenarios: ScenarioSet,
        now: DateTime<Utc>,
        secrets: Secrets,
    ) -> TenantState {
        let mut core = Core::new(world.common.clone(), seed, tenant_id, limits, scenarios, now, secrets);
        let providers = States::new(&mut core, world);
        TenantState { core, providers, armed: None }
    }

    /// Back to the tenant's worlds: ledger, transactions, identifiers and
    /// timeline start over; loaded scenarios and (rotated) credentials stay.
    pub(super) fn reset(&mut self, seed: u64, tenant_id: &str, now: DateTime<Utc>) -> usize {
        let dropped = self.core.timeline.len();
        let world = self.providers.worlds(self.core.world.clone());
        let scenarios = std::mem::take(&mut self.core.scenarios);
        let armed = self.armed;
        *self = TenantState::new(&world, seed, tenant_id, self.core.limits, scenarios, now, self.core.secrets_mode);
        // What the wakeups hold for this tenant has not changed.
        self.armed = armed;
        dropped
    }
}

/// What every provider of a tenant shares.
#[derive(Debug)]
pub struct Core {
    /// The common part of the tenant's world (subscribers, signing, limits).
    pub world: Arc<Common>,
    pub ledger: Ledger,
    pub ids: IdGen,
    pub timeline: Timeline,
    pub limits: Limits,
    /// When the tenant's state was (re)created, stamped on opening postings.
    opened_at: DateTime<Utc>,
    /// Scenarios loaded into this tenant, evaluated before the default one.
    pub scenarios: ScenarioSet,
    /// Token buckets by (app, provider, operation, limit index).
    buckets: HashMap<(String, &'static str, &'static str, usize), Bucket>,
    /// Callbacks held back to be delivered out of order.
    pub held: Vec<CallbackJob>,
    /// The secret callbacks are signed with, when the world asks for signing.
    pub signing_secret: Option<SecretString>,
    /// Where this tenant's secrets come from.
    secrets_mode: Secrets,
    /// The generator of secrets when they come from the operating system;
    /// seeded secrets come from `ids`, in the order they always did.
    secret_ids: Option<IdGen>,
    /// Providers' judgements of receivers' answers, by journal sequence
    /// number, waiting to be written beside their attempts ([`Core::judge`]).
    pub acknowledgements: Vec<(u64, Acknowledgement)>,
}

/// One token bucket: tokens left and when it was last refilled.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: u64,
    refilled_at: DateTime<Utc>,
}

impl Core {
    fn new(
        world: Arc<Common>,
        seed: u64,
        tenant_id: &str,
        limits: Limits,
        scenarios: ScenarioSet,
        now: DateTime<Utc>,
        secrets_mode: Secrets,
    ) -> Core {
        let mut ledger = Ledger::new(limits.ledger_history);
        for currency in Currency::ALL {
            ledger.open(Account::Revenue(currency), currency, Money(0));
            ledger.open(Account::Outside(currency), currency, Money(0));
        }
        for c in world.customers.values() {
            ledger.open(Account::customer(c.market, &c.msisdn), c.market.currency(), c.opening_balance);
        }
        let mut ids = IdGen::new(seed, tenant_id);
        let mut secret_ids = (secrets_mode == Secrets::Random).then(IdGen::from_entropy);
        let signing_secret = world.callbacks.signing.then(|| match &world.callbacks.signing_secret {
            Some(secret) => secret.clone(),
            None => {
                let generator = secret_ids.as_mut().unwrap_or(&mut ids);
                SecretString::from(format!("whsec_{}", STANDARD.encode(generator.alnum(32))))
            }
        });
        Core {
            world,
            ledger,
            ids,
            timeline: Timeline::default(),
            limits,
            opened_at: now,
            scenarios,
            buckets: HashMap::default(),
            held: Vec::new(),
            signing_secret,
            secrets_mode,
            secret_ids,
            acknowledgements: Vec::new(),
        }
    }

    /// The generator secrets (tokens, rotated consumer secrets and
    /// passkeys) are drawn from: the operating system's randomness on a
    /// shared deployment, else the tenant's seeded identifiers.
    pub fn secrets(&mut self) -> &mut IdGen {
        match self.secret_ids {
            Some(ref mut generator) => generator,
            None => &mut self.ids,
        }
    }

    /// When the tenant's state was (re)created.
    pub fn opened_at(&self) -> DateTime<Utc> {
        self.opened_at
    }

    /// Puts one of a provider's events on the timeline.
    pub fn schedule<P: Registered>(&mut self, at: DateTime<Utc>, due: P::Due) {
        self.timeline.schedule(at, Event::Provider(P::due(due)));
    }

    /// The decision of the first matching rule: loaded scenarios first, then
    /// the built-in default scenario. `None` means the provider's default.
    pub fn decide(&self, facts: &Facts<'_>) -> Option<Decision> {
        self.scenarios.decide(facts).or_else(|| crate::scenarios::decide_by_default(facts)).cloned()
    }

    /// Takes one token from every bucket that limits this app's operation;
    /// the first empty bucket refuses the request, and is returned so the
    /// provider can word its refusal with the bucket's numbers. Runs under
    /// the tenant lock, so N concurrent requests against capacity C let
    /// exactly C pass.
    pub fn take_token(
        &mut self,
        app: &str,
        provider: &'static str,
        operation: &'static str,
        now: DateTime<Utc>,
    ) -> Result<(), RateLimit> {
        let limits: Vec<RateLimit> = self
            .world
            .rate_limits
            .iter()
            .chain(self.scenarios.rate_limits())
            .filter(|l| l.applies_to(provider, operation))
            .cloned()
            .collect();
        for (idx, limit) in limits.iter().enumerate() {
            let bucket = self
                .buckets
                .entry((app.to_owned(), provider, operation, idx))
                .or_insert(Bucket { tokens: limit.initial, refilled_at: now });
            let elapsed = u64::try_from(now.signed_duration_since(bucket.refilled_at).num_milliseconds()).unwrap_or(0);
            let periods = elapsed.checked_div(limit.period_ms).unwrap_or(0);
            if periods > 0 {
                bucket.tokens = limit.capacity.min(bucket.tokens.saturating_add(periods.saturating_mul(limit.refill)));
                let advanced = i64::try_from(periods.saturating_mul(limit.period_ms)).unwrap_or(i64::MAX);
                bucket.refilled_at = crate::clock::after_ms(bucket.refilled_at, advanced);
            }
            if bucket.tokens == 0 {
                return Err(limit.clone());
            }
        }
        for idx in 0..limits.len() {
            if let Some(bucket) = self.buckets.get_mut(&(app.to_owned(), provider, operation, idx)) {
                bucket.tokens = bucket.tokens.saturating_sub(1);
            }
        }
        Ok(())
    }

    /// Makes sure a subscriber exists: anyone with a well-formed line can be
    /// prompted, so an unknown MSISDN becomes a customer with the world's
    /// default balance, in the market's currency. Returns the balance.
    pub fn ensure_customer(&mut self, market: Market, msisdn: &str) -> Money {
        let account = Account::customer(market, msisdn);
        if let Some(balance) = self.ledger.balance(&account) {
            return balance;
        }
        let currency = market.currency();
        self.ledger.open(account.clone(), currency, Money(0));
        let opening = self.world.customer_defaults.balance;
        if opening.0 > 0 {
            // Funded from outside mobile money, so the opening is a balanced posting.
            let at = self.opened_at;
            let _ =
                self.ledger.transfer("OPENING", "Opening balance", at, &Account::Outside(currency), &account, opening);
        }
        opening
    }

    /// Journals a provider's judgement of a receiver's answer (an
    /// acknowledgement contract met or not) beside the attempt it answers;
    /// the scheduler writes it once the tenant's lock is released.
    pub fn judge(&mut self, reply: &Reply, accepted: bool, remark: Option<String>) {
        self.acknowledgements.push((reply.attempt_seq, Acknowledgement { accepted, remark }));
    }

    /// The subscriber's display names (first, middle, last).
    pub fn customer_names(&self, msisdn: &str) -> (String, String, String) {
        self.world.customer_names(msisdn)
    }
}
