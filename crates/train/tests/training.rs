//! The training procedure on synthetic weekly snapshots: time discipline, choice, calibration, backtest,
//! determinism of the artifact, and clear errors.

use ndarray::Array2;
use pql_features::{FeatureDef, Roles};
use pql_train::artifact::Artifact;
use pql_train::boost::Node;
use pql_train::calibration::Calibration;
use pql_train::matrix::LabelledMatrix;
use pql_train::model::{Model, ModelChoice, ModelKind, Settings};
use pql_train::registry::{sanity_problems, Evaluation};
use pql_train::{TrainError, TrainParams, Trained};
use rand::{Rng, SeedableRng};

const DAY: i64 = 86_400_000_000;
/// 2025-01-06, a Monday.
const MONDAY: i64 = 20_094 * DAY;

/// `weeks` weekly snapshots of `per_week` rows: x0 raises conversion, x1 × x2 interact, x3 is noise.
fn snapshots(weeks: i64, per_week: usize, rate: f64, seed: u64) -> LabelledMatrix {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let n = weeks as usize * per_week;
    let x = Array2::from_shape_fn((n, 4), |_| rng.gen_range(-1.0..1.0));
    let intercept = (rate / (1.0 - rate)).ln() - 0.5;
    let labels = x
        .rows()
        .into_iter()
        .map(|r| {
            let z = intercept + 1.5 * r[0] + 2.0 * f64::from(u8::from(r[1] > 0.0 && r[2] > 0.0));
            rng.gen::<f64>() < 1.0 / (1.0 + (-z).exp())
        })
        .collect();
    LabelledMatrix {
        x: x.mapv(|v| v as f32).into_shared(),
        labels,
        as_of: (0..n).map(|i| MONDAY + (i / per_week) as i64 * 7 * DAY).collect(),
        names: ["usage", "seats", "integrations", "noise"].map(String::from).to_vec(),
        keys: (0..n).map(|i| pql_train::matrix::row_key(&i.to_string(), 0)).collect(),
    }
}

/// Four definitions from the sample's dictionary, named as the columns of [`snapshots`].
fn defs() -> Vec<FeatureDef> {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/sample/pql.toml");
    let mut defs = pql_features::describe(&pql_data::Config::load(sample).unwrap()).unwrap();
    defs.truncate(4);
    for (def, name) in defs.iter_mut().zip(["usage", "seats", "integrations", "noise"]) {
        def.name = name.to_string();
    }
    defs
}

/// The artifact of one family trained on `rows`.
fn artifact_of(kind: ModelKind, rows: &LabelledMatrix) -> Artifact {
    let mut p = params();
    p.choice = ModelChoice::Only(kind);
    p.boost = p.boost.max_trees(20);
    let trained = train(rows, &[], &p).unwrap();
    Artifact::new(trained, defs(), rows, "[label]\n", Roles::default(), 42, 30)
}

/// The label horizon of the test rows, in days.
const HORIZON_DAYS: u32 = 30;

/// Trains with `params` checked for [`HORIZON_DAYS`].
fn train(rows: &LabelledMatrix, rules: &[(String, String)], params: &TrainParams) -> Result<Trained, TrainError> {
    pql_train::train(rows, rules, &params.clone().check(HORIZON_DAYS)?)
}

fn params() -> TrainParams {
    let mut params = TrainParams::default();
    params.boost = params.boost.max_trees(200);
    params.permutation_repeats = 3;
    params
}

