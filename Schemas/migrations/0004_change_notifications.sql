-- Hypervision schema, version 4: every daemon of a cluster hears when cameras, camera events or
-- incidents change, whichever daemon (or tool) changed them.
-- A statement-level trigger notifies `hypervision_live` with `E1 <table>`; PostgreSQL folds the
-- same payload sent several times in one transaction into one, so an import of 10,000 cameras
-- is one notification. The daemons reload what changed from the tables (their live state is a
-- copy of these rows), so the payload needs to say no more.
CREATE FUNCTION hypervision_notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hypervision_live', 'E1 ' || TG_TABLE_NAME);
    RETURN NULL;
END;
$$;

CREATE TRIGGER cameras_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON cameras
    FOR EACH STATEMENT EXECUTE FUNCTION hypervision_notify_change();
CREATE TRIGGER camera_events_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON camera_events
    FOR EACH STATEMENT EXECUTE FUNCTION hypervision_notify_change();
CREATE TRIGGER incidents_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON incidents
    FOR EACH STATEMENT EXECUTE FUNCTION hypervision_notify_change();
