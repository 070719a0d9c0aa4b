//! Layered resolution: defaults ← file ← flags ← `--set`, unknown keys with the nearest valid
//! key, and each error named by where its value came from (file line, flag or `--set`).

use super::keys::{is_optional, optional_in};
use super::{ConfigError, RunConfig};
use mpg_algos::Algo;
use mpg_envs::Task;
use std::path::Path;

impl RunConfig {
    /// Resolve a run's configuration: the defaults of (algo, task) — taken from the file's
    /// `algo`/`task` keys, or the overrides — then the file's values, then `--set key=value`
    /// pairs (dotted keys, TOML values), then validation. Every error names the file, line and
    /// key where it can.
    pub fn resolve(
        file: Option<&Path>,
        algo: Option<Algo>,
        task: Option<Task>,
        seed: Option<u64>,
        iterations: Option<u64>,
        sets: &[String],
    ) -> Result<RunConfig, ConfigError> {
        let (text, name) = match file {
            Some(p) => (
                std::fs::read_to_string(p)
                    .map_err(|e| ConfigError(format!("{}: cannot read: {e}", p.display())))?,
                p.display().to_string(),
            ),
            None => (String::new(), "(defaults)".to_string()),
        };
        let user: toml::Table =
            toml::from_str(&text).map_err(|e| ConfigError(format!("{name}: {e}")))?;
        let pick = |key: &str| user.get(key).and_then(|v| v.as_str()).map(str::to_string);
        // A flag that contradicts the file is refused, naming both.
        let file_algo = pick("algo").map(|f| (f.parse::<Algo>().ok().map(|a| a.name()), f));
        let file_task = pick("task").map(|f| (f.parse::<Task>().ok().map(|t| t.name()), f));
        for (flag, given, key, in_file) in [
            ("--algo", algo.map(|a| a.name()), "algo", file_algo),
            ("--task", task.map(|t| t.name()), "task", file_task),
        ] {
            if let (Some(g), Some((parsed, f))) = (given, in_file)
                && parsed != Some(g)
            {
                return Err(ConfigError(format!(
                    "{flag} {g} contradicts {name}, which says {key} = {f:?}; drop {flag} or change the file"
                )));
            }
        }
        let algo = match (algo, pick("algo")) {
            (Some(a), _) => a,
            (None, Some(s)) => s
                .parse()
                .map_err(|e| ConfigError(format!("{name}: key 'algo': {e}")))?,
            (None, None) => {
                return Err(ConfigError(format!(
                    "{name}: no algorithm: give --algo or the key 'algo'"
                )));
            }
        };
        let task = match (task, pick("task")) {
            (Some(t), _) => t,
            (None, Some(s)) => s
                .parse()
                .map_err(|e| ConfigError(format!("{name}: key 'task': {e}")))?,
            (None, None) => {
                return Err(ConfigError(format!(
                    "{name}: no task: give --task or the key 'task'"
                )));
            }
        };
        let defaults =
            toml::Table::try_from(RunConfig::defaults(algo, task)).expect("defaults serialise");
        let mut merged = defaults.clone();
        let mut errors = Vec::new();
        merge(&mut merged, &user, &defaults, "", &text, &name, &mut errors);
        merged.insert("algo".into(), toml::Value::String(algo.name().into()));
        merged.insert("task".into(), toml::Value::String(task.name().into()));
        if let Some(s) = seed {
            merged.insert("seed".into(), toml::Value::Integer(s as i64));
        }
        if let Some(i) = iterations {
            merged.insert("iterations".into(), toml::Value::Integer(i as i64));
        }
        for set in sets {
            if let Err(e) = apply_set(&mut merged, &defaults, set) {
                errors.push(format!("--set {set}: {e}"));
            }
        }
        if !errors.is_empty() {
            return Err(ConfigError(errors.join("\n")));
        }
        // D17: terminal masking is the default under D1 `corrected`, unless set explicitly.
        let set_explicitly = user
            .get("learner")
            .and_then(|l| l.as_table())
            .is_some_and(|l| l.contains_key("mask_terminal"))
            || sets
                .iter()
                .any(|s| s.trim_start().starts_with("learner.mask_terminal"));
        let corrected = merged
            .get("env")
            .and_then(|e| e.get("termination"))
            .and_then(|t| t.as_str())
            == Some("corrected");
        if corrected
            && !set_explicitly
            && let Some(toml::Value::Table(l)) = merged.get_mut("learner")
        {
            l.insert("mask_terminal".into(), toml::Value::Boolean(true));
        }
        let cfg: RunConfig =
            serde_path_to_error::deserialize(toml::Value::Table(merged)).map_err(|e| {
                let path = e.path().to_string();
                let line = line_of(&text, &path)
                    .map(|l| format!("line {l}: "))
                    .unwrap_or_default();
                ConfigError(format!(
                    "{name}: {line}key '{path}': {}",
                    e.inner().message()
                ))
            })?;
        let mut cfg = cfg;
        if !cfg.sync.staleness_file.is_empty() && cfg.sync.staleness_counts.is_empty() {
            // D21: the histogram lands in the run's config; the file is read once, here.
            let file = &cfg.sync.staleness_file;
            // Relative to the working directory, else to the checkout this binary was built
            // from (as profiles are found); the key keeps the path as written.
            let mut path = Path::new(file).to_path_buf();
            let built = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../..")
                .join(file);
            if path.is_relative() && !path.exists() && built.exists() {
                path = built;
            }
            cfg.sync.staleness_counts = crate::staleness::read_histogram(&path).map_err(|e| {
                ConfigError(format!("{name}: key 'sync.staleness_file': {file}: {e}"))
            })?;
        }
        let v = cfg.violations();
        if !v.is_empty() {
            // Each value out of range is named where it came from: the --set or flag that gave
            // it, or the file's line; a default value is named by its key alone.
            let lines: Vec<String> = (v.iter())
                .map(|m| {
                    let key = m.split(':').next().unwrap_or("");
                    let set = sets
                        .iter()
                        .rev()
                        .find(|s| s.split_once('=').is_some_and(|(k, _)| k.trim() == key));
                    if let Some(set) = set {
                        format!("--set {set}: {m}")
                    } else if key == "iterations" && iterations.is_some() {
                        format!("--iterations: {m}")
                    } else if key == "seed" && seed.is_some() {
                        format!("--seed: {m}")
                    } else if table_has(&user, key) {
                        let line = line_of(&text, key)
                            .map(|l| format!("line {l}: "))
                            .unwrap_or_default();
                        format!("{name}: {line}{m}")
                    } else {
                        // from the defaults (or another key's change): the key names it
                        m.clone()
                    }
                })
                .collect();
            // One violation a line, each starting with its source (the bench maps a
            // `--set k=v: ` prefix back to its profile entry).
            return Err(ConfigError(format!(
                "invalid values:\n{}",
                lines.join("\n")
            )));
        }
        Ok(cfg)
    }
}

