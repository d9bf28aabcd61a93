-- Start-up's question since schema 6, "the latest position of every unit heard in the last 24
-- hours", on 100,000 units and 31 day partitions, against the schema-5 way (a latest-position
-- table read whole) in the same run. Run on a scratch PostgreSQL with PostGIS:
--   psql -d scratch -f Benchmarks/sql/latest-positions.sql
-- It works in a schema of its own (bench_latest), dropped at the end. About 5 minutes here.
\set ON_ERROR_STOP on
\pset pager off
DROP SCHEMA IF EXISTS bench_latest CASCADE;
CREATE SCHEMA bench_latest;
SET search_path = bench_latest, public;
CREATE TABLE pings (
    unit_id text NOT NULL, time timestamptz NOT NULL, position geography(Point, 4326) NOT NULL,
    altitude real, speed real, heading real, accuracy real, status text, battery smallint,
    received_at timestamptz NOT NULL, cell bigint, PRIMARY KEY (unit_id, time)
) PARTITION BY RANGE (time);
DO $$ BEGIN FOR d IN 0..30 LOOP
    EXECUTE format('CREATE TABLE pings_%s PARTITION OF pings FOR VALUES FROM (%L) TO (%L)', d,
                   current_date - 30 + d, current_date - 29 + d);
END LOOP; END $$;
CREATE TABLE units (id text PRIMARY KEY, heard_on date);
-- 80% of the units heard today, 15% one to five days ago, 5% ten to twenty-nine days ago.
INSERT INTO units SELECT 'U-' || u, current_date - CASE WHEN u % 20 < 16 THEN 0 WHEN u % 20 < 19 THEN 1 + u % 5 ELSE 10 + u % 20 END
FROM generate_series(0, 99999) u;
-- 20 pings on the day last heard, 10 on each of the three days before: 4.85 million rows.
INSERT INTO pings
SELECT id, t, ST_SetSRID(ST_MakePoint(2.3, 48.8), 4326)::geography, 35, 1, 1, 8, 'available', 80, t, 1
FROM units, generate_series(0, 19) n, LATERAL (SELECT heard_on + time '00:10' + n * interval '30 seconds' AS t) x;
INSERT INTO pings
SELECT id, t, ST_SetSRID(ST_MakePoint(2.3, 48.8), 4326)::geography, 35, 1, 1, 8, 'available', 80, t, 1
FROM units, generate_series(1, 3) d, generate_series(0, 9) n,
     LATERAL (SELECT heard_on - d + time '00:10' + n * interval '30 seconds' AS t) x
WHERE heard_on - d > current_date - 30;
-- The schema-5 table: the newest ping of each unit, kept by the writer.
CREATE TABLE unit_positions AS SELECT DISTINCT ON (unit_id) * FROM pings ORDER BY unit_id, time DESC;
ALTER TABLE unit_positions ADD PRIMARY KEY (unit_id);
VACUUM ANALYZE pings, units, unit_positions;
\timing on
\echo 'schema 6: probes of the history (three runs)'
SELECT count(*) FROM (
    SELECT p.unit_id FROM units u
    CROSS JOIN LATERAL (SELECT * FROM pings WHERE pings.unit_id = u.id ORDER BY time DESC LIMIT 1) p
    WHERE u.heard_on >= (now() - interval '24 hours')::date AND p.received_at > now() - interval '24 hours'
    ORDER BY p.received_at DESC LIMIT 200000) latest;
\g
\g
\echo 'schema 5: the latest-position table read whole (three runs)'
SELECT count(*) FROM (
    SELECT unit_id FROM unit_positions WHERE received_at > now() - interval '24 hours'
    ORDER BY received_at DESC LIMIT 200000) latest;
\g
\g
\timing off
RESET search_path;
DROP SCHEMA bench_latest CASCADE;
