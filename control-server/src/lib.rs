//! The control server: staff API, player hub, and the civic services.
//!
//! Invariant: this is the only crate that opens the database. Domain types come
//! from `content`; this crate adds persistence, authentication and transport.

pub mod api;
pub mod approval;
pub mod audit;
pub mod auth;
pub mod civic;
pub mod config;
pub mod council;
pub mod db;
pub mod demo;
pub mod error;
pub mod hub;
pub mod manifests;
pub mod preview;
pub mod state;
pub mod store;
pub mod web;

use crate::config::{Command, Config};
use crate::state::AppState;
use anyhow::Context as _;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Opens the database and data directories and builds the shared state.
pub fn open_state(config: Config) -> anyhow::Result<AppState> {
    // First, so a bad key file stops the start before anything is created.
    let release_key = config
        .release_key
        .as_deref()
        .map(api::releases::load_key)
        .transpose()?;
    if let Some(key) = &release_key {
        tracing::info!(
            fingerprint = %key.fingerprint(),
            "player releases are checked against the release key"
        );
    }
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    let db = db::Db::open(&config.db_path())?;
    api::assets::prepare_dirs(&config)?;
    std::fs::create_dir_all(config.screenshots_dir())?;
    council::prepare_dirs(&config)
        .context("cannot create the council archive and live directories")?;
    let hub = hub::Hub::new(db.clone());
    let sensors = civic::sensors::SensorService::new(&config.sensors)?;
    let transit = civic::transit::TransitService::new(&config.transit)?;
    Ok(AppState {
        db,
        hub,
        config: Arc::new(config),
        auth: Arc::new(auth::AuthState::default()),
        sensors,
        transit,
        council: Arc::new(council::Council::default()),
        release_key,
    })
}

/// Serves until `shutdown` resolves, then closes player connections and
/// checkpoints the database.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    auth::bootstrap_admin(&state).await?;
    let app = api::router(state.clone());
    let hub = state.hub.clone();
    let council_tasks = council::background(&state);
    let background = [
        hub.start_background(),
        tokio::spawn(manifests::daily_refresh(state.clone())),
        tokio::spawn(api::alerts::expiry_sweeper(state.clone())),
        tokio::spawn(civic::nina::run(state.clone())),
        tokio::spawn(civic::sensors::poll::poll_loop(state.clone())),
        tokio::spawn(civic::sensors::maintenance(
            state.db.clone(),
            state.sensors.raw_days,
        )),
        tokio::spawn(civic::sensors::resync_loop(
            state.db.clone(),
            state.hub.clone(),
            state.sensors.clone(),
        )),
        tokio::spawn(civic::transit::push_loop(state.clone())),
        tokio::spawn(civic::transit::rt_poll_loop(state.clone())),
    ];
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("shutting down: closing player connections");
        hub.shutdown();
    })
    .await
    .context("server failed")?;
    for task in background {
        task.abort();
    }
    for task in council_tasks {
        task.abort();
    }
    state.hub.flush().await;
    state.db.checkpoint()?;
    tracing::info!("database flushed; bye");
    Ok(())
}

/// What `main` runs: parse, open, seed when asked, serve until SIGINT/SIGTERM.
pub async fn run(cli: config::Cli) -> anyhow::Result<()> {
    let config = cli.config;
    let listen = config.listen;
    let state = open_state(config)?;
    if cli.command == Some(Command::Demo) {
        demo::seed(&state)
            .await
            .context("seeding demo data failed")?;
    }
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    // The line system tests and people look for.
    println!("control-server listening on http://{addr}/");
    serve(listener, state, shutdown_signal()).await
}

/// Resolves on SIGINT or SIGTERM: the one shutdown path.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
