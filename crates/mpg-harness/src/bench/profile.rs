//! Benchmark profiles: the TOML files under `bench-configs/profiles/` that say which runs make
//! up a benchmark (the matrix task × algorithm × variant × seed) and which config overrides
//! every run gets. Parsed with serde, unknown keys rejected; every value a run sees is checked
//! later by resolving each cell's typed `RunConfig` (matrix.rs), so a profile cannot drift from
//! the config. docs/bench.md documents the format.

use mpg_algos::Algo;
use mpg_envs::Task;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A profile the user must fix (the CLI exits 2): the same kind of error as a bad run config.
pub use mpg_runner::config::ConfigError as ProfileError;

/// One `key = value` config override and where in the profile it was written, so an error can
/// point back to it.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    /// A dotted config key, as `mpg train --set` takes it (`eval.interval`).
    pub key: String,
    pub value: toml::Value,
    /// e.g. `paper.toml [set]`, `paper.toml [[override]] #2`, `paper.toml variant 'q1'`.
    pub origin: String,
}

impl Setting {
    /// The `--set key=value` form that `RunConfig::resolve` takes (the value as TOML).
    pub fn as_set(&self) -> String {
        format!("{}={}", self.key, self.value)
    }
}

/// Overrides for the cells of some tasks and algorithms: an `[[override]]`, or a variant's.
#[derive(Clone, Debug)]
pub struct Override {
    /// Empty: every task.
    pub tasks: Vec<Task>,
    /// Empty: every algorithm.
    pub algos: Vec<Algo>,
    pub set: Vec<Setting>,
}

impl Override {
    pub fn applies(&self, task: Task, algo: Algo) -> bool {
        (self.tasks.is_empty() || self.tasks.contains(&task))
            && (self.algos.is_empty() || self.algos.contains(&algo))
    }
}

/// A named set of overrides that adds cells to the matrix (`[[variants]]`), reported side by
/// side with the profile's own cells.
#[derive(Clone, Debug)]
pub struct Variant {
    /// Part of the run folder's name: lower-case letters, digits and '-'.
    pub name: String,
    pub description: String,
    /// Which cells get the variant, and its overrides (applied after all others).
    pub cells: Override,
}

/// A profile with its `extends` chain merged: everything needed to list the matrix.
#[derive(Clone, Debug)]
pub struct Profile {
    /// The file's stem (`paper`): the default output folder is `results/bench/<name>`.
    pub name: String,
    pub path: PathBuf,
    pub description: String,
    /// Updates per run.
    pub iterations: u64,
    pub tasks: Vec<Task>,
    pub algos: Vec<Algo>,
    pub seeds: Vec<u64>,
    /// Whether the cells without a variant are part of the matrix (default true).
    pub include_base: bool,
    /// `[set]`: overrides of every cell, in order (a later one wins).
    pub set: Vec<Setting>,
    /// `[[override]]`: applied after `[set]`, in file order (parents' first).
    pub overrides: Vec<Override>,
    pub variants: Vec<Variant>,
}

