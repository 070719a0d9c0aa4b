//! Checkpoints: every piece of state a run needs to continue bit for bit (D8) — networks,
//! target networks, optimiser moments and counts, the replay buffer, every generator and
//! simulator, the counters and the CSV lengths — written whole or not at all.

use crate::buffer::ReplayBuffer;
use anyhow::{Context, Result, bail};
use mpg_algos::Optimizer;
use mpg_envs::{Rng, SimState};
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};
use tch::Tensor;

const FORMAT: u32 = 1;

/// The scalar part of a checkpoint (`meta.json`, written last: its presence marks a whole one).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Meta {
    pub format: u32,
    /// The next iteration to run.
    pub iteration: u64,
    /// The last iteration whose evaluation is in `eval.csv`.
    pub evaluated_through: Option<u64>,
    pub adam_steps: Vec<u64>,
    pub dropped_total: u64,
    pub dropped_in_row: u64,
    pub learner_calls: u64,
    pub actor_rng: Rng,
    pub learner_rng: Rng,
    pub actor_sim: SimState,
    pub eval_sim: SimState,
    pub eval_csv_len: u64,
    pub train_csv_len: u64,
    /// `gradients.csv`'s length (absent in checkpoints older than that file).
    #[serde(default)]
    pub gradients_csv_len: Option<u64>,
    pub elapsed_s: f64,
    /// The open `train.csv` interval's sums (JSON of the trainer's accumulator).
    pub interval: String,
    /// The resolved config the run was started with, as TOML.
    pub config: String,
    /// Sizes of the other files, checked on load.
    pub tensors_len: u64,
    pub replay_len: u64,
    /// Sizes of the further buffers' files `replay.1.bin`, … (the async trainer's buffers).
    #[serde(default)]
    pub more_replay_lens: Vec<u64>,
}

/// The file of replay buffer `k`: `replay.bin` for the first (the synchronous trainer's only
/// one), `replay.<k>.bin` for the others.
fn replay_file(k: usize) -> String {
    if k == 0 {
        "replay.bin".into()
    } else {
        format!("replay.{k}.bin")
    }
}

/// Each Adam's step count (q1, q2 or 0, policy), as `Meta::adam_steps` holds them.
pub fn adam_steps(opt: &Optimizer) -> Vec<u64> {
    vec![
        opt.q1.step,
        opt.q2.as_ref().map_or(0, |a| a.step),
        opt.policy.step,
    ]
}

/// The tensors of an optimiser: every network's parameters, then each Adam's moments.
fn named_tensors(opt: &Optimizer) -> Vec<(String, Tensor)> {
    let mut v = Vec::new();
    for (k, t) in opt.nets.snapshot().into_iter().enumerate() {
        v.push((format!("param.{k}"), t));
    }
    let adams = [Some(&opt.q1), opt.q2.as_ref(), Some(&opt.policy)];
    for (a, adam) in adams.iter().enumerate() {
        if let Some(adam) = adam {
            for (j, (m, v2)) in adam.m.iter().zip(&adam.v).enumerate() {
                v.push((format!("adam{a}.m.{j}"), m.detach().copy()));
                v.push((format!("adam{a}.v.{j}"), v2.detach().copy()));
            }
        }
    }
    v
}

/// Write a checkpoint into `dir` (the run's `checkpoint/`): a new folder beside it, synced,
/// then swapped in by renames; a crash at any moment leaves the previous checkpoint or the new
/// one whole.
pub fn save(
    dir: &Path,
    meta: &mut Meta,
    opt: &Optimizer,
    buffers: &[&ReplayBuffer],
    extra: Extra,
) -> Result<()> {
    let new = sibling(dir, "new");
    let old = sibling(dir, "old");
    let _ = fs::remove_dir_all(&new);
    fs::create_dir_all(&new)?;
    let mut tensors = named_tensors(opt);
    tensors.extend(extra);
    let refs: Vec<(&str, &Tensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    Tensor::save_multi(&refs, new.join("tensors.pt")).context("writing checkpoint tensors")?;
    for (k, buffer) in buffers.iter().enumerate() {
        let mut f = std::io::BufWriter::new(fs::File::create(new.join(replay_file(k)))?);
        buffer.write_to(&mut f)?;
        use std::io::Write;
        f.flush()?;
        f.get_ref().sync_all()?;
    }
    fs::File::open(new.join("tensors.pt"))?.sync_all()?;
    if let Ok(secs) = std::env::var("MPG_TEST_CHECKPOINT_PAUSE_S") {
        // Test-only hook: hold the process inside a checkpoint write so a test can kill it there.
        std::thread::sleep(std::time::Duration::from_secs_f64(
            secs.parse().unwrap_or(0.0),
        ));
    }
    meta.tensors_len = fs::metadata(new.join("tensors.pt"))?.len();
    meta.replay_len = fs::metadata(new.join("replay.bin"))?.len();
    meta.more_replay_lens = (1..buffers.len())
        .map(|k| fs::metadata(new.join(replay_file(k))).map(|m| m.len()))
        .collect::<std::io::Result<_>>()?;
    crate::run_dir::write_atomic(&new.join("meta.json"), &serde_json::to_vec_pretty(meta)?)?;
    fs::File::open(&new)?.sync_all()?;
    let _ = fs::remove_dir_all(&old);
    if dir.exists() {
        fs::rename(dir, &old)?;
    }
    fs::rename(&new, dir)?;
    if let Some(parent) = dir.parent() {
        fs::File::open(parent)?.sync_all()?;
    }
    let _ = fs::remove_dir_all(&old);
    Ok(())
}

fn sibling(dir: &Path, tag: &str) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.with_file_name(format!("{name}.{tag}"))
}

