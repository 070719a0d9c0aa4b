//! Reports and plots over run folders' files (never checkpoints): trajectory plots now; the
//! benchmark matrix, Table I and Fig. 4–6 build on the same pieces.

pub mod plot;
