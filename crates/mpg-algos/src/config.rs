//! The algorithms and their settings, with the defaults of spec §3.9 per algorithm and task.

use crate::weights::WeightRule;
use mpg_envs::Task;
use mpg_models::nets::Init;
use serde::{Deserialize, Serialize};

/// The six algorithms of the paper (spec §3.4–3.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Algo {
    MpgV1,
    MpgV2,
    Ndpg,
    Nadp,
    Td3,
    Sac,
}

impl Algo {
    pub const ALL: [Algo; 6] = [
        Algo::MpgV1,
        Algo::MpgV2,
        Algo::Ndpg,
        Algo::Nadp,
        Algo::Td3,
        Algo::Sac,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Algo::MpgV1 => "mpg-v1",
            Algo::MpgV2 => "mpg-v2",
            Algo::Ndpg => "ndpg",
            Algo::Nadp => "nadp",
            Algo::Td3 => "td3",
            Algo::Sac => "sac",
        }
    }

    /// How the critic's target is formed (spec §3.9 "value target").
    pub fn critic_target(self) -> CriticTarget {
        match self {
            Algo::MpgV1 | Algo::Ndpg => CriticTarget::EnvRollout,
            Algo::Nadp => CriticTarget::ModelRollout,
            Algo::MpgV2 => CriticTarget::ClippedDoubleQ { smoothing: false },
            Algo::Td3 => CriticTarget::ClippedDoubleQ { smoothing: true },
            Algo::Sac => CriticTarget::Soft,
        }
    }

    /// What the policy maximises (spec §3.9 "policy objective").
    pub fn policy_objective(self) -> PolicyObjective {
        match self {
            Algo::MpgV1 | Algo::MpgV2 => PolicyObjective::Mixed,
            Algo::Ndpg => PolicyObjective::Q1,
            Algo::Nadp => PolicyObjective::ModelBptt,
            Algo::Td3 => PolicyObjective::MinQ,
            Algo::Sac => PolicyObjective::Soft,
        }
    }

    /// Whether Q2 (and Q2') is trained (spec §3.9 "critics used").
    pub fn twin_critics(self) -> bool {
        matches!(self, Algo::MpgV2 | Algo::Td3 | Algo::Sac)
    }
}

impl std::fmt::Display for Algo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Algo {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algo::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| {
                format!("unknown algorithm '{s}' (allowed: mpg-v1, mpg-v2, ndpg, nadp, td3, sac)")
            })
    }
}

/// Value-target variants (spec §3.4–3.8), matched once in the learner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CriticTarget {
    /// n-step return through the TRUE simulator, Q1'(s_n, π'(s_n)) bootstrap (§3.4, §3.6).
    EnvRollout,
    /// n-step return through the prior model, Q1'(ŝ_n, π(ŝ_n)) bootstrap (§3.7).
    ModelRollout,
    /// r + γ·min(Q1', Q2')(s', π'(s') [+ smoothing noise]) (§3.5, §3.8).
    ClippedDoubleQ { smoothing: bool },
    /// r + γ·(min(Q1', Q2')(s', a') − α log π(a'|s')), a' ~ π (§3.8).
    Soft,
}

/// Policy-objective variants (spec §3.2, §3.6–3.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyObjective {
    /// w_data·Q(s, π(s)) + w_model·(H-step model return + bootstrap) (§3.2).
    Mixed,
    /// Q1(s, π(s)) (§3.6).
    Q1,
    /// The H-step model return with full BPTT (§3.7).
    ModelBptt,
    /// min(Q1, Q2)(s, π(s)) (§3.8).
    MinQ,
    /// min(Q1, Q2)(s, a) − α log π(a|s), a reparameterised (§3.8).
    Soft,
}

/// Which critic stands in MPG's return terms (decision D2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CriticChoice {
    /// min(Q1, Q2) in every term (paper-era code).
    #[default]
    Min,
    /// Q1 in every term (master).
    Q1,
}

/// How gradients are computed (issue "fast gradient path"). A config value, resolved once and
/// recorded in the run's config and checkpoint; never picked by timing, so that determinism and
/// exact resume hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GradPath {
    /// Plain-Rust kernels (`crate::fast`, `crate::backend::fast`) for every target and
    /// gradient: no libtorch call on a training step.
    #[default]
    Fast,
    /// libtorch autograd (`crate::backend::reference`): the reference the fast kernels are
    /// tested against. The optimiser, the actors and the evaluators are plain Rust on both.
    Reference,
}

/// What to do with a non-finite loss or gradient (decision D15).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NonFinite {
    /// Drop the gradient, count it; stop after 100 in a row.
    #[default]
    Drop,
    /// Replace non-finite entries by zero and apply (paper-era code).
    Zero,
}

