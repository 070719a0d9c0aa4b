//! The paper's claims, one by one, against the runs: each claim gets a verdict — supported,
//! contradicted, or cannot tell — decided by a stated rule from Table I's rows and Fig. 6's
//! timings, with the numbers behind it (docs/report.md, "The claims"). The rules are fixed in
//! code so that a report of other runs is judged the same way; the reasons for a verdict that
//! the numbers alone cannot give (model error, settings) go into a notes file that the report
//! prints under the verdicts.

use super::curves;
use super::figures::{pg_times, throughput};
use super::load::{GroupKey, Run};
use super::stats::{mean, median, sorted};
use super::table1::{self, Goals, Row, Table1, base_score};
use mpg_algos::Algo;
use mpg_envs::Task;
use std::collections::BTreeMap;
use std::fmt::Write as _;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Supports,
    Contradicts,
    CannotTell,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Supports => "supported",
            Verdict::Contradicts => "contradicted",
            Verdict::CannotTell => "cannot tell",
        }
    }
}

/// One claim: its text, the verdict, why (the rule as applied), the numbers.
#[derive(Clone, Debug)]
pub struct Claim {
    pub number: usize,
    pub text: &'static str,
    pub verdict: Verdict,
    pub reason: String,
    pub numbers: Vec<String>,
    /// Leave one run out: the runs whose removal alone changes the verdict, each with the
    /// verdict it turns to; `None` where the claim was not re-judged (claim 5 reads Fig. 6's
    /// timings, not the learning runs).
    pub fragile: Option<Vec<(String, Verdict)>>,
}

impl Claim {
    /// "Cannot tell" with no reason yet: each claim's rule fills it in.
    fn new(number: usize, text: &'static str) -> Claim {
        Claim {
            number,
            text,
            verdict: Verdict::CannotTell,
            reason: String::new(),
            numbers: Vec::new(),
            fragile: None,
        }
    }
}

/// A policy-gradient speed ratio at or above this counts as "much longer" (claim 5).
pub const MUCH_LONGER: f64 = 3.0;
/// "Brings its throughput to theirs": at least this share of the data-driven methods' (claim 5).
pub const SAME_THROUGHPUT: f64 = 0.9;
/// A group converges where its smoothed mean curve first covers this share of the way from its
/// first evaluation to its best (claim 3).
pub const CONVERGED_SHARE: f64 = 0.9;

/// Base-model plain runs only: the claims are about the algorithms as the profile runs them.
fn plain(rows: &[Row], task: Task, algo: Algo) -> Option<&Row> {
    rows.iter()
        .find(|r| r.key.task == task && r.key.algo == algo && r.key.variant.is_none())
}

fn runs_of<'a>(
    groups: &'a BTreeMap<GroupKey, Vec<&'a Run>>,
    task: Task,
    algo: Algo,
) -> Option<&'a Vec<&'a Run>> {
    groups.get(&GroupKey {
        task,
        algo,
        variant: None,
    })
}

/// Median over runs of the first evaluation iteration beating `goal`, a run that never does
/// counting as +∞ (so the median is finite only when most runs get there).
fn median_hit(runs: &[&Run], goal: f64) -> f64 {
    let hits: Vec<f64> = runs
        .iter()
        .map(|r| {
            let it = r.eval.values("iteration");
            let ret = r.eval.values("mean_return");
            (0..ret.len())
                .find(|&k| ret[k] > goal)
                .map_or(f64::INFINITY, |k| it[k])
        })
        .collect();
    // the mean of two infinities is infinite, of a finite and an infinite one too
    median(&sorted(&hits))
}

fn iters(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.0}")
    } else {
        "not reached".into()
    }
}

fn spread(r: &Row) -> String {
    match r.asymptotic.std {
        Some(s) => format!("{:.1} ± {:.1}", r.asymptotic.mean, 2.0 * s),
        None => format!("{:.1} (one run)", r.asymptotic.mean),
    }
}

fn label(a: Algo) -> String {
    GroupKey {
        task: Task::PathTracking,
        algo: a,
        variant: None,
    }
    .label()
}

