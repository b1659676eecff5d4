//! M-Pesa prompts: how a customer pays an invoice from the phone.
//!
//! A prompt comes from the checkout page's form, from `sendSTK=true` at
//! checkout, from `send_stk` on `invoice/create`, or from a valid USSD
//! session. Its outcome is the scenario engine's decision for the
//! `mpesa_prompt` operation (the default: the customer pays after the world's
//! `prompt_answer_delay_ms`); when it falls due, the customer's Kenyan wallet
//! in the shared ledger pays the service's collection account, the invoice
//! records the payment under the M-Pesa receipt, and the instant payment
//! notification is planned.
//!
//! A cancelled, timed-out or unfunded prompt is an outcome, not an error:
//! the prompt is `failed` with the M-Pesa result, the invoice is unchanged,
//! and no notification is sent (Pesaflow notifies successful payments only).
//!
//! **Invariant:** money moves only when the invoice can record it, and both
//! happen in the same critical section.

use chrono::{DateTime, Utc};

use super::amount::Currency;
use super::invoice::{Channel, Invoice, InvoiceStatus, Paid, Payment, PaymentIn};
use super::scenario::{prompt_result_text, FactValues};
use super::wire::normalise_msisdn;
use super::{accounts, notify, Due, Pesaflow, State};
use crate::clock::after_ms_u64;
use crate::handset::PromptAnswer;
use crate::ledger::{Account, LedgerError, Money};
use crate::markets::Market;
use crate::scenarios::{Decision, Facts, ResultCode};
use crate::store::Core;

/// The scenario operation of a prompt.
pub(crate) const OPERATION: &str = "mpesa_prompt";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PromptStatus {
    Pending,
    Paid,
    Failed,
}

impl PromptStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            PromptStatus::Pending => "pending",
            PromptStatus::Paid => "paid",
            PromptStatus::Failed => "failed",
        }
    }
}

/// What asked for the prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PromptOrigin {
    /// The checkout page's form.
    Page,
    /// `sendSTK=true` on a checkout.
    SendStk,
    /// `send_stk` on `invoice/create`.
    InvoiceCreate,
    /// A customer on the USSD channel, once the merchant validated the reference.
    Ussd,
}

impl PromptOrigin {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            PromptOrigin::Page => "page",
            PromptOrigin::SendStk => "send_stk",
            PromptOrigin::InvoiceCreate => "invoice_create",
            PromptOrigin::Ussd => "ussd",
        }
    }
}

/// One M-Pesa prompt towards an invoice.
#[derive(Debug, Clone)]
pub(crate) struct Prompt {
    pub(crate) id: String,
    pub(crate) invoice_number: String,
    pub(crate) api_client_id: String,
    pub(crate) service_id: String,
    pub(crate) msisdn: String,
    pub(crate) amount: Money,
    pub(crate) origin: PromptOrigin,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) settles_at: DateTime<Utc>,
    pub(crate) status: PromptStatus,
    /// The result the scenario decided when the prompt was sent.
    planned_code: ResultCode,
    planned_desc: Option<String>,
    /// Why the prompt ends as it does (scenario rule, ledger, admin answer).
    pub(crate) outcome_reason: String,
    /// Waiting for an answer through the admin API; times out as 1037.
    pub(crate) awaiting_customer: bool,
    pub(crate) settled_at: Option<DateTime<Utc>>,
    pub(crate) result_code: Option<ResultCode>,
    pub(crate) result_desc: Option<String>,
    /// The M-Pesa receipt, once paid.
    pub(crate) receipt: Option<String>,
}

/// Why a prompt could not be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PromptRefusal {
    #[error("{0:?} is not a Kenyan mobile number (2547XXXXXXXX or 2541XXXXXXXX)")]
    NotAPhoneNumber(String),
    #[error("no invoice {0} in this tenant")]
    UnknownInvoice(String),
    #[error("invoice {0} is already settled")]
    Settled(String),
    #[error("M-Pesa pays in KES; invoice {number} is in {currency}")]
    NotKes { number: String, currency: Currency },
    #[error("the amount must be greater than zero")]
    NotPositive,
    #[error("{amount} is more than the {balance} still due on invoice {number}")]
    AboveBalance { number: String, amount: Money, balance: Money },
    #[error("prompt {0} to this invoice is still waiting for the customer")]
    AlreadyOpen(String),
}

/// A prompt to send.
#[derive(Debug, Clone)]
pub(crate) struct PromptRequest<'a> {
    pub(crate) invoice_number: &'a str,
    /// As given; normalised from `07…`, `+254…`, `7…`.
    pub(crate) msisdn: &'a str,
    /// `None` asks for everything still due.
    pub(crate) amount: Option<Money>,
    pub(crate) origin: PromptOrigin,
}

/// What the scenario engine sees of a prompt.
pub(crate) fn facts(invoice: &Invoice, msisdn: &str, amount: Money) -> Facts<'static> {
    FactValues {
        msisdn: Some(normalise_msisdn(msisdn).unwrap_or_else(|| msisdn.to_owned())),
        amount: Some(amount),
        shortcode: Some(invoice.details.service_id.clone()),
        account_reference: Some(invoice.number.clone()),
        initiator: Some(invoice.details.api_client_id.clone()),
    }
    .into_facts(OPERATION, None)
}

