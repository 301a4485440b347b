-- motpd schema, version 13 (PostgreSQL): one row per node that the admin listener's /readyz rewrites, so that
-- "ready" means the database took a real write, not only a read.
CREATE TABLE node_heartbeats (
    node    TEXT PRIMARY KEY NOT NULL,
    beat_at BIGINT NOT NULL
);
