//! What a sync copies: the images each source names, found as skopeo finds
//! them (a registry's tag list, a tree of `dir:` images, a YAML file), plus
//! every named image of an OCI layout. Each source becomes a [`Group`]
//! with the access options its images are read with.

use regex_lite::Regex;

use super::semver::{Constraint, Version};
use super::yaml::{self, RegistrySync};
use super::{Log, SourceKind};
use crate::config::Environment;
use crate::digest::Digest;
use crate::engine::{FileKind, Io, IoErrorKind};
use crate::error::{Error, Result};
use crate::go::logrus::Level;
use crate::reference::{ArchiveSelector, DockerReference, ImageReference, LayoutReference};
use crate::registry::RegistryClient;
use crate::registry::auth::Credentials;
use crate::transport::{SideOptions, fs_error, join, resolve_registry};

/// The largest sync YAML file read.
const MAX_YAML: u64 = 4 << 20;
/// The largest `index.json` of an OCI layout source read.
const MAX_INDEX: u64 = 4 << 20;

/// One image of a source and the path skopeo names its destination after
/// (the full reference, or the path below the source directory).
#[derive(Debug, Clone)]
pub struct SourceImage {
    pub reference: ImageReference,
    pub suffix: String,
}

/// One source (skopeo's `repoDescriptor`): its images and how to read them.
#[derive(Debug, Clone)]
pub struct Group {
    pub images: Vec<SourceImage>,
    pub side: SideOptions,
}

/// `transports.ImageName`: how skopeo names an image in its messages.
pub fn image_name(r: &ImageReference) -> String {
    match r {
        ImageReference::Docker(d) => format!("docker://{}", d.familiar()),
        ImageReference::Dir { path } => format!("dir:{path}"),
        ImageReference::Oci(l) => match &l.ref_name {
            Some(n) => format!("oci:{}:{n}", l.path),
            None => format!("oci:{}", l.path),
        },
        other => other.transport_name().to_owned(),
    }
}

fn docker_image(d: DockerReference) -> SourceImage {
    SourceImage { suffix: d.to_string(), reference: ImageReference::Docker(d) }
}

/// Every tag of `repo`, each as an image.
async fn repository_images(
    io: &Io,
    env: &Environment,
    log: &Log,
    side: &SideOptions,
    repo: &DockerReference,
) -> Result<Vec<SourceImage>> {
    log.line(Level::Info, "Getting tags", &[("image", &repo.name())]);
    let mut opts = side.registry.clone();
    resolve_registry(io, env, &mut opts, &repo.registry, &repo.repository).await?;
    let client = RegistryClient::new(io.clone(), &repo.registry, opts)?;
    let tags = client
        .list_tags(&repo.repository)
        .await
        .map_err(|e| e.context(format!("Error determining repository tags for repo {}", repo.name())))?;
    let mut images = Vec::new();
    for tag in tags {
        let tagged = format!("{}:{tag}", repo.name());
        match DockerReference::parse_normalized(&tagged) {
            Ok(d) => images.push(docker_image(d)),
            Err(e) => log.line(
                Level::Error,
                &format!("Error creating a tagged reference from registry tag list: {}", e.message),
                &[("repo", &repo.name()), ("tag", &tag)],
            ),
        }
    }
    Ok(images)
}

/// `--src docker`: a repository (every tag) or one image.
async fn docker(io: &Io, env: &Environment, log: &Log, source: &str, side: &SideOptions) -> Result<Vec<Group>> {
    let named = DockerReference::parse_normalized(source).map_err(|e| {
        e.context(format!("Cannot obtain a valid image reference for transport \"docker\" and reference {source:?}"))
    })?;
    let tagged = named.tag.is_some() || named.digest.is_some();
    log.line(
        Level::Info,
        "Tag presence check",
        &[("imagename", source), ("tagged", if tagged { "true" } else { "false" })],
    );
    let images = if tagged {
        vec![docker_image(named)]
    } else {
        let images = repository_images(io, env, log, side, &named).await?;
        if images.is_empty() {
            return Err(Error::not_found(format!("No images to sync found in {source:?}")));
        }
        images
    };
    Ok(vec![Group { images, side: side.clone() }])
}

