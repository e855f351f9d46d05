-- The boards' system logs (warnings and worse), forwarded by their players:
-- the journal on a board lives in RAM, so this is what survives a reboot.
-- Bounded per display (display_logs::KEEP_PER_DISPLAY, newest kept).
CREATE TABLE display_logs (
    id          INTEGER PRIMARY KEY,
    display_id  INTEGER NOT NULL REFERENCES displays (id) ON DELETE CASCADE,
    at          TEXT NOT NULL,
    priority    INTEGER NOT NULL,
    source      TEXT NOT NULL,
    message     TEXT NOT NULL,
    received_at TEXT NOT NULL
);

CREATE INDEX display_logs_by_display ON display_logs (display_id, id);