/// Where the newest whole checkpoint is: `checkpoint/`, or `checkpoint.old/` when a crash
/// happened between the two renames. A half-written `checkpoint.new/` is never used.
pub fn locate(dir: &Path) -> Option<PathBuf> {
    [dir.to_path_buf(), sibling(dir, "old")]
        .into_iter()
        .find(|d| d.join("meta.json").exists())
}

/// Read a checkpoint's meta and check its files are whole.
pub fn load_meta(dir: &Path) -> Result<Meta> {
    let meta: Meta = serde_json::from_slice(&fs::read(dir.join("meta.json"))?)
        .with_context(|| format!("{}: unreadable checkpoint meta", dir.display()))?;
    if meta.format != FORMAT {
        bail!(
            "{}: checkpoint format {} (this build reads {FORMAT})",
            dir.display(),
            meta.format
        );
    }
    let files = [
        ("tensors.pt".to_string(), meta.tensors_len),
        (replay_file(0), meta.replay_len),
    ]
    .into_iter()
    .chain((meta.more_replay_lens.iter().enumerate()).map(|(k, &len)| (replay_file(k + 1), len)));
    for (file, want) in files {
        let got = fs::metadata(dir.join(&file)).map(|m| m.len()).unwrap_or(0);
        if got != want {
            bail!(
                "{}: {file} is {got} bytes, the checkpoint says {want} (truncated?)",
                dir.display()
            );
        }
    }
    Ok(meta)
}

/// Prefixes of the tensors a trainer saves beside the optimiser's ([`save`]'s `extra`): the
/// learner's reused batch, and the synchronous trainer's window of past parameters (its staleness
/// model, crate::staleness: those of the last min(iteration, max d) iterations, oldest first).
pub const CACHE: &str = "learner_cache.";
pub const STALE: &str = "stale.";

/// Tensors saved beside the optimiser's, by name.
pub type Extra = Vec<(String, Tensor)>;

/// `tensors` named `{prefix}{k}`, in order.
pub fn named(prefix: &str, tensors: Vec<Tensor>) -> Extra {
    (tensors.into_iter().enumerate())
        .map(|(k, t)| (format!("{prefix}{k}"), t))
        .collect()
}

/// The extra tensors whose names start with `prefix`, in saved order.
pub fn group(extra: &[(String, Tensor)], prefix: &str) -> Vec<Tensor> {
    (extra.iter())
        .filter(|(n, _)| n.starts_with(prefix))
        .map(|(_, t)| t.shallow_clone())
        .collect()
}

/// Load the tensors and buffers of a checkpoint into a freshly built optimiser; also returns
/// the extra tensors saved beside them (names under [`CACHE`] or [`STALE`]). Everything is
/// read and checked before anything is written into `opt`.
pub fn load_state(
    dir: &Path,
    meta: &Meta,
    opt: &mut Optimizer,
) -> Result<(Vec<ReplayBuffer>, Extra)> {
    let mut loaded =
        Tensor::load_multi(dir.join("tensors.pt")).context("reading checkpoint tensors")?;
    let is_extra = |n: &str| n.starts_with(CACHE) || n.starts_with(STALE);
    let extra: Extra = (loaded.iter())
        .filter(|(n, _)| is_extra(n))
        .map(|(n, t)| (n.clone(), t.shallow_clone()))
        .collect();
    loaded.retain(|(n, _)| !is_extra(n));
    let want = named_tensors(opt);
    if loaded.len() != want.len() {
        bail!(
            "{}: {} tensors, this configuration has {}",
            dir.display(),
            loaded.len(),
            want.len()
        );
    }
    for ((ln, lt), (wn, wt)) in loaded.iter().zip(&want) {
        if ln != wn || lt.size() != wt.size() {
            bail!(
                "{}: tensor {ln} {:?} does not fit {wn} {:?}",
                dir.display(),
                lt.size(),
                wt.size()
            );
        }
    }
    let buffers = (0..=meta.more_replay_lens.len())
        .map(|k| {
            let mut f = std::io::BufReader::new(fs::File::open(dir.join(replay_file(k)))?);
            ReplayBuffer::read_from(&mut f)
                .with_context(|| format!("{}: {}", dir.display(), replay_file(k)))
        })
        .collect::<Result<Vec<_>>>()?;
    if meta.adam_steps.len() != 3 {
        bail!("{}: bad optimiser counts", dir.display());
    }
    let n_params = opt.nets.snapshot().len();
    let params: Vec<Tensor> = loaded[..n_params]
        .iter()
        .map(|(_, t)| t.shallow_clone())
        .collect();
    opt.nets.load(&params);
    let mut k = n_params;
    let steps = meta.adam_steps.clone();
    let adams = [Some(&mut opt.q1), opt.q2.as_mut(), Some(&mut opt.policy)];
    for (a, adam) in adams.into_iter().enumerate() {
        if let Some(adam) = adam {
            for j in 0..adam.m.len() {
                adam.m[j] = loaded[k].1.shallow_clone();
                adam.v[j] = loaded[k + 1].1.shallow_clone();
                k += 2;
            }
            adam.step = steps[a];
        }
    }
    opt.iteration = meta.iteration;
    opt.dropped_total = meta.dropped_total;
    opt.dropped_in_row = meta.dropped_in_row;
    Ok((buffers, extra))
}
