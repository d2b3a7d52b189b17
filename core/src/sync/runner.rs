//! Copying the planned images, several at once, each through
//! [`crate::copy::copy_image`] (so one already at the destination costs a
//! manifest check and nothing more), with what they share found once: the
//! access options of each repository, the destination's tag lists (one
//! per repository that receives several images, instead of a check per
//! image and blob).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use super::Log;
use super::plan::Entry;
use super::report::{Outcome, Status};
use super::sources::Group;
use crate::config::Environment;
use crate::copy::{self, CopySettings, Images, SignWith, Signers};
use crate::engine::{FileKind, Io, PartOutcome, Progress, join_bounded};
use crate::error::{Error, ErrorKind, Result};
use crate::go::logrus::Level;
use crate::policy::{self, PolicyInput};
use crate::reference::ImageReference;
use crate::registry::{RegistryClient, Surveyed};
use crate::transport::{SideOptions, join};

/// What the copies of one sync share.
pub(super) struct Runner<'a> {
    pub io: &'a Io,
    pub env: &'a Environment,
    pub log: &'a Log,
    pub settings: &'a CopySettings,
    pub policy: &'a PolicyInput,
    pub groups: &'a [Group],
    pub dest: &'a SideOptions,
    pub keep_going: bool,
    pub skip_existing: bool,
    /// `--sign-by` and its passphrase file.
    /// `--sign-by*`, set up once for the whole sync.
    pub signers: Option<&'a Signers>,
    pub state: State,
}

/// What the copies learn as they go.
#[derive(Default)]
pub(super) struct State {
    /// Set by the first failure without `--keep-going`: no more copies start.
    stop: Cell<bool>,
    pub first_error: RefCell<Option<Error>>,
    /// Access options by repository (see [`Runner::resolved`]).
    sides: RefCell<HashMap<String, SideOptions>>,
    /// How many planned images go into each destination repository.
    planned: RefCell<HashMap<String, usize>>,
}