/// The evaluation iteration where a group's mean smoothed curve first covers
/// [`CONVERGED_SHARE`] of the way from its first value to its best; `None` for a group that
/// never improves on its first evaluation.
fn converged_at(runs: &[&Run]) -> Option<u64> {
    let c = curves::smoothed(runs, "mean_return")?;
    let m: Vec<f64> = (0..c.iterations.len()).map(|k| mean(&c.at(k))).collect();
    let best = m.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if best <= m[0] {
        return None; // never better than at the start: nothing converged
    }
    let target = m[0] + CONVERGED_SHARE * (best - m[0]);
    m.iter().position(|&v| v >= target).map(|k| c.iterations[k])
}

/// Every algorithm on `task`.
fn every(task: Task) -> Vec<(Task, Algo)> {
    Algo::ALL.iter().map(|&a| (task, a)).collect()
}

fn missing(what: &[(Task, Algo)], rows: &[Row]) -> Option<String> {
    let gone: Vec<String> = what
        .iter()
        .filter(|(t, a)| plain(rows, *t, *a).is_none())
        .map(|(t, a)| format!("{} on {}", label(*a), t.name()))
        .collect();
    (!gone.is_empty()).then(|| format!("no runs of {}", gone.join(", ")))
}

/// Claim 1: on path tracking MPG (v1 and v2) reaches the base score in fewer iterations than
/// n-step DPG, TD3 and SAC.
fn claim1(t1: &Table1, groups: &BTreeMap<GroupKey, Vec<&Run>>) -> Claim {
    use Algo::*;
    let task = Task::PathTracking;
    let goal = t1.goals.of(task);
    let mpg = [MpgV1, MpgV2];
    let others = [Ndpg, Td3, Sac];
    let mut claim = Claim::new(
        1,
        "On path tracking, MPG (v1 and v2) reaches the base score in fewer iterations than n-step DPG, TD3 and SAC.",
    );
    let all: Vec<(Task, Algo)> = mpg.iter().chain(&others).map(|&a| (task, a)).collect();
    if let Some(m) = missing(&all, &t1.rows) {
        claim.reason = m;
        return claim;
    }
    let hit = |a: Algo| median_hit(runs_of(groups, task, a).unwrap(), goal);
    for &a in mpg.iter().chain(&others) {
        let rs = runs_of(groups, task, a).unwrap();
        claim.numbers.push(format!(
            "{}: median first evaluation past {goal} = {} ({} of {} runs reach it)",
            label(a),
            iters(hit(a)),
            plain(&t1.rows, task, a).unwrap().reached,
            rs.len()
        ));
    }
    let slowest_mpg = mpg.iter().map(|&a| hit(a)).fold(0.0, f64::max);
    let fastest_other = others.iter().map(|&a| hit(a)).fold(f64::INFINITY, f64::min);
    (claim.verdict, claim.reason) = if !slowest_mpg.is_finite() && !fastest_other.is_finite() {
        (
            Verdict::CannotTell,
            "neither MPG version nor any data-driven method reaches the goal in most runs".into(),
        )
    } else if slowest_mpg < fastest_other {
        (
            Verdict::Supports,
            format!(
                "the slower MPG version's median ({}) is below the fastest data-driven method's ({})",
                iters(slowest_mpg),
                iters(fastest_other)
            ),
        )
    } else {
        (
            Verdict::Contradicts,
            format!(
                "the slower MPG version's median ({}) is not below the fastest data-driven method's ({})",
                iters(slowest_mpg),
                iters(fastest_other)
            ),
        )
    };
    claim
}

