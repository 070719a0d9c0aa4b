//! Profiles, the matrix, selection and the scheduler, on small profiles written here.

use super::matrix::{Cell, cells, validate};
use super::profile::Profile;
use super::scheduler::{self, Counts, Event, Job, Observer, Plan};
use super::select::{Selection, parse_index, parse_shard, select};
use mpg_runner::{RunConfig, RunDir};
use std::path::Path;
use std::sync::atomic::AtomicUsize;

const BASE: &str = r#"
iterations = 50
[matrix]
tasks = ["path-tracking", "inverted-pendulum"]
algos = ["td3", "mpg-v2"]
seeds = [1, 0]
[set]
"eval.interval" = 25
log.interval = 5
[[override]]
algos = ["td3"]
set = { "learner.explore_sigma" = 0.2, "eval.interval" = 10 }
[[override]]
tasks = ["inverted-pendulum"]
algos = ["td3"]
set = { "eval.episodes" = 3 }
[[variants]]
name = "q1"
algos = ["mpg-v2"]
set = { "learner.critic" = "q1", "eval.interval" = 5 }
"#;

fn profile(text: &str) -> Profile {
    Profile::parse_text(text, "test.toml").unwrap()
}

fn err(text: &str) -> String {
    match Profile::parse_text(text, "test.toml") {
        Ok(p) => validate(&p, &cells(&p), 1).expect_err("an error").0,
        Err(e) => e.0,
    }
}

#[test]
fn matrix_order_and_names_are_stable() {
    let p = profile(BASE);
    let names: Vec<String> = cells(&p).iter().map(Cell::name).collect();
    assert_eq!(
        names,
        [
            "path-tracking__td3__s1",
            "path-tracking__td3__s0",
            "path-tracking__mpg-v2__s1",
            "path-tracking__mpg-v2__s0",
            "path-tracking__mpg-v2__q1__s1",
            "path-tracking__mpg-v2__q1__s0",
            "inverted-pendulum__td3__s1",
            "inverted-pendulum__td3__s0",
            "inverted-pendulum__mpg-v2__s1",
            "inverted-pendulum__mpg-v2__s0",
            "inverted-pendulum__mpg-v2__q1__s1",
            "inverted-pendulum__mpg-v2__q1__s0",
        ]
    );
    for (i, c) in cells(&p).iter().enumerate() {
        assert_eq!(c.index, i);
    }
}

#[test]
fn overrides_apply_in_order_and_variants_last() {
    let p = profile(BASE);
    let all = cells(&p);
    let cfgs = validate(&p, &all, 2).unwrap();
    let get = |name: &str| {
        let i = all.iter().position(|c| c.name() == name).unwrap();
        &cfgs[i]
    };
    let td3_pt = get("path-tracking__td3__s0");
    assert_eq!(td3_pt.eval.interval, 10, "[[override]] after [set]");
    assert_eq!(td3_pt.learner.explore_sigma, 0.2);
    assert_eq!(
        td3_pt.eval.episodes, 5,
        "the pendulum-only override does not apply"
    );
    assert_eq!(td3_pt.log.interval, 5, "a dotted key without quotes");
    assert_eq!(td3_pt.threads, 2);
    assert_eq!(td3_pt.iterations, 50);
    assert_eq!(td3_pt.seed, 0);
    assert_eq!(get("inverted-pendulum__td3__s1").eval.episodes, 3);
    let base = get("inverted-pendulum__mpg-v2__s1");
    let q1 = get("inverted-pendulum__mpg-v2__q1__s1");
    assert_eq!(base.eval.interval, 25);
    assert_eq!(q1.eval.interval, 5, "the variant wins over [set]");
    assert_ne!(base.learner.critic, q1.learner.critic);
    // everything else is the defaults of the algorithm and task
    let mut expect = RunConfig::defaults(mpg_algos::Algo::MpgV2, mpg_envs::Task::InvertedPendulum);
    expect.seed = 1;
    expect.iterations = 50;
    expect.threads = 2;
    expect.eval.interval = 25;
    expect.log.interval = 5;
    assert_eq!(*base, expect);
}

