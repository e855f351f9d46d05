//! CAP 1.2 (Common Alerting Protocol) messages: parsed safely from XML, or
//! built from NINA's CAP-shaped JSON, and mapped to [`content::alert::Alert`].
//!
//! The XML parser takes no chances with hostile input: the size is capped
//! before parsing starts, any `<!DOCTYPE>` (and with it every entity
//! declaration, internal or external) is refused outright, entity references
//! other than XML's five predefined ones are an error, and nesting is limited.
//! Nothing is ever fetched or expanded.
//!
//! Decisions, documented in the API:
//! - `status` Actual, Exercise and Test are taken (Test is stored, never shown);
//!   System and Draft are refused.
//! - `severity` must be one of CAP's five values. CAP's own `Unknown` is taken
//!   and shown as a banner; anything else ("Catastrophic") is refused.
//! - Of several `info` blocks the German one is used (`de-DE`, then any `de`),
//!   else the first.
//! - Geocodes named ARS or SHN (12 digits) are regional keys as they are; an AGS
//!   (8 digits) becomes an ARS by padding (`LLRKK` + `000` + `0000` for a
//!   district, `LLRKK` + `0GGG` + `GGG` for a municipality outside a
//!   Gemeindeverband); 5- and 2-digit keys are padded with zeros. Other
//!   geocodes (e.g. DWD warn cells) are ignored.

use chrono::{DateTime, Utc};
use content::alert::{Alert, AlertArea, AlertStatus, Circle, Severity, Urgency};
use content::model::Ars;
use quick_xml::events::Event;
use thiserror::Error;

/// The largest CAP document accepted.
pub const MAX_CAP_BYTES: usize = 1024 * 1024;
/// The deepest element nesting accepted (CAP itself needs 4).
pub const MAX_DEPTH: usize = 16;
/// The most elements one document may have.
pub const MAX_ELEMENTS: usize = 20_000;

#[derive(Debug, Error, PartialEq)]
pub enum CapError {
    #[error("the CAP document is larger than {MAX_CAP_BYTES} bytes")]
    TooLarge,
    #[error("DOCTYPE declarations (and with them entity definitions) are not accepted")]
    Doctype,
    #[error("the CAP document nests deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("the CAP document has more than {MAX_ELEMENTS} elements")]
    TooManyElements,
    #[error("malformed XML: {0}")]
    Malformed(String),
    #[error("not a CAP 1.2 message: the root element is <{0}>, not <alert>")]
    NotCap(String),
    #[error("the CAP message lacks <{0}>")]
    Missing(&'static str),
    #[error("invalid <{field}>: {detail}")]
    Invalid { field: &'static str, detail: String },
    #[error("CAP status {0:?} is not shown on displays (only Actual, Exercise and Test are taken)")]
    StatusRefused(String),
    #[error("unknown CAP severity {0:?}: expected Extreme, Severe, Moderate, Minor or Unknown")]
    UnknownSeverity(String),
    #[error(
        "the CAP message has no usable area (an <area> with a polygon, circle or ARS/AGS geocode)"
    )]
    NoArea,
}

