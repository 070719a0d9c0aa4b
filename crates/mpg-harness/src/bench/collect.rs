//! `mpg bench --collect DIR`: copies of finished runs meant for git — per run the plain files
//! `mpg report` reads (config.toml, provenance.toml, eval.csv; train.csv and gradients.csv with
//! `--timings`, train.csv with `--train`), never checkpoints or logs (docs/bench.md,
//! "Committed results").

use anyhow::{Result, bail};
use mpg_runner::Status;
use mpg_runner::run_dir::{RunDir, write_atomic};
use std::path::Path;

/// Which files of a run a copy keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// config.toml, provenance.toml, eval.csv: Table I and Fig. 4–5.
    Results,
    /// And train.csv and gradients.csv: Fig. 6's policy-gradient times (the `scaling` profile).
    Timings,
    /// And train.csv: the losses the notes quote for the control runs.
    Train,
}

impl Keep {
    pub fn files(self) -> &'static [&'static str] {
        match self {
            Keep::Results => &["config.toml", "provenance.toml", "eval.csv"],
            Keep::Timings => &[
                "config.toml",
                "provenance.toml",
                "eval.csv",
                "train.csv",
                "gradients.csv",
            ],
            Keep::Train => &["config.toml", "provenance.toml", "eval.csv", "train.csv"],
        }
    }
}

/// Every file name a copy may hold: a copy made again with fewer files loses the others.
const ANY_KEPT: [&str; 5] = [
    "config.toml",
    "provenance.toml",
    "eval.csv",
    "train.csv",
    "gradients.csv",
];

/// What a collection did.
#[derive(Debug, Default, PartialEq)]
pub struct Collected {
    /// Runs copied (new or changed), in the order given.
    pub copied: Vec<String>,
    /// Finished runs whose copy was already the same.
    pub unchanged: usize,
    /// Folders left out: not finished.
    pub unfinished: Vec<String>,
}

/// Copy the finished runs among `runs` (name, folder) into `dest/<name>`, each file written
/// whole ([`write_atomic`]); a copy whose files are all equal is left alone. A finished run
/// missing one of the files is an error naming it, before anything of that run is copied.
pub fn collect(runs: &[(String, RunDir)], dest: &Path, keep: Keep) -> Result<Collected> {
    let mut done = Collected::default();
    for (name, dir) in runs {
        if dir.read_status().as_deref() != Some(Status::Finished.line().as_str()) {
            done.unfinished.push(name.clone());
            continue;
        }
        let mut contents = Vec::new();
        for f in keep.files() {
            let p = dir.root.join(f);
            match std::fs::read(&p) {
                Ok(b) => contents.push((*f, b)),
                Err(e) => bail!(
                    "{}: cannot read ({e}); the run is finished but incomplete",
                    p.display()
                ),
            }
        }
        let to = dest.join(name);
        let same = contents
            .iter()
            .all(|(f, b)| std::fs::read(to.join(f)).is_ok_and(|old| old == *b))
            && ANY_KEPT
                .iter()
                .filter(|f| !keep.files().contains(f))
                .all(|f| !to.join(f).exists());
        if same {
            done.unchanged += 1;
            continue;
        }
        std::fs::create_dir_all(&to)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", to.display()))?;
        for (f, b) in &contents {
            write_atomic(&to.join(f), b)?;
        }
        for f in ANY_KEPT.iter().filter(|f| !keep.files().contains(f)) {
            let p = to.join(f);
            if p.is_file() {
                std::fs::remove_file(&p)
                    .map_err(|e| anyhow::anyhow!("cannot remove {}: {e}", p.display()))?;
            }
        }
        done.copied.push(name.clone());
    }
    Ok(done)
}

/// The run folders directly under `dir` (sorted by name): what `--collect` gathers without a
/// profile.
pub fn folders_under(dir: &Path) -> Result<Vec<(String, RunDir)>> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("--out {}: cannot be read: {e}", dir.display()))?;
    let mut out: Vec<(String, RunDir)> = entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                RunDir::new(e.path()),
            )
        })
        .filter(|(_, d)| crate::report::load::is_run_folder(&d.root))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}
