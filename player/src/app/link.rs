//! The app's end of the network thread: events become resources, and what
//! the app did goes back as reports. Never blocks: `try_recv` only.

use super::{Alerts, ClockTrust, Connection, CurrentManifest, Live, Now, PlayerSet};
use crate::net::{AppReport, NetEvent};
use bevy::prelude::*;
use content::live::LiveData;

/// The channels to the network thread; absent in screenshot mode.
#[derive(Resource, Debug)]
pub struct NetLink {
    pub events: async_channel::Receiver<NetEvent>,
    pub reports: async_channel::Sender<AppReport>,
}

impl NetLink {
    pub fn report(&self, r: AppReport) {
        let _ = self.reports.try_send(r);
    }
}

pub fn plugin(app: &mut App) {
    app.add_systems(Update, poll.in_set(PlayerSet::Input));
}

/// Events handled per frame at most, so a burst never stalls a frame.
const MAX_EVENTS_PER_FRAME: usize = 64;

// A Bevy system: each resource it touches is a parameter.
#[allow(clippy::too_many_arguments)]
pub(crate) fn poll(
    link: Option<Res<NetLink>>,
    now: Res<Now>,
    mut conn: ResMut<Connection>,
    mut manifest: ResMut<CurrentManifest>,
    mut alerts: ResMut<Alerts>,
    mut live: ResMut<Live>,
    mut clock: Option<ResMut<ClockTrust>>,
    mut exit: MessageWriter<AppExit>,
) {
    let Some(link) = link else { return };
    for _ in 0..MAX_EVENTS_PER_FRAME {
        let Ok(event) = link.events.try_recv() else {
            break;
        };
        match event {
            NetEvent::Pairing { code, .. } => {
                conn.pairing_code = Some(code);
                conn.has_token = false;
            }
            NetEvent::Adopted { .. } => {
                conn.pairing_code = None;
                conn.has_token = true;
            }
            NetEvent::Online { .. } => {
                conn.online = true;
                conn.offline_since = None;
            }
            // Each failed reconnect says "offline" again; only the first
            // changes the resource, so live panels (rebuilt when the
            // connection changes) are not redrawn at every retry.
            NetEvent::Offline { .. } => {
                if conn.online || conn.offline_since.is_none() {
                    conn.offline_since = Some(now.get());
                    conn.online = false;
                }
            }
            NetEvent::Manifest(m) => manifest.0 = Some(m),
            NetEvent::AlertStart(a) => {
                alerts.0.retain(|o| o.id != a.id);
                alerts.0.push(a);
            }
            NetEvent::AlertCancel { alert_id } => alerts.0.retain(|a| a.id != alert_id),
            NetEvent::Live(d) => {
                let same = |o: &LiveData| match (o, &d) {
                    (LiveData::Sensors { .. }, LiveData::Sensors { .. }) => true,
                    (
                        LiveData::Departures { stop_id: a, .. },
                        LiveData::Departures { stop_id: b, .. },
                    ) => a == b,
                    _ => false,
                };
                live.0.retain(|o| !same(o));
                live.0.push(d);
            }
            NetEvent::Problem(p) => warn!("{p}"),
            NetEvent::ServerTime { skew } => {
                let check = crate::clock::ServerCheck::from_skew(skew);
                if let Some(clock) = clock.as_mut()
                    && clock.server != check
                {
                    if check == crate::clock::ServerCheck::Disagrees {
                        warn!(
                            "the server's clock differs from ours by {} s: our clock is not trusted until they agree",
                            skew.num_seconds()
                        );
                    }
                    clock.server = check;
                }
            }
            NetEvent::Restart { why } => {
                info!("{why}: the player ends and is started again");
                exit.write(AppExit::Success);
            }
        }
    }
}
