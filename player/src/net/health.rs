//! Health figures for heartbeats, read from /proc, /sys and statvfs.

use std::path::Path;

/// Used and total memory in bytes, from `/proc/meminfo` (used = total − available).
pub fn memory() -> Option<(u64, u64)> {
    parse_meminfo(&std::fs::read_to_string("/proc/meminfo").ok()?)
}

pub fn parse_meminfo(text: &str) -> Option<(u64, u64)> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
    };
    let total = field("MemTotal")?;
    let available = field("MemAvailable")?;
    Some((total.saturating_sub(available), total))
}

/// Free and total bytes of the file system holding `path`.
pub fn disk(path: &Path) -> Option<(u64, u64)> {
    let s = rustix::fs::statvfs(path).ok()?;
    Some((s.f_bavail * s.f_frsize, s.f_blocks * s.f_frsize))
}

/// The CPU temperature in °C where the kernel exposes one (a Raspberry Pi does).
pub fn cpu_temp_c() -> Option<f32> {
    let dir = std::fs::read_dir("/sys/class/thermal").ok()?;
    let mut zones: Vec<_> = dir
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("thermal_zone"))
        })
        .collect();
    zones.sort();
    zones.iter().find_map(|z| {
        let milli: i64 = std::fs::read_to_string(z.join("temp"))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        Some(milli as f32 / 1000.0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo() {
        let text = "MemTotal:        2000 kB\nMemFree:  100 kB\nMemAvailable:    500 kB\n";
        assert_eq!(parse_meminfo(text), Some((1500 * 1024, 2000 * 1024)));
        assert_eq!(parse_meminfo("nothing"), None);
    }

    #[test]
    fn reads_this_machine() {
        let (used, total) = memory().unwrap();
        assert!(used <= total && total > 0);
        let (free, total) = disk(Path::new("/")).unwrap();
        assert!(free <= total && total > 0);
    }
}
