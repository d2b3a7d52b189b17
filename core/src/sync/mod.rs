//! `sync`: every image of a source (a registry repository, a tree of `dir:`
//! images, a YAML file, an OCI layout) copied to a destination named as
//! skopeo names it. [`sources`] finds the images, [`plan`] names their
//! destinations and splits them into shards, [`report`] keeps the outcome;
//! this file runs the copies, several images at once, each through
//! [`crate::copy::copy_image`] so an image already at the destination costs
//! a manifest check and nothing more. Progress lines are skopeo's logrus
//! lines; the per-blob lines of each copy are left out (they would
//! interleave).

mod plan;
mod report;
mod semver;
mod sources;
mod yaml;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap};

use serde::Deserialize;

use crate::config::Environment;
use crate::config::policy_file::{self, PolicyOptions};
use crate::copy::{self, CompressionPolicy, CopySettings, Images, ManifestFormat};
use crate::engine::{Io, Request, join_bounded};
use crate::error::{Error, ErrorKind, Result};
use crate::go::logrus::{self, Level};
use crate::platform::WantedPlatform;
use crate::policy;
use crate::reference::ImageReference;
use crate::registry::RegistryClient;
use crate::transport::{SideOptions, fs_error, resolve_registry};
use plan::{Entry, Naming, PlanFile, PlanItem, Shard};
use report::{Outcome, Status, Summary};

/// Images copied at once unless `--parallel-images` says otherwise: enough
/// to hide each image's round trips, few enough for a busy registry (each
/// copies up to `--image-parallel-copies` blobs at once).
pub const DEFAULT_PARALLEL_IMAGES: usize = 4;

/// `--src`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    Docker,
    Dir,
    Yaml,
    Oci,
}

/// `--dest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DestKind {
    Docker,
    Dir,
    Oci,
}

/// `skopeo sync --src KIND --dest KIND SOURCE DESTINATION`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncJob {
    pub source: String,
    pub destination: String,
    pub source_kind: SourceKind,
    pub destination_kind: DestKind,
    #[serde(default)]
    pub src: SideOptions,
    #[serde(default)]
    pub dest: SideOptions,
    #[serde(default)]
    pub policy: PolicyOptions,
    #[serde(default)]
    pub registries_d: Option<String>,
    #[serde(default)]
    pub platform: WantedPlatform,
    /// `-a/--all`: whole lists.
    #[serde(default)]
    pub all: bool,
    /// `--scoped`: the destination keeps the source's whole path.
    #[serde(default)]
    pub scoped: bool,
    #[serde(default)]
    pub append_suffix: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub keep_going: bool,
    #[serde(default)]
    pub preserve_digests: bool,
    #[serde(default)]
    pub digestfile: Option<String>,
    #[serde(default)]
    pub format: Option<ManifestFormat>,
    #[serde(default)]
    pub remove_signatures: bool,
    #[serde(default)]
    pub image_parallel_copies: Option<u32>,
    /// `--parallel-images`: images copied at once.
    #[serde(default)]
    pub parallel_images: Option<u32>,
    /// `--skip-existing`: a destination tag that exists is taken as up to date.
    #[serde(default)]
    pub skip_existing: bool,
    /// `--report FILE`: the outcome of every image, as JSON.
    #[serde(default)]
    pub report: Option<String>,
    /// `--plan FILE`: write what would be copied, copy nothing.
    #[serde(default)]
    pub plan: Option<String>,
    /// `--shard I/N`.
    #[serde(default)]
    pub shard: Option<String>,
}

/// skopeo's logrus lines, stamped with the host's clock.
pub struct Log {
    io: Io,
}

impl Log {
    pub fn line(&self, level: Level, msg: &str, fields: &[(&str, &str)]) {
        self.io.log(logrus::line(self.io.now_ms(), level, msg, fields));
    }
}

