//! Checks of a loaded model's structure: every part (`model`, `calibration`, `thresholds`, `profile`) has a
//! `check` beside its type that refuses what would score wrongly or panic — arrays of the wrong length,
//! numbers that are not finite or out of range, tree nodes pointing nowhere — with a [`FieldError`] naming
//! the field by its path in `model.json` (`model.trees[4].nodes[7].feature`).

/// A field of `model.json` that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// Its path in the JSON document, e.g. `model.standardizer.scales[3]`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same problem, its field inside `parent` (`trees[4]` + `nodes[7]` = `trees[4].nodes[7]`).
    pub fn within(self, parent: &str) -> FieldError {
        FieldError {
            field: format!("{parent}.{}", self.field),
            message: self.message,
        }
    }
}

/// `value` is finite.
pub fn finite(field: &str, value: f64) -> Result<(), FieldError> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(FieldError::new(field, format!("{value} (must be finite)")))
    }
}

/// Every value is finite, naming the first that is not as `field[i]`.
pub fn all_finite(field: &str, values: &[f64]) -> Result<(), FieldError> {
    values
        .iter()
        .enumerate()
        .try_for_each(|(i, &v)| finite(&format!("{field}[{i}]"), v))
}

/// `values` holds one value per feature.
pub fn one_per_feature(field: &str, values: usize, features: usize) -> Result<(), FieldError> {
    if values == features {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            format!("{values} values for {features} features"),
        ))
    }
}

/// `value` is a probability or a share: in `[0, 1]`, not NaN.
pub fn probability(field: &str, value: f64) -> Result<(), FieldError> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(FieldError::new(field, format!("{value} (must be between 0 and 1)")))
    }
}

/// Every value is a probability, naming the first that is not as `field[i]`.
pub fn all_probabilities(field: &str, values: &[f64]) -> Result<(), FieldError> {
    values
        .iter()
        .enumerate()
        .try_for_each(|(i, &v)| probability(&format!("{field}[{i}]"), v))
}

/// Finite values, each larger than the one before, naming the first that is not.
pub fn increasing(field: &str, values: &[f64]) -> Result<(), FieldError> {
    all_finite(field, values)?;
    match values.windows(2).position(|w| w[0] >= w[1]) {
        None => Ok(()),
        Some(i) => Err(FieldError::new(field, format!("not increasing at {}", i + 1))),
    }
}
