//! Finding run folders under a directory and reading them whole or not at all: a folder that is
//! malformed or partial is named with its reason and left out of every number (never averaged
//! silently). Only the plain files are read (docs/run-folder.md), never `checkpoint/`.

use mpg_algos::Algo;
use mpg_envs::Task;
use mpg_runner::config::RunConfig;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How deep under `--runs` run folders are looked for (a matrix, or folders gathered from
/// several machines side by side, sit one or two levels down).
pub const MAX_DEPTH: usize = 6;

/// A CSV file read whole: every row has the header's width; a value is `None` only where the
/// column may be empty.
#[derive(Clone, Debug, Default)]
pub struct Csv {
    pub header: Vec<String>,
    pub rows: Vec<Vec<Option<f64>>>,
}

impl Csv {
    pub fn index(&self, column: &str) -> Option<usize> {
        self.header.iter().position(|h| h == column)
    }

    /// A column's values (`None` where empty); an empty list when the column is absent.
    pub fn column(&self, column: &str) -> Vec<Option<f64>> {
        match self.index(column) {
            Some(i) => self.rows.iter().map(|r| r[i]).collect(),
            None => Vec::new(),
        }
    }

    /// A column every row fills (the required columns, validated on reading).
    pub fn values(&self, column: &str) -> Vec<f64> {
        self.column(column).into_iter().flatten().collect()
    }
}

/// The (task, algorithm, variant) cell of the matrix a run belongs to: the unit of Table I's
/// rows and of the figures' lines.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GroupKey {
    pub task: Task,
    pub algo: Algo,
    /// The folder name's part between the algorithm and `__s<seed>` (`None` for plain runs).
    pub variant: Option<String>,
}

impl GroupKey {
    fn order(&self) -> (usize, usize, Option<&String>) {
        let t = Task::ALL.iter().position(|&t| t == self.task).unwrap_or(0);
        let a = Algo::ALL.iter().position(|&a| a == self.algo).unwrap_or(0);
        (t, a, self.variant.as_ref())
    }

    /// The algorithm as the paper names it, with the variant: "MPG-v2", "TD3 [q1]".
    pub fn label(&self) -> String {
        let name = algo_label(self.algo);
        match &self.variant {
            Some(v) => format!("{name} [{v}]"),
            None => name.to_string(),
        }
    }
}

impl PartialOrd for GroupKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for GroupKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.order().cmp(&other.order())
    }
}

/// The paper's names (Fig. 4–6, Table I).
pub fn algo_label(a: Algo) -> &'static str {
    match a {
        Algo::MpgV1 => "MPG-v1",
        Algo::MpgV2 => "MPG-v2",
        Algo::Ndpg => "n-step DPG",
        Algo::Nadp => "n-step ADP",
        Algo::Td3 => "TD3",
        Algo::Sac => "SAC",
    }
}

pub fn task_label(t: Task) -> &'static str {
    match t {
        Task::PathTracking => "Path tracking",
        Task::InvertedPendulum => "Inverted pendulum",
    }
}

/// One complete, valid run folder.
#[derive(Clone, Debug)]
pub struct Run {
    /// The folder relative to `--runs` ("." for `--runs` itself).
    pub name: String,
    pub dir: PathBuf,
    pub config: RunConfig,
    /// config.toml as a table: the configuration summary compares runs key by key.
    pub raw_config: toml::Table,
    pub key: GroupKey,
    /// Learners of the asynchronous trainer (`[async] learners`), 1 for the synchronous one.
    pub learners: usize,
    pub eval: Csv,
    pub train: Csv,
    /// One row per applied gradient (the asynchronous trainer), when the run wrote it.
    pub gradients: Option<Csv>,
    /// provenance.toml's `[[session]]` tables, one per start or resume.
    pub sessions: Vec<toml::Table>,
}

impl Run {
    pub fn seed(&self) -> u64 {
        self.config.seed
    }
    /// Seconds of training at the end of the run (the later of the two CSVs' last `wall_s`).
    pub fn wall_s(&self) -> f64 {
        let last = |c: &Csv| c.values("wall_s").last().copied().unwrap_or(0.0);
        last(&self.eval).max(last(&self.train))
    }
}

