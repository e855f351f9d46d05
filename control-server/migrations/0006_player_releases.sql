-- Player releases, signed offline (the server never holds the key): the
-- binary lives at <data_dir>/releases/<sha256>; a row exists only once that
-- file is complete. A display runs its own assigned release, else the
-- global one, else whatever it runs (no row: no update).
CREATE TABLE player_releases (
    id          INTEGER PRIMARY KEY,
    version     TEXT NOT NULL UNIQUE,
    sha256      TEXT NOT NULL UNIQUE,
    size        INTEGER NOT NULL,
    signature   TEXT NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at TEXT NOT NULL
);

CREATE TABLE player_release_global (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    release_id INTEGER NOT NULL REFERENCES player_releases (id)
);

CREATE TABLE display_player_release (
    display_id INTEGER PRIMARY KEY REFERENCES displays (id) ON DELETE CASCADE,
    release_id INTEGER NOT NULL REFERENCES player_releases (id)
);
