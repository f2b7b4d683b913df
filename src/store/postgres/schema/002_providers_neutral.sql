-- Schema version 2 of the PostgreSQL driver: providers, neutral.
--
-- 1. An event type's id at a provider is an external link (entity 2 =
--    event type, kind 'event_type', the id as text), like every other
--    ledger row's: Cal.com's integer ids and Calendly's URIs alike. The
--    Cal.com ids of event_types.calcom_event_type_id are copied there and
--    the column is dropped (SQLite's migration 002 keeps it, NULL).
-- 2. One id per provider and event type.
-- 3. A delivery keeps the normalized event its provider made of it at
--    intake (JSON text with a version field, webhooks/event.c), so that
--    the payload is parsed once; NULL for deliveries stored before this
--    migration or that were never normalized (ignored, failed).

INSERT INTO external_links (entity, entity_id, provider, kind, external_id,
                            etag, superseded, created_utc)
    SELECT 2, id, 'calcom', 'event_type',
           CAST(calcom_event_type_id AS TEXT), NULL, 0, updated_utc
    FROM event_types WHERE calcom_event_type_id IS NOT NULL;
ALTER TABLE event_types DROP COLUMN calcom_event_type_id;
CREATE UNIQUE INDEX external_links_event_type_provider
    ON external_links (entity_id, provider)
    WHERE entity = 2 AND kind = 'event_type';
ALTER TABLE inbox ADD COLUMN normalized TEXT;
