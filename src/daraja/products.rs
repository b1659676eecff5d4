//! API products: a Daraja app is created with a set of products, and an API
//! outside them is refused before it reads the body, as Apigee verifies the
//! product together with the token.
//!
//! What a missing product answers, as captured: `401.003.01 Error Occurred -
//! Invalid Access Token - Invalid API call as no apiproduct match found`
//! (2024 production, 2026 sandbox), `401.002.01` with an empty detail for
//! B2Pochi and `401.001` with an empty detail for Pull Transactions (both
//! 2026 sandbox). An app's `product_error` makes every product answer one
//! way (`404.001.03` is what a missing product gave in 2017).
//!
//! Outside production rules the one "M-Pesa Sandbox" product covers C2B v1
//! and v2; under them C2B v1 and v2 are products of their own, and an app
//! that does not list its products has C2B v2 only, as the portal issues it.

use super::c2b::Version;
use super::error::{DarajaError, ErrorKind};
use super::extract::Authed;
use super::world::{Product, ProductError, World};
use super::Daraja;

/// The product an API needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    Express,
    C2b(Version),
    Mpesa,
    B2pochi,
    Pull,
    Qr,
}

impl Api {
    fn product(self, world: &World) -> Product {
        match self {
            Api::Express => Product::LipaNaMpesa,
            Api::C2b(Version::V1) if world.settings.production_rules => Product::C2bV1,
            Api::C2b(Version::V2) if world.settings.production_rules => Product::C2bV2,
            Api::C2b(_) | Api::Mpesa => Product::Mpesa,
            Api::B2pochi => Product::B2pochi,
            Api::Pull => Product::PullTransactions,
            Api::Qr => Product::DynamicQr,
        }
    }
}

/// The error a missing product answers with when the app names none.
fn own_error(product: Product) -> ProductError {
    match product {
        Product::B2pochi => ProductError::EmptyDetail,
        Product::PullTransactions => ProductError::Unauthorised,
        _ => ProductError::NoApiProductMatch,
    }
}

/// Refuses a request whose app lacks the API's product.
pub(crate) fn require(auth: &Authed, api: Api) -> Result<(), DarajaError> {
    // Under the tenant's lock rather than with a copy of the world's
    // handle: every request on every core would write its shared count.
    auth.tenant.with::<Daraja, _>(|_, mine| check(&mine.world, auth, api))
}

fn check(world: &World, auth: &Authed, api: Api) -> Result<(), DarajaError> {
    let product = api.product(world);
    let Some(app) = world.app_by_key(&auth.consumer_key) else {
        return Err(DarajaError::new(ErrorKind::InvalidAccessToken, "the token's app was removed from the world"));
    };
    if app.has(product) {
        return Ok(());
    }
    let held: Vec<&str> = app.products.iter().map(|p| p.as_str()).collect();
    let why = format!(
        "app {:?} was not created with the {} product this API needs (it has {held:?}); add it to the app's `products` in the world",
        app.name,
        product.as_str()
    );
    let kind = match app.product_error.unwrap_or_else(|| own_error(product)) {
        ProductError::InvalidAccessToken => ErrorKind::InvalidAccessToken,
        error => ErrorKind::ProductMissing(error),
    };
    Err(DarajaError::new(kind, why))
}
