//! Rule baselines: the PQL rules a team writes by hand (`[[rules]]` in `pql.toml`), parsed and evaluated
//! on feature rows, and compared with the model at the same number of flagged accounts.
//!
//! A rule is comparisons of a feature with a number, joined by `and`, then by `or`:
//! `limit_task_created_month_usage >= 0.8 or key_events >= 10 and teammate_invited_count >= 1`.
//! Operators are `>= > <= < == !=`; a feature name with characters other than letters, digits, `_` and
//! `.` (a categorical level such as `industry=saas`) is quoted in backticks.

use ndarray::ArrayView2;

use crate::matrix::Value;
use serde::{Deserialize, Serialize};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Ge,
    Gt,
    Le,
    Lt,
    Eq,
    Ne,
}

impl Op {
    fn holds(self, value: f64, bound: f64) -> bool {
        match self {
            Op::Ge => value >= bound,
            Op::Gt => value > bound,
            Op::Le => value <= bound,
            Op::Lt => value < bound,
            Op::Eq => value == bound,
            Op::Ne => value != bound,
        }
    }
}

/// `feature op bound`, with the feature's column in the matrix.
#[derive(Debug, Clone, PartialEq)]
struct Comparison {
    column: usize,
    op: Op,
    bound: f64,
}

/// A parsed rule: a disjunction of conjunctions of comparisons.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Its name in `pql.toml`.
    pub name: String,
    /// Its condition as written.
    pub when: String,
    any_of: Vec<Vec<Comparison>>,
}

/// Why a rule cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// The rule's name.
    pub rule: String,
    /// What is wrong, and where.
    pub problem: RuleProblem,
}

/// What is wrong with a rule's condition; characters count from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleProblem {
    /// A backtick-quoted name does not end.
    UnclosedBacktick(usize),
    /// An operator other than `>= > <= < == !=`.
    UnknownOperator(usize),
    /// A word that starts like a number but is not a finite one.
    NotANumber(String),
    /// A character that starts no token.
    Unexpected {
        /// The character.
        character: char,
        /// Its position.
        at: usize,
    },
    /// A name that is no feature of the table.
    UnknownFeature(String),
    /// Tokens other than `feature <op> number`.
    ExpectedComparison,
    /// Two comparisons not joined by `and` or `or`.
    ExpectedJoin,
}

impl std::fmt::Display for RuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "rule `{}`: ", self.rule)?;
        match &self.problem {
            RuleProblem::UnclosedBacktick(at) => write!(f, "unclosed backtick at character {at}"),
            RuleProblem::UnknownOperator(at) => {
                write!(f, "unknown operator at character {at}; use >= > <= < == !=")
            }
            RuleProblem::NotANumber(word) => write!(f, "`{word}` is not a number"),
            RuleProblem::Unexpected { character, at } => write!(f, "unexpected `{character}` at character {at}"),
            RuleProblem::UnknownFeature(name) => {
                write!(
                    f,
                    "`{name}` is not a feature of this table (see `pql features --describe`)"
                )
            }
            RuleProblem::ExpectedComparison => {
                f.write_str("expected `feature <op> number` (op one of >= > <= < == !=)")
            }
            RuleProblem::ExpectedJoin => f.write_str("expected `and` or `or` between comparisons"),
        }
    }
}

impl std::error::Error for RuleError {}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Name(String),
    Number(f64),
    Op(Op),
    And,
    Or,
}

