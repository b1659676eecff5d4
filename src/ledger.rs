//! The ledger: who holds how much, and every movement between them.
//!
//! Money is kept in cents (`i64`), never in floats.
//! Every completed transaction posts balanced legs (the sum of a posting is
//! zero), so money is neither created nor destroyed by a transaction.
//! Only world loading ([`Ledger::open`]) brings money into existence.
//!
//! **Invariant:** no customer balance goes below zero; organisation accounts
//! may be configured to allow it (charges-paid accounts run negative on the
//! real system).

// Time, money and counts from outside: every computation here saturates or
// is checked, and the lint keeps it so.
#![warn(clippy::arithmetic_side_effects)]

use std::collections::VecDeque;

use std::fmt;

use chrono::{DateTime, Utc};
use compact_str::CompactString;

use crate::fastmap::HashMap;
use crate::markets::{Currency, Market};

/// An amount in cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(pub i64);

impl Money {
    pub fn from_shillings(shillings: i64) -> Money {
        Money(shillings.saturating_mul(100))
    }

    /// Converts a decimal amount (as read from a world file) to cents,
    /// rounding to the nearest cent.
    pub fn from_decimal(amount: f64) -> Money {
        Money((amount * 100.0).round() as i64)
    }

    /// Parses `"10"`, `"10.5"`, `"10.50"`; rejects anything else, including
    /// more than two decimals.
    pub fn parse(s: &str) -> Option<Money> {
        let s = s.trim();
        let (whole, frac) = match s.split_once('.') {
            Some((w, f)) => (w, f),
            None => (s, ""),
        };
        if whole.is_empty() || whole.len() > 15 || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if frac.len() > 2 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let whole: i64 = whole.parse().ok()?;
        let cents: i64 = match frac.len() {
            0 => 0,
            1 => frac.parse::<i64>().ok()?.checked_mul(10)?,
            _ => frac.parse().ok()?,
        };
        whole.checked_mul(100)?.checked_add(cents).map(Money)
    }

    pub fn cents(self) -> i64 {
        self.0
    }

    pub fn is_whole_shillings(self) -> bool {
        self.0 % 100 == 0
    }

    pub fn as_f64(self) -> f64 {
        self.0 as f64 / 100.0
    }
}

impl fmt::Display for Money {
    /// `1234.50`, `-3.05`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

/// The accounts of an organisation's shortcode, as the M-Pesa org portal
/// names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OrgAccount {
    Utility,
    Working,
    ChargesPaid,
}

impl OrgAccount {
    pub fn label(self) -> &'static str {
        match self {
            OrgAccount::Utility => "Utility Account",
            OrgAccount::Working => "Working Account",
            OrgAccount::ChargesPaid => "Charges Paid Account",
        }
    }
}

/// An account in the ledger. Customers are keyed by market and MSISDN (one
/// wallet per person per market, whichever provider moves it); organisation
/// accounts by the provider that owns them, so identifiers of different
/// providers (a Daraja shortcode, a Vodafone service provider code) never
/// collide.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Account {
    // Identifiers are short (an MSISDN, a shortcode): held inline, so
    // naming an account allocates nothing.
    Customer {
        market: Market,
        msisdn: CompactString,
    },
    Org {
        provider: &'static str,
        id: CompactString,
        account: OrgAccount,
    },
    /// Where transaction charges go (the operator's revenue), per currency.
    Revenue(Currency),
    /// Money outside mobile money: customers created on first use are funded
    /// from it, so even their opening balances are balanced postings.
    Outside(Currency),
}

impl Account {
    pub fn customer(market: Market, msisdn: &str) -> Account {
        Account::Customer { market, msisdn: msisdn.into() }
    }

    pub fn org(provider: &'static str, id: &str, account: OrgAccount) -> Account {
        Account::Org { provider, id: id.into(), account }
    }
}

