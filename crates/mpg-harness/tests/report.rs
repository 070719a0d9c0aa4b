//! `mpg report` over synthetic run folders with known numbers: Table I against values computed
//! by hand (in the comments), the figures' files and sizes, every malformed-folder case named
//! with its reason, and `--require-complete`.

use mpg_algos::Algo;
use mpg_envs::Task;
use mpg_harness::report::figures::pg_times;
use mpg_harness::report::load::read_run;
use mpg_harness::report::table1::Goals;
use mpg_harness::report::{InputProblem, Options, build};
use mpg_runner::config::RunConfig;
use std::path::{Path, PathBuf};

const ITERS: [u64; 3] = [0, 3000, 6000];

const PROVENANCE: &str = r#"[[session]]
started_at = 0
resumed = false
git_commit = "abc1234"
mpg_version = "0.1.0"
tch_version = "0.26.0"
libtorch_version = "2.9.0"
cpu_model = "Test CPU 3000"
cores = 2
intra_op_threads = 1
host = "test-host"
"#;

const TRAIN_HEADER: &str = "iteration,wall_s,env_steps,q_loss,q1_grad_norm,q2_grad_norm,policy_loss,policy_grad_norm,w_data,w_model,policy_updates,dropped_nonfinite,staleness,pg_ms,q_grad_ms,apply_ms";

/// A run's config.toml: the defaults with 6 000 iterations, evaluations every 3 000, a
/// train.csv row every 1 000; `learners` > 1 makes it an asynchronous run.
fn config(task: Task, algo: Algo, seed: u64, learners: usize) -> String {
    let mut cfg = RunConfig::defaults(algo, task);
    cfg.seed = seed;
    cfg.iterations = 6000;
    cfg.eval.interval = 3000;
    cfg.log.interval = 1000;
    let mut t: toml::Table = toml::from_str(&cfg.to_toml()).unwrap();
    if learners > 1 {
        t.insert("trainer".into(), "async".into());
        let a = t.get_mut("async").unwrap().as_table_mut().unwrap();
        a.insert("learners".into(), (learners as i64).into());
    }
    toml::to_string(&t).unwrap()
}

fn metric_columns(task: Task) -> &'static str {
    match task {
        Task::PathTracking => "rms_dv,rms_dy,rms_dphi,rms_steer,rms_acc,mean_reward_20_199",
        Task::InvertedPendulum => "rms_p,rms_theta,rms_pdot,rms_thetadot",
    }
}

/// eval.csv with the given mean returns and wall-clock seconds at iterations 0, 3000, 6000.
fn eval_csv(task: Task, returns: &[f64], walls: &[f64]) -> String {
    let mut s = format!(
        "iteration,wall_s,env_steps,mean_return,return_0,return_1,return_2,return_3,return_4,{}\n",
        metric_columns(task)
    );
    let n_metrics = metric_columns(task).split(',').count();
    for (k, (r, w)) in returns.iter().zip(walls).enumerate() {
        let metrics: Vec<String> = (0..n_metrics)
            .map(|m| format!("{}", (m + 1) as f64 / (k + 1) as f64))
            .collect();
        s += &format!(
            "{},{w},{},{r},{r},{r},{r},{r},{r},{}\n",
            ITERS[k],
            3000 + 51 * ITERS[k],
            metrics.join(",")
        );
    }
    s
}

/// train.csv: a row per 1 000 iterations, 500 policy updates each, pg_ms 10 + row.
fn train_csv(wall_end: f64) -> String {
    let mut s = format!("{TRAIN_HEADER}\n");
    for k in 1..=6 {
        s += &format!(
            "{},{},{},1.0,0.5,,0.1,0.2,0,0,500,0,0,{},1.0,0.3\n",
            1000 * k,
            wall_end * k as f64 / 6.0,
            3000 + 51000 * k,
            10 + k
        );
    }
    s
}

struct Spec<'a> {
    task: Task,
    algo: Algo,
    seed: u64,
    returns: [f64; 3],
    walls: [f64; 3],
    learners: usize,
    variant: Option<&'a str>,
}

fn folder_name(s: &Spec) -> String {
    match s.variant {
        Some(v) => format!("{}__{}__{v}__s{}", s.task, s.algo, s.seed),
        None => format!("{}__{}__s{}", s.task, s.algo, s.seed),
    }
}

fn write_run(root: &Path, s: &Spec) -> PathBuf {
    let dir = root.join(folder_name(s));
    std::fs::create_dir_all(&dir).unwrap();
    let w = |f: &str, text: &str| std::fs::write(dir.join(f), text).unwrap();
    w("config.toml", &config(s.task, s.algo, s.seed, s.learners));
    w("provenance.toml", PROVENANCE);
    w("eval.csv", &eval_csv(s.task, &s.returns, &s.walls));
    w("train.csv", &train_csv(s.walls[2]));
    w("status", "finished\n");
    if s.learners > 1 {
        // 210 gradients per learner: the first 200 of each are dropped (spec §5); every third
        // row carries no policy gradient (pg_ms empty)
        let g = gradients_csv(s.learners, 315, |l, k| {
            (k % 3 != 2).then_some(20.0 + l as f64)
        });
        w("gradients.csv", &g);
    }
    dir
}

/// A gradients.csv with `rows` gradients per learner, `pg(learner, row)` their pg_ms (empty
/// where `None`: a gradient without a policy part).
fn gradients_csv(learners: usize, rows: usize, pg: impl Fn(usize, usize) -> Option<f64>) -> String {
    let mut g = "iteration,learner,version,staleness,pg_ms,q_grad_ms\n".to_string();
    for l in 0..learners {
        for k in 0..rows {
            let pg = pg(l, k).map_or(String::new(), |x| format!("{x}"));
            g += &format!("{k},{l},{k},1,{pg},2.0\n");
        }
    }
    g
}

fn spec(task: Task, algo: Algo, seed: u64, returns: [f64; 3], walls: [f64; 3]) -> Spec<'static> {
    Spec {
        task,
        algo,
        seed,
        returns,
        walls,
        learners: 1,
        variant: None,
    }
}