fn tokens(text: &str) -> Result<Vec<Token>, RuleProblem> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
        } else if c == '`' {
            let end = chars[i + 1..]
                .iter()
                .position(|&c| c == '`')
                .ok_or(RuleProblem::UnclosedBacktick(i + 1))?;
            out.push(Token::Name(chars[i + 1..i + 1 + end].iter().collect()));
            i += end + 2;
        } else if "<>=!".contains(c) {
            let two = chars.get(i + 1) == Some(&'=');
            let op = match (c, two) {
                ('>', true) => Op::Ge,
                ('>', false) => Op::Gt,
                ('<', true) => Op::Le,
                ('<', false) => Op::Lt,
                ('=', true) => Op::Eq,
                ('!', true) => Op::Ne,
                _ => return Err(RuleProblem::UnknownOperator(i + 1)),
            };
            out.push(Token::Op(op));
            i += 1 + usize::from(two);
        } else if c.is_ascii_digit()
            || c == '-'
            || c == '+'
            || c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)
        {
            i += 1;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric()
                    || chars[i] == '.'
                    || (matches!(chars[i], '-' | '+') && matches!(chars[i - 1], 'e' | 'E')))
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let value = word
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| RuleProblem::NotANumber(word.clone()))?;
            out.push(Token::Number(value));
        } else if c.is_alphanumeric() || c == '_' {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            out.push(match word.to_ascii_lowercase().as_str() {
                "and" => Token::And,
                "or" => Token::Or,
                _ => Token::Name(word),
            });
        } else {
            return Err(RuleProblem::Unexpected {
                character: c,
                at: i + 1,
            });
        }
    }
    Ok(out)
}

impl Rule {
    /// Parses `when` against the feature names (the matrix columns, in order).
    pub fn parse(name: &str, when: &str, features: &[String]) -> Result<Rule, RuleError> {
        let error = |problem: RuleProblem| RuleError {
            rule: name.to_string(),
            problem,
        };
        let tokens = tokens(when).map_err(error)?;
        let mut any_of = vec![Vec::new()];
        let mut rest = tokens.as_slice();
        loop {
            let (column, op, bound) = match rest {
                [Token::Name(feature), Token::Op(op), Token::Number(bound), tail @ ..] => {
                    rest = tail;
                    let column = features
                        .iter()
                        .position(|f| f == feature)
                        .ok_or_else(|| error(RuleProblem::UnknownFeature(feature.clone())))?;
                    (column, *op, *bound)
                }
                _ => return Err(error(RuleProblem::ExpectedComparison)),
            };
            any_of
                .last_mut()
                .expect("never empty")
                .push(Comparison { column, op, bound });
            match rest {
                [] => break,
                [Token::And, tail @ ..] => rest = tail,
                [Token::Or, tail @ ..] => {
                    any_of.push(Vec::new());
                    rest = tail;
                }
                _ => return Err(error(RuleProblem::ExpectedJoin)),
            }
        }
        Ok(Rule {
            name: name.to_string(),
            when: when.to_string(),
            any_of,
        })
    }

    /// The columns the rule reads (positions in the names given to [`Rule::parse`]).
    pub fn columns(&self) -> impl Iterator<Item = usize> + '_ {
        self.any_of.iter().flatten().map(|c| c.column)
    }

    /// Whether each row of `x` (columns as the names given to [`Rule::parse`]) satisfies the rule, its
    /// bounds rounded as the values are stored ([`Value::stored`]).
    pub fn flags<A: Value>(&self, x: ArrayView2<A>) -> Vec<bool> {
        x.rows()
            .into_iter()
            .map(|row| {
                self.any_of
                    .iter()
                    .any(|all| all.iter().all(|c| c.op.holds(row[c.column].into(), A::stored(c.bound))))
            })
            .collect()
    }
}

/// A rule beside the model on the same rows: the model flags as many rows as the rule, its highest scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleComparison {
    /// The rule's name.
    pub name: String,
    /// Its condition.
    pub when: String,
    /// Rows the rule flags (and the model's top rows taken).
    pub flagged: usize,
    /// Share of flagged rows that converted, for the rule.
    pub rule_precision: f64,
    /// Share of conversions among flagged rows, for the rule.
    pub rule_recall: f64,
    /// Precision of the model's top `flagged` rows.
    pub model_precision: f64,
    /// Recall of the model's top `flagged` rows.
    pub model_recall: f64,
}