#[test]
fn include_base_false_keeps_only_variants() {
    let p = profile(&BASE.replace("seeds = [1, 0]", "seeds = [1, 0]\ninclude_base = false"));
    let names: Vec<String> = cells(&p).iter().map(Cell::name).collect();
    assert_eq!(names.len(), 4);
    assert!(names.iter().all(|n| n.contains("__q1__")), "{names:?}");
}

#[test]
fn structural_errors_name_the_field_and_the_allowed_values() {
    let variant_twice = format!("{BASE}\n[[variants]]\nname = \"q1\"\nset = {{}}\n");
    let cases: [(String, &[&str]); 10] = [
        (
            format!("iteration = 3\n{BASE}"),
            &["unknown field `iteration`", "`iterations`"],
        ),
        (
            BASE.replace("[\"td3\", \"mpg-v2\"]", "[\"td3\", \"mpg-v3\"]"),
            &["mpg-v3", "mpg-v2", "sac"],
        ),
        (
            BASE.replace("tasks = [\"path-tracking\", ", "tasks = [\"cartpole\", "),
            &["cartpole", "inverted-pendulum"],
        ),
        (
            BASE.replace("iterations = 50", ""),
            &["missing the key 'iterations'"],
        ),
        (
            BASE.replace("seeds = [1, 0]", "seeds = [1, 1]"),
            &["seeds: '1' is listed twice"],
        ),
        (
            BASE.replace("log.interval = 5", "seed = 5"),
            &["key 'seed' cannot be set here", "[matrix] seeds"],
        ),
        (
            BASE.replace("log.interval = 5", "threads = 4"),
            &["key 'threads' cannot be set here"],
        ),
        (
            BASE.replace("name = \"q1\"", "name = \"Q 1\""),
            &["variant name 'Q 1'"],
        ),
        (variant_twice, &["variant 'q1' is listed twice"]),
        (
            BASE.replace("algos = [\"mpg-v2\"]\nset", "algoz = [\"mpg-v2\"]\nset"),
            &["unknown field `algoz`"],
        ),
    ];
    for (text, wanted) in cases {
        let e = err(&text);
        for w in wanted {
            assert!(e.contains(w), "{w}: {e}");
        }
    }
}

#[test]
fn config_errors_name_the_key_the_allowed_values_and_the_profile_entry() {
    // an unknown key, with the nearest valid one
    let e = err(&BASE.replace("log.interval = 5", "\"eval.intervall\" = 5"));
    assert!(
        e.contains("test.toml [set]: eval.intervall = 5")
            && e.contains("unknown key")
            && e.contains("did you mean 'interval'"),
        "{e}"
    );
    assert!(e.contains("12 of 12 cells"), "{e}");
    // a value of the wrong kind: the allowed values
    let e = err(&BASE.replace("\"learner.critic\" = \"q1\"", "\"learner.critic\" = \"q3\""));
    assert!(
        e.contains("learner.critic")
            && e.contains("`min`")
            && e.contains("`q1`")
            && e.contains("variant 'q1'")
            && e.contains("4 of 12 cells"),
        "{e}"
    );
    // a value out of range: the constraint, and which override set it
    let e = err(&BASE.replace("\"eval.episodes\" = 3", "\"eval.episodes\" = 0"));
    assert!(
        e.contains("eval.episodes: must be at least 1")
            && e.contains("[[override]] #2")
            && e.contains("inverted-pendulum__td3__s1"),
        "{e}"
    );
}