/// The matrix of the hand computations below, plus one folder per malformed case.
fn matrix(root: &Path) {
    use Algo::*;
    use Task::*;
    // A: path tracking, TD3, 5 seeds
    let a = [
        ([-500.0, -40.0, -20.0], [1.0, 100.0, 200.0]),
        ([-600.0, -25.0, -10.0], [1.0, 150.0, 300.0]),
        ([-400.0, -60.0, -28.0], [1.0, 90.0, 170.0]),
        ([-700.0, -100.0, -50.0], [1.0, 80.0, 160.0]),
        ([-550.0, -29.0, -15.0], [1.0, 120.0, 260.0]),
    ];
    for (seed, (r, w)) in a.into_iter().enumerate() {
        write_run(root, &spec(PathTracking, Td3, seed as u64, r, w));
    }
    // B: path tracking, MPG-v2, 3 seeds, asynchronous with 2 learners; 2 reach the goal
    for (seed, r) in [
        [-300.0, -25.0, -20.0],
        [-300.0, -45.0, -35.0],
        [-300.0, -40.0, -29.0],
    ]
    .into_iter()
    .enumerate()
    {
        write_run(
            root,
            &Spec {
                learners: 2,
                ..spec(PathTracking, MpgV2, seed as u64, r, [1.0, 50.0, 100.0])
            },
        );
    }
    // C: a variant cell with one run
    write_run(
        root,
        &Spec {
            variant: Some("q1"),
            ..spec(
                PathTracking,
                Td3,
                0,
                [-500.0, -100.0, -5.0],
                [1.0, 10.0, 20.0],
            )
        },
    );
    // D: pendulum, TD3, 2 seeds
    write_run(
        root,
        &spec(
            InvertedPendulum,
            Td3,
            0,
            [-50.0, -3.0, -1.0],
            [1.0, 5.0, 9.0],
        ),
    );
    write_run(
        root,
        &spec(
            InvertedPendulum,
            Td3,
            1,
            [-40.0, -2.5, -1.5],
            [1.0, 6.0, 10.0],
        ),
    );

    // malformed or partial folders, each a copy of a good run with one defect
    let bad = |name: &str, edit: &dyn Fn(&Path)| {
        let dir = write_run(
            &root.join("bad").join(name),
            &spec(PathTracking, Sac, 7, [-1.0, -1.0, -1.0], [1.0, 2.0, 3.0]),
        );
        edit(&dir);
    };
    let put = |f: &'static str, text: &'static str| {
        move |d: &Path| std::fs::write(d.join(f), text).unwrap()
    };
    bad(
        "unparseable-config",
        &put("config.toml", "algo = \"td3\"\nthis is not toml\n"),
    );
    bad("old-schema", &|d: &Path| {
        let mut text = std::fs::read_to_string(d.join("config.toml")).unwrap();
        text.insert_str(0, "replay_ratio = 3\n");
        std::fs::write(d.join("config.toml"), text).unwrap();
    });
    bad("no-eval", &|d: &Path| {
        std::fs::remove_file(d.join("eval.csv")).unwrap()
    });
    bad("empty-eval", &|d: &Path| {
        let text = std::fs::read_to_string(d.join("eval.csv")).unwrap();
        let header = text.lines().next().unwrap().to_string();
        std::fs::write(d.join("eval.csv"), header + "\n").unwrap();
    });
    bad("ragged", &|d: &Path| {
        let mut text = std::fs::read_to_string(d.join("eval.csv")).unwrap();
        text += "9000,4.0,1\n";
        std::fs::write(d.join("eval.csv"), text).unwrap();
    });
    bad("non-numeric", &|d: &Path| {
        let text = std::fs::read_to_string(d.join("eval.csv")).unwrap();
        std::fs::write(d.join("eval.csv"), text.replacen(",-1,", ",abc,", 1)).unwrap();
    });
    bad(
        "failed",
        &put("status", "failed: 100 non-finite gradients in a row\n"),
    );
    bad("running", &put("status", "running\n"));
    bad("partial", &|d: &Path| {
        let text = std::fs::read_to_string(d.join("eval.csv")).unwrap();
        let lines: Vec<&str> = text.lines().take(3).collect();
        std::fs::write(d.join("eval.csv"), lines.join("\n") + "\n").unwrap();
    });
    // a second copy of a cell and seed, as merged folders from two machines may hold
    write_run(
        &root.join("zz-copy"),
        &spec(PathTracking, Td3, 0, [-1.0, -1.0, -1.0], [1.0, 2.0, 3.0]),
    );
}

/// table1.csv as (task, algo, variant) → column → value.
fn table1(out: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut rd = csv::Reader::from_path(out.join("table1.csv")).unwrap();
    let h: Vec<String> = rd.headers().unwrap().iter().map(String::from).collect();
    rd.records()
        .map(|r| {
            h.iter()
                .cloned()
                .zip(r.unwrap().iter().map(String::from))
                .collect()
        })
        .collect()
}

fn row<'a>(
    rows: &'a [std::collections::BTreeMap<String, String>],
    task: &str,
    algo: &str,
    variant: &str,
) -> &'a std::collections::BTreeMap<String, String> {
    rows.iter()
        .find(|r| r["task"] == task && r["algo"] == algo && r["variant"] == variant)
        .unwrap_or_else(|| panic!("no row {task} {algo} {variant}"))
}

fn num(r: &std::collections::BTreeMap<String, String>, col: &str) -> f64 {
    r[col]
        .parse()
        .unwrap_or_else(|_| panic!("{col} = '{}' is not a number", r[col]))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9 * (1.0 + b.abs())
}

fn options(root: &Path) -> Options {
    Options {
        runs: root.to_path_buf(),
        out: None,
        require_complete: false,
        goals: Goals::default(),
        fig6_runs: None,
        notes: None,
        readme: None,
        readme_block: "quick".into(),
        expected: None,
        beside: None,
    }
}

fn png_size(path: &Path) -> (u32, u32, usize) {
    let bytes = std::fs::read(path).unwrap_or_else(|_| panic!("{} missing", path.display()));
    assert_eq!(&bytes[1..4], b"PNG", "{}", path.display());
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    (w, h, bytes.len())
}

