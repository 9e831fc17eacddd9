//! Stack images: drdrill judges the images scripts/setup.sh built up to date (the two compute
//! one context hash), and `drdrill images build` builds a missing or changed context, and
//! only that, with a line per step.
use crate::common;
use common::*;
use std::path::Path;
use std::process::Command;

fn images(args: &[&str], dir: &Path) -> (i32, String, String) {
    let mut a = vec!["images"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["--dir", dir.to_str().unwrap()]);
    let out = drdrill(&a);
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// Removes the test's image, however the test ends.
struct Image(String);
impl Drop for Image {
    fn drop(&mut self) {
        docker(&["rmi", "-f", &self.0]);
    }
}

#[test]
fn every_image_the_setup_built_is_up_to_date_for_drdrill() {
    let (code, out, err) = images(&["status"], &root().join("docker"));
    assert_eq!(code, 0, "{out}{err}");
    for tag in ["drdrill/mariadb:10.11", "drdrill/patroni:3", "drdrill/postgres:15-2", "drdrill/redis:7"] {
        let line = out.lines().find(|l| l.starts_with(&format!("{tag}\t"))).unwrap_or_else(|| panic!("{tag} not listed:\n{out}"));
        assert!(line.ends_with("\tup to date"), "{line}");
    }
}

#[test]
fn a_missing_or_changed_context_is_built_and_an_up_to_date_one_is_not() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let root = tempfile::tempdir().unwrap();
    let ctx = root.path().join("tiny");
    std::fs::create_dir_all(ctx.join("sub")).unwrap();
    let tag = format!("drdrill-test/tiny:{}", std::process::id());
    let _image = Image(tag.clone());
    std::fs::write(ctx.join("TAG"), format!("{tag}\n")).unwrap();
    std::fs::write(ctx.join("Dockerfile"), "FROM debian:bookworm-slim\nCOPY a B sub/ /ctx/\n").unwrap();
    // bytewise order puts B before a: the hash must follow scripts/setup.sh's `LC_ALL=C sort`
    for (f, text) in [("a", "one"), ("B", "two"), ("sub/c", "three")] {
        std::fs::write(ctx.join(f), text).unwrap();
    }

    let (code, out, _) = images(&["status"], root.path());
    assert_eq!(code, 1, "a missing image is not ready: {out}");
    assert!(out.contains(&format!("{tag}\t")) && out.contains("\tmissing"), "{out}");

    let (code, _, err) = images(&["build"], root.path());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&format!("building {tag}")) && err.contains("  Step 1/") && err.contains(&format!("built {tag} in")), "{err}");
    let (code, out, _) = images(&["status"], root.path());
    assert_eq!((code, out.trim_end().ends_with("\tup to date")), (0, true), "{out}");

    // the label is the hash scripts/setup.sh computes for the same context
    let shell = Command::new("bash")
        .args(["-c", "find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16"])
        .current_dir(&ctx)
        .output()
        .unwrap();
    let label = docker(&["image", "inspect", "-f", "{{ index .Config.Labels \"drdrill.context\" }}", &tag]);
    assert_eq!(label.trim(), String::from_utf8_lossy(&shell.stdout).trim());

    let (code, _, err) = images(&["build"], root.path());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&format!("{tag} up to date")) && !err.contains("building"), "an up-to-date image is not built again: {err}");

    std::fs::write(ctx.join("sub/c"), "changed").unwrap();
    let (code, out, _) = images(&["status"], root.path());
    assert_eq!(code, 1);
    assert!(out.contains("out of date"), "{out}");
    let (code, _, err) = images(&["build"], root.path());
    assert!(code == 0 && err.contains(&format!("building {tag}")), "{err}");
    let (code, _, _) = images(&["status"], root.path());
    assert_eq!(code, 0);
}
