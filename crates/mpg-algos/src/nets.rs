//! Every network of an algorithm (spec §3.1): the policy, Q1, Q2 where used, and their
//! targets, with the snapshot, load and Polyak operations the optimiser, the asynchronous
//! trainer and the checkpoints walk them with.

use crate::config::Algo;
use mpg_envs::{Rng, Task};
use mpg_models::nets::{Init, Mlp, Policy, Squash, polyak};
use tch::Tensor;

/// Every network of an algorithm: the policy, Q1, Q2 where used, and their targets.
#[derive(Debug)]
pub struct Nets {
    pub policy: Policy,
    pub q1: Mlp,
    pub q2: Option<Mlp>,
    pub policy_targ: Policy,
    pub q1_targ: Mlp,
    pub q2_targ: Option<Mlp>,
}

impl Nets {
    /// Fresh networks from the run's generator (D8, D9); targets start as copies.
    pub fn new(algo: Algo, task: Task, init: Init, squash: bool, rng: &mut Rng) -> Nets {
        let spec = task.spec();
        let squash = if algo == Algo::Sac && !squash {
            Squash::None
        } else {
            Squash::for_task(task)
        };
        let policy = Policy::new(spec.obs_dim, spec.act_dim, squash, init, rng);
        let q_in = spec.obs_dim + spec.act_dim;
        let q1 = Mlp::new(q_in, 1, init, rng);
        let q2 = algo.twin_critics().then(|| Mlp::new(q_in, 1, init, rng));
        Nets {
            policy_targ: Policy {
                net: policy.net.deep_copy(),
                act_dim: policy.act_dim,
                squash: policy.squash,
            },
            q1_targ: q1.deep_copy(),
            q2_targ: q2.as_ref().map(Mlp::deep_copy),
            policy,
            q1,
            q2,
        }
    }

    /// Every network in a fixed order (policy, q1, q2, policy', q1', q2').
    pub fn all(&self) -> Vec<&Mlp> {
        let mut v = vec![&self.policy.net, &self.q1];
        v.extend(self.q2.as_ref());
        v.extend([&self.policy_targ.net, &self.q1_targ]);
        v.extend(self.q2_targ.as_ref());
        v
    }

    /// Detached copies of every parameter, in [`Nets::all`] order: a snapshot that can move
    /// to another thread.
    pub fn snapshot(&self) -> Vec<Tensor> {
        self.all()
            .iter()
            .flat_map(|n| n.params())
            .map(|t| t.detach().copy())
            .collect()
    }

    /// Overwrite every parameter from a [`Nets::snapshot`].
    pub fn load(&self, values: &[Tensor]) {
        let mut k = 0;
        for net in self.all() {
            let n = net.params().len();
            net.load_values(&values[k..k + n]);
            k += n;
        }
        assert_eq!(k, values.len(), "snapshot of other networks");
    }

    /// Soft target updates of every target network in use (spec §3.1).
    pub fn update_targets(&self, tau: f64) {
        polyak(&self.policy_targ.net, &self.policy.net, tau);
        polyak(&self.q1_targ, &self.q1, tau);
        if let (Some(t), Some(s)) = (&self.q2_targ, &self.q2) {
            polyak(t, s, tau);
        }
    }
}