#[test]
fn extends_changes_only_what_the_child_sets() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("parent.toml"), BASE).unwrap();
    std::fs::write(
        dir.path().join("child.toml"),
        "extends = \"parent\"\niterations = 20\n[[variants]]\nname = \"q1\"\nalgos = [\"mpg-v2\"]\nset = { \"learner.critic\" = \"q1\" }\n",
    )
    .unwrap();
    let parent = Profile::load(dir.path().join("parent.toml").to_str().unwrap()).unwrap();
    let child = Profile::load(dir.path().join("child.toml").to_str().unwrap()).unwrap();
    assert_eq!(child.name, "child");
    assert_eq!(child.iterations, 20);
    let (pc, cc) = (cells(&parent), cells(&child));
    let pv = validate(&parent, &pc, 1).unwrap();
    let cv = validate(&child, &cc, 1).unwrap();
    assert_eq!(pc.len(), cc.len());
    for ((a, b), (ca, cb)) in pc.iter().zip(&cc).zip(pv.iter().zip(&cv)) {
        assert_eq!(a.name(), b.name());
        let mut ca = ca.clone();
        ca.iterations = 20;
        if a.variant.is_some() {
            // the child's q1 replaces the parent's: the parent's eval.interval = 5 is gone
            ca.eval.interval = cb.eval.interval;
        }
        assert_eq!(&ca, cb, "{}", a.name());
    }
    // a cycle is an error, not a hang
    std::fs::write(
        dir.path().join("parent.toml"),
        format!("extends = \"child\"\n{BASE}"),
    )
    .unwrap();
    let e = Profile::load(dir.path().join("child.toml").to_str().unwrap()).unwrap_err();
    assert!(e.0.contains("cycle"), "{}", e.0);
}

#[test]
fn quick_is_the_paper_async_profile_cut_at_20000_iterations() {
    let paper = Profile::load("paper-async").unwrap();
    let quick = Profile::load("quick").unwrap();
    assert_eq!(paper.iterations, 100_000);
    assert_eq!(quick.iterations, 20_000);
    let (pc, qc) = (cells(&paper), cells(&quick));
    assert_eq!(pc.len(), 60);
    assert_eq!(pc.len(), qc.len());
    for (a, b) in pc.iter().zip(&qc) {
        assert_eq!(a.name(), b.name());
        assert_eq!(a.sets(1), b.sets(1));
    }
}

/// Every shipped profile resolves to valid configs in every cell.
#[test]
fn shipped_profiles_validate() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench-configs/profiles");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        let p = Profile::load(path.to_str().unwrap()).unwrap();
        let c = cells(&p);
        if let Err(e) = validate(&p, &c, 1) {
            panic!("{}", e.0);
        }
        n += 1;
    }
    assert!(n >= 4, "paper, quick, scaling, smoke");
}

#[test]
fn index_and_shard_select_cells() {
    let p = profile(BASE);
    let all = cells(&p);
    let idx = |s| -> Vec<usize> { select(&all, s).unwrap().iter().map(|c| c.index).collect() };
    assert_eq!(idx(Selection::All), (0..12).collect::<Vec<_>>());
    assert_eq!(idx(Selection::Index(7)), [7]);
    assert_eq!(idx(parse_shard("1/5").unwrap()), [1, 6, 11]);
    assert_eq!(
        idx(parse_shard("0/1").unwrap()),
        (0..12).collect::<Vec<_>>()
    );
    // the shards partition the matrix
    let mut union: Vec<usize> = (0..4)
        .flat_map(|i| idx(Selection::Shard { i, n: 4 }))
        .collect();
    union.sort();
    assert_eq!(union, (0..12).collect::<Vec<_>>());
    let e = select(&all, Selection::Index(12)).unwrap_err();
    assert!(e.contains("12 cells (0..=11)"), "{e}");
    for bad in ["4/4", "1", "a/2", "1/0", "-1/3"] {
        assert!(parse_shard(bad).is_err(), "{bad}");
    }
}

