//! Writing an output file without ever replacing what is not ours (docs/reliability.md).
//!
//! Every file the program writes goes through [`write_output`]:
//! - a missing path or a regular file is written atomically: a temporary file in the same
//!   folder, synced, renamed over the destination (a reader sees the old file or the new one,
//!   never half of one); an existing file keeps its mode, a new one gets 0644 so a teammate can
//!   read a shared folder;
//! - a symbolic link is followed (as a shell's `>` would) and its target is written by the
//!   same rules in the target's own folder: the link stays a link;
//! - `-` is standard output, and anything else that exists and is not a folder (a FIFO, a
//!   character device such as `/dev/stdout` or `/dev/null`) is written as a stream, never
//!   renamed over;
//! - a folder is refused, naming it.
//!
//! [`check_writable`] asks the same questions before any work is done, so that a command
//! whose output cannot be written is refused at once, not after a long computation.
//!
//! Every error names the path it concerns.

use anyhow::{Context, Result, bail};
use std::fs::{self, OpenOptions, Permissions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// What kind of destination a path is, after following symbolic links.
#[derive(Debug, PartialEq)]
enum Dest {
    /// Missing, or a regular file (with its mode): written by temporary file and rename.
    Replace { path: PathBuf, mode: Option<u32> },
    /// Standard output.
    Stdout,
    /// A FIFO, a device, a socket: opened and written in place.
    Stream(PathBuf),
}

/// Follow symbolic links (relative ones against their own folder) to the path that would be
/// written, up to the kernel's usual limit of 40 hops.
fn classify(path: &Path) -> Result<Dest> {
    if path.as_os_str() == "-" {
        return Ok(Dest::Stdout);
    }
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        let meta = match fs::symlink_metadata(&p) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Dest::Replace {
                    path: p,
                    mode: None,
                });
            }
            Err(e) => return Err(e).with_context(|| format!("cannot inspect {}", p.display())),
        };
        let ft = meta.file_type();
        if ft.is_symlink() {
            let target = fs::read_link(&p)
                .with_context(|| format!("cannot read the symbolic link {}", p.display()))?;
            p = if target.is_absolute() {
                target
            } else {
                p.parent().unwrap_or(Path::new(".")).join(target)
            };
        } else if ft.is_file() {
            return Ok(Dest::Replace {
                path: p,
                mode: Some(meta.permissions().mode() & 0o7777),
            });
        } else if ft.is_dir() {
            bail!("{} is a folder, not a file", p.display());
        } else {
            return Ok(Dest::Stream(p));
        }
    }
    bail!(
        "{}: too many levels of symbolic links (more than 40)",
        path.display()
    )
}

/// Write `path` by the rules of this module, the content produced by `fill`.
pub fn write_output(path: &Path, fill: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    match classify(path)? {
        Dest::Stdout => {
            let stdout = std::io::stdout();
            let mut w = BufWriter::new(stdout.lock());
            fill(&mut w)?;
            w.flush().context("cannot write to standard output")?;
        }
        Dest::Stream(p) => {
            let f = OpenOptions::new()
                .write(true)
                .open(&p)
                .with_context(|| format!("cannot open {} for writing", p.display()))?;
            let mut w = BufWriter::new(f);
            fill(&mut w).with_context(|| format!("cannot write {}", p.display()))?;
            w.flush()
                .with_context(|| format!("cannot write {}", p.display()))?;
        }
        Dest::Replace { path: p, mode } => replace(&p, mode.unwrap_or(0o644), fill)?,
    }
    Ok(())
}

/// Whether [`write_output`] could write `path`, asked before the work that fills it: a folder
/// is refused, and a file to be created or replaced needs a folder that takes a new file (a
/// temporary one is made there and removed). A FIFO or device is not opened (opening a FIFO
/// would wait for its reader). Nothing is left behind.
pub fn check_writable(path: &Path) -> Result<()> {
    match classify(path)? {
        Dest::Stdout | Dest::Stream(_) => Ok(()),
        Dest::Replace { path: p, .. } => temp_beside(&p).map(drop),
    }
}

/// A new temporary file in the folder `path` is written in (`.` for a bare name), and that
/// folder; the error names both.
fn temp_beside(path: &Path) -> Result<(tempfile::NamedTempFile, PathBuf)> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = tempfile::NamedTempFile::new_in(&dir).with_context(|| {
        format!(
            "cannot write {}: cannot create a file in {}",
            path.display(),
            dir.display()
        )
    })?;
    Ok((tmp, dir))
}

/// [`write_output`] of a byte string.
pub fn write_output_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    write_output(path, |w| Ok(w.write_all(bytes)?))
}

