//! Driving credentials and money from the outside: operators (create,
//! rotate, lock, disable), consumer secret and passkey rotation, and a
//! customer paying a shortcode from the phone (C2B, the production path).
//! Integrators use these to prove their systems apply credentials per
//! request and survive rotations.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{AdminError, TenantRef};
use crate::app::AppState;
use crate::daraja::c2b::{start_payment, PayRequest};
use crate::daraja::operators::{check_policy, Operator};
use crate::ledger::Money;
use crate::scenarios::Facts;
use crate::world::{OperatorKind, OperatorStatus, Role};

fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, AdminError> {
    body.map(|Json(t)| t).map_err(|e| AdminError::bad_request(e.body_text()))
}

fn param(params: &[(String, String)], name: &str) -> String {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
}

pub async fn list(TenantRef(tenant): TenantRef) -> Json<Value> {
    let operators: Vec<Value> = tenant.with_state(|s| s.daraja.operators.values().map(|o| json!(o.view())).collect());
    Json(json!({ "operators": operators }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOperator {
    name: String,
    password: String,
    /// `api` (default) or `web`.
    kind: Option<OperatorKind>,
    roles: Option<Vec<Role>>,
    #[serde(default)]
    shortcodes: Vec<String>,
}

/// `POST /operators`: creates an operator; the password must meet the policy.
pub async fn create(
    TenantRef(tenant): TenantRef,
    request: Result<Json<NewOperator>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), AdminError> {
    let request = body(request)?;
    check_policy(&request.password).map_err(|why| AdminError::new(StatusCode::BAD_REQUEST, "weak_password", why))?;
    let now = tenant.now();
    let view = tenant.with_state(|s| {
        if s.daraja.operators.contains_key(&request.name) {
            return Err(AdminError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("operator {:?} exists", request.name),
            ));
        }
        let operator = Operator {
            name: request.name.clone(),
            kind: request.kind.unwrap_or(OperatorKind::Api),
            password: SecretString::from(request.password.clone()),
            password_set_at: now,
            shortcodes: request.shortcodes.clone(),
            roles: request.roles.clone().unwrap_or_else(|| Role::ALL.to_vec()),
            status: OperatorStatus::Active,
            failed_attempts: 0,
        };
        let view = operator.view();
        s.daraja.operators.insert(request.name.clone(), operator);
        Ok(view)
    })?;
    Ok((StatusCode::CREATED, Json(json!(view))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    password: String,
}

/// `POST /operators/{name}/password`: rotates a password (which also unlocks it).
pub async fn set_password(
    TenantRef(tenant): TenantRef,
    Path(params): Path<Vec<(String, String)>>,
    request: Result<Json<NewPassword>, JsonRejection>,
) -> Result<Json<Value>, AdminError> {
    let request = body(request)?;
    let name = param(&params, "name");
    check_policy(&request.password).map_err(|why| AdminError::new(StatusCode::BAD_REQUEST, "weak_password", why))?;
    let now = tenant.now();
    let view = tenant.with_state(|s| {
        let operator = s.daraja.operators.get_mut(&name).ok_or_else(|| unknown_operator(&name))?;
        operator.password = SecretString::from(request.password.clone());
        operator.password_set_at = now;
        operator.failed_attempts = 0;
        if operator.status == OperatorStatus::Locked {
            operator.status = OperatorStatus::Active;
        }
        Ok::<_, AdminError>(operator.view())
    })?;
    Ok(Json(json!(view)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewStatus {
    /// `active`, `locked` or `disabled`.
    status: OperatorStatus,
}

/// `POST /operators/{name}/status`: locks, disables or reactivates an operator.
pub async fn set_status(
    TenantRef(tenant): TenantRef,
    Path(params): Path<Vec<(String, String)>>,
    request: Result<Json<NewStatus>, JsonRejection>,
) -> Result<Json<Value>, AdminError> {
    let request = body(request)?;
    let name = param(&params, "name");
    let view = tenant.with_state(|s| {
        let operator = s.daraja.operators.get_mut(&name).ok_or_else(|| unknown_operator(&name))?;
        operator.status = request.status;
        if request.status == OperatorStatus::Active {
            operator.failed_attempts = 0;
        }
        Ok::<_, AdminError>(operator.view())
    })?;
    Ok(Json(json!(view)))
}

fn unknown_operator(name: &str) -> AdminError {
    AdminError::new(StatusCode::NOT_FOUND, "unknown_operator", format!("no operator named {name:?} in this tenant"))
}

/// `POST /apps/{consumer_key}/secret`: a new consumer secret; tokens already
/// issued stay valid until they expire.
pub async fn rotate_secret(
    TenantRef(tenant): TenantRef,
    Path(params): Path<Vec<(String, String)>>,
) -> Result<Json<Value>, AdminError> {
    let key = param(&params, "consumer_key");
    let secret = tenant.with_state(|s| {
        let secret = s.ids.alnum(64);
        let mut world = (*s.world).clone();
        let app = world.apps.iter_mut().find(|a| a.consumer_key == key).ok_or_else(|| {
            AdminError::new(
                StatusCode::NOT_FOUND,
                "unknown_app",
                format!("no app has the consumer key {key:?} in this tenant"),
            )
        })?;
        app.consumer_secret = SecretString::from(secret.clone());
        s.world = Arc::new(world);
        Ok::<_, AdminError>(secret)
    })?;
    Ok(Json(json!({ "consumer_key": key, "consumer_secret": secret })))
}

/// `POST /shortcodes/{number}/passkey`: a new Lipa na M-Pesa passkey.
pub async fn rotate_passkey(
    TenantRef(tenant): TenantRef,
    Path(params): Path<Vec<(String, String)>>,
) -> Result<Json<Value>, AdminError> {
    let number = param(&params, "number");
    let passkey = tenant.with_state(|s| {
        let passkey = s.ids.hex(64);
        let mut world = (*s.world).clone();
        let shortcode = world.shortcodes.get_mut(&number).filter(|sc| sc.passkey.is_some()).ok_or_else(|| {
            AdminError::new(
                StatusCode::NOT_FOUND,
                "unknown_shortcode",
                format!("no shortcode {number:?} with a Lipa na M-Pesa passkey in this tenant"),
            )
        })?;
        shortcode.passkey = Some(SecretString::from(passkey.clone()));
        s.world = Arc::new(world);
        Ok::<_, AdminError>(passkey)
    })?;
    Ok(Json(json!({ "shortcode": number, "passkey": passkey })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerPays {
    shortcode: String,
    msisdn: String,
    amount: f64,
    #[serde(default)]
    bill_ref_number: String,
}

/// `POST /c2b/pay`: a customer pays a paybill or a till from the phone; the
/// payment then goes through validation and confirmation like any other.
pub async fn customer_pays(
    State(_app): State<AppState>,
    TenantRef(tenant): TenantRef,
    request: Result<Json<CustomerPays>, JsonRejection>,
) -> Result<Json<Value>, AdminError> {
    let request = body(request)?;
    if !crate::world::is_msisdn(&request.msisdn) {
        return Err(AdminError::bad_request(format!("msisdn {:?} is not 254 and 9 digits", request.msisdn)));
    }
    if !(request.amount >= 1.0 && request.amount <= 1e9) {
        return Err(AdminError::bad_request("amount must be at least 1"));
    }
    let amount = Money::from_decimal(request.amount);
    let now = tenant.now();
    let trans_id = tenant.with_state(|s| {
        let facts = Facts {
            provider: crate::daraja::PROVIDER,
            operation: crate::daraja::c2b::OPERATION_PAYMENT,
            msisdn: Some(request.msisdn.clone()),
            amount: Some(amount),
            shortcode: Some(request.shortcode.clone()),
            account_reference: Some(request.bill_ref_number.clone()),
            ..Facts::default()
        };
        let decision = s.decide(&facts);
        let pay = PayRequest {
            shortcode: request.shortcode.clone(),
            msisdn: request.msisdn.clone(),
            amount,
            bill_ref_number: request.bill_ref_number.clone(),
            buy_goods: None,
        };
        start_payment(s, pay, now, decision.as_ref()).map_err(AdminError::bad_request)
    })?;
    Ok(Json(json!({ "trans_id": trans_id, "status": "initiated" })))
}

/// `POST /c2b/{shortcode}/unregister`: forgets a shortcode's C2B URLs (the
/// portal's URL management, needed to re-register under production rules).
pub async fn unregister(
    TenantRef(tenant): TenantRef,
    Path(params): Path<Vec<(String, String)>>,
) -> Result<Json<Value>, AdminError> {
    let shortcode = param(&params, "shortcode");
    let removed = tenant.with_state(|s| s.daraja.c2b.registrations.remove(&shortcode).is_some());
    Ok(Json(json!({ "shortcode": shortcode, "unregistered": removed })))
}

/// The current passwords, for the credentials document.
pub fn current_passwords(tenant: &crate::store::Tenant) -> Vec<(String, String, Vec<String>)> {
    tenant.with_state(|s| {
        s.daraja
            .operators
            .values()
            .filter(|o| o.kind == OperatorKind::Api)
            .map(|o| (o.name.clone(), o.password.expose_secret().to_owned(), o.shortcodes.clone()))
            .collect()
    })
}