#[test]
fn table1_matches_the_hand_computed_values_and_bad_folders_are_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    matrix(root);
    let summary = build(&options(root)).unwrap();
    assert_eq!(summary.runs, 5 + 3 + 1 + 2, "every good run, each once");
    assert_eq!(summary.cells, 4);
    let out = root.join("report");
    let rows = table1(&out);

    // A (path tracking, TD3). Smoothed per run, s0 = v0, s_k = 0.2 s_{k-1} + 0.8 v_k:
    //   s0: -500, -132, -42.4     s1: -600, -140, -36     s2: -400, -128, -48
    //   s3: -700, -220, -84       s4: -550, -133.2, -38.64
    // means: -550, -150.64, -49.808 → best at 6000: -49.808, sample std 19.638134330938875
    let a = row(&rows, "path-tracking", "td3", "");
    assert_eq!(a["runs"], "5");
    assert_eq!(a["seeds"], "0 1 2 3 4");
    assert_eq!(a["asymptotic_iteration"], "6000");
    assert!(close(num(a, "asymptotic_mean"), -49.808));
    assert!(close(num(a, "asymptotic_sample_std"), 19.638134330938875));
    // first raw return > -30: s0 6000 (200 s), s1 3000 (150 s), s2 6000 (170 s), s3 never,
    // s4 3000 (120 s). 3 fastest in iterations 3000, 3000, 6000: mean 4000, population std
    // sqrt(((-1000)² + (-1000)² + 2000²)/3) = 1414.2135623730951; in seconds 120, 150, 170:
    // mean 146.666…, population std 20.548046676563256
    assert_eq!(a["reached"], "4");
    assert!(close(num(a, "convergence_iterations_mean"), 4000.0));
    assert!(close(
        num(a, "convergence_iterations_population_std"),
        1414.213562373095
    ));
    assert!(close(num(a, "convergence_seconds_mean"), 440.0 / 3.0));
    assert!(close(
        num(a, "convergence_seconds_population_std"),
        20.548046676563256
    ));
    // final returns -20, -10, -28, -50, -15 → sorted -50 -28 -20 -15 -10, IQM of the middle
    // three: -21
    assert!(close(num(a, "final_iqm"), -21.0));
    let (lo, hi) = (num(a, "final_iqm_ci_low"), num(a, "final_iqm_ci_high"));
    assert!(
        (-50.0..=-21.0).contains(&lo) && (-21.0..=-10.0).contains(&hi) && lo < hi,
        "{lo} {hi}"
    );

    // B (MPG-v2, 3 runs): only seeds 0 (3000) and 2 (6000, -29 > -30) reach the goal: "—".
    // Smoothed: s0 -300, -80, -32; s1 -300, -96, -47.2; s2 -300, -92, -41.6; the best mean is
    // at 6000: (-32 - 47.2 - 41.6)/3
    let b = row(&rows, "path-tracking", "mpg-v2", "");
    assert_eq!(b["reached"], "2");
    assert_eq!(b["convergence_iterations_mean"], "");
    assert_eq!(b["convergence_seconds_mean"], "");
    assert!(close(
        num(b, "asymptotic_mean"),
        (-32.0 - 47.2 - 41.6) / 3.0
    ));
    // final -20, -35, -29: n = 3 trims nothing, IQM = mean = -28
    assert!(close(num(b, "final_iqm"), -28.0));

    // C (variant q1, one run): smoothed -500, -180, -40; no sample std; 1 of 1 reaches: "—"
    let c = row(&rows, "path-tracking", "td3", "q1");
    assert!(close(num(c, "asymptotic_mean"), -40.0));
    assert_eq!(c["asymptotic_sample_std"], "");
    assert_eq!(c["reached"], "1");
    assert_eq!(c["convergence_iterations_mean"], "");

    // D (pendulum, TD3): final -1, -1.5 → IQM -1.25; goal -2: -3 and -2.5 at 3000 do not beat
    // it, -1 and -1.5 at 6000 do: both runs reach it
    let d = row(&rows, "inverted-pendulum", "td3", "");
    assert!(close(num(d, "final_iqm"), -1.25));
    assert_eq!(d["reached"], "2");

    // across tasks, TD3: finals / |base score| = path -20/30 -10/30 -28/30 -50/30 -15/30 and
    // pendulum -1/2 -1.5/2; 7 pooled, cut 1 each end: (-28/30 - 0.75 - 20/30 - 0.5 - 0.5)/5
    // = -3.35/5 = -0.67
    let all = row(&rows, "all", "td3", "");
    assert_eq!(all["final_scale"], "per-base-score");
    assert_eq!(all["runs"], "7");
    assert!(close(num(all, "final_iqm"), -0.67));
    let (lo, hi) = (num(all, "final_iqm_ci_low"), num(all, "final_iqm_ci_high"));
    assert!(lo <= -0.67 && -0.67 <= hi && lo >= -50.0 / 30.0 && hi <= -10.0 / 30.0);

    // the Markdown shows the same numbers, "mean ± 2·std" and "—"
    let md = std::fs::read_to_string(out.join("table1.md")).unwrap();
    assert!(
        md.contains("| TD3 | 5 | -49.81 ± 39.28 | 6000 | 4000 ± 2828 | 147 ± 41 | 4/5 |"),
        "{md}"
    );
    assert!(
        md.contains("| MPG-v2 | 3 |") && md.contains("| — | — | 2/3 |"),
        "{md}"
    );
    assert!(md.contains("| TD3 [q1] | 1 | -40.00 (one run) |"), "{md}");

    // every malformed folder is named with its reason, and nothing else is left out
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    let rejected: Vec<(String, String)> = summary
        .rejected
        .iter()
        .map(|r| (r.name.clone(), r.reason.clone()))
        .collect();
    for (folder, why) in [
        ("unparseable-config", "config.toml"),
        ("old-schema", "replay_ratio"),
        ("no-eval", "eval.csv missing"),
        ("empty-eval", "eval.csv has no rows"),
        ("ragged", "ragged"),
        ("non-numeric", "'abc' is not a number"),
        (
            "failed",
            "status is 'failed: 100 non-finite gradients in a row'",
        ),
        ("running", "status is 'running'"),
        ("partial", "ends at iteration 3000 of 6000"),
        ("zz-copy", "duplicate of path-tracking__td3__s0"),
    ] {
        let hit = rejected
            .iter()
            .find(|(n, _)| n.contains(folder))
            .unwrap_or_else(|| panic!("{folder} not reported: {rejected:?}"));
        assert!(hit.1.contains(why), "{folder}: {}", hit.1);
        assert!(
            report.contains(&format!("`{}` | {}", hit.0, hit.1)),
            "{folder} not in report.md"
        );
    }
    assert_eq!(rejected.len(), 10, "{rejected:?}");
    for part in [
        "## Machine",
        "| Test CPU 3000 | 2 | 1 | 11 |",
        "| abc1234 | 0.1.0 | 0.26.0 | 2.9.0 | 11 |",
        "`trainer`",
        "Total training time",
    ] {
        assert!(report.contains(part), "report.md lacks {part}:\n{report}");
    }

    // the figures: produced, drawn (not an empty canvas), of the documented size
    for (file, size) in [
        ("fig4_path-tracking.png", (1000, 600)),
        ("fig4_path-tracking_wallclock.png", (1000, 600)),
        ("fig5_inverted-pendulum.png", (1000, 600)),
        ("fig5_inverted-pendulum_wallclock.png", (1000, 600)),
        ("fig6_path-tracking.png", (1000, 900)),
        ("fig6_inverted-pendulum.png", (1000, 900)),
        ("metrics_path-tracking.png", (1000, 1500)),
        ("metrics_inverted-pendulum.png", (1000, 1200)),
    ] {
        let (w, h, bytes) = png_size(&out.join(file));
        assert_eq!((w, h), size, "{file}");
        assert!(bytes > 15_000, "{file}: {bytes} bytes, an empty canvas?");
        assert!(report.contains(&format!("]({file})")), "{file} not linked");
    }
    // no temporary files left behind
    let stray: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");

    // a second report gives the same table (fixed bootstrap seeds)
    let before = std::fs::read(out.join("table1.csv")).unwrap();
    build(&options(root)).unwrap();
    assert_eq!(before, std::fs::read(out.join("table1.csv")).unwrap());
}

