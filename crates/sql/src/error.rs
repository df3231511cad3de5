//! Why a relation name is refused.

/// A name given for an engine relation that pql will not write into a script.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SqlError {
    /// Not one to three dot-separated parts.
    #[error("{name:?} has {parts} dot-separated parts; a relation is table, schema.table or catalog.schema.table")]
    RelationParts {
        /// The name as given.
        name: String,
        /// How many parts it has.
        parts: usize,
    },
    /// A part is empty (`a..b`, a leading or trailing dot, or nothing at all).
    #[error("{name:?} has an empty part; a relation is table, schema.table or catalog.schema.table")]
    EmptyPart {
        /// The name as given.
        name: String,
    },
    /// A part holds a character outside plain identifiers.
    #[error(
        "{name:?}: {character:?} is not allowed in a relation name; each dot-separated part is a letter or `_` \
         followed by letters, digits, `_` or `$` (pql quotes the parts itself; for other names or a query, create \
         a view first)"
    )]
    RelationCharacter {
        /// The name as given.
        name: String,
        /// The first character refused.
        character: char,
    },
}
