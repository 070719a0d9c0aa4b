//! `mpg report`: Table I, Fig. 4–6, the tracking metrics and report.md from run folders (spec
//! §5, D12; docs/report.md). Reads only the folders' plain files; a folder that is malformed or
//! partial is named and left out, or, with `require_complete`, stops the report.

pub mod claims;
pub mod curves;
pub mod figures;
pub mod html;
pub mod load;
pub mod markdown;
pub mod readme;
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
    /// A README whose block between the markers of `readme_block` ([`readme::markers`]) is
    /// replaced by the report's summary.
    pub readme: Option<PathBuf>,
    /// The name of that block (`quick`, `paper`): one README holds several reports' blocks.
    pub readme_block: String,
    /// The runs of the matrix these runs belong to (`--profile`): the report lists those not
    /// yet here by cell, so that a matrix committed run by run reads as incomplete.
    pub expected: Option<Expected>,
    /// Another reading of the matrix (the `quick` profile's shorter runs): its claims are
    /// judged by the same rules and their verdicts listed beside these.
    pub beside: Option<PathBuf>,
}

/// A benchmark profile's matrix as the report compares it with the runs found.
pub struct Expected {
    /// The profile as the user named it.
    pub profile: String,
    /// Every run of the matrix: its cell and seed.
    pub runs: Vec<(GroupKey, u64)>,
}

/// How far the runs found have got through an [`Expected`] matrix.
pub struct Progress {
    /// The cells with runs still missing, in the paper's order: (cell, runs here, seeds missing).
    pub incomplete: Vec<(GroupKey, usize, Vec<u64>)>,
    /// Runs found that are not in the matrix (another cell or seed).
    pub outside: usize,
    /// The training time the missing runs will take: per incomplete cell, the median time of
    /// its runs here times the runs it misses.
    pub remaining_s: f64,
    /// Missing runs in cells with no run here, whose time cannot be estimated from this matrix.
    pub unestimated: usize,
}

