-- Events for downstream services (README "Events for downstream services"),
-- written in the same batch as the change they describe and drained to the
-- EVENTS queue after the response, or by the Cron Trigger. `id` is the
-- webhook-id receivers deduplicate by; `payload` is the exact body they get
-- (signed as is). `sent_at` is set once the queue has accepted the event;
-- sent rows are purged a day later (user.created carries an address).
CREATE TABLE event_outbox (
    id          TEXT PRIMARY KEY NOT NULL,
    type        TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    payload     TEXT NOT NULL,
    sent_at     TEXT
);

CREATE INDEX event_outbox_unsent ON event_outbox (created_at) WHERE sent_at IS NULL;
CREATE INDEX event_outbox_sent ON event_outbox (sent_at) WHERE sent_at IS NOT NULL;
