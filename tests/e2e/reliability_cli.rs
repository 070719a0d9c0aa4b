//! Reliability of the command line (issue 23, docs/reliability.md, "Outputs and arguments"): outputs of every kind
//! written without replacing what is not ours, bounded arguments, refused inputs, and a
//! property test that no argument makes `mpg` panic, abort or run away with memory.

use super::{golden, mpg, mpg_with, stderr};
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
    let o = mpg_with(
        "env rollout --task inverted-pendulum --agents 2 --steps 3",
        &[("--plot", &plink)],
    );
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

/// An output that cannot be written (a folder, a missing parent folder) is refused before
/// the work: exit 2 naming the flag and the path, nothing printed on stdout (the summary is
/// printed only after the work; before, the work ran and the write then failed, exit 1).
#[test]
fn an_unwritable_output_is_refused_before_the_work() {
    let d = tempfile::tempdir().unwrap();
    let folder = d.path().to_str().unwrap().to_string();
    let missing = d.path().join("no/such/out.csv");
    let missing = missing.to_str().unwrap().to_string();
    let mut cases: Vec<(Vec<String>, &str, String)> = Vec::new();
    for out in [&folder, &missing] {
        for (args, _) in writers(out) {
            cases.push((args, "--output", out.clone()));
        }
    }
    let plot = [
        "env",
        "rollout",
        "--task",
        "inverted-pendulum",
        "--steps",
        "3",
        "--plot",
        &folder,
    ];
    cases.push((
        plot.iter().map(|x| x.to_string()).collect(),
        "--plot",
        folder.clone(),
    ));
    for (args, flag, out) in cases {
        let o = run(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(&format!("{flag}: ")) && err.contains(&out),
            "{args:?}: {err}"
        );
        assert_eq!(stdout(&o), "", "{args:?}: the work ran before the refusal");
    }
    assert!(!Path::new(&missing).exists());
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

/// `mpg ARGS` under a 4 GiB address-space limit (`prlimit --as`), killed after `secs` seconds:
/// a runaway allocation fails inside the limit instead of swapping the machine.
fn limited(args: &[&str], secs: u32) -> Output {
    std::process::Command::new("prlimit")
        .arg("--as=4294967296")
        .arg("--")
        .arg("timeout")
        .args(["-s", "KILL", &secs.to_string()])
        .arg(env!("CARGO_BIN_EXE_mpg"))
        .args(args)
        .output()
        .expect("run prlimit/timeout (util-linux, coreutils)")
}

/// `mpg config … | head`, `mpg bench --list | head`: a reader that has closed the pipe ends the
/// output quietly with success, not with a panic (exit 101). The pipe's read end is closed
/// before the start, so the first line already meets a broken pipe.
#[test]
fn a_closed_stdout_ends_the_output_quietly() {
    for args in [
        &["config", "--algo", "td3", "--task", "inverted-pendulum"][..],
        &["bench", "--profile", "smoke", "--list"],
    ] {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mpg"))
            .args(args)
            .stdout(writer)
            .output()
            .expect("run mpg");
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

/// Every size argument is bounded by the limit its --help documents: exit 2 naming the
/// argument and the range, at once. Before: `model-error --horizon 2^64-1` and `eval --episodes
/// 100000000` panicked (101), `env check --samples 1000000000` and `model-error --samples
/// 100000000` grew past 9 GB, and `env check --samples 0` passed after checking nothing.
#[test]
fn size_arguments_are_bounded_and_zero_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("t.csv");
    let out = out.to_str().unwrap();
    let missing_run = d.path().join("no-run");
    let missing_run = missing_run.to_str().unwrap();
    // <no-run> and <out> stand for the paths above, passed as single arguments
    let cases = [
        (
            "model-error --task inverted-pendulum --horizon 18446744073709551615",
            "--horizon 18446744073709551615 is out of range: allowed 1 to 10000",
        ),
        (
            "model-error --task inverted-pendulum --samples 100000000",
            "--samples 100000000 is out of range: allowed 1 to 100000",
        ),
        (
            "model-error --task inverted-pendulum --horizon 0",
            "--horizon 0 is out of range",
        ),
        (
            "eval --run <no-run> --episodes 100000000",
            "--episodes 100000000 is out of range: allowed 1 to 100000",
        ),
        (
            "env check --task inverted-pendulum --samples 1000000000",
            "--samples 1000000000 is out of range: allowed 1 to 1000000",
        ),
        (
            "env check --task inverted-pendulum --samples 0",
            "--samples 0 is out of range",
        ),
        (
            "env rollout --task inverted-pendulum --agents 100000000",
            "--agents 100000000 is out of range: allowed 1 to 1000000",
        ),
        (
            "env rollout --task inverted-pendulum --steps 0",
            "--steps 0 is out of range",
        ),
        (
            "env rollout --task inverted-pendulum --steps 100000000000",
            "--steps 100000000000 is out of range: allowed 1 to 1000000000",
        ),
        (
            "env rollout --task inverted-pendulum --threads 100000",
            "--threads 100000 is out of range: allowed 1 to 256",
        ),
        (
            "env rollout --task inverted-pendulum --agents 1000000 --steps 1000 --output <out>",
            "at most 10000000 can be written",
        ),
    ];
    for (words, message) in cases {
        let args: Vec<&str> = words
            .split_whitespace()
            .map(|w| match w {
                "<no-run>" => missing_run,
                "<out>" => out,
                w => w,
            })
            .collect();
        let o = limited(&args, 60);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(message), "{args:?}: {}", stderr(&o));
    }
    // The limits are documented where the user looks.
    for (cmd, text) in [
        (vec!["model-error", "--help"], "1 to 10 000"),
        (vec!["eval", "--help"], "1 to 100 000"),
        (vec!["env", "check", "--help"], "1 to 1 000 000"),
        (vec!["env", "rollout", "--help"], "1 to 256"),
    ] {
        let o = mpg(&cmd);
        assert!(stdout(&o).contains(text), "{cmd:?}: {}", stdout(&o));
    }
}

/// `env step` input values: beyond f32 refused for that reason, a non-finite result refused
/// naming its line, an extra action column or the other task's file refused. Before: 3e38
/// wrote NaN/inf with exit 0, 1e308 was "not finite", `u2` and a path-tracking file given to
/// the pendulum were silently ignored.
#[test]
fn env_step_refuses_values_beyond_f32_non_finite_results_and_extra_columns() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out.csv");
    let step = |task: &str, text: &str, extra: &[&str]| {
        let input = d.path().join("in.csv");
        fs::write(&input, text).unwrap();
        let mut args = vec![
            "env",
            "step",
            "--task",
            task,
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = mpg(&args);
        (o.status.code(), stderr(&o))
    };
    let ip = "inverted-pendulum";
    let (code, err) = step(ip, "o0,o1,o2,o3,u0\n0,0,0,0,0\n1e308,0,0,0,0\n", &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("line 3, column 'o0': 1e308 is outside the f32 range"),
        "{err}"
    );
    let (code, err) = step(ip, "o0,o1,o2,o3,u0\n0,0,0,1e309,0\n", &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("column 'o3': 1e309 is not finite"), "{err}");
    for extra in [&[][..], &["--model"][..]] {
        let (code, err) = step(ip, "o0,o1,o2,o3,u0\n0,0,0,0,0\n3e38,0,0,3e38,3e38\n", extra);
        assert_eq!(code, Some(2), "{extra:?}: {err}");
        assert!(
            err.contains("line 3: this row's step gives a non-finite result"),
            "{extra:?}: {err}"
        );
        assert!(!out.exists(), "{extra:?}: output written");
    }
    let (code, err) = step(ip, "o0,o1,o2,o3,u0,u1\n0,0,0,0,0,0\n", &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("column 'u1' is not an input of inverted-pendulum"),
        "{err}"
    );
    let other = fs::read_to_string(golden("path_tracking_env_golden.csv")).unwrap();
    let (code, err) = step(ip, &other, &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("is not an input of inverted-pendulum"),
        "{err}"
    );
    let (code, err) = step(
        "path-tracking",
        "o0,o1,o2,o3,o4,o5,u0,u1,u2\n0,0,0,0,0,5,0,0,0\n",
        &[],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("column 'u2' is not an input of path-tracking"),
        "{err}"
    );
    assert!(!out.exists());
    // The golden file's own extra columns (agent, step, reward, done, n..) are still read.
    let (code, err) = step(
        ip,
        &fs::read_to_string(golden("inverted_pendulum_env_golden.csv")).unwrap(),
        &[],
    );
    assert_eq!(code, Some(0), "{err}");
}

/// libgomp's workers sleep: the running process has `OMP_WAIT_POLICY=PASSIVE` and
/// `GOMP_SPINCOUNT=0` in its environment unless the user chose a policy (the speed under load
/// is shown by scripts/bench-under-load.sh, not timed here). The process blocks on a FIFO
/// without a reader, so its environment can be read while it runs.
#[test]
fn libgomp_workers_sleep_unless_the_user_chose_a_policy() {
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("pipe");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let input = golden("inverted_pendulum_env_golden.csv");
    for (user, want) in [
        (None, vec!["OMP_WAIT_POLICY=PASSIVE", "GOMP_SPINCOUNT=0"]),
        (Some("ACTIVE"), vec!["OMP_WAIT_POLICY=ACTIVE"]),
    ] {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mpg"));
        cmd.args(["env", "step", "--task", "inverted-pendulum", "--input"])
            .arg(&input)
            .arg("--output")
            .arg(&fifo)
            .env_remove("OMP_WAIT_POLICY")
            .env_remove("GOMP_SPINCOUNT")
            .stderr(std::process::Stdio::null());
        if let Some(p) = user {
            cmd.env("OMP_WAIT_POLICY", p);
        }
        let mut child = cmd.spawn().unwrap();
        let environ = format!("/proc/{}/environ", child.id());
        let start = std::time::Instant::now();
        let found = loop {
            let env = fs::read(&environ).unwrap_or_default();
            let vars: Vec<String> = env
                .split(|&b| b == 0)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .collect();
            if want.iter().all(|w| vars.iter().any(|v| v == w)) {
                break true;
            }
            // Generous: the re-exec happens within a second; this is not a speed test.
            if start.elapsed().as_secs() > 60 {
                break false;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        // Release the writer, then reap it.
        let text = fs::read_to_string(&fifo).unwrap();
        let status = child.wait().unwrap();
        assert!(found, "{user:?}: the process never had {want:?}");
        assert!(status.success() && text.starts_with("o0,"), "{user:?}");
    }
}

/// The property test of issue 23: every subcommand, each option given an extreme, empty or
/// malformed value (0, -1, beyond u64, a large count, 1e309, NaN, "", non-UTF-8, a missing
/// file, a folder), runs under a 4 GiB address-space limit and ends with exit 0, 1 or 2 within
/// 15 s: never a panic (101), an abort (134), a signal or a runaway (values that would start
/// long work, e.g. a training run of 2^32 iterations, are left out).
#[test]
fn no_argument_makes_mpg_panic_abort_or_run_away() {
    use std::ffi::{OsStr, OsString};
    use std::os::unix::ffi::OsStrExt;
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let folder = p.join("folder");
    fs::create_dir(&folder).unwrap();
    let missing = p.join("missing.csv");
    let input = golden("inverted_pendulum_env_golden.csv");
    let s = |x: &str| OsString::from(x);
    let numbers: Vec<OsString> = [
        "0",
        "-1",
        "18446744073709551616",
        "4294967296",
        "1e309",
        "NaN",
        "",
    ]
    .map(s)
    .to_vec();
    let mut paths: Vec<OsString> = vec![
        s(""),
        missing.clone().into_os_string(),
        folder.clone().into_os_string(),
        OsStr::from_bytes(b"\xff\xfe.csv").to_os_string(),
    ];
    paths.push(s("-"));
    let words: Vec<OsString> = vec![
        s(""),
        s("NaN"),
        s("-1"),
        OsStr::from_bytes(b"\xff").to_os_string(),
    ];
    let out = |name: &str| p.join(name).into_os_string();
    // a command: its words, then options whose values are paths
    let cmd = |words: &str, paths: &[(&str, OsString)]| -> Vec<OsString> {
        let mut v: Vec<OsString> = words.split_whitespace().map(s).collect();
        for (opt, path) in paths {
            v.extend([s(opt), path.clone()]);
        }
        v
    };
    // (base arguments, [(option, values)], may run long when accepted)
    type Opts = Vec<(&'static str, Vec<OsString>)>;
    let specs: Vec<(Vec<OsString>, Opts)> = vec![
        (
            cmd(
                "env step --task inverted-pendulum",
                &[
                    ("--input", input.clone().into_os_string()),
                    ("--output", out("step.csv")),
                ],
            ),
            vec![
                ("--task", words.clone()),
                ("--input", paths.clone()),
                ("--output", paths.clone()),
                ("--termination", words.clone()),
            ],
        ),
        (
            cmd(
                "env step --task inverted-pendulum --model --model-noise",
                &[
                    ("--input", input.clone().into_os_string()),
                    ("--output", out("m.csv")),
                ],
            ),
            vec![("--seed", numbers.clone())],
        ),
        (
            cmd("env check --task inverted-pendulum --samples 8", &[]),
            vec![("--samples", numbers.clone()), ("--seed", numbers.clone())],
        ),
        (
            cmd(
                "env rollout --task inverted-pendulum --agents 2 --steps 3",
                &[],
            ),
            vec![
                ("--agents", numbers.clone()),
                ("--steps", numbers.clone()),
                ("--threads", numbers.clone()),
                ("--seed", numbers.clone()),
                ("--policy", words.clone()),
                ("--run", paths.clone()),
                ("--output", paths.clone()),
                ("--plot", paths.clone()),
            ],
        ),
        (
            cmd(
                "model-error --task inverted-pendulum --horizon 3 --samples 4",
                &[],
            ),
            vec![
                ("--horizon", numbers.clone()),
                ("--samples", numbers.clone()),
                ("--seed", numbers.clone()),
                ("--run", paths.clone()),
                ("--output", paths.clone()),
            ],
        ),
        (
            cmd("eval", &[("--run", folder.clone().into_os_string())]),
            vec![("--episodes", numbers.clone()), ("--run", paths.clone())],
        ),
        (
            cmd("config --algo td3 --task inverted-pendulum", &[]),
            vec![("--algo", words.clone()), ("--task", words.clone())],
        ),
        (
            cmd(
                "train --algo mpg-v2 --task inverted-pendulum --iterations 1 --quiet",
                &[("--out", out("train"))],
            ),
            vec![
                // Accepted values would train (each case here fails fast instead).
                ("--iterations", vec![s("0"), s("18446744073709551616")]),
                ("--learners", vec![s("0"), s("4294967296")]),
                (
                    "--set",
                    vec![
                        s(""),
                        s("threads=0"),
                        s("threads=4294967296"),
                        s("learner.batch_size=-1"),
                        s("eval.episodes=1e309"),
                        OsStr::from_bytes(b"seed=\xff").to_os_string(),
                    ],
                ),
                ("--config", paths.clone()),
                ("--resume", paths.clone()),
            ],
        ),
        (
            cmd(
                "bench --profile smoke --dry-run",
                &[("--out", out("bench"))],
            ),
            vec![
                ("--profile", words.clone()),
                ("--jobs", numbers.clone()),
                ("--index", numbers.clone()),
                (
                    "--shard",
                    vec![s("0/0"), s("1/0"), s("5/2"), s("-1/2"), s("")],
                ),
                ("--out", paths.clone()),
            ],
        ),
        (
            cmd(
                "report",
                &[
                    ("--runs", folder.clone().into_os_string()),
                    ("--out", out("report")),
                ],
            ),
            vec![
                ("--runs", paths.clone()),
                ("--out", paths.clone()),
                ("--goal-pendulum", numbers.clone()),
                ("--notes", paths.clone()),
            ],
        ),
    ];
    // Two values per option, rotating through its list so that every class of value meets
    // every kind of option across the suite while the run stays within a minute.
    let mut cases: Vec<Vec<OsString>> = Vec::new();
    let mut turn = 0;
    for (base, opts) in &specs {
        for (opt, values) in opts {
            let picked: Vec<&OsString> = (0..2.min(values.len()))
                .map(|k| &values[(turn + k) % values.len()])
                .collect();
            turn += 1;
            for v in picked {
                // Replace the option's value in the base, or add it.
                let mut args = base.clone();
                match args.iter().position(|a| a == *opt) {
                    Some(i) => args[i + 1] = v.clone(),
                    None => args.extend([s(opt), v.clone()]),
                }
                cases.push(args);
            }
        }
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|sc| {
        for _ in 0..2 {
            sc.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(args) = cases.get(i) else { break };
                    let o = std::process::Command::new("prlimit")
                        .arg("--as=4294967296")
                        .arg("--")
                        .args(["timeout", "-s", "KILL", "15"])
                        .arg(env!("CARGO_BIN_EXE_mpg"))
                        .args(args)
                        .current_dir(p)
                        .output()
                        .unwrap();
                    let code = o.status.code();
                    let ok = matches!(code, Some(0..=2));
                    if !ok {
                        failures.lock().unwrap().push(format!(
                            "{args:?} -> {code:?}: {}",
                            String::from_utf8_lossy(&o.stderr)
                                .lines()
                                .take(3)
                                .collect::<Vec<_>>()
                                .join(" | ")
                        ));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(cases.len() >= 60, "{} cases", cases.len());
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
