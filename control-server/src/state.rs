//! The context every handler shares.

use crate::auth::AuthState;
use crate::config::Config;
use crate::db::Db;
use crate::hub::Hub;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub hub: Hub,
    pub config: Arc<Config>,
    pub auth: Arc<AuthState>,
    pub sensors: Arc<crate::civic::sensors::SensorService>,
    pub transit: Arc<crate::civic::transit::TransitService>,
    pub council: Arc<crate::council::Council>,
    /// `--release-key`, loaded at start: player releases are checked
    /// against it (`api::releases`); `None` leaves that to the displays.
    pub release_key: Option<content::release::ReleaseKey>,
}
