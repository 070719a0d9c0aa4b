//! `mpg report`: Table I, Fig. 4–6, the tracking metrics and report.md from run folders (spec
//! §5, D12; docs/report.md). Reads only the folders' plain files; a folder that is malformed or
//! partial is named and left out, or, with `require_complete`, stops the report.

pub mod claims;
pub mod curves;
pub mod figures;
pub mod load;
pub mod markdown;
pub mod stats;
pub mod table1;

use anyhow::{Context, Result};
use load::{GroupKey, Rejected, load_runs};
use mpg_runner::run_dir::write_atomic;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use table1::Goals;

pub struct Options {
    /// A folder of run folders (any depth up to [`load::MAX_DEPTH`]) or one run folder.
    pub runs: PathBuf,
    /// Where the report goes (`<runs>/report` when `None`).
    pub out: Option<PathBuf>,
    /// Any folder left out is an error.
    pub require_complete: bool,
    pub goals: Goals,
    /// Run folders for Fig. 6 and claim 5 (the `scaling` profile's) instead of `runs`.
    pub fig6_runs: Option<PathBuf>,
    /// A markdown file printed under the claims' verdicts (the reasons behind them).
    pub notes: Option<PathBuf>,
}

/// A problem with the input the user must fix (the CLI exits 2).
#[derive(Debug)]
pub struct InputProblem(pub String);

impl std::fmt::Display for InputProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for InputProblem {}

/// What a report used and wrote.
pub struct Summary {
    pub out: PathBuf,
    pub runs: usize,
    pub cells: usize,
    pub rejected: Vec<Rejected>,
    /// Files written, relative to `out`.
    pub files: Vec<String>,
}

fn listing(rejected: &[Rejected]) -> String {
    rejected
        .iter()
        .map(|r| format!("\n  {}: {}", r.name, r.reason))
        .collect()
}

pub fn build(opts: &Options) -> Result<Summary> {
    if !opts.runs.is_dir() {
        return Err(InputProblem(format!("--runs {}: not a folder", opts.runs.display())).into());
    }
    let out = opts.out.clone().unwrap_or_else(|| opts.runs.join("report"));
    let loaded = load_runs(&opts.runs, &out);
    if opts.require_complete && !loaded.rejected.is_empty() {
        return Err(InputProblem(format!(
            "--require-complete: {} run folder(s) under {} are incomplete or malformed:{}",
            loaded.rejected.len(),
            opts.runs.display(),
            listing(&loaded.rejected)
        ))
        .into());
    }
    if loaded.runs.is_empty() {
        return Err(InputProblem(format!(
            "no complete run folder under {} (a run folder holds config.toml, provenance.toml and an eval.csv that reaches its iterations; train.csv and a status of 'finished' when present){}",
            opts.runs.display(),
            listing(&loaded.rejected)
        ))
        .into());
    }
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let groups = loaded.groups();
    // one colour per (algorithm, variant) across all figures; palette index 7 (grey) is the
    // base-score line's
    let mut kinds: Vec<(mpg_algos::Algo, Option<String>)> = Vec::new();
    for k in groups.keys() {
        let kind = (k.algo, k.variant.clone());
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    let color = |k: &GroupKey| {
        let i = kinds
            .iter()
            .position(|(a, v)| *a == k.algo && *v == k.variant)
            .unwrap_or(0);
        if i >= 7 { i + 1 } else { i }
    };
    let t1 = table1::compute(&groups, opts.goals);
    let mut files = Vec::new();
    let mut write = |name: &str, bytes: &[u8]| -> Result<()> {
        write_atomic(&out.join(name), bytes)?;
        files.push(name.to_string());
        Ok(())
    };
    write(
        "table1.md",
        format!("# Table I\n\n{}", t1.markdown()).as_bytes(),
    )?;
    write("table1.csv", &t1.csv()?)?;
    let fig6_loaded = opts.fig6_runs.as_ref().map(|d| load_runs(d, &out));
    if let (Some(d), Some(l)) = (&opts.fig6_runs, &fig6_loaded)
        && l.runs.is_empty()
    {
        return Err(InputProblem(format!(
            "--fig6-runs: no complete run folder under {}{}",
            d.display(),
            listing(&l.rejected)
        ))
        .into());
    }
    // the scaling profile's variants (l1, l2, l4) differ in the learner count only: one line
    // per algorithm across learner counts
    let fig6_groups = match &fig6_loaded {
        None => groups.clone(),
        Some(l) => {
            let mut g: BTreeMap<GroupKey, Vec<&load::Run>> = BTreeMap::new();
            for r in &l.runs {
                let key = GroupKey {
                    variant: None,
                    ..r.key.clone()
                };
                g.entry(key).or_default().push(r);
            }
            g
        }
    };
    let notes =
        match &opts.notes {
            Some(p) => Some(std::fs::read_to_string(p).map_err(|e| {
                InputProblem(format!("--notes {}: cannot be read: {e}", p.display()))
            })?),
            None => None,
        };
    let figs = figures::all(&out, &groups, &fig6_groups, &color)?;
    let claims = claims::all(&t1, &groups, &fig6_groups, opts.goals);
    let iterations = loaded.runs.iter().map(|r| r.config.iterations).max();
    let mut md = markdown::report(&opts.runs, &loaded, &t1, &figs);
    let section = claims::markdown(&claims, loaded.runs.len(), iterations, notes.as_deref());
    // the claims go after Table I, before the figures
    match md.find("## Figures\n") {
        Some(at) => md.insert_str(at, &section),
        None => md += &section,
    }
    if let (Some(d), Some(l)) = (&opts.fig6_runs, &fig6_loaded) {
        md += &format!(
            "\nFig. 6 and claim 5 are drawn from the {} runs under `{}`{}.\n",
            l.runs.len(),
            d.display(),
            if l.rejected.is_empty() {
                String::new()
            } else {
                format!(" ({} folders there left out)", l.rejected.len())
            }
        );
    }
    write("report.md", md.as_bytes())?;
    files.extend(figs.iter().map(|f| f.file.clone()));
    Ok(Summary {
        out,
        runs: loaded.runs.len(),
        cells: groups.len(),
        rejected: loaded.rejected,
        files,
    })
}

/// The report folder a run folder's report goes to by default.
pub fn default_out(runs: &Path) -> PathBuf {
    runs.join("report")
}
