//! USSD: a customer dials the USSD channel with a reference for a service
//! code, Pesaflow asks the merchant whether the reference is valid, and a
//! payment follows when it is.
//!
//! The admin trigger ([`super::admin`]) opens a session and plans the
//! validation request `{reference, service_code, secure_hash}` (hash over
//! `reference + service_code + secret`, keyed by the client's key) to the
//! service's `ussd_validation_url`, through the callback engine with a
//! `reply_to`, so the merchant's answer comes back here
//! ([`on_validation_reply`]). The answer `{"display_info": {…}, "valid":
//! true}` is read leniently; when it is valid and the customer gave an
//! amount, an invoice for the reference is made (notified at the service's
//! `notification_url`) and an M-Pesa prompt goes to the customer's phone.
//! Without a validation URL, the guide says nothing is sent: the reference is
//! taken as valid.
//!
//! A session that fails (the merchant says invalid, answers garbage, or
//! cannot be reached) is an outcome the admin view shows, never an error.

use chrono::{DateTime, Utc};

use super::invoice::{NewInvoice, Origin};
use super::notification::ussd_validation_request;
use super::prompt::{self, PromptOrigin, PromptRequest};
use super::scenario::FactValues;
use super::wire::{normalise_msisdn, UssdValidationAnswer};
use super::world::World;
use super::{Pesaflow, State, PROVIDER};
use crate::callbacks::{self, CallbackJob, Reply, ReplyTo};
use crate::ledger::Money;
use crate::provider::Registered;
use crate::scenarios::Decision;
use crate::store::Core;

/// The scenario operation of a validation request.
pub(crate) const OPERATION: &str = "ussd_validate";
/// The callback kind validation requests are journaled under.
pub(crate) const KIND: &str = "ussd_validation";
/// How long the merchant has to answer.
const VALIDATION_TIMEOUT_MS: u64 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SessionStatus {
    /// Waiting for the merchant's answer.
    Validating,
    /// The merchant said the reference is valid (or there was nobody to ask).
    Valid,
    /// The merchant said it is not.
    Invalid,
    /// The merchant's answer could not be read, or never came.
    Failed,
}

impl SessionStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Validating => "validating",
            SessionStatus::Valid => "valid",
            SessionStatus::Invalid => "invalid",
            SessionStatus::Failed => "failed",
        }
    }
}

/// One customer's USSD session.
#[derive(Debug, Clone)]
pub(crate) struct UssdSession {
    pub(crate) id: String,
    pub(crate) reference: String,
    pub(crate) service_code: String,
    pub(crate) service_id: String,
    pub(crate) api_client_id: String,
    pub(crate) msisdn: String,
    /// What the customer will pay once the reference is valid.
    pub(crate) amount: Option<Money>,
    pub(crate) validation_url: Option<String>,
    pub(crate) status: SessionStatus,
    /// What the merchant asked to show the customer, label and value.
    pub(crate) display_info: Vec<(String, String)>,
    pub(crate) reason: String,
    pub(crate) invoice_number: Option<String>,
    pub(crate) prompt_id: Option<String>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) answered_at: Option<DateTime<Utc>>,
}

/// What the admin trigger asks for.
#[derive(Debug, Clone)]
pub(crate) struct Dial {
    pub(crate) reference: String,
    pub(crate) service_code: String,
    pub(crate) msisdn: String,
    pub(crate) amount: Option<Money>,
}

/// Why a dial could not open a session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DialError {
    #[error("no service of the world's [pesaflow] services has the USSD service code {0:?}")]
    UnknownServiceCode(String),
    #[error("{0:?} is not a Kenyan mobile number (2547XXXXXXXX or 2541XXXXXXXX)")]
    NotAPhoneNumber(String),
    #[error("the reference must not be empty")]
    NoReference,
}

/// What the scenario engine sees of a validation request.
fn facts(session: &UssdSession) -> crate::scenarios::Facts<'static> {
    FactValues {
        msisdn: Some(session.msisdn.clone()),
        amount: session.amount,
        shortcode: Some(session.service_code.clone()),
        account_reference: Some(session.reference.clone()),
        initiator: Some(session.api_client_id.clone()),
    }
    .into_facts(OPERATION, None)
}

/// Opens a session and plans its validation request; returns the session's id.
pub(crate) fn dial(core: &mut Core, mine: &mut State, dial: Dial, now: DateTime<Utc>) -> Result<String, DialError> {
    if dial.reference.trim().is_empty() {
        return Err(DialError::NoReference);
    }
    let msisdn = normalise_msisdn(&dial.msisdn).ok_or_else(|| DialError::NotAPhoneNumber(dial.msisdn.clone()))?;
    let world = mine.world.clone();
    let service = world
        .service_by_ussd_code(&dial.service_code)
        .ok_or_else(|| DialError::UnknownServiceCode(dial.service_code.clone()))?;
    let id = loop {
        let candidate = format!("USSD{}", core.ids.upper_alnum(10));
        if !mine.ussd.contains_key(&candidate) {
            break candidate;
        }
    };
    let session = UssdSession {
        id: id.clone(),
        reference: dial.reference,
        service_code: dial.service_code,
        service_id: service.service_id.clone(),
        api_client_id: service.api_client_id.clone(),
        msisdn,
        amount: dial.amount,
        validation_url: service.ussd_validation_url.clone(),
        status: SessionStatus::Validating,
        display_info: Vec::new(),
        reason: String::new(),
        invoice_number: None,
        prompt_id: None,
        created_at: now,
        answered_at: None,
    };
    let decision = core.decide(&facts(&session));
    let job = validation_job(core, &world, &session);
    mine.ussd.insert(id.clone(), session);
    match job {
        Some(job) => {
            let script = decision.map(|d: Decision| d.callback).unwrap_or_default();
            callbacks::plan(core, job, &script, now);
        }
        None => {
            valid(core, mine, &id, Vec::new(), "the service has no ussd_validation_url: nothing to ask".into(), now)
        }
    }
    Ok(id)
}

