//! From a feature table to the model's input: the feature columns as an `ndarray` matrix (built from the
//! polars column slices, with the ndarray version linfa uses), the labels, and a standardiser that
//! remembers each column's mean and spread so scoring applies exactly the training transform.

use std::borrow::Cow;

use ndarray::{Array2, Axis};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

/// Labelled rows of a feature table, ready for a model.
#[derive(Debug, Clone)]
pub struct LabelledMatrix {
    /// One row per labelled snapshot row, one column per feature, in `names` order.
    pub x: Array2<f64>,
    /// Converted within the horizon.
    pub labels: Vec<bool>,
    /// Snapshot of each row (`as_of`, μs since the epoch).
    pub as_of: Vec<i64>,
    /// Feature names.
    pub names: Vec<String>,
    /// Each row's identity, a hash of its account and snapshot ([`row_key`]): thinning the unconverted
    /// rows draws from it, so a row is kept or not whichever columns and subset of rows a fit sees, and
    /// whether it was thinned while reading ([`keeps_negative`]) or later.
    pub keys: Vec<u64>,
}

/// A row's identity for thinning: its account id's bytes and its snapshot (μs), hashed.
pub fn row_key(account_id: &str, as_of: i64) -> u64 {
    let fnv = account_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    splitmix(fnv ^ splitmix(as_of as u64))
}

/// Whether thinning to `rate` of the unconverted rows keeps the one with `key` (every row at `rate` 1).
pub fn keeps_negative(key: u64, rate: f64, seed: u64) -> bool {
    let draw = (splitmix(key ^ splitmix(seed)) >> 11) as f64 / (1u64 << 53) as f64;
    rate >= 1.0 || draw < rate
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Why a table cannot become a matrix.
#[derive(Debug, Clone, PartialEq)]
pub enum MatrixError {
    /// A feature column is missing or not numeric.
    Column {
        /// The column.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A feature value is null or not finite.
    NotFinite {
        /// The column.
        name: String,
        /// 0-based row in the table.
        row: usize,
    },
}

impl std::fmt::Display for MatrixError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MatrixError::Column { name, message } => write!(f, "feature `{name}`: {message}"),
            MatrixError::NotFinite { name, row } => write!(f, "feature `{name}`, row {row}: missing or not finite"),
        }
    }
}

impl std::error::Error for MatrixError {}

fn column_error(name: &str, err: PolarsError) -> MatrixError {
    MatrixError::Column {
        name: name.to_string(),
        message: err.to_string().lines().next().unwrap_or_default().to_string(),
    }
}

/// The named feature columns of a table as checked `f64` columns (every value finite), read in place:
/// scoring works from these without copying the whole table into a matrix.
pub struct FeatureColumns {
    columns: Vec<Float64Chunked>,
    rows: usize,
}

