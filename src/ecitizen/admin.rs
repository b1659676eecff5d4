//! eCitizen's admin views, under `/__sandbox/ecitizen/` (per tenant):
//! * `GET /users?limit=&after=`, `POST /users`: list the test users by id,
//!   a page at a time (`next_after` is the cursor of the next page, `null`
//!   on the last); add one (at most [`MAX_USERS`] per tenant);
//! * `GET`, `PUT`, `PATCH`, `DELETE /users/{id}`: read, create or replace,
//!   change some fields of (an empty string clears an optional field), or
//!   remove one user;
//! * `POST /clients/{client_id}/auto-approve`: `{"user": 2}` logs that user
//!   in without a page for this client (`{"user": null}` stops it);
//! * `GET /pkce`: a fresh PKCE pair, or (`?code_verifier=`) the S256
//!   challenge of a verifier, for tests written in any language.
//!
//! Changes apply to the tenant's world at once (the next login page and
//! user-info answer show them) and survive a reset, like rotated
//! credentials. Also here: eCitizen's rows of the generic transactions view.

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, RawQuery};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::world::{resolve_user, User, UserDoc, World, MAX_USERS};
use super::{Ecitizen, State as EcitizenState, NAME};
use crate::admin::{page_size, path_param, query, too_many, AdminError, TenantRef};
use crate::app_state::AppState;
use crate::crypto::pkce::{self, PkcePair};
use crate::provider::TransactionRow;

/// eCitizen's admin views, relative to where they are mounted.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/users", get(list_users).post(add_user))
        .route("/users/{id}", get(get_user).put(put_user).patch(patch_user).delete(delete_user))
        .route("/clients/{client_id}/auto-approve", post(auto_approve))
        .route("/pkce", get(pkce_pair))
}

/// A test user as the admin API shows it: every field, in the world file's
/// spelling (so a `PUT` body can be a `GET` body edited).
#[derive(Debug, Clone, Serialize)]
struct UserView {
    id: u64,
    id_number: String,
    email: String,
    active: bool,
    first_name: Option<String>,
    last_name: Option<String>,
    surname: Option<String>,
    account_type: String,
    mobile_number: Option<String>,
    mobile_verified: bool,
    gender: Option<String>,
    kra_pin_number: Option<String>,
    dob: Option<String>,
}

