//! A trained policy read back from a run folder's checkpoint, for evaluation, rollouts and
//! model-error measurements outside training.

use crate::checkpoint;
use crate::config::RunConfig;
use crate::run_dir::RunDir;
use anyhow::{Context, Result, bail};
use mpg_algos::Nets;
use mpg_algos::fast::mlp::MlpCache;
use tch::Tensor;

/// The networks of a run at its last checkpoint.
pub struct Trained {
    pub cfg: RunConfig,
    pub nets: Nets,
    /// The iteration the checkpoint was taken at.
    pub iteration: u64,
}

impl Trained {
    /// Read `config.toml` and the newest whole checkpoint of `dir`.
    pub fn load(dir: &RunDir) -> Result<Trained> {
        let text = std::fs::read_to_string(dir.config()).with_context(|| {
            format!(
                "{}: not a run folder (no readable config.toml)",
                dir.root.display()
            )
        })?;
        let cfg: RunConfig =
            toml::from_str(&text).with_context(|| format!("{}", dir.config().display()))?;
        let found = checkpoint::find(&dir.checkpoint())?
            .with_context(|| format!("{}: no checkpoint yet", dir.root.display()))?;
        if let Some(why) = &found.fallback {
            eprintln!(
                "warning: the newest checkpoint is damaged ({why}); using the previous one, at iteration {}",
                found.meta.iteration
            );
        }
        let (ck, meta) = (found.dir, found.meta);
        // Values are overwritten from the checkpoint.
        let mut nets = cfg.shaped_nets();
        let path = ck.join("tensors.pt");
        let loaded =
            Tensor::load_multi(&path).map_err(|e| checkpoint::torch_error("read", &path, e))?;
        let params: Vec<Tensor> = loaded
            .iter()
            .filter(|(n, _)| n.starts_with("param."))
            .map(|(_, t)| t.shallow_clone())
            .collect();
        let want = nets.snapshot();
        if params.len() != want.len()
            || (params.iter().zip(&want)).any(|(a, b)| a.size() != b.size())
        {
            bail!(
                "{}: the checkpoint's networks do not fit {} on {}",
                ck.display(),
                cfg.algo,
                cfg.task
            );
        }
        nets.load(&params);
        Ok(Trained {
            cfg,
            nets,
            iteration: meta.iteration,
        })
    }

    /// The deterministic action (the policy mean, squashed) for row-major observations.
    pub fn act(&self, obs: &[f32], act: &mut [f32]) {
        let s = mpg_algos::backend::scaled(self.cfg.task.spec(), obs);
        let a = self.nets.policy.act(&s, &mut MlpCache::default());
        act.copy_from_slice(&a);
    }
}