/// `--src dir`: every directory under `source` holding a `manifest.json`
/// (not looked into further), in the lexical order of Go's `WalkDir`.
async fn dir(io: &Io, source: &str, side: &SideOptions) -> Result<Vec<Group>> {
    let info = io.stat(source.to_owned()).await.map_err(|e| {
        Error::new(crate::error::ErrorKind::NotFound, format!("Invalid source directory specified: {}", e.message))
    })?;
    if info.kind == FileKind::Absent {
        return Err(Error::not_found(format!("Invalid source directory specified: {source} does not exist")));
    }
    let mut images = Vec::new();
    let mut stack = vec![source.to_owned()];
    while let Some(at) = stack.pop() {
        let mut names =
            io.list_dir(at.clone()).await.map_err(fs_error(format!("Error walking the path {source:?}")))?;
        names.sort();
        if names.iter().any(|n| n == "manifest.json") {
            let rel = at.strip_prefix(source).unwrap_or("");
            let suffix = if rel.is_empty() { crate::go::path::base(source) } else { rel.to_owned() };
            images.push(SourceImage { reference: ImageReference::Dir { path: at.clone() }, suffix });
            continue;
        }
        let mut dirs = Vec::new();
        for n in names {
            let path = join(&at, &n);
            let kind = io.stat(path.clone()).await.map_err(fs_error(format!("Error walking the path {source:?}")))?;
            if kind.kind == FileKind::Directory {
                dirs.push(path);
            }
        }
        // Depth first, in order: the stack pops the first name next.
        stack.extend(dirs.into_iter().rev());
    }
    if images.is_empty() {
        return Err(Error::not_found(format!("No images to sync found in {source:?}")));
    }
    Ok(vec![Group { images, side: side.clone() }])
}

/// `--src oci`: every image of an OCI layout named by
/// `org.opencontainers.image.ref.name`, its destination named after it.
async fn oci(io: &Io, log: &Log, source: &str, side: &SideOptions) -> Result<Vec<Group>> {
    let path = join(source, "index.json");
    let bytes = io.read_file(path.clone(), MAX_INDEX).await.map_err(|e| match e.kind {
        IoErrorKind::NotFound => Error::not_found(format!("{source} is not an OCI layout: it has no index.json")),
        _ => fs_error(format!("reading {path}"))(e),
    })?;
    let index: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| Error::invalid(format!("{path} is not valid JSON: {e}")))?;
    let mut images = Vec::new();
    for m in index["manifests"].as_array().into_iter().flatten() {
        let Some(name) = m["annotations"]["org.opencontainers.image.ref.name"].as_str() else {
            let digest = m["digest"].as_str().unwrap_or("");
            log.line(Level::Warning, "Skipping an image without a name", &[("digest", digest), ("layout", source)]);
            continue;
        };
        let reference = ImageReference::Oci(LayoutReference {
            path: source.to_owned(),
            ref_name: Some(name.to_owned()),
            selector: ArchiveSelector::Only,
        });
        images.push(SourceImage { reference, suffix: name.to_owned() });
    }
    if images.is_empty() {
        return Err(Error::not_found(format!("No images to sync found in {source:?}")));
    }
    Ok(vec![Group { images, side: side.clone() }])
}

/// A repository named in the YAML, refused if it has a tag or digest.
fn repository(registry: &str, name: &str) -> Result<DockerReference> {
    let r = DockerReference::parse_normalized(&format!("{registry}/{name}"))?;
    if r.tag.is_some() || r.digest.is_some() {
        return Err(Error::invalid("input names a reference, not a repository"));
    }
    Ok(r)
}

/// One registry's access: the command line's, with the file's overrides.
fn registry_side(cli: &SideOptions, cfg: &RegistrySync) -> SideOptions {
    let mut side = cli.clone();
    side.registry.cert_dir = cfg.cert_dir.clone();
    if let Some(verify) = cfg.tls_verify {
        side.registry.tls_verify = Some(verify);
    }
    if cfg.credentials != yaml::YamlCredentials::default() {
        side.registry.credentials = Some(Credentials {
            username: cfg.credentials.username.clone(),
            password: cfg.credentials.password.clone(),
        });
    }
    side
}

/// A tag filter of `images-by-tag-regex` or `images-by-semver`.
enum Filter {
    Regex(Regex),
    Semver(Constraint),
}

impl Filter {
    fn keeps(&self, image: &SourceImage) -> bool {
        let Some(tag) = image.reference.docker_reference().and_then(|d| d.tag.as_deref()) else { return false };
        match self {
            Filter::Regex(r) => r.is_match(tag),
            Filter::Semver(c) => Version::parse(tag).is_some_and(|v| c.matches(&v)),
        }
    }
}