#[test]
fn require_complete_names_every_bad_folder() {
    let dir = tempfile::tempdir().unwrap();
    matrix(dir.path());
    let e = build(&Options {
        require_complete: true,
        ..options(dir.path())
    })
    .err()
    .expect("an error");
    assert!(e.is::<InputProblem>(), "{e}");
    let msg = e.to_string();
    for folder in ["ragged", "partial", "running", "zz-copy"] {
        assert!(msg.contains(folder), "{msg}");
    }
    assert!(!dir.path().join("report").exists(), "nothing written");
    // nothing usable at all is an input error too
    let empty = tempfile::tempdir().unwrap();
    let e = build(&options(empty.path())).err().expect("an error");
    assert!(e.is::<InputProblem>() && e.to_string().contains("no complete run folder"));
}

#[test]
fn a_single_run_folder_reports_itself() {
    let dir = tempfile::tempdir().unwrap();
    let run = write_run(
        dir.path(),
        &spec(
            Task::InvertedPendulum,
            Algo::Sac,
            3,
            [-100.0, -1.0, -0.5],
            [1.0, 2.0, 3.0],
        ),
    );
    let s = build(&options(&run)).unwrap();
    assert_eq!((s.runs, s.cells), (1, 1));
    assert!(s.rejected.is_empty());
    let rows = table1(&run.join("report"));
    // one run: smoothed -100, 0.2·-100 + 0.8·-1 = -20.8, 0.2·-20.8 + 0.8·-0.5 = -4.56, its best
    assert!(close(num(&rows[0], "asymptotic_mean"), -4.56));
    // the first evaluation is below Fig. 5's y-limits: said under the figure
    let md = std::fs::read_to_string(run.join("report/report.md")).unwrap();
    assert!(
        md.contains("outside the paper's y-limits (-60, 5) and is cut off: SAC."),
        "{md}"
    );
    // the report folder inside the run is not mistaken for a run on the next report
    assert!(build(&options(&run)).unwrap().rejected.is_empty());
}

/// A finished path-tracking TD3 run with flat returns (a cell that only has to be there).
fn write_td3(root: &Path, seed: u64) -> PathBuf {
    write_run(
        root,
        &spec(
            Task::PathTracking,
            Algo::Td3,
            seed,
            [-9.0, -8.0, -7.0],
            [1.0, 2.0, 3.0],
        ),
    )
}

/// The staleness section pools each cell's gradients.csv (every row, no warm-up dropped) and the
/// wall-clock section lists every run's own time.
#[test]
fn staleness_is_pooled_per_cell_and_every_run_has_its_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut runs = Vec::new();
    for seed in 0..2 {
        let mut s = spec(
            Task::PathTracking,
            Algo::MpgV2,
            seed,
            [-100.0, -10.0, -5.0],
            [1.0, 50.0, 100.0 + seed as f64 * 20.0],
        );
        s.learners = 3;
        runs.push(write_run(dir.path(), &s));
    }
    // seed 0: staleness 0..=9 once each; seed 1: ten gradients of staleness 30
    let rows = |d: &dyn Fn(usize) -> usize| {
        let mut g = "iteration,learner,version,staleness,pg_ms,q_grad_ms\n".to_string();
        for k in 0..10 {
            g += &format!("{k},0,{k},{},,1.0\n", d(k));
        }
        g
    };
    std::fs::write(runs[0].join("gradients.csv"), rows(&|k| k)).unwrap();
    std::fs::write(runs[1].join("gradients.csv"), rows(&|_| 30)).unwrap();
    // a cell without gradients.csv has no row
    write_td3(dir.path(), 0);
    build(&options(dir.path())).unwrap();
    let md = std::fs::read_to_string(dir.path().join("report/report.md")).unwrap();
    let sec = &md[md
        .find("## Staleness of the applied gradients")
        .expect("no section")..];
    // 20 values, 0..=9 and ten 30s: mean (45 + 300) / 20 = 17.25; p95 at sorted index
    // 0.95·19 = 18.05 → 30; p50 at 9.5, halfway from 9 to 30 = 19.5 → "20"; p5 at 0.95 → "1"
    assert!(
        sec.contains("| Path tracking | MPG-v2 | 2 of 2 | 20 | 17.25 | 1 / 20 / 30 | 30 |"),
        "{sec}"
    );
    assert!(!sec.contains("| TD3 |"), "{sec}");
    // every run's own time (the last wall_s): seed 1's 120 s, seed 0's 100 s, TD3's 3 s
    let its = |name: &str| {
        md.lines()
            .find(|l| l.starts_with(&format!("| `{name}` |")))
            .unwrap_or_else(|| panic!("no row for {name}: {md}"))
            .to_string()
    };
    assert!(
        its("path-tracking__mpg-v2__s1").contains("| 2.0 min |"),
        "{md}"
    );
    assert!(
        its("path-tracking__mpg-v2__s0").contains("| 1.7 min |"),
        "{md}"
    );
    assert!(its("path-tracking__td3__s0").contains("| 3.0 s |"), "{md}");
    // and cell by cell: MPG-v2's median of 100 s and 120 s, its 6 000 iterations at 16.7 and
    // 20.0 ms, 220 of the 223 s in all
    assert!(
        md.contains(
            "| Path tracking | MPG-v2 | 2 | 1.8 min | 1.7 min – 2.0 min | 18.3 | 3.7 min | 99 % |"
        ),
        "{md}"
    );
    assert!(
        md.contains("| Path tracking | TD3 | 1 | 3.0 s | 3.0 s – 3.0 s | 0.5 | 3.0 s | 1 % |"),
        "{md}"
    );
}

