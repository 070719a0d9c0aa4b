//! Which cells of the matrix this invocation runs: all, one (`--index I`, or `--index env` for
//! job arrays), a list in a chosen order (`--index I,J,…`), or every N-th (`--shard I/N`). The
//! environment is read only for `--index env`.

use super::matrix::Cell;

/// The environment variables `--index env` reads, in order: Slurm job arrays, then Kubernetes
/// indexed jobs.
pub const INDEX_VARS: [&str; 2] = ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"];

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    All,
    /// One cell, counting from 0.
    Index(usize),
    /// These cells, in this order (the queue the workers of `--jobs` pull from).
    List(Vec<usize>),
    /// Cells `i`, `i + n`, `i + 2n`, …
    Shard {
        i: usize,
        n: usize,
    },
}

/// `--index I` or `--index env`; `env` is called only for the latter.
pub fn parse_index(arg: &str, env: impl Fn(&str) -> Option<String>) -> Result<usize, String> {
    if arg == "env" {
        let (var, value) = INDEX_VARS
            .iter()
            .find_map(|v| env(v).map(|x| (*v, x)))
            .ok_or_else(|| {
                format!(
                    "--index env: none of {} is set (they are set by a Slurm job array or a Kubernetes indexed job)",
                    INDEX_VARS.join(", ")
                )
            })?;
        return value
            .trim()
            .parse()
            .map_err(|_| format!("--index env: {var}={value:?} is not a non-negative integer"));
    }
    arg.parse()
        .map_err(|_| format!("--index {arg}: expected a non-negative integer or 'env'"))
}

/// `--index I,J,…`: cells in the order given (e.g. seeds 3 and 4 of a 12-cell, 5-seed profile:
/// 3,8,…,58,4,9,…,59), each once.
pub fn parse_list(arg: &str) -> Result<Selection, String> {
    let mut v: Vec<usize> = Vec::new();
    for part in arg.split(',') {
        let i: usize = part.trim().parse().map_err(|_| {
            format!(
                "--index {arg}: '{part}' is not a non-negative integer (expected I, I,J,… or 'env')"
            )
        })?;
        if v.contains(&i) {
            return Err(format!("--index {arg}: cell {i} is listed twice"));
        }
        v.push(i);
    }
    Ok(Selection::List(v))
}

/// `--shard I/N` with 0 ≤ I < N.
pub fn parse_shard(arg: &str) -> Result<Selection, String> {
    let bad = || format!("--shard {arg}: expected I/N with 0 ≤ I < N, e.g. 0/4");
    let (i, n) = arg.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok(Selection::Shard { i, n })
}

/// The selected cells: in matrix order, or a list's order.
pub fn select(cells: &[Cell], s: Selection) -> Result<Vec<&Cell>, String> {
    match s {
        Selection::All => Ok(cells.iter().collect()),
        Selection::Index(i) => cells.get(i).map(|c| vec![c]).ok_or_else(|| {
            format!(
                "--index {i}: the matrix has {} cells (0..={})",
                cells.len(),
                cells.len().saturating_sub(1)
            )
        }),
        Selection::List(list) => list
            .iter()
            .map(|&i| {
                cells.get(i).ok_or_else(|| {
                    format!(
                        "--index {i}: the matrix has {} cells (0..={})",
                        cells.len(),
                        cells.len().saturating_sub(1)
                    )
                })
            })
            .collect(),
        Selection::Shard { i, n } => Ok(cells.iter().skip(i).step_by(n).collect()),
    }
}