/// One balanced movement of money.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub reference: CompactString,
    /// What the org portal's statement calls the transaction's details.
    pub details: String,
    pub at: DateTime<Utc>,
    /// The paying leg, then the paid one.
    pub legs: [(Account, Money); 2],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// The paying account does not hold enough.
    #[error("insufficient funds: {available} available, {needed} needed")]
    Insufficient { available: Money, needed: Money },
    /// The amount is zero or negative.
    #[error("amount must be positive")]
    NotPositive,
    /// The account was never opened.
    #[error("account does not exist")]
    NoSuchAccount,
    /// The accounts hold different currencies.
    #[error("the accounts hold different currencies ({from} and {to})")]
    CurrencyMismatch { from: Currency, to: Currency },
}

/// What an account holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Holding {
    currency: Currency,
    amount: Money,
}

#[derive(Debug, Clone)]
pub struct Ledger {
    balances: HashMap<Account, Holding>,
    history: VecDeque<Posting>,
    history_cap: usize,
    postings_evicted: u64,
}

impl Ledger {
    pub fn new(history_cap: usize) -> Ledger {
        Ledger { balances: HashMap::default(), history: VecDeque::new(), history_cap, postings_evicted: 0 }
    }

    /// Opens an account in a currency with an initial balance; an existing
    /// account keeps its currency and balance. Returns the balance.
    pub fn open(&mut self, account: Account, currency: Currency, initial: Money) -> Money {
        self.balances.entry(account).or_insert(Holding { currency, amount: initial }).amount
    }

    pub fn balance(&self, account: &Account) -> Option<Money> {
        self.balances.get(account).map(|h| h.amount)
    }

    pub fn currency(&self, account: &Account) -> Option<Currency> {
        self.balances.get(account).map(|h| h.currency)
    }

    /// Moves `amount` from one account to another as one balanced posting.
    /// The paying account must exist and hold enough unless it is an
    /// organisation's charges account.
    pub fn transfer(
        &mut self,
        reference: &str,
        details: impl Into<String>,
        at: DateTime<Utc>,
        from: &Account,
        to: &Account,
        amount: Money,
    ) -> Result<(), LedgerError> {
        if amount.0 <= 0 {
            return Err(LedgerError::NotPositive);
        }
        let payer = *self.balances.get(from).ok_or(LedgerError::NoSuchAccount)?;
        let payee = *self.balances.get(to).ok_or(LedgerError::NoSuchAccount)?;
        if payer.currency != payee.currency {
            return Err(LedgerError::CurrencyMismatch { from: payer.currency, to: payee.currency });
        }
        let available = payer.amount;
        let may_overdraw = matches!(
            from,
            Account::Org { account: OrgAccount::ChargesPaid, .. } | Account::Revenue(_) | Account::Outside(_)
        );
        if !may_overdraw && available.0 < amount.0 {
            return Err(LedgerError::Insufficient { available, needed: amount });
        }
        self.apply(Posting {
            reference: reference.into(),
            details: details.into(),
            at,
            legs: [(from.clone(), Money(0i64.saturating_sub(amount.0))), (to.clone(), amount)],
        });
        Ok(())
    }

    /// The most recent postings, oldest first (bounded by the history cap).
    pub fn history(&self) -> impl Iterator<Item = &Posting> {
        self.history.iter()
    }

    pub fn postings_evicted(&self) -> u64 {
        self.postings_evicted
    }

    /// Sum of every balance in one currency; constant across transfers.
    pub fn total(&self, currency: Currency) -> i128 {
        self.balances.values().filter(|h| h.currency == currency).map(|h| h.amount.0 as i128).sum()
    }

    /// Every account with its currency and balance.
    pub fn accounts(&self) -> impl Iterator<Item = (&Account, Currency, Money)> {
        self.balances.iter().map(|(a, h)| (a, h.currency, h.amount))
    }

