//! Dynamic QR: a code a customer scans with the M-Pesa app to pay a merchant,
//! an agent or a person, with the amount and reference already filled in.
//!
//! * `POST /mpesa/qrcode/v1/generate`: `MerchantName`, `RefNo`, `Amount`,
//!   `TrxCode` (`BG` buy goods, `WA` withdraw at an agent, `PB` paybill,
//!   `SM` send money, `SB` send to business), `CPI` (the credit party: a till,
//!   agent number, paybill or MSISDN) and `Size` (pixels, default 300,
//!   100 to 1000) → `{"ResponseCode": "00", "ResponseDescription",
//!   "QRCode": "<base64 PNG>"}`, in that order (captured 2026).
//!
//! Safaricom does not publish what its codes encode, so the sandbox encodes
//! its own, documented payload: compact JSON with the request's fields in a
//! fixed order, for example
//! `{"TrxCode":"BG","CPI":"373132","Amount":1,"RefNo":"Invoice Test","MerchantName":"TEST SUPERMARKET"}`
//! (`Amount` in whole shillings, as a number).
//! The image is a real QR code that any scanner reads: error correction
//! level M, square whole-pixel modules, at least four modules of quiet zone,
//! centred in a `Size` × `Size` PNG of 8-bit RGBA pixels (colour type 6),
//! as the captured codes are.

use axum::response::Response;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use qrcode::{Color, EcLevel, QrCode};
use serde::Serialize;
use serde_json::{Map, Value};

use super::error::{DarajaError, ErrorKind};
use super::extract::{Authed, BodyProblem, JsonObject};
use super::products::{self, Api};
use super::scenario::{delayed, gate, Gate};
use super::shapes::Shape;
use super::wire::{self, required, whole_amount, QrResponse};
use crate::fields;

pub(crate) const OPERATION: &str = "qr_generate";

pub(crate) const DEFAULT_SIZE: u32 = 300;
pub(crate) const MIN_SIZE: u32 = 100;
pub(crate) const MAX_SIZE: u32 = 1000;

/// The longest `MerchantName` and `RefNo` accepted, which keeps every
/// payload within what a QR code can hold.
pub(crate) const MAX_TEXT: usize = 100;

/// Scanners need this many light modules around the code (four, by the standard).
const QUIET_ZONE: usize = 4;

/// Dynamic QR knows these transaction codes.
pub(crate) const TRX_CODES: &[&str] = &["BG", "WA", "PB", "SM", "SB"];

/// The code encodes these fields, in this order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Payload {
    #[serde(rename = "TrxCode")]
    pub trx_code: String,
    #[serde(rename = "CPI")]
    pub cpi: String,
    #[serde(rename = "Amount")]
    pub amount: i64,
    #[serde(rename = "RefNo")]
    pub ref_no: String,
    #[serde(rename = "MerchantName")]
    pub merchant_name: String,
}

pub(crate) async fn generate(auth: Authed, body: Result<JsonObject, BodyProblem>) -> Result<Response, DarajaError> {
    products::require(&auth, Api::Qr)?;
    let body = body.map_err(|p| p.into_error("MerchantName"))?.0;
    let decision = match gate(&auth.tenant, &auth.consumer_key, OPERATION, Some(&body)) {
        Gate::Pass(decision) => decision,
        Gate::Refuse(response) => return Ok(response),
    };
    let (payload, size) = parse(&body)?;
    let png = render(&payload, size)?;
    let body = QrResponse {
        response_code: "00",
        response_description: "The service request is processed successfully.",
        qr_code: STANDARD.encode(png),
    };
    Ok(delayed(wire::reply(Shape::QrGenerate, &body), decision.as_ref()))
}

/// Reads a generate request into the payload and the image size in pixels.
pub(crate) fn parse(body: &Map<String, Value>) -> Result<(Payload, u32), DarajaError> {
    let merchant_name = text_up_to(body, "MerchantName", MAX_TEXT)?;
    let ref_no = text_up_to(body, "RefNo", MAX_TEXT)?;
    let amount = whole_amount(body, "Amount")?;
    let trx_code = required(body, "TrxCode")?;
    if !TRX_CODES.contains(&trx_code.as_str()) {
        return Err(DarajaError::field(
            "TrxCode",
            format!("TrxCode {trx_code:?} is not one of BG (buy goods), WA (withdraw at agent), PB (paybill), SM (send money), SB (send to business)"),
        ));
    }
    let cpi = required(body, "CPI")?;
    if !(5..=12).contains(&cpi.len()) || !cpi.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DarajaError::field(
            "CPI",
            format!("CPI {cpi:?} is not a till, agent number, paybill or MSISDN (5 to 12 digits)"),
        ));
    }
    let size = size(body)?;
    let payload = Payload { trx_code, cpi, amount: amount.cents() / 100, ref_no, merchant_name };
    Ok((payload, size))
}

