//! The model artifact: `models/<model_id>/model.json` (everything needed to score and to explain, as plain
//! numbers), `metrics.json` and `importances.csv` for analysts.
//!
//! The artifact holds no clock time and no path, and `model_id` is a hash of its own content, so the same
//! inputs, settings and seed give a byte-identical directory. The directory is written beside its
//! destination and renamed into place, so a crash never leaves a half-written model. [`Artifact::load`]
//! refuses a file whose content does not hash to its `model_id` (edited or damaged), then checks every
//! part's shapes and numbers ([`Artifact::check`]), so a model that loads scores without NaN or panic.

use std::io::Write;
use std::path::{Path, PathBuf};

use pql_features::{FeatureDef, Roles};
use serde::{Deserialize, Serialize};

use crate::calibration::Calibration;
use crate::check::{self, FieldError};
use crate::importance::{Dependence, Importance};
use crate::matrix::{LabelledMatrix, Value};
use crate::metrics::{Curves, Metrics};
use crate::model::{Model, ModelKind, Settings};
use crate::profile::{Distribution, Profile};
use crate::rules::RuleComparison;
use crate::training::{BacktestRow, CandidateResult, Part, ThresholdPolicy, Trained};

/// Training rows the drift profile is measured on, at most.
pub const PROFILE_ROWS: usize = 100_000;

/// The artifact format this pql writes and reads.
pub const FORMAT_VERSION: u32 = 5;

/// Where the training data came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// Label horizon in days.
    pub horizon_days: u32,
    /// Every labelled snapshot: the rows of the final fit.
    pub window: Part,
    /// The validation split's training part.
    pub fit: Part,
    /// The validation snapshots.
    pub validation: Part,
    /// Hash of the `pql.toml` text.
    pub config_hash: String,
    /// The event roles the features were computed with; scoring refuses a config with other roles.
    pub event_roles: Roles,
    /// Hash of the labelled rows (snapshots, labels and every feature value).
    pub data_fingerprint: String,
    /// Features of the table left out of the model: one value on every labelled row.
    pub constant_features: Vec<String>,
    /// Seed of the random choices.
    pub seed: u64,
    /// The share of unconverted rows the fits saw (1: all); the model's log-odds are shifted by its log.
    #[serde(default = "every_row")]
    pub negative_rate: f64,
}

fn every_row() -> f64 {
    1.0
}

/// A trained model, self-described.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Artifact {
    /// [`FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// Content hash of the artifact (16 hex digits).
    pub model_id: String,
    /// The pql version that trained it.
    pub pql_version: String,
    /// The model family.
    pub kind: ModelKind,
    /// The features, in the model's column order, as the dictionary defines them.
    pub features: Vec<FeatureDef>,
    /// The settings the model was fitted with.
    pub settings: Settings,
    /// The model (raw probabilities).
    pub model: Model,
    /// Raw → calibrated probability.
    pub calibration: Calibration,
    /// Tier thresholds on calibrated probabilities.
    pub thresholds: ThresholdPolicy,
    /// Training data.
    pub training: Provenance,
    /// Calibrated validation metrics of the chosen family.
    pub metrics: Metrics,
    /// The curves behind them (ROC, precision-recall, reliability, gains).
    pub curves: Curves,
    /// Each family tried.
    pub candidates: Vec<CandidateResult>,
    /// Per-snapshot backtest.
    pub backtest: Vec<BacktestRow>,
    /// Feature importances, in feature order.
    pub importances: Vec<Importance>,
    /// Partial dependence of the model on its most important features (validation rows).
    pub dependence: Vec<Dependence>,
    /// Rule baselines beside the model.
    pub rules: Vec<RuleComparison>,
    /// The training data's distributions, for drift checks.
    pub profile: Profile,
}

