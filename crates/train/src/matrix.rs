//! From a feature table to the model's input: the feature columns as an `ndarray` matrix (built from the
//! polars column slices, with the ndarray version linfa uses), the labels, and a standardiser that
//! remembers each column's mean and spread so scoring applies exactly the training transform.

use ndarray::parallel::prelude::*;
use ndarray::{Array2, Axis, ShapeBuilder};
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
    let columns = FeatureColumns::from_table(table, names)?;
    let mut x = Array2::<f64>::zeros((table.height(), names.len()).f());
    x.axis_iter_mut(Axis(1))
        .into_par_iter()
        .enumerate()
        .for_each(|(j, mut column)| {
            column
                .as_slice_mut()
                .expect("a column of a column-major matrix is contiguous")
                .copy_from_slice(columns.column(j))
        });
    Ok(x.as_standard_layout().into_owned())
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
        let x = feature_matrix(table, names)?.select(Axis(0), &rows);
        Ok(LabelledMatrix {
            x,
            labels,
            as_of,
            names: names.to_vec(),
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
        }
    }

    /// Rows labelled positive.
    pub fn positives(&self) -> usize {
        self.labels.iter().filter(|&&y| y).count()
    }
}

/// Per-column centring and scaling learned on training rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    /// Column means.
    pub means: Vec<f64>,
    /// Column standard deviations (population); 1 for constant columns, which then become all zero.
    pub scales: Vec<f64>,
}

impl Standardizer {
    /// Learns the means and spreads of the columns of `x`.
    pub fn fit(x: &Array2<f64>) -> Self {
        let n = x.nrows().max(1) as f64;
        let means: Vec<f64> = x
            .mean_axis(Axis(0))
            .map(|m| m.to_vec())
            .unwrap_or_else(|| vec![0.0; x.ncols()]);
        let scales = x
            .columns()
            .into_iter()
            .zip(&means)
            .map(|(column, mean)| {
                let variance = column.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
                if variance > 0.0 {
                    variance.sqrt()
                } else {
                    1.0
                }
            })
            .collect();
        Standardizer { means, scales }
    }

    /// `(x - mean) / scale`, column by column.
    pub fn transform(&self, x: &Array2<f64>) -> Array2<f64> {
        let mut out = x.clone();
        for ((mut column, mean), scale) in out.columns_mut().into_iter().zip(&self.means).zip(&self.scales) {
            column.mapv_inplace(|v| (v - mean) / scale);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