    fn apply(&mut self, posting: Posting) {
        debug_assert_eq!(posting.legs.iter().map(|(_, m)| m.0).sum::<i64>(), 0);
        for (account, delta) in &posting.legs {
            // Both legs exist (checked by the caller); balances cannot
            // overflow an i64 of cents with amounts capped far below it.
            if let Some(holding) = self.balances.get_mut(account) {
                holding.amount.0 = holding.amount.0.saturating_add(delta.0);
            }
        }
        if self.history_cap > 0 {
            if self.history.len() == self.history_cap {
                self.history.pop_front();
                self.postings_evicted = self.postings_evicted.saturating_add(1);
            }
            crate::retained::reserve_bounded(&mut self.history, self.history_cap);
            self.history.push_back(posting);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn money_parses_and_prints_decimal_shillings() {
        assert_eq!(Money::parse("10"), Some(Money(1000)));
        assert_eq!(Money::parse("10.5"), Some(Money(1050)));
        assert_eq!(Money::parse("0.05"), Some(Money(5)));
        assert_eq!(Money::parse("1.005"), None);
        assert_eq!(Money::parse("-1"), None);
        assert_eq!(Money::parse("1e3"), None);
        assert_eq!(Money(123450).to_string(), "1234.50");
        assert_eq!(Money(-305).to_string(), "-3.05");
    }

    #[test]
    fn money_never_moves_between_currencies() {
        let mut ledger = Ledger::new(10);
        let kenyan = Account::customer(Market::Kenya, "254700000001");
        let mozambican = Account::customer(Market::Mozambique, "258840000001");
        ledger.open(kenyan.clone(), Currency::Kes, Money(500));
        ledger.open(mozambican.clone(), Currency::Mzn, Money(0));
        let err = ledger.transfer("r", "test", Utc::now(), &kenyan, &mozambican, Money(100)).unwrap_err();
        assert_eq!(err, LedgerError::CurrencyMismatch { from: Currency::Kes, to: Currency::Mzn });
        assert_eq!(ledger.balance(&kenyan), Some(Money(500)));
    }

    #[test]
    fn a_transfer_that_would_overdraw_a_customer_is_refused() {
        let mut ledger = Ledger::new(10);
        let alice = Account::customer(Market::Kenya, "254700000001");
        let shop = Account::org("test", "174379", OrgAccount::Utility);
        ledger.open(alice.clone(), Currency::Kes, Money(500));
        ledger.open(shop.clone(), Currency::Kes, Money(0));
        let err = ledger.transfer("r1", "test", Utc::now(), &alice, &shop, Money(600)).unwrap_err();
        assert_eq!(err, LedgerError::Insufficient { available: Money(500), needed: Money(600) });
        ledger.transfer("r2", "test", Utc::now(), &alice, &shop, Money(500)).unwrap();
        assert_eq!(ledger.balance(&alice), Some(Money(0)));
        assert_eq!(ledger.balance(&shop), Some(Money(500)));
    }

    proptest! {
        #[test]
        fn transfers_conserve_money_and_never_overdraw_customers(
            ops in proptest::collection::vec((0usize..4, 0usize..4, 1i64..5_000), 0..200)
        ) {
            let accounts = [
                Account::customer(Market::Kenya, "254700000001"),
                Account::customer(Market::Kenya, "254700000002"),
                Account::org("test", "174379", OrgAccount::Utility),
                Account::org("test", "600000", OrgAccount::Utility),
            ];
            let mut ledger = Ledger::new(50);
            for (a, opening) in accounts.iter().zip((0i64..).step_by(1_000)) {
                ledger.open(a.clone(), Currency::Kes, Money(opening));
            }
            let total = ledger.total(Currency::Kes);
            for (from, to, amount) in ops {
                let _ = ledger.transfer("r", "test", Utc::now(), &accounts[from], &accounts[to], Money(amount));
                prop_assert_eq!(ledger.total(Currency::Kes), total);
                for a in &accounts {
                    prop_assert!(ledger.balance(a).unwrap().0 >= 0);
                }
            }
        }
    }
}