/// The runs' training times ([`Run::wall_s`]), sorted: a cell's median, shortest and longest.
pub fn sorted_walls(runs: &[&Run]) -> Vec<f64> {
    super::stats::sorted(&runs.iter().map(|r| r.wall_s()).collect::<Vec<_>>())
}

/// A folder that looked like a run but is left out, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejected {
    pub name: String,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct Loaded {
    pub runs: Vec<Run>,
    pub rejected: Vec<Rejected>,
    /// Runs of one cell whose configs differ, one line per pair: the report refuses them.
    pub conflicts: Vec<String>,
}

impl Loaded {
    /// The runs by matrix cell, in the paper's order of tasks and algorithms.
    pub fn groups(&self) -> BTreeMap<GroupKey, Vec<&Run>> {
        let mut g: BTreeMap<GroupKey, Vec<&Run>> = BTreeMap::new();
        for r in &self.runs {
            g.entry(r.key.clone()).or_default().push(r);
        }
        g
    }

    /// The longest run's iterations (`None` without runs).
    pub fn iterations(&self) -> Option<u64> {
        self.runs.iter().map(|r| r.config.iterations).max()
    }
}

/// Whether `dir` holds any of a run's marker files (config.toml, eval.csv, status).
pub fn is_run_folder(dir: &Path) -> bool {
    ["config.toml", "eval.csv", "status"]
        .iter()
        .any(|f| dir.join(f).is_file())
}

/// Every folder under `root` (itself included, down to [`MAX_DEPTH`]) holding any of a run's
/// marker files, except `skip` (the report's own folder) and `checkpoint/` folders.
pub fn find_run_folders(root: &Path, skip: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, skip: &Path, depth: usize, out: &mut Vec<PathBuf>) {
        if dir == skip {
            return;
        }
        if is_run_folder(dir) {
            out.push(dir.to_path_buf());
            return; // run folders do not nest
        }
        if depth == MAX_DEPTH {
            return;
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut subdirs: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n != "checkpoint"))
            .collect();
        subdirs.sort();
        for d in subdirs {
            walk(&d, skip, depth + 1, out);
        }
    }
    let mut out = Vec::new();
    walk(root, skip, 0, &mut out);
    out
}

/// Read every run folder under `root`. Runs of one cell (task, algorithm, variant) must share
/// their config but for the seed and the intra-op threads (issue 23): two that differ are a
/// conflict naming both folders and the keys, never pooled into one Table I cell and never
/// dropped as duplicates. A repeated seed with the same config keeps the first in path order
/// (merged folders from several machines may repeat a cell).
pub fn load_runs(root: &Path, skip: &Path) -> Loaded {
    let mut loaded = Loaded::default();
    let mut first_of_cell: BTreeMap<GroupKey, usize> = BTreeMap::new();
    let mut seen: BTreeMap<(GroupKey, u64), String> = BTreeMap::new();
    for dir in find_run_folders(root, skip) {
        let name = match dir.strip_prefix(root) {
            Ok(p) if p.as_os_str().is_empty() => ".".to_string(),
            Ok(p) => p.display().to_string(),
            Err(_) => dir.display().to_string(),
        };
        let run = match read_run(&dir, &name) {
            Ok(run) => run,
            Err(reason) => {
                loaded.rejected.push(Rejected { name, reason });
                continue;
            }
        };
        if let Some(&i) = first_of_cell.get(&run.key) {
            let first = &loaded.runs[i];
            let keys = differing_keys(&cell_config(&first.config), &cell_config(&run.config));
            if !keys.is_empty() {
                loaded.conflicts.push(format!(
                    "{} and {} are runs of one cell ({} / {}) with different configs (differ in: {})",
                    first.name,
                    run.name,
                    task_label(run.key.task),
                    run.key.label(),
                    keys.join(", ")
                ));
                continue;
            }
        }
        let k = (run.key.clone(), run.seed());
        if let Some(first) = seen.get(&k) {
            loaded.rejected.push(Rejected {
                name,
                reason: format!(
                    "duplicate of {first} (same task, algorithm, variant, seed and config)"
                ),
            });
            continue;
        }
        seen.insert(k, name);
        first_of_cell
            .entry(run.key.clone())
            .or_insert(loaded.runs.len());
        loaded.runs.push(run);
    }
    loaded
}

