//! The reconciliation statement: an organisation account's movements as the
//! M-Pesa org portal exports them, so a test can reconcile its books against
//! what M-Pesa says happened.
//!
//! `GET /statements/{shortcode}?account=utility|working|charges` (utility by
//! default) answers a CSV with the portal's columns, `Receipt No.`,
//! `Completion Time` (`dd-MM-yyyy HH:mm:ss`, EAT), `Details`,
//! `Transaction Status`, `Paid In`, `Withdrawn` (negative, as the portal
//! shows it), `Balance` (the account's balance after that movement) and
//! `Other Party` (`254708374149 - JOHN DOE`, `600000 - Safaricom Daraja 000`),
//! one row per ledger posting that touches the account, newest first.
//!
//! Rows come from the ledger's retained history, which is bounded; balances
//! are derived by walking back from the account's current balance, so they
//! stay right even when older postings have been forgotten.

use axum::extract::rejection::{QueryRejection, RawPathParamsRejection};
use axum::extract::{Query, RawPathParams};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::requests::{customer_public_name, org_public_name};
use super::{accounts, Daraja, State};
use crate::admin::{query, AdminError, TenantRef};
use crate::clock::eat;
use crate::ledger::{Account, Ledger, Money, OrgAccount, Posting};
use crate::store::Core;

/// The statement's columns are named as the portal's export names them.
pub(crate) const HEADER: [&str; 8] = [
    "Receipt No.",
    "Completion Time",
    "Details",
    "Transaction Status",
    "Paid In",
    "Withdrawn",
    "Balance",
    "Other Party",
];

/// The charges on a charges paid account go to this party.
const CHARGES_PARTY: &str = "Safaricom Limited";

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum StatementAccount {
    #[default]
    Utility,
    Working,
    Charges,
}

impl StatementAccount {
    fn org_account(self) -> OrgAccount {
        match self {
            StatementAccount::Utility => OrgAccount::Utility,
            StatementAccount::Working => OrgAccount::Working,
            StatementAccount::Charges => OrgAccount::ChargesPaid,
        }
    }

    fn name(self) -> &'static str {
        match self {
            StatementAccount::Utility => "utility",
            StatementAccount::Working => "working",
            StatementAccount::Charges => "charges",
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatementQuery {
    #[serde(default)]
    account: StatementAccount,
}

/// A row is one line of the statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub receipt: String,
    pub completed_at: String,
    pub details: String,
    pub paid_in: Option<Money>,
    pub withdrawn: Option<Money>,
    pub balance: Money,
    pub other_party: String,
}

pub(crate) async fn statement(
    TenantRef(tenant): TenantRef,
    params: Result<RawPathParams, RawPathParamsRejection>,
    q: Result<Query<StatementQuery>, QueryRejection>,
) -> Result<Response, AdminError> {
    let params = params.map_err(|e| AdminError::bad_request(e.body_text()))?;
    let shortcode = params.iter().find(|(name, _)| *name == "shortcode").map(|(_, v)| v.to_owned()).unwrap_or_default();
    let account = query(q)?.account;
    let rows = tenant.with::<Daraja, _>(|core, mine| {
        if !mine.world.shortcodes.contains_key(&shortcode) {
            return Err(AdminError::new(
                StatusCode::NOT_FOUND,
                "unknown_shortcode",
                format!(
                    "shortcode {shortcode:?} is not in tenant {:?}'s world; GET /__sandbox/credentials lists them",
                    tenant.id
                ),
            ));
        }
        let account = accounts::org(&shortcode, account.org_account());
        Ok(rows(&core.ledger, &account, |other| public_name(core, mine, other)))
    })?;
    let csv = write_csv(&rows).map_err(|e| {
        AdminError::new(StatusCode::INTERNAL_SERVER_ERROR, "error", format!("the CSV could not be written: {e}"))
    })?;
    let disposition = format!("attachment; filename=\"statement-{shortcode}-{}.csv\"", account.name());
    Ok((
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, disposition)],
        csv,
    )
        .into_response())
}

