//! `untrusted-signature-dump-without-verification SIGNATURE`: what a simple
//! signing signature claims, read WITHOUT verifying it, printed as
//! containers/image's `UntrustedSignatureInformation` (Go's indented JSON;
//! the timestamp in UTC, where skopeo uses the machine's time zone).

use serde::{Deserialize, Serialize};

use super::{openpgp, payload};
use crate::engine::Io;
use crate::error::{Error, Result};
use crate::files::read_local;
use crate::signature::MAX_SIGNATURE_SIZE;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UntrustedSignatureDumpJob {
    pub signature: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Information {
    untrusted_docker_manifest_digest: String,
    untrusted_docker_reference: String,
    #[serde(rename = "UntrustedCreatorID")]
    untrusted_creator_id: Option<String>,
    untrusted_timestamp: Option<String>,
    untrusted_short_key_identifier: String,
}

pub async fn run(io: Io, job: UntrustedSignatureDumpJob) -> Result<Vec<u8>> {
    let blob = read_local(&io, job.signature.clone(), MAX_SIGNATURE_SIZE).await?;
    let decoding = |e: Error| Error::invalid(format!("Error decoding untrusted signature: {}", e.message));
    let (contents, key) = openpgp::untrusted_contents(&blob).map_err(decoding)?;
    let claims = payload::parse(&contents).map_err(decoding)?;
    let timestamp = match claims.timestamp {
        None => None,
        Some(t) => {
            let t = time::OffsetDateTime::from_unix_timestamp(t)
                .map_err(|_| Error::invalid("Error decoding untrusted signature: timestamp out of range"))?;
            Some(t.format(&time::format_description::well_known::Rfc3339).map_err(|e| Error::other(e.to_string()))?)
        }
    };
    crate::go::json::to_indented(&Information {
        untrusted_docker_manifest_digest: claims.docker_manifest_digest.to_string(),
        untrusted_docker_reference: claims.docker_reference,
        untrusted_creator_id: claims.creator,
        untrusted_timestamp: timestamp,
        untrusted_short_key_identifier: key,
    })
}
