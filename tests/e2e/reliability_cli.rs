//! Reliability of the command line (issue 23, docs/reliability-cli.md): outputs of every kind
//! written without replacing what is not ours, bounded arguments, refused inputs, and a
//! property test that no argument makes `mpg` panic, abort or run away with memory.

use super::{golden, mpg, stderr};
use std::fs;
use std::os::unix::fs::{FileTypeExt, symlink};
use std::path::Path;
use std::process::Output;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Every command with an output file, writing to `out`, with the first header field it writes.
fn writers(out: &str) -> Vec<(Vec<String>, &'static str)> {
    let input = golden("inverted_pendulum_env_golden.csv");
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        (
            s(&[
                "env",
                "step",
                "--task",
                "inverted-pendulum",
                "--input",
                input.to_str().unwrap(),
                "--output",
                out,
            ]),
            "o0,o1,o2,o3,u0,reward",
        ),
        (
            s(&[
                "env",
                "rollout",
                "--task",
                "inverted-pendulum",
                "--agents",
                "2",
                "--steps",
                "3",
                "--output",
                out,
            ]),
            "agent,step,o0",
        ),
        (
            s(&[
                "model-error",
                "--task",
                "inverted-pendulum",
                "--horizon",
                "3",
                "--samples",
                "2",
                "--output",
                out,
            ]),
            "step,scaled_norm_mean",
        ),
    ]
}

fn run(args: &[String]) -> Output {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    mpg(&a)
}

/// `--output link.csv`, a symlink: the link's target is written, the link stays a link
/// (it was replaced by a regular file, mode 0600, before the output writer). `--plot` too.
#[test]
fn an_output_symlink_stays_a_link_and_its_target_is_written() {
    let d = tempfile::tempdir().unwrap();
    let target = d.path().join("real.csv");
    let link = d.path().join("link.csv");
    symlink("real.csv", &link).unwrap();
    for (args, head) in writers(link.to_str().unwrap()) {
        fs::write(&target, "old").unwrap();
        let o = run(&args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink(),
            "{args:?}: the link was replaced"
        );
        let text = fs::read_to_string(&target).unwrap();
        assert!(text.starts_with(head), "{args:?}: target holds {text:?}");
    }
    let png = d.path().join("real.png");
    let plink = d.path().join("plot.png");
    symlink(&png, &plink).unwrap();
    let o = mpg(&[
        "env",
        "rollout",
        "--task",
        "inverted-pendulum",
        "--agents",
        "2",
        "--steps",
        "3",
        "--plot",
        plink.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        fs::symlink_metadata(&plink)
            .unwrap()
            .file_type()
            .is_symlink(),
        "--plot replaced the link"
    );
    assert!(fs::read(&png).unwrap().starts_with(b"\x89PNG"));
}

/// `--output pipe`, a FIFO with a reader: streamed into it, the FIFO stays a FIFO.
#[test]
fn an_output_fifo_is_streamed_to_its_reader() {
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("pipe");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    for (args, head) in writers(fifo.to_str().unwrap()) {
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || fs::read_to_string(fifo).unwrap())
        };
        let o = run(&args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        // Checked before joining: had the FIFO been replaced, its reader would wait forever.
        assert!(
            fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(),
            "{args:?}: the FIFO was replaced"
        );
        let text = reader.join().unwrap();
        assert!(text.starts_with(head), "{args:?}: the reader got {text:?}");
    }
}

/// `--output /dev/null`: written in place, the device stays a device.
#[test]
fn an_output_device_is_written_in_place() {
    for (args, _) in writers("/dev/null") {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert!(
            fs::symlink_metadata("/dev/null")
                .unwrap()
                .file_type()
                .is_char_device(),
            "{args:?}: /dev/null was replaced"
        );
    }
}

/// `--output -`: the CSV alone on standard output (the summary goes to standard error), and
/// no file named `-` appears.
#[test]
fn output_dash_writes_the_csv_alone_to_stdout() {
    let d = tempfile::tempdir().unwrap();
    for (args, head) in writers("-") {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_mpg"))
            .args(&a)
            .current_dir(d.path())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        let out = stdout(&o);
        assert!(out.starts_with(head), "{args:?}: stdout {out:?}");
        let mut rd = csv::Reader::from_reader(out.as_bytes());
        let width = rd.headers().unwrap().len();
        let mut rows = 0;
        for r in rd.records() {
            let r = r.unwrap_or_else(|e| panic!("{args:?}: not CSV alone: {e}: {out}"));
            assert_eq!(r.len(), width, "{args:?}: {out}");
            assert!(
                r.iter().all(|v| v.parse::<f64>().is_ok()),
                "{args:?}: {r:?}"
            );
            rows += 1;
        }
        assert!(rows > 0, "{args:?}");
        assert!(!d.path().join("-").exists(), "{args:?}: wrote a file '-'");
    }
}
