//! The training procedure, from labelled snapshot rows to a calibrated model with its evidence.
//!
//! 1. **Split by time** ([`TimeSplit`]): the latest `validation_snapshots` labelled snapshots validate; the
//!    fit part is every snapshot whose labels had closed by the first of them.
//! 2. **Choose settings** per family on fit part → validation: the L2 strength of the logistic model by
//!    validation log loss, the number of boosted trees by early stopping on validation log loss. `auto`
//!    keeps the family that ranks the validation rows better ([`ranks_better`]).
//! 3. **Calibrate** on the validation rows (isotonic with at least [`ISOTONIC_POSITIVES`] converted rows,
//!    else Platt), and set the PQL thresholds from the calibrated validation scores.
//! 4. **Refit** the chosen settings on every labelled snapshot; the calibration maps its raw scores.
//! 5. **Backtest**: for each of the last K labelled snapshots, steps 1–4 on the snapshots whose labels had
//!    closed by its `as_of` (what a team could have done that day), evaluated on it.
//!
//! Importances and rule baselines are measured on the validation rows with the model fitted on the fit
//! part, for which those rows are unseen.

use std::borrow::Cow;
use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::boost::BoostParams;
use crate::calibration::Calibration;
use crate::check::{self, FieldError};
use crate::error::{FitError, Rows, Stage, TrainError};
use crate::importance::{self, Dependence, Importance};
use crate::logistic::LogisticError;
use crate::matrix::LabelledMatrix;
use crate::metrics::{Curves, Metrics};
use crate::model::{Model, ModelChoice, ModelKind, Settings};
use crate::rules::{Rule, RuleComparison};
use crate::select::{choose_l2, Candidate, SelectError, L2_GRID};
use crate::split::{date, SplitError, TimeSplit};

/// Converted validation rows needed to calibrate at all.
pub const MIN_CALIBRATION_POSITIVES: usize = 30;

/// Converted validation rows from which isotonic calibration replaces Platt scaling.
pub const ISOTONIC_POSITIVES: usize = 1000;

const DAY_US: i64 = 86_400_000_000;

/// How to train.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainParams {
    /// Families to fit. Default: auto.
    pub choice: ModelChoice,
    /// Latest labelled snapshots that validate. Default 2.
    pub validation_snapshots: usize,
    /// Latest labelled snapshots to backtest. Default 0.
    pub backtest: usize,
    /// Seed of every random choice (permutation importance). Default 42.
    pub seed: u64,
    /// Shuffles per feature for permutation importance. Default 5.
    pub permutation_repeats: usize,
    /// Candidate L2 strengths of the logistic model. Default [`L2_GRID`].
    pub l2_grid: Vec<f64>,
    /// Boosted-tree settings; `max_trees` bounds early stopping.
    pub boost: BoostParams,
    /// The share of unconverted rows every fit sees, in `(0, 1]`; default 1 (all). Below 1, each fit keeps
    /// every converted row and a seeded draw of this share of the others
    /// ([`LabelledMatrix::negatives_sampled`]), and its log-odds are shifted by `ln(negative_rate)` so the
    /// probabilities stay those of the whole population; validation, calibration, metrics and backtests
    /// read every row.
    pub negative_rate: f64,
}

impl Default for TrainParams {
    fn default() -> Self {
        TrainParams {
            choice: ModelChoice::Auto,
            validation_snapshots: 2,
            backtest: 0,
            seed: 42,
            permutation_repeats: 5,
            l2_grid: L2_GRID.to_vec(),
            boost: BoostParams::default(),
            negative_rate: 1.0,
        }
    }
}

