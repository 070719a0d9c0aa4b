//! Continuing a run (`--resume`): what both trainers check and cut back before they load a
//! checkpoint.

use crate::checkpoint::{self, Meta};
use crate::config::RunConfig;
use crate::run_dir::{RunDir, truncate, write_atomic};
use anyhow::{Context, Result, bail};
use std::path::PathBuf;

/// Start a new run in `dir`, refusing a folder that already holds one; writes `config.toml`.
pub fn start_fresh(dir: &RunDir, cfg: &RunConfig) -> Result<()> {
    if dir.config().exists()
        || dir.eval_csv().exists()
        || checkpoint::locate(&dir.checkpoint()).is_some()
    {
        bail!(
            "{} already holds a run; continue it with --resume, or choose another --out",
            dir.root.display()
        );
    }
    write_atomic(&dir.config(), cfg.to_toml().as_bytes())
}

/// The newest checkpoint of `dir` and its meta, after checking that `cfg` may continue it: the
/// same config, or with `allow_config_change` a changed one (recorded in `provenance.toml`)
/// with the same algorithm, task and trainer. `None` when the run stopped before its first
/// checkpoint: its CSVs are then emptied and it starts over.
pub fn open(
    dir: &RunDir,
    cfg: &RunConfig,
    allow_config_change: bool,
) -> Result<Option<(PathBuf, Meta)>> {
    let Some(ck) = checkpoint::locate(&dir.checkpoint()) else {
        let saved = std::fs::read_to_string(dir.config()).unwrap_or_default();
        if toml::from_str::<RunConfig>(&saved).ok().as_ref() != Some(cfg) && !allow_config_change {
            bail!(
                "{}: the config differs from the run's; resume with the run's own config, or pass --allow-config-change",
                dir.root.display()
            );
        }
        for f in [dir.eval_csv(), dir.train_csv(), dir.gradients_csv()] {
            truncate(&f, 0)?;
        }
        return Ok(None);
    };
    let meta = checkpoint::load_meta(&ck)?;
    let saved: RunConfig = toml::from_str(&meta.config).context("the checkpoint's config")?;
    if &saved != cfg {
        let changed = diff_keys(&saved, cfg);
        if !allow_config_change {
            bail!(
                "{}: the config differs from the run's ({}); resume with the run's own config, or pass --allow-config-change",
                dir.root.display(),
                changed.join(", ")
            );
        }
        if saved.algo != cfg.algo || saved.task != cfg.task || saved.trainer != cfg.trainer {
            bail!(
                "{}: a run cannot change its algorithm, task or trainer",
                dir.root.display()
            );
        }
        append_note(
            dir,
            &format!(
                "config changed on resume at iteration {}: {}",
                meta.iteration,
                changed.join(", ")
            ),
        )?;
        write_atomic(&dir.config(), cfg.to_toml().as_bytes())?;
    }
    Ok(Some((ck, meta)))
}

/// Cut the CSVs back to their lengths at the checkpoint (rows past it are written again).
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

/// Append a line to the run's `provenance.toml` notes.
fn append_note(dir: &RunDir, note: &str) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.provenance())?;
    writeln!(
        f,
        "\n[[note]]\ntext = {:?}\nat = {}",
        note,
        crate::run_dir::now_s()
    )?;
    Ok(())
}
