//! Starting and continuing a run (`--resume`): everything is checked first — the folder, the
//! checkpoint (verified, with fallback to the previous one), every config change — and only an
//! accepted start writes anything ([`commit`]). Refusals of the user's request are [`Refused`]
//! (the CLI exits 2); a damaged run folder is an ordinary error (exit 1).

use crate::checkpoint::{self, Found, Meta};
use crate::config::RunConfig;
use crate::run_dir::{RunDir, truncate, write_atomic};
use anyhow::{Context, Result};

/// A request refused before anything was written: the CLI exits 2 (a usage error).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

macro_rules! refuse {
    ($($arg:tt)*) => { return Err(anyhow::Error::new(Refused(format!($($arg)*)))) };
}

/// How a run is started: new or resumed, and the text of this session's `[[session]]` table
/// for `provenance.toml` (written only once the start is accepted).
#[derive(Clone, Debug, Default)]
pub struct Session {
    pub resume: bool,
    pub allow_config_change: bool,
    pub provenance: Option<String>,
}

impl Session {
    /// A session that writes no provenance text (the library's `run` entry points).
    pub fn without_provenance(resume: bool, allow_config_change: bool) -> Session {
        Session {
            resume,
            allow_config_change,
            provenance: None,
        }
    }
}

/// Keys a resumed run cannot change even with `--allow-config-change`: what the checkpoint's
/// state or the CSVs' columns are shaped by.
pub const FIXED_KEYS: [&str; 9] = [
    "algo",
    "task",
    "trainer",
    "seed",
    "eval.episodes",
    "eval.reset",
    "sampling.actor_agents",
    "sampling.buffer_size",
    "async.buffers",
];

/// A start that was checked and may go ahead.
#[derive(Debug)]
pub struct Accepted {
    /// The checkpoint to continue from (`None`: a new run, or one stopped before its first
    /// checkpoint, which starts over).
    pub found: Option<Found>,
    pub resume: bool,
    /// The config keys this resume changes (`key: old → new`).
    pub changed: Vec<String>,
    /// A finished run asked for no more iterations: nothing to do.
    pub finished: bool,
}

impl Accepted {
    /// An error loading the checkpoint into the (changed) config, blamed on the changed keys.
    pub fn explain(&self, e: anyhow::Error) -> anyhow::Error {
        if self.changed.is_empty() {
            e
        } else {
            anyhow::Error::new(Refused(format!(
                "the config change ({}) does not fit the run's checkpoint: {e:#}",
                self.changed.join(", ")
            )))
        }
    }

    pub fn meta(&self) -> Option<&Meta> {
        self.found.as_ref().map(|f| &f.meta)
    }
}