/// Claim 2: MPG's asymptotic return on path tracking is the best, with a smaller variance than
/// n-step DPG's.
fn claim2(t1: &Table1) -> Claim {
    use Algo::*;
    let task = Task::PathTracking;
    let mut claim = Claim::new(
        2,
        "MPG's asymptotic return on path tracking is the best, with smaller variance than n-step DPG.",
    );
    let rows: Vec<&Row> = Algo::ALL
        .iter()
        .filter_map(|&a| plain(&t1.rows, task, a))
        .collect();
    // "the best" is among all six
    if let Some(m) = missing(&every(task), &t1.rows) {
        claim.reason = m;
        return claim;
    }
    for r in &rows {
        claim.numbers.push(format!(
            "{}: asymptotic (best mean smoothed return, mean ± 2·std) {} at {}",
            r.key.label(),
            spread(r),
            r.asymptotic_iteration
        ));
    }
    let best_mpg = [MpgV1, MpgV2]
        .iter()
        .map(|&a| plain(&t1.rows, task, a).unwrap().asymptotic.mean)
        .fold(f64::NEG_INFINITY, f64::max);
    let best_other = rows
        .iter()
        .filter(|r| !matches!(r.key.algo, MpgV1 | MpgV2))
        .map(|r| r.asymptotic.mean)
        .fold(f64::NEG_INFINITY, f64::max);
    let is_best = best_mpg >= best_other;
    let std = |a: Algo| plain(&t1.rows, task, a).unwrap().asymptotic.std;
    let variance = match (std(MpgV1), std(MpgV2), std(Ndpg)) {
        (Some(v1), Some(v2), Some(n)) => Some(v1.max(v2) < n),
        _ => None,
    };
    (claim.verdict, claim.reason) = match (is_best, variance) {
        (false, _) => (
            Verdict::Contradicts,
            format!(
                "the best MPG asymptote ({best_mpg:.1}) is below a data-driven method's ({best_other:.1})"
            ),
        ),
        (true, Some(true)) => (
            Verdict::Supports,
            format!(
                "MPG's asymptote ({best_mpg:.1}) is the best and both MPG versions' spread is below n-step DPG's"
            ),
        ),
        (true, Some(false)) => (
            Verdict::Contradicts,
            format!(
                "MPG's asymptote ({best_mpg:.1}) is the best, but an MPG version's spread is not below n-step DPG's"
            ),
        ),
        (true, None) => (
            Verdict::CannotTell,
            format!(
                "MPG's asymptote ({best_mpg:.1}) is the best; the variance needs two runs or more per cell"
            ),
        ),
    };
    claim
}

/// Claim 3: n-step ADP converges fast but to the worst asymptotic return.
fn claim3(t1: &Table1, groups: &BTreeMap<GroupKey, Vec<&Run>>) -> Claim {
    let task = Task::PathTracking;
    let mut claim = Claim::new(
        3,
        "n-step ADP converges fast but to the worst asymptotic return (model error).",
    );
    let present: Vec<Algo> = Algo::ALL
        .iter()
        .copied()
        .filter(|&a| plain(&t1.rows, task, a).is_some())
        .collect();
    // "the worst" and "fast" are among all six
    if let Some(m) = missing(&every(task), &t1.rows) {
        claim.reason = m;
        return claim;
    }
    let conv = |a: Algo| converged_at(runs_of(groups, task, a).unwrap());
    for &a in &present {
        let r = plain(&t1.rows, task, a).unwrap();
        claim.numbers.push(format!(
            "{}: converged (90 % of the way to its best) at {}, asymptote {}",
            label(a),
            conv(a).map_or("—".into(), |i| i.to_string()),
            spread(r)
        ));
    }
    let nadp = plain(&t1.rows, task, Algo::Nadp).unwrap().asymptotic.mean;
    let worst = present
        .iter()
        .filter(|&&a| a != Algo::Nadp)
        .all(|&a| plain(&t1.rows, task, a).unwrap().asymptotic.mean > nadp);
    let others: Vec<f64> = present
        .iter()
        .filter(|&&a| a != Algo::Nadp)
        .filter_map(|&a| conv(a).map(|i| i as f64))
        .collect();
    let fast = match (conv(Algo::Nadp), others.is_empty()) {
        (Some(n), false) => n as f64 <= sorted(&others)[0],
        _ => false,
    };
    (claim.verdict, claim.reason) = match (fast, worst) {
        (true, true) => (
            Verdict::Supports,
            "n-step ADP converges no later than any other algorithm and has the lowest asymptote"
                .into(),
        ),
        (true, false) => (
            Verdict::Contradicts,
            "n-step ADP converges first, but its asymptote is not the lowest".into(),
        ),
        (false, true) => (
            Verdict::Contradicts,
            "n-step ADP has the lowest asymptote, but another algorithm converges earlier".into(),
        ),
        (false, false) => (
            Verdict::Contradicts,
            "n-step ADP neither converges first nor has the lowest asymptote".into(),
        ),
    };
    claim
}