/// With the profile's matrix given, the report lists the cells still missing runs and the
/// README block says how many there are; a complete matrix says so.
#[test]
fn an_incomplete_matrix_is_marked_cell_by_cell() {
    use mpg_harness::report::Expected;
    use mpg_harness::report::load::GroupKey;
    let dir = tempfile::tempdir().unwrap();
    let pt = |algo| GroupKey {
        task: Task::PathTracking,
        algo,
        variant: None,
    };
    // the matrix: path-tracking TD3 and SAC, seeds 0–2; here: TD3 seeds 0 and 2, SAC none,
    // and a run outside the matrix (TD3 seed 7)
    for seed in [0, 2, 7] {
        write_td3(dir.path(), seed);
    }
    let expected = |algos: &[Algo]| Expected {
        profile: "mine".into(),
        runs: algos
            .iter()
            .flat_map(|&a| (0..3).map(move |s| (pt(a), s)))
            .collect(),
    };
    let readme = dir.path().join("README.md");
    std::fs::write(&readme, "# P\n").unwrap();
    build(&Options {
        expected: Some(expected(&[Algo::Td3, Algo::Sac])),
        readme: Some(readme.clone()),
        ..options(dir.path())
    })
    .unwrap();
    let md = std::fs::read_to_string(dir.path().join("report/report.md")).unwrap();
    let sec = &md[md.find("## The matrix so far").expect("no section")..];
    assert!(
        sec.contains("The profile `mine` has 6 runs; present here: 2. 2 cells still miss runs"),
        "{sec}"
    );
    assert!(
        sec.contains("| Path tracking | TD3 | 2 of 3 | 1 |"),
        "{sec}"
    );
    assert!(
        sec.contains("| Path tracking | SAC | 0 of 3 | 0 1 2 |"),
        "{sec}"
    );
    assert!(
        sec.contains("1 runs here are not in the profile's matrix"),
        "{sec}"
    );
    // TD3's missing seed at its cell's median (3 s each here); SAC's three cannot be estimated
    assert!(
        sec.contains("the 4 runs to come take about 3.0 s of training, not counting 3 runs of cells with no run here yet."),
        "{sec}"
    );
    let text = std::fs::read_to_string(&readme).unwrap();
    assert!(
        text.contains(
            "(3 complete runs in 1 cells of the matrix's 6; **2 cells are still incomplete**"
        ),
        "{text}"
    );
    // TD3 alone, seeds 0-2, is still missing seed 1; with seed 1 written it is complete
    write_td3(dir.path(), 1);
    build(&Options {
        expected: Some(expected(&[Algo::Td3])),
        readme: Some(readme.clone()),
        ..options(dir.path())
    })
    .unwrap();
    let md = std::fs::read_to_string(dir.path().join("report/report.md")).unwrap();
    assert!(md.contains("present here: 3, the whole matrix."), "{md}");
    assert!(!md.contains("| TD3 | 3 of 3"), "{md}");
    let text = std::fs::read_to_string(&readme).unwrap();
    assert!(text.contains("cells, the whole matrix of 3;"), "{text}");
}

#[test]
fn policy_gradient_times_drop_the_first_200_per_learner() {
    let dir = tempfile::tempdir().unwrap();
    let s = Spec {
        learners: 2,
        ..spec(
            Task::PathTracking,
            Algo::MpgV2,
            0,
            [-1.0, -1.0, -1.0],
            [1.0, 2.0, 3.0],
        )
    };
    let run = read_run(&write_run(dir.path(), &s), "x").unwrap();
    assert_eq!(run.learners, 2);
    // per learner 315 rows, 210 with a pg_ms (every third empty): 10 kept each, 20.0 and 21.0
    let t = pg_times(&run);
    assert_eq!(t.len(), 20);
    assert_eq!(t.iter().filter(|&&x| x == 20.0).count(), 10);
    assert_eq!(t.iter().filter(|&&x| x == 21.0).count(), 10);
    // without gradients.csv: train.csv's interval means, dropping the rows that hold the first
    // 200 policy gradients (row 1 holds 500: rows 2–6 stay, pg_ms 12…16)
    std::fs::remove_file(run.dir.join("gradients.csv")).unwrap();
    let run = read_run(&run.dir, "x").unwrap();
    assert_eq!(pg_times(&run), vec![12.0, 13.0, 14.0, 15.0, 16.0]);
}

/// A committed copy of a run (`results/quick/runs`: config.toml, provenance.toml and eval.csv
/// only) gives the same Table I row as the whole folder; its throughput comes from eval.csv.
#[test]
fn a_committed_copy_without_train_csv_and_status_reports_like_the_run() {
    let full = tempfile::tempdir().unwrap();
    let copy = tempfile::tempdir().unwrap();
    let s = spec(
        Task::PathTracking,
        Algo::MpgV2,
        1,
        [-500.0, -40.0, -20.0],
        [1.0, 2.0, 3.0],
    );
    let dir = write_run(full.path(), &s);
    let kept = copy.path().join(folder_name(&s));
    std::fs::create_dir_all(&kept).unwrap();
    for f in ["config.toml", "provenance.toml", "eval.csv"] {
        std::fs::copy(dir.join(f), kept.join(f)).unwrap();
    }
    let (a, b) = (
        build(&options(full.path())).unwrap(),
        build(&options(copy.path())).unwrap(),
    );
    assert_eq!((a.runs, b.runs), (1, 1));
    assert!(b.rejected.is_empty(), "{:?}", b.rejected);
    let (ta, tb) = (
        table1(&full.path().join("report")),
        table1(&copy.path().join("report")),
    );
    assert_eq!(ta, tb);
    // eval.csv: 6 000 iterations between wall 1 s and 3 s
    let run = read_run(&kept, "copy").unwrap();
    let tp = mpg_harness::report::figures::throughput(&run).unwrap();
    assert!(close(tp, 3000.0), "{tp}");
    // a status file that is present still has to say finished
    std::fs::write(kept.join("status"), "interrupted\n").unwrap();
    assert!(
        read_run(&kept, "copy")
            .unwrap_err()
            .contains("status is 'interrupted'")
    );
}

/// Path tracking, seeds 0 and 1 of every algorithm, with TD3's returns given. Smoothed
/// (0.2·prev + 0.8·v): MPG −500, −116, −31.2; n-step DPG s0 −500, −180, −52 and s1 −500, −180,
/// −56; SAC −500, −180, −76; n-step ADP −500, −132, −186.4 (best at 3 000).
fn claims_matrix(root: &Path, td3: [f64; 3]) {
    use Algo::*;
    for seed in [0, 1] {
        for (algo, returns) in [
            (MpgV1, [-500.0, -20.0, -10.0]),
            (MpgV2, [-500.0, -20.0, -10.0]),
            (
                Ndpg,
                [-500.0, -100.0, if seed == 0 { -20.0 } else { -25.0 }],
            ),
            (Nadp, [-500.0, -40.0, -200.0]),
            (Td3, td3),
            (Sac, [-500.0, -100.0, -50.0]),
        ] {
            write_run(
                root,
                &spec(Task::PathTracking, algo, seed, returns, [1.0, 2.0, 3.0]),
            );
        }
    }
}

