//! `mpg bench`: profiles (profile.rs), the matrix they define (matrix.rs), which cells one
//! invocation runs (select.rs), and running them as `mpg train` children (scheduler.rs).
//! docs/bench.md is the user's guide.

pub mod estimate;
pub mod matrix;
pub mod profile;
pub mod scheduler;
pub mod select;

pub use matrix::{Cell, cells, validate};
pub use profile::{Profile, ProfileError};

#[cfg(test)]
mod tests;