pub async fn run(io: Io, job: SyncJob, env: Environment) -> Result<Vec<u8>> {
    if job.source_kind == SourceKind::Dir && job.destination_kind == DestKind::Dir {
        return Err(Error::invalid("sync from 'dir' to 'dir' not implemented, consider using rsync instead"));
    }
    let shard = job.shard.as_deref().map(Shard::parse).transpose()?;
    let log = Log { io: io.clone() };
    let policy = policy_file::read(&io, &env, &job.policy).await?;
    let settings = CopySettings {
        mode: CopySettings::multi_arch(job.all, None)?,
        platform: env.platform(&job.platform),
        parallel: CopySettings::parallel(job.image_parallel_copies),
        format: job.format.map(ManifestFormat::kind),
        preserve_digests: job.preserve_digests,
        compression: CompressionPolicy::default(),
        remove_signatures: job.remove_signatures,
        additional_tags: Vec::new(),
        registries_d: job.registries_d.clone(),
    };

    let groups = sources::resolve(&io, &env, &log, job.source_kind, &job.source, &job.src).await?;
    let naming = Naming {
        kind: job.destination_kind,
        destination: &job.destination,
        scoped: job.scoped,
        append_suffix: job.append_suffix.as_deref().unwrap_or(""),
    };
    let mut entries = plan::entries(&groups, &naming)?;
    if let Some(s) = shard {
        entries.retain(|e| s.owns(e));
    }
    if let Some(path) = &job.plan {
        let file = PlanFile { images: entries.iter().map(PlanItem::of).collect() };
        let data = serde_json::to_vec_pretty(&file).map_err(|e| Error::other(e.to_string()))?;
        io.fs(Request::WriteFile { path: path.clone(), data }).await.map_err(fs_error(format!("writing {path}")))?;
        return Ok(Vec::new());
    }

    if job.dry_run {
        log.line(Level::Warning, "Running in dry-run mode", &[]);
        let checks = entries.iter().map(|e| check_source(&io, &env, &groups[e.group].side, e));
        let found = join_bounded(checks.collect(), DEFAULT_PARALLEL_IMAGES * 2).await;
        let mut missing = 0;
        for (e, found) in entries.iter().zip(found) {
            let fields = [("from", e.source_name.as_str()), ("to", e.destination_name.as_str())];
            let (i, n) = e.counter;
            match found {
                Ok(()) => log.line(Level::Info, &format!("Would have copied image ref {i}/{n}"), &fields),
                Err(err) => {
                    missing += 1;
                    log.line(
                        Level::Error,
                        &format!("Source image ref {i}/{n} cannot be read: {}", err.message),
                        &fields,
                    );
                }
            }
        }
        log.line(
            Level::Info,
            &format!("Would have synced {} images from {} sources", entries.len() - missing, groups.len()),
            &[],
        );
        if missing > 0 {
            return Err(Error::not_found(format!("{missing} source images of the sync cannot be read")));
        }
        return Ok(Vec::new());
    }

    io.mute_notes();
    let started = io.now_ms();
    let stop = Cell::new(false);
    let sides: RefCell<HashMap<String, SideOptions>> = RefCell::default();
    let tag_lists: RefCell<HashMap<String, BTreeSet<String>>> = RefCell::default();
    let first_error: RefCell<Option<Error>> = RefCell::new(None);
    let copies = entries.iter().map(|e| {
        let (io, env, log, settings, policy, stop, first_error) =
            (&io, &env, &log, &settings, &policy, &stop, &first_error);
        let sides = &sides;
        let side = &groups[e.group].side;
        let dest = &job.dest;
        let keep_going = job.keep_going;
        let skip_existing = job.skip_existing;
        let tag_lists = &tag_lists;
        let retry = (dest.registry.retry_times, dest.registry.retry_delay_ms);
        async move {
            if stop.get() {
                return Outcome::not_started(e);
            }
            let fields = [("from", e.source_name.as_str()), ("to", e.destination_name.as_str())];
            log.line(Level::Info, &format!("Copying image ref {}/{}", e.counter.0, e.counter.1), &fields);
            if skip_existing && exists_at_destination(io, env, sides, tag_lists, dest, e, settings).await {
                log.line(Level::Info, "Skipping: the destination has this tag (--skip-existing)", &fields);
                return Outcome::present(e);
            }
            let images =
                Images { source: &e.source, destination: &e.destination, destination_name: &e.destination_name };
            let mut tries = 0;
            let result = loop {
                let r = async {
                    policy::check(policy, &e.source, &e.source_name)?;
                    let src_key = format!("src {} {}", e.group, repository_of(&e.source));
                    let src = resolved(io, env, sides, src_key, side, &e.source, settings).await?;
                    let dest_key = format!("dest {}", repository_of(&e.destination));
                    let dst = resolved(io, env, sides, dest_key, dest, &e.destination, settings).await?;
                    copy::copy_image(io, env, settings, images, src, dst).await
                }
                .await;
                // skopeo's --retry-times wraps each image's copy too.
                match r {
                    Err(err) if tries < retry.0 && worth_retrying(&err) => {
                        io.sleep(retry.1.unwrap_or(1000u64 << tries.min(6))).await;
                        tries += 1;
                    }
                    r => break r,
                }
            };
            match result {
                Ok(c) => Outcome::copied(e, c),
                Err(err) => {
                    if keep_going {
                        log.line(
                            Level::Error,
                            &format!("Error copying ref {:?}", e.source_name),
                            &[("error", err.message.as_str())],
                        );
                    } else {
                        stop.set(true);
                        let mut first = first_error.borrow_mut();
                        if first.is_none() {
                            *first = Some(err.clone().context(format!("Error copying ref {:?}", e.source_name)));
                        }
                    }
                    Outcome::failed(e, err)
                }
            }
        }
    });
    let parallel = job.parallel_images.filter(|&n| n > 0).map_or(DEFAULT_PARALLEL_IMAGES, |n| n as usize);
    let outcomes = join_bounded(copies.collect(), parallel).await;
    let summary = Summary::of(&outcomes, io.now_ms().saturating_sub(started));

    if let Some(path) = &job.digestfile {
        let lines: String =
            outcomes.iter().filter_map(|o| o.digest.as_ref().map(|d| format!("{d} {}\n", o.destination))).collect();
        io.fs(Request::WriteFile { path: path.clone(), data: lines.into_bytes() }).await.map_err(|e| {
            Error::new(ErrorKind::Io, format!("Failed to write digest to file {path:?}: {}", e.message))
        })?;
    }
    if let Some(path) = &job.report {
        let data = report::json(&outcomes, &summary)?;
        io.fs(Request::WriteFile { path: path.clone(), data }).await.map_err(fs_error(format!("writing {path}")))?;
    }
    if let Some(e) = first_error.into_inner() {
        return Err(e);
    }
    summary.log(&log);
    let synced = outcomes.iter().filter(|o| o.status != Status::Failed && o.status != Status::NotStarted).count();
    log.line(Level::Info, &format!("Synced {synced} images from {} sources", groups.len()), &[]);
    if summary.failed > 0 {
        return Err(Error::other("Sync failed due to previous reported error(s) for one or more images"));
    }
    Ok(Vec::new())
}