/// The claims section judges each claim by its rule (docs/report.md): claims 1–3 supported on a
/// matrix built so, claim 4 "cannot tell" without pendulum runs, and claim 1 contradicted once
/// TD3 reaches the goal as early as MPG.
#[test]
fn the_claims_follow_their_rules() {
    let write = claims_matrix;
    let claims = |root: &Path| {
        build(&options(root)).unwrap();
        let md = std::fs::read_to_string(root.join("report/report.md")).unwrap();
        let verdict = |n: usize| {
            let line = md
                .lines()
                .find(|l| l.starts_with(&format!("| {n} | ")))
                .unwrap_or_else(|| panic!("no claim {n} in {md}"));
            line.rsplit("**").nth(1).unwrap().to_string()
        };
        ((1..=5).map(verdict).collect::<Vec<_>>(), md)
    };
    let a = tempfile::tempdir().unwrap();
    write(a.path(), [-500.0, -100.0, -50.0]);
    let (v, md) = claims(a.path());
    assert_eq!(
        &v[..4],
        ["supported", "supported", "supported", "cannot tell"],
        "{md}"
    );
    assert!(
        md.contains("MPG-v1: median first evaluation past -30 = 3000 (2 of 2 runs reach it)"),
        "{md}"
    );
    assert!(
        md.contains("n-step DPG: median first evaluation past -30 = 6000"),
        "{md}"
    );
    assert!(
        md.contains("TD3: median first evaluation past -30 = not reached"),
        "{md}"
    );
    assert!(
        md.contains("no runs of MPG-v1 on inverted-pendulum"),
        "{md}"
    );
    // train.csv's pg_ms are the same for every algorithm here: not "much longer"
    assert_eq!(v[4], "contradicted", "{md}");
    assert!(md.contains("policy gradient MPG-v2 / TD3 = 1.0×"), "{md}");

    let b = tempfile::tempdir().unwrap();
    write(b.path(), [-500.0, -20.0, -10.0]);
    let (v, md) = claims(b.path());
    assert_eq!(v[0], "contradicted", "{md}");
    // TD3 now shares MPG's asymptote: MPG is still "the best" (ties count), TD3 converges at
    // 6 000 like MPG, and n-step ADP is still first and lowest
    assert_eq!(&v[1..3], ["supported", "supported"], "{md}");
}

/// `--beside`: the claims judged on another folder of runs by the same rules, in a last column
/// marked where the verdict differs, with that rule as applied there under each claim; the
/// README block's table carries the column too. A folder without runs is an input error.
#[test]
fn the_claims_are_judged_beside_another_reading() {
    let write = claims_matrix;
    // here TD3 never reaches −30 (claim 1 supported); beside, it does at 3 000 like MPG
    let (here, there) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write(here.path(), [-500.0, -100.0, -50.0]);
    write(there.path(), [-500.0, -20.0, -10.0]);
    let readme = here.path().join("README.md");
    std::fs::write(&readme, "# x\n").unwrap();
    let opts = Options {
        beside: Some(there.path().to_path_buf()),
        readme: Some(readme.clone()),
        ..options(here.path())
    };
    build(&opts).unwrap();
    let md = std::fs::read_to_string(here.path().join("report/report.md")).unwrap();
    let row = |n: usize| {
        md.lines()
            .find(|l| l.starts_with(&format!("| {n} | ")))
            .unwrap_or_else(|| panic!("no claim {n} in {md}"))
            .to_string()
    };
    assert!(
        md.contains(&format!(
            "| # | Claim | Verdict | Leave one run out | At 6000 iterations (`{}`) |",
            there.path().display()
        )),
        "{md}"
    );
    assert!(
        row(1).ends_with("| **supported** | holds | contradicted (differs) |"),
        "{md}"
    );
    assert!(
        row(3).ends_with("| **supported** | holds | supported |"),
        "{md}"
    );
    assert!(
        md.contains(&format!(
            "The last column judges the 12 runs under `{}` (at 6000 iterations)",
            there.path().display()
        )),
        "{md}"
    );
    assert!(
        md.contains(&format!(
            "At 6000 iterations (`{}`): **contradicted**, a different verdict. Rule as applied there: ",
            there.path().display()
        )),
        "{md}"
    );
    assert!(md.contains("**supported**, the same."), "{md}");
    let block = std::fs::read_to_string(&readme).unwrap();
    assert!(block.contains(" contradicted (differs) |"), "{block}");

    // without --beside the table has four columns, as before
    build(&options(here.path())).unwrap();
    let md = std::fs::read_to_string(here.path().join("report/report.md")).unwrap();
    assert!(
        md.contains("| # | Claim | Verdict | Leave one run out |\n|---|---|---|---|\n"),
        "{md}"
    );
    assert!(!md.contains("(differs)"), "{md}");

    let empty = tempfile::tempdir().unwrap();
    let err = build(&Options {
        beside: Some(empty.path().to_path_buf()),
        ..options(here.path())
    })
    .err()
    .expect("an empty --beside folder is refused")
    .to_string();
    assert!(
        err.starts_with("--beside: no complete run folder under"),
        "{err}"
    );
}

/// Claim 3: a cell that never improves on its first evaluation has not "converged first".
#[test]
fn a_cell_that_never_improves_has_not_converged() {
    use Algo::*;
    let root = tempfile::tempdir().unwrap();
    for (algo, returns) in [
        (MpgV1, [-500.0, -20.0, -10.0]),
        (MpgV2, [-100.0, -900.0, -900.0]), // best at the start
        (Ndpg, [-500.0, -100.0, -20.0]),
        (Nadp, [-500.0, -40.0, -200.0]),
        (Td3, [-500.0, -100.0, -50.0]),
        (Sac, [-500.0, -100.0, -50.0]),
    ] {
        write_run(
            root.path(),
            &spec(Task::PathTracking, algo, 0, returns, [1.0, 2.0, 3.0]),
        );
    }
    build(&options(root.path())).unwrap();
    let md = std::fs::read_to_string(root.path().join("report/report.md")).unwrap();
    assert!(
        md.contains("MPG-v2: converged (90 % of the way to its best) at —"),
        "{md}"
    );
    // counted as converging at 0, MPG-v2 would beat n-step ADP (3 000) and contradict the claim;
    // not counted, n-step ADP is first and its asymptote (−132) the lowest (MPG-v2's best is
    // its start, −100)
    assert!(
        md.contains(
            "n-step ADP converges no later than any other algorithm and has the lowest asymptote"
        ),
        "{md}"
    );
}