#[test]
fn index_env_is_read_only_when_asked() {
    let no_env = |v: &str| -> Option<String> { panic!("the environment was read ({v})") };
    assert_eq!(parse_index("3", no_env), Ok(3));
    assert!(parse_index("x", no_env).unwrap_err().contains("'env'"));
    let slurm = |v: &str| (v == "SLURM_ARRAY_TASK_ID").then(|| "5".to_string());
    assert_eq!(parse_index("env", slurm), Ok(5));
    let k8s = |v: &str| (v == "JOB_COMPLETION_INDEX").then(|| "2".to_string());
    assert_eq!(parse_index("env", k8s), Ok(2));
    let e = parse_index("env", |_| None).unwrap_err();
    assert!(
        e.contains("SLURM_ARRAY_TASK_ID") && e.contains("JOB_COMPLETION_INDEX"),
        "{e}"
    );
    let e = parse_index("env", |_| Some("x1".into())).unwrap_err();
    assert!(e.contains("SLURM_ARRAY_TASK_ID=\"x1\""), "{e}");
}

fn small_cfg() -> RunConfig {
    let p = profile(BASE);
    cells(&p)[0].resolve(2).unwrap()
}

#[test]
fn inspect_decides_start_resume_skip_locked_and_conflict() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = RunDir::new(tmp.path().join("run"));
    let cfg = small_cfg();
    assert_eq!(scheduler::inspect(&dir, &cfg), Plan::Start);
    std::fs::create_dir_all(&dir.root).unwrap();
    std::fs::write(dir.eval_csv(), "iteration\n").unwrap();
    assert!(
        matches!(scheduler::inspect(&dir, &cfg), Plan::Conflict(w) if w.contains("no config.toml"))
    );
    std::fs::write(dir.config(), cfg.to_toml()).unwrap();
    std::fs::write(dir.train_csv(), "iteration,wall_s\n10,1.0\n20,2.0\n").unwrap();
    dir.write_status(&mpg_runner::Status::Interrupted("x".into()))
        .unwrap();
    assert_eq!(
        scheduler::inspect(&dir, &cfg),
        Plan::Resume {
            done: 20,
            threads_changed: false
        }
    );
    let mut other_threads = cfg.clone();
    other_threads.threads = 1;
    assert_eq!(
        scheduler::inspect(&dir, &other_threads),
        Plan::Resume {
            done: 20,
            threads_changed: true
        }
    );
    let mut other = cfg.clone();
    other.eval.interval += 1;
    other.learner.gamma = 0.5;
    match scheduler::inspect(&dir, &other) {
        Plan::Conflict(w) => assert!(w.contains("eval.interval, learner.gamma"), "{w}"),
        p => panic!("{p:?}"),
    }
    // held by a live process
    let mut holder = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    std::fs::write(
        dir.lock_file(),
        format!(
            "host={}\npid={}\nheartbeat={}\n",
            mpg_runner::run_dir::hostname(),
            holder.id(),
            mpg_runner::run_dir::now_s()
        ),
    )
    .unwrap();
    assert!(
        matches!(scheduler::inspect(&dir, &cfg), Plan::Locked(w) if w.contains(&holder.id().to_string()))
    );
    holder.kill().unwrap();
    holder.wait().unwrap();
    // its holder is gone: resumable again
    assert!(matches!(
        scheduler::inspect(&dir, &cfg),
        Plan::Resume { .. }
    ));
    dir.write_status(&mpg_runner::Status::Finished).unwrap();
    assert_eq!(scheduler::inspect(&dir, &other_threads), Plan::Skip);
}

#[derive(Default)]
struct Recorder(Vec<Event>);
impl Observer for Recorder {
    fn event(&mut self, e: &Event, _c: &Counts) {
        self.0.push(e.clone());
    }
}

fn sh_job(root: &Path, name: &str, script: &str) -> Job {
    let dir = RunDir::new(root.join(name));
    std::fs::create_dir_all(&dir.root).unwrap();
    let mut command = std::process::Command::new("sh");
    command.arg("-c").arg(script);
    Job {
        name: name.into(),
        dir,
        command,
        write_first: None,
        total: 10,
        done_before: 0,
        weight: 1.0,
    }
}

