//! Checkpoints: every piece of state a run needs to continue bit for bit (D8) — networks,
//! target networks, optimiser moments and counts, the replay buffer, every generator and
//! simulator, the counters and the CSV lengths — written whole or not at all.

use crate::buffer::ReplayBuffer;
use anyhow::{Context, Result, anyhow, bail};
use mpg_algos::Optimizer;
use mpg_envs::{Rng, SimState};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use tch::Tensor;

/// Format 2 adds the checksums (format 1 checkpoints cannot be verified and are refused).
pub const FORMAT: u32 = 2;

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
    /// CRC-32 of every other file of the checkpoint (`tensors.pt`, `replay.bin`, …), by name,
    /// checked before anything is loaded.
    #[serde(default)]
    pub checksums: BTreeMap<String, u32>,
    /// CRC-32 of this meta's own JSON written with `meta_crc` absent: catches a damaged
    /// `meta.json` that still parses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_crc: Option<u32>,
}

impl Meta {
    /// The `meta.json` bytes, with their own checksum filled in.
    fn to_json(&self) -> Result<Vec<u8>> {
        let mut m = self.clone();
        m.meta_crc = None;
        m.meta_crc = Some(crc32fast::hash(&serde_json::to_vec_pretty(&m)?));
        Ok(serde_json::to_vec_pretty(&m)?)
    }
}

/// The CRC-32 of a file, read whole (errors name the file).
fn file_crc(path: &Path) -> Result<u32> {
    use std::io::Read;
    let mut f = fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut h = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            return Ok(h.finalize());
        }
        h.update(&buf[..n]);
    }
}

/// A libtorch error as one line naming `path` (its C++ backtrace left out).
pub fn torch_error(what: &str, path: &Path, e: tch::TchError) -> anyhow::Error {
    let msg = e.to_string();
    let first = msg.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    anyhow!("cannot {what} {}: {}", path.display(), first.trim())
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
    // Each moment as a tensor of its parameter's shape, as when libtorch held them.
    let n = &opt.nets;
    let adams = [
        Some((&opt.q1, &n.q1)),
        opt.q2.as_ref().zip(n.q2.as_ref()),
        Some((&opt.policy, &n.policy.net)),
    ];
    for (a, adam) in adams.iter().enumerate() {
        if let Some((adam, net)) = adam {
            let shapes = net.shapes();
            for (j, (m, v2)) in adam.m.iter().zip(&adam.v).enumerate() {
                let t = |x: &[f32]| Tensor::from_slice(x).reshape(&shapes[j]);
                v.push((format!("adam{a}.m.{j}"), t(m)));
                v.push((format!("adam{a}.v.{j}"), t(v2)));
            }
        }
    }
    v
}

/// Write a checkpoint into `dir` (the run's `checkpoint/`): a new folder beside it, synced and
/// verified (every file's length and checksum recorded in `meta.json`, written last), then
/// swapped in by renames; the previous checkpoint is kept as `checkpoint.old/` so that a
/// newest one found damaged later can be passed over. A crash at any moment leaves the
/// previous checkpoint or the new one whole. Every error names its path; libtorch's writer is
/// called through its fallible form, so a full disk is an error, never an abort.
pub fn save(
    dir: &Path,
    meta: &mut Meta,
    opt: &Optimizer,
    buffers: &[&ReplayBuffer],
    extra: Extra,
) -> Result<()> {
    let result = write_and_swap(dir, meta, opt, buffers, extra);
    if result.is_err() {
        // A failed write (a full disk) leaves no half-written folder behind; the previous
        // checkpoint is untouched.
        let _ = fs::remove_dir_all(sibling(dir, "new"));
    }
    result
}