/// Leave one run out: a verdict that one run decides is marked fragile with that run named, and
/// the others hold. Smoothed (0.2·prev + 0.8·v): MPG −500, −116, −31.2 (converges at 6 000);
/// n-step DPG −500, −180, −52; TD3/SAC −500, −180, −76; n-step ADP seeds 0–1 −500, −132, −62.4
/// and seed 2 −500, −132, −4 026. With seed 2 n-step ADP's mean curve is best at 3 000 (−132):
/// first to converge and the lowest asymptote, claim 3 supported. Without it its best is −62.4
/// at 6 000, above TD3's −76: contradicted. Without seed 0 or 1 its best is still −132 at 3 000.
#[test]
fn a_verdict_that_one_run_decides_is_marked_fragile() {
    use Algo::*;
    let root = tempfile::tempdir().unwrap();
    for seed in 0..3 {
        for (algo, returns) in [
            (MpgV1, [-500.0, -20.0, -10.0]),
            (MpgV2, [-500.0, -20.0, -10.0]),
            (Ndpg, [-500.0, -100.0, -20.0]),
            (
                Nadp,
                [-500.0, -40.0, if seed == 2 { -5000.0 } else { -45.0 }],
            ),
            (Td3, [-500.0, -100.0, -50.0]),
            (Sac, [-500.0, -100.0, -50.0]),
        ] {
            write_run(
                root.path(),
                &spec(Task::PathTracking, algo, seed, returns, [1.0, 2.0, 3.0]),
            );
        }
    }
    build(&options(root.path())).unwrap();
    let md = std::fs::read_to_string(root.path().join("report/report.md")).unwrap();
    let row = |n: usize| {
        md.lines()
            .find(|l| l.starts_with(&format!("| {n} | ")))
            .unwrap_or_else(|| panic!("no claim {n} in {md}"))
    };
    assert!(
        row(3).ends_with("| **supported** | fragile (1 of 18) |"),
        "{md}"
    );
    assert!(
        md.contains(
            "1 of the 18 runs decides it alone (without `path-tracking__nadp__s2`: contradicted)"
        ),
        "{md}"
    );
    // claim 1 (MPG first past −30 at 3 000, n-step DPG at 6 000) and claim 2 (MPG's std 0 is
    // not below n-step DPG's 0) do not depend on one run; claim 4 lacks the pendulum either way
    for n in [1, 2, 4] {
        assert!(row(n).ends_with("| holds |"), "claim {n}: {md}");
    }
    assert!(row(5).ends_with("| — |"), "{md}");
    assert!(
        md.contains("Leave one run out: the verdict stands without any one of the 18 runs."),
        "{md}"
    );
}

/// Claim 5 on Fig. 6 runs (`--fig6-runs`): the *median* policy-gradient time of MPG-v2 over
/// TD3's, then the best throughputs, with "cannot tell" only where the learners outnumber the
/// cores (2 in PROVENANCE).
#[test]
fn claim5_takes_the_median_time_and_the_best_throughput() {
    use Algo::*;
    let fig6 = |learners: usize, td3_walls: [f64; 3]| {
        let root = tempfile::tempdir().unwrap();
        for (algo, walls) in [(MpgV2, [1.0, 2.0, 3.0]), (Td3, td3_walls)] {
            let s = Spec {
                learners,
                variant: Some("lN"),
                ..spec(Task::PathTracking, algo, 0, [-1.0; 3], walls)
            };
            let dir = write_run(root.path(), &s);
            // per learner 200 warm-up gradients (dropped, spec §5), then 100 kept: MPG-v2
            // 10, 20, …, 1 000 ms (median 505, its 0.5th percentile 14.95), TD3 100 ms
            let g = gradients_csv(learners, 300, |_, k| {
                Some(match (algo, k) {
                    (_, 0..200) => 1e6,
                    (MpgV2, _) => 10.0 * (k - 199) as f64,
                    _ => 100.0,
                })
            });
            std::fs::write(dir.join("gradients.csv"), g).unwrap();
        }
        let opts = Options {
            fig6_runs: Some(root.path().to_path_buf()),
            ..options(root.path())
        };
        build(&opts).unwrap();
        let md = std::fs::read_to_string(root.path().join("report/report.md")).unwrap();
        let line = md.lines().find(|l| l.starts_with("| 5 | ")).unwrap();
        (line.rsplit("**").nth(1).unwrap().to_string(), md)
    };
    // train.csv: 5 000 iterations over 5/6 of the last wall: MPG-v2 2 000 it/s
    let (v, md) = fig6(4, [1.0, 2.0, 3.0]);
    assert!(
        md.contains("MPG-v2: median policy gradient 505.0 ms"),
        "{md}"
    );
    assert!(md.contains("policy gradient MPG-v2 / TD3 = 5.0×"), "{md}");
    assert_eq!(v, "supported", "{md}");
    // TD3 at 4 000 it/s: MPG-v2 reaches 50 %, with 4 learners on 2 cores
    let (v, md) = fig6(4, [0.5, 1.0, 1.5]);
    assert_eq!(v, "cannot tell", "{md}");
    assert!(md.contains("is 50 % of TD3's best"), "{md}");
    // the same with as many learners as cores: more learners could have added compute
    let (v, md) = fig6(2, [0.5, 1.0, 1.5]);
    assert_eq!(v, "contradicted", "{md}");
}

/// issue 23: `--out` inside a run folder would write the report into it and hide that run from
/// its own report; it is refused naming the run folder, and nothing is written.
#[test]
fn an_output_inside_a_run_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let a = write_run(
        root,
        &spec(
            Task::InvertedPendulum,
            Algo::Td3,
            0,
            [-50.0, -5.0, -1.0],
            [1.0, 2.0, 3.0],
        ),
    );
    write_run(
        root,
        &spec(
            Task::InvertedPendulum,
            Algo::Td3,
            1,
            [-40.0, -4.0, -1.5],
            [1.0, 2.0, 3.0],
        ),
    );
    for out in [a.clone(), a.join("rep"), a.join("rep/deeper")] {
        let e = build(&Options {
            out: Some(out.clone()),
            ..options(root)
        })
        .err()
        .unwrap_or_else(|| panic!("--out {} accepted", out.display()));
        assert!(e.is::<InputProblem>(), "{e:#}");
        let msg = e.to_string();
        assert!(
            msg.contains("inside the run folder")
                && msg.contains(&a.canonicalize().unwrap().display().to_string()),
            "{msg}"
        );
        assert!(
            !a.join("report.md").exists() && !a.join("rep").exists(),
            "nothing written"
        );
    }
    // beside the runs it is fine, and both runs are in it
    let s = build(&Options {
        out: Some(root.join("report")),
        ..options(root)
    })
    .unwrap();
    assert_eq!(s.runs, 2);
}

