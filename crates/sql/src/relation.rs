//! Relation names: the engine tables and views a script reads, checked before they reach any SQL.

use std::fmt;
use std::str::FromStr;

use crate::{Dialect, SqlError};

/// A table or view name of one to three dot-separated parts (`table`, `schema.table` or
/// `catalog.schema.table`), each a plain identifier `[A-Za-z_][A-Za-z0-9_$]*`. It is written into SQL with
/// every part quoted for the engine ([`Relation::sql`]), so reserved words such as `order` work as names and
/// nothing in a name can end the identifier. Displays as given (`lake.events`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    parts: Vec<String>,
}

impl Relation {
    /// Checks `text` (no surrounding spaces, no quotes) as a relation name.
    pub fn parse(text: &str) -> Result<Relation, SqlError> {
        let parts: Vec<&str> = text.split('.').collect();
        if let Some(character) = text
            .chars()
            .find(|&c| !(c == '.' || c == '_' || c == '$' || c.is_ascii_alphanumeric()))
        {
            return Err(SqlError::RelationCharacter {
                name: text.into(),
                character,
            });
        }
        if parts.iter().any(|part| part.is_empty()) {
            return Err(SqlError::EmptyPart { name: text.into() });
        }
        if parts.len() > 3 {
            return Err(SqlError::RelationParts {
                name: text.into(),
                parts: parts.len(),
            });
        }
        if let Some(character) = parts
            .iter()
            .filter_map(|part| part.chars().next())
            .find(|&c| !(c == '_' || c.is_ascii_alphabetic()))
        {
            return Err(SqlError::RelationCharacter {
                name: text.into(),
                character,
            });
        }
        Ok(Relation {
            parts: parts.into_iter().map(String::from).collect(),
        })
    }

    /// The name in `dialect`'s SQL, every part quoted: `"lake"."events"` (DuckDB), `` `lake`.`events` `` (Spark).
    pub fn sql(&self, dialect: Dialect) -> String {
        let parts: Vec<String> = self.parts.iter().map(|part| dialect.quote(part)).collect();
        parts.join(".")
    }
}

impl FromStr for Relation {
    type Err = SqlError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Relation::parse(text)
    }
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.parts.join("."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_one_to_three_plain_parts_are_quoted_per_dialect() {
        let name = Relation::parse("lake.raw.events_v2").unwrap();
        assert_eq!(name.sql(Dialect::DuckDb), r#""lake"."raw"."events_v2""#);
        assert_eq!(name.sql(Dialect::Spark), "`lake`.`raw`.`events_v2`");
        assert_eq!(name.to_string(), "lake.raw.events_v2");
        // Reserved words are names like any other once quoted.
        assert_eq!(
            Relation::parse("main.select").unwrap().sql(Dialect::DuckDb),
            r#""main"."select""#
        );
        assert_eq!(Relation::parse("order").unwrap().sql(Dialect::Spark), "`order`");
        assert_eq!(Relation::parse("_t$1").unwrap().to_string(), "_t$1");
    }

    #[test]
    fn hostile_or_malformed_names_are_refused() {
        let character = |name: &str, character: char| SqlError::RelationCharacter {
            name: name.into(),
            character,
        };
        for (name, error) in [
            (
                "events; DROP TABLE accounts; --",
                character("events; DROP TABLE accounts; --", ';'),
            ),
            ("a\"b", character("a\"b", '"')),
            ("x'y", character("x'y", '\'')),
            ("a`b", character("a`b", '`')),
            (r"lake\events", character(r"lake\events", '\\')),
            ("events ", character("events ", ' ')),
            ("a\nb", character("a\nb", '\n')),
            ("read_parquet('f.parquet')", character("read_parquet('f.parquet')", '(')),
            ("(SELECT 1)", character("(SELECT 1)", '(')),
            ("\"order\"", character("\"order\"", '"')),
            ("ünicode", character("ünicode", 'ü')),
            ("lake.2024_events", character("lake.2024_events", '2')),
            ("", SqlError::EmptyPart { name: "".into() }),
            (
                "lake..events",
                SqlError::EmptyPart {
                    name: "lake..events".into(),
                },
            ),
            (".events", SqlError::EmptyPart { name: ".events".into() }),
            ("events.", SqlError::EmptyPart { name: "events.".into() }),
            (
                "a.b.c.d",
                SqlError::RelationParts {
                    name: "a.b.c.d".into(),
                    parts: 4,
                },
            ),
        ] {
            assert_eq!(Relation::parse(name), Err(error), "{name:?}");
        }
        let message = Relation::parse("events; DROP TABLE accounts; --")
            .unwrap_err()
            .to_string();
        assert!(
            message.starts_with("\"events; DROP TABLE accounts; --\": ';' is not allowed"),
            "{message}"
        );
    }
}