/// Check that `cfg` may start (or continue, `session.resume`) a run in `dir`. Writes nothing.
pub fn check(dir: &RunDir, cfg: &RunConfig, session: &Session) -> Result<Accepted> {
    if !session.resume {
        // Any trace of a run, a damaged checkpoint included, keeps the folder from reuse.
        if dir.config().exists()
            || dir.eval_csv().exists()
            || dir.checkpoint().exists()
            || dir.root.join("checkpoint.old").exists()
        {
            refuse!(
                "{} already holds a run; continue it with --resume, or choose another --out",
                dir.root.display()
            );
        }
        return Ok(Accepted {
            found: None,
            resume: false,
            changed: Vec::new(),
            finished: false,
        });
    }
    if !dir.config().exists() {
        refuse!("{}: not a run folder (no config.toml)", dir.root.display());
    }
    let found = checkpoint::find(&dir.checkpoint())
        .with_context(|| format!("cannot resume {}", dir.root.display()))?;
    let saved: RunConfig = match &found {
        Some(f) => toml::from_str(&f.meta.config)
            .with_context(|| format!("{}: the checkpoint's config", f.dir.display()))?,
        None => {
            let text = std::fs::read_to_string(dir.config())
                .with_context(|| format!("cannot read {}", dir.config().display()))?;
            toml::from_str(&text).with_context(|| format!("{}", dir.config().display()))?
        }
    };
    let changed = diff_keys(&saved, cfg);
    if !changed.is_empty() {
        if !session.allow_config_change {
            refuse!(
                "{}: the config differs from the run's ({}); resume with the run's own config, or pass --allow-config-change",
                dir.root.display(),
                changed.join(", ")
            );
        }
        let fixed: Vec<&String> = (changed.iter())
            .filter(|c| {
                let key = c.split(':').next().unwrap_or("");
                FIXED_KEYS.contains(&key)
            })
            .collect();
        if !fixed.is_empty() {
            refuse!(
                "{}: a resumed run cannot change {} (the checkpoint and the CSVs are shaped by it); start a new run instead",
                dir.root.display(),
                fixed
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    let mut finished = false;
    if let Some(f) = &found {
        if cfg.iterations < f.meta.iteration {
            refuse!(
                "--iterations {} is below the iteration the run's checkpoint holds ({}) in {}",
                cfg.iterations,
                f.meta.iteration,
                dir.root.display()
            );
        }
        finished = cfg.iterations == f.meta.iteration
            && f.meta.evaluated_through == Some(cfg.iterations)
            && dir.read_status().as_deref() == Some("finished");
    }
    Ok(Accepted {
        found,
        resume: true,
        changed,
        finished,
    })
}

/// Write what an accepted start writes, in this order: a damaged newest checkpoint set aside
/// (the previous one put in its place), `config.toml` (new run or changed config),
/// `provenance.toml` (the session and any notes), the CSVs cut back to the checkpoint.
pub fn commit(dir: &RunDir, cfg: &RunConfig, acc: &Accepted, session: &Session) -> Result<()> {
    let mut notes = Vec::new();
    if let Some(f) = &acc.found {
        if let Some(why) = &f.fallback {
            let msg = format!(
                "the newest checkpoint is damaged ({why}); continuing from the previous one, at iteration {}",
                f.meta.iteration
            );
            eprintln!("warning: {msg}");
            notes.push(msg);
            set_damaged_aside(dir, &f.dir)?;
        }
        if !acc.changed.is_empty() {
            notes.push(format!(
                "config changed on resume at iteration {}: {}",
                f.meta.iteration,
                acc.changed.join(", ")
            ));
        }
    }
    if !acc.resume || !acc.changed.is_empty() {
        crate::fault::check("config", &dir.config())?;
        write_atomic(&dir.config(), cfg.to_toml().as_bytes())?;
    }
    let mut prov = String::new();
    if let Some(s) = &session.provenance {
        prov.push_str(s);
    }
    for n in notes {
        prov.push_str(&format!(
            "\n[[note]]\ntext = {:?}\nat = {}\n",
            n,
            crate::run_dir::now_s()
        ));
    }
    if !prov.is_empty() {
        append_provenance(dir, &prov)?;
    }
    match acc.meta() {
        Some(meta) => truncate_csvs(dir, meta),
        None => {
            // A new run, or one stopped before its first checkpoint: it starts over.
            for f in [dir.eval_csv(), dir.train_csv(), dir.gradients_csv()] {
                truncate(&f, 0)?;
            }
            Ok(())
        }
    }
}

/// The previous checkpoint `used` becomes `checkpoint/` again; the damaged newest is kept as
/// `checkpoint.damaged/` for inspection (replacing an earlier one), so that the next
/// checkpoint rotates a good previous one into `checkpoint.old/`.
fn set_damaged_aside(dir: &RunDir, used: &std::path::Path) -> Result<()> {
    let ck = dir.checkpoint();
    if used == ck {
        return Ok(());
    }
    let damaged = dir.root.join("checkpoint.damaged");
    if damaged.exists() {
        std::fs::remove_dir_all(&damaged)
            .with_context(|| format!("cannot remove {}", damaged.display()))?;
    }
    if std::fs::symlink_metadata(&ck).is_ok() {
        std::fs::rename(&ck, &damaged)
            .with_context(|| format!("cannot rename {}", ck.display()))?;
    }
    std::fs::rename(used, &ck).with_context(|| format!("cannot rename {}", used.display()))
}

/// Append `text` to `provenance.toml`, the whole file rewritten atomically.
pub fn append_provenance(dir: &RunDir, text: &str) -> Result<()> {
    let path = dir.provenance();
    let mut all = match std::fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    all.push_str(text);
    crate::fault::check("provenance", &path)?;
    write_atomic(&path, all.as_bytes())
}

/// Cut the CSVs back to their lengths at the checkpoint (rows past it are written again; a
/// partial last row is among them).
pub fn truncate_csvs(dir: &RunDir, meta: &Meta) -> Result<()> {
    truncate(&dir.eval_csv(), meta.eval_csv_len)?;
    truncate(&dir.train_csv(), meta.train_csv_len)?;
    if let Some(len) = meta.gradients_csv_len {
        truncate(&dir.gradients_csv(), len)?;
    }
    Ok(())
}

fn diff_keys(a: &RunConfig, b: &RunConfig) -> Vec<String> {
    let ta = toml::Table::try_from(a).unwrap_or_default();
    let tb = toml::Table::try_from(b).unwrap_or_default();
    let mut out = Vec::new();
    fn walk(p: &str, a: &toml::Table, b: &toml::Table, out: &mut Vec<String>) {
        for (k, va) in a {
            let path = if p.is_empty() {
                k.clone()
            } else {
                format!("{p}.{k}")
            };
            match (va, b.get(k)) {
                (toml::Value::Table(x), Some(toml::Value::Table(y))) => walk(&path, x, y, out),
                (x, Some(y)) if x == y => {}
                (x, y) => out.push(format!(
                    "{path}: {x} → {}",
                    y.map_or("(none)".into(), |v| v.to_string())
                )),
            }
        }
        for k in b.keys().filter(|k| !a.contains_key(*k)) {
            out.push(format!(
                "{}{k}: added",
                if p.is_empty() {
                    String::new()
                } else {
                    format!("{p}.")
                }
            ));
        }
    }
    walk("", &ta, &tb, &mut out);
    out
}
