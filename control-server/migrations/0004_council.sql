-- Council sessions: meetings, agenda, speakers, broadcasters, the archive (issue 5).
-- Times are RFC 3339 text in UTC ("...Z"), so text order is time order.

-- A meeting of the council or one of its committees. `oparl_id` is the
-- meeting's URL at the OParl source (NULL for manual entries); a re-import
-- updates the row it names instead of adding one. The live fields describe
-- the broadcast while `state` is 'live'.
CREATE TABLE council_meetings (
    id                  INTEGER PRIMARY KEY,
    oparl_id            TEXT UNIQUE,
    title               TEXT NOT NULL,
    body                TEXT NOT NULL DEFAULT '',
    start               TEXT NOT NULL,
    "end"               TEXT,
    location            TEXT NOT NULL DEFAULT '',
    state               TEXT NOT NULL DEFAULT 'planned'
                        CHECK (state IN ('planned', 'live', 'ended')),
    public              INTEGER NOT NULL DEFAULT 1,
    cancelled           INTEGER NOT NULL DEFAULT 0,
    minutes_approved_at TEXT,
    current_item_id     INTEGER REFERENCES council_agenda_items(id) ON DELETE SET NULL,
    closed_manual       INTEGER NOT NULL DEFAULT 0,
    speaker_name        TEXT,
    speaker_role        TEXT,
    camera              TEXT,
    live_since          TEXT,
    ended_at            TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE INDEX council_meetings_start ON council_meetings(start);
-- At most one meeting is live at a time: there is one live stream.
CREATE UNIQUE INDEX council_one_live ON council_meetings(state) WHERE state = 'live';

-- Agenda items in `position` order. A closed item (`public` = 0) is shown to
-- the public only as "Nichtöffentlicher Teil".
CREATE TABLE council_agenda_items (
    id            INTEGER PRIMARY KEY,
    meeting_id    INTEGER NOT NULL REFERENCES council_meetings(id) ON DELETE CASCADE,
    oparl_id      TEXT UNIQUE,
    position      INTEGER NOT NULL,
    number        TEXT NOT NULL DEFAULT '',
    title         TEXT NOT NULL,
    public        INTEGER NOT NULL DEFAULT 1,
    planned_start TEXT
);
CREATE INDEX council_agenda_meeting ON council_agenda_items(meeting_id, position);

CREATE TABLE council_speakers (
    id         INTEGER PRIMARY KEY,
    meeting_id INTEGER NOT NULL REFERENCES council_meetings(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX council_speakers_meeting ON council_speakers(meeting_id);

-- Broadcasters connect to /ws/broadcaster with their own token (hash only).
-- `last_status` is the latest status report (JSON) as received.
CREATE TABLE council_broadcasters (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL,
    token_hash     TEXT NOT NULL UNIQUE,
    created_by     TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    revoked_at     TEXT,
    last_seen      TEXT,
    last_status    TEXT,
    last_status_at TEXT
);

-- A finalized recording: a directory under the archive dir holding the HLS VOD
-- playlist and its segments, optionally a single MP4, a poster and WebVTT chapters.
CREATE TABLE council_recordings (
    id          INTEGER PRIMARY KEY,
    meeting_id  INTEGER REFERENCES council_meetings(id) ON DELETE SET NULL,
    dir         TEXT NOT NULL UNIQUE,
    playlist    TEXT NOT NULL,
    mp4         TEXT,
    poster      TEXT,
    chapters    TEXT,
    duration_s  REAL,
    recorded_at TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX council_recordings_meeting ON council_recordings(meeting_id);

-- Chapter marks of a recording; `public` = 0 marks a closed part.
CREATE TABLE council_chapters (
    recording_id   INTEGER NOT NULL REFERENCES council_recordings(id) ON DELETE CASCADE,
    seq            INTEGER NOT NULL,
    start_s        REAL NOT NULL,
    kind           TEXT NOT NULL,
    title          TEXT NOT NULL,
    agenda_item_id INTEGER REFERENCES council_agenda_items(id) ON DELETE SET NULL,
    public         INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (recording_id, seq)
);

-- The town's archive policy: one row.
CREATE TABLE council_settings (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    retention      TEXT NOT NULL DEFAULT 'forever'
                   CHECK (retention IN ('forever', 'days', 'minutes_approved')),
    retention_days INTEGER,
    downloads      INTEGER NOT NULL DEFAULT 1,
    updated_at     TEXT NOT NULL
);
INSERT INTO council_settings (id, retention, downloads, updated_at)
VALUES (1, 'forever', 1, '1970-01-01T00:00:00.000Z');
