//! The benchmark matrix: a profile's cells (task × algorithm × variant × seed) in a stable
//! order, their run-folder names, and each cell's resolved, validated `RunConfig`.

use super::profile::{Profile, ProfileError, Setting};
use mpg_algos::Algo;
use mpg_envs::Task;
use mpg_runner::RunConfig;

/// One run of the matrix.
#[derive(Clone, Debug)]
pub struct Cell {
    /// Position in the profile's stable order, counting from 0 (`mpg bench --index`).
    pub index: usize,
    pub task: Task,
    pub algo: Algo,
    pub variant: Option<String>,
    pub seed: u64,
    pub iterations: u64,
    /// Every override of this cell in the order applied: `[set]`, matching `[[override]]`s,
    /// then the variant's.
    pub settings: Vec<Setting>,
}

impl Cell {
    /// The run folder's name: `<task>__<algo>[__<variant>]__s<seed>`.
    pub fn name(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}__{}__{v}__s{}", self.task, self.algo, self.seed),
            None => format!("{}__{}__s{}", self.task, self.algo, self.seed),
        }
    }

    /// The `--set key=value` overrides of this cell, `threads` last.
    pub fn sets(&self, threads: usize) -> Vec<String> {
        self.settings
            .iter()
            .map(Setting::as_set)
            .chain(std::iter::once(format!("threads={threads}")))
            .collect()
    }

    /// The cell's config, resolved and checked exactly as `mpg train` does (defaults of the
    /// algorithm and task, then the overrides). An error names where in the profile the
    /// offending key was set.
    pub fn resolve(&self, threads: usize) -> Result<RunConfig, String> {
        RunConfig::resolve(
            None,
            Some(self.algo),
            Some(self.task),
            Some(self.seed),
            Some(self.iterations),
            &self.sets(threads),
        )
        .map_err(|e| self.locate_error(&e.0))
    }

    /// Point each line of a config error at the profile entry that caused it.
    fn locate_error(&self, msg: &str) -> String {
        let msg = msg.strip_prefix("(defaults): ").unwrap_or(msg);
        msg.lines()
            .map(|line| {
                // `--set k=v: unknown key …` from an override: name the profile entry.
                for s in &self.settings {
                    if let Some(rest) = line.strip_prefix(&format!("--set {}: ", s.as_set())) {
                        return format!("{}: {} = {}: {rest}", s.origin, s.key, s.value);
                    }
                }
                // `key 'a.b': bad value` or `  a.b: out of range`: the last entry setting it.
                let named = self.settings.iter().rev().find(|s| {
                    line.contains(&format!("key '{}'", s.key))
                        || line.trim_start().starts_with(&format!("{}:", s.key))
                });
                match named {
                    Some(s) => format!("{line} (set in {})", s.origin),
                    None => line.to_string(),
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The matrix in its stable order: tasks, then algorithms (each in the profile's order), then
/// the plain cell followed by each variant that applies, then seeds.
pub fn cells(p: &Profile) -> Vec<Cell> {
    let mut out = Vec::new();
    for &task in &p.tasks {
        for &algo in &p.algos {
            let base: Vec<Setting> = p
                .set
                .iter()
                .cloned()
                .chain(
                    p.overrides
                        .iter()
                        .filter(|o| o.applies(task, algo))
                        .flat_map(|o| o.set.iter().cloned()),
                )
                .collect();
            let mut kinds: Vec<(Option<String>, Vec<Setting>)> = Vec::new();
            if p.include_base {
                kinds.push((None, base.clone()));
            }
            for v in p.variants.iter().filter(|v| v.cells.applies(task, algo)) {
                let mut s = base.clone();
                s.extend(v.cells.set.iter().cloned());
                kinds.push((Some(v.name.clone()), s));
            }
            for (variant, settings) in kinds {
                for &seed in &p.seeds {
                    out.push(Cell {
                        index: out.len(),
                        task,
                        algo,
                        variant: variant.clone(),
                        seed,
                        iterations: p.iterations,
                        settings: settings.clone(),
                    });
                }
            }
        }
    }
    out
}

/// Resolve every cell; on any error, all distinct errors at once, each with the cells it hits.
pub fn validate(
    p: &Profile,
    cells: &[Cell],
    threads: usize,
) -> Result<Vec<RunConfig>, ProfileError> {
    let mut configs = Vec::new();
    let mut errors: Vec<(String, Vec<String>)> = Vec::new();
    for c in cells {
        match c.resolve(threads) {
            Ok(cfg) => configs.push(cfg),
            Err(e) => match errors.iter_mut().find(|(m, _)| *m == e) {
                Some((_, names)) => names.push(c.name()),
                None => errors.push((e, vec![c.name()])),
            },
        }
    }
    if cells.is_empty() {
        return Err(ProfileError(format!(
            "profile {}: the matrix is empty (no variant applies to any task and algorithm)",
            p.path.display()
        )));
    }
    if errors.is_empty() {
        return Ok(configs);
    }
    let bad: usize = errors.iter().map(|(_, n)| n.len()).sum();
    let mut msg = format!(
        "profile {}: {bad} of {} cells have an invalid config:",
        p.path.display(),
        cells.len()
    );
    for (e, names) in &errors {
        let shown = if names.len() > 3 {
            format!("{}, … and {} more", names[..3].join(", "), names.len() - 3)
        } else {
            names.join(", ")
        };
        msg.push_str(&format!(
            "\n  in {shown}:\n    {}",
            e.replace('\n', "\n    ")
        ));
    }
    Err(ProfileError(msg))
}
