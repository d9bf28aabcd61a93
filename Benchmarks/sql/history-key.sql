-- What the history table's primary key costs COPY, server-side (no client, no network): 1M
-- pings of 10,000 units (100 each, one per second, arriving time by time as the writer sends
-- them) copied in binary into the schema-6 layout with its key on (unit_id text, time), with
-- the same rows sorted by unit, and with the bigint unit number of schema 7. Run on a scratch PostgreSQL with
-- PostGIS, as a superuser (COPY to and from server files):
--   psql -d scratch -f Benchmarks/sql/history-key.sql
-- It works in a schema of its own (bench_key), dropped at the end, and in /tmp.
\set ON_ERROR_STOP on
DROP SCHEMA IF EXISTS bench_key CASCADE;
CREATE SCHEMA bench_key;
SET search_path = bench_key, public;
CREATE UNLOGGED TABLE source AS
SELECT 'PN-' || (u % 95 + 1) || '-U-' || u AS unit_id, u::int8 AS unit_no,
       timestamptz '2026-12-07 10:00' + n * interval '1 second' AS time,
       ST_SetSRID(ST_MakePoint(-1 + (u / 500) * 0.01, 43 + (u % 500) * 0.01 + n * 1e-5), 4326)::geography AS position,
       35::real AS altitude, 12.5::real AS speed, ((u + n) % 360)::real AS heading, 8::real AS accuracy, 'available'::text AS status,
       81::smallint AS battery, timestamptz '2026-12-07 10:00' + n * interval '1 second' AS received_at, (u * 1000 + n)::bigint AS cell
FROM generate_series(0, 99) n, generate_series(0, 9999) u;
COPY (SELECT unit_id, time, position, altitude, speed, heading, accuracy, status, battery, received_at, cell FROM source ORDER BY time, unit_id)
    TO '/tmp/bench-key-arrival.bin' WITH (FORMAT binary);
COPY (SELECT unit_id, time, position, altitude, speed, heading, accuracy, status, battery, received_at, cell FROM source ORDER BY unit_id, time)
    TO '/tmp/bench-key-sorted.bin' WITH (FORMAT binary);
COPY (SELECT unit_no, time, position, altitude, speed, heading, accuracy, status, battery, received_at, cell FROM source ORDER BY time, unit_no)
    TO '/tmp/bench-key-integer.bin' WITH (FORMAT binary);
CREATE FUNCTION fresh(name text, key_type text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('DROP TABLE IF EXISTS %I', name);
    EXECUTE format('CREATE TABLE %I (unit_id %s NOT NULL, time timestamptz NOT NULL, position geography(Point, 4326) NOT NULL, '
        'altitude real, speed real, heading real, accuracy real, status text, battery smallint, received_at timestamptz NOT NULL, '
        'cell bigint, PRIMARY KEY (unit_id, time))', name, key_type);
    EXECUTE format('CREATE INDEX ON %I USING brin (time) WITH (pages_per_range = 32)', name);
END $$;
\timing on
\echo 'text key, arrival order'
SELECT fresh('history', 'text'); CHECKPOINT;
COPY history FROM '/tmp/bench-key-arrival.bin' WITH (FORMAT binary);
\echo 'text key, sorted by unit'
SELECT fresh('history', 'text'); CHECKPOINT;
COPY history FROM '/tmp/bench-key-sorted.bin' WITH (FORMAT binary);
\echo 'integer key, arrival order'
SELECT fresh('history', 'int8'); CHECKPOINT;
COPY history FROM '/tmp/bench-key-integer.bin' WITH (FORMAT binary);
\echo 'text key, arrival order, again'
SELECT fresh('history', 'text'); CHECKPOINT;
COPY history FROM '/tmp/bench-key-arrival.bin' WITH (FORMAT binary);
\echo 'integer key, arrival order, again'
SELECT fresh('history', 'int8'); CHECKPOINT;
COPY history FROM '/tmp/bench-key-integer.bin' WITH (FORMAT binary);
\timing off
RESET search_path;
DROP SCHEMA bench_key CASCADE;
\! rm -f /tmp/bench-key-arrival.bin /tmp/bench-key-sorted.bin /tmp/bench-key-integer.bin