impl FeatureColumns {
    /// The named columns of `table`, cast to `f64`.
    pub fn from_table(table: &DataFrame, names: &[String]) -> Result<Self, MatrixError> {
        let columns = names
            .iter()
            .map(|name| {
                let column = table.column(name).map_err(|e| column_error(name, e))?;
                let column = column.cast(&DataType::Float64).map_err(|e| column_error(name, e))?;
                let values = column.f64().map_err(|e| column_error(name, e))?.rechunk().into_owned();
                let not_finite = |row| MatrixError::NotFinite {
                    name: name.clone(),
                    row,
                };
                match values.cont_slice() {
                    Ok(slice) => match slice.iter().position(|v| !v.is_finite()) {
                        Some(row) => Err(not_finite(row)),
                        None => Ok(values),
                    },
                    Err(_) => Err(not_finite(values.iter().position(|v| v.is_none()).unwrap_or(0))),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FeatureColumns {
            columns,
            rows: table.height(),
        })
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Column `j`.
    pub fn column(&self, j: usize) -> &[f64] {
        self.columns[j].cont_slice().expect("checked: one chunk without nulls")
    }

    /// The rows `rows`, in that order, as a row-major matrix written into `out` (resized to fit).
    pub fn gather(&self, rows: &[usize], out: &mut Array2<f64>) {
        if out.dim() != (rows.len(), self.columns.len()) {
            *out = Array2::zeros((rows.len(), self.columns.len()));
        }
        for j in 0..self.columns.len() {
            let column = self.column(j);
            for (out, &i) in out.column_mut(j).iter_mut().zip(rows) {
                *out = column[i];
            }
        }
    }
}

/// The named feature columns of every row of `table`, as a row-major matrix.
pub fn feature_matrix(table: &DataFrame, names: &[String]) -> Result<Array2<f64>, MatrixError> {
    let mut x = Array2::zeros((0, 0));
    FeatureColumns::from_table(table, names)?.gather(&(0..table.height()).collect::<Vec<_>>(), &mut x);
    Ok(x)
}

impl LabelledMatrix {
    /// The rows of `table` whose `label` is not null, with the named feature columns.
    pub fn from_table(table: &DataFrame, names: &[String]) -> Result<Self, MatrixError> {
        let label = table.column("label").map_err(|e| column_error("label", e))?;
        let label = label.cast(&DataType::Int32).map_err(|e| column_error("label", e))?;
        let label = label.i32().map_err(|e| column_error("label", e))?;
        let rows: Vec<usize> = (0..table.height()).filter(|&i| label.get(i).is_some()).collect();
        let labels = rows.iter().map(|&i| label.get(i) == Some(1)).collect();
        let as_of = table.column("as_of").map_err(|e| column_error("as_of", e))?;
        let as_of = as_of
            .cast(&DataType::Datetime(TimeUnit::Microseconds, None))
            .and_then(|c| c.cast(&DataType::Int64))
            .map_err(|e| column_error("as_of", e))?;
        let as_of = as_of.i64().map_err(|e| column_error("as_of", e))?;
        let as_of = rows
            .iter()
            .map(|&i| {
                as_of.get(i).ok_or_else(|| MatrixError::NotFinite {
                    name: "as_of".into(),
                    row: i,
                })
            })
            .collect::<Result<Vec<i64>, _>>()?;
        let keys = match table.column("account_id").ok().map(|c| c.str()) {
            Some(Ok(ids)) => rows
                .iter()
                .zip(&as_of)
                .map(|(&i, &t)| row_key(ids.get(i).unwrap_or_default(), t))
                .collect(),
            Some(Err(e)) => return Err(column_error("account_id", e)),
            // A table without accounts (a hand-made one): the row's position stands for the account.
            None => rows
                .iter()
                .zip(&as_of)
                .map(|(&i, &t)| row_key(&i.to_string(), t))
                .collect(),
        };
        // One matrix of the labelled rows, gathered from the columns in place.
        let mut x = Array2::zeros((0, 0));
        FeatureColumns::from_table(table, names)?.gather(&rows, &mut x);
        Ok(LabelledMatrix {
            x,
            labels,
            as_of,
            names: names.to_vec(),
            keys,
        })
    }

    /// The rows whose snapshot satisfies `keep`, in their order.
    pub fn snapshots(&self, keep: impl Fn(i64) -> bool) -> LabelledMatrix {
        let rows: Vec<usize> = (0..self.as_of.len()).filter(|&i| keep(self.as_of[i])).collect();
        LabelledMatrix {
            x: self.x.select(Axis(0), &rows),
            labels: rows.iter().map(|&i| self.labels[i]).collect(),
            as_of: rows.iter().map(|&i| self.as_of[i]).collect(),
            names: self.names.clone(),
            keys: rows.iter().map(|&i| self.keys[i]).collect(),
        }
    }

    /// These rows without the columns that hold one value on every row (they cannot inform a fit), except
    /// those named in `keep`; and the names of the columns left out, in column order.
    pub fn without_constant_columns(self, keep: &[&str]) -> (LabelledMatrix, Vec<String>) {
        let constant: Vec<bool> = self
            .x
            .columns()
            .into_iter()
            .zip(&self.names)
            .map(|(column, name)| !keep.contains(&name.as_str()) && column.iter().all(|&v| v == column[0]))
            .collect();
        if !constant.contains(&true) {
            return (self, Vec::new());
        }
        let kept: Vec<usize> = (0..self.names.len()).filter(|&j| !constant[j]).collect();
        let dropped = (0..self.names.len())
            .filter(|&j| constant[j])
            .map(|j| self.names[j].clone())
            .collect();
        let rows = LabelledMatrix {
            x: self.x.select(Axis(1), &kept),
            names: kept.iter().map(|&j| self.names[j].clone()).collect(),
            ..self
        };
        (rows, dropped)
    }

    /// Rows labelled positive.
    pub fn positives(&self) -> usize {
        self.labels.iter().filter(|&&y| y).count()
    }

    /// Every converted row and, of the others, those [`keeps_negative`] keeps at `rate` (in `(0, 1]`;
    /// every row at 1).
    pub fn negatives_sampled(&self, rate: f64, seed: u64) -> Cow<'_, LabelledMatrix> {
        if rate >= 1.0 {
            return Cow::Borrowed(self);
        }
        let rows: Vec<usize> = (0..self.labels.len())
            .filter(|&i| self.labels[i] || keeps_negative(self.keys[i], rate, seed))
            .collect();
        Cow::Owned(LabelledMatrix {
            x: self.x.select(Axis(0), &rows),
            labels: rows.iter().map(|&i| self.labels[i]).collect(),
            as_of: rows.iter().map(|&i| self.as_of[i]).collect(),
            names: self.names.clone(),
            keys: rows.iter().map(|&i| self.keys[i]).collect(),
        })
    }
}

/// A column is compressed by the signed log1p when a training value lies more than this many standard
/// deviations from its mean: a normal sample of any realistic size never does, counts of heavy-tailed
/// activity (and rare binary flags, for which the compression changes nothing after scaling) do.
pub const HEAVY_TAIL_Z: f64 = 10.0;

/// `sign(v) · ln(1 + |v|)`: monotone, odd, and logarithmic in the tails.
pub fn signed_log1p(v: f64) -> f64 {
    v.signum() * v.abs().ln_1p()
}

/// Per-column compression, centring and scaling learned on training rows: a feature enters the model as
/// `(t(x) − mean) / scale`, `t` being [`signed_log1p`] for the heavy-tailed columns and the identity for the
/// others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    /// Column means of `t(x)`.
    pub means: Vec<f64>,
    /// Column standard deviations of `t(x)` (population); 1 for constant columns, which then become all zero.
    pub scales: Vec<f64>,
    /// Per column: compressed by [`signed_log1p`] before centring (heavy tailed on the training rows, see
    /// [`HEAVY_TAIL_Z`]).
    pub signed_log1p: Vec<bool>,
}

/// Mean and population standard deviation of the values.
fn moments(values: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let n = values.clone().count().max(1) as f64;
    let mean = values.clone().sum::<f64>() / n;
    let variance = values.map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, variance.sqrt())
}