impl RuleComparison {
    /// Compares `rule` with `probabilities` on rows `x` with `labels`.
    pub fn evaluate<A: Value>(rule: &Rule, x: ArrayView2<A>, labels: &[bool], probabilities: &[f64]) -> RuleComparison {
        let flags = rule.flags(x);
        let positives = labels.iter().filter(|&&y| y).count().max(1) as f64;
        let flagged = flags.iter().filter(|&&f| f).count();
        let rule_hits = flags.iter().zip(labels).filter(|(&f, &y)| f && y).count() as f64;
        let mut order: Vec<usize> = (0..labels.len()).collect();
        order.sort_by(|&a, &b| probabilities[b].total_cmp(&probabilities[a]));
        let model_hits = order[..flagged].iter().filter(|&&i| labels[i]).count() as f64;
        let share = |hits: f64| if flagged == 0 { 0.0 } else { hits / flagged as f64 };
        RuleComparison {
            name: rule.name.clone(),
            when: rule.when.clone(),
            flagged,
            rule_precision: share(rule_hits),
            rule_recall: rule_hits / positives,
            model_precision: share(model_hits),
            model_recall: model_hits / positives,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn names() -> Vec<String> {
        ["usage", "key_events", "industry=saas"].map(String::from).to_vec()
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let rule = Rule::parse("r", "usage >= 0.8 or key_events > 2 AND `industry=saas` == 1", &names()).unwrap();
        let x = array![
            [0.9, 0.0, 0.0],
            [0.1, 3.0, 1.0],
            [0.1, 3.0, 0.0],
            [0.8, 0.0, 0.0],
            [0.79, 2.0, 1.0]
        ];
        assert_eq!(rule.flags(x.view()), [true, true, false, true, false]);
        // In the f32 training matrix 0.8 is 0.800000011…, and the bound is rounded alike.
        assert_eq!(
            rule.flags(x.mapv(|v| v as f32).view()),
            [true, true, false, true, false]
        );
        let below = Rule::parse("r", "usage <= 0.7", &names()).unwrap();
        assert_eq!(below.flags(array![[0.7f32, 0.0, 0.0]].view()), [true]);
    }

    #[test]
    fn numbers_take_signs_decimals_and_exponents() {
        let rule = Rule::parse("r", "usage<-1.5e-1 or usage!=.5", &names()).unwrap();
        let x = array![[-0.2, 0.0, 0.0], [0.5, 0.0, 0.0], [0.4, 0.0, 0.0]];
        assert_eq!(rule.flags(x.view()), [true, false, true]);
    }

    #[test]
    fn errors_name_the_rule_and_the_problem() {
        let err = Rule::parse("near", "usag >= 1", &names()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "rule `near`: `usag` is not a feature of this table (see `pql features --describe`)"
        );
        for bad in [
            "usage >= ",
            "usage => 1",
            "usage >= 1 and",
            "usage >= 1 key_events > 1",
            "`usage >= 1",
            "usage >= x1",
        ] {
            let err = Rule::parse("r", bad, &names()).unwrap_err();
            assert!(err.to_string().starts_with("rule `r`: "), "{bad}: {err}");
        }
    }

    #[test]
    fn the_model_is_compared_at_the_rule_s_volume() {
        let rule = Rule::parse("r", "usage >= 0.5", &names()).unwrap();
        let x = array![[0.9, 0.0, 0.0], [0.6, 0.0, 0.0], [0.1, 0.0, 0.0], [0.2, 0.0, 0.0]];
        let labels = [true, false, true, false];
        let p = [0.9, 0.1, 0.8, 0.2];
        let c = RuleComparison::evaluate(&rule, x.view(), &labels, &p);
        assert_eq!(c.flagged, 2);
        assert_eq!((c.rule_precision, c.rule_recall), (0.5, 0.5));
        assert_eq!((c.model_precision, c.model_recall), (1.0, 1.0));
    }
}
