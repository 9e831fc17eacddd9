//! `drdrill images build`: builds the stack images in docker/ through the Docker API.
use super::Docker;
use crate::error::{Error, Result};
use bollard::image::BuildImageOptions;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One image context: docker/<name>/ with a Dockerfile and a TAG file.
#[derive(Debug, Clone)]
pub struct ImageDir {
    pub dir: PathBuf,
    pub tag: String,
}

pub fn image_dirs(root: &Path) -> Result<Vec<ImageDir>> {
    let rd = std::fs::read_dir(root).map_err(|e| Error::usage(format!("failed to read {}", root.display())).cause(e))?;
    let mut out = Vec::new();
    for entry in rd.flatten() {
        let dir = entry.path();
        let Ok(tag) = std::fs::read_to_string(dir.join("TAG")) else { continue };
        out.push(ImageDir { dir, tag: tag.trim().to_string() });
    }
    out.sort_by(|a, b| a.tag.cmp(&b.tag));
    Ok(out)
}

fn tar_dir(dir: &Path) -> Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    tar.append_dir_all(".", dir).map_err(|e| Error::usage(format!("failed to pack {}", dir.display())).cause(e))?;
    tar.into_inner().map_err(|e| Error::usage(format!("failed to pack {}", dir.display())).cause(e))
}

const PROXY_DOCKERFILE: &str = "FROM debian:bookworm-slim\n\
COPY drdrill /usr/local/bin/drdrill\n\
EXPOSE 8474\n\
ENTRYPOINT [\"/usr/local/bin/drdrill\", \"proxy\", \"--host\", \"0.0.0.0\", \"--port\", \"8474\"]\n";

/// The proxy image for this very drdrill binary: `drdrill/proxy:<hash of the binary>`,
/// built on first use (the binary runs `drdrill proxy` inside the drill network).
pub async fn ensure_proxy_image(docker: &Docker) -> Result<String> {
    use std::hash::{Hash, Hasher};
    let exe = std::env::current_exe().map_err(|e| Error::infra("failed to locate the drdrill binary").cause(e))?;
    let bin = std::fs::read(&exe).map_err(|e| Error::infra(format!("failed to read {}", exe.display())).cause(e))?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bin.hash(&mut h);
    let tag = format!("drdrill/proxy:{:016x}", h.finish());
    if docker.image_exists(&tag).await {
        return Ok(tag);
    }
    let mut tar = tar::Builder::new(Vec::new());
    for (name, data, mode) in [("Dockerfile", PROXY_DOCKERFILE.as_bytes(), 0o644), ("drdrill", bin.as_slice(), 0o755)] {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_cksum();
        tar.append_data(&mut header, name, data).map_err(|e| Error::infra("failed to pack the proxy image").cause(e))?;
    }
    let body = tar.into_inner().map_err(|e| Error::infra("failed to pack the proxy image").cause(e))?;
    build(docker, &tag, body, |_| {}).await?;
    Ok(tag)
}

/// Builds each image; `progress` gets one line per build step.
pub async fn build_images(docker: &Docker, dirs: &[ImageDir], mut progress: impl FnMut(&str)) -> Result<()> {
    for img in dirs {
        progress(&format!("building {} from {}", img.tag, img.dir.display()));
        build(docker, &img.tag, tar_dir(&img.dir)?, &mut progress).await?;
    }
    Ok(())
}

async fn build(docker: &Docker, tag: &str, body: Vec<u8>, mut progress: impl FnMut(&str)) -> Result<()> {
    if !docker.image_exists("debian:bookworm-slim").await {
        return Err(Error::infra("failed to find the base image debian:bookworm-slim")
            .hint("`scripts/setup.sh` pulls it or builds it locally with debootstrap"));
    }
    let opts = BuildImageOptions {
        t: tag.to_string(),
        networkmode: "host".to_string(),
        rm: true,
        labels: HashMap::from([("drdrill.image".to_string(), "true".to_string())]),
        ..Default::default()
    };
    let mut stream = docker.api.build_image(opts, None, Some(body.into()));
    while let Some(msg) = stream.next().await {
        let info = msg.map_err(|e| Error::infra(format!("failed to build {tag}")).cause(e))?;
        if let Some(err) = info.error {
            return Err(Error::infra(format!("failed to build {tag}")).cause_text(err));
        }
        if let Some(s) = info.stream {
            let s = s.trim();
            if s.starts_with("Step ") {
                progress(s);
            }
        }
    }
    Ok(())
}
