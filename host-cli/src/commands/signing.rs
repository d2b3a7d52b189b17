//! `skiff standalone-sign`, `standalone-verify` and `generate-sigstore-key`:
//! signing from local files. The core does the work; the host runs `gpg`,
//! supplies random bytes and asks for a passphrase when there is no file.

use anyhow::{Result, bail};

use super::run_job;
use crate::cli::{
    GenerateSigstoreKeyArgs, GlobalOptions, StandaloneSignArgs, StandaloneVerifyArgs, UntrustedSignatureDumpArgs,
};
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
    run_job(g, wj::Job::StandaloneSign(job))
}

pub fn verify(g: &GlobalOptions, a: StandaloneVerifyArgs) -> Result<()> {
    let job = wj::StandaloneVerifyJob {
        manifest: a.manifest,
        reference: a.reference,
        fingerprints: a.fingerprints,
        signature: a.signature,
        public_key_file: a.public_key_file,
    };
    run_job(g, wj::Job::StandaloneVerify(job))
}

pub fn generate_sigstore_key(g: &GlobalOptions, a: GenerateSigstoreKeyArgs) -> Result<()> {
    let Some(output_prefix) = a.output_prefix.filter(|p| !p.is_empty()) else {
        bail!("Usage: generate-sigstore-key --output-prefix PREFIX");
    };
    let passphrase = match &a.passphrase_file {
        Some(_) => None,
        None => super::prompt_passphrase(&format!("{output_prefix}.private"))?,
    };
    let job = wj::GenerateSigstoreKeyJob { output_prefix, passphrase_file: a.passphrase_file, passphrase };
    run_job(g, wj::Job::GenerateSigstoreKey(job))
}

pub fn untrusted_dump(g: &GlobalOptions, a: UntrustedSignatureDumpArgs) -> Result<()> {
    let job = wj::UntrustedSignatureDumpJob { signature: a.signature };
    run_job(g, wj::Job::UntrustedSignatureDump(job))
}