impl Standardizer {
    /// Learns which columns of `x` are heavy tailed, then the means and spreads of the compressed columns.
    pub fn fit(x: &Array2<f64>) -> Self {
        let heavy = x
            .columns()
            .into_iter()
            .map(|column| {
                let (mean, sd) = moments(column.iter().copied());
                sd > 0.0 && column.iter().any(|v| (v - mean).abs() > HEAVY_TAIL_Z * sd)
            })
            .collect();
        Self::fit_compressing(x, heavy)
    }

    /// Learns the means and spreads of the columns of `x` without compressing any.
    pub fn fit_linear(x: &Array2<f64>) -> Self {
        Self::fit_compressing(x, vec![false; x.ncols()])
    }

    fn fit_compressing(x: &Array2<f64>, signed_log1p: Vec<bool>) -> Self {
        let (means, scales) = x
            .columns()
            .into_iter()
            .zip(&signed_log1p)
            .map(|(column, &log)| {
                let (mean, sd) = moments(column.iter().map(|&v| if log { self::signed_log1p(v) } else { v }));
                (mean, if sd > 0.0 { sd } else { 1.0 })
            })
            .unzip();
        Standardizer {
            means,
            scales,
            signed_log1p,
        }
    }

    /// `t(v)` for column `j`: the value as the model's weights read it before centring.
    pub fn compress(&self, j: usize, v: f64) -> f64 {
        if self.signed_log1p[j] {
            signed_log1p(v)
        } else {
            v
        }
    }

    /// `(t(v) − mean) / scale` for column `j`.
    pub fn standardize(&self, j: usize, v: f64) -> f64 {
        (self.compress(j, v) - self.means[j]) / self.scales[j]
    }

