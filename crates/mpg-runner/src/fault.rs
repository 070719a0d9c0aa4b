//! A test-only write-failure hook (docs/reliability.md): `MPG_TEST_FAIL_WRITE=<site>[:<n>]`
//! makes the `n`-th write (default the first) at `site` fail as a full disk would
//! (`No space left on device`), so that the fault suite can reach every write site where a
//! real full disk cannot be made. Sites: `checkpoint`, `eval.csv`, `train.csv`,
//! `gradients.csv`, `status`, `config`, `provenance`. Read once per process; unset, each
//! write costs one comparison. Never set it outside tests.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

static TARGET: OnceLock<Option<(String, u64)>> = OnceLock::new();
static SEEN: AtomicU64 = AtomicU64::new(0);

fn due(site: &str) -> bool {
    let target = TARGET.get_or_init(|| {
        let v = std::env::var("MPG_TEST_FAIL_WRITE").ok()?;
        Some(match v.split_once(':') {
            Some((s, n)) => (s.to_string(), n.parse().unwrap_or(1)),
            None => (v, 1),
        })
    });
    match target {
        Some((s, n)) if s == site => SEEN.fetch_add(1, Ordering::SeqCst) + 1 == *n,
        _ => false,
    }
}

fn enospc(site: &str, path: &Path) -> anyhow::Error {
    anyhow::Error::new(std::io::Error::from_raw_os_error(28)).context(format!(
        "cannot write {} (test hook MPG_TEST_FAIL_WRITE={site})",
        path.display()
    ))
}

/// Fail here if the hook names `site` and this is its `n`-th write.
pub fn check(site: &str, path: &Path) -> Result<()> {
    if due(site) {
        return Err(enospc(site, path));
    }
    Ok(())
}

/// As [`check`], for an append: the first half of `bytes` reaches `w` before the failure, as
/// when a disk fills in the middle of a row (the caller must cut the file back).
pub fn check_append(site: &str, path: &Path, w: &mut impl Write, bytes: &[u8]) -> Result<()> {
    if due(site) {
        w.write_all(&bytes[..bytes.len() / 2])
            .with_context(|| format!("cannot write {}", path.display()))?;
        return Err(enospc(site, path));
    }
    Ok(())
}
