//! Daraja's identifier formats, made from the tenant's seeded generator.
//!
//! * `requestId` / `MerchantRequestID`: `xxxx-xxxx-xxxx-` + 12 hex + digits,
//!   e.g. `ac7b-470b-8df7-23ab3cef38271071873`.
//! * `CheckoutRequestID`: `ws_CO_` + `ddMMyyyyHHmmss` + milliseconds + the
//!   MSISDN without `254`, e.g. `ws_CO_21072024125243250722943992`.
//! * M-Pesa receipt: 10 upper-case characters whose first three encode the
//!   year (`S` = 2024), month (`A` = January) and day (`1`-`9`, then `A` = 10th).
//! * `ConversationID`: `AG_` + the EAT date + `_0100` + 16 lower-case
//!   alphanumerics, e.g. `AG_20250803_0100100304l06pxff5wk`.
//! * Access tokens: 28 alphanumerics.
//! * `ResponseRefID` of the Pull Transactions API: a UUID-shaped string,
//!   e.g. `feb5e3f2-0fbc-4745-844c-ee37b546f627`.

use chrono::{DateTime, Datelike, Utc};
use compact_str::CompactString;
use sha2::{Digest, Sha256};

use crate::clock::eat;
use crate::ids::IdGen;

/// The `requestId` of an error body: derived from the run's seed and the
/// sandbox-wide request number, so it needs no shared generator.
pub(crate) fn request_id(seed: u64, seq: u64) -> String {
    let digest = Sha256::new().chain_update(seed.to_be_bytes()).chain_update(seq.to_be_bytes()).finalize();
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}{}", &hex[0..4], &hex[4..8], &hex[8..12], &hex[12..24], 1_000_000 + seq)
}

pub(crate) fn merchant_request_id(ids: &mut IdGen) -> String {
    use std::fmt::Write;
    let seq = ids.next_seq();
    let mut id = String::with_capacity(36);
    for (len, then) in [(4, "-"), (4, "-"), (4, "-"), (12, "")] {
        ids.push_hex(&mut id, len);
        id.push_str(then);
    }
    let _ = write!(id, "{}", seq.saturating_add(1_000_000));
    id
}

/// `OriginatorConversationID` as Daraja generates it (same shape).
pub(crate) fn originator_conversation_id(ids: &mut IdGen) -> String {
    merchant_request_id(ids)
}

/// `AG_<yyyyMMdd>_0100<16 lower-case alphanumerics>`, the ConversationID of
/// result APIs as captured since 2025 (`AG_20250803_0100100304l06pxff5wk`).
pub(crate) fn conversation_id(ids: &mut IdGen, at: DateTime<Utc>) -> String {
    format!("AG_{}_0100{}", crate::clock::digits(eat(at), b"Ymd"), ids.alnum(16).to_ascii_lowercase())
}

/// `ws_CO_<ddMMyyyyHHmmss><ms><msisdn without 254>`; `bump` shifts the
/// milliseconds to avoid a collision.
pub(crate) fn checkout_request_id(at: DateTime<Utc>, msisdn: &str, bump: u32) -> String {
    let local = eat(at);
    let ms = (local.and_utc().timestamp_subsec_millis() + bump) % 1000;
    let subscriber = msisdn.strip_prefix("254").unwrap_or(msisdn);
    let mut id = String::with_capacity(23usize.saturating_add(subscriber.len()));
    id.push_str("ws_CO_");
    crate::clock::push_digits(&mut id, local, b"dmYHMS");
    for place in [100, 10, 1] {
        id.push(char::from(b'0'.saturating_add(u8::try_from(ms / place % 10).unwrap_or(0))));
    }
    id.push_str(subscriber);
    id
}

pub(crate) fn receipt(ids: &mut IdGen, at: DateTime<Utc>) -> CompactString {
    let local = eat(at);
    let year = (b'A' + ((local.year() - 2006).rem_euclid(26)) as u8) as char;
    let month = (b'A' + local.month0() as u8) as char;
    let day = match local.day() {
        d @ 1..=9 => (b'0' + d as u8) as char,
        d => (b'A' + (d - 10) as u8) as char,
    };
    let mut receipt = CompactString::const_new("");
    receipt.extend([year, month, day]);
    ids.push_upper_alnum(&mut receipt, 7);
    receipt
}

/// `8-4-4-4-12` lower-case hex, the `ResponseRefID` of the Pull Transactions API.
pub(crate) fn response_ref_id(ids: &mut IdGen) -> String {
    format!("{}-{}-{}-{}-{}", ids.hex(8), ids.hex(4), ids.hex(4), ids.hex(4), ids.hex(12))
}

pub(crate) fn access_token(ids: &mut IdGen) -> String {
    ids.alnum(28)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn receipts_encode_the_eat_date() {
        let mut ids = IdGen::new(1, "t");
        // 2024-07-06 19:48 UTC is 22:48 EAT on the 6th of July 2024.
        let at = Utc.with_ymd_and_hms(2024, 7, 6, 19, 48, 52).unwrap();
        let r = receipt(&mut ids, at);
        assert_eq!(r.len(), 10);
        assert!(r.starts_with("SG6"), "{r}");
        let at = Utc.with_ymd_and_hms(2026, 12, 30, 12, 0, 0).unwrap();
        assert!(receipt(&mut ids, at).starts_with("ULU"));
    }

    #[test]
    fn checkout_ids_carry_time_and_subscriber() {
        let at = Utc.with_ymd_and_hms(2024, 7, 21, 9, 52, 43).unwrap() + chrono::Duration::milliseconds(250);
        assert_eq!(checkout_request_id(at, "254722943992", 0), "ws_CO_21072024125243250722943992");
    }

    #[test]
    fn conversation_ids_look_like_2025_ones() {
        let mut ids = IdGen::new(1, "t");
        let at = Utc.with_ymd_and_hms(2025, 8, 3, 6, 0, 0).unwrap();
        let id = conversation_id(&mut ids, at);
        assert!(id.starts_with("AG_20250803_0100"), "{id}");
        assert_eq!(id.len(), "AG_20250803_0100100304l06pxff5wk".len());
        assert!(id.bytes().skip(12).all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()), "{id}");
    }

    #[test]
    fn request_ids_look_like_daraja_ones() {
        let id = request_id(42, 7);
        let parts: Vec<_> = id.split('-').collect();
        assert_eq!(parts.len(), 4);
        assert_eq!(parts[0].len(), 4);
        assert!(parts[3].ends_with("1000007"));
        assert_eq!(id, request_id(42, 7));
    }
}