impl TrainParams {
    /// Checks the settings for labels of `horizon_days` days (the config's): a horizon of at least a day,
    /// at least one validation snapshot, a negative rate in `(0, 1]`, valid boosted-tree settings and a
    /// non-empty grid of finite, non-negative L2 strengths.
    pub fn check(self, horizon_days: u32) -> Result<ValidTrainParams, TrainError> {
        if horizon_days == 0 {
            return Err(TrainError::NoHorizon);
        }
        if self.validation_snapshots == 0 {
            return Err(TrainError::NoValidation);
        }
        if !(self.negative_rate > 0.0 && self.negative_rate <= 1.0) {
            return Err(TrainError::NegativeRate(self.negative_rate));
        }
        self.boost.check().map_err(|e| TrainError::Fit {
            kind: ModelKind::Boosted,
            reason: FitError::Boost(e),
        })?;
        let logistic = |reason| TrainError::Fit {
            kind: ModelKind::Logistic,
            reason,
        };
        if self.l2_grid.is_empty() {
            return Err(logistic(FitError::Select(SelectError::EmptyGrid)));
        }
        if let Some(&l2) = self.l2_grid.iter().find(|l2| !(l2.is_finite() && **l2 >= 0.0)) {
            return Err(logistic(FitError::Logistic(LogisticError::InvalidL2(l2))));
        }
        Ok(ValidTrainParams {
            params: self,
            horizon_days,
        })
    }
}

/// Settings that passed [`TrainParams::check`], with the label horizon they were checked for.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidTrainParams {
    params: TrainParams,
    horizon_days: u32,
}

impl ValidTrainParams {
    /// The label horizon in days.
    pub fn horizon_days(&self) -> u32 {
        self.horizon_days
    }
}

impl std::ops::Deref for ValidTrainParams {
    type Target = TrainParams;

    fn deref(&self) -> &TrainParams {
        &self.params
    }
}

/// Size and time span of a set of rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Part {
    /// First snapshot (`YYYY-MM-DD`).
    pub first: String,
    /// Last snapshot.
    pub last: String,
    /// Distinct snapshots.
    pub snapshots: usize,
    /// Rows.
    pub rows: usize,
    /// Converted rows.
    pub positives: usize,
    /// Share converted.
    pub base_rate: f64,
}

impl Part {
    fn of(rows: &LabelledMatrix) -> Part {
        let snapshots: BTreeSet<i64> = rows.as_of.iter().copied().collect();
        let positives = rows.positives();
        Part {
            first: snapshots.first().map_or_else(String::new, |&t| date(t)),
            last: snapshots.last().map_or_else(String::new, |&t| date(t)),
            snapshots: snapshots.len(),
            rows: rows.labels.len(),
            positives,
            base_rate: positives as f64 / rows.labels.len().max(1) as f64,
        }
    }
}

/// One family's result on the validation rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateResult {
    /// The settings it chose.
    pub settings: Settings,
    /// Raw (uncalibrated) validation metrics.
    pub validation: Metrics,
    /// The L2 search (logistic only).
    pub l2_search: Vec<Candidate>,
}

/// Probability thresholds that set the tiers, from the calibrated validation scores: `hot` (a PQL) is the
/// top `pql_share` of that population, `warm` the next ones down to the top `warm_share`, `cold` the rest.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ThresholdPolicy {
    /// Share of the validation population flagged as PQL.
    pub pql_share: f64,
    /// Calibrated probability at and above which an account is a PQL (hot).
    pub pql_threshold: f64,
    /// Share of the validation population at least warm.
    pub warm_share: f64,
    /// Calibrated probability at and above which an account is warm.
    pub warm_threshold: f64,
}

impl ThresholdPolicy {
    /// Refuses thresholds that cannot set tiers: shares or probabilities outside `[0, 1]` (or NaN), or a
    /// warm threshold above the PQL one.
    pub fn check(&self) -> Result<(), FieldError> {
        for (field, value) in [
            ("pql_share", self.pql_share),
            ("pql_threshold", self.pql_threshold),
            ("warm_share", self.warm_share),
            ("warm_threshold", self.warm_threshold),
        ] {
            check::probability(field, value)?;
        }
        if self.warm_threshold > self.pql_threshold {
            return Err(FieldError::new(
                "warm_threshold",
                format!("{} is above pql_threshold {}", self.warm_threshold, self.pql_threshold),
            ));
        }
        Ok(())
    }

