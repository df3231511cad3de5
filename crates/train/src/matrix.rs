//! From a feature table to the model's input: the feature columns as an `ndarray` matrix (built from the
//! polars column slices, with the ndarray version linfa uses), the labels, and a standardiser that
//! remembers each column's mean and spread so scoring applies exactly the training transform.
//!
//! The training matrix holds `f32` (as XGBoost's and LightGBM's do: half the memory of `f64`, counts below
//! 2²⁴ exact, 7 significant digits otherwise); the fits compute in `f64`. Its rows are ordered by snapshot,
//! so the rows of a span of snapshots (a fit part, a validation part) are a view of it, not a copy.

use std::borrow::Cow;

use ndarray::parallel::prelude::*;
use ndarray::{ArcArray2, Array2, ArrayView1, ArrayView2, Axis, Zip};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

/// A feature value as a fit or a model reads it: `f32` in the training matrix, `f64` where rows are scored.
pub trait Value: Copy + Send + Sync + Into<f64> {
    /// `v` stored as this type, read back: a bound compared with stored values must be rounded as they
    /// were, or a value equal to it would fall on the wrong side.
    fn stored(v: f64) -> f64;

    /// The largest `f64` whose stored value is at most `v` (a stored value): an `f64` is at most this
    /// iff it is stored as at most `v` (up to rounding ties), so bins cut at stored values bin the
    /// unrounded values alike.
    fn ceiling(v: f64) -> f64;
}

impl Value for f32 {
    fn stored(v: f64) -> f64 {
        f64::from(v as f32)
    }

    fn ceiling(v: f64) -> f64 {
        let stored = v as f32;
        let next = f64::from(stored.next_up());
        if next.is_finite() {
            f64::from(stored) * 0.5 + next * 0.5
        } else {
            f64::INFINITY
        }
    }
}

impl Value for f64 {
    fn stored(v: f64) -> f64 {
        v
    }

    fn ceiling(v: f64) -> f64 {
        v
    }
}

/// Labelled rows of a feature table, ready for a model, ordered by snapshot.
#[derive(Debug, Clone)]
pub struct LabelledMatrix {
    /// One row per labelled snapshot row, one column per feature, in `names` order; shared, so the rows
    /// of a span of snapshots ([`LabelledMatrix::snapshots`]) are a view of the same values.
    pub x: ArcArray2<f32>,
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
    /// A column is missing, of the wrong type, or of the wrong length.
    Column {
        /// The column.
        name: String,
        /// What is wrong.
        problem: ColumnProblem,
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
            MatrixError::Column { name, problem } => write!(f, "feature `{name}`: {problem}"),
            MatrixError::NotFinite { name, row } => write!(f, "feature `{name}`, row {row}: missing or not finite"),
        }
    }
}

impl std::error::Error for MatrixError {}

/// What is wrong with a column of a feature table.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnProblem {
    /// The table has no such column.
    Missing,
    /// Its values cannot be read as the type the matrix needs (numbers, dates or text).
    Type(DataType),
    /// It has another number of rows than the key columns.
    Rows {
        /// Its rows.
        rows: usize,
        /// The key columns' rows.
        expected: usize,
    },
}

impl std::fmt::Display for ColumnProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ColumnProblem::Missing => f.write_str("not found"),
            ColumnProblem::Type(dtype) => write!(f, "a {dtype} column cannot be read here"),
            ColumnProblem::Rows { rows, expected } => write!(f, "{rows} rows, the key columns have {expected}"),
        }
    }
}

/// The error of reading column `name` of `table`: missing, or of a type that failed to convert.
fn column_error(table: &DataFrame, name: &str) -> MatrixError {
    MatrixError::Column {
        name: name.to_string(),
        problem: match table.column(name) {
            Ok(column) => ColumnProblem::Type(column.dtype().clone()),
            Err(_) => ColumnProblem::Missing,
        },
    }
}

