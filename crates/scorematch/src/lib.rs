//! scorematch: fit energy-based models and score networks by score matching.
//!
//! (Crate docs are written as the modules land.)

pub mod checkpoint;
pub mod data;
pub mod error;
pub mod eval;
pub mod model;
pub mod objective;
pub mod optim;
pub mod sample;
pub mod saved;
pub mod train;

pub use error::{Error, Result};