impl CapError {
    /// Errors about the document itself (400/413) as opposed to its meaning (422).
    pub fn is_syntax(&self) -> bool {
        matches!(
            self,
            CapError::Doctype
                | CapError::TooDeep
                | CapError::TooManyElements
                | CapError::Malformed(_)
                | CapError::NotCap(_)
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgType {
    Alert,
    Update,
    Cancel,
}

/// A CAP message with the fields we use, as text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CapMessage {
    pub identifier: String,
    pub sender: String,
    pub sent: String,
    pub status: String,
    pub msg_type: String,
    /// `sender,identifier,sent` triples, space-separated.
    pub references: String,
    pub infos: Vec<CapInfo>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct CapInfo {
    pub language: String,
    pub event: String,
    pub severity: String,
    pub urgency: String,
    pub headline: String,
    pub description: String,
    pub instruction: String,
    pub expires: String,
    pub sender_name: String,
    pub areas: Vec<CapArea>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct CapArea {
    pub area_desc: String,
    pub polygons: Vec<String>,
    pub circles: Vec<String>,
    /// (valueName, value)
    pub geocodes: Vec<(String, String)>,
}

/// What an incoming message asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Ingest {
    pub msg_type: MsgType,
    /// The alert to show (for a Cancel: the cancel message itself, not stored).
    pub alert: Alert,
    /// Identifiers of the alerts an Update replaces or a Cancel cancels.
    pub references: Vec<String>,
}

/// A parsed element: local name, text, children.
#[derive(Debug, Default)]
struct Node {
    name: String,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }
    fn text_of(&self, name: &str) -> String {
        self.child(name)
            .map(|c| c.text.trim().to_owned())
            .unwrap_or_default()
    }
    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
}

/// Parses a CAP 1.2 XML document under the limits described in the module doc.
pub fn parse_xml(bytes: &[u8]) -> Result<CapMessage, CapError> {
    if bytes.len() > MAX_CAP_BYTES {
        return Err(CapError::TooLarge);
    }
    let root = parse_tree(bytes)?;
    if root.name != "alert" {
        return Err(CapError::NotCap(root.name));
    }
    Ok(CapMessage {
        identifier: root.text_of("identifier"),
        sender: root.text_of("sender"),
        sent: root.text_of("sent"),
        status: root.text_of("status"),
        msg_type: root.text_of("msgType"),
        references: root.text_of("references"),
        infos: root
            .all("info")
            .map(|i| CapInfo {
                language: i.text_of("language"),
                event: i.text_of("event"),
                severity: i.text_of("severity"),
                urgency: i.text_of("urgency"),
                headline: i.text_of("headline"),
                description: i.text_of("description"),
                instruction: i.text_of("instruction"),
                expires: i.text_of("expires"),
                sender_name: i.text_of("senderName"),
                areas: i
                    .all("area")
                    .map(|a| CapArea {
                        area_desc: a.text_of("areaDesc"),
                        polygons: a.all("polygon").map(|p| p.text.clone()).collect(),
                        circles: a.all("circle").map(|p| p.text.clone()).collect(),
                        geocodes: a
                            .all("geocode")
                            .map(|g| (g.text_of("valueName"), g.text_of("value")))
                            .collect(),
                    })
                    .collect(),
            })
            .collect(),
    })
}

fn parse_tree(bytes: &[u8]) -> Result<Node, CapError> {
    let malformed = |e: quick_xml::Error| CapError::Malformed(e.to_string());
    let mut reader = quick_xml::Reader::from_reader(bytes);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    let mut elements = 0usize;
    loop {
        let event = reader.read_event().map_err(malformed)?;
        match event {
            Event::DocType(_) => return Err(CapError::Doctype),
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(CapError::Malformed("content after the root element".into()));
            }
            Event::Start(e) => {
                elements += 1;
                if elements > MAX_ELEMENTS {
                    return Err(CapError::TooManyElements);
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(CapError::TooDeep);
                }
                stack.push(Node {
                    name: local(&e)?,
                    ..Node::default()
                });
            }
            Event::Empty(e) => {
                elements += 1;
                if elements > MAX_ELEMENTS {
                    return Err(CapError::TooManyElements);
                }
                let node = Node {
                    name: local(&e)?,
                    ..Node::default()
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::End(_) => {
                let node = stack
                    .pop()
                    .ok_or_else(|| CapError::Malformed("unbalanced end tag".into()))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::Text(t) => {
                // Only the five predefined entities and character references
                // unescape; any other reference is an error, never a lookup.
                let text = t.unescape().map_err(malformed)?;
                match stack.last_mut() {
                    Some(node) => node.text.push_str(&text),
                    None if text.trim().is_empty() => {}
                    None => return Err(CapError::Malformed("text outside the root".into())),
                }
            }
            Event::CData(c) => {
                let text = std::str::from_utf8(&c)
                    .map_err(|e| CapError::Malformed(format!("CDATA is not UTF-8: {e}")))?;
                if let Some(node) = stack.last_mut() {
                    node.text.push_str(text);
                }
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(CapError::Malformed(
            "the document ends inside an element".into(),
        ));
    }
    root.ok_or_else(|| CapError::Malformed("no root element".into()))
}

fn local(e: &quick_xml::events::BytesStart<'_>) -> Result<String, CapError> {
    std::str::from_utf8(e.local_name().as_ref())
        .map(str::to_owned)
        .map_err(|e| CapError::Malformed(format!("element name is not UTF-8: {e}")))
}

fn time(field: &'static str, s: &str) -> Result<DateTime<Utc>, CapError> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| CapError::Invalid {
            field,
            detail: format!("{s:?} is not a date-time with offset ({e})"),
        })
}

fn severity(s: &str) -> Result<Severity, CapError> {
    Ok(match s {
        "Extreme" => Severity::Extreme,
        "Severe" => Severity::Severe,
        "Moderate" => Severity::Moderate,
        "Minor" => Severity::Minor,
        "Unknown" => Severity::Unknown,
        other => return Err(CapError::UnknownSeverity(other.to_owned())),
    })
}

fn urgency(s: &str) -> Urgency {
    match s {
        "Immediate" => Urgency::Immediate,
        "Expected" => Urgency::Expected,
        "Future" => Urgency::Future,
        "Past" => Urgency::Past,
        _ => Urgency::Unknown,
    }
}

/// A regional key from a geocode, or `None` for geocodes we do not use.
pub fn regional_key(value_name: &str, value: &str) -> Option<Ars> {
    let v = value.trim();
    if !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let name = value_name.trim().to_ascii_uppercase();
    if !matches!(name.as_str(), "ARS" | "AGS" | "SHN") {
        return None;
    }
    let padded = match v.len() {
        12 => v.to_owned(),
        8 if &v[5..] == "000" => format!("{}0000000", &v[..5]),
        8 => format!("{}0{}{}", &v[..5], &v[5..], &v[5..]),
        5 => format!("{v}0000000"),
        2 => format!("{v}0000000000"),
        _ => return None,
    };
    padded.parse().ok()
}

fn polygon(s: &str) -> Result<Vec<(f64, f64)>, CapError> {
    let invalid = |detail: String| CapError::Invalid {
        field: "polygon",
        detail,
    };
    let points = s
        .split_whitespace()
        .map(|pair| point(pair).ok_or_else(|| invalid(format!("{pair:?} is not \"lat,lon\""))))
        .collect::<Result<Vec<_>, _>>()?;
    if points.len() < 3 {
        return Err(invalid("a polygon needs at least three points".into()));
    }
    Ok(points)
}

fn point(pair: &str) -> Option<(f64, f64)> {
    let (lat, lon) = pair.split_once(',')?;
    let (lat, lon): (f64, f64) = (lat.trim().parse().ok()?, lon.trim().parse().ok()?);
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)).then_some((lat, lon))
}

fn circle(s: &str) -> Result<Circle, CapError> {
    let invalid = || CapError::Invalid {
        field: "circle",
        detail: format!("{s:?} is not \"lat,lon radius_km\""),
    };
    let mut parts = s.split_whitespace();
    let (lat, lon) = parts.next().and_then(point).ok_or_else(invalid)?;
    let radius_km: f64 = parts
        .next()
        .and_then(|r| r.parse().ok())
        .filter(|r: &f64| r.is_finite() && *r >= 0.0)
        .ok_or_else(invalid)?;
    if parts.next().is_some() {
        return Err(invalid());
    }
    Ok(Circle {
        lat,
        lon,
        radius_km,
    })
}

/// The identifiers named in CAP `references` ("sender,identifier,sent ...").
pub fn referenced_ids(references: &str) -> Vec<String> {
    references
        .split_whitespace()
        .filter_map(|r| r.split(',').nth(1))
        .map(str::to_owned)
        .collect()
}

impl CapMessage {
    /// Checks the message and maps it to an alert; see the module doc for the rules.
    pub fn into_ingest(self) -> Result<Ingest, CapError> {
        if self.identifier.is_empty() {
            return Err(CapError::Missing("identifier"));
        }
        if self.identifier.len() > 200 {
            return Err(CapError::Invalid {
                field: "identifier",
                detail: "longer than 200 characters".into(),
            });
        }
        let status = match self.status.as_str() {
            "Actual" => AlertStatus::Actual,
            "Exercise" => AlertStatus::Exercise,
            "Test" => AlertStatus::Test,
            "" => return Err(CapError::Missing("status")),
            other => return Err(CapError::StatusRefused(other.to_owned())),
        };
        let msg_type = match self.msg_type.as_str() {
            "Alert" => MsgType::Alert,
            "Update" => MsgType::Update,
            "Cancel" => MsgType::Cancel,
            "" => return Err(CapError::Missing("msgType")),
            other => {
                return Err(CapError::Invalid {
                    field: "msgType",
                    detail: format!("{other:?} is not Alert, Update or Cancel"),
                });
            }
        };
        let references = referenced_ids(&self.references);
        if msg_type != MsgType::Alert && references.is_empty() {
            return Err(CapError::Missing("references"));
        }
        let sent = if self.sent.is_empty() {
            return Err(CapError::Missing("sent"));
        } else {
            time("sent", &self.sent)?
        };
        let info = self
            .infos
            .iter()
            .find(|i| i.language.eq_ignore_ascii_case("de-DE"))
            .or_else(|| {
                self.infos
                    .iter()
                    .find(|i| i.language.to_ascii_lowercase().starts_with("de"))
            })
            .or(self.infos.first())
            .ok_or(CapError::Missing("info"))?;
        let severity = match info.severity.as_str() {
            "" => return Err(CapError::Missing("severity")),
            s => severity(s)?,
        };
        let expires = match info.expires.as_str() {
            "" => None,
            s => Some(time("expires", s)?),
        };
        if expires.is_some_and(|e| e <= sent) {
            return Err(CapError::Invalid {
                field: "expires",
                detail: "the alert expires before it was sent".into(),
            });
        }
        let mut area = AlertArea::default();
        let mut descriptions = Vec::new();
        for a in &info.areas {
            for p in &a.polygons {
                area.polygons.push(polygon(p)?);
            }
            for c in &a.circles {
                area.circles.push(circle(c)?);
            }
            for (name, value) in &a.geocodes {
                if let Some(key) = regional_key(name, value)
                    && !area.ars.contains(&key)
                {
                    area.ars.push(key);
                }
            }
            if !a.area_desc.is_empty() {
                descriptions.push(a.area_desc.clone());
            }
        }
        if area.is_empty() && msg_type != MsgType::Cancel {
            return Err(CapError::NoArea);
        }
        let headline = [&info.headline, &info.event]
            .into_iter()
            .find(|h| !h.trim().is_empty())
            .cloned()
            .ok_or(CapError::Missing("headline"))?;
        let sender = if info.sender_name.is_empty() {
            self.sender.clone()
        } else {
            info.sender_name.clone()
        };
        Ok(Ingest {
            msg_type,
            references,
            alert: Alert {
                id: self.identifier,
                status,
                severity,
                urgency: urgency(&info.urgency),
                headline,
                description: info.description.clone(),
                instruction: info.instruction.clone(),
                area_description: descriptions.join(", "),
                area,
                sent,
                expires,
                sender,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KAARST: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>DE-NW-NE-2026-1</identifier>
  <sender>stadt@kaarst.de</sender>
  <sent>2026-11-22T06:00:00+01:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <language>en-US</language>
    <category>Fire</category><event>Fire</event>
    <urgency>Immediate</urgency><severity>Severe</severity><certainty>Observed</certainty>
    <headline>Large fire</headline>
    <area><areaDesc>Kaarst</areaDesc><geocode><valueName>AGS</valueName><value>05162016</value></geocode></area>
  </info>
  <info>
    <language>de-DE</language>
    <category>Fire</category><event>Brand</event>
    <urgency>Immediate</urgency><severity>Severe</severity><certainty>Observed</certainty>
    <headline>Gro&#223;brand &amp; Rauch</headline>
    <instruction><![CDATA[Fenster & Türen schließen]]></instruction>
    <area><areaDesc>Kaarst</areaDesc><geocode><valueName>AGS</valueName><value>05162016</value></geocode></area>
  </info>
</alert>"#;

    #[test]
    fn maps_the_german_info() {
        let ingest = parse_xml(KAARST.as_bytes()).unwrap().into_ingest().unwrap();
        assert_eq!(ingest.msg_type, MsgType::Alert);
        assert_eq!(ingest.alert.headline, "Großbrand & Rauch");
        assert_eq!(ingest.alert.instruction, "Fenster & Türen schließen");
        assert_eq!(ingest.alert.severity, Severity::Severe);
        assert_eq!(ingest.alert.area.ars[0].as_str(), "051620016016");
        assert_eq!(ingest.alert.sent.to_rfc3339(), "2026-11-22T05:00:00+00:00");
    }

    #[test]
    fn hostile_documents_are_refused() {
        let laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><alert>&lol2;</alert>"#;
        assert_eq!(parse_xml(laughs.as_bytes()), Err(CapError::Doctype));
        let undeclared = "<alert><identifier>&xxe;</identifier></alert>";
        assert!(matches!(
            parse_xml(undeclared.as_bytes()),
            Err(CapError::Malformed(_))
        ));
        let deep = format!("<alert>{}{}</alert>", "<a>".repeat(100), "</a>".repeat(100));
        assert_eq!(parse_xml(deep.as_bytes()), Err(CapError::TooDeep));
        assert_eq!(
            parse_xml(&vec![b' '; MAX_CAP_BYTES + 1]),
            Err(CapError::TooLarge)
        );
        assert!(matches!(
            parse_xml(b"<alert><info></alert>"),
            Err(CapError::Malformed(_))
        ));
    }

    #[test]
    fn keys_polygons_and_circles() {
        assert_eq!(
            regional_key("AGS", "05162000").unwrap().as_str(),
            "051620000000"
        );
        assert_eq!(
            regional_key("SHN", "051620000000").unwrap().as_str(),
            "051620000000"
        );
        assert!(regional_key("WARNCELLID", "105162000").is_none());
        assert_eq!(
            polygon("51.2,6.6 51.3,6.6 51.3,6.7 51.2,6.6")
                .unwrap()
                .len(),
            4
        );
        assert!(polygon("51.2,6.6 51.3").is_err());
        let c = circle("51.23,6.62 1.5").unwrap();
        assert_eq!(c.radius_km, 1.5);
        assert!(circle("51.23,6.62").is_err());
        assert_eq!(
            referenced_ids("a@b,ID-1,2026-11-22T06:00:00+01:00 a@b,ID-2,2026-11-22T06:10:00+01:00"),
            vec!["ID-1", "ID-2"]
        );
    }
}
