//! The stack images in docker/: found, checked against their context, and built through the
//! Docker API with progress (`drdrill images build|status`, and `drdrill run` for the images
//! its drill uses).
use super::Docker;
use crate::error::{Error, Result};
use bollard::image::BuildImageOptions;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The label holding an image's context hash (scripts/setup.sh sets the same one).
pub const LABEL_CONTEXT: &str = "drdrill.context";

/// One image context: docker/<name>/ with a Dockerfile and a TAG file.
#[derive(Debug, Clone)]
pub struct ImageDir {
    pub dir: PathBuf,
    pub tag: String,
}

/// An image against its context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageState {
    UpToDate,
    Missing,
    /// Built from an older context.
    OutOfDate,
    /// Present without a context label: pulled or built by other means; used as it is.
    Foreign,
}

impl ImageState {
    pub fn say(self) -> &'static str {
        match self {
            ImageState::UpToDate => "up to date",
            ImageState::Missing => "missing",
            ImageState::OutOfDate => "out of date (its context changed)",
            ImageState::Foreign => "present, not built from a context here (used as it is)",
        }
    }
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

/// The image contexts when no folder is named: those in docker/ under the working
/// directory, else in the checkout the drdrill binary was built in (target/<profile>/drdrill).
pub fn default_dirs() -> Vec<ImageDir> {
    let exe = std::env::current_exe().ok();
    let near_exe = exe.as_deref().and_then(|e| e.ancestors().nth(3)).map(|c| c.join("docker"));
    [Some(PathBuf::from("docker")), near_exe]
        .into_iter()
        .flatten()
        .map(|d| image_dirs(&d).unwrap_or_default())
        .find(|d| !d.is_empty())
        .unwrap_or_default()
}

/// The context's hash, as scripts/setup.sh computes it: `sha256sum` of every regular file
/// (paths `./…`, sorted bytewise), that listing hashed again, 16 hex digits.
pub fn context_hash(dir: &Path) -> Result<String> {
    let fail = |e: std::io::Error| Error::usage(format!("failed to read {}", dir.display())).cause(e);
    let mut files = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).map_err(fail)? {
            let e = e.map_err(fail)?;
            let kind = e.file_type().map_err(fail)?;
            if kind.is_dir() {
                todo.push(e.path());
            } else if kind.is_file() {
                let rel = e.path().strip_prefix(dir).map(|r| r.to_string_lossy().into_owned()).unwrap_or_default();
                files.push(format!("./{rel}"));
            }
        }
    }
    files.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let mut listing = String::new();
    for f in &files {
        let data = std::fs::read(dir.join(f)).map_err(fail)?;
        listing.push_str(&format!("{:x}  {f}\n", Sha256::digest(&data)));
    }
    Ok(format!("{:x}", Sha256::digest(listing.as_bytes()))[..16].to_string())
}

/// The image against its context, whose hash (`context_hash`) is `sum`.
pub async fn state(docker: &Docker, img: &ImageDir, sum: &str) -> ImageState {
    let Ok(inspect) = docker.api.inspect_image(&img.tag).await else { return ImageState::Missing };
    let labels = inspect.config.and_then(|c| c.labels).unwrap_or_default();
    match labels.get(LABEL_CONTEXT) {
        None => ImageState::Foreign,
        Some(have) if have == sum => ImageState::UpToDate,
        Some(_) => ImageState::OutOfDate,
    }
}

/// Makes sure every image in `tags` can be used: one built from a context in `dirs` is built
/// when missing or out of date; any other must already exist. `say` gets the progress lines.
pub async fn ensure_images(docker: &Docker, tags: &[String], dirs: &[ImageDir], say: &mut dyn FnMut(&str)) -> Result<()> {
    for tag in tags {
        match dirs.iter().find(|d| d.tag == *tag) {
            Some(img) => {
                let sum = context_hash(&img.dir)?;
                let st = state(docker, img, &sum).await;
                if matches!(st, ImageState::Missing | ImageState::OutOfDate) {
                    say(&format!("image {tag} is {}: building it (once; later drills reuse it)", st.say()));
                    build_one(docker, img, &sum, say).await?;
                }
            }
            None if docker.image_exists(tag).await => {}
            None => {
                return Err(Error::infra(format!("failed to find image {tag}"))
                    .hint("build it, or run drdrill from its checkout, where docker/ holds the stack images' Dockerfiles"));
            }
        }
    }
    Ok(())
}

