-- Environmental sensors and public transport (issue 6).

-- A station: one of the town's own sensors (pushes with its token) or a public
-- one the server polls (sensor.community, openSenseMap). Its regional key says
-- which displays show it: every display whose ARS lies within `ars`.
CREATE TABLE sensors (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    lat           REAL NOT NULL,
    lon           REAL NOT NULL,
    ars           TEXT NOT NULL,
    token_hash    TEXT UNIQUE,
    feed_kind     TEXT CHECK (feed_kind IN ('sensor_community', 'opensensemap')),
    feed_url      TEXT,
    last_poll_at  TEXT,
    last_error    TEXT,
    created_at    TEXT NOT NULL,
    CHECK ((feed_kind IS NULL) = (feed_url IS NULL))
);

-- Raw readings in normalised units, kept for a configurable number of days.
-- Times are Unix seconds (UTC) so hourly aggregation is integer arithmetic.
CREATE TABLE sensor_readings (
    station     TEXT NOT NULL REFERENCES sensors(id) ON DELETE CASCADE,
    quantity    TEXT NOT NULL,
    measured_at INTEGER NOT NULL,
    value       REAL NOT NULL,
    PRIMARY KEY (station, quantity, measured_at)
) WITHOUT ROWID;
CREATE INDEX sensor_readings_time ON sensor_readings(measured_at);

-- Hourly aggregates, kept for years; `hour` is the Unix second the hour starts.
CREATE TABLE sensor_hourly (
    station  TEXT NOT NULL REFERENCES sensors(id) ON DELETE CASCADE,
    quantity TEXT NOT NULL,
    hour     INTEGER NOT NULL,
    min      REAL NOT NULL,
    avg      REAL NOT NULL,
    max      REAL NOT NULL,
    count    INTEGER NOT NULL,
    PRIMARY KEY (station, quantity, hour)
) WITHOUT ROWID;
