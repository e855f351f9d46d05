//! Civic data services: sensors, transit, emergency alerts, feed health.

pub mod sensors;