/// What access options are found for: a registry repository (its tags
/// share them), or the local path.
fn repository_of(r: &ImageReference) -> String {
    match r {
        ImageReference::Docker(d) => d.name(),
        ImageReference::Dir { path } => format!("dir:{path}"),
        ImageReference::Oci(l) => format!("oci:{}", l.path),
        other => other.transport_name().to_owned(),
    }
}

/// `side` resolved for `image`, once per `key` (the repository) for the
/// whole sync: the auth files, certs.d, registries.conf and registries.d
/// are read for the first image of a repository only.
async fn resolved(
    io: &Io,
    env: &Environment,
    memo: &RefCell<HashMap<String, SideOptions>>,
    key: String,
    side: &SideOptions,
    image: &ImageReference,
    settings: &CopySettings,
) -> Result<SideOptions> {
    // Mirrors may serve digests only: a tag and a digest resolve apart.
    let by_digest = image.docker_reference().is_some_and(|d| d.digest.is_some());
    let key = format!("{key} {by_digest}");
    let _turn = io.lock(format!("resolve {key}")).await;
    if let Some(s) = memo.borrow().get(&key) {
        let mut s = s.clone();
        s.retarget(image);
        return Ok(s);
    }
    let mut s = side.clone();
    copy::resolve_side(io, env, &mut s, image, settings.registries_d.as_deref()).await?;
    memo.borrow_mut().insert(key, s.clone());
    Ok(s)
}

