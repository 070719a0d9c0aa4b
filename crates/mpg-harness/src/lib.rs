//! Reports and plots over run folders' files (never checkpoints): trajectory plots, and `mpg
//! report`'s Table I, Fig. 4–6 and report.md (the `report` module).

pub mod bench;
pub mod plot;
pub mod report;
