//! The boxes of the paper's Fig. 2 around the learner — [`actor`], [`buffer`], the optimizer
//! (in `mpg_algos::optimizer`, wrapped here by the trainers), [`evaluator`] — the synchronous
//! trainer [`sync`], run folders ([`run_dir`]), checkpoints and run configs.

pub mod actor;
pub mod buffer;
pub mod checkpoint;
pub mod config;
pub mod evaluator;
pub mod run_dir;
pub mod sync;
pub mod trained;

pub use config::RunConfig;
pub use run_dir::{RunDir, Status};
