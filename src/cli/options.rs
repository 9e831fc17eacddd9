//! `drdrill run`'s options checked before anything starts: the evidence folder, the
//! metrics file and the Pushgateway.
use crate::error::{Error, Result};
use crate::suite;

/// Least free space a drill's evidence folder needs (history, logs, reports).
const MIN_FREE_BYTES: u64 = 50 << 20;

/// `--reports` must be a writable folder with room for the evidence: a usage error
/// (exit 2) found before anything starts, never an infrastructure error mid-drill.
pub(super) fn check_reports(dir: &std::path::Path) -> Result<()> {
    let bad = |what: String| crate::error::Error::usage(format!("--reports {}: {what}", dir.display()));
    if dir.exists() && !dir.is_dir() {
        return Err(bad("is not a folder".into()).hint("give a folder (it is created if missing)"));
    }
    std::fs::create_dir_all(dir).map_err(|e| bad("cannot be created".into()).cause(e))?;
    tempfile::Builder::new().prefix(".drdrill-write-check").tempfile_in(dir).map_err(|e| bad("is not writable".into()).cause(e))?;
    if let Some(free) = free_bytes(dir)
        && free < MIN_FREE_BYTES
    {
        return Err(bad(format!("only {} MB free; a drill needs at least {} MB", free >> 20, MIN_FREE_BYTES >> 20)));
    }
    Ok(())
}

/// `--metrics-file` and `--pushgateway`, checked before anything starts.
pub(super) fn metrics_out(file: Option<std::path::PathBuf>, pushgateway: Option<String>) -> Result<suite::MetricsOut> {
    if let Some(gw) = pushgateway.as_deref().filter(|g| !(g.starts_with("http://") || g.starts_with("https://"))) {
        return Err(Error::usage(format!("--pushgateway expects an http:// or https:// URL, found `{gw}`")));
    }
    if let Some(f) = &file {
        check_metrics_file(f)?;
    }
    Ok(suite::MetricsOut { file, pushgateway })
}

/// `--metrics-file`: a file (not a folder) in a folder that exists and takes new files.
fn check_metrics_file(path: &std::path::Path) -> Result<()> {
    let bad = |what: &str| crate::error::Error::usage(format!("--metrics-file {}: {what}", path.display()));
    if path.is_dir() {
        return Err(bad("is a folder").hint("give a file, e.g. /var/lib/node_exporter/textfile/drdrill.prom"));
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    tempfile::Builder::new()
        .prefix(".drdrill-write-check")
        .tempfile_in(dir)
        .map_err(|e| bad("its folder is missing or not writable").cause(e))?;
    Ok(())
}

/// Bytes available to this user on the file system holding `dir` (None if unknown).
fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a valid NUL-terminated string and `st` a properly sized buffer
    // that statvfs fills in completely when it returns 0.
    let st = unsafe {
        if libc::statvfs(path.as_ptr(), st.as_mut_ptr()) != 0 {
            return None;
        }
        st.assume_init()
    };
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}
