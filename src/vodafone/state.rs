//! The provider's per-tenant state: the transactions it answered (money
//! APIs, queries with an asynchronous result), the OpenAPI sessions it
//! issued, the direct-debit mandates, and the counters the OpenAPI's limits
//! read.
//!
//! **Invariant:** money and the record of it change together, under the
//! tenant's lock ([`crate::store::Tenant::with`]); a transaction's money
//! moves at most once, and a reversal returns at most what is left of it.

use std::collections::{BTreeMap, VecDeque};

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use super::api::{Api, Profile};
use super::direct_debit::Frequency;
use super::markets::Market;
use super::openapi::SessionTimes;
use super::wire::AckJudgement;
use super::world::World;
use crate::fastmap::HashMap;
use crate::ledger::{Account, Money};
use crate::retained::Retained;
use crate::scenarios::CallbackScript;

/// The most sessions a tenant keeps; the oldest are forgotten past it (the
/// core's token index forgets them the same way, per application).
pub(crate) const MAX_SESSIONS: usize = 10_000;

/// The most mandates a tenant keeps.
pub(crate) const MAX_MANDATES: usize = 10_000;

#[derive(Debug)]
pub(crate) struct State {
    /// The tenant's part of the world, with API keys renewed and URLs set since.
    pub(crate) world: Arc<World>,
    /// Transactions by conversation id; finished ones are forgotten, oldest
    /// first, past the retention limit.
    pub(crate) transactions: Retained<Transaction>,
    /// Transaction id → conversation id.
    pub(crate) by_transaction_id: HashMap<String, String>,
    /// Duplicate keys (`{owner}\u{0}{key}`) → conversation id.
    pub(crate) duplicates: HashMap<String, String>,
    /// Third-party references (`{owner}\u{0}{reference}`) → the conversation
    /// ids of the kept transactions carrying them, oldest first.
    by_reference: HashMap<String, VecDeque<String>>,
    pub(crate) sessions: HashMap<String, Session>,
    /// Session ids, oldest first.
    pub(crate) session_order: VecDeque<String>,
    pub(crate) mandates: BTreeMap<String, Mandate>,
    /// Per customer and market day: value and count, for `INS-990`/`INS-991`.
    pub(crate) customer_days: HashMap<CustomerDay, Usage>,
    /// The keys of `customer_days`, first counted first.
    customer_day_order: VecDeque<CustomerDay>,
}

/// The key of a third-party reference in [`State`]'s index.
fn reference_key(owner: &str, reference: &str) -> String {
    format!("{owner}\u{0}{reference}")
}

/// A caller (application owner), a customer's MSISDN and a market day.
pub(crate) type CustomerDay = (String, String, NaiveDate);

/// Customer-days counted before the first counted is forgotten.
pub(crate) const MAX_CUSTOMER_DAYS: usize = 10_000;

impl State {
    pub(crate) fn new(world: Arc<World>) -> State {
        State {
            world,
            transactions: Retained::default(),
            by_transaction_id: HashMap::default(),
            duplicates: HashMap::default(),
            by_reference: HashMap::default(),
            sessions: HashMap::default(),
            session_order: VecDeque::new(),
            mandates: BTreeMap::new(),
            customer_days: HashMap::default(),
            customer_day_order: VecDeque::new(),
        }
    }

    /// Counts `amount` for a customer's day. At most [`MAX_CUSTOMER_DAYS`]
    /// are kept: beyond them the one counted first is forgotten (an earlier
    /// day's, on a clock that only moves forward), in constant time.
    pub(crate) fn count_customer_day(&mut self, key: CustomerDay, amount: Money) {
        match self.customer_days.entry(key) {
            std::collections::hash_map::Entry::Occupied(mut day) => day.get_mut().add(amount),
            std::collections::hash_map::Entry::Vacant(day) => {
                self.customer_day_order.push_back(day.key().clone());
                day.insert(Usage::default()).add(amount);
            }
        }
        while self.customer_days.len() > MAX_CUSTOMER_DAYS {
            let Some(first) = self.customer_day_order.pop_front() else { break };
            self.customer_days.remove(&first);
        }
    }

