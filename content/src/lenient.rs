//! Lenient manifest decoding, for players.
//!
//! The server refuses anything it does not know on input (`deny_unknown_fields`,
//! a closed [`ItemKind`](crate::model::ItemKind)), so staff learn of a typo at once.
//! A player is in the opposite position: a server updated before its players may
//! send an item type this build has never heard of, and a whole square going to
//! its idle screen because one item is new would be the wrong answer. So a player
//! decodes the manifest's items one by one: an item it cannot decode is set aside
//! with the reason, its playlist entries are dropped (the rest of the loop plays
//! in their place), and everything else is decoded as strictly as ever.
//!
//! This is additive: [`Manifest`]'s own `Deserialize` is unchanged, and a manifest
//! without unknown items decodes to exactly what strict decoding gives.

use crate::ItemId;
use crate::manifest::Manifest;
use crate::model::{AssetRef, ContentItem};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use thiserror::Error;

/// A manifest as a player can play it, and what it had to leave out.
#[derive(Debug, Clone, PartialEq)]
pub struct LenientManifest {
    /// The manifest without the skipped items, their playlist entries, and the
    /// assets only they needed.
    pub manifest: Manifest,
    /// Items that could not be decoded, in manifest order.
    pub skipped: Vec<SkippedItem>,
}

/// An item the player cannot show, with what it could still read of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<ItemId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The `type` tag of the item's content, e.g. a type from a newer server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Why it could not be decoded (serde's message).
    pub reason: String,
}

impl fmt::Display for SkippedItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.id {
            Some(id) => write!(f, "item {id}")?,
            None => f.write_str("an item without an id")?,
        }
        if let Some(name) = &self.name {
            write!(f, " {name:?}")?;
        }
        if let Some(t) = &self.content_type {
            write!(f, " (type {t:?})")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// Why a manifest could not be decoded at all (an item alone never causes this).
#[derive(Debug, Error)]
pub enum LenientError {
    #[error("manifest is not valid JSON: {0}")]
    NotJson(serde_json::Error),
    #[error("invalid manifest: {0}")]
    Invalid(serde_json::Error),
}

/// Decodes a manifest, setting aside the items that do not decode.
pub fn decode_manifest(text: &str) -> Result<LenientManifest, LenientError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(LenientError::NotJson)?;
    from_value(value)
}

/// [`decode_manifest`] for JSON that is already parsed.
pub fn from_value(mut value: serde_json::Value) -> Result<LenientManifest, LenientError> {
    // Take the items out so the rest is decoded strictly on its own; a
    // non-array `items` is left for strict decoding to refuse.
    let raw_items = match value.get_mut("items") {
        Some(items @ serde_json::Value::Array(_)) => items.take(),
        _ => serde_json::Value::Null,
    };
    if !raw_items.is_null() {
        value["items"] = serde_json::Value::Array(Vec::new());
    }
    let mut manifest: Manifest = serde_json::from_value(value).map_err(LenientError::Invalid)?;

    let mut items = Vec::new();
    let mut skipped = Vec::new();
    if let serde_json::Value::Array(raw) = raw_items {
        for raw in raw {
            let seen = read_what_we_can(&raw);
            match serde_json::from_value::<ContentItem>(raw) {
                Ok(item) => items.push(item),
                Err(e) => skipped.push(SkippedItem {
                    reason: e.to_string(),
                    ..seen
                }),
            }
        }
    }
    manifest.items = items;
    if !skipped.is_empty() {
        drop_unplayable(&mut manifest);
    }
    Ok(LenientManifest { manifest, skipped })
}

/// Id, name and content type of an item that may not decode as a whole.
fn read_what_we_can(raw: &serde_json::Value) -> SkippedItem {
    SkippedItem {
        id: raw.get("id").and_then(|v| v.as_i64()).map(ItemId),
        name: raw.get("name").and_then(|v| v.as_str()).map(str::to_owned),
        content_type: raw
            .get("content")
            .and_then(|c| c.get("type"))
            .and_then(|t| t.as_str())
            .map(str::to_owned),
        reason: String::new(),
    }
}

/// Removes playlist entries whose item is not in the manifest (so the rest of
/// each loop plays, in step), and assets no remaining item needs (so the
/// player does not download what it cannot show).
fn drop_unplayable(m: &mut Manifest) {
    let known: BTreeSet<ItemId> = m.items.iter().map(|i| i.id).collect();
    let states = m
        .timeline
        .iter_mut()
        .map(|s| &mut s.state)
        .chain([&mut m.fallback]);
    for state in states {
        for playlist in state.zones.values_mut().chain(state.takeover.iter_mut()) {
            playlist.entries.retain(|e| known.contains(&e.item));
        }
    }
    let needed: BTreeSet<&AssetRef> = m.items.iter().flat_map(|i| i.assets()).collect();
    let assets = std::mem::take(&mut m.assets);
    m.assets = assets.into_iter().filter(|a| needed.contains(a)).collect();
}