/// The images of one YAML registry entry: listed refs, then every tag
/// matching a regex, then every tag matching a semver constraint. A bad
/// repository or ref is logged and skipped, as skopeo does.
async fn yaml_registry(
    io: &Io,
    env: &Environment,
    log: &Log,
    registry: &str,
    cfg: &RegistrySync,
    cli: &SideOptions,
) -> Result<Vec<Group>> {
    let side = registry_side(cli, cfg);
    let mut groups = Vec::new();
    if cfg.images.0.is_empty() && cfg.images_by_tag_regex.0.is_empty() && cfg.images_by_semver.0.is_empty() {
        log.line(Level::Warning, "No images specified for registry", &[("registry", registry)]);
        return Ok(groups);
    }
    for (name, refs) in &cfg.images.0 {
        let fields = [("registry", registry), ("repo", name.as_str())];
        let repo = match repository(registry, name) {
            Ok(r) => r,
            Err(e) => {
                log.line(Level::Error, "Error parsing repository name, skipping", &fields);
                log.line(Level::Error, &e.message, &[]);
                continue;
            }
        };
        log.line(Level::Info, "Processing repo", &fields);
        let images = if refs.0.is_empty() {
            log.line(Level::Info, "Querying registry for image tags", &fields);
            match repository_images(io, env, log, &side, &repo).await {
                Ok(i) => i,
                Err(e) => {
                    log.line(Level::Error, "Error processing repo, skipping", &fields);
                    log.line(Level::Error, &e.message, &[]);
                    continue;
                }
            }
        } else {
            let mut images = Vec::new();
            for r in &refs.0 {
                let named = match Digest::parse(r) {
                    Ok(d) => DockerReference { digest: Some(d), ..repo.clone() },
                    Err(_) => match DockerReference::parse_normalized(&format!("{}:{r}", repo.name())) {
                        Ok(t) if t.name() == repo.name() && t.digest.is_none() => t,
                        _ => {
                            log.line(Level::Error, "Error parsing ref, skipping", &[("ref", r.as_str())]);
                            continue;
                        }
                    },
                };
                images.push(docker_image(named));
            }
            images
        };
        if images.is_empty() {
            log.line(Level::Warning, "No refs to sync found", &fields);
            continue;
        }
        groups.push(Group { images, side: side.clone() });
    }
    let mut filters = Vec::new();
    for (name, pattern) in &cfg.images_by_tag_regex.0 {
        match Regex::new(pattern) {
            Ok(r) => filters.push((name, Filter::Regex(r))),
            Err(e) => {
                log.line(Level::Error, &format!("invalid tag regex {pattern:?}: {e}"), &[("repo", name.as_str())])
            }
        }
    }
    for (name, constraint) in &cfg.images_by_semver.0 {
        match Constraint::parse(constraint) {
            Ok(c) => filters.push((name, Filter::Semver(c))),
            Err(e) => log.line(Level::Error, &e.message, &[("repo", name.as_str())]),
        }
    }
    for (name, filter) in filters {
        let fields = [("registry", registry), ("repo", name.as_str())];
        let Ok(repo) = repository(registry, name) else {
            log.line(Level::Error, "Error parsing repository name, skipping", &fields);
            continue;
        };
        log.line(Level::Info, "Processing repo", &fields);
        log.line(Level::Info, "Querying registry for image tags", &fields);
        let images = match repository_images(io, env, log, &side, &repo).await {
            Ok(i) => i,
            Err(e) => {
                log.line(Level::Error, "Error processing repo, skipping", &fields);
                log.line(Level::Error, &e.message, &[]);
                continue;
            }
        };
        let kept: Vec<SourceImage> = images.into_iter().filter(|i| filter.keeps(i)).collect();
        if kept.is_empty() {
            log.line(Level::Warning, "No refs to sync found", &fields);
            continue;
        }
        groups.push(Group { images: kept, side: side.clone() });
    }
    Ok(groups)
}

/// `--src yaml`.
async fn yaml_file(io: &Io, env: &Environment, log: &Log, path: &str, side: &SideOptions) -> Result<Vec<Group>> {
    let text = io.read_file(path.to_owned(), MAX_YAML).await.map_err(fs_error(format!("reading {path}")))?;
    let text = String::from_utf8(text).map_err(|_| Error::invalid(format!("{path} is not UTF-8 text")))?;
    let cfg = yaml::parse(path, &text)?;
    let mut groups = Vec::new();
    for (registry, entry) in &cfg.0 {
        let found = yaml_registry(io, env, log, registry, entry, side)
            .await
            .map_err(|e| e.context(format!("Failed to retrieve list of images from registry {registry:?}")))?;
        groups.extend(found);
    }
    Ok(groups)
}

/// Every image `source` names, grouped by source.
pub async fn resolve(
    io: &Io,
    env: &Environment,
    log: &Log,
    kind: SourceKind,
    source: &str,
    side: &SideOptions,
) -> Result<Vec<Group>> {
    match kind {
        SourceKind::Docker => docker(io, env, log, source, side).await,
        SourceKind::Dir => dir(io, source, side).await,
        SourceKind::Yaml => yaml_file(io, env, log, source, side).await,
        SourceKind::Oci => oci(io, log, source, side).await,
    }
}
