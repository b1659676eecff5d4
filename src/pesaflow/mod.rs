//! Pesaflow (eCitizen payments): the pure layer.
//!
//! Placeholder; the module documentation is written with the endpoints.

pub(crate) mod amount;
pub(crate) mod params;
pub(crate) mod wire;