/// A run's config as the runs of one cell compare it: without the seed and the intra-op
/// threads (`mpg bench --jobs` sets those per invocation; docs/bench.md).
fn cell_config(cfg: &RunConfig) -> RunConfig {
    let mut c = cfg.clone();
    c.seed = 0;
    c.threads = 1;
    c
}

/// The dotted keys whose values differ between two typed configs (compared as the typed
/// config serialises, so a key a later version writes with its default value is no difference).
pub fn differing_keys(a: &RunConfig, b: &RunConfig) -> Vec<String> {
    fn walk(p: &str, a: Option<&toml::Value>, b: Option<&toml::Value>, out: &mut Vec<String>) {
        match (a, b) {
            (Some(toml::Value::Table(x)), Some(toml::Value::Table(y))) => {
                let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    let path = if p.is_empty() {
                        k.clone()
                    } else {
                        format!("{p}.{k}")
                    };
                    walk(&path, x.get(k), y.get(k), out);
                }
            }
            (x, y) if x == y => {}
            _ => out.push(p.to_string()),
        }
    }
    let (ta, tb) = (toml::Value::try_from(a), toml::Value::try_from(b));
    let mut out = Vec::new();
    match (ta, tb) {
        (Ok(ta), Ok(tb)) => walk("", Some(&ta), Some(&tb), &mut out),
        _ if a != b => out.push("(a config that cannot be compared key by key)".into()),
        _ => {}
    }
    out
}

/// One run folder, or the first reason it cannot be used.
pub fn read_run(dir: &Path, name: &str) -> Result<Run, String> {
    let text = read_text(dir, "config.toml")?;
    let config: RunConfig =
        toml::from_str(&text).map_err(|e| toml_error("config.toml", &text, &e))?;
    let raw_config: toml::Table =
        toml::from_str(&text).map_err(|e| toml_error("config.toml", &text, &e))?;
    // A committed copy of a run (results/quick/runs: config.toml, provenance.toml, eval.csv)
    // has no status file: a complete eval.csv (checked below) then shows it finished.
    if let Ok(status) = read_text(dir, "status")
        && status.trim() != "finished"
    {
        return Err(format!("status is '{}', not finished", status.trim()));
    }
    let eval = read_csv(
        dir,
        "eval.csv",
        &["iteration", "wall_s", "mean_return"],
        false,
    )?;
    let iters = eval.values("iteration");
    if let Some(k) = iters.windows(2).position(|w| w[1] <= w[0]) {
        return Err(format!(
            "eval.csv row {}: iteration {} does not increase",
            k + 2,
            iters[k + 1]
        ));
    }
    let last = iters.last().copied().unwrap_or(0.0);
    if last != config.iterations as f64 {
        return Err(format!(
            "eval.csv ends at iteration {last} of {} (a partial run)",
            config.iterations
        ));
    }
    // the trainers leave a column empty where an interval has nothing to average (pg_ms
    // without a policy gradient, q2_grad_norm without Q2, …): only the columns used must be full
    // train.csv is optional for the same reason; without it, throughput comes from eval.csv
    // and the policy-gradient times from gradients.csv when present.
    let train = if dir.join("train.csv").exists() {
        read_csv(dir, "train.csv", &["iteration", "wall_s"], true)?
    } else {
        Csv::default()
    };
    let gradients = if dir.join("gradients.csv").exists() {
        Some(read_csv(
            dir,
            "gradients.csv",
            &["iteration", "learner"],
            true,
        )?)
    } else {
        None
    };
    let prov_text = read_text(dir, "provenance.toml")?;
    let prov: toml::Table =
        toml::from_str(&prov_text).map_err(|e| toml_error("provenance.toml", &prov_text, &e))?;
    let sessions: Vec<toml::Table> = prov
        .get("session")
        .and_then(|s| s.as_array())
        .map(|a| a.iter().filter_map(|s| s.as_table().cloned()).collect())
        .unwrap_or_default();
    if sessions.is_empty() {
        return Err("provenance.toml has no [[session]]".into());
    }
    let folder = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let variant = folder_variant(&folder, &config)?;
    let learners = learners(&raw_config);
    Ok(Run {
        name: name.to_string(),
        dir: dir.to_path_buf(),
        key: GroupKey {
            task: config.task,
            algo: config.algo,
            variant,
        },
        config,
        raw_config,
        learners,
        eval,
        train,
        gradients,
        sessions,
    })
}