/// The signed validation request of a session, if its service has a URL.
fn validation_job(core: &mut Core, world: &World, session: &UssdSession) -> Option<CallbackJob> {
    let url = session.validation_url.clone()?;
    let client = world.client(&session.api_client_id)?;
    let body =
        ussd_validation_request(&session.reference, &session.service_code, client.hash_key(), world.hash.emitted);
    Some(CallbackJob {
        timeout_ms: Some(VALIDATION_TIMEOUT_MS),
        reply_to: Some(ReplyTo { provider: Pesaflow::ID, key: session.id.clone() }),
        ..CallbackJob::new(core.ids.callback_id(), PROVIDER, KIND, session.id.clone(), url, &body)
    })
}

/// Acts on the merchant's answer (or its silence).
pub(crate) fn on_validation_reply(
    core: &mut Core,
    mine: &mut State,
    session_id: &str,
    reply: &Reply,
    at: DateTime<Utc>,
) {
    if mine.ussd.get(session_id).is_none_or(|s| s.status != SessionStatus::Validating) {
        return;
    }
    let answer = match (&reply.error, reply.status) {
        (Some(e), _) => Err(format!("the validation URL could not be reached ({e})")),
        (None, Some(s)) if !(200..300).contains(&s) => Err(format!("the validation URL answered HTTP {s}")),
        _ => UssdValidationAnswer::parse(reply.body.as_bytes())
            .map_err(|e| format!("the validation URL's answer is not {{display_info, valid}}: {e}")),
    };
    match answer {
        Ok(answer) if answer.valid => {
            valid(core, mine, session_id, answer.display_info, "the merchant said valid".into(), at);
        }
        Ok(answer) => {
            finish(
                mine,
                session_id,
                SessionStatus::Invalid,
                answer.display_info,
                "the merchant said not valid".into(),
                at,
            );
            mine.ussd.finish(session_id, core.limits.transactions, |_, _| {});
        }
        Err(why) => {
            finish(mine, session_id, SessionStatus::Failed, Vec::new(), why, at);
            mine.ussd.finish(session_id, core.limits.transactions, |_, _| {});
        }
    }
}

fn finish(
    mine: &mut State,
    session_id: &str,
    status: SessionStatus,
    display_info: Vec<(String, String)>,
    reason: String,
    at: DateTime<Utc>,
) {
    if let Some(session) = mine.ussd.get_mut(session_id) {
        session.status = status;
        session.display_info = display_info;
        session.reason = reason;
        session.answered_at = Some(at);
    }
}

/// A valid reference: with an amount, the invoice and the prompt follow.
fn valid(
    core: &mut Core,
    mine: &mut State,
    session_id: &str,
    display_info: Vec<(String, String)>,
    reason: String,
    at: DateTime<Utc>,
) {
    let limit = core.limits.transactions;
    finish(mine, session_id, SessionStatus::Valid, display_info, reason, at);
    let Some(session) = mine.ussd.get(session_id).cloned() else { return };
    let Some(amount) = session.amount else {
        mine.ussd.finish(session_id, limit, |_, _| {});
        return;
    };
    let world = mine.world.clone();
    let Some(service) = world.service(&session.service_id) else { return };
    let name = session
        .display_info
        .iter()
        .find(|(label, _)| label.eq_ignore_ascii_case("name"))
        .map(|(_, value)| value.clone())
        .unwrap_or_else(|| session.msisdn.clone());
    let new = NewInvoice {
        api_client_id: session.api_client_id.clone(),
        service_id: service.service_id.clone(),
        client_invoice_ref: session.reference.clone(),
        currency: service.currency,
        amount_net: amount,
        amount_text: super::amount::two_decimals(amount),
        commission: service.commission.on(amount),
        bill_desc: format!("{} (USSD)", service.name),
        client_name: name,
        client_id_number: session.reference.clone(),
        client_msisdn: Some(session.msisdn.clone()),
        client_email: None,
        notification_url: service.notification_url.clone(),
        callback_url_on_success: None,
        callback_url_on_failure: None,
        picture_url: None,
        origin: Origin::Ussd,
    };
    let number = mine.invoices.create(new, &mut core.ids, world.invoice_number_length, at).number().to_owned();
    let prompted = prompt::start_deciding(
        core,
        mine,
        &PromptRequest { invoice_number: &number, msisdn: &session.msisdn, amount: None, origin: PromptOrigin::Ussd },
        at,
    );
    if let Some(s) = mine.ussd.get_mut(session_id) {
        s.invoice_number = Some(number);
        match prompted {
            Ok(id) => s.prompt_id = Some(id),
            Err(refusal) => s.reason = format!("{}; no prompt was sent: {refusal}", s.reason),
        }
    }
    mine.ussd.finish(session_id, limit, |_, _| {});
}
