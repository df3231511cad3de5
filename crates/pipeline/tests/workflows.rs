//! The workflows called as a library on the bundled sample, without the `pql` binary: typed results, the
//! progress they report, and typed errors.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use polars::prelude::*;
use pql_data::Config;
use pql_features::Snapshots;
use pql_pipeline::retrain::{Comparison, Outcome};
use pql_pipeline::score::FeatureInput;
use pql_pipeline::{features, quickstart, retrain, score, PipelineError, Progress, Quiet, Scope, Step};
use pql_score::TierPolicy;

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample/pql.toml")
}

/// A [`Progress`] that keeps what it is told and counts the steps begun and ended.
#[derive(Default)]
struct Recorder {
    inputs: AtomicUsize,
    notes: Mutex<Vec<String>>,
    begun: AtomicUsize,
    ended: Arc<AtomicUsize>,
}

struct Counted(Arc<AtomicUsize>);

impl Step for Counted {
    fn advance(&self) {}
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Progress for Recorder {
    fn inputs(&self, _: &pql_features::InputReport) {
        self.inputs.fetch_add(1, Ordering::SeqCst);
    }
    fn note(&self, text: &str) {
        self.notes.lock().unwrap().push(text.to_string());
    }
    fn warn(&self, text: &str) {
        self.note(text);
    }
    fn step(&self, _: &'static str, _: Option<usize>) -> Box<dyn Step> {
        self.begun.fetch_add(1, Ordering::SeqCst);
        Box::new(Counted(self.ended.clone()))
    }
}

#[test]
fn the_quickstart_returns_what_each_stage_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::default();
    let q = quickstart::run(&recorder, &sample(), dir.path()).unwrap();

    let w = q.features.written;
    assert!(
        w.rows > 1000 && w.labelled <= w.rows && w.positives < w.labelled,
        "{w:?}"
    );
    let table = ParquetReader::new(std::fs::File::open(&q.features_path).unwrap())
        .finish()
        .unwrap();
    assert_eq!(table.height(), w.rows);
    assert_eq!(table.width(), 3 + q.features.features);

    assert!(q.trained.is_champion(), "the first model of a folder is its champion");
    assert_eq!(
        q.trained.dir,
        dir.path().join("models").join(&q.trained.artifact.model_id)
    );
    assert_eq!(q.trained.artifact.backtest.len(), 4);
    assert_eq!(q.drivers.len(), 5);

    let scores = CsvReadOptions::default()
        .with_infer_schema_length(None)
        .try_into_reader_with_file_path(Some(q.scores_path.clone()))
        .unwrap()
        .finish()
        .unwrap();
    assert_eq!(scores.height(), q.scored.summary.rows);
    assert_eq!(q.scored.scope, Scope::AsOf(q.latest));
    assert!(q.first < q.latest);

    // Features are computed once (training and scoring read the table), every step ended.
    assert_eq!(recorder.inputs.load(Ordering::SeqCst), 1);
    let (begun, ended) = (
        recorder.begun.load(Ordering::SeqCst),
        recorder.ended.load(Ordering::SeqCst),
    );
    assert!(begun >= 4 && begun == ended, "{begun} steps begun, {ended} ended");
    let notes = recorder.notes.lock().unwrap();
    assert!(notes.iter().any(|n| n.starts_with("training on ")), "{notes:?}");

    // A date without rows in the table is a typed error naming it.
    let early = chrono::NaiveDate::from_ymd_opt(2000, 1, 3).unwrap();
    let input = FeatureInput::Table {
        path: q.features_path.clone(),
        as_of: Some(early),
    };
    let out = dir.path().join("early.csv");
    match score::score(&Quiet, &q.trained.artifact, input, &TierPolicy::Model, None, &out) {
        Err(PipelineError::NoEligibleAccounts(Scope::AsOf(date))) => assert_eq!(date, early),
        other => panic!("{other:?}"),
    }
    assert!(!out.exists(), "nothing written");
}

#[test]
fn a_retrain_on_unchanged_data_finds_the_champion_itself() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let params = pql_train::TrainParams {
        choice: pql_train::ModelChoice::Only(pql_train::ModelKind::Logistic),
        ..Default::default()
    };
    let comparison = Comparison {
        margin: 0.01,
        max_ece: 0.05,
    };
    let as_of = chrono::NaiveDate::from_ymd_opt(2025, 6, 30);
    let first = retrain::retrain(&Quiet, &sample(), &models, as_of, &comparison, params.clone()).unwrap();
    assert!(matches!(first.outcome, Outcome::FirstChampion), "{:?}", first.outcome);
    assert_eq!(first.champion, None);
    let again = retrain::retrain(&Quiet, &sample(), &models, as_of, &comparison, params).unwrap();
    assert!(matches!(again.outcome, Outcome::SameModel), "{:?}", again.outcome);
    assert_eq!(
        again.champion.as_deref(),
        Some(first.challenger.artifact.model_id.as_str())
    );
    assert_eq!(again.challenger.artifact.model_id, first.challenger.artifact.model_id);
}

#[test]
fn an_output_naming_an_input_is_refused_before_any_work() {
    let config = Config::load(sample()).unwrap();
    let events = sample().with_file_name("events.parquet");
    let before = std::fs::metadata(&events).unwrap().len();
    let snapshots = Snapshots::One(chrono::NaiveDate::from_ymd_opt(2025, 6, 30).unwrap());
    let recorder = Recorder::default();
    match features::write(&recorder, &config, &snapshots, None, &events) {
        Err(PipelineError::OutputIsInput { out, input }) => {
            assert_eq!(out, events);
            assert_eq!(input.canonicalize().unwrap(), events.canonicalize().unwrap());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::metadata(&events).unwrap().len(), before);
    assert_eq!(recorder.begun.load(Ordering::SeqCst), 0, "nothing was read");
}
