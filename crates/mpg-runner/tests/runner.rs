//! Runner tests: the replay buffer by hand, configs, determinism and exact resume.
#[path = "runner/buffer.rs"]
mod buffer;
#[path = "runner/config.rs"]
mod config;
#[path = "runner/determinism.rs"]
mod determinism;
