//! The fast path's kernels, one thread (docs/performance.md, "Kernels"):
//!
//! * `gemm/{shape}/{backend}`: one product `c = op(a)·op(b)` on each backend of
//!   `mpg_algos::fast::gemm` (`matrixmultiply`, `gemm`), on the shapes the learners use at batch
//!   256 and the actor's batch 1; criterion's throughput is in FLOP (2·m·k·n), so its
//!   "elem/s" reads as FLOP/s. `peak-1024` is a large square product, the single-core sgemm
//!   peak the roofline in docs/performance.md is drawn against.
//! * `pool/join`: the round trip of handing an empty part to a parked worker and waiting for
//!   it (what splitting a step costs on top of the work).
//!
//! `taskset -c 0 cargo bench -p mpg-algos --bench kernels` (pin for the products; the pool
//! needs two cores); one: `… --bench kernels -- 'gemm/256x256x256/'`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mpg_algos::fast::gemm::{Backend, gemm_with};
use mpg_algos::fast::pool;
use std::hint::black_box;
use std::time::Duration;

/// A deterministic matrix with entries in [−1, 1).
fn matrix(len: usize, seed: u32) -> Vec<f32> {
    (0..len)
        .map(|i| {
            ((i as u32).wrapping_mul(2_654_435_761) ^ seed) as f32 / u32::MAX as f32 * 2.0 - 1.0
        })
        .collect()
}

/// (name, m, k, n, a transposed, b transposed): op(a) is [m, k], op(b) is [k, n].
const SHAPES: [(&str, usize, usize, usize, bool, bool); 12] = [
    // forward, first layer: [256×5]·[5×256] (path tracking's 5 observations)
    ("256x5x256", 256, 5, 256, false, false),
    // forward, hidden layer
    ("256x256x256", 256, 256, 256, false, false),
    // forward, a critic's output layer
    ("256x256x1", 256, 256, 1, false, false),
    // forward, the policy's output layer (mean, log std of 2 actions)
    ("256x256x4", 256, 256, 4, false, false),
    // backward of a critic's output layer: dX = G·Wᵀ ([256×1]·[1×256]), dW = Xᵀ·G
    ("dX-256x1x256t", 256, 1, 256, false, true),
    ("dW-256tx256x1", 256, 256, 1, true, false),
    // backward dW = Xᵀ·G: [256×256]ᵀ·[256×256]
    ("dW-256tx256x256", 256, 256, 256, true, false),
    // backward dX = G·Wᵀ (W stored [in, out], so op(b) = W transposed)
    ("dX-256x256x256t", 256, 256, 256, false, true),
    // the actor: batch 1
    ("1x256x256", 1, 256, 256, false, false),
    ("1x5x256", 1, 5, 256, false, false),
    // the H = 25 rollout steps stacked: [6400×256]·[256×256]
    ("6400x256x256", 6400, 256, 256, false, false),
    ("peak-1024", 1024, 1024, 1024, false, false),
];

fn products(c: &mut Criterion) {
    for (name, m, k, n, a_t, b_t) in SHAPES {
        let mut group = c.benchmark_group(format!("gemm/{name}"));
        group.throughput(Throughput::Elements((2 * m * k * n) as u64));
        let (a, b) = (matrix(m * k, 1), matrix(k * n, 2));
        let mut out = vec![0.0f32; m * n];
        for backend in Backend::ALL {
            group.bench_function(backend.name(), |bench| {
                bench.iter(|| {
                    gemm_with(backend, m, k, n, 1.0, &a, a_t, &b, b_t, 0.0, &mut out);
                    black_box(&out);
                })
            });
        }
        group.finish();
    }
}

fn pool_join(c: &mut Criterion) {
    c.bench_function("pool/join", |bench| {
        bench.iter(|| pool::join(2, || black_box(1), || black_box(2)))
    });
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .without_plots()
}

criterion_group! {
    name = benches;
    config = config();
    targets = products, pool_join
}
criterion_main!(benches);
