//! `mpg report`: Table I, Fig. 4–6, the tracking metrics, report.md and report.html from run folders
//! (docs/report.md).

use anyhow::Result;
use clap::Args;
use mpg_harness::report::load::GroupKey;
use mpg_harness::report::table1::Goals;
use mpg_harness::report::{Expected, InputProblem, Options, build};
use std::path::PathBuf;

#[derive(Args)]
pub struct ReportArgs {
    /// A folder of run folders (a bench matrix, folders merged from several machines) or one
    /// run folder
    #[arg(long, value_name = "DIR")]
    runs: PathBuf,
    /// Where to write table1.md, table1.csv, the PNGs and report.md [default: DIR/report]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Fail (exit 2) when any run folder is malformed, partial, failed or still running,
    /// instead of leaving it out and naming it in report.md
    #[arg(long)]
    require_complete: bool,
    /// Convergence goal on path tracking: raw evaluation return to beat (D12)
    #[arg(long, value_name = "RETURN", default_value_t = -30.0, allow_negative_numbers = true)]
    goal_path_tracking: f64,
    /// Convergence goal on the inverted pendulum (D12)
    #[arg(long, value_name = "RETURN", default_value_t = -2.0, allow_negative_numbers = true)]
    goal_pendulum: f64,
    /// Draw Fig. 6 and judge claim 5 from these run folders (the `scaling` profile's) instead
    /// of --runs
    #[arg(long, value_name = "DIR")]
    fig6_runs: Option<PathBuf>,
    /// A markdown file printed under the verdicts on the paper's claims: the reasons behind them
    #[arg(long, value_name = "FILE")]
    notes: Option<PathBuf>,
    /// Splice the report's summary (Table I, the claims' verdicts, Fig. 4–6) into FILE between
    /// `<!-- NAME-report:start -->` and `<!-- NAME-report:end -->` (appended when absent);
    /// NAME is --readme-block's
    #[arg(long, value_name = "FILE")]
    readme: Option<PathBuf>,
    /// The name of the README block that --readme replaces (letters, digits, '-', '_'), so that
    /// one README holds several reports [default: the folder above --out when --out is
    /// `…/NAME/report` (results/quick/report: quick; results/paper/report: paper), else
    /// `results`]
    #[arg(long, value_name = "NAME", requires = "readme")]
    readme_block: Option<String>,
    /// The benchmark profile the runs belong to (a name under bench-configs/profiles/ or a
    /// path): report.md lists the matrix's runs not yet here, by cell, and the README block says
    /// how many cells are still incomplete
    #[arg(long, value_name = "PROFILE")]
    profile: Option<String>,
    /// Judge the paper's claims on these run folders too, by the same rules, and list their
    /// verdicts beside (e.g. results/quick/runs, the 20 000-update reading, beside
    /// results/paper/runs)
    #[arg(long, value_name = "DIR")]
    beside: Option<PathBuf>,
}

/// `--readme-block`'s default: NAME of an `--out` of the form `…/NAME/report`.
fn default_block(out: Option<&std::path::Path>) -> String {
    out.filter(|o| o.file_name().is_some_and(|f| f == "report"))
        .and_then(|o| o.parent()?.file_name()?.to_str())
        .filter(|n| mpg_harness::report::readme::check_name(n).is_ok())
        .unwrap_or("results")
        .to_string()
}

pub fn report(a: ReportArgs) -> Result<()> {
    for (flag, v) in [
        ("--goal-path-tracking", a.goal_path_tracking),
        ("--goal-pendulum", a.goal_pendulum),
    ] {
        if !v.is_finite() {
            return Err(crate::input_err!("{flag} {v}: must be a finite return"));
        }
    }
    let expected = match &a.profile {
        Some(p) => {
            let profile = mpg_harness::bench::Profile::load(p)
                .map_err(|e| crate::input_err!("--profile {p}: {e}"))?;
            Some(Expected {
                profile: p.clone(),
                runs: mpg_harness::bench::cells(&profile)
                    .into_iter()
                    .map(|c| {
                        let key = GroupKey {
                            task: c.task,
                            algo: c.algo,
                            variant: c.variant,
                        };
                        (key, c.seed)
                    })
                    .collect(),
            })
        }
        None => None,
    };
    let readme_block = a
        .readme_block
        .unwrap_or_else(|| default_block(a.out.as_deref()));
    let summary = build(&Options {
        runs: a.runs,
        out: a.out,
        require_complete: a.require_complete,
        goals: Goals {
            path_tracking: a.goal_path_tracking,
            pendulum: a.goal_pendulum,
        },
        fig6_runs: a.fig6_runs,
        notes: a.notes,
        readme: a.readme.clone(),
        readme_block,
        expected,
        beside: a.beside,
    })
    .map_err(|e| match e.downcast::<InputProblem>() {
        Ok(p) => crate::input_err!("{p}"),
        Err(e) => e,
    })?;
    println!(
        "{} runs in {} cells; {} folders left out{}",
        summary.runs,
        summary.cells,
        summary.rejected.len(),
        if summary.rejected.is_empty() {
            ""
        } else {
            " (named in report.md):"
        }
    );
    for r in &summary.rejected {
        println!("  {}: {}", r.name, r.reason);
    }
    println!(
        "wrote {} files to {}; open {} (or {}, the same in one page)",
        summary.files.len(),
        summary.out.display(),
        summary.out.join("report.md").display(),
        summary.out.join("report.html").display()
    );
    if let Some(r) = &a.readme {
        println!("{}: the report's block spliced in", r.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::default_block;
    use std::path::Path;

    #[test]
    fn the_readme_block_is_named_after_the_folder_above_the_report() {
        let b = |o: &str| default_block(Some(Path::new(o)));
        assert_eq!(b("results/quick/report"), "quick");
        assert_eq!(b("results/paper/report"), "paper");
        assert_eq!(b("results/paper/report2"), "results");
        assert_eq!(b("report"), "results");
        assert_eq!(b("x/my dir/report"), "results");
        assert_eq!(default_block(None), "results");
    }
}