/// The variant in a bench folder name `<task>__<algo>[__<variant>]__s<seed>`; a name of another
/// form (a plain `mpg train --out` folder) has none. A bench name that contradicts config.toml
/// is an error: which of the two is right cannot be told.
fn folder_variant(folder: &str, cfg: &RunConfig) -> Result<Option<String>, String> {
    let parts: Vec<&str> = folder.split("__").collect();
    let seed = parts
        .last()
        .and_then(|s| s.strip_prefix('s'))
        .and_then(|s| s.parse::<u64>().ok());
    let (Some(seed), true) = (seed, parts.len() >= 3) else {
        return Ok(None);
    };
    if parts[0].parse::<Task>().is_err() || parts[1].parse::<Algo>().is_err() {
        return Ok(None);
    }
    if parts[0] != cfg.task.name() || parts[1] != cfg.algo.name() || seed != cfg.seed {
        return Err(format!(
            "the folder name says {} {} seed {seed} but config.toml says {} {} seed {}",
            parts[0],
            parts[1],
            cfg.task.name(),
            cfg.algo.name(),
            cfg.seed
        ));
    }
    Ok((parts.len() > 3).then(|| parts[2..parts.len() - 1].join("__")))
}

/// `[async] learners` when `trainer = "async"`, else 1. Read from the table so that the count
/// is found whatever the typed config calls the field.
fn learners(raw: &toml::Table) -> usize {
    let is_async = raw.get("trainer").and_then(|t| t.as_str()) == Some("async");
    let n = raw
        .get("async")
        .and_then(|a| a.get("learners"))
        .and_then(|l| l.as_integer());
    match (is_async, n) {
        (true, Some(n)) if n > 0 => n as usize,
        _ => 1,
    }
}

fn read_text(dir: &Path, file: &str) -> Result<String, String> {
    let p = dir.join(file);
    if !p.exists() {
        return Err(format!("{file} missing"));
    }
    std::fs::read_to_string(&p).map_err(|e| format!("{file}: cannot read: {e}"))
}

/// "config.toml line 3: unknown field `x`, expected one of …": toml's message on one line,
/// with the line it points at.
fn toml_error(file: &str, text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("{file} line {line}: {msg}")
        }
        None => format!("{file}: {msg}"),
    }
}

/// Read a CSV whole: the header must hold `required`, every row the header's width, every value
/// a number, the `required` ones finite; the other columns may be empty if `others_may_be_empty`.
pub fn read_csv(
    dir: &Path,
    file: &str,
    required: &[&str],
    others_may_be_empty: bool,
) -> Result<Csv, String> {
    let p = dir.join(file);
    if !p.exists() {
        return Err(format!("{file} missing"));
    }
    let mut rd = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(&p)
        .map_err(|e| format!("{file}: cannot read: {e}"))?;
    let header: Vec<String> = rd
        .headers()
        .map_err(|e| format!("{file}: {e}"))?
        .iter()
        .map(str::to_string)
        .collect();
    if header.iter().all(|h| h.is_empty()) {
        return Err(format!("{file} is empty"));
    }
    if let Some(missing) = required.iter().find(|c| !header.iter().any(|h| h == *c)) {
        return Err(format!("{file} has no column '{missing}'"));
    }
    let mut rows = Vec::new();
    for rec in rd.records() {
        let rec = rec.map_err(|e| format!("{file}: {e}"))?;
        let line = rec.position().map_or(0, |p| p.line());
        if rec.len() != header.len() {
            return Err(format!(
                "{file} line {line}: {} fields, the header has {} (a ragged row)",
                rec.len(),
                header.len()
            ));
        }
        let mut row = Vec::with_capacity(header.len());
        for (h, v) in header.iter().zip(rec.iter()) {
            let v = v.trim();
            if v.is_empty() && others_may_be_empty && !required.contains(&h.as_str()) {
                row.push(None);
                continue;
            }
            let x: f64 = v
                .parse()
                .map_err(|_| format!("{file} line {line}, column {h}: '{v}' is not a number"))?;
            if required.contains(&h.as_str()) && !x.is_finite() {
                return Err(format!(
                    "{file} line {line}, column {h}: '{v}' is not a finite number"
                ));
            }
            row.push(Some(x));
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(format!("{file} has no rows"));
    }
    Ok(Csv { header, rows })
}