    /// Records a transaction; a finished one may push the oldest out.
    pub(crate) fn insert(&mut self, tx: Transaction, limit: usize) {
        let conversation_id = tx.conversation_id.clone();
        if let Some(id) = &tx.transaction_id {
            self.by_transaction_id.insert(id.clone(), conversation_id.clone());
        }
        if let Some(key) = &tx.duplicate_key {
            self.duplicates.insert(key.clone(), conversation_id.clone());
        }
        // Conversation ids are new for every transaction: no check for one already kept.
        self.by_reference
            .entry(reference_key(&tx.owner, &tx.third_party))
            .or_default()
            .push_back(conversation_id.clone());
        let finished = tx.status.is_final();
        self.transactions.insert(conversation_id.clone(), tx);
        if finished {
            self.finish(&conversation_id, limit);
        }
    }

    /// Marks a transaction finished and forgets the oldest past `limit`,
    /// with their index entries.
    pub(crate) fn finish(&mut self, conversation_id: &str, limit: usize) {
        let (by_id, duplicates, by_reference) =
            (&mut self.by_transaction_id, &mut self.duplicates, &mut self.by_reference);
        self.transactions.finish(conversation_id, limit, |key, old| {
            let reference = reference_key(&old.owner, &old.third_party);
            if let Some(kept) = by_reference.get_mut(&reference) {
                // The oldest kept is nearly always the one forgotten.
                if kept.front().map(String::as_str) == Some(key) {
                    kept.pop_front();
                } else {
                    kept.retain(|c| *c != key);
                }
                if kept.is_empty() {
                    by_reference.remove(&reference);
                }
            }
            if let Some(id) = &old.transaction_id {
                if by_id.get(id).map(String::as_str) == Some(key) {
                    by_id.remove(id);
                }
            }
            if let Some(dup) = &old.duplicate_key {
                if duplicates.get(dup).map(String::as_str) == Some(key) {
                    duplicates.remove(dup);
                }
            }
        });
    }

    /// The transaction an id names: a transaction id, a conversation id, or
    /// the client's reference or conversation id, of one owner.
    pub(crate) fn find(&self, owner: &str, reference: &str) -> Option<&Transaction> {
        let ours = |t: &&Transaction| t.owner == owner && t.api.moves_money();
        if let Some(tx) = self.transactions.get(reference).filter(ours) {
            return Some(tx);
        }
        if let Some(tx) = self.by_transaction_id.get(reference).and_then(|c| self.transactions.get(c)).filter(ours) {
            return Some(tx);
        }
        let kept = self.by_reference.get(&reference_key(owner, reference))?;
        kept.iter().filter_map(|c| self.transactions.get(c)).filter(ours).max_by_key(|t| t.at)
    }

    /// Adds a mandate, forgetting the oldest finished ones (then the oldest)
    /// past [`MAX_MANDATES`].
    pub(crate) fn add_mandate(&mut self, mandate: Mandate) {
        while self.mandates.len() >= MAX_MANDATES {
            let victim = self
                .mandates
                .values()
                .filter(|m| matches!(m.status, MandateStatus::Cancelled | MandateStatus::Expired))
                .min_by_key(|m| m.created_at)
                .or_else(|| self.mandates.values().min_by_key(|m| m.created_at))
                .map(|m| m.mandate_id.clone());
            match victim {
                Some(id) => self.mandates.remove(&id),
                None => break,
            };
        }
        self.mandates.insert(mandate.mandate_id.clone(), mandate);
    }