impl Expected {
    pub fn progress(&self, loaded: &load::Loaded) -> Progress {
        use std::collections::BTreeSet;
        let here: BTreeSet<(&GroupKey, u64)> =
            loaded.runs.iter().map(|r| (&r.key, r.seed())).collect();
        let wanted: BTreeSet<(&GroupKey, u64)> = self.runs.iter().map(|(k, s)| (k, *s)).collect();
        let mut by_cell: BTreeMap<GroupKey, (usize, Vec<u64>)> = BTreeMap::new();
        for (key, seed) in &self.runs {
            let e = by_cell.entry(key.clone()).or_default();
            if here.contains(&(key, *seed)) {
                e.0 += 1;
            } else {
                e.1.push(*seed);
            }
        }
        let incomplete: Vec<(GroupKey, usize, Vec<u64>)> = by_cell
            .into_iter()
            .filter(|(_, (_, missing))| !missing.is_empty())
            .map(|(k, (n, missing))| (k, n, missing))
            .collect();
        let groups = loaded.groups();
        let (mut remaining_s, mut unestimated) = (0.0, 0);
        for (key, _, missing) in &incomplete {
            match groups.get(key) {
                Some(rs) => {
                    remaining_s += stats::median(&load::sorted_walls(rs)) * missing.len() as f64;
                }
                None => unestimated += missing.len(),
            }
        }
        Progress {
            incomplete,
            remaining_s,
            unestimated,
            outside: (loaded.runs.iter())
                .filter(|r| !wanted.contains(&(&r.key, r.seed())))
                .count(),
        }
    }
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
    if opts.readme.is_some() {
        readme::check_name(&opts.readme_block)
            .map_err(|e| InputProblem(format!("--readme-block {e}")))?;
    }
    let out = opts.out.clone().unwrap_or_else(|| default_out(&opts.runs));
    // a report written into a run folder would also hide that run from its own report (the
    // report folder is skipped when looking for runs); the default for one run folder,
    // `<run>/report`, is the one place allowed inside a run (that run is `--runs` itself)
    if let Some(run) = enclosing_run_folder(&out)
        && !(out == default_out(&opts.runs) && same_path(&run, &opts.runs))
    {
        return Err(InputProblem(format!(
            "--out {}: inside the run folder {}; choose a folder outside every run folder",
            out.display(),
            run.display()
        ))
        .into());
    }
    let loaded = load_runs(&opts.runs, &out);
    refuse_conflicts("--runs", &opts.runs, &loaded)?;
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
    let beside_loaded = opts.beside.as_ref().map(|d| load_runs(d, &out));
    if let (Some(d), Some(l)) = (&opts.beside, &beside_loaded) {
        refuse_conflicts("--beside", d, l)?;
        if l.runs.is_empty() {
            return Err(InputProblem(format!(
                "--beside: no complete run folder under {}{}",
                d.display(),
                listing(&l.rejected)
            ))
            .into());
        }
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
    if let (Some(d), Some(l)) = (&opts.fig6_runs, &fig6_loaded) {
        refuse_conflicts("--fig6-runs", d, l)?;
    }
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
    let iterations = loaded.iterations();
    let beside = match (&opts.beside, &beside_loaded) {
        (Some(d), Some(l)) => {
            let g = l.groups();
            // claim 5 reads --fig6-runs for both readings when given, else each its own runs
            let fig6 = if opts.fig6_runs.is_some() {
                &fig6_groups
            } else {
                &g
            };
            Some(claims::Beside {
                dir: d.display().to_string(),
                runs: l.runs.len(),
                iterations: l.iterations().unwrap_or(0),
                claims: claims::all(&table1::compute(&g, opts.goals), &g, fig6, opts.goals),
            })
        }
        _ => None,
    };
    let mut md = markdown::report(&opts.runs, &loaded, &t1, &figs);
    let progress = opts.expected.as_ref().map(|e| (e, e.progress(&loaded)));
    if let Some((e, p)) = &progress {
        let section = markdown::incomplete(e, p);
        // the matrix's state goes first, after the runs used
        match md.find("## Missing or failed runs\n") {
            Some(at) => md.insert_str(at, &section),
            None => md += &section,
        }
    }
    let section = claims::markdown(
        &claims,
        loaded.runs.len(),
        iterations,
        notes.as_deref(),
        beside.as_ref(),
    );
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
    let html = html::page("MPG benchmark report", &md, &out)?;
    write("report.html", html.as_bytes())?;
    files.extend(figs.iter().map(|f| f.file.clone()));
    if let Some(path) = &opts.readme {
        let fig_files: Vec<String> = figs.iter().map(|f| f.file.clone()).collect();
        let from = path.parent().unwrap_or(Path::new(""));
        let report = readme::relative(&out, from);
        let notes_name = opts.notes.as_ref().map(|n| readme::relative(n, from));
        let block = readme::block(&readme::Block {
            name: &opts.readme_block,
            report: &report,
            runs: loaded.runs.len(),
            cells: groups.len(),
            table1: &t1.markdown(),
            claims: &claims::summary_table(&claims, loaded.runs.len(), beside.as_ref()),
            notes: notes_name.as_deref(),
            figures: &fig_files,
            expected: progress
                .as_ref()
                .map(|(e, p)| (e.runs.len(), p.incomplete.len())),
        });
        let text = std::fs::read_to_string(path).map_err(|e| {
            InputProblem(format!("--readme {}: cannot be read: {e}", path.display()))
        })?;
        let new = readme::splice(&text, &opts.readme_block, &block)
            .map_err(|e| InputProblem(format!("--readme {}: {e}", path.display())))?;
        write_atomic(path, new.as_bytes())?;
    }
    Ok(Summary {
        out,
        runs: loaded.runs.len(),
        cells: groups.len(),
        rejected: loaded.rejected,
        files,
    })
}

/// Runs of one cell with different configs are never pooled: an input error naming each pair.
fn refuse_conflicts(flag: &str, dir: &Path, loaded: &load::Loaded) -> Result<()> {
    if loaded.conflicts.is_empty() {
        return Ok(());
    }
    Err(InputProblem(format!(
        "{flag} {}: {} pair(s) of runs of one cell differ in more than the seed; report them separately (another --runs folder) or remove one:{}",
        dir.display(),
        loaded.conflicts.len(),
        loaded
            .conflicts
            .iter()
            .map(|c| format!("\n  {c}"))
            .collect::<String>()
    ))
    .into())
}

/// The run folder `path` is (or lies inside), if any: the nearest existing folder at or above
/// it, resolved, and that folder's parents, holding a run's marker file.
pub fn enclosing_run_folder(path: &Path) -> Option<PathBuf> {
    let abs = std::path::absolute(path).ok()?;
    let existing = abs.ancestors().find(|a| a.exists())?.canonicalize().ok()?;
    existing
        .ancestors()
        .find(|a| load::is_run_folder(a))
        .map(Path::to_path_buf)
}

fn same_path(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The report folder a run folder's report goes to by default.
pub fn default_out(runs: &Path) -> PathBuf {
    runs.join("report")
}
