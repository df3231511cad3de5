//! pql on an existing SQL engine: the point-in-time feature table and a trained model's scores as one
//! readable script for DuckDB or Spark SQL, generated from the same feature definitions the polars path
//! compiles and from the model artifact itself, so that the engine's results equal `pql features` and
//! `pql score`.
//!
//! - [`feature_query`]: one row per eligible `(account_id, as_of)` with the label and every feature, in the
//!   columns, order, units and missing-value encoding of `pql features`, over the input tables of the data
//!   contract (named by [`Tables`]). Times are whole microseconds, as in the polars path.
//! - [`scoring_query`]: the model's arithmetic written out over a feature relation: the logistic model's
//!   dot product, or each tree as nested `CASE WHEN`, then the sigmoid, the calibration (Platt's formula or
//!   the isotonic interpolation as a `CASE`), tiers, `is_pql`, and for the logistic model the three reasons
//!   in the words of `pql score`. Every number is printed in exponent form (`1.25e-1`), which both engines
//!   read as a double, with the shortest digits that round-trip.
//! - [`input_report_query`]: one row counting what the feature query reads and leaves out, and why, as
//!   `pql features` reports it, plus the rows pql would refuse (missing ids or times, repeated accounts).
//! - [`Script`]: what `pql sql` writes: the feature query alone, or the features as a temporary view and
//!   the scores over it, with a header naming the inputs.
//!
//! ```no_run
//! let artifact = pql_train::Artifact::load(std::path::Path::new("models/abc123"))?;
//! let sql = pql_sql::scoring_query(&artifact, pql_sql::Dialect::DuckDb, "read_parquet('features.parquet')");
//! println!("{sql}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod features;
mod inputs;
mod scoring;

pub use features::{feature_query, Tables};
pub use inputs::{input_report_query, INPUT_REPORT_COLUMNS};
pub use scoring::scoring_query;

/// The SQL engine a query is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// DuckDB.
    DuckDb,
    /// Spark SQL.
    Spark,
}

impl Dialect {
    /// A column name quoted for the engine (feature names hold `=`).
    pub fn quote(self, name: &str) -> String {
        match self {
            Dialect::DuckDb => format!("\"{}\"", name.replace('"', "\"\"")),
            Dialect::Spark => format!("`{}`", name.replace('`', "``")),
        }
    }

    /// A string literal (Spark also reads backslashes as escapes).
    pub fn string(self, value: &str) -> String {
        match self {
            Dialect::DuckDb => format!("'{}'", value.replace('\'', "''")),
            Dialect::Spark => format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'")),
        }
    }

    /// The engine's name, for people.
    fn engine(self) -> &'static str {
        match self {
            Dialect::DuckDb => "DuckDB",
            Dialect::Spark => "Spark SQL",
        }
    }

    /// `column IN (…)` for the values, or FALSE when there are none.
    fn is_in(self, column: &str, values: &[String]) -> String {
        if values.is_empty() {
            return "FALSE".into();
        }
        let values: Vec<String> = values.iter().map(|v| self.string(v)).collect();
        format!("{column} IN ({})", values.join(", "))
    }

    fn text_type(self) -> &'static str {
        match self {
            Dialect::DuckDb => "VARCHAR",
            Dialect::Spark => "STRING",
        }
    }

    /// Integer division of non-negative integers.
    fn int_div(self, a: &str, b: &str) -> String {
        match self {
            Dialect::DuckDb => format!("({a}) // {b}"),
            Dialect::Spark => format!("({a}) DIV {b}"),
        }
    }

    /// A timestamp (or date) column as microseconds since the epoch.
    fn epoch_us(self, column: &str) -> String {
        match self {
            Dialect::DuckDb => format!("epoch_us({column})"),
            Dialect::Spark => format!("unix_micros(CAST({column} AS TIMESTAMP))"),
        }
    }

    /// Microseconds since the epoch as a timestamp.
    fn timestamp_of_us(self, micros: &str) -> String {
        match self {
            Dialect::DuckDb => format!("make_timestamp({micros})"),
            Dialect::Spark => format!("timestamp_micros({micros})"),
        }
    }

    /// The date `days` after 1970-01-01.
    fn date_of_epoch_day(self, days: &str) -> String {
        match self {
            Dialect::DuckDb => format!("(DATE '1970-01-01' + CAST({days} AS INTEGER))"),
            Dialect::Spark => format!("date_from_unix_date(CAST({days} AS INT))"),
        }
    }

    /// A `(first, second)` struct with those field names, ordered by `first` then `second`.
    fn pair(self, first: &str, a: &str, second: &str, b: &str) -> String {
        match self {
            Dialect::DuckDb => format!("{{'{first}': {a}, '{second}': {b}}}"),
            Dialect::Spark => format!("named_struct('{first}', {a}, '{second}', {b})"),
        }
    }

    /// The list of `items` (comma-separated) sorted largest first.
    fn sorted_descending(self, items: &str) -> String {
        match self {
            Dialect::DuckDb => format!("list_sort([{items}], 'DESC')"),
            Dialect::Spark => format!("sort_array(array({items}), false)"),
        }
    }

    /// The `k`-th element (one-based) of a list.
    fn element(self, list: &str, k: usize) -> String {
        match self {
            Dialect::DuckDb => format!("{list}[{k}]"),
            Dialect::Spark => format!("element_at({list}, {k})"),
        }
    }

    /// A double with `decimals` decimals, rounded as Rust rounds (the exact binary value, ties to even),
    /// without thousands separators.
    fn fixed(self, value: &str, decimals: usize) -> String {
        match self {
            Dialect::DuckDb => format!("printf('%.{decimals}f', {value})"),
            // DecimalFormat rounds the exact binary value, ties to even; `%.2f` would round 2.675 up.
            Dialect::Spark => format!("replace(format_number({value}, {decimals}), ',', '')"),
        }
    }

    /// A number as `pql score` words it: whole numbers as they are, others with two decimals.
    fn number_words(self, value: &str) -> String {
        format!(
            "CASE WHEN {value} = floor({value}) AND abs({value}) < 1e15 THEN CAST(CAST({value} AS BIGINT) AS {}) \
             ELSE {} END",
            self.text_type(),
            self.fixed(value, 2)
        )
    }

    /// Whether a double is a number other than NaN or an infinity.
    fn is_finite(self, value: &str) -> String {
        match self {
            Dialect::DuckDb => format!("isfinite({value})"),
            Dialect::Spark => format!("NOT isnan({value}) AND abs({value}) < CAST('Infinity' AS DOUBLE)"),
        }
    }
}

