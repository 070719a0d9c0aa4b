//! Runner tests: the replay buffer by hand, configs, determinism and exact resume, the
//! asynchronous trainer.
#[path = "runner/async_trainer.rs"]
mod async_trainer;
#[path = "runner/buffer.rs"]
mod buffer;
#[path = "runner/common.rs"]
mod common;
#[path = "runner/config.rs"]
mod config;
#[path = "runner/determinism.rs"]
mod determinism;
#[path = "runner/reliability.rs"]
mod reliability;
#[path = "runner/staleness.rs"]
mod staleness;
