-- Content approval, where the town switches it on: an item plays only while
-- its approval matches its current content (the hash of its JSON), so any edit
-- needs approving again. Publishers' own saves approve themselves.
CREATE TABLE content_settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    approval_required INTEGER NOT NULL DEFAULT 0
);
INSERT INTO content_settings (id, approval_required) VALUES (1, 0);

CREATE TABLE content_approvals (
    item_id INTEGER PRIMARY KEY,
    content_hash TEXT NOT NULL,
    approved_by TEXT NOT NULL,
    approved_at TEXT NOT NULL
);