/// Lists the account's rows, newest first, each with the balance after it;
/// `name_of` names the account on the other side of a posting.
pub(crate) fn rows(ledger: &Ledger, account: &Account, name_of: impl Fn(&Account) -> String) -> Vec<Row> {
    let postings: Vec<&Posting> = ledger.history().filter(|p| p.legs.iter().any(|(a, _)| a == account)).collect();
    let mut balance = ledger.balance(account).unwrap_or_default();
    let mut rows = Vec::with_capacity(postings.len());
    for posting in postings.into_iter().rev() {
        let delta =
            posting.legs.iter().filter(|(a, _)| a == account).fold(0i64, |sum, (_, m)| sum.saturating_add(m.cents()));
        let other_party = posting.legs.iter().find(|(a, _)| a != account).map(|(a, _)| name_of(a)).unwrap_or_default();
        rows.push(Row {
            receipt: posting.reference.to_string(),
            completed_at: eat(posting.at).format("%d-%m-%Y %H:%M:%S").to_string(),
            details: posting.details.clone(),
            paid_in: (delta > 0).then_some(Money(delta)),
            withdrawn: (delta < 0).then_some(Money(delta)),
            balance,
            other_party,
        });
        balance = Money(balance.cents().saturating_sub(delta));
    }
    rows
}

/// Names an account on the other side of a posting, as the statement shows it.
fn public_name(core: &Core, mine: &State, account: &Account) -> String {
    match account {
        Account::Customer { msisdn, .. } => customer_public_name(core, msisdn).into(),
        Account::Org { id, .. } => org_public_name(&mine.world, id).into(),
        Account::Revenue(_) => CHARGES_PARTY.to_owned(),
        Account::Outside(_) => "Opening balance".to_owned(),
    }
}

/// Writes the rows as CSV under the portal's header.
pub(crate) fn write_csv(rows: &[Row]) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(HEADER)?;
    for row in rows {
        let money = |m: Option<Money>| m.map(|m| m.to_string()).unwrap_or_default();
        out.write_record([
            row.receipt.as_str(),
            row.completed_at.as_str(),
            row.details.as_str(),
            "Completed",
            money(row.paid_in).as_str(),
            money(row.withdrawn).as_str(),
            row.balance.to_string().as_str(),
            row.other_party.as_str(),
        ])?;
    }
    out.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::markets::Currency;
    use chrono::{TimeZone, Utc};

    #[test]
    fn balances_walk_back_from_the_current_balance_and_name_the_other_party() {
        let mut ledger = Ledger::new(100);
        let paybill = accounts::utility("600000");
        let customer = accounts::customer("254708374149");
        let charges = accounts::org("600000", OrgAccount::ChargesPaid);
        let revenue = Account::Revenue(Currency::Kes);
        ledger.open(paybill.clone(), Currency::Kes, Money(10_000));
        ledger.open(customer.clone(), Currency::Kes, Money(100_000));
        ledger.open(charges.clone(), Currency::Kes, Money(0));
        ledger.open(revenue.clone(), Currency::Kes, Money(0));
        let at = Utc.with_ymd_and_hms(2030, 1, 31, 6, 0, 0).unwrap();
        ledger.transfer("R1", "Pay Bill", at, &customer, &paybill, Money(5_000)).unwrap();
        ledger.transfer("R2", "Business Payment", at, &paybill, &customer, Money(2_000)).unwrap();
        ledger.transfer("R2", "Business Payment Charge", at, &charges, &revenue, Money(300)).unwrap();
        let name_of = |a: &Account| match a {
            Account::Customer { msisdn, .. } => format!("{msisdn} - JOHN DOE"),
            Account::Org { id, .. } => format!("{id} - Shop"),
            Account::Revenue(_) => CHARGES_PARTY.to_owned(),
            Account::Outside(_) => "Opening balance".to_owned(),
        };
        let rows = rows(&ledger, &paybill, name_of);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].receipt, "R2");
        assert_eq!(rows[0].withdrawn, Some(Money(-2_000)));
        assert_eq!(rows[0].balance, Money(13_000));
        assert_eq!(rows[0].other_party, "254708374149 - JOHN DOE");
        assert_eq!(rows[0].completed_at, "31-01-2030 09:00:00");
        assert_eq!(rows[1].paid_in, Some(Money(5_000)));
        assert_eq!(rows[1].balance, Money(15_000));
        let charged = super::rows(&ledger, &charges, name_of);
        assert_eq!(charged.len(), 1);
        assert_eq!(charged[0].balance, Money(-300));
        assert_eq!(charged[0].other_party, CHARGES_PARTY);
        let csv = String::from_utf8(write_csv(&rows).unwrap()).unwrap();
        let mut lines = csv.lines();
        assert_eq!(
            lines.next(),
            Some("Receipt No.,Completion Time,Details,Transaction Status,Paid In,Withdrawn,Balance,Other Party")
        );
        assert_eq!(
            lines.next(),
            Some("R2,31-01-2030 09:00:00,Business Payment,Completed,,-20.00,130.00,254708374149 - JOHN DOE")
        );
    }
}