/// Column `name` of `table` as one `f64` chunk, refused if missing, not numeric, or holding a null or a
/// value that is not finite (named by its row in the table).
fn finite_column(table: &DataFrame, name: &str) -> Result<Float64Chunked, MatrixError> {
    let error = |_| column_error(table, name);
    let column = table.column(name).map_err(error)?;
    let column = column.cast(&DataType::Float64).map_err(error)?;
    let values = column.f64().map_err(error)?.rechunk().into_owned();
    let not_finite = |row| MatrixError::NotFinite {
        name: name.to_string(),
        row,
    };
    match values.cont_slice() {
        Ok(slice) => match slice.iter().position(|v| !v.is_finite()) {
            Some(row) => Err(not_finite(row)),
            None => Ok(values),
        },
        Err(_) => Err(not_finite(values.iter().position(|v| v.is_none()).unwrap_or(0))),
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
            .map(|name| finite_column(table, name))
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

/// Builds a [`LabelledMatrix`] from a feature table's key columns, then its feature columns a few at a
/// time (so a large table is never held whole as `f64`).
pub struct MatrixBuilder {
    /// Table row of each matrix row.
    table_rows: Vec<usize>,
    /// Rows of the table.
    height: usize,
    x: Array2<f32>,
    names: Vec<String>,
    filled: Vec<bool>,
    labels: Vec<bool>,
    as_of: Vec<i64>,
    keys: Vec<u64>,
}

impl MatrixBuilder {
    /// The labelled rows of a table, ordered by snapshot (ties in table order), from its `label`, `as_of`
    /// and `account_id` columns (other columns are ignored); the named feature columns come with
    /// [`MatrixBuilder::fill`].
    pub fn new(keys: &DataFrame, names: &[String]) -> Result<Self, MatrixError> {
        let error = |name: &'static str| move |_| column_error(keys, name);
        let label = keys.column("label").map_err(error("label"))?;
        let label = label.cast(&DataType::Int32).map_err(error("label"))?;
        let label = label.i32().map_err(error("label"))?;
        let as_of = keys.column("as_of").map_err(error("as_of"))?;
        let as_of = as_of
            .cast(&DataType::Datetime(TimeUnit::Microseconds, None))
            .and_then(|c| c.cast(&DataType::Int64))
            .map_err(error("as_of"))?;
        let as_of = as_of.i64().map_err(error("as_of"))?;
        let mut table_rows: Vec<(i64, usize)> = (0..keys.height())
            .filter(|&i| label.get(i).is_some())
            .map(|i| {
                as_of.get(i).map(|t| (t, i)).ok_or_else(|| MatrixError::NotFinite {
                    name: "as_of".into(),
                    row: i,
                })
            })
            .collect::<Result<_, _>>()?;
        table_rows.sort_unstable();
        let (as_of, table_rows): (Vec<i64>, Vec<usize>) = table_rows.into_iter().unzip();
        let labels = table_rows.iter().map(|&i| label.get(i) == Some(1)).collect();
        let height = keys.height();
        let keys: Vec<u64> = match keys.column("account_id").ok().map(|c| c.str()) {
            Some(Ok(ids)) => table_rows
                .iter()
                .zip(&as_of)
                .map(|(&i, &t)| row_key(ids.get(i).unwrap_or_default(), t))
                .collect(),
            Some(Err(_)) => return Err(column_error(keys, "account_id")),
            // A table without accounts (a hand-made one): the row's position stands for the account.
            None => table_rows
                .iter()
                .zip(&as_of)
                .map(|(&i, &t)| row_key(&i.to_string(), t))
                .collect(),
        };
        Ok(MatrixBuilder {
            x: Array2::zeros((table_rows.len(), names.len())),
            height,
            table_rows,
            names: names.to_vec(),
            filled: vec![false; names.len()],
            labels,
            as_of,
            keys,
        })
    }

    /// Copies the named feature columns that `columns` holds (rows as in the key table, every value finite)
    /// into the matrix.
    pub fn fill(&mut self, columns: &DataFrame) -> Result<(), MatrixError> {
        if columns.height() != self.height {
            return Err(MatrixError::Column {
                name: columns
                    .get_column_names()
                    .first()
                    .map_or_else(String::new, |n| n.to_string()),
                problem: ColumnProblem::Rows {
                    rows: columns.height(),
                    expected: self.height,
                },
            });
        }
        for (j, name) in self.names.iter().enumerate() {
            if self.filled[j] || !columns.get_column_names().iter().any(|n| n.as_str() == name) {
                continue;
            }
            let values = finite_column(columns, name)?;
            let values = values.cont_slice().expect("checked: one chunk without nulls");
            Zip::from(self.x.column_mut(j))
                .and(ArrayView1::from(&self.table_rows))
                .par_for_each(|out, &i| *out = values[i] as f32);
            self.filled[j] = true;
        }
        Ok(())
    }

    /// The matrix, once every named column was filled.
    pub fn finish(self) -> Result<LabelledMatrix, MatrixError> {
        if let Some(j) = self.filled.iter().position(|&filled| !filled) {
            return Err(MatrixError::Column {
                name: self.names[j].clone(),
                problem: ColumnProblem::Missing,
            });
        }
        Ok(LabelledMatrix {
            x: self.x.into_shared(),
            labels: self.labels,
            as_of: self.as_of,
            names: self.names,
            keys: self.keys,
        })
    }
}

impl LabelledMatrix {
    /// The rows of `table` whose `label` is not null, with the named feature columns, ordered by snapshot.
    pub fn from_table(table: &DataFrame, names: &[String]) -> Result<Self, MatrixError> {
        let mut builder = MatrixBuilder::new(table, names)?;
        builder.fill(table)?;
        builder.finish()
    }

    /// The rows whose snapshot satisfies `keep`, in their order: a view of the same values when they are
    /// one run of rows (a span of snapshots), else a copy.
    pub fn snapshots(&self, keep: impl Fn(i64) -> bool) -> LabelledMatrix {
        let rows: Vec<usize> = (0..self.as_of.len()).filter(|&i| keep(self.as_of[i])).collect();
        self.rows(&rows)
    }

    /// The rows `rows` (increasing), as [`LabelledMatrix::snapshots`] takes them.
    fn rows(&self, rows: &[usize]) -> LabelledMatrix {
        let x = match (rows.first(), rows.last()) {
            (Some(&first), Some(&last)) if last - first + 1 == rows.len() => {
                self.x.clone().slice_move(ndarray::s![first..=last, ..])
            }
            _ => self.x.select(Axis(0), rows).into_shared(),
        };
        LabelledMatrix {
            x,
            labels: rows.iter().map(|&i| self.labels[i]).collect(),
            as_of: rows.iter().map(|&i| self.as_of[i]).collect(),
            names: self.names.clone(),
            keys: rows.iter().map(|&i| self.keys[i]).collect(),
        }
    }

    /// These rows without the columns that hold one value on every row (they cannot inform a fit), except
    /// those named in `keep`; and the names of the columns left out, in column order. The values are
    /// moved within the matrix (no second copy when it is not shared).
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
        let (n, d) = self.x.dim();
        // Row by row, each kept value moves to its place in the narrower matrix, never past one not yet read.
        let (mut flat, offset) = self
            .x
            .into_owned()
            .as_standard_layout()
            .into_owned()
            .into_raw_vec_and_offset();
        let start = offset.unwrap_or(0);
        for i in 0..n {
            for (k, &j) in kept.iter().enumerate() {
                flat[i * kept.len() + k] = flat[start + i * d + j];
            }
        }
        flat.truncate(n * kept.len());
        flat.shrink_to_fit();
        let rows = LabelledMatrix {
            x: Array2::from_shape_vec((n, kept.len()), flat)
                .expect("n rows of the kept columns")
                .into_shared(),
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
        Cow::Owned(self.rows(&rows))
    }
}

/// A column is compressed by the signed log1p when a training value lies more than this many standard
/// deviations from its mean: a normal sample of any realistic size never does, counts of heavy-tailed
/// activity (and rare binary flags, for which the compression changes nothing after scaling) do.
pub const HEAVY_TAIL_Z: f64 = 10.0;

/// `sign(v) · ln(1 + |v|)`: monotone, odd, and logarithmic in the tails. Small whole numbers (most
/// heavy-tailed columns are counts) are looked up in a table of the same values, computed once.
#[inline]
pub fn signed_log1p(v: f64) -> f64 {
    static SMALL: std::sync::LazyLock<Vec<f64>> =
        std::sync::LazyLock::new(|| (0..4096).map(|n| f64::from(n).ln_1p()).collect());
    let magnitude = v.abs();
    let whole = magnitude as usize;
    match SMALL.get(whole) {
        Some(&log) if whole as f64 == magnitude => v.signum() * log,
        _ => v.signum() * magnitude.ln_1p(),
    }
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

/// Rows per chunk of the parallel passes over a matrix.
const CHUNK_ROWS: usize = 8192;

/// Per column `j`, `f(j, x_ij)` over the rows of `x` folded with `combine` from `zero`: row by row in
/// fixed chunks (the matrix is row-major), the chunks combined in order, so the result is the same
/// whatever the thread schedule.
fn column_fold<A: Value>(
    x: ArrayView2<A>,
    zero: f64,
    f: impl Fn(usize, f64) -> f64 + Sync,
    combine: impl Fn(f64, f64) -> f64 + Sync,
) -> Vec<f64> {
    let d = x.ncols();
    let partials: Vec<Vec<f64>> = x
        .axis_chunks_iter(Axis(0), CHUNK_ROWS)
        .into_par_iter()
        .map(|rows| {
            let mut folded = vec![zero; d];
            for row in rows.rows() {
                for (j, (acc, &v)) in folded.iter_mut().zip(row).enumerate() {
                    *acc = combine(*acc, f(j, v.into()));
                }
            }
            folded
        })
        .collect();
    partials.iter().fold(vec![zero; d], |mut total, part| {
        total.iter_mut().zip(part).for_each(|(t, &p)| *t = combine(*t, p));
        total
    })
}

/// Per column, the mean and population standard deviation of `t(j, x_ij)`.
fn moments<A: Value>(x: ArrayView2<A>, t: impl Fn(usize, f64) -> f64 + Sync) -> (Vec<f64>, Vec<f64>) {
    let n = x.nrows().max(1) as f64;
    let means: Vec<f64> = column_fold(x, 0.0, &t, |a, b| a + b).iter().map(|s| s / n).collect();
    let variances = column_fold(x, 0.0, |j, v| (t(j, v) - means[j]).powi(2), |a, b| a + b);
    let sds = variances.iter().map(|v| (v / n).sqrt()).collect();
    (means, sds)
}

impl Standardizer {
    /// Learns which columns of `x` are heavy tailed, then the means and spreads of the compressed columns.
    pub fn fit<A: Value>(x: ArrayView2<A>) -> Self {
        let (means, sds) = moments(x, |_, v| v);
        let farthest = column_fold(x, 0.0, |j, v| (v - means[j]).abs(), f64::max);
        let heavy: Vec<bool> = sds
            .iter()
            .zip(&farthest)
            .map(|(&sd, &far)| sd > 0.0 && far > HEAVY_TAIL_Z * sd)
            .collect();
        if !heavy.contains(&true) {
            return Self::of(means, sds, heavy);
        }
        let (log_means, log_sds) = moments(x, |j, v| if heavy[j] { signed_log1p(v) } else { 0.0 });
        let pick = |linear: Vec<f64>, log: Vec<f64>| -> Vec<f64> {
            linear
                .into_iter()
                .zip(log)
                .zip(&heavy)
                .map(|((a, b), &h)| if h { b } else { a })
                .collect()
        };
        Self::of(pick(means, log_means), pick(sds, log_sds), heavy)
    }

    /// Learns the means and spreads of the columns of `x` without compressing any.
    pub fn fit_linear<A: Value>(x: ArrayView2<A>) -> Self {
        let (means, sds) = moments(x, |_, v| v);
        Self::of(means, sds, vec![false; x.ncols()])
    }

    /// The standardiser that reads `columns` values as they are (mean 0, scale 1, none compressed).
    pub fn identity(columns: usize) -> Self {
        Self::of(vec![0.0; columns], vec![1.0; columns], vec![false; columns])
    }

    fn of(means: Vec<f64>, sds: Vec<f64>, signed_log1p: Vec<bool>) -> Self {
        Standardizer {
            means,
            scales: sds.into_iter().map(|sd| if sd > 0.0 { sd } else { 1.0 }).collect(),
            signed_log1p,
        }
    }

    /// `t(v)` for column `j`: the value as the model's weights read it before centring.
    #[inline]
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

    /// [`Standardizer::standardize`] of every value, as a new matrix (for small sets of rows: a fit reads
    /// the training rows through the standardiser instead).
    pub fn transform<A: Value>(&self, x: ArrayView2<A>) -> Array2<f64> {
        Array2::from_shape_fn(x.dim(), |(i, j)| self.standardize(j, x[[i, j]].into()))
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
        assert_eq!(m.x, ndarray::array![[10.0f32, 1.0], [30.0, 3.0]]);
        let later = m.snapshots(|t| t > 7);
        assert_eq!((later.labels, later.as_of), (vec![false], vec![14]));
        assert_eq!(later.x, ndarray::array![[30.0f32, 3.0]]);
        let err = LabelledMatrix::from_table(&table, &["nope".into()]).unwrap_err();
        assert!(err.to_string().contains("feature `nope`"), "{err}");
    }

    #[test]
    fn a_matrix_filled_a_few_columns_at_a_time_is_ordered_by_snapshot_and_shares_its_spans() {
        let table = df!(
            "account_id" => ["a", "b", "c", "d", "e"],
            "as_of" => [14i64, 7, 21, 7, 14],
            "label" => [Some(0i32), Some(1), None, Some(0), Some(1)],
            "f1" => [1.0, 2.0, 3.0, 4.0, 5.0],
            "f2" => [0.1, 0.2, 0.3, 0.4, 0.7],
        )
        .unwrap();
        let names: Vec<String> = ["f2", "f1"].map(String::from).into();
        let whole = LabelledMatrix::from_table(&table, &names).unwrap();
        let mut builder = MatrixBuilder::new(&table.select(["account_id", "as_of", "label"]).unwrap(), &names).unwrap();
        builder.fill(&table.select(["f1"]).unwrap()).unwrap();
        let missing = MatrixBuilder::new(&table, &names).unwrap().finish().unwrap_err();
        assert_eq!(missing.to_string(), "feature `f2`: not found");
        builder.fill(&table.select(["f2"]).unwrap()).unwrap();
        let built = builder.finish().unwrap();
        assert_eq!(built.x, whole.x);
        assert_eq!(built.keys, whole.keys);
        // Snapshot order, ties in table order: b, d (7), a, e (14).
        assert_eq!(built.as_of, [7, 7, 14, 14]);
        assert_eq!(built.labels, [true, false, false, true]);
        assert_eq!(built.keys[0], row_key("b", 7));
        assert_eq!(built.x.column(1).to_vec(), [2.0f32, 4.0, 1.0, 5.0]);
        assert_eq!(built.x[[3, 0]], 0.7f32, "stored as f32");
        let later = built.snapshots(|t| t >= 14);
        assert_eq!(
            later.x.as_ptr(),
            built.x.row(2).as_ptr(),
            "a span of snapshots is a view"
        );
        assert_eq!(later.x.dim(), (2, 2));
        let err = MatrixBuilder::new(&table, &names)
            .unwrap()
            .fill(&table.head(Some(2)))
            .unwrap_err();
        assert!(err.to_string().contains("2 rows, the key columns have 5"), "{err}");
    }

    #[test]
    fn bounds_and_bin_edges_follow_the_f32_rounding_of_the_stored_values() {
        // 0.7 is stored as 0.699999988…: a bound of 0.7 compared with it must be rounded alike.
        let stored = f64::from(0.7f32);
        assert!(stored < 0.7 && <f32 as Value>::stored(0.7) == stored);
        assert_eq!(<f64 as Value>::stored(0.7), 0.7);
        // Every f64 that rounds to the stored value is at most its ceiling; the next f32 is above it.
        let ceiling = <f32 as Value>::ceiling(stored);
        assert!(0.7 <= ceiling && ceiling < f64::from(0.7f32.next_up()));
        assert!(((ceiling - 1e-12) as f32) == 0.7f32);
        assert_eq!(<f64 as Value>::ceiling(0.7), 0.7);
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
        assert_eq!(kept.x, ndarray::array![[1.0f32, 1.0], [2.0, 1.0], [3.0, 1.0]]);
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
        let s = Standardizer::fit(x.view());
        assert_eq!(s.means, [3.0, 5.0]);
        assert_eq!(s.scales[1], 1.0, "a constant column keeps scale 1");
        let z = s.transform(x.view());
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
            Standardizer::fit(spike(100, 1000.0, 0.0).view()).signed_log1p,
            [false],
            "9.95 sd: linear"
        );
        let x = ndarray::concatenate![Axis(1), spike(200, 1000.0, 0.0), spike(200, -1000.0, 1.0)];
        let s = Standardizer::fit(x.view());
        assert_eq!(s.signed_log1p, [true, true], "14.1 sd: compressed, either sign");
        assert_eq!(s.compress(0, 1000.0), 1001f64.ln());
        assert_eq!(s.compress(1, -1000.0), -(1001f64.ln()));
        let z = s.transform(x.view());
        for column in z.columns() {
            assert!(column.sum().abs() < 1e-9);
            assert!((column.mapv(|v| v * v).sum() / 200.0 - 1.0).abs() < 1e-9);
        }
        assert_eq!(Standardizer::fit_linear(x.view()).signed_log1p, [false, false]);
        for v in [0.0, -0.0, 1.0, 7.0, 4095.0, 4096.0, -3.0, 2.5, -0.25, 1e9, f64::MAX] {
            let direct = v.signum() * v.abs().ln_1p();
            assert_eq!(
                signed_log1p(v).to_bits(),
                direct.to_bits(),
                "{v}: the table holds the same values"
            );
        }
        assert!(signed_log1p(f64::NAN).is_nan());
    }
}
