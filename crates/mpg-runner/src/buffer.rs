//! The Buffer box of Fig. 2: a replay ring with uniform sampling (spec §3.9, §4).

use mpg_algos::Batch;
use mpg_envs::Rng;
use rand::Rng as _;
use std::io::{self, Read, Write};

/// A FIFO ring of transitions (capacity 500 000 in the paper, spec §4) sampled uniformly with
/// replacement from its own seeded generator (D8). Actions are stored as the behaviour policy
/// produced them, noise included and unclipped (spec §1.1). Its whole state — contents,
/// write position and generator — is serialisable for exact resume.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayBuffer {
    pub capacity: usize,
    pub obs_dim: usize,
    pub act_dim: usize,
    obs: Vec<f32>,
    act: Vec<f32>,
    rew: Vec<f32>,
    next_obs: Vec<f32>,
    done: Vec<f32>,
    /// Next slot to write once full.
    head: usize,
    /// Transitions ever added.
    pub added: u64,
    rng: Rng,
}

impl ReplayBuffer {
    pub fn new(capacity: usize, obs_dim: usize, act_dim: usize, rng: Rng) -> ReplayBuffer {
        assert!(capacity > 0, "replay capacity must be positive");
        ReplayBuffer {
            capacity,
            obs_dim,
            act_dim,
            obs: Vec::new(),
            act: Vec::new(),
            rew: Vec::new(),
            next_obs: Vec::new(),
            done: Vec::new(),
            head: 0,
            added: 0,
            rng,
        }
    }

    pub fn len(&self) -> usize {
        self.rew.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rew.is_empty()
    }

    /// Add one transition; when full, overwrite the oldest.
    pub fn push(&mut self, obs: &[f32], act: &[f32], rew: f32, next_obs: &[f32], done: bool) {
        let (od, ad) = (self.obs_dim, self.act_dim);
        debug_assert!(obs.len() == od && act.len() == ad && next_obs.len() == od);
        if self.len() < self.capacity {
            self.obs.extend_from_slice(obs);
            self.act.extend_from_slice(act);
            self.rew.push(rew);
            self.next_obs.extend_from_slice(next_obs);
            self.done.push(done as u8 as f32);
        } else {
            let i = self.head;
            self.obs[i * od..(i + 1) * od].copy_from_slice(obs);
            self.act[i * ad..(i + 1) * ad].copy_from_slice(act);
            self.rew[i] = rew;
            self.next_obs[i * od..(i + 1) * od].copy_from_slice(next_obs);
            self.done[i] = done as u8 as f32;
            self.head = (i + 1) % self.capacity;
        }
        self.added += 1;
    }

    /// Add a batch of transitions stored row-major.
    pub fn push_many(
        &mut self,
        obs: &[f32],
        act: &[f32],
        rew: &[f32],
        next_obs: &[f32],
        done: &[bool],
    ) {
        let (od, ad) = (self.obs_dim, self.act_dim);
        for i in 0..rew.len() {
            self.push(
                &obs[i * od..(i + 1) * od],
                &act[i * ad..(i + 1) * ad],
                rew[i],
                &next_obs[i * od..(i + 1) * od],
                done[i],
            );
        }
    }

    /// `n` indices uniform over the stored transitions, with replacement.
    pub fn sample_indices(&mut self, n: usize) -> Vec<usize> {
        assert!(!self.is_empty(), "sampling from an empty replay buffer");
        let len = self.len();
        (0..n).map(|_| self.rng.random_range(0..len)).collect()
    }

    /// A minibatch of `n` transitions sampled uniformly with replacement.
    pub fn sample(&mut self, n: usize) -> Batch {
        let idx = self.sample_indices(n);
        self.gather(&idx)
    }

    /// The transitions at `idx`, as a [`Batch`].
    pub fn gather(&self, idx: &[usize]) -> Batch {
        let (od, ad) = (self.obs_dim, self.act_dim);
        let rows = |src: &[f32], d: usize| {
            let mut v = Vec::with_capacity(idx.len() * d);
            for &i in idx {
                v.extend_from_slice(&src[i * d..(i + 1) * d]);
            }
            v
        };
        let col = |src: &[f32]| idx.iter().map(|&i| src[i]).collect::<Vec<_>>();
        Batch {
            obs_dim: od,
            act_dim: ad,
            obs: rows(&self.obs, od),
            act: rows(&self.act, ad),
            rew: col(&self.rew),
            next_obs: rows(&self.next_obs, od),
            done: col(&self.done),
        }
    }

