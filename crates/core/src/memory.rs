//! The memory budget check before loading a model: the model file (its weights end up
//! resident) plus the KV caches for the requested context, against the memory this
//! process can still get — `MemAvailable` from `/proc/meminfo`, lowered to what is left
//! under a cgroup limit (v2 `memory.max`, v1 `memory.limit_in_bytes`) when there is
//! one. A load that cannot fit is refused with a clear message instead of being killed
//! by the OOM killer halfway. Where none of these can be read, nothing is checked.

use crate::error::{Error, Result};

fn read_u64(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// `MemAvailable` in bytes.
fn mem_available() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = s.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

/// Bytes left under this process's cgroup limit, if it has one.
fn cgroup_room() -> Option<u64> {
    // v2: the process's own group, else the root of the mounted hierarchy.
    let group = std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("0::").map(|g| g.trim().to_owned()))
        });
    if let Some(g) = group {
        let dir = format!("/sys/fs/cgroup{}", if g == "/" { "" } else { &g });
        for d in [dir.as_str(), "/sys/fs/cgroup"] {
            if let Some(max) = read_u64(&format!("{d}/memory.max")) {
                let cur = read_u64(&format!("{d}/memory.current")).unwrap_or(0);
                return Some(max.saturating_sub(cur));
            }
        }
    }
    let limit = read_u64("/sys/fs/cgroup/memory/memory.limit_in_bytes")?;
    if limit >= 1 << 60 {
        return None; // v1's "no limit"
    }
    let usage = read_u64("/sys/fs/cgroup/memory/memory.usage_in_bytes").unwrap_or(0);
    Some(limit.saturating_sub(usage))
}

/// Bytes this process can still allocate without swapping or meeting its cgroup's
/// limit; `None` where the system does not say. `WREN_MEMORY_AVAILABLE` (bytes)
/// overrides it, for tests.
pub fn available() -> Option<u64> {
    if let Some(v) = std::env::var_os("WREN_MEMORY_AVAILABLE") {
        return v.to_str().and_then(|s| s.trim().parse().ok());
    }
    match (mem_available(), cgroup_room()) {
        (Some(a), Some(c)) => Some(a.min(c)),
        (a, c) => a.or(c),
    }
}

/// Refuses to go on when `model_bytes + kv_bytes` exceed `available` (see
/// [`available`]); `what` says what was asked for (flags to change).
pub fn check_budget(
    model_bytes: u64,
    kv_bytes: u64,
    available: Option<u64>,
    what: &str,
) -> Result<()> {
    let Some(avail) = available else {
        return Ok(());
    };
    let need = model_bytes.saturating_add(kv_bytes);
    if need <= avail {
        return Ok(());
    }
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    Err(Error::Invalid(format!(
        "not enough memory: the model needs {:.0} MiB and the KV cache for {what} {:.0} MiB, \
         {:.0} MiB in all, but only {:.0} MiB are available (MemAvailable, cgroup limit); \
         use a smaller --ctx, fewer --parallel sequences or a smaller --kv-type",
        mib(model_bytes),
        mib(kv_bytes),
        mib(need),
        mib(avail)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_cannot_fit() {
        let gib = 1u64 << 30;
        assert!(check_budget(gib, gib, Some(4 * gib), "ctx 4096").is_ok());
        assert!(check_budget(gib, gib, None, "ctx 4096").is_ok());
        let e = check_budget(gib, 8 * gib, Some(4 * gib), "ctx 131072")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("not enough memory") && e.contains("ctx 131072"),
            "{e}"
        );
        assert!(check_budget(u64::MAX, u64::MAX, Some(gib), "x").is_err());
    }

    #[test]
    fn this_machine_reports_memory() {
        if cfg!(target_os = "linux") {
            assert!(available().is_some_and(|b| b > 0));
        }
    }
}