/// Claim 4: on the pendulum MPG-v2 is the best; MPG-v1 and n-step DPG fail.
fn claim4(t1: &Table1) -> Claim {
    use Algo::*;
    let task = Task::InvertedPendulum;
    let base = base_score(task);
    let mut claim = Claim::new(
        4,
        "On the pendulum, MPG-v2 is the best; MPG-v1 and n-step DPG fail.",
    );
    if let Some(m) = missing(&every(task), &t1.rows) {
        claim.reason = m;
        return claim;
    }
    let rows: Vec<&Row> = Algo::ALL
        .iter()
        .filter_map(|&a| plain(&t1.rows, task, a))
        .collect();
    for r in &rows {
        claim.numbers.push(format!(
            "{}: asymptote {}, IQM of the final returns {:.1}",
            r.key.label(),
            spread(r),
            r.final_iqm
        ));
    }
    let v2 = plain(&t1.rows, task, MpgV2).unwrap().asymptotic.mean;
    let best = rows
        .iter()
        .filter(|r| r.key.algo != MpgV2)
        .all(|r| r.asymptotic.mean <= v2);
    // "fails": where the runs end, the typical (IQM) return is below the base score
    let fails = |a: Algo| plain(&t1.rows, task, a).unwrap().final_iqm < base;
    let (f1, fn_) = (fails(MpgV1), fails(Ndpg));
    claim.verdict = if best && f1 && fn_ {
        Verdict::Supports
    } else {
        Verdict::Contradicts
    };
    claim.reason = format!(
        "MPG-v2's asymptote {} the best; MPG-v1 {} and n-step DPG {} (a failure: final IQM below the base score {base})",
        if best { "is" } else { "is not" },
        if f1 { "fails" } else { "does not fail" },
        if fn_ { "fails" } else { "does not fail" },
    );
    claim
}

/// Claim 5: MPG's policy gradient takes much longer than the data-driven ones, and enough
/// learners bring its update throughput to theirs (Fig. 6), from the runs of `fig6`.
fn claim5(fig6: &BTreeMap<GroupKey, Vec<&Run>>) -> Claim {
    use Algo::*;
    let task = Task::PathTracking;
    let mut claim = Claim::new(
        5,
        "MPG's policy gradient takes much longer than the data-driven ones, and enough learners bring its update throughput to theirs (Fig. 6).",
    );
    let median_pg = |a: Algo| -> Option<f64> {
        let t: Vec<f64> = runs_of(fig6, task, a)?
            .iter()
            .flat_map(|r| pg_times(r))
            .collect();
        (!t.is_empty()).then(|| median(&sorted(&t)))
    };
    // mean throughput per learner count
    let tp = |a: Algo| -> BTreeMap<usize, f64> {
        let mut by: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
        for r in runs_of(fig6, task, a).map(|v| v.as_slice()).unwrap_or(&[]) {
            if let Some(x) = throughput(r) {
                by.entry(r.learners).or_default().push(x);
            }
        }
        by.into_iter().map(|(n, v)| (n, mean(&v))).collect()
    };
    let cores = fig6
        .values()
        .flatten()
        .filter_map(|r| r.sessions.first()?.get("cores")?.as_integer())
        .max();
    for a in Algo::ALL {
        if runs_of(fig6, task, a).is_none() {
            continue;
        }
        let t = tp(a)
            .iter()
            .map(|(n, x)| format!("{x:.1} it/s with {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        claim.numbers.push(format!(
            "{}: median policy gradient {}; throughput {}",
            label(a),
            median_pg(a).map_or("—".into(), |m| format!("{m:.1} ms")),
            if t.is_empty() { "—".into() } else { t }
        ));
    }
    let (Some(pg_mpg), Some(pg_td3)) = (median_pg(MpgV2), median_pg(Td3)) else {
        claim.reason = "needs policy-gradient times of MPG-v2 and TD3 (train.csv or gradients.csv of the scaling runs)".into();
        return claim;
    };
    let ratio = pg_mpg / pg_td3;
    let much_longer = ratio >= MUCH_LONGER;
    let best = |a: Algo| tp(a).into_iter().max_by(|x, y| x.1.total_cmp(&y.1));
    let (Some((n_mpg, x_mpg)), Some((_, x_td3))) = (best(MpgV2), best(Td3)) else {
        claim.reason = format!("policy gradient MPG-v2 / TD3 = {ratio:.1}×; no throughput");
        return claim;
    };
    let share = x_mpg / x_td3;
    let most_learners = tp(MpgV2).keys().copied().max().unwrap_or(1);
    let text = format!(
        "policy gradient MPG-v2 / TD3 = {ratio:.1}× (\"much longer\": ≥ {MUCH_LONGER}×); MPG-v2's best throughput ({x_mpg:.1} it/s, {n_mpg} learners) is {:.0} % of TD3's best ({x_td3:.1})",
        100.0 * share
    );
    (claim.verdict, claim.reason) = if !much_longer {
        (Verdict::Contradicts, text)
    } else if share >= SAME_THROUGHPUT {
        (Verdict::Supports, text)
    } else if cores.is_some_and(|c| (most_learners as i64) > c) {
        (
            Verdict::CannotTell,
            format!(
                "{text}; the learners outnumber the {} cores, so more learners cannot add compute here",
                cores.unwrap()
            ),
        )
    } else {
        (Verdict::Contradicts, text)
    };
    claim
}

