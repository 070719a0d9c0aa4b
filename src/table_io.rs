//! Reading users' observation/action tables and writing result tables atomically.

use crate::input_err;
use anyhow::Result;
use std::io::Write;
use std::path::Path;

/// Rows of observations and actions read from a CSV with columns `o0..`, `u0..`
/// (other columns are ignored).
pub struct ObsActTable {
    pub obs: Vec<f32>,
    pub act: Vec<f32>,
    pub rows: usize,
}

/// Read `o0..o{obs_dim-1}` and `u0..u{act_dim-1}` from `path`. Every problem is an
/// [`crate::InputError`] naming the file, the line and the column.
pub fn read_obs_act(path: &Path, obs_dim: usize, act_dim: usize) -> Result<ObsActTable> {
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
    let (mut obs, mut act) = (Vec::new(), Vec::new());
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
                return Err(input_err!(
                    "{file}: line {line}, column '{}': {raw} is not finite",
                    names[k]
                ));
            }
            if k < obs_dim {
                obs.push(v)
            } else {
                act.push(v)
            }
        }
        rows += 1;
    }
    if rows == 0 {
        return Err(input_err!("{file}: no data rows"));
    }
    Ok(ObsActTable { obs, act, rows })
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

/// Write an output file whole or not at all, never replacing what is not a regular file
/// (`mpg_runner::output`: a symlink's target is written, a FIFO or device is streamed).
pub fn write_atomic(path: &Path, fill: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    mpg_runner::output::write_output(path, fill)
}
