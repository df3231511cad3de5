//! Weekly retraining: a challenger trained on what was known at a date, compared with the champion on
//! snapshots the champion never learned from, promoted or not.

use std::path::Path;

use chrono::NaiveDate;
use pql_data::Config;
use pql_features::{Snapshots, Vocabulary};
use pql_train::matrix::LabelledMatrix;
use pql_train::metrics::Metrics;
use pql_train::registry::{decide, sanity_problems, Decision, Evaluation, Registry};
use pql_train::{Artifact, TrainParams};

use crate::train::{lock_registry, train, Trained, TrainingSource};
use crate::{features, score, PipelineError, Progress};

/// How a challenger is judged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    /// Relative log-loss improvement needed (0.01 = 1%).
    pub margin: f64,
    /// Largest calibration error (ECE) allowed on the comparison snapshots.
    pub max_ece: f64,
}

/// Days between weekly snapshots.
const SNAPSHOT_EVERY_DAYS: u64 = 7;

/// What [`retrain`] did.
#[derive(Debug)]
pub struct Retrained {
    /// The challenger, registered in the folder.
    pub challenger: Trained,
    /// The champion it was compared with (none in a folder without one).
    pub champion: Option<String>,
    /// The outcome, as recorded in the registry.
    pub outcome: Outcome,
    /// The comparison the decision rests on, when one was fair.
    pub compared: Option<Compared>,
    /// PSI of the champion's probabilities on the population eligible at the retrain date against its
    /// training data, when the champion could score it.
    pub probability_psi: Option<f64>,
}

/// Champion and challenger on the same labelled snapshots.
#[derive(Debug, Clone, PartialEq)]
pub struct Compared {
    /// The comparison snapshots.
    pub snapshots: Vec<NaiveDate>,
    /// The champion's metrics pooled over them.
    pub champion: Evaluation,
    /// The challenger's backtest metrics pooled over them.
    pub challenger: Evaluation,
}

/// The outcome of a retrain.
#[derive(Debug)]
pub enum Outcome {
    /// The folder had no champion: the challenger is its first.
    FirstChampion,
    /// Another run changed the champion during this one, so nothing was promoted.
    ChampionChanged {
        /// The champion when this run started.
        before: Option<String>,
        /// The champion now.
        now: Option<String>,
    },
    /// The challenger is the champion itself (same data and settings): nothing to compare.
    SameModel,
    /// The champion cannot score this config's data; the challenger waits for a promotion by hand.
    ChampionCannotScore(pql_score::ScoreError),
    /// Compared (or found not comparable): promoted, or kept with the reason.
    Decided(Decision),
}

impl Outcome {
    /// The note of a challenger whose champion changed meanwhile, as the registry records it.
    pub fn champion_changed(before: Option<&str>, now: Option<&str>) -> String {
        format!(
            "not promoted: the champion changed from {} to {} during this run; rerun to compare",
            before.unwrap_or("none"),
            now.unwrap_or("none")
        )
    }
}

