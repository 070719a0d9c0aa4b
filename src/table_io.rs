//! Reading users' observation/action tables and writing result tables atomically.

use crate::input_err;
use anyhow::Result;
use std::io::Write;
use std::path::Path;

/// Rows of observations and actions read from a CSV with columns `o0..`, `u0..`
/// (other columns are ignored, except an `o`/`u` column the task does not have).
pub struct ObsActTable {
    pub obs: Vec<f32>,
    pub act: Vec<f32>,
    pub rows: usize,
    /// The file's line of each row, for errors about a row's result.
    pub lines: Vec<usize>,
}

/// Read `o0..o{obs_dim-1}` and `u0..u{act_dim-1}` of `task` from `path`. Every problem is an
/// [`crate::InputError`] naming the file, the line and the column: a missing column, an
/// observation or action column beyond the task's (`u2` for a 2-d action: a file of another
/// task, issue 23), a value that is not a number, not finite, or outside the f32 range.
pub fn read_obs_act(
    path: &Path,
    task: &str,
    obs_dim: usize,
    act_dim: usize,
) -> Result<ObsActTable> {
    let file = path.display();
    let mut rd = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| input_err!("{file}: cannot read: {e}"))?;
    let headers = rd
        .headers()
        .map_err(|e| input_err!("{file}: line 1: {e}"))?
        .clone();
    let names: Vec<String> = (0..obs_dim)
        .map(|i| format!("o{i}"))
        .chain((0..act_dim).map(|i| format!("u{i}")))
        .collect();
    for h in headers.iter().map(str::trim) {
        let extra = ["o", "u"].into_iter().any(|p| {
            h.strip_prefix(p).is_some_and(|k| {
                !k.is_empty()
                    && k.bytes().all(|b| b.is_ascii_digit())
                    && !names.iter().any(|n| n == h)
            })
        });
        if extra {
            return Err(input_err!(
                "{file}: line 1: column '{h}' is not an input of {task}, which reads {} (a file of another task?)",
                names.join(", ")
            ));
        }
    }
    let mut idx = Vec::with_capacity(names.len());
    for name in &names {
        let found: Vec<usize> = headers
            .iter()
            .enumerate()
            .filter(|(_, h)| h.trim() == name)
            .map(|(i, _)| i)
            .collect();
        match found.as_slice() {
            [i] => idx.push(*i),
            [] => {
                return Err(input_err!(
                    "{file}: line 1: missing column '{name}' (needed: {})",
                    names.join(", ")
                ));
            }
            _ => {
                return Err(input_err!(
                    "{file}: line 1: column '{name}' appears more than once"
                ));
            }
        }
    }
    let (mut obs, mut act, mut lines) = (Vec::new(), Vec::new(), Vec::new());
    let mut rows = 0;
    for rec in rd.records() {
        let rec = rec.map_err(|e| input_err!("{file}: {e}"))?;
        let line = rec.position().map_or(rows + 2, |p| p.line() as usize);
        if rec.len() != headers.len() {
            return Err(input_err!(
                "{file}: line {line}: {} fields, the header has {}",
                rec.len(),
                headers.len()
            ));
        }
        for (k, &i) in idx.iter().enumerate() {
            let raw = rec[i].trim();
            let v: f32 = raw.parse().map_err(|_| {
                input_err!(
                    "{file}: line {line}, column '{}': '{raw}' is not a number",
                    names[k]
                )
            })?;
            if !v.is_finite() {
                // The simulators compute in f32: a finite number beyond its range (1e308)
                // is refused for that reason, not as "not finite".
                let wide: f64 = raw.parse().unwrap_or(f64::NAN);
                return Err(if wide.is_finite() {
                    input_err!(
                        "{file}: line {line}, column '{}': {raw} is outside the f32 range (±{:e})",
                        names[k],
                        f32::MAX
                    )
                } else {
                    input_err!(
                        "{file}: line {line}, column '{}': {raw} is not finite",
                        names[k]
                    )
                });
            }
            if k < obs_dim {
                obs.push(v)
            } else {
                act.push(v)
            }
        }
        lines.push(line);
        rows += 1;
    }
    if rows == 0 {
        return Err(input_err!("{file}: no data rows"));
    }
    Ok(ObsActTable {
        obs,
        act,
        rows,
        lines,
    })
}

/// A size argument within `1..=max`, the limit its `--help` documents (issue 23: an absurd
/// size panicked on allocation or grew without bound); zero is refused too, since it would do
/// nothing and report success. Exit 2 naming the argument and the allowed range.
pub fn check_size(arg: &str, value: usize, max: usize) -> Result<()> {
    if value == 0 || value > max {
        return Err(input_err!(
            "{arg} {value} is out of range: allowed 1 to {max}"
        ));
    }
    Ok(())
}

/// Memory still available to programs (`MemAvailable` of /proc/meminfo), in bytes; `None`
/// where it cannot be read (then only the documented limits apply).
pub fn mem_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Refuse (exit 2, naming `what`) work whose up-front memory estimate exceeds half of the
/// available memory: better a clear error now than swapping or the OOM killer later.
pub fn check_memory(what: &str, bytes: u64) -> Result<()> {
    match mem_available() {
        Some(avail) if bytes > avail / 2 => Err(input_err!(
            "{what} needs about {} MB, more than half of the {} MB of memory available",
            bytes / 1_000_000,
            avail / 1_000_000
        )),
        _ => Ok(()),
    }
}

/// Whether `path` is `-`, standard output: the command's summary then goes to standard error
/// so that standard output holds the data alone.
pub fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Print a summary line to standard output, or to standard error when the data goes there.
pub fn say(data_on_stdout: bool, line: std::fmt::Arguments) {
    if data_on_stdout {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
}

/// Refuse, before any work, an output `flag` names that cannot be written (a folder, a
/// missing or read-only parent folder): exit 2, naming the flag and the path
/// (docs/reliability.md, "Outputs").
pub fn check_output(flag: &str, path: &Path) -> Result<()> {
    mpg_runner::output::check_writable(path).map_err(|e| input_err!("{flag}: {e:#}"))
}

/// Write an output file whole or not at all, never replacing what is not a regular file
/// (`mpg_runner::output`: a symlink's target is written, a FIFO or device is streamed).
pub fn write_atomic(path: &Path, fill: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    mpg_runner::output::write_output(path, fill)
}
