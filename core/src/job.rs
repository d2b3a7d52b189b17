//! What a host asks the core to do: one record per command (wit `job`),
//! each owned by its command's module; this module only dispatches. The
//! same records read from JSON (for skiff-js and tests) refuse unknown
//! fields, so a misspelt option is an error and never silently ignored.

use serde::Deserialize;

use crate::config::Environment;
use crate::engine::{Io, Operation};
use crate::error::{Error, Result};
use crate::manifest::MAX_MANIFEST_SIZE;
#[cfg(feature = "image-proxy")]
use crate::proxy;
use crate::signing::standalone::{self, StandaloneSignJob, StandaloneVerifyJob};
use crate::signing::{dump, generate_key};
use crate::{copy, delete, inspect, layers, list_tags, login, sync};

// A job is parsed once per command; its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
pub enum Job {
    Inspect(inspect::InspectJob),
    ListTags(list_tags::ListTagsJob),
    Delete(delete::DeleteJob),
    Copy(copy::CopyJob),
    ManifestDigest(ManifestDigestJob),
    Login(login::LoginJob),
    Logout(login::LogoutJob),
    Sync(sync::SyncJob),
    StandaloneSign(StandaloneSignJob),
    StandaloneVerify(StandaloneVerifyJob),
    GenerateSigstoreKey(generate_key::GenerateSigstoreKeyJob),
    UntrustedSignatureDump(dump::UntrustedSignatureDumpJob),
    Layers(layers::LayersJob),
    #[cfg(feature = "image-proxy")]
    ImageProxy(proxy::ImageProxyJob),
}

/// `skopeo manifest-digest FILE`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestDigestJob {
    pub path: String,
}

impl Job {
    /// A job from its JSON form (`{"command": "inspect", …}`).
    pub fn from_json(json: &str) -> Result<Job> {
        serde_json::from_str(json).map_err(|e| Error::invalid(format!("invalid job: {e}")))
    }

    /// Starts the command.
    pub fn start(self, env: Environment) -> Operation {
        crate::files::set_pid(env.pid);
        match self {
            Job::Inspect(j) => Operation::start(move |io| inspect::run(io, j, env)),
            Job::ListTags(j) => Operation::start(move |io| list_tags::run(io, j, env)),
            Job::Delete(j) => Operation::start(move |io| delete::run(io, j, env)),
            Job::Copy(j) => Operation::start(move |io| copy::run(io, j, env)),
            Job::ManifestDigest(j) => Operation::start(move |io| manifest_digest(io, j)),
            Job::Login(j) => Operation::start(move |io| login::login(io, j, env)),
            Job::Logout(j) => Operation::start(move |io| login::logout(io, j, env)),
            Job::Sync(j) => Operation::start(move |io| sync::run(io, j, env)),
            Job::StandaloneSign(j) => Operation::start(move |io| standalone::sign(io, j)),
            Job::StandaloneVerify(j) => Operation::start(move |io| standalone::verify(io, j)),
            Job::GenerateSigstoreKey(j) => Operation::start(move |io| generate_key::run(io, j)),
            Job::UntrustedSignatureDump(j) => Operation::start(move |io| dump::run(io, j)),
            Job::Layers(j) => Operation::start(move |io| layers::run(io, j, env)),
            #[cfg(feature = "image-proxy")]
            Job::ImageProxy(j) => Operation::start(move |io| proxy::run(io, j, env)),
        }
    }

    /// Starts the command a JSON job describes; a malformed one fails at the first poll.
    pub fn start_json(json: &str, env: Environment) -> Operation {
        match Job::from_json(json) {
            Ok(job) => job.start(env),
            Err(e) => Operation::failed(e),
        }
    }
}

/// Reads the file and prints its digest, as skopeo does.
async fn manifest_digest(io: Io, job: ManifestDigestJob) -> Result<Vec<u8>> {
    let bytes = io
        .read_file(job.path.clone(), MAX_MANIFEST_SIZE)
        .await
        .map_err(|e| Error::invalid(format!("Error reading manifest from {}: {}", job.path, e.message)))?;
    let digest = crate::manifest::manifest_digest(&bytes).map_err(|e| e.context("Error computing digest"))?;
    Ok(format!("{digest}\n").into_bytes())
}