    /// The default policy (top 10% hot, top 30% warm) on calibrated scores.
    fn from_scores(scores: &[f64]) -> ThresholdPolicy {
        let mut sorted = scores.to_vec();
        sorted.sort_by(|a, b| b.total_cmp(a));
        let at = |share: f64| sorted[((share * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1];
        ThresholdPolicy {
            pql_share: 0.10,
            pql_threshold: at(0.10),
            warm_share: 0.30,
            warm_threshold: at(0.30),
        }
    }
}

/// The model's result on one backtest snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacktestRow {
    /// The snapshot evaluated (`YYYY-MM-DD`).
    pub as_of: String,
    /// Rows trained on (labels closed by `as_of`).
    pub train_rows: usize,
    /// The settings chosen that day.
    pub settings: Settings,
    /// Calibrated metrics on the snapshot.
    pub metrics: Metrics,
}

/// A trained model and the evidence for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Trained {
    /// The model refitted on every labelled snapshot.
    pub model: Model,
    /// Its settings.
    pub settings: Settings,
    /// Raw probability → calibrated probability.
    pub calibration: Calibration,
    /// Tier thresholds.
    pub thresholds: ThresholdPolicy,
    /// The fit part of the validation split.
    pub fit_part: Part,
    /// The validation snapshots.
    pub validation_part: Part,
    /// Every labelled snapshot (the refit).
    pub refit_part: Part,
    /// Each family tried, on validation.
    pub candidates: Vec<CandidateResult>,
    /// Calibrated validation metrics of the chosen family (the calibration was fitted on these rows).
    pub validation: Metrics,
    /// The curves behind those metrics.
    pub curves: Curves,
    /// Per-snapshot backtest, oldest first.
    pub backtest: Vec<BacktestRow>,
    /// Feature importances, in feature order.
    pub importances: Vec<Importance>,
    /// Partial dependence of the final model on the most important features, on the validation rows.
    pub dependence: Vec<Dependence>,
    /// Rule baselines on the validation rows.
    pub rules: Vec<RuleComparison>,
    /// The share of unconverted rows the fits saw ([`TrainParams::negative_rate`]).
    pub negative_rate: f64,
}

/// The outcome of steps 1–4 on some rows.
struct Fitted {
    settings: Settings,
    candidates: Vec<CandidateResult>,
    /// The model fitted on the fit part only.
    fit_model: Model,
    calibration: Calibration,
    fit_rows: LabelledMatrix,
    validation_rows: LabelledMatrix,
    /// Calibrated validation probabilities of `fit_model`.
    validation_scores: Vec<f64>,
    /// The chosen settings fitted on every row given (their unconverted ones thinned to the negative rate).
    model: Model,
    /// The rows `model` was fitted on.
    refit_part: Part,
}

/// Trains on the labelled rows of a feature table; `rules` are `(name, condition)` pairs.
pub fn train(
    rows: &LabelledMatrix,
    rules: &[(String, String)],
    params: &ValidTrainParams,
) -> Result<Trained, TrainError> {
    if rows.labels.is_empty() {
        return Err(TrainError::NoLabelledRows);
    }
    let rules = rules
        .iter()
        .map(|(name, when)| Rule::parse(name, when, &rows.names))
        .collect::<Result<Vec<_>, _>>()?;
    let fitted = fit_procedure(rows, params.choice, params, Stage::Main)?;
    let kind = fitted.settings.kind();
    let validation = evaluate(&fitted.validation_rows.labels, &fitted.validation_scores, kind)?;
    let permutation = importance::permutation(
        &fitted.fit_model,
        &fitted.validation_rows,
        params.permutation_repeats,
        params.seed,
    );
    let importances = importances(&fitted.model, rows, &permutation);
    let mut by_importance: Vec<usize> = (0..permutation.len()).collect();
    by_importance.sort_by(|&a, &b| permutation[b].0.total_cmp(&permutation[a].0));
    by_importance.truncate(importance::DEPENDENCE_FEATURES);
    let dependence = importance::partial_dependence(
        &fitted.model,
        &fitted.calibration,
        &fitted.validation_rows,
        &by_importance,
    );
    let curves = Curves::of(&fitted.validation_rows.labels, &fitted.validation_scores);
    let rules = rules
        .iter()
        .map(|rule| {
            RuleComparison::evaluate(
                rule,
                fitted.validation_rows.x.view(),
                &fitted.validation_rows.labels,
                &fitted.validation_scores,
            )
        })
        .collect();
    tracing::info!(%kind, rows = rows.labels.len(), "final model refitted; backtesting");
    let backtest = backtest(rows, kind, params)?;
    Ok(Trained {
        thresholds: ThresholdPolicy::from_scores(&fitted.validation_scores),
        fit_part: Part::of(&fitted.fit_rows),
        validation_part: Part::of(&fitted.validation_rows),
        refit_part: fitted.refit_part,
        model: fitted.model,
        settings: fitted.settings,
        calibration: fitted.calibration,
        candidates: fitted.candidates,
        validation,
        curves,
        backtest,
        importances,
        dependence,
        rules,
        negative_rate: params.negative_rate,
    })
}

