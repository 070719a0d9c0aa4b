//! Simulator tests: golden replays, reset distributions, determinism, fixed controllers.
#[path = "envs/common.rs"]
mod common;
#[path = "envs/path_tracking.rs"]
mod path_tracking;
#[path = "envs/pendulum.rs"]
mod pendulum;
