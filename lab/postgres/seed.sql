-- The lab's sample application schema: extensions present in 15 (npm and Debian builds)
-- and in the 18 wheel, a few related tables, a view, a function and a ledger table that
-- the switchover write-load test appends to.
CREATE EXTENSION IF NOT EXISTS citext;
CREATE EXTENSION IF NOT EXISTS hstore;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE SCHEMA IF NOT EXISTS app;
CREATE TABLE app.customers (
    id bigserial PRIMARY KEY,
    email citext UNIQUE NOT NULL,
    attrs hstore,
    created timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customers_email_trgm ON app.customers USING gin ((email::text) gin_trgm_ops);
CREATE TABLE app.orders (
    id bigserial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES app.customers,
    total numeric(12, 2) NOT NULL,
    placed tstzrange NOT NULL,
    EXCLUDE USING gist (customer_id WITH =, placed WITH &&)
);
CREATE TABLE app.ledger (
    id bigint PRIMARY KEY,
    client text NOT NULL,
    amount numeric(12, 2) NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE VIEW app.customer_totals AS
    SELECT c.id, c.email, count(o.id) AS orders, coalesce(sum(o.total), 0) AS total
    FROM app.customers c LEFT JOIN app.orders o ON o.customer_id = c.id GROUP BY c.id, c.email;
CREATE FUNCTION app.place_order(p_customer bigint, p_total numeric) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE new_id bigint;
BEGIN
    INSERT INTO app.orders (customer_id, total, placed)
    VALUES (p_customer, p_total, tstzrange(clock_timestamp(), clock_timestamp() + interval '1 second'))
    RETURNING id INTO new_id;
    RETURN new_id;
END $$;
INSERT INTO app.customers (email, attrs)
    SELECT format('user%s@Example.com', g), hstore('tier', (g % 3)::text) FROM generate_series(1, 2000) g;
INSERT INTO app.orders (customer_id, total, placed)
    SELECT (g % 2000) + 1, (g % 500) + 0.99,
           tstzrange(timestamptz '2026-01-01' + g * interval '1 hour', timestamptz '2026-01-01' + g * interval '1 hour' + interval '1 minute')
    FROM generate_series(1, 10000) g;
ANALYZE;
