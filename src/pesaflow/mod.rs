//! Pesaflow (eCitizen payments): the pure layer.
//!
//! Placeholder; the module documentation is written with the endpoints.

pub(crate) mod amount;
pub(crate) mod error;
pub(crate) mod invoice;
pub(crate) mod notification;
pub(crate) mod page;
pub(crate) mod params;
pub(crate) mod token;
pub(crate) mod wire;
pub(crate) mod world;

/// The provider's name in journals, scenario files and admin paths.
pub(crate) const PROVIDER: &str = "pesaflow";
