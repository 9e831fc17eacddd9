//! Files an exporter reads (postgres_exporter's queries file): each written into the
//! evidence folder's `monitoring/<node>-exporter/` under its own file name, and mounted
//! read-only at its path in the exporter's container, so the evidence holds what ran.
use crate::error::{Error, Result};
use std::path::Path;

/// Writes `files` (path in the container, contents) under `dir/<container>/`; returns the
/// mounts (host path, `path:ro`) of the exporter's container.
pub fn write(dir: &Path, container: &str, files: &[(String, String)]) -> Result<Vec<(String, String)>> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let folder = dir.join(container);
    std::fs::create_dir_all(&folder).map_err(|e| Error::infra(format!("failed to create {}", folder.display())).cause(e))?;
    let mut mounts = Vec::new();
    for (to, text) in files {
        let name = Path::new(to).file_name().ok_or_else(|| Error::infra(format!("failed to name the exporter's file {to} (a bug)")))?;
        let path = folder.join(name);
        std::fs::write(&path, text).map_err(|e| Error::infra(format!("failed to write {}", path.display())).cause(e))?;
        mounts.push((path.display().to_string(), format!("{to}:ro")));
    }
    Ok(mounts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_file_is_written_in_the_evidence_and_mounted_read_only_where_the_exporter_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![("/etc/drdrill/queries.yml".to_string(), "pg_x:\n  query: SELECT 1\n".to_string())];
        let mounts = write(dir.path(), "pgl-1-exporter", &files).unwrap();
        let host = dir.path().join("pgl-1-exporter/queries.yml");
        assert_eq!(mounts, vec![(host.display().to_string(), "/etc/drdrill/queries.yml:ro".to_string())]);
        assert_eq!(std::fs::read_to_string(host).unwrap(), files[0].1);
        assert!(write(dir.path(), "rc-1-exporter", &[]).unwrap().is_empty());
        assert!(!dir.path().join("rc-1-exporter").exists(), "no folder for an exporter without files");
    }
}