/// Steps 1–4 of the module doc on `rows`.
fn fit_procedure(
    rows: &LabelledMatrix,
    choice: ModelChoice,
    params: &ValidTrainParams,
    stage: Stage,
) -> Result<Fitted, TrainError> {
    let split = TimeSplit::latest(&rows.as_of, params.validation_snapshots, params.horizon_days())
        .map_err(|reason| TrainError::Split { stage, reason })?;
    let (rate, seed) = (params.negative_rate, params.seed);
    let prior_shift = rate.ln();
    let fit_rows = rows.snapshots(|t| split.train.binary_search(&t).is_ok());
    let fit_rows = match fit_rows.negatives_sampled(rate, seed) {
        Cow::Owned(sampled) => sampled,
        Cow::Borrowed(_) => fit_rows,
    };
    let validation_rows = rows.snapshots(|t| split.validation.binary_search(&t).is_ok());
    check_classes(&fit_rows, Rows::Training(stage))?;
    check_classes(&validation_rows, Rows::Validation(stage))?;
    let validation_positives = validation_rows.positives();
    if validation_positives < MIN_CALIBRATION_POSITIVES {
        return Err(TrainError::TooFewPositives {
            rows_of: Rows::Validation(stage),
            positives: validation_positives,
            needed: MIN_CALIBRATION_POSITIVES,
        });
    }
    let mut best: Option<(Model, Vec<f64>, usize)> = None;
    let mut candidates: Vec<CandidateResult> = Vec::new();
    for kind in choice.kinds() {
        let fit_error = |reason: FitError| TrainError::Fit { kind, reason };
        let (settings, model, l2_search) = match kind {
            ModelKind::Logistic => {
                let (chosen, search) = choose_l2(&fit_rows, &validation_rows, &params.l2_grid, prior_shift)
                    .map_err(|e| fit_error(FitError::Select(e)))?;
                let settings = Settings::Logistic { l2: chosen.l2 };
                (
                    settings,
                    settings.fit(&fit_rows, prior_shift).map_err(fit_error)?,
                    search,
                )
            }
            ModelKind::Boosted => {
                let booster = params
                    .boost
                    .check()
                    .and_then(|p| {
                        p.fit_shifted(
                            fit_rows.x.view(),
                            &fit_rows.labels,
                            Some((validation_rows.x.view(), &validation_rows.labels)),
                            prior_shift,
                        )
                    })
                    .map_err(|e| fit_error(FitError::Boost(e)))?;
                let settings = Settings::Boosted {
                    params: params.boost.max_trees(booster.trees.len().max(1)),
                };
                (settings, Model::Boosted(booster), Vec::new())
            }
        };
        let scores = model.predict(validation_rows.x.view());
        let metrics = evaluate(&validation_rows.labels, &scores, kind)?;
        tracing::info!(
            %stage,
            %kind,
            fit_rows = fit_rows.labels.len(),
            validation_rows = validation_rows.labels.len(),
            log_loss = metrics.log_loss,
            roc_auc = metrics.roc_auc,
            "fitted a candidate"
        );
        if metrics.no_better_than_chance() {
            tracing::warn!(
                "the {kind} model ranks the {stage} rows no better than chance (ROC AUC {:.4} on {} rows): \
                 the features carry no signal it could use, or the fit failed",
                metrics.roc_auc,
                metrics.rows
            );
        }
        let better = best
            .as_ref()
            .is_none_or(|(_, _, i)| ranks_better(&metrics, &candidates[*i].validation));
        candidates.push(CandidateResult {
            settings,
            validation: metrics,
            l2_search,
        });
        if better {
            best = Some((model, scores, candidates.len() - 1));
        }
    }
    let (fit_model, raw_scores, chosen) = best.expect("at least one family is fitted");
    let settings = candidates[chosen].settings;
    let calibration = if validation_positives >= ISOTONIC_POSITIVES {
        Calibration::isotonic(&raw_scores, &validation_rows.labels)
    } else {
        Calibration::platt(&raw_scores, &validation_rows.labels).map_err(|e| TrainError::Fit {
            kind: settings.kind(),
            reason: FitError::Platt(e),
        })?
    };
    let validation_scores = raw_scores.iter().map(|&p| calibration.apply(p)).collect();
    let refit_rows = rows.negatives_sampled(rate, seed);
    let refit_part = Part::of(&refit_rows);
    let model = settings
        .fit(&refit_rows, prior_shift)
        .map_err(|reason| TrainError::Fit {
            kind: settings.kind(),
            reason,
        })?;
    Ok(Fitted {
        settings,
        candidates,
        fit_model,
        calibration,
        fit_rows,
        validation_rows,
        validation_scores,
        model,
        refit_part,
    })
}

