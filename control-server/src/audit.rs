//! The audit log: who changed what, when. Written in the same transaction as
//! the change it describes, so the two cannot disagree.

use rusqlite::Connection;
use serde_json::Value;

pub fn record(
    c: &Connection,
    actor: &str,
    action: &str,
    target: &str,
    detail: Value,
) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        rusqlite::params![
            crate::db::now_text(),
            actor,
            action,
            target,
            detail.to_string()
        ],
    )?;
    Ok(())
}
