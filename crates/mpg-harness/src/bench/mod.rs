//! `mpg bench`: profiles (profile.rs), the matrix they define (matrix.rs), which cells one
//! invocation runs (select.rs), running them as `mpg train` children (scheduler.rs), and the
//! committed copies of finished runs (collect.rs).
//! docs/bench.md is the user's guide.

pub mod collect;
pub mod estimate;
pub mod matrix;
pub mod profile;
pub mod scheduler;
pub mod select;

pub use matrix::{Cell, cells, validate};
pub use profile::{Profile, ProfileError};

#[cfg(test)]
mod tests;