/// Why an artifact cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// A file operation failed.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a pql model or is damaged.
    #[error("{}: {message}", .path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The content does not hash to the file's `model_id`.
    #[error(
        "{}: model_id {model_id} does not match its content (hash {content_id}); the file was edited or \
         damaged: retrain, or restore it",
        .path.display()
    )]
    Edited {
        /// The file.
        path: PathBuf,
        /// The id the file states.
        model_id: String,
        /// The hash of its content.
        content_id: String,
    },
    /// A registry lists no model of this id.
    #[error("{} lists no model {model_id:?}: see `pql models`", .path.display())]
    UnknownModel {
        /// The registry file.
        path: PathBuf,
        /// The id asked for.
        model_id: String,
    },
    /// A field cannot be used to score (see [`Artifact::check`]).
    #[error("{}: {source}", .path.display())]
    Field {
        /// The file.
        path: PathBuf,
        /// The field and what is wrong with it.
        source: FieldError,
    },
}

impl Artifact {
    /// Assembles the artifact of a training run and derives its id. `features` are the table's: those of
    /// `rows` become the model's, in its order; the others are recorded as constant (left out before the fit).
    pub fn new(
        trained: Trained,
        mut features: Vec<FeatureDef>,
        rows: &LabelledMatrix,
        config_text: &str,
        event_roles: Roles,
        seed: u64,
        horizon_days: u32,
    ) -> Artifact {
        let constant_features = features
            .iter()
            .filter(|d| !rows.names.contains(&d.name))
            .map(|d| d.name.clone())
            .collect();
        features.retain(|d| rows.names.contains(&d.name));
        let mut artifact = Artifact {
            format_version: FORMAT_VERSION,
            model_id: String::new(),
            pql_version: env!("CARGO_PKG_VERSION").to_string(),
            kind: trained.model.kind(),
            features,
            settings: trained.settings,
            model: trained.model,
            calibration: trained.calibration,
            thresholds: trained.thresholds,
            training: Provenance {
                horizon_days,
                window: trained.refit_part,
                fit: trained.fit_part,
                validation: trained.validation_part,
                config_hash: hex(fnv1a(config_text.bytes())),
                event_roles,
                data_fingerprint: hex(fingerprint(rows)),
                constant_features,
                seed,
                negative_rate: trained.negative_rate,
            },
            metrics: trained.validation,
            curves: trained.curves,
            candidates: trained.candidates,
            backtest: trained.backtest,
            importances: trained.importances,
            dependence: trained.dependence,
            rules: trained.rules,
            profile: Profile {
                rows: 0,
                features: Vec::new(),
                probability: Distribution::fit(&[]),
            },
        };
        artifact.profile = artifact.profile_of(rows);
        artifact.model_id = artifact.content_id();
        artifact
    }

    /// The hash of the content, `model_id` left empty: the `model_id` of an intact artifact.
    pub fn content_id(&self) -> String {
        let mut content = self.clone();
        content.model_id.clear();
        hex(fnv1a(content.to_json().bytes()))
    }

    /// Refuses an artifact that would score wrongly or panic, naming the field: no features or two of a
    /// name, a family that disagrees with the model, or a part (`model`, `calibration`, `thresholds`,
    /// `profile`, `importances`) that does not fit the features or holds numbers out of range.
    pub fn check(&self) -> Result<(), FieldError> {
        let n = self.features.len();
        if n == 0 {
            return Err(FieldError::new(
                "features",
                "empty (a model needs at least one feature)",
            ));
        }
        for (j, feature) in self.features.iter().enumerate() {
            if self.features[..j].iter().any(|f| f.name == feature.name) {
                return Err(FieldError::new(
                    format!("features[{j}].name"),
                    format!("`{}` appears twice", feature.name),
                ));
            }
        }
        for (field, kind) in [
            ("model.kind", self.model.kind()),
            ("settings.kind", self.settings.kind()),
        ] {
            if kind != self.kind {
                return Err(FieldError::new(
                    field,
                    format!("`{kind}`, but the model is `{}`", self.kind),
                ));
            }
        }
        self.model.check(n).map_err(|e| e.within("model"))?;
        self.calibration.check().map_err(|e| e.within("calibration"))?;
        self.thresholds.check().map_err(|e| e.within("thresholds"))?;
        self.profile.check(n).map_err(|e| e.within("profile"))?;
        check::one_per_feature("importances", self.importances.len(), n)?;
        for (j, (importance, feature)) in self.importances.iter().zip(&self.features).enumerate() {
            if importance.feature != feature.name {
                return Err(FieldError::new(
                    format!("importances[{j}].feature"),
                    format!("`{}`, but features[{j}] is `{}`", importance.feature, feature.name),
                ));
            }
        }
        Ok(())
    }

