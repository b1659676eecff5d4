//! M-Pesa's own records of completed transactions, by receipt number.
//!
//! Every completed payment (M-Pesa Express, C2B, B2C, B2B, tax, reversal)
//! leaves a record; transaction status queries, reversals, pull
//! transactions and statements read them, so what they report is what
//! happened.

use chrono::{DateTime, Utc};
use compact_str::CompactString;

use crate::fastmap::HashMap;
use crate::ledger::Money;
use crate::retained::Retained;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// A customer paid a paybill (C2B or M-Pesa Express).
    PayBill,
    /// A customer paid a till.
    BuyGoods,
    B2c,
    B2b,
    TaxRemittance,
    Reversal,
}

impl RecordKind {
    /// The `ReasonType` a transaction status result shows.
    pub fn reason_type(self) -> &'static str {
        match self {
            RecordKind::PayBill => "Pay Bill Online",
            RecordKind::BuyGoods => "Pay Merchant",
            RecordKind::B2c => "Business Payment to Customer via API",
            RecordKind::B2b => "Business to Business Transfer",
            RecordKind::TaxRemittance => "Pay Tax to KRA",
            RecordKind::Reversal => "Reversal",
        }
    }

    /// Whether the Reversal API may undo it (B2C may not).
    pub fn reversible(self) -> bool {
        matches!(self, RecordKind::PayBill | RecordKind::BuyGoods | RecordKind::B2b)
    }

    /// The pull-transactions `transactiontype`.
    pub fn pull_type(self) -> &'static str {
        match self {
            RecordKind::PayBill => "c2b-pay-bill-debit",
            RecordKind::BuyGoods => "c2b-buy-goods-debit",
            RecordKind::B2c => "b2c-payment",
            RecordKind::B2b => "b2b-payment",
            RecordKind::TaxRemittance => "tax-remittance",
            RecordKind::Reversal => "reversal",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordStatus {
    Completed,
    Reversed,
}

/// A party to a transaction: who paid or who was paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    /// An MSISDN or a shortcode (inline: no allocation).
    pub id: CompactString,
    /// `254708374149 - JOHN DOE` or `600000 - Safaricom Daraja 000`.
    pub public_name: CompactString,
}

#[derive(Debug, Clone)]
pub struct Record {
    pub receipt: CompactString,
    pub kind: RecordKind,
    pub completed_at: DateTime<Utc>,
    pub debit: Party,
    pub credit: Party,
    pub amount: Money,
    pub charge: Money,
    pub status: RecordStatus,
    pub originator_conversation_id: Option<String>,
    pub conversation_id: Option<String>,
    pub bill_reference: Option<CompactString>,
    pub initiator: Option<String>,
    /// For a reversal: the receipt it reversed. For a reversed record: the reversal's receipt.
    pub linked_receipt: Option<CompactString>,
}

/// Records, oldest first, forgotten past a retention limit.
#[derive(Debug, Default)]
pub struct Records {
    /// By receipt: ten characters, held inline.
    by_receipt: Retained<Record, CompactString>,
    by_conversation: HashMap<String, CompactString>,
}

impl Records {
    pub fn insert(&mut self, record: Record, retention: usize) {
        for id in [&record.originator_conversation_id, &record.conversation_id].into_iter().flatten() {
            self.by_conversation.insert(id.clone(), record.receipt.clone());
        }
        let by_conversation = &mut self.by_conversation;
        let key = record.receipt.clone();
        self.by_receipt.insert_finished(key, record, retention, |_, forgotten| {
            for id in [forgotten.originator_conversation_id, forgotten.conversation_id].into_iter().flatten() {
                by_conversation.remove(&id);
            }
        });
    }

    pub fn get(&self, receipt: &str) -> Option<&Record> {
        self.by_receipt.get(receipt)
    }

    pub fn get_mut(&mut self, receipt: &str) -> Option<&mut Record> {
        self.by_receipt.get_mut(receipt)
    }

    pub fn by_conversation(&self, id: &str) -> Option<&Record> {
        self.by_conversation.get(id).and_then(|r| self.by_receipt.get(r))
    }

    /// Records in completion order.
    pub fn iter(&self) -> impl Iterator<Item = &Record> {
        self.by_receipt.finished()
    }
}