    /// Write the whole state (contents, write position, counters, generator) in a compact
    /// little-endian binary form, for checkpoints.
    pub fn write_to(&self, w: &mut impl Write) -> io::Result<()> {
        w.write_all(MAGIC)?;
        let rng = serde_json::to_vec(&self.rng).map_err(io::Error::other)?;
        for v in [
            self.capacity,
            self.obs_dim,
            self.act_dim,
            self.len(),
            self.head,
            rng.len(),
        ] {
            w.write_all(&(v as u64).to_le_bytes())?;
        }
        w.write_all(&self.added.to_le_bytes())?;
        w.write_all(&rng)?;
        for arr in [&self.obs, &self.act, &self.rew, &self.next_obs, &self.done] {
            for x in arr.iter() {
                w.write_all(&x.to_le_bytes())?;
            }
        }
        Ok(())
    }

    /// Read a buffer written by [`ReplayBuffer::write_to`]; a truncated or foreign file is an
    /// error, never a partial buffer.
    pub fn read_from(r: &mut impl Read) -> io::Result<ReplayBuffer> {
        let bad =
            |m: &str| io::Error::new(io::ErrorKind::InvalidData, format!("replay buffer: {m}"));
        let mut magic = [0u8; 8];
        r.read_exact(&mut magic)?;
        if &magic != MAGIC {
            return Err(bad("not a replay buffer file"));
        }
        let mut u = || -> io::Result<u64> {
            let mut b = [0u8; 8];
            r.read_exact(&mut b)?;
            Ok(u64::from_le_bytes(b))
        };
        let (capacity, od, ad, len, head, rng_len, added) = (
            u()? as usize,
            u()? as usize,
            u()? as usize,
            u()? as usize,
            u()? as usize,
            u()? as usize,
            u()?,
        );
        if len > capacity || head >= capacity.max(1) || rng_len > 1 << 16 {
            return Err(bad("inconsistent header"));
        }
        let mut rng = vec![0u8; rng_len];
        r.read_exact(&mut rng)?;
        let rng: Rng = serde_json::from_slice(&rng).map_err(|e| bad(&e.to_string()))?;
        let mut floats = |n: usize| -> io::Result<Vec<f32>> {
            let mut bytes = vec![0u8; n * 4];
            r.read_exact(&mut bytes)?;
            Ok(bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect())
        };
        let buf = ReplayBuffer {
            capacity,
            obs_dim: od,
            act_dim: ad,
            obs: floats(len * od)?,
            act: floats(len * ad)?,
            rew: floats(len)?,
            next_obs: floats(len * od)?,
            done: floats(len)?,
            head,
            added,
            rng,
        };
        if r.read(&mut [0u8; 1])? != 0 {
            return Err(bad("trailing bytes"));
        }
        Ok(buf)
    }
}

const MAGIC: &[u8; 8] = b"MPGRPLY1";

/// Where an actor's transitions go: a replay buffer (the synchronous trainer) or a chunk that
/// the asynchronous trainer sends to one.
pub trait TransitionSink {
    /// Add transitions stored row-major.
    fn push_many(&mut self, obs: &[f32], act: &[f32], rew: &[f32], next_obs: &[f32], done: &[bool]);
}

impl TransitionSink for ReplayBuffer {
    fn push_many(
        &mut self,
        obs: &[f32],
        act: &[f32],
        rew: &[f32],
        next_obs: &[f32],
        done: &[bool],
    ) {
        ReplayBuffer::push_many(self, obs, act, rew, next_obs, done)
    }
}

/// Transitions of one sampling call, row-major: what an actor sends to a buffer (spec §4).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Transitions {
    pub obs: Vec<f32>,
    pub act: Vec<f32>,
    pub rew: Vec<f32>,
    pub next_obs: Vec<f32>,
    pub done: Vec<bool>,
}

impl Transitions {
    pub fn len(&self) -> usize {
        self.rew.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rew.is_empty()
    }
}

impl TransitionSink for Transitions {
    fn push_many(
        &mut self,
        obs: &[f32],
        act: &[f32],
        rew: &[f32],
        next_obs: &[f32],
        done: &[bool],
    ) {
        self.obs.extend_from_slice(obs);
        self.act.extend_from_slice(act);
        self.rew.extend_from_slice(rew);
        self.next_obs.extend_from_slice(next_obs);
        self.done.extend_from_slice(done);
    }
}

impl ReplayBuffer {
    /// Store a chunk an actor sent.
    pub fn push_transitions(&mut self, t: &Transitions) {
        self.push_many(&t.obs, &t.act, &t.rew, &t.next_obs, &t.done);
    }
}