impl From<&User> for UserView {
    fn from(u: &User) -> UserView {
        UserView {
            id: u.id,
            id_number: u.id_number.clone(),
            email: u.email.clone(),
            active: u.active,
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            surname: u.surname.clone(),
            account_type: u.account_type.clone(),
            mobile_number: u.mobile_number.clone(),
            mobile_verified: u.mobile_verified,
            gender: u.gender.clone(),
            kra_pin_number: u.kra_pin_number.clone(),
            dob: u.dob.clone(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserPage {
    /// Users per page (default 1,000, at most 10,000).
    limit: Option<usize>,
    /// The `next_after` of the previous page (a user id).
    after: Option<u64>,
}

/// `GET /users?limit=&after=`: the users by id, a page at a time.
async fn list_users(
    TenantRef(tenant): TenantRef,
    q: Result<Query<UserPage>, QueryRejection>,
) -> Result<Json<Value>, AdminError> {
    let page = query(q)?;
    let limit = page_size(page.limit)?;
    let world = tenant.world_of::<Ecitizen>();
    let after = page.after.unwrap_or(0);
    let mut users = world.users.range(after.saturating_add(1)..).map(|(_, u)| u);
    let shown: Vec<UserView> = users.by_ref().take(limit).map(UserView::from).collect();
    let next_after = users.next().and(shown.last().map(|u| u.id));
    Ok(Json(json!({ "users": shown, "next_after": next_after })))
}

async fn get_user(
    TenantRef(tenant): TenantRef,
    Path(params): Path<Vec<(String, String)>>,
) -> Result<Json<UserView>, AdminError> {
    let id = user_id(&params)?;
    let world = tenant.world_of::<Ecitizen>();
    world.user(id).map(|u| Json(UserView::from(u))).ok_or_else(|| unknown_user(id))
}

/// `POST /users`: adds a user; its id must be new.
async fn add_user(
    TenantRef(tenant): TenantRef,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<(StatusCode, Json<UserView>), AdminError> {
    let doc = user_doc(body, None)?;
    let user =
        resolve_user(doc).map_err(|e| AdminError::new(StatusCode::BAD_REQUEST, "invalid_user", e.to_string()))?;
    let view = tenant.with::<Ecitizen, _>(|_, mine| {
        if mine.world.users.contains_key(&user.id) {
            return Err(AdminError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("user {} exists; PUT or PATCH /users/{} changes it", user.id, user.id),
            ));
        }
        store(mine, user)
    })?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// `PUT /users/{id}`: creates the user or replaces every field.
async fn put_user(
    TenantRef(tenant): TenantRef,
    Path(params): Path<Vec<(String, String)>>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<(StatusCode, Json<UserView>), AdminError> {
    let id = user_id(&params)?;
    let user = resolve_user(user_doc(body, Some(id))?)
        .map_err(|e| AdminError::new(StatusCode::BAD_REQUEST, "invalid_user", e.to_string()))?;
    let (existed, view) = tenant
        .with::<Ecitizen, _>(|_, mine| Ok::<_, AdminError>((mine.world.users.contains_key(&id), store(mine, user)?)))?;
    Ok((if existed { StatusCode::OK } else { StatusCode::CREATED }, Json(view)))
}

/// `PATCH /users/{id}`: changes the fields the body names.
async fn patch_user(
    TenantRef(tenant): TenantRef,
    Path(params): Path<Vec<(String, String)>>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<UserView>, AdminError> {
    let id = user_id(&params)?;
    let change = user_doc(body, Some(id))?;
    tenant.with::<Ecitizen, _>(|_, mine| {
        let current = mine.world.user(id).ok_or_else(|| unknown_user(id))?;
        let mut doc = UserDoc::from(current);
        doc.merge(change);
        let user =
            resolve_user(doc).map_err(|e| AdminError::new(StatusCode::BAD_REQUEST, "invalid_user", e.to_string()))?;
        store(mine, user).map(Json)
    })
}

/// `DELETE /users/{id}`: removes a user, unless a client auto-approves them.
async fn delete_user(
    TenantRef(tenant): TenantRef,
    Path(params): Path<Vec<(String, String)>>,
) -> Result<StatusCode, AdminError> {
    let id = user_id(&params)?;
    tenant.with::<Ecitizen, _>(|_, mine| {
        if let Some(client) = mine.world.clients.iter().find(|c| c.auto_approve_user == Some(id)) {
            return Err(AdminError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("client {:?} auto-approves user {id}; change that first", client.client_id),
            ));
        }
        match Arc::make_mut(&mut mine.world).users.remove(&id) {
            Some(_) => Ok(StatusCode::NO_CONTENT),
            None => Err(unknown_user(id)),
        }
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AutoApprove {
    /// The user to log in without a page; `null` shows the page again.
    user: Option<u64>,
}

/// `POST /clients/{client_id}/auto-approve`: the per-tenant, non-interactive
/// login for relying parties that cannot add `prompt=none` and a hint.
async fn auto_approve(
    TenantRef(tenant): TenantRef,
    Path(params): Path<Vec<(String, String)>>,
    body: Result<Json<AutoApprove>, JsonRejection>,
) -> Result<Json<Value>, AdminError> {
    let client_id = path_param(&params, "client_id");
    let Json(request) = body?;
    tenant.with::<Ecitizen, _>(|_, mine| {
        if let Some(user) = request.user {
            if mine.world.user(user).is_none() {
                return Err(unknown_user(user));
            }
        }
        let world: &mut World = Arc::make_mut(&mut mine.world);
        let Some(client) = world.clients.iter_mut().find(|c| c.client_id == client_id) else {
            return Err(AdminError::new(
                StatusCode::NOT_FOUND,
                "unknown_client",
                format!("no eCitizen client has the id {client_id:?}; GET /__sandbox/credentials lists them"),
            ));
        };
        client.auto_approve_user = request.user;
        Ok(Json(json!({ "client_id": client.client_id, "auto_approve_user": client.auto_approve_user })))
    })
}

/// A PKCE pair as the admin API shows it.
#[derive(Debug, Serialize)]
struct PkceView {
    code_verifier: String,
    code_challenge: String,
    code_challenge_method: &'static str,
}

/// `GET /pkce`: a fresh pair (from the operating system's generator: a
/// verifier must be unguessable), or the challenge of `?code_verifier=`.
async fn pkce_pair(RawQuery(query): RawQuery) -> Result<Json<PkceView>, AdminError> {
    let given = query.as_deref().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "code_verifier").map(|(_, v)| v.into_owned())
    });
    let pair = match given {
        Some(verifier) => PkcePair::from_verifier(&verifier).map_err(|problem| {
            AdminError::new(StatusCode::BAD_REQUEST, "invalid_verifier", format!("code_verifier {problem}"))
        })?,
        None => PkcePair::generate(&mut rand::rngs::OsRng),
    };
    Ok(Json(PkceView {
        code_verifier: pair.verifier.clone(),
        code_challenge: pair.challenge.clone(),
        code_challenge_method: pkce::ChallengeMethod::S256.as_str(),
    }))
}

/// Puts a resolved user into the tenant's world, unless a new one would pass
/// [`MAX_USERS`].
fn store(mine: &mut EcitizenState, user: User) -> Result<UserView, AdminError> {
    if !mine.world.users.contains_key(&user.id) && mine.world.users.len() >= MAX_USERS {
        return Err(too_many(format!(
            "a tenant's world may hold at most {MAX_USERS} eCitizen users; change or remove one instead"
        )));
    }
    let view = UserView::from(&user);
    Arc::make_mut(&mut mine.world).users.insert(user.id, user);
    Ok(view)
}

/// A user document from a JSON body; `id` comes from the path when the body
/// leaves it out, and must agree with it when both give one.
fn user_doc(body: Result<Json<Value>, JsonRejection>, path_id: Option<u64>) -> Result<UserDoc, AdminError> {
    let Json(mut value) = body?;
    let Some(object) = value.as_object_mut() else {
        return Err(AdminError::bad_request("the body must be a JSON object of user fields"));
    };
    if let Some(id) = path_id {
        match object.get("id") {
            None => {
                object.insert("id".into(), json!(id));
            }
            Some(given) if given.as_u64() == Some(id) => {}
            Some(given) => {
                return Err(AdminError::bad_request(format!("the body's id {given} differs from the path's {id}")))
            }
        }
    }
    serde_json::from_value(value).map_err(|e| AdminError::new(StatusCode::BAD_REQUEST, "invalid_user", e.to_string()))
}

fn user_id(params: &[(String, String)]) -> Result<u64, AdminError> {
    let raw = params.iter().find(|(k, _)| k == "id").map(|(_, v)| v.as_str()).unwrap_or_default();
    raw.parse().map_err(|_| AdminError::bad_request(format!("{raw:?} is not a user id (a whole number)")))
}

fn unknown_user(id: u64) -> AdminError {
    AdminError::new(
        StatusCode::NOT_FOUND,
        "unknown_user",
        format!("no eCitizen user has the id {id}; GET /users lists them"),
    )
}

/// eCitizen's rows of the transactions view: one per login whose code is
/// still held (the code and tokens themselves are credentials and are not shown).
pub(crate) fn transactions(mine: &EcitizenState, out: &mut Vec<TransactionRow>) {
    out.extend(mine.grants.logins().into_iter().map(|login| {
        let a = &login.authorization;
        TransactionRow {
            at: a.auth_time,
            ids: vec![login.login_id.clone()],
            row: json!({
                "provider": NAME,
                "kind": "login",
                "id": login.login_id,
                "status": login.status,
                "client_id": a.client_id,
                "user_id": a.user_id,
                "msisdn": mine.world.user(a.user_id).and_then(|u| u.mobile_number.clone()),
                "scope": a.scope,
                "redirect_uri": a.redirect_uri,
                "code_challenge_method": a.challenge.as_ref().map(|c| c.method.as_str()),
                "logged_in_at": a.auth_time,
                "code_expires_at": login.code_expires_at,
                "tokens_issued": login.tokens,
            }),
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecitizen::grants::Grants;

    #[test]
    fn a_world_full_of_users_takes_changes_but_no_new_user() {
        let mut world = World::from_overlays(&[]).unwrap();
        let template = world.users.values().next().unwrap().clone();
        let existing = template.id;
        for id in 1_000_000..2_000_000u64 {
            if world.users.len() >= MAX_USERS {
                break;
            }
            world.users.insert(id, User { id, ..template.clone() });
        }
        let mut mine = EcitizenState { world: Arc::new(world), grants: Grants::default() };
        let err = store(&mut mine, User { id: 42, ..template.clone() }).map(|_| ()).unwrap_err();
        assert_eq!((err.status, err.code), (StatusCode::CONFLICT, "limit_reached"), "{}", err.message);
        assert!(err.message.contains("10000"), "{}", err.message);
        let changed = User { email: "changed@example.com".into(), ..template };
        assert_eq!(store(&mut mine, changed).unwrap().email, "changed@example.com", "a user already there may change");
        assert_eq!(mine.world.users.len(), MAX_USERS);
        assert!(mine.world.user(existing).is_some());
    }
}
