//! L2-regularised logistic regression fitted by damped Newton's method (iteratively reweighted least
//! squares with a backtracking line search).
//!
//! The objective is scikit-learn's: `Σ_i log-loss_i + (λ / 2) ‖w‖²` with an unpenalised intercept, so
//! `λ = 1 / C`. With tens of features the Hessian is tiny, and each Newton step is one weighted `XᵀWX`
//! product (a matrix multiplication, over at most 50,000 evenly spaced rows) and a Cholesky solve; the
//! gradient always uses every row, so a handful of steps reach the exact optimum. Far from it, on
//! heavy-tailed columns, a full step can overshoot and diverge: steps are halved until the objective
//! decreases, and a fit that does not converge says so ([`Logistic::converged`]).
//! The returned probability is always that of the positive class.

use ndarray::parallel::prelude::*;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, Zip};

use crate::matrix::{signed_log1p, Standardizer, Value};

/// Rows per chunk of the parallel gradient pass.
const CHUNK_ROWS: usize = 8192;

/// Rows the Hessian is computed from, at most.
const HESSIAN_ROWS: usize = 50_000;

/// Times a Newton step is halved, at most, before the fit gives up on decreasing the objective.
const MAX_HALVINGS: usize = 30;

/// The share of the predicted decrease a damped step must achieve (Armijo's constant).
const ARMIJO: f64 = 1e-4;

/// Settings of a fit; [`LogisticParams::check`] validates them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogisticParams {
    l2: f64,
    max_iterations: usize,
    tolerance: f64,
}

/// Settings that passed [`LogisticParams::check`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValidLogisticParams(LogisticParams);

/// Why a fit cannot run.
#[derive(Debug, Clone, PartialEq)]
pub enum LogisticError {
    /// The L2 strength is negative or not finite.
    InvalidL2(f64),
    /// `max_iterations` is 0.
    NoIterations,
    /// Rows of `x` and labels differ in number, or there are no rows.
    Shape {
        /// Rows of the feature matrix.
        rows: usize,
        /// Labels.
        labels: usize,
    },
    /// All labels are equal.
    OneClass,
    /// The Hessian lost positive definiteness (non-finite features).
    NotFinite,
}

impl std::fmt::Display for LogisticError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogisticError::InvalidL2(l2) => {
                write!(
                    f,
                    "invalid logistic regression settings: l2 must be finite and >= 0, got {l2}"
                )
            }
            LogisticError::NoIterations => {
                f.write_str("invalid logistic regression settings: max_iterations must be at least 1")
            }
            LogisticError::Shape { rows, labels } => write!(f, "{rows} feature rows but {labels} labels"),
            LogisticError::OneClass => f.write_str("logistic regression needs both classes in the labels"),
            LogisticError::NotFinite => f.write_str("the features contain values that are not finite"),
        }
    }
}

impl std::error::Error for LogisticError {}

impl Default for LogisticParams {
    /// λ = 1 (scikit-learn's `C = 1`), at most 50 Newton steps, stop after a step that changes no
    /// coefficient by more than 1e-6 (relative): convergence is quadratic, so the coefficients are then
    /// exact to about 1e-12.
    fn default() -> Self {
        LogisticParams {
            l2: 1.0,
            max_iterations: 50,
            tolerance: 1e-6,
        }
    }
}

impl LogisticParams {
    /// L2 strength λ (scikit-learn's `1 / C`); 0 means no penalty.
    pub fn l2(mut self, l2: f64) -> Self {
        self.l2 = l2;
        self
    }

    /// Maximum Newton steps.
    pub fn max_iterations(mut self, steps: usize) -> Self {
        self.max_iterations = steps;
        self
    }

    /// Validates the settings.
    pub fn check(self) -> Result<ValidLogisticParams, LogisticError> {
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return Err(LogisticError::InvalidL2(self.l2));
        }
        if self.max_iterations == 0 {
            return Err(LogisticError::NoIterations);
        }
        Ok(ValidLogisticParams(self))
    }
}

/// A fitted model: `P(converted | x) = σ(intercept + x · weights)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Logistic {
    /// Intercept.
    pub intercept: f64,
    /// One weight per column of the training matrix.
    pub weights: Array1<f64>,
    /// Newton steps taken.
    pub iterations: usize,
    /// Whether the fit reached the optimum (a full Newton step below the tolerance); if not, it stopped at
    /// the maximum number of steps or where no step decreased the objective.
    pub converged: bool,
    /// The largest absolute entry of the penalised objective's gradient at the returned coefficients,
    /// divided by the number of rows.
    pub gradient_norm: f64,
}

