//! Applying gradients (the Optimizer box of Fig. 2, without its thread): Adam per network, the
//! delayed policy and target updates, and the non-finite rule D15.

use crate::adam::{Adam, LinearDecay};
use crate::config::{AlgoConfig, NonFinite};
use crate::grads::{Grads, ParamGrads};
use crate::nets::Nets;

/// What one application did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ApplyStats {
    /// The iteration this application counted as.
    pub iteration: u64,
    /// Whether the policy and target networks were updated (iteration % delay == 0).
    pub policy_applied: bool,
    /// Whether the gradient was dropped as non-finite (D15).
    pub dropped: bool,
    /// Iterations applied between the parameters' snapshot and now (staleness).
    pub staleness: u64,
}

/// A run of non-finite gradients too long to continue (D15).
#[derive(Debug, thiserror::Error)]
#[error(
    "{count} non-finite gradients in a row (last in the {network} gradient at iteration {iteration}); the run stops"
)]
pub struct NonFiniteError {
    pub count: u64,
    pub network: &'static str,
    pub iteration: u64,
}

/// Gradients dropped in a row before the run stops (D15).
pub const MAX_NONFINITE_IN_ROW: u64 = 100;

/// The master networks and one Adam per trained network; each application is one iteration.
pub struct Optimizer {
    pub nets: Nets,
    pub q1: Adam,
    pub q2: Option<Adam>,
    pub policy: Adam,
    pub iteration: u64,
    pub dropped_total: u64,
    pub dropped_in_row: u64,
    delay: u64,
    tau: f64,
    nonfinite: NonFinite,
}

impl Optimizer {
    pub fn new(nets: Nets, cfg: &AlgoConfig) -> Optimizer {
        let q = LinearDecay {
            init: cfg.q_lr[0],
            end: cfg.q_lr[1],
            steps: cfg.lr_decay_steps,
        };
        let p = LinearDecay {
            init: cfg.policy_lr[0],
            end: cfg.policy_lr[1],
            steps: cfg.lr_decay_steps,
        };
        Optimizer {
            q1: Adam::new(&nets.q1, q),
            q2: nets.q2.as_ref().map(|n| Adam::new(n, q)),
            policy: Adam::new(&nets.policy.net, p),
            nets,
            iteration: 0,
            dropped_total: 0,
            dropped_in_row: 0,
            delay: cfg.delay_update.max(1),
            tau: cfg.tau,
            nonfinite: cfg.nonfinite_grads,
        }
    }

    /// Whether iteration `i` applies the policy gradient and updates the targets (spec §3.1).
    pub fn policy_due(&self, i: u64) -> bool {
        i.is_multiple_of(self.delay)
    }

    /// Apply one gradient as iteration `self.iteration` and advance the counter. Q gradients
    /// are applied every iteration; the policy gradient and the Polyak updates only when
    /// [`Optimizer::policy_due`]. A gradient with a non-finite entry is dropped whole and
    /// counted (D15 `drop`) or zeroed where non-finite (`zero`).
    pub fn apply(&mut self, grads: &Grads) -> Result<ApplyStats, NonFiniteError> {
        let i = self.iteration;
        self.iteration += 1;
        let policy_due = self.policy_due(i);
        let mut stats = ApplyStats {
            iteration: i,
            staleness: i.saturating_sub(grads.stats.version),
            ..ApplyStats::default()
        };
        let finite = |g: &ParamGrads| g.iter().flatten().all(|x| x.is_finite());
        let bad = if !finite(&grads.q1) {
            Some("q1")
        } else if grads.q2.as_ref().is_some_and(|g| !finite(g)) {
            Some("q2")
        } else if policy_due && grads.policy.as_ref().is_some_and(|g| !finite(g)) {
            Some("policy")
        } else {
            None
        };
        let zeroed;
        let grads = match (bad, self.nonfinite) {
            (Some(network), NonFinite::Drop) => {
                self.dropped_total += 1;
                self.dropped_in_row += 1;
                stats.dropped = true;
                if self.dropped_in_row >= MAX_NONFINITE_IN_ROW {
                    return Err(NonFiniteError {
                        count: self.dropped_in_row,
                        network,
                        iteration: i,
                    });
                }
                return Ok(stats);
            }
            (Some(_), NonFinite::Zero) => {
                // NaN and ±∞ alike become 0 (libtorch's nan_to_num(0, 0, 0)).
                let z = |g: &ParamGrads| -> ParamGrads {
                    (g.iter())
                        .map(|v| {
                            v.iter()
                                .map(|&x| if x.is_finite() { x } else { 0.0 })
                                .collect()
                        })
                        .collect()
                };
                zeroed = Grads {
                    q1: z(&grads.q1),
                    q2: grads.q2.as_ref().map(z),
                    policy: grads.policy.as_ref().map(z),
                    stats: grads.stats.clone(),
                };
                &zeroed
            }
            (None, _) => grads,
        };
        self.dropped_in_row = 0;
        let nets = &mut self.nets;
        self.q1.apply(&mut nets.q1, &grads.q1);
        if let (Some(adam), Some(net), Some(g)) = (self.q2.as_mut(), nets.q2.as_mut(), &grads.q2) {
            adam.apply(net, g);
        }
        if policy_due {
            if let Some(g) = &grads.policy {
                self.policy.apply(&mut nets.policy.net, g);
                stats.policy_applied = true;
            }
            nets.update_targets(self.tau);
        }
        Ok(stats)
    }
}