#[test]
fn failed_children_are_reported_with_status_and_log_tail() {
    let tmp = tempfile::tempdir().unwrap();
    let jobs = vec![
        sh_job(tmp.path(), "ok", "echo fine"),
        sh_job(tmp.path(), "bad", "echo 'error: boom' >&2; exit 3"),
        sh_job(
            tmp.path(),
            "busy",
            "echo 'the run folder x is in use by process 1' >&2; exit 2",
        ),
        sh_job(tmp.path(), "ok2", "true"),
    ];
    let mut rec = Recorder::default();
    let counts = Counts {
        total: 5,
        skipped: 1,
        ..Counts::default()
    };
    let s = scheduler::run(jobs, 2, counts, &AtomicUsize::new(0), &mut rec);
    assert_eq!(
        (
            s.counts.finished,
            s.counts.failed,
            s.counts.locked,
            s.counts.skipped
        ),
        (2, 1, 1, 1)
    );
    assert_eq!(s.failures.len(), 1);
    let (name, why) = &s.failures[0];
    assert_eq!(name, "bad");
    assert!(
        why.contains("exit status 3") && why.contains("error: boom"),
        "{why}"
    );
    assert!(!s.interrupted);
    let started: Vec<&Event> = rec
        .0
        .iter()
        .filter(|e| matches!(e, Event::Started(_)))
        .collect();
    assert_eq!(started.len(), 4);
    assert_eq!(rec.0[0], Event::Started("ok".into()), "matrix order");
    assert_eq!(s.counts.running + s.counts.pending, 0);
}

#[test]
fn a_signal_is_forwarded_and_nothing_new_starts() {
    let tmp = tempfile::tempdir().unwrap();
    // The child exits 130 on its SIGINT, as `mpg train` does after its checkpoint.
    let child = "trap 'exit 130' INT; touch started; while true; do sleep 0.05; done";
    let jobs = vec![
        sh_job(
            tmp.path(),
            "a",
            &format!("cd {}/a && {child}", tmp.path().display()),
        ),
        sh_job(tmp.path(), "b", "true"),
    ];
    let signals = std::sync::Arc::new(AtomicUsize::new(0));
    let flag = std::sync::Arc::clone(&signals);
    let started = tmp.path().join("a/started");
    let t = std::thread::spawn(move || {
        while !started.exists() {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        flag.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    });
    let mut rec = Recorder::default();
    let counts = Counts {
        total: 2,
        ..Counts::default()
    };
    let s = scheduler::run(jobs, 1, counts, &signals, &mut rec);
    t.join().unwrap();
    assert!(s.interrupted);
    assert_eq!(s.counts.interrupted, 1);
    assert_eq!(s.counts.pending, 1, "b never started");
    assert!(
        rec.0.contains(&Event::Interrupted("a".into())),
        "{:?}",
        rec.0
    );
    assert!(!rec.0.contains(&Event::Started("b".into())));
}

#[test]
fn last_iteration_reads_the_last_row() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("train.csv");
    assert_eq!(scheduler::last_iteration(&f), 0);
    std::fs::write(&f, "iteration,wall_s\n").unwrap();
    assert_eq!(scheduler::last_iteration(&f), 0);
    let rows: String = (1..=2000)
        .map(|i| format!("{},0.5,1,2,3\n", i * 100))
        .collect();
    std::fs::write(&f, format!("iteration,wall_s\n{rows}")).unwrap();
    assert_eq!(scheduler::last_iteration(&f), 200_000);
}

/// A resolved config's value at a dotted key, as TOML.
fn value(cfg: &RunConfig, key: &str) -> toml::Value {
    let mut v = toml::Value::try_from(cfg).unwrap();
    for part in key.split('.') {
        v = v
            .get(part)
            .unwrap_or_else(|| panic!("no key {key}"))
            .clone();
    }
    v
}