/// Claims 1–4: they read Table I and the learning runs, so they are the ones leaving a run out
/// can change.
fn learning_claims(t1: &Table1, groups: &BTreeMap<GroupKey, Vec<&Run>>) -> [Claim; 4] {
    [
        claim1(t1, groups),
        claim2(t1),
        claim3(t1, groups),
        claim4(t1),
    ]
}

/// Every claim, claims 1–4 with their leave-one-out check: each run of `groups` is left out in
/// turn, Table I recomputed without it and the claims judged again. With five seeds one run
/// can decide a mean (an outlier seed turned claim 3 in the `quick` matrix), and a reader
/// should see that from the verdict, not only from the notes.
pub fn all(
    t1: &Table1,
    groups: &BTreeMap<GroupKey, Vec<&Run>>,
    fig6: &BTreeMap<GroupKey, Vec<&Run>>,
    goals: Goals,
) -> Vec<Claim> {
    let mut claims: Vec<Claim> = learning_claims(t1, groups).into();
    let mut flips: [Vec<(String, Verdict)>; 4] = Default::default();
    // the claims read plain cells only (`plain`): leaving out a variant's run changes nothing
    for (key, runs) in groups.iter().filter(|(k, _)| k.variant.is_none()) {
        for (i, run) in runs.iter().enumerate() {
            let mut without = groups.clone();
            let cell = without.get_mut(key).expect("a key of groups");
            cell.remove(i);
            if cell.is_empty() {
                without.remove(key);
            }
            let t1 = table1::compute(&without, goals);
            for ((c, again), f) in claims
                .iter()
                .zip(learning_claims(&t1, &without))
                .zip(&mut flips)
            {
                if again.verdict != c.verdict {
                    f.push((run.name.clone(), again.verdict));
                }
            }
        }
    }
    for (c, f) in claims.iter_mut().zip(flips) {
        c.fragile = Some(f);
    }
    claims.push(claim5(fig6));
    claims
}

/// The leave-one-out line under a claim, and the summary table's cell.
fn robustness(c: &Claim, runs: usize) -> (String, String) {
    match &c.fragile {
        None => (
            "not re-judged (it reads Fig. 6's timings)".into(),
            "—".into(),
        ),
        Some(f) if f.is_empty() => (
            format!("the verdict stands without any one of the {runs} runs"),
            "holds".into(),
        ),
        Some(f) => {
            let list: Vec<String> = f
                .iter()
                .map(|(name, v)| format!("without `{name}`: {}", v.label()))
                .collect();
            (
                format!(
                    "**fragile** — {} of the {runs} runs decide{} it alone ({})",
                    f.len(),
                    if f.len() == 1 { "s" } else { "" },
                    list.join("; ")
                ),
                format!("fragile ({} of {runs})", f.len()),
            )
        }
    }
}