impl Runner<'_> {
    /// Copies `entries`, `parallel` at once; their outcomes in plan order.
    pub async fn run(&self, entries: &[Entry], parallel: usize) -> Vec<Outcome> {
        for e in entries {
            *self.state.planned.borrow_mut().entry(repository_of(&e.destination)).or_default() += 1;
        }
        self.io.progress(Progress::Total(u32::try_from(entries.len()).unwrap_or(u32::MAX)));
        let parts = entries.iter().enumerate().map(|(i, e)| self.part(u32::try_from(i).unwrap_or(u32::MAX), e));
        join_bounded(parts, parallel).await
    }

    /// One image, told to the host as part `index`.
    async fn part(&self, index: u32, e: &Entry) -> Outcome {
        if self.state.stop.get() {
            return Outcome::not_started(e);
        }
        self.io.progress(Progress::Started { index, label: e.destination_name.clone() });
        let outcome = self.copy_one(e).await;
        let ended = match outcome.status {
            Status::Copied => PartOutcome::Copied,
            Status::Skipped => PartOutcome::Skipped,
            Status::Failed | Status::NotStarted => PartOutcome::Failed,
        };
        self.io.progress(Progress::Finished { index, outcome: ended });
        outcome
    }

    async fn copy_one(&self, e: &Entry) -> Outcome {
        let fields = [("from", e.source_name.as_str()), ("to", e.destination_name.as_str())];
        self.log.line(Level::Info, &format!("Copying image ref {}/{}", e.counter.0, e.counter.1), &fields);
        if self.skip_existing && self.exists_at_destination(e).await {
            self.log.line(Level::Info, "Skipping: the destination has this tag (--skip-existing)", &fields);
            return Outcome::present(e);
        }
        let (times, delay) = (self.dest.registry.retry_times, self.dest.registry.retry_delay_ms);
        let mut tries = 0;
        let result = loop {
            match self.attempt(e).await {
                // skopeo's --retry-times wraps each image's copy too.
                Err(err) if tries < times && worth_retrying(&err) => {
                    self.io.sleep(delay.unwrap_or(1000u64 << tries.min(6))).await;
                    tries += 1;
                }
                r => break r,
            }
        };
        match result {
            Ok(c) => Outcome::copied(e, c),
            Err(err) => {
                if self.keep_going {
                    let msg = format!("Error copying ref {:?}", e.source_name);
                    self.log.line(Level::Error, &msg, &[("error", err.message.as_str())]);
                } else {
                    self.state.stop.set(true);
                    let mut first = self.state.first_error.borrow_mut();
                    if first.is_none() {
                        *first = Some(err.clone().context(format!("Error copying ref {:?}", e.source_name)));
                    }
                }
                Outcome::failed(e, err)
            }
        }
    }

    async fn attempt(&self, e: &Entry) -> Result<copy::Copied> {
        let signed_by = policy::check(self.policy, &e.source, &e.source_name)?;
        let source_side = &self.groups[e.group].side;
        let src =
            self.resolved(format!("src {} {}", e.group, repository_of(&e.source)), source_side, &e.source).await?;
        let dst = self.resolved(format!("dest {}", repository_of(&e.destination)), self.dest, &e.destination).await?;
        if self.state.planned.borrow().get(&repository_of(&e.destination)).is_some_and(|n| *n > 1) {
            self.survey(e).await;
        }
        let sign = match self.signers {
            Some(signers) => Some(SignWith::new(signers, None, &e.destination, &e.destination_name)?),
            None => None,
        };
        let images = Images {
            source: &e.source,
            destination: &e.destination,
            destination_name: &e.destination_name,
            signed_by: &signed_by,
            sign: sign.as_ref(),
        };
        copy::copy_image(self.io, self.env, self.settings, images, src, dst).await
    }

    /// `side` resolved for `image`, once per `key` (its repository) for the
    /// whole sync: the auth files, certs.d, registries.conf and registries.d
    /// are read for the first image of a repository only.
    async fn resolved(&self, key: String, side: &SideOptions, image: &ImageReference) -> Result<SideOptions> {
        // Mirrors may serve digests only: a tag and a digest resolve apart.
        let by_digest = image.docker_reference().is_some_and(|d| d.digest.is_some());
        let key = format!("{key} {by_digest}");
        let _turn = self.io.lock(format!("resolve {key}")).await;
        if let Some(s) = self.state.sides.borrow().get(&key) {
            let mut s = s.clone();
            s.retarget(image);
            return Ok(s);
        }
        let mut s = side.clone();
        copy::resolve_side(self.io, self.env, &mut s, image, self.settings.registries_d.as_deref()).await?;
        self.state.sides.borrow_mut().insert(key, s.clone());
        Ok(s)
    }

    /// The destination registry repository's tags, listed once for the
    /// whole sync (see [`crate::registry::client::survey`]): the copies
    /// into it then skip the checks the list already answers. `None` for
    /// other destinations.
    async fn survey(&self, e: &Entry) -> Option<(RegistryClient, Surveyed)> {
        let ImageReference::Docker(d) = &e.destination else { return None };
        let side = self.resolved(format!("dest {}", d.name()), self.dest, &e.destination).await.ok()?;
        let client = RegistryClient::new(self.io.clone(), &d.registry, side.registry).ok()?;
        let surveyed = client.survey(&d.repository).await;
        Some((client, surveyed))
    }

    /// `--skip-existing`: whether the destination has the image's name
    /// already (a registry's tag, listed once per repository; a `dir:`
    /// manifest; a layout's ref name), whatever it holds there.
    async fn exists_at_destination(&self, e: &Entry) -> bool {
        match &e.destination {
            ImageReference::Docker(d) => {
                let Some((client, surveyed)) = self.survey(e).await else { return false };
                if let Some(digest) = &d.digest {
                    return client.manifest_digest_at(&d.repository, &digest.to_string()).await.is_some();
                }
                matches!(surveyed, Surveyed::Tags(tags) if d.tag.as_ref().is_some_and(|t| tags.contains(t)))
            }
            ImageReference::Dir { path } => {
                self.io.stat(join(path, "manifest.json")).await.is_ok_and(|i| i.kind == FileKind::Regular)
            }
            ImageReference::Oci(l) => {
                let index = self.io.read_file(join(&l.path, "index.json"), crate::manifest::MAX_MANIFEST_SIZE).await;
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

/// Whether a failed image copy may go better a second time: network and
/// registry trouble, not a bad reference, a missing image or wrong bytes.
fn worth_retrying(e: &Error) -> bool {
    matches!(e.kind, ErrorKind::Io | ErrorKind::Other)
}
