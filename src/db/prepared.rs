//! Fixed PostgreSQL statements that PostgreSQL parses and plans once per connection.
//!
//! diesel's `sql_query` never caches its statement: every call sends the text to be parsed and
//! planned (a round trip of its own) before executing it. The write path's few hand-written
//! statements (a record and its audit event in one data-modifying CTE) are fixed text, so
//! [`Prepared`] lets diesel's statement cache keep them as named prepared statements, keyed by
//! their SQL: after the first call on a connection, a call is one round trip with no parsing.

use std::marker::PhantomData;

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::query_dsl::RunQueryDsl;
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Untyped};
use diesel::QueryResult;

/// A fixed SQL text with `$1`, `$2`, … placeholders and the values bound to them (in order; a
/// placeholder may appear more than once).
#[must_use = "a statement only runs when executed or loaded"]
pub struct Prepared<'a> {
    sql: &'static str,
    binds: Vec<Box<dyn QueryFragment<Pg> + Send + 'a>>,
}

impl<'a> Prepared<'a> {
    pub fn new(sql: &'static str) -> Self {
        Prepared { sql, binds: Vec::new() }
    }

    /// Binds the next placeholder's value as SQL type `ST`.
    pub fn bind<ST, U>(mut self, value: U) -> Self
    where
        Pg: HasSqlType<ST>,
        U: ToSql<ST, Pg> + Send + 'a,
        ST: Send + 'a,
    {
        self.binds.push(Box::new(Bind {
            value,
            sql_type: PhantomData::<ST>,
        }));
        self
    }
}

struct Bind<ST, U> {
    value: U,
    sql_type: PhantomData<ST>,
}

impl<ST, U> QueryFragment<Pg> for Bind<ST, U>
where
    Pg: HasSqlType<ST>,
    U: ToSql<ST, Pg>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_bind_param::<ST, U>(&self.value)
    }
}

impl QueryFragment<Pg> for Prepared<'_> {
    /// Writes the text with each `$n` replaced by bind `n`, which diesel numbers afresh in order of
    /// appearance: the same text always gives the same statement, so the cache finds it.
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let mut rest = self.sql;
        while let Some(at) = rest.find('$') {
            out.push_sql(&rest[..at]);
            let after = &rest[at + 1..];
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            let bind = after[..digits]
                .parse::<usize>()
                .ok()
                .and_then(|n| n.checked_sub(1))
                .and_then(|i| self.binds.get(i))
                .ok_or_else(|| {
                    diesel::result::Error::QueryBuilderError(
                        format!("placeholder ${} has no bound value", &after[..digits]).into(),
                    )
                })?;
            bind.walk_ast(out.reborrow())?;
            rest = &after[digits..];
        }
        out.push_sql(rest);
        Ok(())
    }
}

impl QueryId for Prepared<'_> {
    type QueryId = ();
    // Not known at compile time: diesel keys the cached statement by its SQL text instead.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Prepared<'_> {
    type SqlType = Untyped;
}

impl<Conn> RunQueryDsl<Conn> for Prepared<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::sql_types::{Integer, Text};

    #[test]
    fn placeholders_are_numbered_in_order_of_appearance() {
        let statement = Prepared::new("SELECT $2, $1 WHERE $2 = 'x'")
            .bind::<Integer, _>(1)
            .bind::<Text, _>("two");
        let sql = diesel::debug_query::<Pg, _>(&statement).to_string();
        assert!(
            sql.starts_with("SELECT $1, $2 WHERE $3 = 'x'"),
            "each appearance is its own parameter: {sql}"
        );
        assert!(
            sql.contains(r#"binds: ["two", 1, "two"]"#),
            "values follow the text: {sql}"
        );
    }

    #[test]
    fn a_placeholder_without_a_value_is_an_error_not_a_panic() {
        let statement = Prepared::new("SELECT $1, $2").bind::<Integer, _>(1);
        let result = QueryFragment::<Pg>::to_sql(&statement, &mut diesel::pg::PgQueryBuilder::default(), &Pg);
        assert!(result.is_err());
        let zero = Prepared::new("SELECT $0");
        assert!(QueryFragment::<Pg>::to_sql(&zero, &mut diesel::pg::PgQueryBuilder::default(), &Pg).is_err());
    }
}
