//! Demo data (to be completed).

use crate::state::AppState;

pub async fn seed(_state: &AppState) -> anyhow::Result<()> {
    Ok(())
}