    /// Adds a session, forgetting the oldest past [`MAX_SESSIONS`].
    pub(crate) fn add_session(&mut self, session: Session) {
        self.session_order.push_back(session.id.clone());
        self.sessions.insert(session.id.clone(), session);
        while self.session_order.len() > MAX_SESSIONS {
            if let Some(old) = self.session_order.pop_front() {
                self.sessions.remove(&old);
            }
        }
    }
}

/// Where a transaction stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// Accepted; the result is on its way (asynchronous mode).
    Pending,
    Completed,
    Failed,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Completed => "completed",
            Status::Failed => "failed",
        }
    }

    pub(crate) fn is_final(self) -> bool {
        self != Status::Pending
    }
}

/// What the scenario (or the default) decided a request's result is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Planned {
    /// `INS-0`, `INS-2006`, or any code a scenario names.
    pub(crate) code: String,
    /// A scenario's own description.
    pub(crate) desc: Option<String>,
    /// Nobody answers: the result comes after the world's timeout.
    pub(crate) timeout: bool,
    /// The scenario rule that decided, when one did.
    pub(crate) rule: Option<String>,
}

impl Planned {
    pub(crate) fn success() -> Planned {
        Planned { code: "INS-0".into(), desc: None, timeout: false, rule: None }
    }

    pub(crate) fn is_success(&self) -> bool {
        self.code == "INS-0"
    }
}

/// How money moves when a transaction succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Movement {
    pub(crate) from: Account,
    pub(crate) to: Account,
    pub(crate) amount: Money,
}

/// One request the provider answered with a transaction record.
#[derive(Debug, Clone)]
pub(crate) struct Transaction {
    pub(crate) conversation_id: String,
    /// Set when the transaction completes (or at once, synchronously).
    pub(crate) transaction_id: Option<String>,
    pub(crate) profile: Profile,
    pub(crate) api: Api,
    pub(crate) market: Market,
    /// The account's or application's name.
    pub(crate) owner: String,
    /// `input_ThirdPartyReference` (portal) or `input_ThirdPartyConversationID` (OpenAPI).
    pub(crate) third_party: String,
    pub(crate) transaction_reference: Option<String>,
    pub(crate) msisdn: Option<String>,
    pub(crate) service_provider_code: String,
    pub(crate) amount: Option<Money>,
    /// The money this transaction moves when it succeeds.
    pub(crate) movement: Option<Movement>,
    /// Reversed so far (of a money transaction).
    pub(crate) reversed: Money,
    /// A reversal's original transaction (its conversation id).
    pub(crate) original: Option<String>,
    pub(crate) planned: Planned,
    pub(crate) status: Status,
    /// The final code and description.
    pub(crate) result: Option<(String, String)>,
    pub(crate) at: DateTime<Utc>,
    pub(crate) settled_at: Option<DateTime<Utc>>,
    /// Where the asynchronous result goes; `None` when answered synchronously.
    pub(crate) async_url: Option<String>,
    pub(crate) script: CallbackScript,
    /// How the listener acknowledged the result.
    pub(crate) ack: Option<AckJudgement>,
    pub(crate) duplicate_key: Option<String>,
    /// What the asynchronous result carries besides the outcome.
    pub(crate) extra: Extra,
    /// Why the result came out as it did, for the admin API.
    pub(crate) reason: String,
}

/// Per-API data an asynchronous result carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Extra {
    #[default]
    None,
    Status {
        original_transaction_id: Option<String>,
        reversed: bool,
        status: &'static str,
    },
    Beneficiary {
        first_name: String,
        last_name: String,
    },
    Mandate {
        mandate_id: Option<String>,
        token: Option<String>,
        reference: Option<String>,
    },
    MandateQuery(Box<super::wire::MandateView>),
}

/// An OpenAPI session.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) id: String,
    pub(crate) app: String,
    pub(crate) market: Market,
    pub(crate) times: SessionTimes,
    /// Transactions made in this session, and their value (the session limits).
    pub(crate) usage: Usage,
}

/// A count and a value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    pub(crate) count: u64,
    pub(crate) value: Money,
}