#[test]
fn auto_chooses_by_validation_roc_auc_and_reports_the_positive_class() {
    let rows = snapshots(16, 2000, 0.08, 1);
    let trained = train(&rows, &[], &params()).unwrap();
    assert_eq!(trained.candidates.len(), 2);
    let best = trained
        .candidates
        .iter()
        .max_by(|a, b| a.validation.roc_auc.total_cmp(&b.validation.roc_auc))
        .unwrap();
    assert_eq!(best.settings.kind(), trained.model.kind());
    assert_eq!(
        trained.model.kind(),
        ModelKind::Boosted,
        "the interaction favours trees"
    );
    // Partial dependence: the most important features, each over increasing values; conversion rises with
    // usage, the feature that raises it.
    assert_eq!(
        trained.dependence.len(),
        4,
        "every feature when there are fewer than six"
    );
    let usage = trained.dependence.iter().find(|d| d.feature == "usage").unwrap();
    assert!(usage.values.windows(2).all(|w| w[0] < w[1]), "{usage:?}");
    assert_eq!(usage.values.len(), usage.probability.len());
    assert!(usage.probability.last() > usage.probability.first(), "{usage:?}");
    // The reported probability is that of conversion: high for converted rows, not the reverse.
    assert!(trained.validation.roc_auc > 0.7, "{:?}", trained.validation);
    let p = trained.model.predict(rows.x.view());
    let mean = |y: bool| {
        let v: Vec<f64> = p
            .iter()
            .zip(&rows.labels)
            .filter(|(_, &l)| l == y)
            .map(|(p, _)| *p)
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    assert!(mean(true) > 2.0 * mean(false));
    // Importances see the signal and not the noise.
    let by_name = |name: &str| trained.importances.iter().find(|i| i.feature == name).unwrap();
    assert!(by_name("usage").permutation > 5.0 * by_name("noise").permutation.abs());
    assert!(by_name("usage").gain_share.unwrap() > by_name("noise").gain_share.unwrap());
}

#[test]
fn training_snapshots_close_before_validation_and_the_refit_uses_every_snapshot() {
    let rows = snapshots(12, 800, 0.1, 2);
    let trained = train(&rows, &[], &params()).unwrap();
    // Weeks 10 and 11 validate (days 70, 77); week 5 (day 35) is the last whose 30 days close by day 70.
    assert_eq!(trained.validation_part.first, "2025-03-17");
    assert_eq!(trained.validation_part.snapshots, 2);
    assert_eq!(trained.fit_part.last, "2025-02-10");
    assert_eq!(trained.fit_part.snapshots, 6);
    assert_eq!(trained.refit_part.rows, rows.labels.len());
}

#[test]
fn the_logistic_model_has_coefficients_with_standard_errors() {
    let mut p = params();
    p.choice = ModelChoice::Only(ModelKind::Logistic);
    let rows = snapshots(12, 1500, 0.1, 3);
    let trained = train(&rows, &[], &p).unwrap();
    assert!(matches!(trained.settings, Settings::Logistic { .. }));
    let usage = &trained.importances[0];
    let (coefficient, se) = (usage.coefficient.unwrap(), usage.coefficient_se.unwrap());
    assert!(coefficient > 0.5 && se > 0.0 && se < coefficient / 5.0, "{usage:?}");
    let noise = &trained.importances[3];
    assert!(
        noise.coefficient.unwrap().abs() < 3.0 * noise.coefficient_se.unwrap(),
        "{noise:?}"
    );
}

#[test]
fn the_backtest_trains_only_on_labels_closed_by_each_snapshot() {
    let mut p = params();
    p.backtest = 2;
    let rows = snapshots(16, 1000, 0.1, 4);
    let trained = train(&rows, &[], &p).unwrap();
    let dates: Vec<&str> = trained.backtest.iter().map(|b| b.as_of.as_str()).collect();
    assert_eq!(dates, ["2025-04-14", "2025-04-21"]);
    // 2025-04-14 is week 14 (day 98): weeks whose 30 days closed by then are weeks 0..=9.
    assert_eq!(trained.backtest[0].train_rows, 10 * 1000);
    assert_eq!(trained.backtest[1].train_rows, 11 * 1000);
    assert!(trained
        .backtest
        .iter()
        .all(|b| b.metrics.rows == 1000 && b.metrics.roc_auc > 0.65));
}

#[test]
fn rules_are_compared_with_the_model_at_the_same_volume() {
    let rows = snapshots(12, 1000, 0.1, 5);
    let rules = [("heavy users".to_string(), "usage >= 0.5".to_string())];
    let trained = train(&rows, &rules, &params()).unwrap();
    let rule = &trained.rules[0];
    assert_eq!(rule.name, "heavy users");
    assert!(rule.flagged > 200 && rule.flagged < 800, "{rule:?}");
    assert!(rule.model_precision >= rule.rule_precision, "{rule:?}");
    let unknown = [("typo".to_string(), "usgae >= 0.5".to_string())];
    let err = train(&rows, &unknown, &params()).unwrap_err();
    assert!(
        err.to_string().contains("rule `typo`: `usgae` is not a feature"),
        "{err}"
    );
}

#[test]
fn the_artifact_is_byte_identical_across_runs_and_round_trips() {
    let rows = snapshots(12, 1000, 0.1, 6);
    let dir = tempfile::tempdir().unwrap();
    let mut ids = Vec::new();
    let mut bytes = Vec::new();
    for run in 0..2 {
        let trained = train(&rows, &[], &params()).unwrap();
        let artifact = Artifact::new(trained, defs(), &rows, "[label]\n", Roles::default(), 42, 30);
        let path = artifact.save(&dir.path().join(format!("run{run}"))).unwrap();
        ids.push(artifact.model_id.clone());
        bytes.push(["model.json", "metrics.json", "importances.csv"].map(|f| std::fs::read(path.join(f)).unwrap()));
        let loaded = Artifact::load(&path).unwrap();
        assert_eq!(loaded, artifact);
        assert_eq!(loaded.predict(rows.x.view()), artifact.predict(rows.x.view()));
    }
    assert_eq!(ids[0], ids[1]);
    assert!(bytes[0] == bytes[1], "the two runs wrote different bytes");
}

#[test]
fn damaged_and_future_artifacts_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.json");
    std::fs::write(&path, "{\"format_version\": 1, \"model_id\": ").unwrap();
    let err = Artifact::load(&path).unwrap_err().to_string();
    assert!(err.contains("model.json: damaged model file"), "{err}");
    std::fs::write(&path, "{\"format_version\": 99}").unwrap();
    let err = Artifact::load(&path).unwrap_err().to_string();
    assert!(err.contains("model format version 99; this pql"), "{err}");
    std::fs::write(&path, "{\"format_version\": 1}").unwrap();
    let err = Artifact::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("model format version 1; this pql"),
        "an older model asks to be retrained: {err}"
    );
    std::fs::write(&path, "{\"format_version\": 5, \"kind\": \"boosted\"}").unwrap();
    let err = Artifact::load(&path).unwrap_err().to_string();
    assert!(err.contains("damaged model file: missing field"), "{err}");
    std::fs::write(&path, "[]").unwrap();
    let err = Artifact::load(&path).unwrap_err().to_string();
    assert!(err.contains("not a pql model"), "{err}");
}