/// The prompt `sendSTK` (checkout) and `send_stk` (`invoice/create`) ask for:
/// everything still due, to the invoice's phone, when there is one.
pub(crate) fn send_stk(
    core: &mut Core,
    mine: &mut State,
    invoice_number: &str,
    msisdn: Option<&str>,
    origin: PromptOrigin,
    now: DateTime<Utc>,
) -> Option<Result<String, PromptRefusal>> {
    let request = PromptRequest { invoice_number, msisdn: msisdn?, amount: None, origin };
    Some(start_deciding(core, mine, &request, now))
}

/// Sends a prompt whose outcome the scenario engine decides now (no request
/// of its own carries it: `sendSTK`, `invoice/create`, USSD).
pub(crate) fn start_deciding(
    core: &mut Core,
    mine: &mut State,
    request: &PromptRequest<'_>,
    now: DateTime<Utc>,
) -> Result<String, PromptRefusal> {
    let invoice = mine
        .invoices
        .get(request.invoice_number)
        .ok_or_else(|| PromptRefusal::UnknownInvoice(request.invoice_number.to_owned()))?;
    let amount = request.amount.unwrap_or_else(|| invoice.balance());
    let decision = core.decide(&facts(invoice, request.msisdn, amount));
    start(core, mine, request, decision.as_ref(), now)
}

/// Sends a prompt: checks it, takes its outcome from `decision` and
/// schedules the customer's answer. Returns the prompt's id.
pub(crate) fn start(
    core: &mut Core,
    mine: &mut State,
    request: &PromptRequest<'_>,
    decision: Option<&Decision>,
    now: DateTime<Utc>,
) -> Result<String, PromptRefusal> {
    let msisdn =
        normalise_msisdn(request.msisdn).ok_or_else(|| PromptRefusal::NotAPhoneNumber(request.msisdn.to_owned()))?;
    let number = request.invoice_number;
    let invoice = mine.invoices.get(number).ok_or_else(|| PromptRefusal::UnknownInvoice(number.to_owned()))?;
    if invoice.status() == InvoiceStatus::Settled {
        return Err(PromptRefusal::Settled(number.to_owned()));
    }
    if invoice.details.currency != Currency::KES {
        return Err(PromptRefusal::NotKes { number: number.to_owned(), currency: invoice.details.currency });
    }
    let balance = invoice.balance();
    let amount = request.amount.unwrap_or(balance);
    if amount.cents() <= 0 {
        return Err(PromptRefusal::NotPositive);
    }
    if amount > balance {
        return Err(PromptRefusal::AboveBalance { number: number.to_owned(), amount, balance });
    }
    if let Some(open) = mine.latest_prompt.get(number) {
        if mine.prompts.get(open).is_some_and(|p| p.status == PromptStatus::Pending) {
            return Err(PromptRefusal::AlreadyOpen(open.clone()));
        }
    }
    let (api_client_id, service_id) = (invoice.details.api_client_id.clone(), invoice.details.service_id.clone());

    let world = mine.world.clone();
    let outcome = decision.and_then(|d| d.outcome.as_ref());
    let (planned_code, planned_desc, outcome_reason) = match outcome {
        Some(o) => (
            o.result_code.clone(),
            o.result_desc.clone(),
            decision.map_or_else(String::new, |d| format!("scenario rule {}", d.rule)),
        ),
        None => (ResultCode::Number(0), None, "the customer pays (no scenario rule matched)".to_owned()),
    };
    let awaiting_customer = outcome.is_some_and(|o| o.await_customer);
    let timeout_ms = world.prompt_timeout_secs.saturating_mul(1000);
    let delay_ms = match outcome {
        Some(o) if o.timeout || o.await_customer => timeout_ms,
        Some(o) => o
            .after_ms
            .map_or(world.prompt_answer_delay_ms, |after| after.sample(|low, high| core.ids.between(low, high))),
        None => world.prompt_answer_delay_ms,
    };

    core.ensure_customer(Market::Kenya, &msisdn);
    let id = loop {
        let candidate = format!("PFP{}", core.ids.upper_alnum(12));
        if !mine.prompts.contains_key(&candidate) {
            break candidate;
        }
    };
    let settles_at = after_ms_u64(now, delay_ms);
    mine.prompts.insert(
        id.clone(),
        Prompt {
            id: id.clone(),
            invoice_number: number.to_owned(),
            api_client_id,
            service_id,
            msisdn,
            amount,
            origin: request.origin,
            created_at: now,
            settles_at,
            status: PromptStatus::Pending,
            planned_code,
            planned_desc,
            outcome_reason,
            awaiting_customer,
            settled_at: None,
            result_code: None,
            result_desc: None,
            receipt: None,
        },
    );
    mine.latest_prompt.insert(number.to_owned(), id.clone());
    core.schedule::<Pesaflow>(settles_at, Due::SettlePrompt { prompt_id: id.clone() });
    Ok(id)
}

