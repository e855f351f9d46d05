//! Typed access to the tables that hold `content` objects as JSON.
//!
//! Each row keeps the object's JSON in `body` and a copy of its name for
//! listing; the row id is the object's id and wins over whatever id the JSON
//! carries.

use crate::error::ApiError;
use content::model::{ContentItem, Display, Layout};
use content::schedule::Schedule;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Serialize, de::DeserializeOwned};

pub trait Stored: Serialize + DeserializeOwned + Send + Sync + 'static {
    const TABLE: &'static str;
    /// For messages and the audit log ("item 7").
    const NOUN: &'static str;
    fn id(&self) -> i64;
    fn set_id(&mut self, id: i64);
    fn name(&self) -> &str;
}

macro_rules! stored {
    ($t:ty, $table:literal, $noun:literal, $id:ident) => {
        impl Stored for $t {
            const TABLE: &'static str = $table;
            const NOUN: &'static str = $noun;
            fn id(&self) -> i64 {
                self.id.0
            }
            fn set_id(&mut self, id: i64) {
                self.id = content::$id(id);
            }
            fn name(&self) -> &str {
                &self.name
            }
        }
    };
}

stored!(ContentItem, "items", "item", ItemId);
stored!(Schedule, "schedules", "schedule", ScheduleId);
stored!(Layout, "layouts", "layout", LayoutId);
stored!(Display, "displays", "display", DisplayId);

fn decode<T: Stored>(id: i64, body: &str) -> Result<T, ApiError> {
    let mut v: T = serde_json::from_str(body).map_err(|e| {
        ApiError::internal(format!("{} {id} has unreadable stored JSON: {e}", T::NOUN))
    })?;
    v.set_id(id);
    Ok(v)
}

pub fn all<T: Stored>(c: &Connection) -> Result<Vec<T>, ApiError> {
    let mut stmt = c.prepare_cached(&format!("SELECT id, body FROM {} ORDER BY id", T::TABLE))?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
    rows.map(|r| {
        let (id, body) = r?;
        decode(id, &body)
    })
    .collect()
}

pub fn find<T: Stored>(c: &Connection, id: i64) -> Result<Option<T>, ApiError> {
    let body: Option<String> = c
        .query_row(
            &format!("SELECT body FROM {} WHERE id = ?1", T::TABLE),
            [id],
            |r| r.get(0),
        )
        .optional()?;
    body.map(|b| decode(id, &b)).transpose()
}

pub fn get<T: Stored>(c: &Connection, id: i64) -> Result<T, ApiError> {
    find(c, id)?.ok_or_else(|| ApiError::NotFound(format!("{} {id}", T::NOUN)))
}

pub fn insert<T: Stored>(c: &Connection, value: &mut T) -> Result<(), ApiError> {
    let now = crate::db::now_text();
    c.execute(
        &format!(
            "INSERT INTO {} (name, body, created_at, updated_at) VALUES (?1, '{{}}', ?2, ?2)",
            T::TABLE
        ),
        params![value.name(), now],
    )?;
    value.set_id(c.last_insert_rowid());
    c.execute(
        &format!("UPDATE {} SET body = ?2 WHERE id = ?1", T::TABLE),
        params![value.id(), serde_json::to_string(value)?],
    )?;
    Ok(())
}

pub fn update<T: Stored>(c: &Connection, value: &T) -> Result<(), ApiError> {
    let n = c.execute(
        &format!(
            "UPDATE {} SET name = ?2, body = ?3, updated_at = ?4 WHERE id = ?1",
            T::TABLE
        ),
        params![
            value.id(),
            value.name(),
            serde_json::to_string(value)?,
            crate::db::now_text()
        ],
    )?;
    if n == 0 {
        return Err(ApiError::NotFound(format!("{} {}", T::NOUN, value.id())));
    }
    Ok(())
}

pub fn delete<T: Stored>(c: &Connection, id: i64) -> Result<(), ApiError> {
    let n = c.execute(&format!("DELETE FROM {} WHERE id = ?1", T::TABLE), [id])?;
    if n == 0 {
        return Err(ApiError::NotFound(format!("{} {id}", T::NOUN)));
    }
    Ok(())
}
