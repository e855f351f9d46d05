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

-- GTFS static, replaced as a whole by each import. Times are seconds after
-- "noon minus 12 h" of the service day, so they may exceed 24 h.
CREATE TABLE gtfs_stops (
    stop_id        TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    platform_code  TEXT,
    parent_station TEXT
);
CREATE INDEX gtfs_stops_parent ON gtfs_stops(parent_station);

CREATE TABLE gtfs_routes (
    route_id   TEXT PRIMARY KEY,
    short_name TEXT NOT NULL,
    long_name  TEXT NOT NULL
);

CREATE TABLE gtfs_trips (
    trip_id    TEXT PRIMARY KEY,
    route_id   TEXT NOT NULL,
    service_id TEXT NOT NULL,
    headsign   TEXT
);

CREATE TABLE gtfs_stop_times (
    trip_id       TEXT NOT NULL,
    stop_sequence INTEGER NOT NULL,
    stop_id       TEXT NOT NULL,
    departure_s   INTEGER NOT NULL,
    PRIMARY KEY (trip_id, stop_sequence)
) WITHOUT ROWID;
CREATE INDEX gtfs_stop_times_stop ON gtfs_stop_times(stop_id, departure_s);

CREATE TABLE gtfs_calendar (
    service_id TEXT PRIMARY KEY,
    days       TEXT NOT NULL, -- seven '0'/'1', Monday first
    start_date TEXT NOT NULL, -- YYYYMMDD
    end_date   TEXT NOT NULL
);

CREATE TABLE gtfs_calendar_dates (
    service_id     TEXT NOT NULL,
    date           TEXT NOT NULL,
    exception_type INTEGER NOT NULL CHECK (exception_type IN (1, 2)),
    PRIMARY KEY (service_id, date)
);

-- Occupancy an operator system reports per trip (VDV 454 Besetztgrad 1..4).
CREATE TABLE transit_occupancy (
    trip_id    TEXT PRIMARY KEY,
    occupancy  TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- When the current GTFS static data was imported.
CREATE TABLE gtfs_import (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    imported_at TEXT NOT NULL,
    stops       INTEGER NOT NULL,
    trips       INTEGER NOT NULL,
    stop_times  INTEGER NOT NULL
);
