//! The boxes of the paper's Fig. 2 around the learner — [`actor`], [`buffer`], the optimizer
//! (in `mpg_algos::optimizer`, wrapped here by the trainers), [`evaluator`] — the synchronous
//! trainer [`sync`], the asynchronous one [`async_trainer`], what both share ([`trainer`]),
//! [`run`], which starts either ([`launch`]), the [`recorder`] both write a run through, run
//! folders ([`run_dir`]), their CSVs ([`log`]), checkpoints, [`resume`] and run configs.

pub mod actor;
pub mod async_trainer;
pub mod buffer;
pub mod checkpoint;
pub mod config;
pub mod evaluator;
pub mod fault;
pub mod launch;
pub mod log;
pub mod output;
pub mod recorder;
pub mod resume;
pub mod run_dir;
pub mod staleness;
pub mod sync;
pub mod trained;
pub mod trainer;

pub use config::RunConfig;
pub use launch::{run, run_session};
pub use recorder::Outcome;
pub use run_dir::{RunDir, Status};
pub use trainer::{Progress, Silent};