fn text_up_to(body: &Map<String, Value>, field: &'static str, max: usize) -> Result<String, DarajaError> {
    let value = required(body, field)?;
    let n = value.chars().count();
    if n > max {
        return Err(DarajaError::field(field, format!("{field} is {n} characters; at most {max} are allowed")));
    }
    Ok(value)
}

/// Reads `Size` in pixels: it is optional, and a whole number from [`MIN_SIZE`] to [`MAX_SIZE`].
fn size(body: &Map<String, Value>) -> Result<u32, DarajaError> {
    let value = fields::optional_text(body, "Size").map_err(|p| super::wire::problem("Size", p))?;
    let Some(value) = value else { return Ok(DEFAULT_SIZE) };
    match value.parse::<u32>() {
        Ok(n) if (MIN_SIZE..=MAX_SIZE).contains(&n) => Ok(n),
        _ => Err(DarajaError::field(
            "Size",
            format!("Size {value:?} is not a whole number of pixels from {MIN_SIZE} to {MAX_SIZE}"),
        )),
    }
}

/// Writes the payload as compact JSON in [`Payload`]'s field order.
pub(crate) fn payload_text(payload: &Payload) -> Result<String, DarajaError> {
    serde_json::to_string(payload)
        .map_err(|e| DarajaError::new(ErrorKind::Internal, format!("the QR payload could not be written: {e}")))
}

/// Renders the payload's QR code as a `size` × `size` RGBA PNG.
pub(crate) fn render(payload: &Payload, size: u32) -> Result<Vec<u8>, DarajaError> {
    let text = payload_text(payload)?;
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).map_err(|e| {
        DarajaError::new(
            ErrorKind::Internal,
            format!("the QR payload ({} bytes) could not be encoded: {e}", text.len()),
        )
    })?;
    let pixels = raster(&code, size as usize).ok_or_else(|| {
        DarajaError::field(
            "Size",
            format!(
                "this payload needs {} modules with its quiet zone, more than Size {size} pixels can show; ask for a larger Size or shorter texts",
                code.width() + 2 * QUIET_ZONE
            ),
        )
    })?;
    encode_png(&pixels, size)
        .map_err(|e| DarajaError::new(ErrorKind::Internal, format!("the QR code could not be written as PNG: {e}")))
}

/// Lays out greyscale pixels (0 dark, 255 light) row by row, with
/// whole-pixel modules as large as fit with the quiet zone, centred.
/// It gives `None` if even one pixel per module does not fit.
fn raster(code: &QrCode, size: usize) -> Option<Vec<u8>> {
    let width = code.width();
    let scale = size / (width + 2 * QUIET_ZONE);
    if scale == 0 {
        return None;
    }
    let origin = (size - width * scale) / 2;
    let mut pixels = vec![255u8; size * size];
    for (i, color) in code.to_colors().into_iter().enumerate() {
        if color != Color::Dark {
            continue;
        }
        let (x, y) = (origin + (i % width) * scale, origin + (i / width) * scale);
        for row in pixels.chunks_mut(size).skip(y).take(scale) {
            if let Some(run) = row.get_mut(x..x + scale) {
                run.fill(0);
            }
        }
    }
    Some(pixels)
}

/// Writes grey levels as opaque RGBA, the pixel format of the captured codes.
fn encode_png(pixels: &[u8], size: u32) -> Result<Vec<u8>, png::EncodingError> {
    let rgba: Vec<u8> = pixels.iter().flat_map(|&grey| [grey, grey, grey, 255]).collect();
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, size, size);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&rgba)?;
    writer.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::json;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn the_payload_is_compact_json_in_a_fixed_order() {
        let (payload, size) = parse(&body(json!({
            "MerchantName": "TEST SUPERMARKET", "RefNo": "Invoice Test", "Amount": 1,
            "TrxCode": "BG", "CPI": "373132", "Size": "300"
        })))
        .unwrap();
        assert_eq!(size, 300);
        assert_eq!(
            payload_text(&payload).unwrap(),
            r#"{"TrxCode":"BG","CPI":"373132","Amount":1,"RefNo":"Invoice Test","MerchantName":"TEST SUPERMARKET"}"#
        );
    }

    #[test]
    fn the_longest_texts_still_fit_the_smallest_size_or_are_refused_as_invalid_size() {
        let payload = Payload {
            trx_code: "SM".into(),
            cpi: "254708374149".into(),
            amount: 250_000,
            ref_no: "\u{1}".repeat(MAX_TEXT),
            merchant_name: "\u{1}".repeat(MAX_TEXT),
        };
        let err = render(&payload, MIN_SIZE).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidField("Size"));
        let png = render(&payload, MAX_SIZE).unwrap();
        assert!(png.starts_with(b"\x89PNG"));
    }
}
