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
//! Nothing is pasted into a script unchecked: relations are [`Relation`]s (plain dotted names, quoted per
//! dialect), every column and feature name goes through [`Dialect::quote`], every text value (event names,
//! categorical levels, reason phrases, the model id) through [`Dialect::string`], and comments are single
//! lines whatever they name.
//!
//! ```no_run
//! let artifact = pql_train::Artifact::load(std::path::Path::new("models/abc123"))?;
//! let features = pql_sql::Relation::parse("lake.features")?;
//! let sql = pql_sql::scoring_query(&artifact, pql_sql::Dialect::DuckDb, &features);
//! println!("{sql}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod features;
mod inputs;
mod relation;
mod scoring;

pub use error::SqlError;
pub use features::{feature_query, Tables};
pub use inputs::{input_report_query, INPUT_REPORT_COLUMNS};
pub use relation::Relation;
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
    /// An identifier (column, feature or relation part) quoted for the engine, the quote character doubled
    /// inside: any text is then one identifier (feature names hold `=` and categorical levels).
    pub fn quote(self, name: &str) -> String {
        match self {
            Dialect::DuckDb => format!("\"{}\"", name.replace('"', "\"\"")),
            Dialect::Spark => format!("`{}`", name.replace('`', "``")),
        }
    }

    /// A string literal of any text, on one line: DuckDB doubles single quotes (and writes line breaks as
    /// `chr(10)` and `chr(13)`, in parentheses); Spark, which reads backslashes as escapes (its default, which
    /// the scripts' header sets), escapes backslashes and single quotes with one, line breaks as `\n`, `\r`.
    pub fn string(self, value: &str) -> String {
        match self {
            Dialect::DuckDb => {
                let literal = format!("'{}'", value.replace('\'', "''"));
                match value.contains(['\n', '\r']) {
                    true => format!(
                        "({})",
                        literal
                            .replace('\n', "' || chr(10) || '")
                            .replace('\r', "' || chr(13) || '")
                    ),
                    false => literal,
                }
            }
            Dialect::Spark => format!(
                "'{}'",
                value
                    .replace('\\', "\\\\")
                    .replace('\'', "\\'")
                    .replace('\n', "\\n")
                    .replace('\r', "\\r")
            ),
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

    /// Integer division rounded down (as pql's `div_euclid`) by a positive `b`: both engines' integer
    /// division rounds toward zero, which is wrong for the negative times before 1970.
    fn int_div(self, a: &str, b: &str) -> String {
        match self {
            Dialect::DuckDb => format!("(({a}) - ((({a}) % {b}) + {b}) % {b}) // {b}"),
            Dialect::Spark => format!("(({a}) - pmod({a}, {b})) DIV {b}"),
        }
    }

    /// A timestamp (or date) column as microseconds since the epoch, whatever its unit and time zone
    /// (DuckDB has no `epoch_us` of `TIMESTAMPTZ_NS`, which pandas writes): through `TIMESTAMPTZ`, which
    /// floors nanoseconds as pql does, a timestamp without a zone read as UTC (the session's zone, set in
    /// the header).
    fn epoch_us(self, column: &str) -> String {
        match self {
            Dialect::DuckDb => format!("epoch_us(CAST({column} AS TIMESTAMPTZ))"),
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
            Dialect::DuckDb => format!("{{{}: {a}, {}: {b}}}", self.string(first), self.string(second)),
            Dialect::Spark => format!(
                "named_struct({}, {a}, {}, {b})",
                self.string(first),
                self.string(second)
            ),
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
        let what = [
            format!(
                "point-in-time features{scores} on {engine}, generated from the feature dictionary of",
                scores = match self.model {
                    Some(model) => format!(" and the scores of model {:?}", model.model_id),
                    None => String::new(),
                },
                engine = dialect.engine(),
            ),
            format!(
                "{config:?} ({count} features), for {snapshots} snapshot(s) from {first} to {last} (00:00 UTC)",
                config = self.config.source.display().to_string(),
                count = self.defs.len(),
                snapshots = self.dates.len(),
                first = first.map(ToString::to_string).unwrap_or_default(),
                last = last.map(ToString::to_string).unwrap_or_default(),
            ),
        ];
        let mut script = header(&what, self.tables, dialect);
        match self.model {
            None => script.push_str(&features),
            Some(model) => {
                script.push_str("CREATE OR REPLACE TEMPORARY VIEW pql_features AS\n");
                script.push_str(&features);
                script.push_str(";\n\n");
                let view = Relation::parse("pql_features").expect("a plain name");
                script.push_str(scoring_query(model, dialect, &view).trim_end());
            }
        }
        script.push_str(";\n");
        script
    }
}

/// The script of [`input_report_query`] for `config`'s tables: one row counting what the feature script of
/// the same config reads and leaves out.
pub fn input_report_script(config: &pql_data::Config, tables: &Tables, dialect: Dialect) -> String {
    let what = [format!(
        "the input report on {engine}: what the feature script of {config:?} reads and leaves out, and why",
        engine = dialect.engine(),
        config = config.source.display().to_string(),
    )];
    let mut script = header(&what, tables, dialect);
    script.push_str(&input_report_query(config, tables, dialect));
    script.push_str(";\n");
    script
}

/// A script's opening comment (what it computes, in lines, from which tables) and, for Spark, the session
/// settings the script relies on: UTC, and backslashes as escapes in string literals (see [`Dialect::string`]).
fn header(what: &[String], tables: &Tables, dialect: Dialect) -> String {
    let mut lines = what.to_vec();
    if let Some(first) = lines.first_mut() {
        first.insert_str(0, &format!("pql {}: ", env!("CARGO_PKG_VERSION")));
    }
    if let Some(last) = lines.last_mut() {
        last.push('.');
    }
    lines.push(format!(
        "Reads the tables {}, {} and {}; times are UTC.",
        tables.events, tables.accounts, tables.conversions
    ));
    let mut header: String = lines.iter().map(|line| comment(line) + "\n").collect();
    match dialect {
        Dialect::DuckDb => header.push_str("SET TimeZone = 'UTC';\n"),
        Dialect::Spark => header
            .push_str("SET spark.sql.session.timeZone = UTC;\nSET spark.sql.parser.escapedStringLiterals = false;\n"),
    }
    header
}

/// A `--` comment of one line whatever `text` holds: control characters (line breaks) are written as escapes
/// (`\n`). Values from the config, the data or the model go in quoted (`{:?}`), so that a comment never ends
/// in a backslash, which Spark reads as continuing the comment onto the next line, or in a `;`.
pub(crate) fn comment(text: &str) -> String {
    let mut line = String::from("-- ");
    for c in text.chars() {
        match c.is_control() {
            true => line.extend(c.escape_default()),
            false => line.push(c),
        }
    }
    line
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
        assert_eq!(Dialect::DuckDb.quote("x'y"), "\"x'y\"");
        assert_eq!(Dialect::Spark.quote("a\"b"), "`a\"b`");
        assert_eq!(Dialect::DuckDb.string("';DROP TABLE x;--"), "''';DROP TABLE x;--'");
        assert_eq!(Dialect::Spark.string(r"\'"), r"'\\\''");
        assert_eq!(comment("a\nDROP TABLE accounts;\r"), r"-- a\nDROP TABLE accounts;\r");
        assert_eq!(
            Dialect::DuckDb.string("a;\nb\r"),
            "('a;' || chr(10) || 'b' || chr(13) || '')"
        );
        assert_eq!(Dialect::Spark.string("a;\nb\r"), r"'a;\nb\r'");
    }

    /// Event names, levels and paths that would end a literal, an identifier or a comment stay inside them.
    #[test]
    fn hostile_names_stay_in_their_literals_identifiers_and_comments() {
        let config = pql_data::Config::parse(
            r#"
[inputs]
events = "e.csv"
accounts = "a.csv"
conversions = "c.csv"

[[attributes]]
name = "in`du\"stry"
kind = "categorical"

[events]
key = ["k'\nDROP TABLE accounts; --"]
ignore = ["i\\';DROP TABLE accounts; --"]

[[limits]]
event = "seat\\"
limit = 3
period = "week"
"#,
            std::path::Path::new("pql\n;DROP TABLE accounts;.toml"),
        )
        .unwrap();
        let levels = vec![("in`du\"stry".to_string(), vec![r"O'Reilly\".to_string()])];
        let vocabulary = pql_features::Vocabulary {
            levels,
            events: vec!["e'v\\\"nt".to_string()],
            valued: Vec::new(),
        };
        let defs = pql_features::catalog::catalog(&config, &vocabulary);
        let dates = [chrono::NaiveDate::from_ymd_opt(2025, 3, 10).unwrap()];
        for dialect in [Dialect::DuckDb, Dialect::Spark] {
            let script = Script {
                config: &config,
                defs: &defs,
                dates: &dates,
                tables: &Tables::default(),
                model: None,
            }
            .render(dialect);
            for line in script.lines() {
                assert!(!line.trim_start().starts_with("DROP"), "{line}");
                if let Some((_, comment)) = line.split_once("-- ") {
                    let comment = comment.trim_end();
                    assert!(!comment.ends_with('\\') && !comment.ends_with(';'), "{line}");
                }
            }
            // Statements end where pql ends them: after the session settings and at the end.
            let ends = script.lines().filter(|line| line.trim_end().ends_with(';')).count();
            assert_eq!(ends, if dialect == Dialect::Spark { 3 } else { 2 }, "{script}");
            assert!(script.contains(&dialect.quote(r#"in`du"stry=O'Reilly\"#)), "{script}");
            assert!(
                script.contains(&dialect.string("k'\nDROP TABLE accounts; --")),
                "{script}"
            );
            assert!(
                script.contains(&dialect.string(r"i\';DROP TABLE accounts; --")),
                "{script}"
            );
        }
    }
}
