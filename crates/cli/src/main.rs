#![allow(dead_code, unused_imports)]
//! Temporary entry point: only declares the plot and progress modules.

mod plot;
mod progress;

fn main() {}