impl Usage {
    pub(crate) fn add(&mut self, amount: Money) {
        self.count = self.count.saturating_add(1);
        self.value = Money(self.value.0.saturating_add(amount.0));
    }
}

/// Where a direct-debit mandate stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MandateStatus {
    /// Created, waiting for the customer's approval.
    Created,
    Active,
    Cancelled,
    Expired,
}

impl MandateStatus {
    /// As Query Direct Debit writes it.
    pub(crate) fn wire(self) -> &'static str {
        match self {
            MandateStatus::Created => "Pending Approval",
            MandateStatus::Active => "Active",
            MandateStatus::Cancelled => "Cancelled",
            MandateStatus::Expired => "Expired",
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            MandateStatus::Created => "created",
            MandateStatus::Active => "active",
            MandateStatus::Cancelled => "cancelled",
            MandateStatus::Expired => "expired",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<MandateStatus> {
        [MandateStatus::Created, MandateStatus::Active, MandateStatus::Cancelled, MandateStatus::Expired]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// A direct-debit mandate.
#[derive(Debug, Clone)]
pub(crate) struct Mandate {
    pub(crate) mandate_id: String,
    pub(crate) app: String,
    pub(crate) market: Market,
    pub(crate) msisdn: String,
    pub(crate) token: String,
    pub(crate) service_provider_code: String,
    pub(crate) third_party_reference: String,
    pub(crate) transaction_reference: String,
    pub(crate) status: MandateStatus,
    pub(crate) frequency: Option<Frequency>,
    pub(crate) first_payment_date: Option<NaiveDate>,
    pub(crate) day_range: (Option<u8>, Option<u8>),
    pub(crate) expiry_date: Option<NaiveDate>,
    pub(crate) created_at: DateTime<Utc>,
    /// Whether the customer accepted the terms (`input_AgreedTC`): a
    /// mandate without them stays created, never active.
    pub(crate) agreed_tc: bool,
    pub(crate) payments: u64,
}

impl Mandate {
    /// The status on a market day: an active mandate past its expiry date is expired.
    pub(crate) fn status_on(&self, today: NaiveDate) -> MandateStatus {
        match (self.status, self.expiry_date) {
            (MandateStatus::Active | MandateStatus::Created, Some(expiry)) if today > expiry => MandateStatus::Expired,
            (status, _) => status,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_days_are_bounded_and_forget_the_first_counted_first() {
        let world = Arc::new(World::from_overlays(Vec::new()).expect("the default world resolves"));
        let mut state = State::new(world);
        let key = |n: usize, day: u32| {
            let date = NaiveDate::from_ymd_opt(2026, 12, day).expect("a date");
            ("app".to_owned(), format!("2557{n:08}"), date)
        };
        state.count_customer_day(key(0, 4), Money::from_shillings(5));
        state.count_customer_day(key(0, 4), Money::from_shillings(7));
        assert_eq!(state.customer_days[&key(0, 4)], Usage { count: 2, value: Money::from_shillings(12) });
        // Ten more than the bound on the next day: the earlier day and the
        // first ten of this one are forgotten, and the map never grows past it.
        for n in 0..MAX_CUSTOMER_DAYS + 10 {
            state.count_customer_day(key(n, 5), Money::from_shillings(1));
            assert!(state.customer_days.len() <= MAX_CUSTOMER_DAYS);
        }
        assert_eq!(state.customer_days.len(), MAX_CUSTOMER_DAYS);
        assert_eq!(state.customer_day_order.len(), MAX_CUSTOMER_DAYS);
        assert!(!state.customer_days.contains_key(&key(0, 4)));
        assert!(!state.customer_days.contains_key(&key(9, 5)));
        assert_eq!(state.customer_days[&key(10, 5)].count, 1);
        assert_eq!(state.customer_days[&key(MAX_CUSTOMER_DAYS + 9, 5)].count, 1);
    }
}