/// The logistic function, stable for large `|z|`.
pub(crate) fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// The penalised objective and its gradient over `[intercept, weights]` at one point.
struct Evaluation {
    objective: f64,
    gradient: Array1<f64>,
}

/// `Σ log-loss + (λ / 2) ‖w‖²` and its gradient at `beta = [intercept, weights...]`, in one parallel pass
/// over the rows, each read through the standardiser. The log loss of a row is
/// `log(1 + e^-|z|) + max(z, 0) - y z`, finite for every finite `z`. Fixed chunks summed in order keep the
/// result bit-identical whatever the thread schedule.
fn evaluate<A: Value>(
    x: ArrayView2<A>,
    standardizer: &Standardizer,
    y: ArrayView1<f64>,
    beta: ArrayView1<f64>,
    l2: f64,
) -> Evaluation {
    let d = x.ncols();
    let (intercept, weights) = (beta[0], beta.slice(ndarray::s![1..]));
    // `z = b + Σ w_j (t_j(x_j) − m_j) / s_j`, read as `b + Σ (w_j / s_j)(t_j(x_j) − m_j)`: per value a
    // compression (heavy-tailed columns only), a subtraction and a multiply-add; the gradient's sums
    // `Σ r (t_j − m_j)` are divided by `s_j` once, at the end.
    let s = standardizer;
    let scaled: Vec<f64> = weights.iter().zip(&s.scales).map(|(w, scale)| w / scale).collect();
    let scaled = ArrayView1::from(&scaled);
    let heavy: Vec<usize> = (0..d).filter(|&j| s.signed_log1p[j]).collect();
    let partials: Vec<(Vec<f64>, f64, f64)> = x
        .axis_chunks_iter(Axis(0), CHUNK_ROWS)
        .into_par_iter()
        .zip(y.axis_chunks_iter(Axis(0), CHUNK_ROWS))
        .map(|(rows, y)| {
            let mut sums = vec![0.0; d];
            let mut centred = Array1::<f64>::zeros(d);
            let (mut residual_sum, mut loss) = (0.0, 0.0);
            let mut copied = Vec::new();
            for (values, &y) in rows.rows().into_iter().zip(&y) {
                let values = values.as_slice().unwrap_or_else(|| {
                    copied = values.to_vec();
                    &copied
                });
                let centred = centred.as_slice_mut().expect("contiguous");
                for ((c, &v), m) in centred.iter_mut().zip(values).zip(&s.means) {
                    *c = v.into() - m;
                }
                for &j in &heavy {
                    centred[j] = signed_log1p(values[j].into()) - s.means[j];
                }
                let z = intercept + ArrayView1::from(&*centred).dot(&scaled);
                loss += (-z.abs()).exp().ln_1p() + z.max(0.0) - y * z;
                let residual = sigmoid(z) - y;
                sums.iter_mut().zip(&*centred).for_each(|(sum, c)| *sum += residual * c);
                residual_sum += residual;
            }
            (sums, residual_sum, loss)
        })
        .collect();
    let mut gradient = Array1::<f64>::zeros(d + 1);
    let mut objective = 0.5 * l2 * weights.dot(&weights);
    for (sums, residual_sum, loss) in &partials {
        gradient[0] += residual_sum;
        gradient
            .slice_mut(ndarray::s![1..])
            .iter_mut()
            .zip(sums)
            .for_each(|(g, sum)| *g += sum);
        objective += loss;
    }
    gradient
        .slice_mut(ndarray::s![1..])
        .iter_mut()
        .zip(&s.scales)
        .for_each(|(g, scale)| *g /= scale);
    gradient.slice_mut(ndarray::s![1..]).scaled_add(l2, &weights);
    Evaluation { objective, gradient }
}

impl ValidLogisticParams {
    /// Fits on rows `x` (one row per example) and labels (`true` = converted).
    ///
    /// Each Newton step is damped: it is halved (at most [`MAX_HALVINGS`] times) until the penalised
    /// objective decreases enough (Armijo), so the objective never increases. The fit has converged when a
    /// full Newton step changes no coefficient by more than the tolerance (relative); a fit that runs out
    /// of steps, or whose step cannot decrease the objective, comes back with `converged: false`.
    pub fn fit(&self, x: ArrayView2<f64>, labels: &[bool]) -> Result<Logistic, LogisticError> {
        self.fit_standardized(x, &Standardizer::identity(x.ncols()), labels)
    }

