//! The inverted pendulum (spec §2): MuJoCo's cart-pole as an analytic model (spec §2.2).
//! (Being written: see issue 8.)

use crate::{Kernel, Rng, Task, TaskSpec};
use serde::{Deserialize, Serialize};

pub static SPEC: TaskSpec = TaskSpec {
    task: Task::InvertedPendulum,
    obs_dim: 4,
    act_dim: 1,
    obs_scale: &[0.001, 1.0 / 3.0, 0.1, 0.5],
    reward_scale: 1.0,
    reward_shift: 0.0,
    eval_steps: 100,
    base_score: -2.0,
};

#[derive(Clone, Debug, Default)]
pub struct Pendulum;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Block {
    q: Vec<[f64; 4]>,
}

impl Kernel for Pendulum {
    type Block = Block;
    fn spec(&self) -> &'static TaskSpec {
        &SPEC
    }
    fn new_block(&self, n: usize) -> Block {
        Block { q: vec![[0.0; 4]; n] }
    }
    fn reset(&self, _b: &mut Block, _i: usize, _rng: &mut Rng) {
        todo!("issue 8")
    }
    fn set_obs(&self, _b: &mut Block, _i: usize, _obs: &[f32]) {
        todo!("issue 8")
    }
    fn observe(&self, _b: &Block, _obs: &mut [f32]) {
        todo!("issue 8")
    }
    fn step(&self, _b: &mut Block, _act: &[f32], _reward: &mut [f32], _done: &mut [bool]) {
        todo!("issue 8")
    }
}

/// State-feedback controller for the pendulum (to be derived by LQR, issue 8).
pub fn linear_controller(_obs: &[f32]) -> f32 {
    todo!("issue 8")
}