/// Overlay `user` on `into`, checking keys against `defaults`; optional keys (absent from the
/// defaults because they default to none) are accepted where the typed struct knows them.
fn merge(
    into: &mut toml::Table,
    user: &toml::Table,
    defaults: &toml::Table,
    prefix: &str,
    text: &str,
    file: &str,
    errors: &mut Vec<String>,
) {
    for (k, v) in user {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        let known = defaults.contains_key(k) || is_optional(&path);
        if !known {
            let line = line_of(text, &path)
                .map(|l| format!("line {l}: "))
                .unwrap_or_default();
            let section = if prefix.is_empty() {
                String::new()
            } else {
                format!(" in [{prefix}]")
            };
            let candidates: Vec<String> = defaults
                .keys()
                .cloned()
                .chain(optional_in(prefix).map(String::from))
                .collect();
            let hint = nearest(k, candidates.iter().map(String::as_str))
                .map(|n| format!(" (did you mean '{n}'?)"))
                .unwrap_or_default();
            errors.push(format!("{file}: {line}unknown key '{k}'{section}{hint}"));
            continue;
        }
        match (v, defaults.get(k)) {
            (toml::Value::Table(ut), Some(toml::Value::Table(dt))) => {
                if let Some(toml::Value::Table(it)) = into.get_mut(k) {
                    merge(it, ut, dt, &path, text, file, errors);
                }
            }
            _ => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

/// `--set a.b=value`: the value parsed as TOML (a bare word is taken as a string).
fn apply_set(merged: &mut toml::Table, defaults: &toml::Table, set: &str) -> Result<(), String> {
    let (key, raw) = set.split_once('=').ok_or("expected key=value")?;
    let key = key.trim();
    let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.trim().to_string()));
    let parts: Vec<&str> = key.split('.').collect();
    let (mut table, mut dtable) = (merged, defaults);
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let known = dtable.contains_key(*part) || (last && is_optional(key));
        if !known {
            let hint = nearest(part, dtable.keys().map(String::as_str))
                .map(|n| format!(" (did you mean '{n}'?)"))
                .unwrap_or_default();
            return Err(format!("unknown key '{key}'{hint}"));
        }
        if last {
            table.insert(part.to_string(), value);
            return Ok(());
        }
        match (table.get_mut(*part), dtable.get(*part)) {
            (Some(toml::Value::Table(t)), Some(toml::Value::Table(d))) => {
                table = t;
                dtable = d;
            }
            _ => return Err(format!("'{part}' is not a section")),
        }
    }
    Ok(())
}

