//! The Learner box of the paper's Fig. 2 and the math of the six algorithms.
//!
//! * [`learner`]: the learner interface — (parameters, [`batch::Batch`], iteration) →
//!   [`grads::Grads`] — matched once over the algorithms' variants, computed by one
//!   [`backend`] (the plain-Rust kernels of [`fast`], or the libtorch autograd reference); the
//!   networks are [`nets::Nets`], plain f32 parameters that Rust owns.
//! * [`optimizer`]: applying gradients (Adam, delayed policy and target updates, D15).
//! * One file per algorithm with its row of spec §3.9: [`mpg`] (MPG-v1, MPG-v2), [`ndpg`],
//!   [`nadp`], [`td3`], [`sac`]; shared pieces: [`weights`] (eq. 10–11), [`adam`],
//!   [`rollout`] (model rollouts), [`config`].

pub mod adam;
pub mod backend;
pub mod batch;
pub mod config;
pub mod fast;
pub mod grads;
pub mod learner;
pub mod mpg;
pub mod nadp;
pub mod ndpg;
pub mod nets;
pub mod optimizer;
pub mod rollout;
pub mod sac;
pub mod td3;
pub mod weights;

pub use batch::{Batch, TchBatch};
pub use config::{Algo, AlgoConfig, CriticChoice, GradPath, NonFinite};
pub use grads::{GradStats, Grads};
pub use learner::Learner;
pub use nets::{Nets, PolicyNet, TchNets};
pub use optimizer::{ApplyStats, Optimizer};
