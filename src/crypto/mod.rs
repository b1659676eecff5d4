//! Cryptography the real systems perform, done for real with published test keys.
//!
//! **Invariant:** nothing here does I/O or knows about HTTP or wire JSON; every
//! function is pure, cheap to fuzz, and fails with a typed error instead of a
//! panic, whatever bytes it is given.
//! **Invariant:** no function here logs; secrets pass through but never leave.

pub mod credential;
pub mod jwt;
pub mod keys;
pub mod lnm;
pub mod pkce;
pub mod secure_hash;
pub mod spki;
pub mod webhook;
