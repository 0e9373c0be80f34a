//! scorematch: fit energy-based models and score networks by score matching.
//!
//! (Crate docs are written as the modules land.)

pub mod checkpoint;
pub mod data;
pub mod error;
pub mod optim;

pub use error::{Error, Result};
