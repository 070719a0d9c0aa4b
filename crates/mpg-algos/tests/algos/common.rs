//! Batches of real transitions for the learner tests.

use mpg_algos::Batch;
use mpg_envs::Task;

/// `n` transitions of `task` from fresh resets with uniform random actions ([`Batch::random`]).
pub fn random_batch(task: Task, n: usize, seed: u64) -> Batch {
    Batch::random(task, n, seed)
}