/// The snapshots whose every row [`train`] evaluates or calibrates on: the validation snapshots of the
/// main split and of each backtest, and each backtest's snapshot. Thinning the unconverted rows while
/// reading (`TrainParams::negative_rate`) must keep every row of these; the others need only the rows
/// [`crate::matrix::keeps_negative`] keeps. `labelled` are the labelled rows' snapshots (any order).
pub fn evaluated_snapshots(labelled: &[i64], params: &ValidTrainParams) -> BTreeSet<i64> {
    let snapshots: Vec<i64> = labelled.iter().copied().collect::<BTreeSet<_>>().into_iter().collect();
    let horizon = i64::from(params.horizon_days()) * DAY_US;
    let validation = |of: &[i64]| {
        TimeSplit::latest(of, params.validation_snapshots, params.horizon_days())
            .map_or_else(|_| Vec::new(), |s| s.validation)
    };
    let mut evaluated: BTreeSet<i64> = validation(&snapshots).into_iter().collect();
    for &as_of in &snapshots[snapshots.len().saturating_sub(params.backtest)..] {
        evaluated.insert(as_of);
        let pool: Vec<i64> = snapshots.iter().copied().filter(|&t| t + horizon <= as_of).collect();
        evaluated.extend(validation(&pool));
    }
    evaluated
}

/// Which rows of a feature table [`train`] needs at `params.negative_rate`, from the table's `account_id`,
/// `as_of` and `label` columns: the labelled rows of the [`evaluated_snapshots`], and elsewhere the
/// converted rows and the unconverted ones [`crate::matrix::keeps_negative`] keeps. Unlabelled rows are
/// never needed. A table whose columns cannot be read this way is kept whole (building the matrix then
/// names the problem).
pub fn rows_to_read(columns: &polars::prelude::DataFrame, params: &ValidTrainParams) -> Vec<bool> {
    use polars::prelude::{DataType, TimeUnit};
    let read = || -> polars::prelude::PolarsResult<Vec<bool>> {
        let label = columns.column("label")?.cast(&DataType::Int32)?;
        let label = label.i32()?;
        let as_of = columns
            .column("as_of")?
            .cast(&DataType::Datetime(TimeUnit::Microseconds, None))?
            .cast(&DataType::Int64)?;
        let as_of = as_of.i64()?;
        let ids = columns.column("account_id")?.str()?;
        let labelled: Vec<i64> = label.iter().zip(as_of.iter()).filter_map(|(y, t)| y.and(t)).collect();
        let evaluated = evaluated_snapshots(&labelled, params);
        Ok(label
            .iter()
            .zip(as_of.iter())
            .zip(ids.iter())
            .map(|((y, t), id)| match (y, t) {
                (Some(1), Some(_)) => true,
                (Some(_), Some(t)) => {
                    evaluated.contains(&t)
                        || crate::matrix::keeps_negative(
                            crate::matrix::row_key(id.unwrap_or_default(), t),
                            params.negative_rate,
                            params.seed,
                        )
                }
                _ => false,
            })
            .collect())
    };
    read().unwrap_or_else(|_| vec![true; columns.height()])
}

