//! Bearer tokens the sandbox issued: from an `Authorization` header to the
//! grant and the tenant behind it, checked against the tenant's clock.
//!
//! Every provider that issues tokens through [`crate::store::Tenants::grant`]
//! reads them back here; what a failure looks like on the wire is the
//! provider's business.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::app_state::AppState;
use crate::http::RequestContext;
use crate::httpauth::{self, AuthProblem};
use crate::provider::Provider;
use crate::store::{Grant, Tenant};

/// Why a bearer token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TokenProblem {
    /// The header is missing or is not `Bearer <token>`.
    #[error("{0}")]
    Header(AuthProblem),
    #[error("the access token is unknown: it was never issued by this sandbox, or was revoked")]
    Unknown,
    #[error("the access token was issued by the {0} API")]
    OtherProvider(&'static str),
    #[error("the access token expired at {} (sandbox clock: {})", expired_at.to_rfc3339(), now.to_rfc3339())]
    Expired { expired_at: DateTime<Utc>, now: DateTime<Utc> },
}

/// The live grant of provider `P` behind the bearer token of `header`, and
/// its tenant (recorded on the request for the journal even when the token
/// turns out to be expired or another provider's).
pub(crate) fn bearer_grant<P: Provider>(
    app: &AppState,
    header: Option<&[u8]>,
    ctx: &RequestContext,
) -> Result<(Grant, Arc<Tenant>), TokenProblem> {
    let token = httpauth::bearer(header).map_err(TokenProblem::Header)?;
    let (grant, tenant) = app.tenants.lookup(token).ok_or(TokenProblem::Unknown)?;
    ctx.set_tenant(&tenant);
    if grant.provider != P::NAME {
        return Err(TokenProblem::OtherProvider(grant.provider));
    }
    let now = tenant.now();
    if now >= grant.expires_at {
        return Err(TokenProblem::Expired { expired_at: grant.expires_at, now });
    }
    Ok((grant, tenant))
}
