//! Fixed controllers used as sanity anchors and for model-error measurements (spec §5).

use crate::Task;
use crate::path_tracking::{ACC_MAX, STEER_MAX, V_REF};

/// A fixed policy that needs no training.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FixedPolicy {
    /// All actions zero.
    Zero,
    /// The task's linear state-feedback controller (path tracking: the hand-tuned controller of
    /// spec §5; pendulum: see [`crate::pendulum`]).
    Linear,
}

impl std::str::FromStr for FixedPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "zero" => Ok(FixedPolicy::Zero),
            "linear" => Ok(FixedPolicy::Linear),
            _ => Err(format!("unknown policy '{s}' (allowed: zero, linear)")),
        }
    }
}

impl FixedPolicy {
    /// Actions for a batch of observations (row-major), in the task's normalised action units.
    pub fn act(self, task: Task, obs: &[f32], act: &mut [f32]) {
        let spec = task.spec();
        for (o, a) in obs
            .chunks_exact(spec.obs_dim)
            .zip(act.chunks_exact_mut(spec.act_dim))
        {
            match (self, task) {
                (FixedPolicy::Zero, _) => a.fill(0.0),
                (FixedPolicy::Linear, Task::PathTracking) => {
                    // δ = −0.04·Δy − 0.4·Δφ, a_x = −0.5·(v_x − 20) (spec §5), normalised.
                    let steer = -0.04 * o[3] as f64 - 0.4 * o[4] as f64;
                    let acc = -0.5 * (o[0] as f64 + 20.0 - V_REF);
                    a[0] = (steer / STEER_MAX) as f32;
                    a[1] = (acc / ACC_MAX) as f32;
                }
                (FixedPolicy::Linear, Task::InvertedPendulum) => {
                    a[0] = crate::pendulum::linear_controller(o);
                }
            }
        }
    }
}