#[test]
fn one_class_no_rows_and_too_few_positives_are_refused_clearly() {
    let mut rows = snapshots(12, 500, 0.1, 7);
    let empty = rows.snapshots(|_| false);
    assert!(matches!(train(&empty, &[], &params()), Err(TrainError::NoLabelledRows)));

    let all_negative: Vec<bool> = vec![false; rows.labels.len()];
    let original = std::mem::replace(&mut rows.labels, all_negative);
    let err = train(&rows, &[], &params()).unwrap_err().to_string();
    assert!(err.contains("hold 0 converted rows; a model needs both"), "{err}");

    // Keep 10 positives in the validation weeks.
    rows.labels = original;
    let first_validation = MONDAY + 10 * 7 * DAY;
    let mut kept = 0;
    for (label, &t) in rows.labels.iter_mut().zip(&rows.as_of) {
        if t >= first_validation && *label {
            kept += 1;
            *label = kept <= 10;
        }
    }
    let err = train(&rows, &[], &params()).unwrap_err().to_string();
    assert!(
        err.contains("the validation snapshots hold 10 converted rows; calibration needs at least 30"),
        "{err}"
    );

    let short = rows.snapshots(|t| t < MONDAY + 4 * 7 * DAY);
    let err = train(&short, &[], &params()).unwrap_err().to_string();
    assert!(
        err.starts_with("validation: no snapshot's 30-day labels had closed"),
        "{err}"
    );
}

#[test]
fn a_challenger_that_lacks_or_flattens_a_feature_or_is_miscalibrated_fails_the_sanity_checks() {
    let defs = defs();
    let artifact = |rows: &LabelledMatrix| {
        let trained = train(rows, &[], &params()).unwrap();
        Artifact::new(trained, defs.clone(), rows, "[label]\n", Roles::default(), 42, 30)
    };
    let rows = snapshots(12, 1000, 0.1, 6);
    let champion = artifact(&rows);
    let calibrated = Evaluation {
        rows: 1000,
        log_loss: 0.2,
        ece: 0.01,
    };
    assert_eq!(
        sanity_problems(&champion, &champion, &calibrated, 0.05),
        Vec::<String>::new()
    );

    let mut flat = rows.clone();
    flat.x.column_mut(3).fill(0.0);
    let problems = sanity_problems(&champion, &artifact(&flat), &calibrated, 0.05);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("constant") && problems[0].ends_with(": noise"),
        "{problems:?}"
    );

    let mut lacking = champion.clone();
    lacking.features.remove(1);
    let problems = sanity_problems(&champion, &lacking, &calibrated, 0.05);
    assert_eq!(problems, ["it lacks features the champion uses: seats"]);

    let miscalibrated = Evaluation {
        ece: 0.08,
        ..calibrated
    };
    let problems = sanity_problems(&champion, &champion, &miscalibrated, 0.05);
    assert_eq!(
        problems,
        ["its calibration error 0.0800 on the comparison snapshots is above 0.05"]
    );
}

