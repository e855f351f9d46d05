//! Memory and CPU time of a process, from Linux's `/proc`.

use anyhow::{Context as _, anyhow};

/// Clock ticks per second of `utime`/`stime` in `/proc/<pid>/stat`.
/// `sysconf(_SC_CLK_TCK)` is 100 on every Linux this runs on (x86-64, arm64).
pub fn clk_tck() -> u64 {
    100
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ProcStats {
    /// Resident set size (`VmRSS`).
    pub rss_kib: u64,
    /// Peak resident set size (`VmHWM`).
    pub hwm_kib: u64,
    /// User plus system CPU time in clock ticks.
    pub cpu_ticks: u64,
}

impl ProcStats {
    pub fn read(pid: u32) -> anyhow::Result<ProcStats> {
        Self::read_path(&format!("/proc/{pid}"))
    }

    pub fn read_self() -> anyhow::Result<ProcStats> {
        Self::read_path("/proc/self")
    }

    fn read_path(dir: &str) -> anyhow::Result<ProcStats> {
        let status = std::fs::read_to_string(format!("{dir}/status"))
            .with_context(|| format!("reading {dir}/status"))?;
        let stat = std::fs::read_to_string(format!("{dir}/stat"))
            .with_context(|| format!("reading {dir}/stat"))?;
        Ok(ProcStats {
            rss_kib: status_kib(&status, "VmRSS:")
                .ok_or_else(|| anyhow!("no VmRSS in {dir}/status"))?,
            hwm_kib: status_kib(&status, "VmHWM:").unwrap_or(0),
            cpu_ticks: stat_cpu_ticks(&stat)
                .ok_or_else(|| anyhow!("cannot parse {dir}/stat: {stat}"))?,
        })
    }
}

fn status_kib(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

/// utime + stime: fields 14 and 15, counted after the `(comm)` field, which
/// may itself contain spaces and parentheses.
fn stat_cpu_ticks(stat: &str) -> Option<u64> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    // after_comm starts at field 3 (state), so field k is at index k - 3.
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_comm() {
        let stat = "1234 (a b) c) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 1 2 3";
        assert_eq!(stat_cpu_ticks(stat), Some(300));
    }

    #[test]
    fn reads_own_process() {
        let s = ProcStats::read_self().unwrap();
        assert!(s.rss_kib > 0);
    }
}