    /// [`Self::fit`] on the rows `x` as `standardizer` maps them (`(t(x) − mean) / scale`), read through
    /// it row by row: no standardised copy of the rows is made.
    pub fn fit_standardized<A: Value>(
        &self,
        x: ArrayView2<A>,
        standardizer: &Standardizer,
        labels: &[bool],
    ) -> Result<Logistic, LogisticError> {
        let params = self.0;
        let (n, d) = x.dim();
        if n != labels.len() || n == 0 {
            return Err(LogisticError::Shape {
                rows: n,
                labels: labels.len(),
            });
        }
        let positives = labels.iter().filter(|&&y| y).count();
        if positives == 0 || positives == n {
            return Err(LogisticError::OneClass);
        }
        let y: Array1<f64> = labels.iter().map(|&l| f64::from(u8::from(l))).collect();
        // Start at the base rate.
        let rate = positives as f64 / n as f64;
        let mut beta = Array1::<f64>::zeros(d + 1); // [intercept, weights...]
        beta[0] = (rate / (1.0 - rate)).ln();
        // Large matrices take the Hessian from an even sample of rows (scaled up); the gradient is always
        // exact, so the fit still converges to the exact optimum, in a few more, much cheaper steps.
        let sample = standardizer.transform(x.slice(ndarray::s![..;hessian_stride(n), ..]));
        let sample = sample.view();
        let scale = n as f64 / sample.nrows() as f64;
        let mut current = evaluate(x, standardizer, y.view(), beta.view(), params.l2);
        if !current.objective.is_finite() {
            return Err(LogisticError::NotFinite);
        }
        let (mut iterations, mut converged) = (0, false);
        while iterations < params.max_iterations {
            iterations += 1;
            let p = predict(sample, beta.view());
            let hessian = penalised_hessian(sample, p.view(), scale, params.l2);
            let direction = cholesky_solve(hessian, current.gradient.view()).ok_or(LogisticError::NotFinite)?;
            let small = direction
                .iter()
                .zip(&beta)
                .all(|(s, b)| s.abs() <= params.tolerance * (1.0 + b.abs()));
            // The decrease a step of length t must achieve: a fraction of the linear prediction, with room
            // for rounding once the objective is flat to machine precision.
            let slope = current.gradient.dot(&direction);
            let rounding = 1e-12 * current.objective.abs().max(1.0);
            let mut t = 1.0;
            let accepted = (0..=MAX_HALVINGS).find_map(|_| {
                let trial = &beta - &(&direction * t);
                let evaluation = evaluate(x, standardizer, y.view(), trial.view(), params.l2);
                let enough = evaluation.objective <= current.objective - ARMIJO * t * slope + rounding;
                t *= 0.5;
                (enough && evaluation.gradient.iter().all(|g| g.is_finite())).then_some((trial, evaluation))
            });
            let Some((trial, evaluation)) = accepted else {
                break;
            };
            beta = trial;
            current = evaluation;
            if small {
                converged = true;
                break;
            }
        }
        Ok(Logistic {
            intercept: beta[0],
            weights: beta.slice(ndarray::s![1..]).to_owned(),
            iterations,
            converged,
            gradient_norm: current.gradient.iter().fold(0.0, |m, g| g.abs().max(m)) / n as f64,
        })
    }
}

/// `σ(intercept + x · weights)` for each row of `x`, at `beta = [intercept, weights...]`.
fn predict(x: ArrayView2<f64>, beta: ArrayView1<f64>) -> Array1<f64> {
    (x.dot(&beta.slice(ndarray::s![1..])) + beta[0]).mapv(sigmoid)
}

impl Logistic {
    /// Logs a warning naming the L2 strength, the steps taken and the gradient norm if the fit did not
    /// converge; `consequence` ends the sentence (what becomes of the fit). Returns whether it converged.
    pub(crate) fn warn_unless_converged(&self, l2: f64, consequence: &str) -> bool {
        if !self.converged {
            tracing::warn!(
                "the logistic fit with L2 strength {l2} did not converge in {} Newton steps (gradient norm {:.1e} \
                 per row); {consequence}",
                self.iterations,
                self.gradient_norm
            );
        }
        self.converged
    }

    /// The probability of the positive class for each row.
    pub fn predict_proba(&self, x: ArrayView2<f64>) -> Array1<f64> {
        (x.dot(&self.weights) + self.intercept).mapv(sigmoid)
    }
}