/// `artifact` written to a fresh `model.json` after `edit` changed its JSON, with `model_id` derived again
/// as training derives it (so the hash passes and only the structure checks can refuse it); the error of
/// loading it.
fn load_edited(artifact: &Artifact, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut value = serde_json::to_value(artifact).unwrap();
    edit(&mut value);
    let mut edited: Artifact = serde_json::from_value(value).unwrap();
    edited.model_id = edited.content_id();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.json");
    std::fs::write(&path, serde_json::to_string_pretty(&edited).unwrap()).unwrap();
    match Artifact::load(&path) {
        Ok(_) => panic!("the edited model loaded"),
        Err(err) => err.to_string(),
    }
}

#[test]
fn an_edited_model_json_is_refused_by_its_hash() {
    let artifact = artifact_of(ModelKind::Logistic, &snapshots(12, 1000, 0.1, 6));
    let dir = tempfile::tempdir().unwrap();
    let path = artifact.save(dir.path()).unwrap();
    assert_eq!(Artifact::load(&path).unwrap(), artifact);
    let mut value: serde_json::Value = serde_json::to_value(&artifact).unwrap();
    let intercept = value["model"]["intercept"].as_f64().unwrap();
    value["model"]["intercept"] = (-intercept).into();
    std::fs::write(path.join("model.json"), serde_json::to_string_pretty(&value).unwrap()).unwrap();
    let err = Artifact::load(&path).unwrap_err().to_string();
    assert!(
        err.contains(&format!(
            "model.json: model_id {} does not match its content (hash ",
            artifact.model_id
        )),
        "{err}"
    );
    assert!(err.contains("the file was edited or damaged"), "{err}");
}

#[test]
fn shortened_or_empty_weights_and_zero_scales_of_a_logistic_model_are_refused_naming_the_field() {
    let artifact = artifact_of(ModelKind::Logistic, &snapshots(12, 1000, 0.1, 6));
    let model = |edit: fn(&mut serde_json::Value)| load_edited(&artifact, |v| edit(&mut v["model"]));
    let err = model(|m| {
        m["weights"].as_array_mut().unwrap().pop();
    });
    assert!(
        err.ends_with("model.json: model.weights: 3 values for 4 features"),
        "{err}"
    );
    let err = model(|m| m["weights"] = serde_json::json!([]));
    assert!(err.ends_with("model.weights: 0 values for 4 features"), "{err}");
    let err = model(|m| {
        m["standardizer"]["means"].as_array_mut().unwrap().pop();
    });
    assert!(
        err.ends_with("model.standardizer.means: 3 values for 4 features"),
        "{err}"
    );
    let err = model(|m| m["standardizer"]["scales"][2] = 0.0.into());
    assert!(
        err.ends_with("model.standardizer.scales[2]: 0 (must be positive and finite)"),
        "{err}"
    );
    let err = load_edited(&artifact, |v| {
        v["features"].as_array_mut().unwrap().pop();
    });
    assert!(err.ends_with("model.weights: 4 values for 3 features"), "{err}");
    let err = load_edited(&artifact, |v| v["features"] = serde_json::json!([]));
    assert!(
        err.ends_with("features: empty (a model needs at least one feature)"),
        "{err}"
    );
    let err = load_edited(&artifact, |v| {
        v["profile"]["features"].as_array_mut().unwrap().pop();
    });
    assert!(err.ends_with("profile.features: 3 values for 4 features"), "{err}");
    let err = load_edited(&artifact, |v| v["importances"][1]["feature"] = "usage".into());
    assert!(
        err.ends_with("importances[1].feature: `usage`, but features[1] is `seats`"),
        "{err}"
    );
}

