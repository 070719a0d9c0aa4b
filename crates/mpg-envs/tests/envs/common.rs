//! Reading the golden CSV files shared by the simulator tests.

use std::collections::HashMap;

/// The repository's copy of `shared/golden/`.
pub fn golden_path(name: &str) -> String {
    format!("{}/../../tests/golden/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// All rows of a golden CSV as column name → value.
pub fn read_golden(name: &str) -> Vec<HashMap<String, f64>> {
    let mut rd = csv::Reader::from_path(golden_path(name)).expect("golden file");
    let headers = rd.headers().unwrap().clone();
    rd.records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.parse::<f64>().unwrap()))
                .collect()
        })
        .collect()
}

/// Columns `prefix0..prefix{n-1}` of a row.
pub fn cols(row: &HashMap<String, f64>, prefix: &str, n: usize) -> Vec<f64> {
    (0..n).map(|i| row[&format!("{prefix}{i}")]).collect()
}

/// The golden README's relative error: |ours − golden| / (|golden| + 1).
pub fn rel_err(ours: f64, golden: f64) -> f64 {
    (ours - golden).abs() / (golden.abs() + 1.0)
}

/// The golden files in the repository are byte-identical to `shared/golden/` where it exists.
#[test]
fn golden_copies_match_shared() {
    let shared = format!("{}/../../../shared/golden", env!("CARGO_MANIFEST_DIR"));
    if !std::path::Path::new(&shared).exists() {
        eprintln!("no shared/golden beside the checkout; nothing to compare");
        return;
    }
    for name in [
        "path_tracking_env_golden.csv",
        "path_tracking_model_golden.csv",
        "inverted_pendulum_env_golden.csv",
        "inverted_pendulum_model_golden.csv",
        "README.md",
    ] {
        let ours = std::fs::read(golden_path(name)).unwrap();
        let theirs = std::fs::read(format!("{shared}/{name}")).unwrap();
        assert!(
            ours == theirs,
            "tests/golden/{name} differs from shared/golden/{name}"
        );
    }
}