fn write_and_swap(
    dir: &Path,
    meta: &mut Meta,
    opt: &Optimizer,
    buffers: &[&ReplayBuffer],
    extra: Extra,
) -> Result<()> {
    let new = sibling(dir, "new");
    let old = sibling(dir, "old");
    if new.exists() {
        fs::remove_dir_all(&new).with_context(|| format!("cannot remove {}", new.display()))?;
    }
    fs::create_dir_all(&new).with_context(|| format!("cannot create {}", new.display()))?;
    let mut tensors = named_tensors(opt);
    tensors.extend(extra);
    let refs: Vec<(&str, &Tensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let tensors_pt = new.join("tensors.pt");
    crate::fault::check("checkpoint", &tensors_pt)?;
    // Serialised in memory, then written by Rust: libtorch's file writer throws from a
    // destructor when the disk fills, which aborts the process (exit 134).
    let mut bytes = Vec::new();
    Tensor::save_multi_to_stream(&refs, &mut bytes)
        .map_err(|e| torch_error("serialise the tensors for", &tensors_pt, e))?;
    let write = || -> std::io::Result<()> {
        let mut f = fs::File::create(&tensors_pt)?;
        f.write_all(&bytes)?;
        f.sync_all()
    };
    write().with_context(|| format!("cannot write {}", tensors_pt.display()))?;
    drop(bytes);
    for (k, buffer) in buffers.iter().enumerate() {
        let path = new.join(replay_file(k));
        let write = || -> std::io::Result<()> {
            let mut f = std::io::BufWriter::new(fs::File::create(&path)?);
            buffer.write_to(&mut f)?;
            f.flush()?;
            f.get_ref().sync_all()
        };
        write().with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Ok(secs) = std::env::var("MPG_TEST_CHECKPOINT_PAUSE_S") {
        // Test-only hook: hold the process inside a checkpoint write so a test can kill it there.
        std::thread::sleep(std::time::Duration::from_secs_f64(
            secs.parse().unwrap_or(0.0),
        ));
    }
    // Lengths and checksums of what is on disk (read back), so a file damaged on its way
    // there is caught now, while the previous checkpoint is still in place.
    let files: Vec<String> = std::iter::once("tensors.pt".to_string())
        .chain((0..buffers.len()).map(replay_file))
        .collect();
    let mut lens = Vec::new();
    meta.checksums.clear();
    for f in &files {
        let path = new.join(f);
        lens.push(crate::run_dir::file_len(&path));
        meta.checksums.insert(f.clone(), file_crc(&path)?);
    }
    meta.format = FORMAT;
    meta.tensors_len = lens[0];
    meta.replay_len = lens[1];
    meta.more_replay_lens = lens[2..].to_vec();
    let meta_path = new.join("meta.json");
    crate::run_dir::write_atomic(&meta_path, &meta.to_json()?)?;
    sync_file(&new)?;
    // Complete and verified before the previous checkpoint is touched.
    load_meta(&new).context("the checkpoint just written does not verify")?;
    if dir.exists() {
        if old.exists() {
            fs::remove_dir_all(&old).with_context(|| format!("cannot remove {}", old.display()))?;
        }
        fs::rename(dir, &old).with_context(|| format!("cannot rename {}", dir.display()))?;
    }
    fs::rename(&new, dir).with_context(|| format!("cannot rename {}", new.display()))?;
    if let Some(parent) = dir.parent() {
        sync_file(parent)?;
    }
    Ok(())
}

/// fsync a file or folder, naming it on error.
fn sync_file(path: &Path) -> Result<()> {
    fs::File::open(path)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot sync {}", path.display()))
}

fn sibling(dir: &Path, tag: &str) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.with_file_name(format!("{name}.{tag}"))
}

/// A checkpoint that verified, and why any newer one was passed over.
#[derive(Debug)]
pub struct Found {
    pub dir: PathBuf,
    pub meta: Meta,
    /// Set when the newest checkpoint was damaged and the previous one is used: what was wrong.
    pub fallback: Option<String>,
}

/// The newest checkpoint of `dir` (the run's `checkpoint/`) that verifies: `checkpoint/`, else
/// the previous one `checkpoint.old/` (also where the newest is after a crash between the two
/// renames of [`save`]). `None` when there is neither (the run stopped before its first
/// checkpoint; a half-written `checkpoint.new/` is never used); an error naming each damaged
/// file when neither verifies.
pub fn find(dir: &Path) -> Result<Option<Found>> {
    let candidates: Vec<PathBuf> = [dir.to_path_buf(), sibling(dir, "old")]
        .into_iter()
        .filter(|d| fs::symlink_metadata(d).is_ok())
        .collect();
    if candidates.is_empty() {
        return Ok(None);
    }
    let mut problems = Vec::new();
    for c in candidates {
        match load_meta(&c) {
            Ok(meta) => {
                let fallback = (!problems.is_empty()).then(|| problems.join("; "));
                return Ok(Some(Found {
                    dir: c,
                    meta,
                    fallback,
                }));
            }
            Err(e) => problems.push(format!("{e:#}")),
        }
    }
    bail!("no usable checkpoint: {}", problems.join("; "))
}

/// Read a checkpoint's meta and verify its files: present, of the recorded lengths and
/// checksums. Every error names the file.
pub fn load_meta(dir: &Path) -> Result<Meta> {
    let meta_path = dir.join("meta.json");
    let bytes = match fs::read(&meta_path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("{} is missing", meta_path.display())
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", meta_path.display())),
    };
    let meta: Meta = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is damaged (not a checkpoint meta)", meta_path.display()))?;
    if meta.format != FORMAT {
        bail!(
            "{}: checkpoint format {} (this build reads {FORMAT})",
            meta_path.display(),
            meta.format
        );
    }
    if meta.meta_crc.is_none() || meta.to_json()? != bytes {
        bail!("{} is damaged (checksum mismatch)", meta_path.display());
    }
    let files = [
        ("tensors.pt".to_string(), meta.tensors_len),
        (replay_file(0), meta.replay_len),
    ]
    .into_iter()
    .chain((meta.more_replay_lens.iter().enumerate()).map(|(k, &len)| (replay_file(k + 1), len)));
    for (file, want) in files {
        let path = dir.join(&file);
        let got = fs::metadata(&path)
            .with_context(|| format!("{} is missing", path.display()))?
            .len();
        if got != want {
            bail!(
                "{} is {got} bytes, the checkpoint says {want} (truncated?)",
                path.display()
            );
        }
        let Some(&want_crc) = meta.checksums.get(&file) else {
            bail!("{}: no checksum for {file}", meta_path.display());
        };
        if file_crc(&path)? != want_crc {
            bail!("{} is damaged (checksum mismatch)", path.display());
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
    let path = dir.join("tensors.pt");
    let mut loaded = Tensor::load_multi(&path).map_err(|e| torch_error("read", &path, e))?;
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
            let path = dir.join(replay_file(k));
            let mut f = std::io::BufReader::new(
                fs::File::open(&path).with_context(|| format!("cannot read {}", path.display()))?,
            );
            ReplayBuffer::read_from(&mut f).with_context(|| format!("{}", path.display()))
        })
        .collect::<Result<Vec<_>>>()?;
    if meta.adam_steps.len() != 3 {
        bail!("{}: bad optimiser counts", dir.display());
    }
    let n_params = opt.nets.num_tensors();
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
                adam.m[j] = values(&loaded[k].1);
                adam.v[j] = values(&loaded[k + 1].1);
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

/// The f32 values of a checkpoint's tensor, row-major.
fn values(t: &Tensor) -> Vec<f32> {
    mpg_algos::fast::values(&t.to_kind(tch::Kind::Float))
}