#[test]
fn numbers_that_are_not_finite_or_out_of_range_are_refused_naming_the_field() {
    // JSON has no NaN, so these are artifacts built by hand (or by a future writer), checked as load does.
    let artifact = artifact_of(ModelKind::Logistic, &snapshots(12, 1000, 0.1, 6));
    let check = |edit: &dyn Fn(&mut Artifact)| {
        let mut edited = artifact.clone();
        edit(&mut edited);
        edited.check().unwrap_err().to_string()
    };
    assert_eq!(
        check(&|a| {
            if let Model::Logistic(m) = &mut a.model {
                m.intercept = f64::NAN;
            }
        }),
        "model.intercept: NaN (must be finite)"
    );
    assert_eq!(
        check(&|a| {
            if let Model::Logistic(m) = &mut a.model {
                m.weights[1] = f64::INFINITY;
            }
        }),
        "model.weights[1]: inf (must be finite)"
    );
    assert_eq!(
        check(&|a| a.thresholds.pql_threshold = f64::NAN),
        "thresholds.pql_threshold: NaN (must be between 0 and 1)"
    );
    assert_eq!(
        check(&|a| a.thresholds.warm_threshold = a.thresholds.pql_threshold + 0.01),
        format!(
            "thresholds.warm_threshold: {} is above pql_threshold {}",
            artifact.thresholds.pql_threshold + 0.01,
            artifact.thresholds.pql_threshold
        )
    );
    assert_eq!(
        check(&|a| {
            a.calibration = Calibration::Platt {
                slope: f64::NAN,
                intercept: 0.0,
            }
        }),
        "calibration.slope: NaN (must be finite)"
    );
    let isotonic = |raw: Vec<f64>, calibrated: Vec<f64>| Calibration::Isotonic { raw, calibrated };
    assert_eq!(
        check(&|a| a.calibration = isotonic(vec![0.1, 0.2, 0.2], vec![0.1, 0.2, 0.3])),
        "calibration.raw: not increasing at 2"
    );
    assert_eq!(
        check(&|a| a.calibration = isotonic(vec![0.1, 0.2], vec![0.1])),
        "calibration.calibrated: 1 values for 2 raw points"
    );
    assert_eq!(
        check(&|a| a.calibration = isotonic(vec![], vec![])),
        "calibration.raw: empty (isotonic calibration needs a point)"
    );
    assert_eq!(
        check(&|a| a.calibration = isotonic(vec![0.1, 0.2], vec![0.3, 1.5])),
        "calibration.calibrated[1]: 1.5 (must be between 0 and 1)"
    );
    assert_eq!(
        check(&|a| a.profile.probability.shares[0] = f64::NAN),
        "profile.probability.shares[0]: NaN (must be between 0 and 1)"
    );
    assert_eq!(
        check(&|a| a.kind = ModelKind::Boosted),
        "model.kind: `logistic`, but the model is `boosted`"
    );
}

#[test]
fn trees_with_out_of_range_features_or_children_or_loops_are_refused_naming_the_node() {
    let rows = snapshots(12, 1000, 0.1, 6);
    let artifact = artifact_of(ModelKind::Boosted, &rows);
    assert_eq!(artifact.check(), Ok(()));
    let Model::Boosted(boosted) = &artifact.model else {
        panic!("a boosted model")
    };
    let nodes = boosted.trees[4].nodes.len();
    let split = |edit: fn(&mut serde_json::Value)| {
        load_edited(&artifact, |v| edit(&mut v["model"]["trees"][4]["nodes"][0]["Split"]))
    };
    let err = split(|s| s["feature"] = 75.into());
    assert!(
        err.ends_with("model.trees[4].nodes[0].feature: 75 >= 4 features"),
        "{err}"
    );
    let err = split(|s| s["left"] = 0.into());
    assert!(
        err.ends_with(&format!(
            "model.trees[4].nodes[0].left: 0 (a child is a later node, 1 to {})",
            nodes - 1
        )),
        "{err}"
    );
    let err = split(|s| s["right"] = 1000.into());
    assert!(
        err.contains("model.trees[4].nodes[0].right: 1000 (a child is a later node"),
        "{err}"
    );
    let err = split(|s| s["rows"] = 3.into());
    assert!(
        err.contains("model.trees[4].nodes[0].rows: 3, but its children hold "),
        "{err}"
    );
    // The root's right child made the same as its left: two parents for one node, none for another.
    let err = load_edited(&artifact, |v| {
        let root = &mut v["model"]["trees"][4]["nodes"][0]["Split"];
        root["right"] = root["left"].clone();
    });
    assert!(err.contains("model.trees[4].nodes[1]: the child of 2 splits"), "{err}");
    let err = load_edited(&artifact, |v| v["model"]["trees"][2]["nodes"] = serde_json::json!([]));
    assert!(
        err.ends_with("model.trees[2].nodes: empty (a tree needs at least one leaf)"),
        "{err}"
    );
    let mut hand_built = artifact.clone();
    if let Model::Boosted(b) = &mut hand_built.model {
        let last = b.trees[0].nodes.len() - 1;
        b.trees[0].nodes[last] = Node::Leaf {
            value: f64::NAN,
            rows: 1,
        };
    }
    assert!(
        hand_built
            .check()
            .unwrap_err()
            .to_string()
            .ends_with("value: NaN (must be finite)"),
        "a NaN leaf"
    );
}

