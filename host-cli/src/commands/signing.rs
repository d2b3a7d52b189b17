//! `skiff standalone-sign` and `standalone-verify`: simple signing from
//! local files. The core does the work; the host runs `gpg` when asked.

use anyhow::{Result, bail};

use super::{environment, run_job};
use crate::cli::{GlobalOptions, StandaloneSignArgs, StandaloneVerifyArgs};
use crate::runtime::jobs as wj;

pub fn sign(g: &GlobalOptions, a: StandaloneSignArgs) -> Result<()> {
    let Some(output) = a.output else {
        bail!("Usage: skiff standalone-sign manifest docker-reference key-fingerprint -o signature");
    };
    let job = wj::StandaloneSignJob {
        manifest: a.manifest,
        reference: a.reference,
        fingerprint: a.fingerprint,
        output,
        passphrase_file: a.passphrase_file,
    };
    run_job(g, wj::Job::StandaloneSign(job), environment(None))
}

pub fn verify(g: &GlobalOptions, a: StandaloneVerifyArgs) -> Result<()> {
    let job = wj::StandaloneVerifyJob {
        manifest: a.manifest,
        reference: a.reference,
        fingerprints: a.fingerprints,
        signature: a.signature,
        public_key_file: a.public_key_file,
    };
    run_job(g, wj::Job::StandaloneVerify(job), environment(None))
}
