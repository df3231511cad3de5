//! Times a logistic regression fit on a seeded synthetic matrix and writes the matrix for the
//! scikit-learn side of `benches/train/logistic.sh`.
//!
//! `cargo run --release -p pql-train --example fit_logistic -- ROWS COLS OUT_PREFIX`

use std::io::Write;
use std::time::Instant;

use ndarray::Array2;
use pql_train::logistic::LogisticParams;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (n, d): (usize, usize) = (args[1].parse().unwrap(), args[2].parse().unwrap());
    let prefix = &args[3];
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let x = Array2::from_shape_fn((n, d), |_| rng.sample::<f64, _>(StandardNormal));
    let truth: Vec<f64> = (0..d)
        .map(|j| if j % 3 == 0 { 0.0 } else { 1.0 / (1.0 + j as f64) })
        .collect();
    let labels: Vec<bool> = x
        .rows()
        .into_iter()
        .map(|row| {
            let z = -3.0 + row.iter().zip(&truth).map(|(a, b)| a * b).sum::<f64>();
            rng.gen::<f64>() < 1.0 / (1.0 + (-z).exp())
        })
        .collect();
    let mut file = std::fs::File::create(format!("{prefix}.x.f64")).unwrap();
    for v in x.iter() {
        file.write_all(&v.to_le_bytes()).unwrap();
    }
    std::fs::write(
        format!("{prefix}.y.u8"),
        labels.iter().map(|&l| u8::from(l)).collect::<Vec<_>>(),
    )
    .unwrap();

    let params = LogisticParams::default().check().unwrap();
    let mut times = Vec::new();
    let mut model = None;
    for _ in 0..3 {
        let started = Instant::now();
        model = Some(params.fit(x.view(), &labels).unwrap());
        times.push(started.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let model = model.unwrap();
    println!(
        "pql {n}x{d}: median fit {:.3} s over 3 runs, {} Newton steps, intercept {:.6}, w0..2 {:?}",
        times[1],
        model.iterations,
        model.intercept,
        &model.weights.as_slice().unwrap()[..3]
    );
}