#[test]
fn thinned_negatives_keep_probabilities_of_the_whole_population() {
    let rows = snapshots(16, 3000, 0.05, 5);
    for kind in [ModelKind::Logistic, ModelKind::Boosted] {
        thinned_negatives_keep_probabilities(&rows, kind);
    }
    let mut p = params();
    p.negative_rate = 0.0;
    assert!(matches!(train(&rows, &[], &p), Err(TrainError::NegativeRate(_))));
}

#[test]
fn settings_are_checked_with_the_horizon_before_any_fit() {
    assert!(matches!(params().check(0), Err(TrainError::NoHorizon)));
    let checked = params().check(HORIZON_DAYS).unwrap();
    assert_eq!((checked.horizon_days(), checked.backtest), (HORIZON_DAYS, 0));
    let refused = |change: fn(&mut TrainParams)| {
        let mut p = params();
        change(&mut p);
        p.check(HORIZON_DAYS).unwrap_err().to_string()
    };
    assert!(refused(|p| p.validation_snapshots = 0).contains("at least one validation snapshot"));
    assert!(refused(|p| p.negative_rate = 1.5).contains("negative rate must be above 0 and at most 1, got 1.5"));
    assert!(refused(|p| p.l2_grid.clear()).contains("logistic model: the L2 grid is empty"));
    assert!(refused(|p| p.l2_grid.push(-1.0)).contains("l2 must be finite and >= 0, got -1"));
    let boost = refused(|p| p.boost = p.boost.max_bins(1));
    assert!(
        boost.contains("boosted model: invalid boosted-tree settings: max_bins must be 2 to 256, got 1"),
        "{boost}"
    );
}

fn thinned_negatives_keep_probabilities(rows: &LabelledMatrix, kind: ModelKind) {
    let fit = |rate: f64| {
        let mut p = params();
        p.choice = ModelChoice::Only(kind);
        p.boost = p.boost.max_trees(60);
        p.negative_rate = rate;
        p.backtest = 1;
        train(rows, &[], &p).unwrap()
    };
    let (all, thinned) = (fit(1.0), fit(0.2));
    assert_eq!(thinned.negative_rate, 0.2);
    assert_eq!(
        thinned.validation_part, all.validation_part,
        "validation reads every row"
    );
    assert_eq!(
        thinned.refit_part.positives, all.refit_part.positives,
        "every converted row is kept"
    );
    let negatives = |p: &pql_train::training::Part| (p.rows - p.positives) as f64;
    let kept = negatives(&thinned.refit_part) / negatives(&all.refit_part);
    assert!((kept - 0.2).abs() < 0.02, "{kept}");
    // The raw model's mean probability over every row is the base rate, not the thinned rows' rate.
    let mean = |m: &Model| m.predict(rows.x.view()).iter().sum::<f64>() / rows.labels.len() as f64;
    let base_rate = rows.positives() as f64 / rows.labels.len() as f64;
    for model in [&all.model, &thinned.model] {
        let ratio = mean(model) / base_rate;
        assert!(
            (0.85..1.15).contains(&ratio),
            "{kind}: mean probability / base rate = {ratio}"
        );
    }
    assert!(
        (thinned.validation.roc_auc - all.validation.roc_auc).abs() < 0.02,
        "{kind}"
    );
    assert!(thinned.validation.ece < 0.02, "{kind}: {:?}", thinned.validation);
    assert_eq!(
        thinned.backtest[0].metrics.rows, all.backtest[0].metrics.rows,
        "backtests read every row"
    );
}
