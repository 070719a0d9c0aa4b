//! Prior-model tests: golden replays, autograd Jacobians, consistency with the simulators,
//! noise, the model-error measurement. One test binary (each links libtorch); run with
//! `cargo nextest run -p mpg-models` so every test has its own process.
#[path = "models/common.rs"]
mod common;
#[path = "models/consistency.rs"]
mod consistency;
#[path = "models/golden.rs"]
mod golden;
#[path = "models/jacobian.rs"]
mod jacobian;
#[path = "models/model_error.rs"]
mod model_error;
#[path = "models/noise.rs"]
mod noise;
