//! Scoring throughput once features exist: loads a model and a feature table (from `pql features`), then
//! times `Scorer::score` (probabilities, tiers, reasons and the output frame, in memory) and the
//! probabilities alone, each `repeats` times; prints the medians and accounts per second as JSON.
//!
//! ```sh
//! cargo run --release -p pql-score --example score_throughput -- models/<id> features.parquet 5
//! ```

use std::time::Instant;

fn median(mut seconds: Vec<f64>) -> f64 {
    seconds.sort_by(f64::total_cmp);
    seconds[seconds.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, model, table, repeats] = args.as_slice() else {
        return Err("usage: score_throughput MODEL_DIR FEATURES_FILE REPEATS".into());
    };
    let repeats: usize = repeats.parse()?;
    let artifact = pql_train::Artifact::load(model.as_ref())?;
    let (frame, defs) = pql_features::read_table(table.as_ref())?;
    let scorer = pql_score::Scorer::new(&artifact, &defs)?;
    let rows = frame.height();
    let mut full = Vec::new();
    let mut probabilities = Vec::new();
    for _ in 0..repeats {
        let started = Instant::now();
        let x = pql_train::matrix::FeatureColumns::from_table(&frame, &artifact.feature_names())?;
        let p = artifact.predict_columns(&x);
        probabilities.push(started.elapsed().as_secs_f64());
        assert_eq!(p.len(), rows);
        let started = Instant::now();
        let scores = scorer.score(&frame, &pql_score::TierPolicy::Model)?;
        full.push(started.elapsed().as_secs_f64());
        assert_eq!(scores.frame.height(), rows);
    }
    let (full, probabilities) = (median(full), median(probabilities));
    println!(
        "{{\"model\": \"{}\", \"kind\": \"{}\", \"rows\": {rows}, \"features\": {}, \"threads\": {}, \
         \"score_s\": {full:.6}, \"score_accounts_per_s\": {:.0}, \
         \"probability_s\": {probabilities:.6}, \"probability_accounts_per_s\": {:.0}}}",
        artifact.model_id,
        artifact.kind,
        artifact.features.len(),
        rayon::current_num_threads(),
        rows as f64 / full,
        rows as f64 / probabilities
    );
    Ok(())
}