/// The paper-async profile resolves to spec §3.9's paper-era learner counts, spec §4's queues and
/// actors, Glorot init on path tracking only (D9), D2 `min`, D11 off, evaluation every 3 000.
#[test]
fn paper_async_profile_has_the_paper_era_settings() {
    let p = Profile::load("paper-async").unwrap();
    let all = cells(&p);
    let cfgs = validate(&p, &all, 1).unwrap();
    let learners = |task: &str, algo: &str| -> i64 {
        match (task, algo) {
            (_, "mpg-v1" | "mpg-v2") => 12,
            ("path-tracking", "ndpg") => 8,
            ("inverted-pendulum", "ndpg") => 12,
            (_, "nadp") => 8,
            (_, "td3" | "sac") => 2,
            _ => unreachable!(),
        }
    };
    for (c, cfg) in all.iter().zip(&cfgs) {
        let (task, algo) = (c.task.to_string(), c.algo.to_string());
        let s = |k: &str| value(cfg, k);
        assert_eq!(
            s("async.learners").as_integer(),
            Some(learners(&task, &algo)),
            "{}",
            c.name()
        );
        let init = if task == "path-tracking" {
            "glorot"
        } else {
            "orthogonal"
        };
        assert_eq!(s("learner.init").as_str(), Some(init), "{}", c.name());
        for (k, want) in [
            ("trainer", toml::Value::from("async")),
            ("iterations", toml::Value::from(100_000)),
            ("eval.interval", toml::Value::from(3000)),
            ("async.grad_queue", toml::Value::from(20)),
            ("async.actors", toml::Value::from(2)),
            ("async.buffers", toml::Value::from(2)),
            ("async.batch_queue", toml::Value::from(128)),
            ("async.grads_max_reuse", toml::Value::from(0)),
            ("async.sample_ratio", toml::Value::from("unlimited")),
            ("learner.critic", toml::Value::from("min")),
            ("learner.weight_rule", toml::Value::from("code")),
            ("env.termination", toml::Value::from("paper")),
        ] {
            assert_eq!(s(k), want, "{}: {k}", c.name());
        }
    }
    assert_eq!(p.seeds, [0, 1, 2, 3, 4]);
}

/// `--done DIR`: a committed copy (config.toml, provenance.toml, a complete eval.csv) of the
/// cell's run counts as finished; another config, a partial eval.csv or no provenance do not.
#[test]
fn a_committed_copy_of_the_cell_is_recognised() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cell");
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = small_cfg();
    let last = cfg.iterations;
    let eval = |to: u64| {
        let mut s = "iteration,wall_s,env_steps,mean_return\n".to_string();
        for it in [0, to] {
            s += &format!("{it},1.5,100,-3.0\n");
        }
        s
    };
    std::fs::write(dir.join("config.toml"), cfg.to_toml()).unwrap();
    std::fs::write(
        dir.join("provenance.toml"),
        "[[session]]\nstarted_at = 0\ngit_commit = \"abc\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("eval.csv"), eval(last)).unwrap();
    assert!(scheduler::committed(&dir, &cfg));
    // the intra-op threads may differ (another --jobs)
    let mut threads = cfg.clone();
    threads.threads = 7;
    assert!(scheduler::committed(&dir, &threads));
    let mut other = cfg.clone();
    other.seed += 1;
    assert!(!scheduler::committed(&dir, &other));
    std::fs::write(dir.join("eval.csv"), eval(last / 2)).unwrap();
    assert!(!scheduler::committed(&dir, &cfg));
    std::fs::write(dir.join("eval.csv"), eval(last)).unwrap();
    std::fs::remove_file(dir.join("provenance.toml")).unwrap();
    assert!(!scheduler::committed(&dir, &cfg));
    assert!(!scheduler::committed(&tmp.path().join("absent"), &cfg));
}

