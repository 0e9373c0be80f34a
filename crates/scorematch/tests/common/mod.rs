//! Shared test support.
#![allow(dead_code)] // each test binary uses a different part

pub mod fixture;
pub mod linalg;
