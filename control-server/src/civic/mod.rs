//! Civic data services: sensors, transit, emergency alerts, feed health.

pub mod cap;
pub mod demo;
pub mod feeds;
pub mod nina;
pub mod sensors;
pub mod sensorthings;
pub mod transit;
