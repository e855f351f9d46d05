-- Civic alerts: where an alert came from, and the 'expired' state.
--
-- SQLite cannot change a CHECK constraint in place, so `alerts` is rebuilt.
-- Its receipts are rebuilt first against the new table, so dropping the old
-- one cascades into nothing; the renames carry the foreign key along.
CREATE TABLE alerts_new (
    id           TEXT PRIMARY KEY,
    body         TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'active', 'cancelled', 'expired')),
    -- 'staff' for alerts made in the API, 'cap:<account>' for CAP pushes,
    -- 'nina:<ARS>' for the federal warning poller.
    source       TEXT NOT NULL DEFAULT 'staff',
    created_by   TEXT NOT NULL,
    approved_by  TEXT,
    bypass       INTEGER NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL,
    activated_at TEXT,
    cancelled_at TEXT,
    expired_at   TEXT
);
INSERT INTO alerts_new (id, body, state, created_by, approved_by, bypass, created_at,
                        activated_at, cancelled_at)
    SELECT id, body, state, created_by, approved_by, bypass, created_at, activated_at, cancelled_at
      FROM alerts;

CREATE TABLE alert_receipts_new (
    alert_id    TEXT NOT NULL REFERENCES alerts_new(id) ON DELETE CASCADE,
    display_id  INTEGER NOT NULL REFERENCES displays(id) ON DELETE CASCADE,
    received_at TEXT,
    shown_at    TEXT,
    PRIMARY KEY (alert_id, display_id)
);
INSERT INTO alert_receipts_new SELECT alert_id, display_id, received_at, shown_at
    FROM alert_receipts;

DROP TABLE alert_receipts;
DROP TABLE alerts;
ALTER TABLE alerts_new RENAME TO alerts;
ALTER TABLE alert_receipts_new RENAME TO alert_receipts;
CREATE INDEX alerts_state ON alerts(state);
CREATE INDEX alerts_source ON alerts(source, state);

-- Health of every data feed (CAP pushes, NINA, sensors, transit): one row per
-- source, updated by its poller or ingest endpoint (`civic::feeds`).
CREATE TABLE feeds (
    name          TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    last_success  TEXT,
    last_error    TEXT,
    last_error_at TEXT,
    -- When the data last received was current; its age is shown.
    data_as_of    TEXT
);