/// Standard errors of the weights of the model `intercept`, `weights` fitted with penalty `l2` on the rows
/// `x` as `standardizer` maps them: the square roots of the diagonal of the inverse penalised Hessian (the
/// same row sample the fit used), or `None` when the Hessian is singular.
pub fn standard_errors<A: Value>(
    intercept: f64,
    weights: ArrayView1<f64>,
    x: ArrayView2<A>,
    standardizer: &Standardizer,
    l2: f64,
) -> Option<Vec<f64>> {
    let sample = standardizer.transform(x.slice(ndarray::s![..;hessian_stride(x.nrows()), ..]));
    let sample = sample.view();
    let p = (sample.dot(&weights) + intercept).mapv(sigmoid);
    let hessian = penalised_hessian(sample, p.view(), x.nrows() as f64 / sample.nrows().max(1) as f64, l2);
    let d = hessian.nrows();
    (1..d)
        .map(|j| {
            let mut unit = Array1::<f64>::zeros(d);
            unit[j] = 1.0;
            cholesky_solve(hessian.clone(), unit.view()).map(|column| column[j].max(0.0).sqrt())
        })
        .collect()
}

/// Every how many rows the Hessian takes one, so that it reads at most [`HESSIAN_ROWS`].
fn hessian_stride(rows: usize) -> usize {
    rows.div_ceil(HESSIAN_ROWS).max(1)
}

/// The Hessian of the penalised objective over `[intercept, weights]`, from sample rows with their
/// probabilities, scaled up by `scale` to stand for all rows.
fn penalised_hessian(sample: ArrayView2<f64>, p: ArrayView1<f64>, scale: f64, l2: f64) -> Array2<f64> {
    let d = sample.ncols();
    let w = p.mapv(|p| (p * (1.0 - p)).max(1e-12) * scale);
    let mut weighted = sample.to_owned();
    Zip::from(weighted.rows_mut())
        .and(&w)
        .for_each(|mut row, &w| row.mapv_inplace(|v| v * w));
    let mut hessian = Array2::<f64>::zeros((d + 1, d + 1));
    hessian[[0, 0]] = w.sum();
    let column_sums = weighted.sum_axis(Axis(0));
    hessian.slice_mut(ndarray::s![0, 1..]).assign(&column_sums);
    hessian.slice_mut(ndarray::s![1.., 0]).assign(&column_sums);
    let mut block = sample.t().dot(&weighted);
    block.diag_mut().mapv_inplace(|v| v + l2);
    hessian.slice_mut(ndarray::s![1.., 1..]).assign(&block);
    hessian
}

/// Solves `a · s = b` for a symmetric positive definite `a` (Cholesky), or `None` if it is not.
fn cholesky_solve(mut a: Array2<f64>, b: ArrayView1<f64>) -> Option<Array1<f64>> {
    let n = a.nrows();
    for j in 0..n {
        let mut diagonal = a[[j, j]];
        for k in 0..j {
            diagonal -= a[[j, k]] * a[[j, k]];
        }
        if diagonal.is_nan() || diagonal <= 0.0 {
            return None;
        }
        let root = diagonal.sqrt();
        a[[j, j]] = root;
        for i in j + 1..n {
            let mut value = a[[i, j]];
            for k in 0..j {
                value -= a[[i, k]] * a[[j, k]];
            }
            a[[i, j]] = value / root;
        }
    }
    let mut z = b.to_owned();
    for i in 0..n {
        for k in 0..i {
            z[i] -= a[[i, k]] * z[k];
        }
        z[i] /= a[[i, i]];
    }
    for i in (0..n).rev() {
        for k in i + 1..n {
            z[i] -= a[[k, i]] * z[k];
        }
        z[i] /= a[[i, i]];
    }
    Some(z)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_a_small_system() {
        let a = ndarray::array![[4.0, 2.0, 0.6], [2.0, 5.0, 1.0], [0.6, 1.0, 3.0]];
        let x = ndarray::array![1.0, -2.0, 0.5];
        let b = a.dot(&x);
        let solved = cholesky_solve(a, b.view()).unwrap();
        assert!((&solved - &x).iter().all(|e| e.abs() < 1e-12));
        assert!(cholesky_solve(
            ndarray::array![[1.0, 2.0], [2.0, 1.0]],
            ndarray::array![1.0, 1.0].view()
        )
        .is_none());
    }

    #[test]
    fn settings_are_checked() {
        assert!(LogisticParams::default().l2(-1.0).check().is_err());
        assert!(LogisticParams::default().max_iterations(0).check().is_err());
        let fit = LogisticParams::default().check().unwrap();
        let x = ndarray::array![[1.0], [2.0]];
        assert_eq!(fit.fit(x.view(), &[true, true]), Err(LogisticError::OneClass));
        assert_eq!(
            fit.fit(x.view(), &[true]),
            Err(LogisticError::Shape { rows: 2, labels: 1 })
        );
    }
}