/// Why a prompt could not be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AnswerError {
    #[error("no M-Pesa prompt {0:?} in this tenant")]
    Unknown(String),
    #[error("prompt {0:?} has already settled")]
    Settled(String),
}

/// Answers a pending prompt now, as the customer would on the phone.
pub(crate) fn answer(
    core: &mut Core,
    mine: &mut State,
    prompt_id: &str,
    answer: PromptAnswer,
    now: DateTime<Utc>,
) -> Result<(), AnswerError> {
    let prompt = mine.prompts.get_mut(prompt_id).ok_or_else(|| AnswerError::Unknown(prompt_id.to_owned()))?;
    if prompt.status != PromptStatus::Pending {
        return Err(AnswerError::Settled(prompt_id.to_owned()));
    }
    prompt.planned_code = ResultCode::Number(answer.result_code());
    prompt.planned_desc = None;
    prompt.awaiting_customer = false;
    prompt.outcome_reason = format!("answered through the admin API: {answer:?}");
    settle(core, mine, prompt_id, now);
    Ok(())
}

/// The customer's answer falls due: the wallet pays and the invoice records
/// it, or the prompt fails; then the notification is planned.
pub(crate) fn settle(core: &mut Core, mine: &mut State, prompt_id: &str, at: DateTime<Utc>) {
    let limit = core.limits.transactions;
    let world = mine.world.clone();
    let State { prompts, invoices, latest_prompt, .. } = &mut *mine;
    let Some(prompt) = prompts.get_mut(prompt_id) else { return };
    if prompt.status != PromptStatus::Pending {
        return;
    }
    if prompt.awaiting_customer {
        prompt.planned_code = ResultCode::Number(1037);
        prompt.planned_desc = None;
        prompt.outcome_reason = "nobody answered the prompt before it timed out".into();
    }
    let mut code = prompt.planned_code.clone();
    let mut receipt = None;
    let mut notify_payment = false;
    if code == ResultCode::Number(0) {
        let reference = loop {
            let candidate = core.ids.upper_alnum(10);
            if invoices.receipt(&candidate).is_none() {
                break candidate;
            }
        };
        let currency = invoices.get(&prompt.invoice_number).map_or(Currency::KES, |i| i.details.currency);
        let (first, middle, last) = core.customer_names(&prompt.msisdn);
        let name = [first, middle, last].into_iter().filter(|n| !n.is_empty()).collect::<Vec<_>>().join(" ");
        let payment_in = PaymentIn {
            payment: Payment {
                reference: reference.clone(),
                channel: Channel::Mpesa,
                amount: prompt.amount,
                paid_at: at,
                payer: Some(prompt.msisdn.clone()),
                payer_name: (!name.is_empty()).then_some(name),
            },
            currency,
            overpayment: world.overpayment,
            notify_on: world.notification.notify_on,
        };
        let payer = Account::customer(Market::Kenya, &prompt.msisdn);
        let payee = accounts::collection(&prompt.service_id);
        let details = format!("Pesaflow invoice {} paid by {} via M-Pesa", prompt.invoice_number, prompt.msisdn);
        if let Some(refusal) = invoices.refusal(&prompt.invoice_number, &payment_in) {
            code = ResultCode::Number(1025);
            prompt.outcome_reason = format!("the invoice can no longer take this payment: {refusal}");
        } else {
            match core.ledger.transfer(&reference, &details, at, &payer, &payee, prompt.amount) {
                Ok(()) => match invoices.pay(&prompt.invoice_number, payment_in) {
                    Ok(Paid::Recorded(recorded)) => {
                        notify_payment = recorded.notify;
                        receipt = Some(reference);
                    }
                    // The refusal check above ran under the same lock, and the
                    // receipt is fresh: neither can happen.
                    other => tracing::warn!(?other, "a checked prompt payment was not recorded"),
                },
                Err(LedgerError::Insufficient { available, .. }) => {
                    code = ResultCode::Number(1);
                    prompt.outcome_reason =
                        format!("the customer holds KES {available}, less than KES {}", prompt.amount);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "a prompt payment could not post");
                    code = ResultCode::Number(1025);
                    prompt.outcome_reason = format!("the ledger refused the payment: {e}");
                }
            }
        }
    }
    let desc = match (&code, &prompt.planned_desc) {
        (c, Some(d)) if *c == prompt.planned_code => d.clone(),
        (ResultCode::Number(n), _) => prompt_result_text(i64::from(*n)).to_owned(),
        (ResultCode::Text(t), _) => format!("The payment failed ({t})."),
    };
    prompt.status = if receipt.is_some() { PromptStatus::Paid } else { PromptStatus::Failed };
    prompt.result_code = Some(code);
    prompt.result_desc = Some(desc);
    prompt.receipt = receipt;
    prompt.settled_at = Some(at);
    let number = prompt.invoice_number.clone();
    prompts.finish(prompt_id, limit, |evicted, old| {
        if latest_prompt.get(&old.invoice_number).map(String::as_str) == Some(evicted) {
            latest_prompt.remove(&old.invoice_number);
        }
    });
    if notify_payment {
        notify::payment(core, mine, &number, at);
    }
}
