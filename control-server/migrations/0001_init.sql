-- Staff, sessions and the audit trail.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'publisher', 'admin')),
    language      TEXT NOT NULL DEFAULT 'de' CHECK (language IN ('de', 'en')),
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL
);

-- Browser sessions (kind 'cookie') and script tokens (kind 'api'); only hashes are stored.
CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('cookie', 'api')),
    label        TEXT NOT NULL DEFAULT '',
    csrf_token   TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    expires_at   TEXT
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY,
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL,
    detail  TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log(at);

-- Content. Domain objects are stored as the JSON of their `content` type (minus
-- the id), so the model has one definition; columns exist only for lookups.
CREATE TABLE groups (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT ''
);

CREATE TABLE layouts (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE displays (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL,
    body             TEXT NOT NULL,
    token_hash       TEXT UNIQUE,
    adopted_at       TEXT,
    revoked_at       TEXT,
    manifest_version INTEGER NOT NULL DEFAULT 1,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);

CREATE TABLE display_status (
    display_id     INTEGER PRIMARY KEY REFERENCES displays(id) ON DELETE CASCADE,
    last_seen      TEXT NOT NULL,
    player_version TEXT NOT NULL DEFAULT '',
    health         TEXT NOT NULL DEFAULT '{}',
    acked_manifest INTEGER
);

CREATE TABLE items (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE schedules (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Files live on disk at assets/<sha[0..2]>/<sha>; a row exists only once the
-- file is complete, verified and renamed into place.
CREATE TABLE assets (
    sha256      TEXT PRIMARY KEY,
    size        INTEGER NOT NULL,
    mime        TEXT NOT NULL,
    filename    TEXT NOT NULL,
    width       INTEGER,
    height      INTEGER,
    thumbnail   INTEGER NOT NULL DEFAULT 0,
    uploaded_by TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE alerts (
    id           TEXT PRIMARY KEY,
    body         TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'active', 'cancelled')),
    created_by   TEXT NOT NULL,
    approved_by  TEXT,
    bypass       INTEGER NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL,
    activated_at TEXT,
    cancelled_at TEXT
);

CREATE TABLE alert_receipts (
    alert_id    TEXT NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
    display_id  INTEGER NOT NULL REFERENCES displays(id) ON DELETE CASCADE,
    received_at TEXT,
    shown_at    TEXT,
    PRIMARY KEY (alert_id, display_id)
);

-- Re-sent batches are idempotent thanks to the unique key.
CREATE TABLE proof_of_play (
    id          INTEGER PRIMARY KEY,
    display_id  INTEGER NOT NULL REFERENCES displays(id) ON DELETE CASCADE,
    item_id     INTEGER NOT NULL,
    zone        TEXT NOT NULL,
    schedule_id INTEGER,
    started_at  TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    UNIQUE (display_id, zone, started_at)
);

-- Monotonic counter for manifest versions.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO meta (key, value) VALUES ('revision', 1);
