//! The true simulators of the paper's two tasks, in plain Rust (no libtorch).
//!
//! * [`path_tracking`]: the vehicle path-tracking task (spec §1), 6-d observation, 2-d action.
//! * [`pendulum`]: the MuJoCo inverted pendulum as an analytic cart-pole (spec §2), 4-d, 1-d.
//!
//! Every simulator is batched: one [`VecSim`] steps many agents at once. Agents are grouped in
//! fixed blocks of [`BLOCK`] agents, each block holding its state as structure-of-arrays (so the
//! inner loops vectorise) and its own random generator. A step is therefore the same whatever
//! the number of threads that run it, and the whole simulator (state and generators) can be
//! saved and restored with serde for exact resume (decision D8).

mod fastmath;
pub mod path_tracking;
pub mod pendulum;
pub mod policy;
mod vec_sim;

pub use vec_sim::{BLOCK, Kernel, SimState, VecSim};

use serde::{Deserialize, Serialize};

/// The random generator used by every simulator block (seeded, serialisable: spec D8).
pub type Rng = rand_xoshiro::Xoshiro256PlusPlus;

/// The two tasks of the paper.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
    PathTracking,
    InvertedPendulum,
}

impl Task {
    pub const ALL: [Task; 2] = [Task::PathTracking, Task::InvertedPendulum];

    /// The name used on the command line, in configs and in run folder names.
    pub fn name(self) -> &'static str {
        match self {
            Task::PathTracking => "path-tracking",
            Task::InvertedPendulum => "inverted-pendulum",
        }
    }

    /// Constants every learner needs: dimensions and preprocessing (spec §1.10, §2.4).
    pub fn spec(self) -> &'static TaskSpec {
        match self {
            Task::PathTracking => &path_tracking::SPEC,
            Task::InvertedPendulum => &pendulum::SPEC,
        }
    }
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Task {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Task::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| {
                format!("unknown task '{s}' (allowed: path-tracking, inverted-pendulum)")
            })
    }
}

/// Per-task constants shared by simulators, models and learners.
#[derive(Debug)]
pub struct TaskSpec {
    pub task: Task,
    pub obs_dim: usize,
    pub act_dim: usize,
    /// Network input = observation ⊙ `obs_scale` (spec §1.10 / §2.4).
    pub obs_scale: &'static [f32],
    /// Training reward = (reward + `reward_shift`) · `reward_scale` (spec §1.10 / §2.4, D19).
    pub reward_scale: f32,
    pub reward_shift: f32,
    /// Evaluation episode length in steps (spec §1.11, §2.4).
    pub eval_steps: usize,
    /// The paper's "base score" line and Table I goal (spec §5, D12).
    pub base_score: f64,
}

/// How the path-tracking simulator decides `done` (decision D1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Termination {
    /// As coded by the authors: the stability bounds are negative, so `done` is always true.
    #[default]
    Paper,
    /// Bounds taken as absolute values, episodes end on a real failure or after 200 steps.
    Corrected,
}

impl std::str::FromStr for Termination {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "paper" => Ok(Termination::Paper),
            "corrected" => Ok(Termination::Corrected),
            _ => Err(format!(
                "unknown termination '{s}' (allowed: paper, corrected)"
            )),
        }
    }
}

/// Errors a user can cause through a simulator's inputs.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SimError {
    #[error("expected {expected} values for {what}, got {got}")]
    Shape {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("{what} of agent {agent} is not finite ({value})")]
    NonFinite {
        what: &'static str,
        agent: usize,
        value: f32,
    },
}

/// Object-safe view of any batched simulator, for code that picks the task at run time.
pub trait Sim: Send {
    fn spec(&self) -> &'static TaskSpec;
    fn num_agents(&self) -> usize;
    /// Re-initialise every agent from the reset distribution.
    fn reset_all(&mut self);
    /// Re-initialise only the agents whose last step reported `done` (the authors' `reset()`).
    fn reset_done(&mut self);
    /// Re-initialise the agents `i` with `mask[i]` (Gymnasium's autoreset of the agents whose
    /// episode ended, by termination or by a caller's time limit); `mask` has one value per agent.
    fn reset_agents(&mut self, mask: &[bool]) -> Result<(), SimError>;
    /// Rebuild every agent's state from an observation (the authors' `reset(init_obs=…)`).
    fn set_obs(&mut self, obs: &[f32]) -> Result<(), SimError>;
    fn observe(&self, obs: &mut [f32]);
    /// One environment step of every agent; `reward` and `done` receive one value per agent.
    fn step(&mut self, act: &[f32], reward: &mut [f32], done: &mut [bool]) -> Result<(), SimError>;
    /// Like [`Sim::step`] but without input checks (the trainers' hot path; a NaN action
    /// propagates into the state instead of being reported).
    fn step_unchecked(&mut self, act: &[f32], reward: &mut [f32], done: &mut [bool]);
    /// Threads a step may use (1 = run on the calling thread; more = rayon's current pool).
    fn set_threads(&mut self, threads: usize);
    fn save(&self) -> SimState;
    fn load(&mut self, state: &SimState) -> Result<(), String>;
}

/// Build the true simulator of `task` with `agents` agents, seeded by `seed` (D8).
pub fn make_sim(task: Task, agents: usize, seed: u64, termination: Termination) -> Box<dyn Sim> {
    match task {
        Task::PathTracking => Box::new(VecSim::new(
            path_tracking::PathTracking::new(termination),
            agents,
            seed,
        )),
        Task::InvertedPendulum => {
            Box::new(VecSim::new(pendulum::Pendulum::default(), agents, seed))
        }
    }
}

/// Wrap an angle to (−π, π], as the authors' `deal_with_phi` does.
#[inline(always)]
pub fn wrap_angle(x: f64) -> f64 {
    use std::f64::consts::PI;
    if x > PI {
        x - 2.0 * PI
    } else if x <= -PI {
        x + 2.0 * PI
    } else {
        x
    }
}