/// `--skip-existing`: whether the destination has the image's name already
/// (a registry's tag, listed once per repository; a `dir:` manifest; a
/// layout's ref name), whatever it holds there.
async fn exists_at_destination(
    io: &Io,
    env: &Environment,
    sides: &RefCell<HashMap<String, SideOptions>>,
    tag_lists: &RefCell<HashMap<String, BTreeSet<String>>>,
    dest: &SideOptions,
    e: &Entry,
    settings: &CopySettings,
) -> bool {
    match &e.destination {
        ImageReference::Docker(d) => {
            let repo = d.name();
            let Ok(side) = resolved(io, env, sides, format!("dest {repo}"), dest, &e.destination, settings).await
            else {
                return false;
            };
            let Ok(client) = RegistryClient::new(io.clone(), &d.registry, side.registry) else { return false };
            if let Some(digest) = &d.digest {
                return client.manifest_digest_at(&d.repository, &digest.to_string()).await.is_some();
            }
            let _turn = io.lock(format!("tags {repo}")).await;
            if !tag_lists.borrow().contains_key(&repo) {
                // A repository that is not there yet has no tags.
                let tags = client.list_tags(&d.repository).await.unwrap_or_default();
                tag_lists.borrow_mut().insert(repo.clone(), tags.into_iter().collect());
            }
            d.tag.as_ref().is_some_and(|t| tag_lists.borrow()[&repo].contains(t))
        }
        ImageReference::Dir { path } => io
            .stat(crate::transport::join(path, "manifest.json"))
            .await
            .is_ok_and(|i| i.kind == crate::engine::FileKind::Regular),
        ImageReference::Oci(l) => {
            let index =
                io.read_file(crate::transport::join(&l.path, "index.json"), crate::manifest::MAX_MANIFEST_SIZE).await;
            let Ok(v) = index.map(|b| serde_json::from_slice::<serde_json::Value>(&b).unwrap_or_default()) else {
                return false;
            };
            v["manifests"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|m| m["annotations"]["org.opencontainers.image.ref.name"].as_str() == l.ref_name.as_deref())
        }
        _ => false,
    }
}

/// Whether a failed image copy may go better a second time: network and
/// registry trouble, not a bad reference, a missing image or wrong bytes.
fn worth_retrying(e: &Error) -> bool {
    matches!(e.kind, ErrorKind::Io | ErrorKind::Other)
}

/// `--dry-run`: whether the source image can be found (a HEAD for a
/// registry; the listing already found local ones).
async fn check_source(io: &Io, env: &Environment, side: &SideOptions, e: &Entry) -> Result<()> {
    let ImageReference::Docker(d) = &e.source else { return Ok(()) };
    let mut opts = side.registry.clone();
    resolve_registry(io, env, &mut opts, &d.registry, &d.repository).await?;
    let client = RegistryClient::new(io.clone(), &d.registry, opts)?;
    match client.manifest_digest_at(&d.repository, &d.manifest_reference()).await {
        Some(_) => Ok(()),
        None => Err(Error::not_found("the registry has no such manifest")),
    }
}
