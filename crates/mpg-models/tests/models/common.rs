//! Helpers shared by the model tests.

use mpg_models::PriorModel;
use tch::{Kind, Tensor};

/// Path of a golden file in the repository's `tests/golden/`.
pub fn golden_path(name: &str) -> String {
    format!("{}/../../tests/golden/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A golden CSV as (header, rows of f64).
pub fn read_csv(name: &str) -> (Vec<String>, Vec<Vec<f64>>) {
    let mut rdr = csv::Reader::from_path(golden_path(name)).expect("golden file");
    let header = rdr.headers().unwrap().iter().map(str::to_string).collect();
    let rows = rdr
        .records()
        .map(|r| {
            r.unwrap()
                .iter()
                .map(|v| v.parse::<f64>().unwrap())
                .collect()
        })
        .collect();
    (header, rows)
}

/// Columns `names` of `rows` as a `[rows, names]` tensor of `kind`.
pub fn columns<S: AsRef<str>>(
    header: &[String],
    rows: &[Vec<f64>],
    names: &[S],
    kind: Kind,
) -> Tensor {
    let idx: Vec<usize> = names
        .iter()
        .map(|n| {
            let n = n.as_ref();
            header
                .iter()
                .position(|h| h == n)
                .unwrap_or_else(|| panic!("no column {n}"))
        })
        .collect();
    let flat: Vec<f64> = rows
        .iter()
        .flat_map(|r| idx.iter().map(move |&i| r[i]))
        .collect();
    Tensor::from_slice(&flat)
        .view([rows.len() as i64, names.len() as i64])
        .to_kind(kind)
}

/// A `[rows, cols]` tensor of f64 from row-major values.
pub fn tensor2(values: &[f64], cols: usize) -> Tensor {
    Tensor::from_slice(values).view([-1, cols as i64])
}

/// The values of a tensor as f64, row-major.
pub fn to_vec(t: &Tensor) -> Vec<f64> {
    let t = t.to_kind(Kind::Double).contiguous().view([-1]);
    let n = t.numel();
    let mut v = vec![0.0; n];
    t.copy_data(&mut v, n);
    v
}

/// One model step of single rows in f64, noise `noise`: (next obs, reward).
pub fn model_step(model: &dyn PriorModel, obs: &[f64], act: &[f64], noise: f64) -> (Vec<f64>, f64) {
    let spec = model.task().spec();
    let (next, reward) = model.step(
        &tensor2(obs, spec.obs_dim),
        &tensor2(act, spec.act_dim),
        &Tensor::from_slice(&[noise]),
    );
    (to_vec(&next), to_vec(&reward)[0])
}
