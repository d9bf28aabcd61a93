-- Hypervision schema, version 2: incident numbering and history, camera events.

-- Incident ids given by hypervisiond look like INC-2026-0173: the year it was opened and a
-- number from this sequence. A sequence (not max()+1) so two concurrent reports never collide.
CREATE SEQUENCE incident_number;

-- Every change made to an incident (creation, priority, status, routing), for after-action review.
CREATE TABLE incident_history (
    incident_id text NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    changed_at  timestamptz NOT NULL,
    change      jsonb NOT NULL
);
CREATE INDEX incident_history_incident ON incident_history (incident_id, changed_at);

-- Things cameras report: motion, analytics alarms, tampering. Each lives until expires_at, so
-- a wall that reacts to an alarm returns to its normal content by itself when the alarm ends.
CREATE TABLE camera_events (
    id          bigserial PRIMARY KEY,
    camera_id   text NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('motion', 'analytics', 'tamper')),
    label       text,
    confidence  real CHECK (confidence IS NULL OR (confidence >= 0 AND confidence <= 1)),
    occurred_at timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    incident_id text REFERENCES incidents (id) ON DELETE SET NULL,
    CHECK (expires_at > occurred_at)
);
CREATE INDEX camera_events_active ON camera_events (expires_at);
CREATE INDEX camera_events_camera ON camera_events (camera_id, occurred_at);
