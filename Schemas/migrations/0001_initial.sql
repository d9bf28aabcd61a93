-- Hypervision schema, version 1.
-- Applied by hypervisiond at start-up inside one transaction and recorded in hypervision_schema.
-- Never edit a published migration: add the next numbered file instead.

CREATE EXTENSION IF NOT EXISTS postgis;

-- Field units. Rows appear the first time a unit reports; callsign, kind and agency come from
-- the unit registry when it is imported.
CREATE TABLE units (
    id          text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$'),
    callsign    text,
    kind        text,
    agency      text,
    first_seen  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Every position report, partitioned by UTC day of device time. The primary key makes a
-- repeated report (same unit, same device time) stored once; the GiST index answers "who was
-- near this place" within the day partitions that the time range selects.
CREATE TABLE pings (
    unit_id     text        NOT NULL,
    time        timestamptz NOT NULL,
    position    geography(Point, 4326) NOT NULL,
    altitude    real,
    speed       real,
    heading     real,
    accuracy    real,
    status      text,
    battery     smallint,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (unit_id, time)
) PARTITION BY RANGE (time);

CREATE INDEX pings_position_gist ON pings USING gist (position);

-- The latest position of each unit. Updated in the same transaction as pings, and only forwards
-- in device time. Deliberately no spatial index: live spatial questions are answered from memory,
-- and without one every update is a HOT update (fillfactor leaves room for it), which keeps the
-- upsert cheap at ingest rates. A sequential scan of 100,000 rows stays in milliseconds.
CREATE TABLE unit_positions (
    unit_id     text PRIMARY KEY,
    time        timestamptz NOT NULL,
    position    geography(Point, 4326) NOT NULL,
    altitude    real,
    speed       real,
    heading     real,
    accuracy    real,
    status      text,
    battery     smallint,
    received_at timestamptz NOT NULL
) WITH (fillfactor = 70);

-- Video sources.
CREATE TABLE cameras (
    id            text PRIMARY KEY,
    name          text NOT NULL,
    position      geography(Point, 4326) NOT NULL,
    heading       real NOT NULL CHECK (heading >= 0 AND heading < 360),
    field_of_view real NOT NULL CHECK (field_of_view > 0 AND field_of_view <= 360),
    range_m       real NOT NULL CHECK (range_m > 0),
    streams       jsonb NOT NULL DEFAULT '[]',
    -- The status last reported, since when, and the one before it: an "offline" younger than
    -- the grace period still counts as the previous status, so a flapping stream does not flap
    -- the wall.
    status          text NOT NULL DEFAULT 'online' CHECK (status IN ('online', 'offline', 'degraded')),
    status_since    timestamptz NOT NULL DEFAULT now(),
    previous_status text NOT NULL DEFAULT 'online' CHECK (previous_status IN ('online', 'offline', 'degraded')),
    tags            text[] NOT NULL DEFAULT '{}',
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cameras_position_gist ON cameras USING gist (position);

-- Every status change of a camera, for after-action review and availability reports.
CREATE TABLE camera_status_history (
    camera_id  text NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
    changed_at timestamptz NOT NULL,
    status     text NOT NULL CHECK (status IN ('online', 'offline', 'degraded')),
    PRIMARY KEY (camera_id, changed_at)
);

-- Things happening at a place.
CREATE TABLE incidents (
    id             text PRIMARY KEY,
    category       text NOT NULL,
    priority       smallint NOT NULL CHECK (priority BETWEEN 1 AND 5),
    location       geography(Point, 4326) NOT NULL,
    status         text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'closed')),
    opened_at      timestamptz NOT NULL,
    closed_at      timestamptz,
    summary        text,
    source         text,
    service        text,
    routing_reason text,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (closed_at IS NULL OR closed_at >= opened_at)
);
CREATE INDEX incidents_location_gist ON incidents USING gist (location);
CREATE INDEX incidents_opened_at ON incidents (opened_at);
CREATE INDEX incidents_active ON incidents (priority) WHERE status <> 'closed';

-- Wall definitions (geometry, regions, policies) as documents.
CREATE TABLE walls (
    id         text PRIMARY KEY,
    definition jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Every scene a wall showed, so "what did the wall show at 02:14" has an answer.
CREATE TABLE scene_log (
    wall_id      text NOT NULL,
    seq          bigint NOT NULL,
    generated_at timestamptz NOT NULL,
    scene        jsonb NOT NULL,
    PRIMARY KEY (wall_id, seq)
);
CREATE INDEX scene_log_wall_time ON scene_log (wall_id, generated_at);

-- Creates the partition of pings for one UTC day if it does not exist. Returns true if created.
CREATE FUNCTION hypervision_ensure_ping_partition(day date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    partition_name text := 'pings_' || to_char(day, 'YYYYMMDD');
BEGIN
    IF to_regclass(partition_name) IS NOT NULL THEN
        RETURN false;
    END IF;
    EXECUTE format(
        'CREATE TABLE %I PARTITION OF pings FOR VALUES FROM (%L) TO (%L)',
        partition_name, day::text || ' 00:00:00+00', (day + 1)::text || ' 00:00:00+00');
    RETURN true;
EXCEPTION WHEN duplicate_table THEN
    RETURN false;
END;
$$;

-- Drops whole day partitions of pings older than the cutoff day (retention without a giant
-- DELETE). Returns the names of the dropped partitions.
CREATE FUNCTION hypervision_drop_ping_partitions_before(cutoff date) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    child record;
BEGIN
    FOR child IN
        SELECT c.relname
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname = 'pings' AND c.relname ~ '^pings_[0-9]{8}$'
          AND to_date(substring(c.relname FROM 7), 'YYYYMMDD') < cutoff
        ORDER BY c.relname
    LOOP
        EXECUTE format('DROP TABLE %I', child.relname);
        RETURN NEXT child.relname;
    END LOOP;
END;
$$;