/// Every setting of a learner and its optimiser. Defaults: [`AlgoConfig::defaults`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlgoConfig {
    /// Discount γ (spec §3.1).
    pub gamma: f64,
    /// Minibatch size (spec §3.9).
    pub batch_size: usize,
    /// Polyak rate τ of the target networks (spec §3.1).
    pub tau: f64,
    /// Global-norm gradient clip, per network (spec §3.1).
    pub grad_clip: f64,
    /// Critic learning rate [initial, final], decayed linearly (spec §3.1, D10).
    pub q_lr: [f64; 2],
    /// Policy learning rate [initial, final] (spec §3.1, D10).
    pub policy_lr: [f64; 2],
    /// Applies over which the learning rates decay (spec §3.1).
    pub lr_decay_steps: u64,
    /// Policy and target updates every `delay_update` iterations (spec §3.9).
    pub delay_update: u64,
    /// A batch and its targets serve this many gradient computations (spec §3.4, §3.9).
    pub batch_reuse: u64,
    /// Std of the actors' Gaussian exploration noise; 0 for none (spec §3.9).
    pub explore_sigma: f64,
    /// Model rollout / n-step length H (spec §3.2).
    pub horizon: usize,
    /// η of the weight rule (spec §3.3).
    pub eta: f64,
    /// T of the weight rule (`rule_based_bias_total_ite`, spec §3.3).
    pub weight_total_ite: u64,
    /// Form of the weight rule (D16).
    pub weight_rule: WeightRule,
    /// Critic in MPG's return terms (D2).
    pub critic: CriticChoice,
    /// Full BPTT in MPG's model term (`deriv_interval_policy`, spec §3.2).
    pub deriv_interval_policy: bool,
    /// Clip of the n-step target's bootstrap value (pendulum: [−0.5, 0], spec §3.4).
    pub bootstrap_clip: Option<[f64; 2]>,
    /// Prior-model noise mean and std (spec §1.9, §2.3).
    pub model_noise: [f64; 2],
    /// TD3 target smoothing std and clip (spec §3.8).
    pub target_noise: f64,
    pub target_noise_clip: f64,
    /// SAC's fixed temperature α (spec §3.8).
    pub alpha: f64,
    /// SAC: tanh-squash the Gaussian (D14).
    pub squash: bool,
    /// SAC: clip of log σ (D14 option; master [−5, 1]).
    pub log_std_clip: Option<[f64; 2]>,
    /// Network initialisation (D9).
    pub init: Init,
    /// Non-finite gradients (D15).
    pub nonfinite_grads: NonFinite,
    /// Terminal masking of value targets (D17).
    pub mask_terminal: bool,
    /// Gradient computation: the fast kernels or the autograd reference ([`GradPath`]).
    pub path: GradPath,
}

impl AlgoConfig {
    /// The defaults of spec §3.9 for `algo` on `task`.
    pub fn defaults(algo: Algo, task: Task) -> AlgoConfig {
        let pendulum = task == Task::InvertedPendulum;
        let noise = mpg_models::ModelNoise::default_for(task);
        AlgoConfig {
            gamma: 0.98,
            batch_size: 256,
            tau: 0.005,
            grad_clip: 3.0,
            q_lr: [8e-5, 8e-6],
            policy_lr: [3e-5, 3e-6],
            lr_decay_steps: 100_000,
            delay_update: match algo {
                Algo::MpgV1 | Algo::MpgV2 | Algo::Td3 => 2,
                Algo::Ndpg | Algo::Nadp | Algo::Sac => 1,
            },
            batch_reuse: match algo {
                Algo::MpgV1 | Algo::Ndpg => 10,
                _ => 1,
            },
            explore_sigma: match algo {
                Algo::MpgV1 | Algo::MpgV2 | Algo::Td3 => 0.1,
                Algo::Ndpg | Algo::Nadp | Algo::Sac => 0.0,
            },
            horizon: 25,
            eta: 0.1,
            weight_total_ite: if pendulum { 4000 } else { 9000 },
            weight_rule: WeightRule::Code,
            critic: CriticChoice::Min,
            deriv_interval_policy: false,
            bootstrap_clip: if pendulum && algo.critic_target() == CriticTarget::EnvRollout {
                Some([-0.5, 0.0])
            } else {
                None
            },
            model_noise: [noise.mean, noise.std],
            target_noise: 0.2,
            target_noise_clip: 0.5,
            alpha: 0.03,
            squash: true,
            log_std_clip: None,
            init: Init::Orthogonal,
            nonfinite_grads: NonFinite::Drop,
            mask_terminal: false,
            path: GradPath::Fast,
        }
    }
}