/// Keys the matrix itself sets; a profile's tables may not.
pub const MATRIX_KEYS: [(&str, &str); 5] = [
    ("algo", "[matrix] algos"),
    ("task", "[matrix] tasks"),
    ("seed", "[matrix] seeds"),
    ("iterations", "the top-level key 'iterations'"),
    ("threads", "mpg bench (jobs × threads ≤ cores)"),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    description: Option<String>,
    extends: Option<String>,
    iterations: Option<u64>,
    matrix: Option<MatrixFile>,
    set: Option<toml::Table>,
    #[serde(rename = "override")]
    overrides: Option<Vec<OverrideFile>>,
    variants: Option<Vec<VariantFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MatrixFile {
    tasks: Option<Vec<Task>>,
    algos: Option<Vec<Algo>>,
    seeds: Option<Vec<u64>>,
    include_base: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideFile {
    #[serde(default)]
    tasks: Vec<Task>,
    #[serde(default)]
    algos: Vec<Algo>,
    set: toml::Table,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VariantFile {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    tasks: Vec<Task>,
    #[serde(default)]
    algos: Vec<Algo>,
    set: toml::Table,
}

/// Where a profile given by name is looked for: `bench-configs/profiles/` under the current
/// directory, then under the checkout this binary was built from.
pub fn profile_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from("bench-configs/profiles")];
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench-configs/profiles");
    if let Ok(built) = built.canonicalize()
        && dirs[0].canonicalize().ok() != Some(built.clone())
    {
        dirs.push(built);
    }
    dirs
}

/// The file of profile `p`: a path when it names a file (contains '/' or ends in `.toml`),
/// otherwise `<dir>/<p>.toml` in the first of [`profile_dirs`] that has it.
pub fn locate(p: &str) -> Result<PathBuf, ProfileError> {
    if p.contains('/') || p.ends_with(".toml") {
        let path = PathBuf::from(p);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(ProfileError(format!("profile {p}: no such file")))
        };
    }
    let dirs = profile_dirs();
    if let Some(path) = dirs
        .iter()
        .map(|d| d.join(format!("{p}.toml")))
        .find(|f| f.is_file())
    {
        return Ok(path);
    }
    let mut known: Vec<String> = dirs
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .filter_map(|e| {
            let n = e.ok()?.file_name().into_string().ok()?;
            n.strip_suffix(".toml").map(String::from)
        })
        .collect();
    known.sort();
    known.dedup();
    Err(ProfileError(format!(
        "no profile named '{p}' (looked in {}); known profiles: {}",
        dirs.iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        }
    )))
}

impl Profile {
    /// Load a profile by name or path, merging its `extends` chain, and check its structure.
    pub fn load(p: &str) -> Result<Profile, ProfileError> {
        let path = locate(p)?;
        let mut chain = Vec::new();
        let merged = load_chain(&path, &mut chain)?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| p.to_string());
        finish(merged, name, path)
    }

    /// Parse a profile from text (no `extends`): for tests and for tools that build profiles.
    pub fn parse_text(text: &str, name: &str) -> Result<Profile, ProfileError> {
        let file = parse(text, name)?;
        if file.extends.is_some() {
            return Err(ProfileError(format!(
                "{name}: 'extends' needs a profile file (load it from a file)"
            )));
        }
        let merged = Merged::default().apply(file, name)?;
        finish(merged, name.to_string(), PathBuf::from(name))
    }
}

fn parse(text: &str, label: &str) -> Result<ProfileFile, ProfileError> {
    toml::from_str(text).map_err(|e| ProfileError(format!("{label}: {e}")))
}

/// The profile so far, parents first.
#[derive(Default)]
struct Merged {
    description: Option<String>,
    iterations: Option<u64>,
    tasks: Option<Vec<Task>>,
    algos: Option<Vec<Algo>>,
    seeds: Option<Vec<u64>>,
    include_base: Option<bool>,
    set: Vec<Setting>,
    overrides: Vec<Override>,
    variants: Vec<Variant>,
}