/// Temporary file in `path`'s folder, filled, synced, given `mode`, renamed over `path`; the
/// folder is synced so the rename itself survives a crash.
fn replace(path: &Path, mode: u32, fill: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    let (mut tmp, dir) = temp_beside(path)?;
    let io = |e: std::io::Error| {
        anyhow::Error::new(e).context(format!("cannot write {}", path.display()))
    };
    {
        let mut w = BufWriter::new(tmp.as_file_mut());
        fill(&mut w).with_context(|| format!("cannot write {}", path.display()))?;
        w.flush().map_err(io)?;
    }
    tmp.as_file()
        .set_permissions(Permissions::from_mode(mode))
        .map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    if let Ok(d) = fs::File::open(&dir) {
        // Best effort: some file systems refuse fsync on a folder.
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{FileTypeExt, symlink};

    fn read(p: &Path) -> String {
        fs::read_to_string(p).unwrap()
    }

    #[test]
    fn a_missing_file_is_created_with_mode_0644() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("out.csv");
        write_output_bytes(&p, b"a\n").unwrap();
        assert_eq!(read(&p), "a\n");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o644
        );
    }

    #[test]
    fn a_regular_file_is_replaced_and_keeps_its_mode() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("out.csv");
        fs::write(&p, "old").unwrap();
        fs::set_permissions(&p, Permissions::from_mode(0o600)).unwrap();
        write_output_bytes(&p, b"new").unwrap();
        assert_eq!(read(&p), "new");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn a_symlink_stays_a_link_and_its_target_is_written() {
        let d = tempfile::tempdir().unwrap();
        let sub = d.path().join("elsewhere");
        fs::create_dir(&sub).unwrap();
        let target = sub.join("real.csv");
        fs::write(&target, "old").unwrap();
        let link = d.path().join("link.csv");
        // A relative link resolves against its own folder.
        symlink("elsewhere/real.csv", &link).unwrap();
        write_output_bytes(&link, b"new").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(read(&target), "new");
        // A dangling link creates its target, as `>` does.
        let dangling = d.path().join("dangling.csv");
        symlink(sub.join("fresh.csv"), &dangling).unwrap();
        write_output_bytes(&dangling, b"x").unwrap();
        assert!(
            fs::symlink_metadata(&dangling)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(read(&sub.join("fresh.csv")), "x");
    }

    #[test]
    fn a_fifo_is_written_as_a_stream_not_replaced() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("pipe");
        let ok = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(ok.success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || fs::read_to_string(fifo).unwrap())
        };
        write_output_bytes(&fifo, b"through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), "through the pipe");
        assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    }

    #[test]
    fn a_character_device_is_written_in_place() {
        write_output_bytes(Path::new("/dev/null"), b"discarded").unwrap();
        let m = fs::symlink_metadata("/dev/null").unwrap();
        assert!(m.file_type().is_char_device(), "/dev/null was replaced");
    }

    #[test]
    fn a_folder_and_a_missing_parent_are_refused_naming_the_path() {
        let d = tempfile::tempdir().unwrap();
        let e = write_output_bytes(d.path(), b"x").unwrap_err();
        assert!(format!("{e:#}").contains(&d.path().display().to_string()));
        assert!(format!("{e:#}").contains("folder"));
        let p = d.path().join("no/such/dir/out.csv");
        let e = write_output_bytes(&p, b"x").unwrap_err();
        assert!(format!("{e:#}").contains("out.csv"), "{e:#}");
    }

    #[test]
    fn check_writable_asks_what_write_output_would_refuse_and_leaves_nothing() {
        let d = tempfile::tempdir().unwrap();
        // A folder, a missing parent: refused, naming the path, as write_output refuses them.
        let e = check_writable(d.path()).unwrap_err();
        assert!(format!("{e:#}").contains("is a folder"), "{e:#}");
        let p = d.path().join("no/such/dir/out.csv");
        let e = check_writable(&p).unwrap_err();
        assert!(format!("{e:#}").contains("out.csv"), "{e:#}");
        // A new file, an existing one, a link to a missing target, `-`, a device: accepted.
        let new = d.path().join("new.csv");
        check_writable(&new).unwrap();
        let old = d.path().join("old.csv");
        fs::write(&old, "old").unwrap();
        check_writable(&old).unwrap();
        let link = d.path().join("link.csv");
        symlink(d.path().join("target.csv"), &link).unwrap();
        check_writable(&link).unwrap();
        check_writable(Path::new("-")).unwrap();
        check_writable(Path::new("/dev/null")).unwrap();
        // Nothing is created or changed: the old file is whole, no temporary file stays.
        assert_eq!(read(&old), "old");
        let mut left: Vec<String> = fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["link.csv", "old.csv"]);
    }

    #[test]
    fn a_failing_fill_leaves_the_old_file_whole() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("out.csv");
        fs::write(&p, "old").unwrap();
        let e = write_output(&p, |w| {
            w.write_all(b"half")?;
            bail!("disk full")
        })
        .unwrap_err();
        assert!(format!("{e:#}").contains("out.csv"));
        assert_eq!(read(&p), "old");
        assert_eq!(
            fs::read_dir(d.path()).unwrap().count(),
            1,
            "a temporary file was left"
        );
    }
}