/// Steps 1–4 on the snapshots closed by each of the last `params.backtest` labelled snapshots, scored on it.
fn backtest(rows: &LabelledMatrix, kind: ModelKind, params: &ValidTrainParams) -> Result<Vec<BacktestRow>, TrainError> {
    let snapshots: Vec<i64> = rows
        .as_of
        .iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let horizon = i64::from(params.horizon_days()) * DAY_US;
    let first = snapshots.len().saturating_sub(params.backtest);
    snapshots[first..]
        .iter()
        .map(|&as_of| {
            let stage = Stage::Backtest { as_of };
            let pool = rows.snapshots(|t| t + horizon <= as_of);
            let test = rows.snapshots(|t| t == as_of);
            if pool.labels.is_empty() {
                return Err(TrainError::Split {
                    stage,
                    reason: SplitError::NoTrainingSnapshots {
                        first_validation: as_of,
                        horizon_days: params.horizon_days(),
                    },
                });
            }
            check_classes(&test, Rows::Test { as_of })?;
            let fitted = fit_procedure(&pool, ModelChoice::Only(kind), params, stage)?;
            let scores: Vec<f64> = fitted
                .model
                .predict(test.x.view())
                .iter()
                .map(|&p| fitted.calibration.apply(p))
                .collect();
            Ok(BacktestRow {
                as_of: date(as_of),
                train_rows: fitted.refit_part.rows,
                settings: fitted.settings,
                metrics: evaluate(&test.labels, &scores, kind)?,
            })
        })
        .collect()
}

/// Permutation importances with the model's own measures added.
fn importances(model: &Model, rows: &LabelledMatrix, permutation: &[(f64, f64)]) -> Vec<Importance> {
    let (coefficients, errors, gains) = match model {
        Model::Logistic(m) => {
            let weights = ndarray::ArrayView1::from(&m.weights);
            let errors = crate::logistic::standard_errors(m.intercept, weights, rows.x.view(), &m.standardizer, m.l2);
            (Some(m.weights.clone()), errors, None)
        }
        Model::Boosted(b) => {
            let gains = b.split_gains(rows.names.len());
            let total: f64 = gains.iter().sum();
            (
                None,
                None,
                Some(
                    gains
                        .iter()
                        .map(|g| g / total.max(f64::MIN_POSITIVE))
                        .collect::<Vec<_>>(),
                ),
            )
        }
    };
    rows.names
        .iter()
        .enumerate()
        .map(|(j, name)| Importance {
            feature: name.clone(),
            permutation: permutation[j].0,
            permutation_std: permutation[j].1,
            coefficient: coefficients.as_ref().map(|c| c[j]),
            coefficient_se: errors.as_ref().map(|e| e[j]),
            gain_share: gains.as_ref().map(|g| g[j]),
        })
        .collect()
}

fn check_classes(rows: &LabelledMatrix, rows_of: Rows) -> Result<(), TrainError> {
    let positives = rows.positives();
    if positives == 0 || positives == rows.labels.len() {
        return Err(TrainError::OneClass {
            rows_of,
            rows: rows.labels.len(),
            positives,
        });
    }
    Ok(())
}

fn evaluate(labels: &[bool], scores: &[f64], kind: ModelKind) -> Result<Metrics, TrainError> {
    Metrics::evaluate(labels, scores).map_err(|e| TrainError::Fit {
        kind,
        reason: FitError::Metrics(e),
    })
}

/// Whether a family's validation metrics beat another's for `--model auto`: the higher ROC AUC, the lower
/// log loss on an equal AUC. The calibration that follows fixes the probability scale of either family but
/// not its ranking, and the ranking is what sales works through; log loss before calibration mixes the
/// two (a well-regularised logistic model can have the lower raw log loss and still rank worse).
pub fn ranks_better(a: &Metrics, b: &Metrics) -> bool {
    a.roc_auc > b.roc_auc || (a.roc_auc == b.roc_auc && a.log_loss < b.log_loss)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_prefers_the_better_ranking_over_the_lower_raw_log_loss() {
        let labels = [false, false, true, true];
        // Ranks perfectly but its probabilities are far too low, which calibration fixes.
        let ranks = Metrics::evaluate(&labels, &[0.001, 0.002, 0.003, 0.004]).unwrap();
        // Better scaled, ranks one pair wrong, which calibration cannot fix.
        let scaled = Metrics::evaluate(&labels, &[0.2, 0.6, 0.4, 0.8]).unwrap();
        assert!(scaled.log_loss < ranks.log_loss && ranks.roc_auc > scaled.roc_auc);
        assert!(ranks_better(&ranks, &scaled) && !ranks_better(&scaled, &ranks));
        assert!(
            !ranks_better(&ranks, &ranks),
            "an equal candidate does not replace the first"
        );
    }
}