/// Whether the dotted `key` is present in `table`.
fn table_has(table: &toml::Table, key: &str) -> bool {
    let mut t = table;
    let parts: Vec<&str> = key.split('.').collect();
    for (i, p) in parts.iter().enumerate() {
        match t.get(*p) {
            Some(toml::Value::Table(x)) if i + 1 < parts.len() => t = x,
            Some(_) => return i + 1 == parts.len(),
            None => return false,
        }
    }
    false
}

/// The line (from 1) of the dotted key `path` in the TOML `text`: `key = …` inside its
/// section's `[header]` (up to the next header), or `section.key = …` before the first header.
/// Keys of the same name in two sections (`eval.interval`, `log.interval`) each get their own.
fn line_of(text: &str, path: &str) -> Option<usize> {
    let (section, key) = path.rsplit_once('.').unwrap_or(("", path));
    let assigns = |l: &str, k: &str| {
        l.strip_prefix(k)
            .is_some_and(|r| r.trim_start().starts_with('='))
    };
    let mut current = "";
    for (i, l) in text.lines().enumerate() {
        let l = l.trim_start();
        if let Some(h) = l.strip_prefix('[') {
            current = h.split(']').next().unwrap_or("").trim().trim_matches('"');
        } else if (current == section && assigns(l, key))
            || (current.is_empty() && assigns(l, path))
        {
            return Some(i + 1);
        }
    }
    None
}

/// The candidate closest to `key` by edit distance, if reasonably close.
fn nearest<'a>(key: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (levenshtein(key, c), c))
        .filter(|(d, c)| *d <= 3.max(c.len() / 3))
        .min()
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_key_is_suggested() {
        assert_eq!(
            nearest("gama", ["gamma", "tau", "horizon"].into_iter()),
            Some("gamma")
        );
        assert_eq!(nearest("zzzzzzzz", ["gamma", "tau"].into_iter()), None);
    }

    #[test]
    fn a_key_is_found_in_its_own_section() {
        let text =
            "seed = 1\n[eval]\ninterval = 5\n[log]\n  interval = 0\n[ \"async\" ]\nlearners = 0\n";
        assert_eq!(line_of(text, "seed"), Some(1));
        assert_eq!(line_of(text, "eval.interval"), Some(3));
        assert_eq!(line_of(text, "log.interval"), Some(5));
        assert_eq!(line_of(text, "async.learners"), Some(7));
        assert_eq!(
            line_of(text, "interval"),
            None,
            "a top-level key is not in a section"
        );
        assert_eq!(line_of(text, "sync.buffers"), None);
        assert_eq!(line_of("learner.gamma = 2\n", "learner.gamma"), Some(1));
    }

    /// A value out of range is named by the line of its own key, not of a key of the same
    /// name in an earlier section.
    #[test]
    fn a_range_error_names_the_line_of_its_own_section() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("run.toml");
        let text =
            "algo = \"td3\"\ntask = \"path-tracking\"\n[eval]\ninterval = 5\n[log]\ninterval = 0\n";
        std::fs::write(&p, text).unwrap();
        let e = RunConfig::resolve(Some(&p), None, None, None, None, &[]).unwrap_err();
        let want = format!("{}: line 6: log.interval: must be at least 1", p.display());
        assert!(e.0.contains(&want), "missing '{want}' in: {}", e.0);
    }
}
