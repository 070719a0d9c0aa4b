//! Learner tests: smoke runs, gradient identities, hand-computed targets, mutation checks.
#[path = "algos/common.rs"]
mod common;
#[path = "algos/smoke.rs"]
mod smoke;
