# mpg tasks. From a fresh clone, call these through `scripts/just RECIPE`, which installs
# libtorch (and `just` itself) into the checkout first; afterwards plain `just RECIPE` works.

set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes
default:
    @{{just_executable()}} --list --justfile {{justfile()}}

# Install libtorch into .venv (idempotent; seconds on a second run)
setup:
    scripts/setup.sh

# (results/runs/demo is replaced on each demo run)
# The main job on a small default: MPG-v2 learns the pendulum in 1000 updates (1–2 min on 2 cores)
demo: setup
    cargo build --release --quiet
    rm -rf results/runs/demo
    target/release/mpg train --algo mpg-v2 --task inverted-pendulum --iterations 1000 --set eval.interval=250 --out results/runs/demo

# The spec §5 linear controller driving 4096 path-tracking vehicles: mean return and simulator throughput
demo-sim: setup
    cargo run --release --quiet -- env rollout --task path-tracking --policy linear --agents 4096 --steps 200 --threads 2

# The test suite CI runs (each test in its own process: tch's seed and threads are process-wide), then the Python package's tests
test: setup test-py
    cargo nextest run --workspace --no-fail-fast

# Build the Python package's wheel (mpg-tasks, crates/mpg-py) with maturin and install it into .venv-py with numpy, gymnasium and pytest (idempotent; seconds on a second run)
py:
    #!/usr/bin/env bash
    set -euo pipefail
    [[ -x .venv-py/bin/python ]] || python3 -m venv .venv-py
    if [[ ! -f .venv-py/.tools-ok ]]; then
        .venv-py/bin/python -m pip install --quiet --upgrade pip
        .venv-py/bin/python -m pip install --quiet "maturin>=1.7,<2" "numpy>=1.21" "gymnasium>=1.0" pytest
        touch .venv-py/.tools-ok
    fi
    rm -rf target/wheels/py && mkdir -p target/wheels/py
    # A fixed timestamp makes the wheel reproducible, so an unchanged one is not reinstalled.
    SOURCE_DATE_EPOCH=315532800 .venv-py/bin/maturin build --quiet --release --strip --manifest-path crates/mpg-py/Cargo.toml --out target/wheels/py
    wheel=$(ls target/wheels/py/mpg_tasks-*.whl)
    sum=$(sha256sum "$wheel" | cut -d' ' -f1)
    if [[ "$(cat .venv-py/.wheel-sha256 2>/dev/null)" != "$sum" ]]; then
        .venv-py/bin/python -m pip install --quiet --force-reinstall --no-deps "$wheel"
        echo "$sum" > .venv-py/.wheel-sha256
    fi
    echo "installed $(basename "$wheel") into .venv-py ($(du -k "$wheel" | cut -f1) KiB)"

# The Python package's tests (pytest, crates/mpg-py/tests) against the `mpg` binary's `env step`
test-py: py
    cargo build --quiet --bin mpg
    MPG_BIN=target/debug/mpg .venv-py/bin/python -m pytest -q crates/mpg-py/tests

# Formatting and lints, as CI checks them
lint: setup
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# CI: the tests, then formatting and lints
ci: test lint

# Criterion benchmarks of the simulators (throughput at 256 and 4096 agents, 1 and 2 threads)
bench-sim: setup
    cargo bench -p mpg-envs --bench sim

# Criterion benchmarks of the learners (gradient and update times, six algorithms, both tasks; docs/performance.md)
bench-learners: setup
    cargo bench -p mpg-algos --bench learners

# Ours beside the anchors (JAX MPG gradient, sbx TD3/SAC) on 1 pinned core and 2 threads, plus n-step ADP over MPG-v2 and the under-load ratio, against the issue-27 targets; peers installed into $HOME/anchors-venv on first use
bench-anchors: setup
    scripts/bench-anchors.sh

# Training speed idle and beside a CPU hog on every core, iterations/s and ratio (issue 23: threads must not spin); ARGS: mpg binaries to compare
bench-load *ARGS: setup
    cargo build --release --quiet
    scripts/bench-under-load.sh {{ARGS}}

# All criterion benchmarks
bench-perf: setup
    cargo bench --workspace

# Compare performance with a git revision in one sitting: criterion ratios (fails above 10 %) and simulator instruction counts under callgrind (fails above 1 %); options: scripts/bench-perf-compare.sh --help
bench-perf-compare REV *ARGS: setup
    scripts/bench-perf-compare.sh {{REV}} {{ARGS}}

# The paper's protocol (profile `paper`: 60 runs of 100 000 updates, the asynchronous learners emulated in one deterministic thread, D21; `--profile paper-async` for the real threads): the cells not yet committed under results/paper/runs, then its report in results/paper/report and README.md's `paper` block; resumable; ARGS e.g. --jobs 2; estimate first with `target/release/mpg bench --profile paper --dry-run --calibrate 200`
bench-all *ARGS: setup
    cargo build --release --quiet
    target/release/mpg bench --profile paper --done results/paper/runs {{ARGS}}
    target/release/mpg bench --profile paper --collect results/paper/runs --train
    target/release/mpg report --runs results/paper/runs --out results/paper/report --profile paper $([ -f results/paper/notes.md ] && echo --notes results/paper/notes.md) $([ -d results/scaling/runs ] && echo --fig6-runs results/scaling/runs) $([ -d results/quick/runs ] && echo --beside results/quick/runs) --readme README.md

# The first 20 000 updates of the paper's protocol (profile `quick`), then its report in results/quick and README.md's results block
bench-quick *ARGS: setup
    cargo build --release --quiet
    target/release/mpg bench --profile quick --done results/quick/runs {{ARGS}}
    target/release/mpg bench --profile quick --collect results/quick/runs
    target/release/mpg report --runs results/quick/runs --out results/quick/report --profile quick --notes results/quick/notes.md $([ -d results/scaling/runs ] && echo --fig6-runs results/scaling/runs) --readme README.md

# Fig. 6: path tracking, six algorithms × 1, 2, 4 learners (profile `scaling`), then the report; one run at a time (its timings are the point), alone on the machine
bench-fig6 *ARGS: setup
    cargo build --release --quiet
    target/release/mpg bench --profile scaling --jobs 1 --done results/scaling/runs {{ARGS}}
    target/release/mpg bench --profile scaling --collect results/scaling/runs --timings
    target/release/mpg report --runs results/scaling/runs --out results/scaling/report

# The bench → report path in seconds (profile `smoke`, as CI's end-to-end test); into results/bench/smoke
bench-smoke: setup
    cargo build --release --quiet
    target/release/mpg bench --profile smoke
    target/release/mpg report --runs results/bench/smoke

# Regenerate the default run configs under bench-configs/defaults/ from the typed config
configs: setup
    cargo build --release --quiet
    for a in mpg-v1 mpg-v2 ndpg nadp td3 sac; do for t in path-tracking inverted-pendulum; do target/release/mpg config --algo $a --task $t > bench-configs/defaults/${t}__${a}.toml; done; done

# Every learning test: the goals of spec §5 within measured budgets. Release build (the fast
# kernels in mpg-algos are opt-level 1 in the dev profile); it shares the deps of `mpg`'s build.
test-learning: setup
    cargo nextest run --release -p mpg-runner --test learning --run-ignored all --no-capture
