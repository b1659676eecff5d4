//! Instant payment notifications: from a recorded payment to a callback job.
//!
//! After every successful payment (M-Pesa or a bank's confirmation) the
//! notification of that payment ([`super::notification::notification`]) is
//! serialized once, as JSON or a form as the world's
//! `[pesaflow.notification] content_type` says, signed with the client's
//! key and secret, and handed to the callback engine with the callback
//! script of the scenario's decision for the `notification` operation
//! (delays, duplicates, drops, out of order, retries).
//!
//! The receiver's answer does not matter to Pesaflow: the notification is a
//! fire-and-forget POST, retried only if a scenario says so.

use chrono::{DateTime, Utc};

use super::notification;
use super::scenario::FactValues;
use super::world::NotificationBody;
use super::{State, PROVIDER};
use crate::callbacks::{self, CallbackJob, Payload};
use crate::store::Core;

/// The scenario operation of a notification.
pub(crate) const OPERATION: &str = "notification";

/// The callback kind notifications are journaled under.
pub(crate) const KIND: &str = "notification";

/// Plans the notification of invoice `number`'s newest payment, if the
/// invoice has somewhere to send it.
pub(crate) fn payment(core: &mut Core, mine: &State, number: &str, at: DateTime<Utc>) {
    let world = &mine.world;
    let Some(invoice) = mine.invoices.get(number) else { return };
    let Some(url) = invoice.details.notification_url.clone() else { return };
    let Some(client) = world.client(&invoice.details.api_client_id) else {
        tracing::warn!(invoice = number, "no client to sign a notification with");
        return;
    };
    let upto = invoice.payments().len();
    let Some(sent) =
        notification::notification(invoice, upto, &world.notification, client.hash_key(), world.hash.emitted)
    else {
        return;
    };
    let body = match world.notification.content_type {
        NotificationBody::Json => Payload::json(&sent),
        NotificationBody::Form => {
            let pairs = sent.to_form_pairs();
            Payload::form(pairs.iter().map(|(k, v)| (*k, v.as_str())))
        }
    };
    let last = invoice.last_payment();
    let facts = FactValues {
        msisdn: last.and_then(|p| p.payer.clone()),
        amount: last.map(|p| p.amount),
        shortcode: Some(invoice.details.service_id.clone()),
        account_reference: Some(invoice.number.clone()),
        initiator: Some(invoice.details.api_client_id.clone()),
    }
    .into_facts(OPERATION, None);
    let script = core.decide(&facts).map(|d| d.callback).unwrap_or_default();
    let job = CallbackJob::with_payload(core.ids.callback_id(), PROVIDER, KIND, invoice.number.clone(), url, body);
    callbacks::plan(core, job, &script, at);
}