/// The same rules applied to another reading of the matrix (`mpg report --beside`: the
/// `quick` profile's 20 000-update runs beside the `paper` profile's 100 000), listed beside
/// each verdict so that a verdict that changes with the runs' length shows in the table.
pub struct Beside {
    /// The folder as the user named it.
    pub dir: String,
    pub runs: usize,
    /// The longest run's iterations there.
    pub iterations: u64,
    pub claims: Vec<Claim>,
}

impl Beside {
    fn of(&self, c: &Claim) -> Option<&Claim> {
        self.claims.iter().find(|b| b.number == c.number)
    }

    /// The verdict there, marked where it differs from `c`'s.
    fn cell(&self, c: &Claim) -> String {
        match self.of(c) {
            None => "—".into(),
            Some(b) if b.verdict == c.verdict => b.verdict.label().into(),
            Some(b) => format!("{} (differs)", b.verdict.label()),
        }
    }
}

/// The claims' table: number, claim, verdict, leave-one-out robustness, and the verdict on the
/// runs `beside` when given (report.md and the README's block).
pub fn summary_table(claims: &[Claim], runs: usize, beside: Option<&Beside>) -> String {
    let mut md = String::from("| # | Claim | Verdict | Leave one run out |");
    match beside {
        Some(b) => {
            let _ = write!(
                md,
                " At {} iterations (`{}`) |\n|---|---|---|---|---|\n",
                b.iterations, b.dir
            );
        }
        None => md += "\n|---|---|---|---|\n",
    }
    for c in claims {
        let (_, cell) = robustness(c, runs);
        let _ = write!(
            md,
            "| {} | {} | **{}** | {cell} |",
            c.number,
            c.text,
            c.verdict.label()
        );
        if let Some(b) = beside {
            let _ = write!(md, " {} |", b.cell(c));
        }
        md += "\n";
    }
    md
}

/// The report's section: a summary table, each claim with its numbers (and its verdict on the
/// runs `beside`), then `notes` (the hand-written reasons) when given.
pub fn markdown(
    claims: &[Claim],
    runs: usize,
    iterations: Option<u64>,
    notes: Option<&str>,
    beside: Option<&Beside>,
) -> String {
    let mut md = String::from("## The paper's claims\n\n");
    if let Some(n) = iterations {
        let _ = writeln!(
            md,
            "Judged on these runs as they stand, at {n} iterations; \"cannot tell\" where the runs do not decide it. The rules are in docs/report.md (\"The claims\").\n"
        );
    }
    if let Some(b) = beside {
        let _ = writeln!(
            md,
            "The last column judges the {} runs under `{}` (at {} iterations) by the same rules; under each claim, that verdict's rule as applied there.\n",
            b.runs, b.dir, b.iterations
        );
    }
    let robust: Vec<(String, String)> = claims.iter().map(|c| robustness(c, runs)).collect();
    md += &summary_table(claims, runs, beside);
    md += "\n";
    for (c, (line, _)) in claims.iter().zip(&robust) {
        let _ = writeln!(md, "### Claim {}: {}\n", c.number, c.verdict.label());
        let _ = writeln!(md, "{}\n\nRule as applied: {}.\n", c.text, c.reason);
        for n in &c.numbers {
            let _ = writeln!(md, "- {n}");
        }
        let _ = writeln!(md, "\nLeave one run out: {line}.");
        if let Some((b, there)) = beside.and_then(|b| Some((b, b.of(c)?))) {
            let _ = writeln!(
                md,
                "\nAt {} iterations (`{}`): **{}**{}. Rule as applied there: {}.",
                b.iterations,
                b.dir,
                there.verdict.label(),
                if there.verdict == c.verdict {
                    ", the same"
                } else {
                    ", a different verdict"
                },
                there.reason
            );
        }
        md += "\n";
    }
    if let Some(notes) = notes {
        md += "### Why: notes on the verdicts\n\n";
        md += notes.trim();
        md += "\n\n";
    }
    md
}
