//! Shared test support.
pub mod fixture;