/// What a `pql sql` script computes.
pub struct Script<'a> {
    /// The config the feature definitions and table columns come from.
    pub config: &'a pql_data::Config,
    /// The feature definitions (the config's dictionary, with the model's levels when scoring).
    pub defs: &'a [pql_features::FeatureDef],
    /// The snapshot dates.
    pub dates: &'a [chrono::NaiveDate],
    /// The engine's input tables.
    pub tables: &'a Tables,
    /// The model whose scores are wanted, if any.
    pub model: Option<&'a pql_train::Artifact>,
}

impl Script<'_> {
    /// The script for `dialect`: the feature query, or with a model the features as the temporary view
    /// `pql_features` and the scoring query over it. Statements end with `;` at the end of a line.
    pub fn render(&self, dialect: Dialect) -> String {
        let features = feature_query(self.config, self.defs, self.dates, self.tables, dialect);
        let (first, last) = (self.dates.first(), self.dates.last());
        let what = format!(
            "point-in-time features{scores} on {engine}, generated from the feature dictionary of\n\
             -- {config} ({count} features), for {snapshots} snapshot(s) from {first} to {last} (00:00 UTC)",
            scores = match self.model {
                Some(model) => format!(" and the scores of model {}", model.model_id),
                None => String::new(),
            },
            engine = dialect.engine(),
            config = self.config.source.display(),
            count = self.defs.len(),
            snapshots = self.dates.len(),
            first = first.map(ToString::to_string).unwrap_or_default(),
            last = last.map(ToString::to_string).unwrap_or_default(),
        );
        let mut script = header(&what, self.tables, dialect);
        match self.model {
            None => script.push_str(&features),
            Some(model) => {
                script.push_str("CREATE OR REPLACE TEMPORARY VIEW pql_features AS\n");
                script.push_str(&features);
                script.push_str(";\n\n");
                script.push_str(scoring_query(model, dialect, "pql_features").trim_end());
            }
        }
        script.push_str(";\n");
        script
    }
}

/// The script of [`input_report_query`] for `config`'s tables: one row counting what the feature script of
/// the same config reads and leaves out.
pub fn input_report_script(config: &pql_data::Config, tables: &Tables, dialect: Dialect) -> String {
    let what = format!(
        "the input report on {engine}: what the feature script of {config} reads and leaves out, and why",
        engine = dialect.engine(),
        config = config.source.display(),
    );
    let mut script = header(&what, tables, dialect);
    script.push_str(&input_report_query(config, tables, dialect));
    script.push_str(";\n");
    script
}

/// A script's opening comment (what it computes, from which tables) and, for Spark, the UTC session.
fn header(what: &str, tables: &Tables, dialect: Dialect) -> String {
    let mut header = format!(
        "-- pql {version}: {what}.\n\
         -- Reads the tables {events}, {accounts} and {conversions}; times are UTC.\n",
        version = env!("CARGO_PKG_VERSION"),
        events = tables.events,
        accounts = tables.accounts,
        conversions = tables.conversions,
    );
    if dialect == Dialect::Spark {
        header.push_str("SET spark.sql.session.timeZone = UTC;\n");
    }
    header
}

/// A double literal both engines read as a double, with round-trip digits.
fn number(value: f64) -> String {
    format!("{value:e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_and_names_are_quoted() {
        for v in [0.1, -2.5e-300, 1.0 / 3.0, 123456.789, 0.0] {
            assert_eq!(number(v).parse::<f64>().unwrap(), v);
            assert!(number(v).contains('e'));
        }
        assert_eq!(Dialect::DuckDb.quote("industry=a\"b"), "\"industry=a\"\"b\"");
        assert_eq!(Dialect::Spark.quote("industry=a`b"), "`industry=a``b`");
        assert_eq!(Dialect::DuckDb.string(r"it's a\b"), r"'it''s a\b'");
        assert_eq!(Dialect::Spark.string(r"it's a\b"), r"'it\'s a\\b'");
    }
}