/// Trains a challenger on the history known at 00:00 UTC of `as_of` (default: the day after the last
/// event), registers it in `models`, and compares it with the folder's champion on the challenger's
/// backtest snapshots that are fair to both: each starts after every label the champion learned from
/// closed (so the champion never saw its outcome), and its backtest model learned from at least one
/// snapshot the champion never trained on (so the challenger is not the champion's own data refitted).
/// The champion scores them as it is, the challenger by its backtest models. The challenger is promoted
/// when its log loss is lower by more than the margin and it passes the sanity checks. Without a fair
/// snapshot the rule is to keep the champion, saying from which snapshot a comparison becomes possible.
/// The decision is recorded in the registry.
pub fn retrain(
    progress: &dyn Progress,
    config_path: &Path,
    models: &Path,
    as_of: Option<NaiveDate>,
    comparison: &Comparison,
    params: TrainParams,
) -> Result<Retrained, PipelineError> {
    let config = Config::load(config_path)?;
    let as_of = match as_of {
        Some(date) => date,
        None => features::event_days(&config)?.1 + chrono::Days::new(1),
    };
    // The champion the challenger is compared with: when another run changes it meanwhile, nothing is
    // promoted (checked under the registry's lock before writing the decision).
    let champion = match Registry::load(models)?.champion {
        Some(id) => Some(Artifact::load(&models.join(id))?),
        None => None,
    };
    let source = TrainingSource::Events {
        from: None,
        to: Some(as_of),
        known_at: Some(as_of),
    };
    let challenger = train(progress, config_path, &source, params, models)?;
    let id = challenger.artifact.model_id.clone();
    let done = |challenger, champion: Option<&Artifact>, outcome| {
        Ok(Retrained {
            challenger,
            champion: champion.map(|c| c.model_id.clone()),
            outcome,
            compared: None,
            probability_psi: None,
        })
    };
    let Some(champion) = champion else {
        if challenger.is_champion() {
            return done(challenger, None, Outcome::FirstChampion);
        }
        let mut registry = lock_registry(progress, models)?;
        let now = registry.champion.clone();
        registry.annotate(&id, &Outcome::champion_changed(None, now.as_deref()));
        registry.commit()?;
        return done(challenger, None, Outcome::ChampionChanged { before: None, now });
    };
    if champion.model_id == id {
        return done(challenger, Some(&champion), Outcome::SameModel);
    }

    // Fair snapshots start after every label the champion learned from had closed (an earlier one shares
    // conversions with its training rows), and their backtest model learned from the first snapshot the
    // champion never trained on, a week after its last one.
    let window_last = date_of(&champion, &champion.training.window.last)?;
    let learned_until = window_last + chrono::Days::new(u64::from(champion.training.horizon_days));
    let first_unseen = window_last + chrono::Days::new(SNAPSHOT_EVERY_DAYS);
    let fair_from =
        learned_until.max(first_unseen + chrono::Days::new(u64::from(challenger.artifact.training.horizon_days)));
    let mut newer = Vec::new();
    let mut dates = Vec::new();
    for row in &challenger.artifact.backtest {
        let date = date_of(&challenger.artifact, &row.as_of)?;
        if date >= fair_from {
            newer.push((row.metrics.rows, row.metrics.log_loss, row.metrics.ece));
            dates.push(date);
        }
    }
    let ChampionOn {
        probability_psi,
        evaluation: champion_eval,
    } = match champion_on(progress, &champion, &config, &dates, as_of)? {
        Ok(on) => on,
        Err(mismatch) => return done(challenger, Some(&champion), Outcome::ChampionCannotScore(mismatch)),
    };
    let compared = champion_eval.map(|champion_eval| Compared {
        snapshots: dates,
        champion: champion_eval,
        challenger: Evaluation::pool(&newer),
    });
    let decision = match &compared {
        None => Decision::Keep(format!(
            "none of the challenger's backtest snapshots is a fair comparison yet: one on or after \
             {fair_from} is needed, labelled after the champion's labels ended ({learned_until}) and with a \
             backtest model that learnt from a snapshot the champion never saw ({first_unseen} on); without \
             a fair comparison the champion stays (raise --backtest, or retrain once {fair_from} is labelled)"
        )),
        Some(c) => {
            let problems = sanity_problems(&champion, &challenger.artifact, &c.challenger, comparison.max_ece);
            decide(&c.champion, &c.challenger, comparison.margin, &problems)
        }
    };
    let mut registry = lock_registry(progress, models)?;
    if registry.champion.as_deref() != Some(champion.model_id.as_str()) {
        let now = registry.champion.clone();
        registry.annotate(
            &id,
            &Outcome::champion_changed(Some(&champion.model_id), now.as_deref()),
        );
        registry.commit()?;
        let before = Some(champion.model_id.clone());
        return done(challenger, Some(&champion), Outcome::ChampionChanged { before, now });
    }
    match &decision {
        Decision::Promote(why) => registry.promote(&id, why)?,
        Decision::Keep(why) => registry.annotate(&id, &format!("not promoted: {why}")),
    }
    registry.commit()?;
    Ok(Retrained {
        champion: Some(champion.model_id),
        challenger,
        outcome: Outcome::Decided(decision),
        compared,
        probability_psi,
    })
}

/// A date of `model`'s files (`YYYY-MM-DD`).
fn date_of(model: &Artifact, value: &str) -> Result<NaiveDate, PipelineError> {
    value.parse().map_err(|_| PipelineError::ModelDate {
        model_id: model.model_id.clone(),
        value: value.to_string(),
    })
}

/// The champion on the retrain's data: see [`champion_on`].
struct ChampionOn {
    probability_psi: Option<f64>,
    evaluation: Option<Evaluation>,
}

/// The PSI of the champion's probabilities on the population eligible at `as_of` (warning about drift)
/// and its metrics pooled over the labelled snapshots from the first to the last of `dates` (`None`
/// without dates); or why it cannot score this config's data.
fn champion_on(
    progress: &dyn Progress,
    champion: &Artifact,
    config: &Config,
    dates: &[NaiveDate],
    as_of: NaiveDate,
) -> Result<Result<ChampionOn, pql_score::ScoreError>, PipelineError> {
    let vocabulary = Vocabulary::of_defs(&champion.features);
    let scorer = match pql_score::Scorer::for_config(champion, config) {
        Ok(scorer) => scorer,
        Err(mismatch) => return Ok(Err(mismatch)),
    };
    let today = features::prepare(progress, config, &Snapshots::One(as_of), Some(&vocabulary))?.collect()?;
    let mut psi = None;
    if today.frame.height() > 0 {
        let drift = scorer.drift(&today.frame)?;
        score::warn_drift(progress, &drift, &config.drift);
        psi = Some(drift.probability);
    }
    let (Some(&from), Some(&to)) = (dates.first(), dates.last()) else {
        return Ok(Ok(ChampionOn {
            probability_psi: psi,
            evaluation: None,
        }));
    };
    let builder = features::prepare(progress, config, &Snapshots::Range { from, to }, Some(&vocabulary))?;
    let table = builder.known_at(as_of).collect()?;
    let rows = LabelledMatrix::from_table(&table.frame, &champion.feature_names())?;
    let mut dates = rows.as_of.clone();
    dates.sort_unstable();
    dates.dedup();
    let mut snapshots = Vec::new();
    for date in dates {
        let rows = rows.snapshots(|t| t == date);
        let metrics = Metrics::evaluate(&rows.labels, &champion.predict(rows.x.view()))?;
        snapshots.push((metrics.rows, metrics.log_loss, metrics.ece));
    }
    Ok(Ok(ChampionOn {
        probability_psi: psi,
        evaluation: (!snapshots.is_empty()).then(|| Evaluation::pool(&snapshots)),
    }))
}