/// Builds each image that is not up to date (all of them with `force`).
pub async fn build_images(docker: &Docker, dirs: &[ImageDir], force: bool, say: &mut dyn FnMut(&str)) -> Result<()> {
    for img in dirs {
        let sum = context_hash(&img.dir)?;
        match state(docker, img, &sum).await {
            ImageState::UpToDate if !force => say(&format!("{} up to date", img.tag)),
            _ => build_one(docker, img, &sum, say).await?,
        }
    }
    Ok(())
}

/// Builds one image, labelled with its context's hash `sum`.
async fn build_one(docker: &Docker, img: &ImageDir, sum: &str, say: &mut dyn FnMut(&str)) -> Result<()> {
    let t0 = Instant::now();
    say(&format!("building {} from {} ...", img.tag, img.dir.display()));
    let labels = HashMap::from([(LABEL_CONTEXT.to_string(), sum.to_string())]);
    build(docker, &img.tag, tar_dir(&img.dir)?, labels, say).await?;
    say(&format!("built {} in {:.0} s", img.tag, t0.elapsed().as_secs_f64()));
    Ok(())
}

fn tar_dir(dir: &Path) -> Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    tar.append_dir_all(".", dir).map_err(|e| Error::usage(format!("failed to pack {}", dir.display())).cause(e))?;
    tar.into_inner().map_err(|e| Error::usage(format!("failed to pack {}", dir.display())).cause(e))
}

/// What the proxy image is built on (docker/proxy: Debian with iptables, for the WAN
/// links' loss); `drdrill run` builds it with the stack images.
pub const PROXY_BASE: &str = "drdrill/proxy-base:1";

const PROXY_DOCKERFILE: &str = "FROM drdrill/proxy-base:1\n\
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
    build(docker, &tag, body, HashMap::new(), &mut |_| {}).await?;
    remove_older_proxy_images(docker, &tag).await;
    Ok(tag)
}

/// Each drdrill build makes its own proxy image; once a new one exists the older ones are
/// removed (an image a container still uses, such as a running drill's, is kept: the engine
/// refuses to remove it without force, and none is asked).
async fn remove_older_proxy_images(docker: &Docker, keep: &str) {
    use bollard::image::{ListImagesOptions, RemoveImageOptions};
    let filters = HashMap::from([("reference".to_string(), vec!["drdrill/proxy".to_string()])]);
    let Ok(list) = docker.api.list_images(Some(ListImagesOptions { filters, ..Default::default() })).await else { return };
    for tag in list.iter().flat_map(|i| &i.repo_tags).filter(|t| t.starts_with("drdrill/proxy:") && *t != keep) {
        let _ = docker.api.remove_image(tag, Some(RemoveImageOptions { force: false, noprune: false }), None).await;
    }
}

/// One build through the API: each `Step` line goes to `say`, and while a step runs longer
/// than 10 s, a line saying so with the build's latest output.
async fn build(docker: &Docker, tag: &str, body: Vec<u8>, mut labels: HashMap<String, String>, say: &mut dyn FnMut(&str)) -> Result<()> {
    if !docker.image_exists("debian:bookworm-slim").await {
        return Err(Error::infra("failed to find the base image debian:bookworm-slim")
            .hint("`scripts/setup.sh` pulls it or builds it locally with debootstrap"));
    }
    labels.insert("drdrill.image".to_string(), "true".to_string());
    let opts = BuildImageOptions { t: tag.to_string(), networkmode: "host".to_string(), rm: true, labels, ..Default::default() };
    let mut stream = docker.api.build_image(opts, None, Some(body.into()));
    let t0 = Instant::now();
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + Duration::from_secs(10), Duration::from_secs(10));
    let mut last = String::new();
    loop {
        let msg = tokio::select! {
            m = stream.next() => m,
            _ = tick.tick() => {
                say(&format!("  still building {tag} ({:.0} s): {last}", t0.elapsed().as_secs_f64()));
                continue;
            }
        };
        let Some(msg) = msg else { return Ok(()) };
        let info = msg.map_err(|e| Error::infra(format!("failed to build {tag}")).cause(e))?;
        if let Some(err) = info.error {
            return Err(Error::infra(format!("failed to build {tag}")).cause_text(err));
        }
        let Some(s) = info.stream else { continue };
        let s = s.trim();
        if s.is_empty() {
            continue;
        }
        last = s.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").chars().take(100).collect();
        if s.starts_with("Step ") {
            say(&format!("  {last}"));
            tick.reset();
        }
    }
}