/// `--jobs 2` is one queue: the third job starts as soon as the second ends, while the first is
/// still running (it waits for a file only the third creates, and gives up after 60 s: without
/// the queue it would fail).
#[test]
fn a_job_starts_as_soon_as_any_slot_is_free() {
    let tmp = tempfile::tempdir().unwrap();
    let go = tmp.path().join("go");
    let jobs = vec![
        sh_job(
            tmp.path(),
            "waits",
            &format!(
                "i=0; while [ ! -e {g} ]; do i=$((i+1)); [ $i -gt 1200 ] && exit 7; sleep 0.05; done",
                g = go.display()
            ),
        ),
        sh_job(tmp.path(), "quick", "true"),
        sh_job(tmp.path(), "third", &format!("touch {}", go.display())),
    ];
    let mut rec = Recorder::default();
    let counts = Counts {
        total: 3,
        ..Counts::default()
    };
    let s = scheduler::run(jobs, 2, counts, &AtomicUsize::new(0), &mut rec);
    assert_eq!(
        (s.counts.finished, s.counts.failed),
        (3, 0),
        "{:?}",
        s.failures
    );
    let pos = |e: Event| rec.0.iter().position(|x| *x == e).unwrap();
    assert!(pos(Event::Started("third".into())) < rec.0.len());
    let waits_end = rec
        .0
        .iter()
        .position(|e| matches!(e, Event::Finished { name, .. } if name == "waits"))
        .unwrap();
    assert!(
        pos(Event::Started("third".into())) < waits_end,
        "{:?}",
        rec.0
    );
}

/// A job whose folder another live process holds is reported locked, and nothing of the folder
/// is written: not the job's first file, not its bench.log (issue 23).
#[test]
fn a_locked_folder_is_left_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let mut job = sh_job(tmp.path(), "cell", "true");
    let file = job.dir.root.join("bench-cell.toml");
    std::fs::write(&file, "theirs\n").unwrap();
    job.write_first = Some((file.clone(), b"ours\n".to_vec()));
    let mut holder = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    std::fs::write(
        job.dir.lock_file(),
        format!(
            "host={}\npid={}\nheartbeat={}\n",
            mpg_runner::run_dir::hostname(),
            holder.id(),
            mpg_runner::run_dir::now_s()
        ),
    )
    .unwrap();
    let mut rec = Recorder::default();
    let counts = Counts {
        total: 1,
        ..Counts::default()
    };
    let s = scheduler::run(vec![job], 1, counts, &AtomicUsize::new(0), &mut rec);
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_eq!(s.counts.locked, 1);
    assert!(
        matches!(&rec.0[0], Event::Locked { name, why } if name == "cell" && why.contains("in use"))
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "theirs\n");
    assert!(!tmp.path().join("cell/bench.log").exists());
    // free again: the file is written under the lock, the job runs
    let mut job = sh_job(tmp.path(), "cell", "true");
    job.write_first = Some((file.clone(), b"ours\n".to_vec()));
    let s = scheduler::run(
        vec![job],
        1,
        Counts::default(),
        &AtomicUsize::new(0),
        &mut rec,
    );
    assert_eq!(s.counts.finished, 1);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "ours\n");
}

/// The ETA counts work, not iterations: after 1 000 n-step ADP updates in 100 s, 1 000 n-step
/// DPG updates are about 13 s away, not 100 s (an iteration rate would say 100 s, and after a
/// matrix's short cells it would put its n-step ADP cells eight times too near).
#[test]
fn the_eta_weighs_each_cells_iterations_by_its_cost() {
    use super::estimate::update_weight;
    use mpg_algos::Algo;
    let (nadp, ndpg) = (update_weight(Algo::Nadp), update_weight(Algo::Ndpg));
    assert!(nadp > 5.0 * ndpg, "n-step ADP's updates cost most");
    let eta = scheduler::eta_s(&[(1000, nadp)], &[(1000, ndpg)], 100.0).unwrap();
    assert!((eta - 100.0 * ndpg / nadp).abs() < 1e-9, "{eta}");
    let eta = scheduler::eta_s(&[(1000, ndpg)], &[(1000, nadp)], 100.0).unwrap();
    assert!((eta - 100.0 * nadp / ndpg).abs() < 1e-9, "{eta}");
    // Work of several jobs adds up; nothing done yet: no estimate.
    let eta = scheduler::eta_s(&[(500, 2.0), (500, 2.0)], &[(100, 2.0), (300, 1.0)], 10.0);
    assert_eq!(eta, Some(2.5));
    assert_eq!(scheduler::eta_s(&[(0, nadp)], &[(1000, nadp)], 5.0), None);
}