impl Merged {
    /// Lay `f` (a child) over what its parents gave: scalars and matrix lists replace, `[set]`
    /// and `[[override]]` append (so the child's win), a variant replaces its parent's
    /// namesake or is added.
    fn apply(mut self, f: ProfileFile, label: &str) -> Result<Merged, ProfileError> {
        let mut errors = Vec::new();
        if f.description.is_some() {
            self.description = f.description;
        }
        if f.iterations.is_some() {
            self.iterations = f.iterations;
        }
        if let Some(m) = f.matrix {
            self.tasks = m.tasks.or(self.tasks);
            self.algos = m.algos.or(self.algos);
            self.seeds = m.seeds.or(self.seeds);
            self.include_base = m.include_base.or(self.include_base);
        }
        if let Some(set) = f.set {
            self.set
                .extend(settings(&set, &format!("{label} [set]"), &mut errors));
        }
        for (i, o) in f.overrides.unwrap_or_default().into_iter().enumerate() {
            let origin = format!("{label} [[override]] #{}", i + 1);
            self.overrides.push(Override {
                tasks: o.tasks,
                algos: o.algos,
                set: settings(&o.set, &origin, &mut errors),
            });
        }
        let mut named_here: Vec<String> = Vec::new();
        for v in f.variants.unwrap_or_default() {
            let origin = format!("{label} variant '{}'", v.name);
            if v.name.is_empty()
                || !v
                    .name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                || v.name.starts_with('-')
            {
                errors.push(format!(
                    "{label}: variant name '{}': allowed are lower-case letters, digits and '-' (not first)",
                    v.name
                ));
            }
            let variant = Variant {
                cells: Override {
                    tasks: v.tasks,
                    algos: v.algos,
                    set: settings(&v.set, &origin, &mut errors),
                },
                name: v.name,
                description: v.description,
            };
            if named_here.contains(&variant.name) {
                errors.push(format!(
                    "{label}: variant '{}' is listed twice",
                    variant.name
                ));
                continue;
            }
            named_here.push(variant.name.clone());
            match self.variants.iter_mut().find(|w| w.name == variant.name) {
                Some(w) => *w = variant,
                None => self.variants.push(variant),
            }
        }
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(ProfileError(errors.join("\n")))
        }
    }
}

/// A table of overrides as settings: nested tables flattened into dotted keys, so both
/// `"eval.interval" = 3000` and `eval.interval = 3000` (or an `[set.eval]` table) work.
fn settings(t: &toml::Table, origin: &str, errors: &mut Vec<String>) -> Vec<Setting> {
    fn walk(
        t: &toml::Table,
        prefix: &str,
        origin: &str,
        out: &mut Vec<Setting>,
        errors: &mut Vec<String>,
    ) {
        for (k, v) in t {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            if let toml::Value::Table(sub) = v {
                walk(sub, &key, origin, out, errors);
                continue;
            }
            if let Some((_, by)) = MATRIX_KEYS.iter().find(|(m, _)| *m == key) {
                errors.push(format!(
                    "{origin}: key '{key}' cannot be set here: it is set by {by}"
                ));
                continue;
            }
            out.push(Setting {
                key,
                value: v.clone(),
                origin: origin.to_string(),
            });
        }
    }
    let mut out = Vec::new();
    walk(t, "", origin, &mut out, errors);
    out
}

fn load_chain(path: &Path, chain: &mut Vec<PathBuf>) -> Result<Merged, ProfileError> {
    let canon = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    if chain.contains(&canon) {
        return Err(ProfileError(format!(
            "{}: 'extends' forms a cycle ({})",
            path.display(),
            chain
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" → ")
        )));
    }
    chain.push(canon);
    let text = std::fs::read_to_string(path)
        .map_err(|e| ProfileError(format!("{}: cannot read: {e}", path.display())))?;
    let label = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into(),
    );
    let file = parse(&text, &path.display().to_string())?;
    let parent = match &file.extends {
        None => Merged::default(),
        Some(e) => {
            // A name is a sibling file; anything else a path relative to this file.
            let dir = path.parent().unwrap_or(Path::new("."));
            let p = if e.contains('/') || e.ends_with(".toml") {
                dir.join(e)
            } else {
                dir.join(format!("{e}.toml"))
            };
            if !p.is_file() {
                return Err(ProfileError(format!(
                    "{}: extends = \"{e}\": no such profile ({})",
                    path.display(),
                    p.display()
                )));
            }
            load_chain(&p, chain)?
        }
    };
    parent.apply(file, &label)
}