/// issue 23: runs of one cell whose configs differ (here 6 000 against 12 000 iterations, and
/// the same seed) are an error naming both folders and the key — neither pooled into one
/// Table I cell nor dropped as a "duplicate".
#[test]
fn runs_of_one_cell_with_different_configs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let s = spec(
        Task::InvertedPendulum,
        Algo::Td3,
        0,
        [-50.0, -5.0, -1.0],
        [1.0, 2.0, 3.0],
    );
    write_run(&root.join("a"), &s);
    let long = write_run(&root.join("b"), &s);
    // the same run stretched to twice the iterations
    let cfg = std::fs::read_to_string(long.join("config.toml")).unwrap();
    std::fs::write(
        long.join("config.toml"),
        cfg.replace("iterations = 6000", "iterations = 12000"),
    )
    .unwrap();
    let eval = std::fs::read_to_string(long.join("eval.csv")).unwrap();
    let eval: String = eval
        .lines()
        .enumerate()
        .map(|(k, l)| match k {
            0 => format!("{l}\n"),
            _ => {
                let (_, rest) = l.split_once(',').unwrap();
                format!("{},{rest}\n", 6000 * (k - 1))
            }
        })
        .collect();
    std::fs::write(long.join("eval.csv"), eval).unwrap();
    let e = build(&options(root))
        .err()
        .expect("two configs in one cell refused");
    assert!(e.is::<InputProblem>(), "{e:#}");
    let msg = e.to_string();
    let a = format!("a{}inverted-pendulum__td3__s0", std::path::MAIN_SEPARATOR);
    let b = format!("b{}inverted-pendulum__td3__s0", std::path::MAIN_SEPARATOR);
    assert!(
        msg.contains(&a) && msg.contains(&b) && msg.contains("differ in: iterations"),
        "{msg}"
    );
    assert!(!root.join("report").exists(), "nothing written");
    // the same config on another seed, and the intra-op threads differing, are one cell
    let other = spec(
        Task::InvertedPendulum,
        Algo::Td3,
        1,
        [-40.0, -4.0, -1.0],
        [1.0, 2.0, 3.0],
    );
    std::fs::remove_dir_all(root.join("b")).unwrap();
    let c = write_run(&root.join("b"), &other);
    let cfg = std::fs::read_to_string(c.join("config.toml")).unwrap();
    assert!(cfg.contains("\nthreads = 1\n"), "{cfg}");
    std::fs::write(
        c.join("config.toml"),
        cfg.replace("\nthreads = 1\n", "\nthreads = 2\n"),
    )
    .unwrap();
    let s = build(&options(root)).unwrap();
    assert_eq!((s.runs, s.cells), (2, 1));
}

/// report.html: one file with every table and figure of report.md inline (base64 PNG), no
/// `src`/`href` pointing outside the page; `--readme` splices the summary between its markers.
#[test]
fn report_html_is_self_contained_and_the_readme_block_is_spliced() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("runs");
    for seed in 0..3 {
        let r = -(seed as f64) * 1000.0;
        write_run(
            &root,
            &spec(
                Task::PathTracking,
                Algo::Td3,
                seed,
                [-900.0, -40.0 + r, -20.0 + r],
                [1.0, 2.0, 3.0],
            ),
        );
        write_run(
            &root,
            &spec(
                Task::InvertedPendulum,
                Algo::Sac,
                seed,
                [-50.0, -5.0, -1.0 + r],
                [1.0, 2.0, 3.0],
            ),
        );
    }
    let readme = dir.path().join("README.md");
    std::fs::write(
        &readme,
        "# Project\n\nabove\n\n<!-- quick-report:start -->\nstale\n<!-- quick-report:end -->\n\nbelow\n",
    )
    .unwrap();
    let s = build(&Options {
        readme: Some(readme.clone()),
        ..options(&root)
    })
    .unwrap();
    let out = root.join("report");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(s.files.contains(&"report.html".to_string()));
    // every figure of report.md, inline
    let figures: Vec<&str> = md
        .lines()
        .filter_map(|l| l.strip_prefix("!["))
        .map(|l| l.rsplit_once("](").unwrap().1.trim_end_matches(')'))
        .collect();
    assert!(figures.len() >= 8, "{figures:?}");
    for f in [
        "fig4_path-tracking_runs.png",
        "fig5_inverted-pendulum_runs.png",
        "metrics_path-tracking_runs.png",
    ] {
        assert!(figures.contains(&f), "{f} in report.md: {figures:?}");
        let (w, h, _) = png_size(&out.join(f));
        assert!(w >= 500 && h >= 300, "{f}: {w}×{h}");
    }
    for f in &figures {
        let b64 = mpg_harness::report::html::base64(&std::fs::read(out.join(f)).unwrap());
        assert!(
            html.contains(&format!("data:image/png;base64,{b64}\"")),
            "{f} inline"
        );
    }
    assert_eq!(html.matches("<img ").count(), figures.len());
    // every table: a markdown table starts with a header row followed by its rule
    let lines: Vec<&str> = md.lines().collect();
    let tables = lines
        .windows(2)
        .filter(|w| w[0].starts_with('|') && w[1].starts_with("|---"))
        .count();
    assert!(tables >= 6, "{tables}");
    assert_eq!(html.matches("<table>").count(), tables);
    assert!(html.contains("The paper&#39;s claims") || html.contains("The paper's claims"));
    // nothing outside the page: every src is data:, every href an anchor that exists
    for attr in ["src=\"", "href=\""] {
        for part in html.split(attr).skip(1) {
            let v = &part[..part.find('"').unwrap()];
            match attr {
                "src=\"" => assert!(v.starts_with("data:image/png;base64,"), "{v}"),
                _ => {
                    assert!(v.starts_with('#'), "{v}");
                    assert!(html.contains(&format!("id=\"{}\"", &v[1..])), "anchor {v}");
                }
            }
        }
    }
    assert!(!html.contains("<script") && !html.contains("<link"));
    // the README: the block replaced, the text around it kept, links relative to the README
    let text = std::fs::read_to_string(&readme).unwrap();
    assert!(
        text.starts_with("# Project\n\nabove\n\n<!-- quick-report:start -->\n"),
        "{text}"
    );
    assert!(
        text.ends_with("<!-- quick-report:end -->\n\nbelow\n"),
        "{text}"
    );
    assert!(!text.contains("stale"));
    assert!(
        text.contains(
            "From [`runs/report/report.md`](runs/report/report.md) (6 complete runs in 2 cells"
        ),
        "{text}"
    );
    assert!(
        text.contains("#### Path tracking") && text.contains("| # | Claim | Verdict |"),
        "{text}"
    );
    assert!(
        text.contains("| ![fig4_path-tracking](runs/report/fig4_path-tracking.png) | ![fig4_path-tracking_runs](runs/report/fig4_path-tracking_runs.png) |"),
        "{text}"
    );
}
