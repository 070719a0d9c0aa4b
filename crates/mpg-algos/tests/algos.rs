//! Learner tests: smoke runs, gradient identities, hand-computed targets, mutation checks.
// Tensor arithmetic stays out of place (`+=` would be libtorch's in-place add inside the graph).
#![allow(clippy::assign_op_pattern)]
#[path = "algos/batch_reuse.rs"]
mod batch_reuse;
#[path = "algos/common.rs"]
mod common;
#[path = "algos/fast_model_free.rs"]
mod fast_model_free;
#[path = "algos/fast_path.rs"]
mod fast_path;
#[path = "algos/mpg_identities.rs"]
mod mpg_identities;
#[path = "algos/nadp_fd.rs"]
mod nadp_fd;
#[path = "algos/optimizer_rules.rs"]
mod optimizer_rules;
#[path = "algos/q_loss_clip.rs"]
mod q_loss_clip;
#[path = "algos/reference.rs"]
mod reference;
#[path = "algos/smoke.rs"]
mod smoke;
#[path = "algos/targets.rs"]
mod targets;