fn finish(m: Merged, name: String, path: PathBuf) -> Result<Profile, ProfileError> {
    let mut errors = Vec::new();
    let label = path.display().to_string();
    let mut need = |what: &str, present: bool| {
        if !present {
            errors.push(format!("{label}: missing {what}"));
        }
    };
    need(
        "the key 'iterations' (updates per run)",
        m.iterations.is_some(),
    );
    need("[matrix] tasks", m.tasks.is_some());
    need("[matrix] algos", m.algos.is_some());
    need("[matrix] seeds", m.seeds.is_some());
    let (tasks, algos, seeds) = (
        m.tasks.unwrap_or_default(),
        m.algos.unwrap_or_default(),
        m.seeds.unwrap_or_default(),
    );
    fn dup<T: PartialEq + std::fmt::Debug>(v: &[T]) -> Option<&T> {
        v.iter()
            .enumerate()
            .find(|(i, x)| v[..*i].contains(x))
            .map(|(_, x)| x)
    }
    for (what, empty, d) in [
        (
            "tasks",
            tasks.is_empty(),
            dup(&tasks).map(|t| t.to_string()),
        ),
        (
            "algos",
            algos.is_empty(),
            dup(&algos).map(|a| a.to_string()),
        ),
        (
            "seeds",
            seeds.is_empty(),
            dup(&seeds).map(|s| s.to_string()),
        ),
    ] {
        if empty && m.iterations.is_some() {
            errors.push(format!("{label}: [matrix] {what}: must not be empty"));
        }
        if let Some(d) = d {
            errors.push(format!("{label}: [matrix] {what}: '{d}' is listed twice"));
        }
    }
    if m.iterations == Some(0) {
        errors.push(format!("{label}: iterations: must be at least 1"));
    }
    let include_base = m.include_base.unwrap_or(true);
    if !include_base && m.variants.is_empty() {
        errors.push(format!(
            "{label}: [matrix] include_base = false needs at least one [[variants]]"
        ));
    }
    if !errors.is_empty() {
        return Err(ProfileError(errors.join("\n")));
    }
    Ok(Profile {
        name,
        path,
        description: m.description.unwrap_or_default(),
        iterations: m.iterations.unwrap_or(1),
        tasks,
        algos,
        seeds,
        include_base,
        set: m.set,
        overrides: m.overrides,
        variants: m.variants,
    })
}

#[cfg(test)]
mod paper_tests {
    use super::*;
    use crate::bench::{cells, validate};
    use mpg_runner::config::TrainerKind;

    /// `paper` (D21) is `paper-async` with the learners emulated: the same cells and every
    /// other setting, the sync trainer, 2 buffers, 51.2 transitions per update, and each cell's
    /// staleness histogram by its paper-era learner count in its config.
    #[test]
    fn paper_profile_emulates_paper_async() {
        let (p, a) = (
            Profile::load("paper").unwrap(),
            Profile::load("paper-async").unwrap(),
        );
        let (pc, ac) = (cells(&p), cells(&a));
        assert_eq!(pc.len(), 60);
        let (pcfg, acfg) = (validate(&p, &pc, 1).unwrap(), validate(&a, &ac, 1).unwrap());
        let authors = mpg_runner::staleness::read_histogram(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../bench-configs/staleness/authors-12-learners.csv"),
        )
        .unwrap();
        for ((c, e), r) in pc.iter().zip(&pcfg).zip(&acfg) {
            assert_eq!(e.trainer, TrainerKind::Sync, "{}", c.name());
            assert_eq!(r.trainer, TrainerKind::Async, "{}", c.name());
            assert_eq!(e.sync.buffers, 2);
            assert_eq!(
                e.sampling.transitions_per_call as f64 / e.sampling.updates_per_call as f64,
                51.2
            );
            let counts = &e.sync.staleness_counts;
            let mean = (counts.iter().enumerate())
                .map(|(d, &n)| d as f64 * n as f64)
                .sum::<f64>()
                / counts.iter().sum::<u64>() as f64;
            // Mean staleness ≈ the cell's learner count (the real trainer's).
            let learners = r.r#async.learners as f64;
            assert!((mean - learners).abs() < 0.1, "{}: mean {mean}", c.name());
            if learners == 12.0 {
                assert_eq!(counts, &authors, "{}", c.name());
            }
            // Everything else as paper-async.
            let mut same = e.clone();
            same.trainer = r.trainer;
            same.sync = r.sync.clone();
            same.sampling = r.sampling.clone();
            assert_eq!(&same, r, "{}", c.name());
        }
    }
}
