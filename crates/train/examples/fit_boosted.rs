//! Times a boosted-tree fit (200 trees, no validation) on a seeded synthetic matrix and writes the matrix
//! for the LightGBM side of `benches/train/boosted.sh`: `OUT_PREFIX.x.f64` (row-major, little-endian)
//! and `OUT_PREFIX.y.u8`.
//!
//! `cargo run --release -p pql-train --example fit_boosted -- ROWS COLS OUT_PREFIX`
//!
//! Even columns are heavy-tailed counts, zero in 60% of rows; odd columns are continuous. The label
//! (about 5% positive) depends on columns 0 to 7 through logs, thresholds, a square, a sine and an
//! interaction.

use std::io::{BufWriter, Write};
use std::time::Instant;

use ndarray::Array2;
use pql_train::boost::BoostParams;
use pql_train::metrics::Metrics;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let parsed = match args.as_slice() {
        [_, rows, cols, prefix] => rows.parse().ok().zip(cols.parse().ok()).map(|(n, d)| (n, d, prefix)),
        _ => None,
    };
    let Some((n, d, prefix)) = parsed.filter(|&(n, d, _): &(usize, usize, _)| n > 0 && d >= 8) else {
        eprintln!("usage: fit_boosted ROWS COLS OUT_PREFIX (COLS >= 8)");
        std::process::exit(2);
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let x = Array2::from_shape_fn((n, d), |(_, j)| {
        if j % 2 == 1 {
            rng.sample::<f64, _>(StandardNormal)
        } else if rng.gen::<f64>() < 0.6 {
            0.0
        } else {
            rng.sample::<f64, _>(StandardNormal).mul_add(1.3, 0.5).exp().floor()
        }
    });
    let labels: Vec<bool> = x
        .rows()
        .into_iter()
        .map(|r| {
            let z = -3.4
                + 0.5 * r[0].ln_1p()
                + 0.8 * f64::from(u8::from(r[1] > 0.8))
                + 1.2 * f64::from(u8::from(r[2] >= 5.0 && r[3] < 0.0))
                - 0.3 * r[5] * r[5]
                + 0.5 * (2.0 * r[7]).sin()
                + 0.3 * r[4].ln_1p();
            rng.gen::<f64>() < 1.0 / (1.0 + (-z).exp())
        })
        .collect();
    let write = || -> std::io::Result<()> {
        let mut file = BufWriter::new(std::fs::File::create(format!("{prefix}.x.f64"))?);
        for v in x.iter() {
            file.write_all(&v.to_le_bytes())?;
        }
        file.flush()?;
        std::fs::write(
            format!("{prefix}.y.u8"),
            labels.iter().map(|&l| u8::from(l)).collect::<Vec<_>>(),
        )
    };
    if let Err(e) = write() {
        eprintln!("cannot write {prefix}.*: {e}");
        std::process::exit(1);
    }

    let params = BoostParams::default().max_trees(200).check().expect("valid settings");
    let mut times = Vec::new();
    let mut model = None;
    for _ in 0..3 {
        let started = Instant::now();
        model = Some(params.fit(x.view(), &labels, None).expect("the fit runs"));
        times.push(started.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let model = model.expect("three fits ran");
    let p = model.predict_proba(x.view());
    let metrics = Metrics::evaluate(&labels, p.as_slice().expect("contiguous")).expect("both classes");
    println!(
        "pql {n}x{d}: median fit {:.3} s over 3 runs, {} trees, base rate {:.4}, training AUC {:.4}",
        times[1],
        model.trees.len(),
        metrics.base_rate,
        metrics.roc_auc
    );
}
