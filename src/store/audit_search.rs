//! Reading the audit trail by what an admin asks for (`motpd audit list`, the console's audit search): one statement both dialects run
//! as written (CAST instead of `::`, `substr` instead of LIKE, so a kind prefix holds no wildcard).

/// What to find: every `None` matches anything. Newest rows first, at most `limit`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Rows about this account.
    pub account: Option<String>,
    /// Rows at or after this Unix time.
    pub since: Option<i64>,
    /// Rows with this outcome (`ok`, `accept`, `reject`, ...).
    pub outcome: Option<String>,
    /// Rows whose kind starts with this (`radius.`, `admin.user.lock`).
    pub kind_prefix: Option<String>,
    /// Rows by this actor (`console:chen`, `cli:root`, `web:10.1.2.3`).
    pub actor: Option<String>,
    /// Rows before this Unix time.
    pub until: Option<i64>,
    /// Rows older than this sequence number (the next page of a search: the last row's `seq`).
    pub before_seq: Option<i64>,
    /// At most this many rows.
    pub limit: u32,
}

pub(super) const SEARCH: &str = "SELECT * FROM audit_log \
     WHERE (CAST($1 AS TEXT) IS NULL OR account_id = CAST($1 AS TEXT)) \
       AND (CAST($2 AS BIGINT) IS NULL OR at >= CAST($2 AS BIGINT)) \
       AND (CAST($3 AS TEXT) IS NULL OR outcome = CAST($3 AS TEXT)) \
       AND (CAST($4 AS TEXT) IS NULL OR substr(kind, 1, length(CAST($4 AS TEXT))) = CAST($4 AS TEXT)) \
       AND (CAST($5 AS TEXT) IS NULL OR actor = CAST($5 AS TEXT)) \
       AND (CAST($6 AS BIGINT) IS NULL OR at < CAST($6 AS BIGINT)) \
       AND (CAST($7 AS BIGINT) IS NULL OR seq < CAST($7 AS BIGINT)) \
     ORDER BY seq DESC LIMIT $8";

/// Defines `search_audit` for one pool type (`sqlx::SqlitePool` or `sqlx::PgPool`).
macro_rules! audit_search_query {
    ($pool:ty) => {
        /// Runs the shared audit search on this backend.
        pub(super) async fn search_audit(
            pool: &$pool,
            filter: &crate::store::AuditFilter,
        ) -> Result<Vec<crate::audit::AuditRecord>, crate::store::StoreError> {
            sqlx::query_as::<_, crate::store::rows::AuditRow>(crate::store::audit_search::SEARCH)
                .bind(filter.account.clone())
                .bind(filter.since)
                .bind(filter.outcome.clone())
                .bind(filter.kind_prefix.clone())
                .bind(filter.actor.clone())
                .bind(filter.until)
                .bind(filter.before_seq)
                .bind(i64::from(filter.limit))
                .fetch_all(pool)
                .await?
                .into_iter()
                .map(crate::audit::AuditRecord::try_from)
                .collect()
        }
    };
}
pub(super) use audit_search_query;
