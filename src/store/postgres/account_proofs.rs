//! PostgreSQL: identity hashes, helpdesk codes and SMS pauses; the SQL is shared, see `store/account_proofs.rs`.

crate::store::account_proofs::account_proof_queries!(sqlx::PgPool);