    /// [`Standardizer::standardize`], column by column.
    pub fn transform(&self, x: &Array2<f64>) -> Array2<f64> {
        let mut out = x.clone();
        for (j, mut column) in out.columns_mut().into_iter().enumerate() {
            column.mapv_inplace(|v| self.standardize(j, v));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_the_same_share_of_rows_by_their_identity() {
        let keys: Vec<u64> = (0..20_000).map(|i| row_key(&format!("acc-{i}"), 1_000)).collect();
        let kept = |rate: f64, seed: u64| keys.iter().filter(|&&k| keeps_negative(k, rate, seed)).count();
        assert_eq!(kept(1.0, 7), keys.len());
        let share = kept(0.1, 7) as f64 / keys.len() as f64;
        assert!((share - 0.1).abs() < 0.01, "{share}");
        assert_ne!(
            keys.iter().map(|&k| keeps_negative(k, 0.5, 1)).collect::<Vec<_>>(),
            keys.iter().map(|&k| keeps_negative(k, 0.5, 2)).collect::<Vec<_>>(),
            "the seed changes the draw"
        );
        assert_ne!(row_key("a", 1), row_key("a", 2));
        assert_ne!(row_key("a", 1), row_key("b", 1));
    }

    #[test]
    fn labelled_rows_become_a_matrix_in_the_named_order() {
        let table = df!(
            "account_id" => ["a", "b", "c"],
            "as_of" => [7i64, 7, 14],
            "label" => [Some(1i32), None, Some(0)],
            "f1" => [1.0, 2.0, 3.0],
            "f2" => [10.0, 20.0, 30.0],
        )
        .unwrap();
        let m = LabelledMatrix::from_table(&table, &["f2".into(), "f1".into()]).unwrap();
        assert_eq!(m.labels, [true, false]);
        assert_eq!(m.as_of, [7, 14]);
        assert_eq!(m.x, ndarray::array![[10.0, 1.0], [30.0, 3.0]]);
        let later = m.snapshots(|t| t > 7);
        assert_eq!((later.labels, later.as_of), (vec![false], vec![14]));
        assert_eq!(later.x, ndarray::array![[30.0, 3.0]]);
        let err = LabelledMatrix::from_table(&table, &["nope".into()]).unwrap_err();
        assert!(err.to_string().contains("feature `nope`"), "{err}");
    }

    #[test]
    fn constant_columns_are_left_out_unless_kept() {
        let table = df!(
            "as_of" => [0i64, 0, 7],
            "label" => [1i32, 0, 0],
            "zero" => [0.0, 0.0, 0.0],
            "f" => [1.0, 2.0, 3.0],
            "seven" => [7.0, 7.0, 7.0],
            "ruled" => [1.0, 1.0, 1.0],
        )
        .unwrap();
        let names: Vec<String> = ["zero", "f", "seven", "ruled"].map(String::from).into();
        let m = LabelledMatrix::from_table(&table, &names).unwrap();
        let (kept, dropped) = m.without_constant_columns(&["ruled"]);
        assert_eq!(dropped, ["zero", "seven"]);
        assert_eq!(kept.names, ["f", "ruled"]);
        assert_eq!(kept.x, ndarray::array![[1.0, 1.0], [2.0, 1.0], [3.0, 1.0]]);
        assert_eq!((kept.labels, kept.as_of), (vec![true, false, false], vec![0, 0, 7]));
    }

    #[test]
    fn non_finite_values_are_refused_with_their_row() {
        let table = df!("as_of" => [0i64, 0], "label" => [1i32, 0], "f" => [1.0, f64::NAN]).unwrap();
        let err = LabelledMatrix::from_table(&table, &["f".into()]).unwrap_err();
        assert_eq!(
            err,
            MatrixError::NotFinite {
                name: "f".into(),
                row: 1
            }
        );
    }

    #[test]
    fn standardised_columns_have_zero_mean_and_unit_spread() {
        let x = ndarray::array![[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]];
        let s = Standardizer::fit(&x);
        assert_eq!(s.means, [3.0, 5.0]);
        assert_eq!(s.scales[1], 1.0, "a constant column keeps scale 1");
        let z = s.transform(&x);
        assert!((z.column(0).sum()).abs() < 1e-12);
        assert!((z.column(0).mapv(|v| v * v).sum() / 3.0 - 1.0).abs() < 1e-12);
        assert!(z.column(1).iter().all(|&v| v == 0.0));
        assert_eq!(s.signed_log1p, [false, false]);
    }

    #[test]
    fn heavy_tailed_columns_are_compressed_before_scaling() {
        // One spike among n equal values lies sqrt(n - 1) standard deviations from the mean.
        let spike = |n: usize, v: f64, rest: f64| Array2::from_shape_fn((n, 1), |(i, _)| if i == 0 { v } else { rest });
        assert_eq!(
            Standardizer::fit(&spike(100, 1000.0, 0.0)).signed_log1p,
            [false],
            "9.95 sd: linear"
        );
        let x = ndarray::concatenate![Axis(1), spike(200, 1000.0, 0.0), spike(200, -1000.0, 1.0)];
        let s = Standardizer::fit(&x);
        assert_eq!(s.signed_log1p, [true, true], "14.1 sd: compressed, either sign");
        assert_eq!(s.compress(0, 1000.0), 1001f64.ln());
        assert_eq!(s.compress(1, -1000.0), -(1001f64.ln()));
        let z = s.transform(&x);
        for column in z.columns() {
            assert!(column.sum().abs() < 1e-9);
            assert!((column.mapv(|v| v * v).sum() / 200.0 - 1.0).abs() < 1e-9);
        }
        assert_eq!(Standardizer::fit_linear(&x).signed_log1p, [false, false]);
    }
}