    /// The distributions of the latest training snapshot (the population most like the next ones scored;
    /// the whole window mixes in the younger accounts of earlier weeks), at most [`PROFILE_ROWS`] evenly
    /// spaced rows, and of their calibrated probabilities.
    fn profile_of(&self, rows: &LabelledMatrix) -> Profile {
        let latest = rows.as_of.iter().copied().max().unwrap_or_default();
        let snapshot: Vec<usize> = (0..rows.as_of.len()).filter(|&i| rows.as_of[i] == latest).collect();
        let step = snapshot.len().div_ceil(PROFILE_ROWS).max(1);
        let sample: Vec<usize> = snapshot.into_iter().step_by(step).collect();
        let x = rows.x.select(ndarray::Axis(0), &sample);
        // Cut at stored (f32) values, the edges widened to every f64 stored as them: features scored as
        // f64 fall in the bins their training values did.
        let features = x
            .columns()
            .into_iter()
            .map(|column| {
                let mut distribution = Distribution::fit(&column.mapv(f64::from).to_vec());
                distribution
                    .edges
                    .iter_mut()
                    .for_each(|e| *e = <f32 as Value>::ceiling(*e));
                distribution
            })
            .collect();
        Profile {
            rows: sample.len(),
            features,
            probability: Distribution::fit(&self.predict(x.view())),
        }
    }

    fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("an artifact is plain data")
    }

    /// Calibrated probabilities of conversion for rows of the model's features.
    pub fn predict<A: crate::matrix::Value>(&self, x: ndarray::ArrayView2<A>) -> Vec<f64> {
        self.calibrate(self.model.predict(x))
    }

    /// Calibrated probabilities of conversion for the rows of the model's feature columns.
    pub fn predict_columns(&self, columns: &crate::matrix::FeatureColumns) -> Vec<f64> {
        self.calibrate(self.model.predict_columns(columns))
    }

    fn calibrate(&self, mut p: Vec<f64>) -> Vec<f64> {
        use rayon::prelude::*;
        p.par_iter_mut().for_each(|p| *p = self.calibration.apply(*p));
        p
    }

    /// The feature names, in column order.
    pub fn feature_names(&self) -> Vec<String> {
        self.features.iter().map(|f| f.name.clone()).collect()
    }

    /// Writes `<models>/<model_id>/` (`model.json`, `metrics.json`, `importances.csv`) atomically and
    /// returns its path. An existing directory of the same id (the same content) is kept as it is.
    pub fn save(&self, models: &Path) -> Result<PathBuf, ArtifactError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ArtifactError::Io { path, source }
        };
        std::fs::create_dir_all(models).map_err(io(models))?;
        let staging = pql_data::output::staging_dir(models, "model").map_err(io(models))?;
        let files = [
            ("model.json", self.to_json()),
            ("metrics.json", self.metrics_json()),
            ("importances.csv", self.importances_csv()),
        ];
        for (name, text) in files {
            let path = staging.path().join(name);
            let mut file = std::fs::File::create(&path).map_err(io(&path))?;
            file.write_all(text.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(io(&path))?;
        }
        let target = models.join(&self.model_id);
        if target.join("model.json").exists() {
            // The id is a hash of the content: the complete directory already there is this model. Replacing
            // it would leave a moment in which the registry names a missing model.
            return Ok(target);
        }
        match std::fs::rename(staging.path(), &target) {
            Ok(()) => {
                let _ = staging.keep(); // renamed into place: nothing left to remove
                Ok(target)
            }
            // Another run saved this same model since the check above (a full directory is not replaced).
            Err(_) if target.join("model.json").exists() => Ok(target),
            Err(source) => Err(io(&target)(source)),
        }
    }

    /// Reads `model.json`, given it or its directory, and refuses it unless its content hashes to its
    /// `model_id` and it passes [`Artifact::check`].
    pub fn load(path: &Path) -> Result<Artifact, ArtifactError> {
        let path = if path.is_dir() {
            path.join("model.json")
        } else {
            path.to_path_buf()
        };
        let invalid = |message: String| ArtifactError::Invalid {
            path: path.clone(),
            message,
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ArtifactError::Io {
            path: path.clone(),
            source,
        })?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| invalid(format!("damaged model file (not JSON: {e})")))?;
        match value.get("format_version").and_then(serde_json::Value::as_u64) {
            None => return Err(invalid("not a pql model (no format_version)".into())),
            Some(v) if v != u64::from(FORMAT_VERSION) => {
                return Err(invalid(format!(
                    "model format version {v}; this pql {} reads version {FORMAT_VERSION}",
                    env!("CARGO_PKG_VERSION")
                )))
            }
            Some(_) => {}
        }
        let artifact: Artifact =
            serde_json::from_value(value).map_err(|e| invalid(format!("damaged model file: {e}")))?;
        let content_id = artifact.content_id();
        if content_id != artifact.model_id {
            return Err(ArtifactError::Edited {
                path,
                model_id: artifact.model_id,
                content_id,
            });
        }
        artifact
            .check()
            .map_err(|source| ArtifactError::Field { path, source })?;
        Ok(artifact)
    }

    /// `metrics.json`: the numbers an analyst compares across models.
    fn metrics_json(&self) -> String {
        let candidates: serde_json::Map<String, serde_json::Value> = self
            .candidates
            .iter()
            .map(|c| {
                (
                    c.settings.kind().to_string(),
                    serde_json::to_value(c.validation).expect("plain data"),
                )
            })
            .collect();
        serde_json::to_string_pretty(&serde_json::json!({
            "model_id": self.model_id,
            "kind": self.kind,
            "validation": self.metrics,
            "candidates": candidates,
            "backtest": self.backtest,
            "rules": self.rules,
            "training": self.training,
        }))
        .expect("plain data")
    }

    /// `importances.csv`: one row per feature, most important (permutation) first.
    fn importances_csv(&self) -> String {
        let mut rows: Vec<&Importance> = self.importances.iter().collect();
        rows.sort_by(|a, b| b.permutation.total_cmp(&a.permutation));
        let optional = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        let mut csv =
            String::from("feature,permutation_auc_drop,permutation_std,coefficient,coefficient_se,gain_share\n");
        for i in rows {
            csv.push_str(&format!(
                "{},{},{},{},{},{}\n",
                csv_field(&i.feature),
                i.permutation,
                i.permutation_std,
                optional(i.coefficient),
                optional(i.coefficient_se),
                optional(i.gain_share)
            ));
        }
        csv
    }
}

/// A CSV field, quoted when it holds a comma, quote or line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// 64-bit FNV-1a: a stable content hash (not for security).
fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A hash of the labelled rows: snapshots, labels and every feature value, with the feature names.
fn fingerprint(rows: &LabelledMatrix) -> u64 {
    let words = rows
        .names
        .iter()
        .flat_map(|n| n.bytes().map(u64::from))
        .chain(rows.as_of.iter().map(|&t| t as u64))
        .chain(rows.labels.iter().map(|&y| u64::from(y)))
        .chain(rows.x.iter().map(|v| u64::from(v.to_bits())));
    words.fold(0xcbf2_9ce4_8422_2325, |h, w| {
        (h ^ w).wrapping_mul(0x0100_0000_01b3).rotate_left(29)
    })
}

fn hex(hash: u64) -> String {
    format!("{hash:016x}")
}
