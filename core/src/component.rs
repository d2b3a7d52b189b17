//! The WASI component's exports (wit/skiff.wit), a thin mapping from the
//! generated types onto the core's own: jobs in, actions out, replies in.

// The generated bindings and `export!` are unsafe glue by nature; nothing else here is.
#![allow(unsafe_code)]

wit_bindgen::generate!({
    path: "../wit",
    world: "core",
});

use exports::skiff::core::engine::{Guest, GuestOperation};
use skiff::core::jobs as wj;
use skiff::core::types as wit;

use crate::compression::{Compression, CompressionFormat};
use crate::config::Environment;
use crate::config::policy_file::PolicyOptions;
use crate::copy::{CopyJob, ManifestFormat, MultiArch};
use crate::delete::DeleteJob;
use crate::digest::Algorithm;
use crate::engine::{
    self, Action, BlobSink, BlobSource, ClientIdentity, FileInfo, FileKind, HttpRequest, HttpResponse, IoError,
    IoErrorKind, PartOutcome, Progress, Reply, Request, StreamPiece, TlsConfig,
};
use crate::error::{Error, ErrorKind};
use crate::inspect::InspectJob;
use crate::job::{Job, ManifestDigestJob};
use crate::list_tags::ListTagsJob;
use crate::login::{LoginJob, LogoutJob};
use crate::platform::WantedPlatform;
use crate::registry::RegistryOptions;
use crate::registry::auth::Credentials;
use crate::signing::generate_key::GenerateSigstoreKeyJob;
use crate::signing::standalone::{StandaloneSignJob, StandaloneVerifyJob};
use crate::sync::{DestKind, SourceKind, SyncJob};
use crate::transport::SideOptions;

struct Component;

export!(Component);

impl Guest for Component {
    type Operation = OperationResource;

    fn parse_reference(reference: String) -> Result<String, wit::Failure> {
        let r = crate::reference::ImageReference::parse(&reference).map_err(failure)?;
        serde_json::to_string(&r.describe()).map_err(|e| failure(Error::other(e.to_string())))
    }

    fn manifest_digest(manifest: Vec<u8>) -> Result<String, wit::Failure> {
        crate::manifest::manifest_digest(&manifest).map(|d| d.to_string()).map_err(failure)
    }
}

struct OperationResource(std::cell::RefCell<engine::Operation>);

impl GuestOperation for OperationResource {
    fn new(job: wj::Job, environment: wj::Environment) -> Self {
        OperationResource(std::cell::RefCell::new(job_from_wit(job).start(environment_from_wit(environment))))
    }

    fn handle(&self, now_ms: u64, id: u64, reply: wit::Reply) {
        self.0.borrow_mut().handle(now_ms, id, reply_from_wit(reply));
    }

    fn poll(&self, now_ms: u64) -> wit::Action {
        match self.0.borrow_mut().poll(now_ms) {
            Action::Perform { id, request } => {
                wit::Action::Perform(wit::Perform { id, request: request_to_wit(request) })
            }
            Action::Done(out) => wit::Action::Done(out),
            Action::Failed(e) => wit::Action::Failed(failure(e)),
            Action::Idle => wit::Action::Idle,
        }
    }
}

// ---- jobs ----

fn environment_from_wit(e: wj::Environment) -> Environment {
    Environment {
        variables: e.variables.into_iter().collect(),
        uid: e.uid,
        platform: WantedPlatform { os: Some(e.os), architecture: Some(e.architecture), variant: e.variant },
        scratch_dir: e.scratch_dir,
        pid: e.pid,
    }
}

fn platform_from_wit(p: wj::PlatformOverride) -> WantedPlatform {
    WantedPlatform { os: p.os, architecture: p.architecture, variant: p.variant }
}

fn registry_from_wit(r: wj::RegistryOptions) -> RegistryOptions {
    RegistryOptions {
        tls_verify: r.tls_verify,
        cert_dir: r.cert_dir,
        credentials: r.credentials.map(|c| Credentials { username: c.username, password: c.password }),
        registry_token: r.registry_token,
        no_creds: r.no_creds,
        authfile: r.authfile,
        retry_times: r.retry_times,
        retry_delay_ms: r.retry_delay_ms,
        user_agent_prefix: r.user_agent_prefix,
        registries_conf: r.registries_conf,
        tls_details: r.tls_details,
        token_hosts: r.token_hosts,
        timeouts: crate::registry::TimeoutOptions {
            connect_ms: r.timeouts.connect_ms,
            response_ms: r.timeouts.response_ms,
            idle_ms: r.timeouts.idle_ms,
            total_ms: r.timeouts.total_ms,
        },
        ..RegistryOptions::default()
    }
}

fn side_from_wit(s: wj::SideOptions) -> SideOptions {
    SideOptions {
        registry: registry_from_wit(s.registry),
        shared_blob_dir: s.shared_blob_dir,
        daemon_host: s.daemon_host,
        ..SideOptions::default()
    }
}

fn format_from_wit(f: wj::ManifestFormat) -> ManifestFormat {
    match f {
        wj::ManifestFormat::Oci => ManifestFormat::Oci,
        wj::ManifestFormat::V2s2 => ManifestFormat::V2s2,
        wj::ManifestFormat::V2s1 => ManifestFormat::V2s1,
    }
}

fn job_from_wit(job: wj::Job) -> Job {
    match job {
        wj::Job::Inspect(j) => Job::Inspect(InspectJob {
            image: j.image,
            raw: j.raw,
            config: j.config,
            format: j.format,
            no_tags: j.no_tags,
            manifest_digest: j.manifest_digest,
            side: side_from_wit(j.side),
            platform: platform_from_wit(j.platform),
        }),
        wj::Job::ListTags(j) => {
            Job::ListTags(ListTagsJob { repository: j.repository, registry: registry_from_wit(j.registry) })
        }
        wj::Job::Delete(j) => Job::Delete(DeleteJob { image: j.image, registry: registry_from_wit(j.registry) }),
        wj::Job::ManifestDigest(j) => Job::ManifestDigest(ManifestDigestJob { path: j.path }),
        wj::Job::Login(j) => Job::Login(LoginJob {
            registry: j.registry,
            get_login: j.get_login,
            username: j.username,
            password: j.password,
            access: registry_from_wit(j.access),
        }),
        wj::Job::Logout(j) => Job::Logout(LogoutJob { registry: j.registry, all: j.all, authfile: j.authfile }),
        wj::Job::StandaloneSign(j) => Job::StandaloneSign(StandaloneSignJob {
            manifest: j.manifest,
            reference: j.reference,
            fingerprint: j.fingerprint,
            output: j.output,
            passphrase_file: j.passphrase_file,
        }),
        wj::Job::Layers(j) => Job::Layers(crate::layers::LayersJob {
            image: j.image,
            layers: j.layers,
            side: side_from_wit(j.side),
            platform: platform_from_wit(j.platform),
        }),
        wj::Job::ImageProxy(j) => Job::ImageProxy(crate::proxy::ImageProxyJob {
            side: side_from_wit(j.side),
            policy: policy_from_wit(j.policy),
            registries_d: j.registries_d,
            platform: platform_from_wit(j.platform),
            decryption_keys: j.decryption_keys,
        }),
        wj::Job::UntrustedSignatureDump(j) => {
            Job::UntrustedSignatureDump(crate::signing::dump::UntrustedSignatureDumpJob { signature: j.signature })
        }
        wj::Job::GenerateSigstoreKey(j) => Job::GenerateSigstoreKey(GenerateSigstoreKeyJob {
            output_prefix: j.output_prefix,
            passphrase_file: j.passphrase_file,
            passphrase: j.passphrase,
        }),
        wj::Job::StandaloneVerify(j) => Job::StandaloneVerify(StandaloneVerifyJob {
            manifest: j.manifest,
            reference: j.reference,
            fingerprints: j.fingerprints,
            signature: j.signature,
            public_key_file: j.public_key_file,
        }),
        wj::Job::Sync(j) => Job::Sync(SyncJob {
            source: j.source,
            destination: j.destination,
            source_kind: match j.source_kind {
                wj::SyncSource::Docker => SourceKind::Docker,
                wj::SyncSource::Dir => SourceKind::Dir,
                wj::SyncSource::Yaml => SourceKind::Yaml,
                wj::SyncSource::Oci => SourceKind::Oci,
            },
            destination_kind: match j.destination_kind {
                wj::SyncDestination::Docker => DestKind::Docker,
                wj::SyncDestination::Dir => DestKind::Dir,
                wj::SyncDestination::Oci => DestKind::Oci,
            },
            src: side_from_wit(j.src),
            dest: side_from_wit(j.dest),
            policy: policy_from_wit(j.policy),
            registries_d: j.registries_d,
            platform: platform_from_wit(j.platform),
            all: j.all,
            scoped: j.scoped,
            append_suffix: j.append_suffix,
            dry_run: j.dry_run,
            keep_going: j.keep_going,
            preserve_digests: j.preserve_digests,
            digestfile: j.digestfile,
            format: j.format.map(format_from_wit),
            remove_signatures: j.remove_signatures,
            image_parallel_copies: j.image_parallel_copies,
            parallel_images: j.parallel_images,
            skip_existing: j.skip_existing,
            report: j.report,
            plan: j.plan,
            shard: j.shard,
            signing: sign_from_wit(j.signing),
        }),
        wj::Job::Copy(j) => Job::Copy(CopyJob {
            source: j.source,
            destination: j.destination,
            src: side_from_wit(j.src),
            dest: side_from_wit(j.dest),
            policy: policy_from_wit(j.policy),
            registries_d: j.registries_d,
            platform: platform_from_wit(j.platform),
            all: j.all,
            multi_arch: j.multi_arch.map(|m| match m {
                wj::MultiArch::System => MultiArch::System,
                wj::MultiArch::All => MultiArch::All,
                wj::MultiArch::IndexOnly => MultiArch::IndexOnly,
                wj::MultiArch::Platforms => MultiArch::Platforms,
            }),
            multi_arch_platforms: j.multi_arch_platforms,
            strip_removed_platforms: j.strip_removed_platforms,
            image_parallel_copies: j.image_parallel_copies,
            digestfile: j.digestfile,
            format: j.format.map(format_from_wit),
            preserve_digests: j.preserve_digests,
            dest_compress_format: j.dest_compress_format.map(|f| match f {
                wj::CompressionFormat::Gzip => CompressionFormat::Gzip,
                wj::CompressionFormat::Zstd => CompressionFormat::Zstd,
                wj::CompressionFormat::ZstdChunked => CompressionFormat::ZstdChunked,
            }),
            dest_compress_level: j.dest_compress_level,
            dest_compress: j.dest_compress,
            dest_decompress: j.dest_decompress,
            dest_force_compress_format: j.dest_force_compress_format,
            dest_oci_accept_uncompressed_layers: j.dest_oci_accept_uncompressed_layers,
            remove_signatures: j.remove_signatures,
            additional_tags: j.additional_tags,
            signing: sign_from_wit(j.signing),
            sign_identity: j.sign_identity,
            encryption_keys: j.encryption_keys,
            encrypt_layers: j.encrypt_layers,
            decryption_keys: j.decryption_keys,
        }),
    }
}

fn policy_from_wit(p: wj::PolicyOptions) -> PolicyOptions {
    PolicyOptions { path: p.path, insecure: p.insecure, require_signed: p.require_signed }
}

fn sign_from_wit(s: wj::SignOptions) -> crate::copy::SignOptions {
    crate::copy::SignOptions {
        sign_by: s.sign_by,
        sign_by_key_file: s.sign_by_key_file,
        sign_by_sigstore_private_key: s.sign_by_sigstore_private_key,
        sign_passphrase_file: s.sign_passphrase_file,
        sign_passphrase: s.sign_passphrase,
    }
}

// ---- requests out ----

fn tls_to_wit(t: TlsConfig) -> wit::TlsConfig {
    wit::TlsConfig {
        insecure: t.insecure,
        ca_files: t.ca_files,
        client_identity: t
            .client_identity
            .map(|ClientIdentity { certificate, key }| wit::ClientIdentity { certificate, key }),
        min_tls13: t.min_tls13,
        cipher_suites: t.cipher_suites,
        named_groups: t.named_groups,
    }
}

fn http_to_wit(h: HttpRequest) -> wit::HttpRequest {
    wit::HttpRequest {
        method: h.method,
        url: h.url,
        headers: h.headers.into_iter().map(|(name, value)| wit::Header { name, value }).collect(),
        body: h.body,
        max_body: h.max_body,
        tls: tls_to_wit(h.tls),
        proxy: h.proxy,
        timeouts: wit::Timeouts {
            connect_ms: h.timeouts.connect_ms,
            response_ms: h.timeouts.response_ms,
            idle_ms: h.timeouts.idle_ms,
            total_ms: h.timeouts.total_ms,
        },
    }
}

fn source_to_wit(s: BlobSource) -> wit::BlobSource {
    match s {
        BlobSource::Http { request, accept, expect } => wit::BlobSource::Http(wit::HttpSource {
            request: http_to_wit(request),
            accept,
            expect: expect.into_iter().map(|(name, value)| wit::Header { name, value }).collect(),
        }),
        BlobSource::File { path } => wit::BlobSource::File(path),
        BlobSource::FileRange { path, offset, length } => {
            wit::BlobSource::FileRange(wit::FileRange { path, offset, length })
        }
    }
}

fn hash_to_wit(a: Algorithm) -> wit::HashAlgorithm {
    match a {
        Algorithm::Sha256 => wit::HashAlgorithm::Sha256,
        Algorithm::Sha512 => wit::HashAlgorithm::Sha512,
    }
}

fn codec_to_wit(c: Compression) -> wit::Codec {
    match c {
        Compression::None => wit::Codec::None,
        Compression::Gzip => wit::Codec::Gzip,
        Compression::Zstd => wit::Codec::Zstd,
        Compression::ZstdChunked => wit::Codec::ZstdChunked,
    }
}

fn request_to_wit(r: Request) -> wit::Request {
    match r {
        Request::Http(h) => wit::Request::Http(http_to_wit(h)),
        Request::ReadFile { path, max_bytes } => wit::Request::ReadFile(wit::FileRead { path, max_bytes }),
        Request::ReadRange { path, offset, length } => wit::Request::ReadRange(wit::FileRange { path, offset, length }),
        Request::Wait { millis } => wit::Request::Wait(millis),
        Request::Warn { message } => wit::Request::Warn(message),
        Request::Note { message } => wit::Request::Note(message),
        Request::Progress(p) => wit::Request::Progress(match p {
            Progress::Total(n) => wit::Progress::Total(n),
            Progress::Started { index, label } => wit::Progress::Started(wit::Part { index, label }),
            Progress::Finished { index, outcome } => wit::Progress::Finished(wit::PartEnd {
                index,
                outcome: match outcome {
                    PartOutcome::Copied => wit::PartOutcome::Copied,
                    PartOutcome::Skipped => wit::PartOutcome::Skipped,
                    PartOutcome::Failed => wit::PartOutcome::Failed,
                },
            }),
        }),
        Request::Transfer(t) => wit::Request::Transfer(wit::Transfer {
            source: source_to_wit(t.source),
            sink: match t.sink {
                BlobSink::File { path } => wit::BlobSink::File(path),
                BlobSink::Http(h) => wit::BlobSink::Http(http_to_wit(h)),
                BlobSink::Pipe(id) => wit::BlobSink::Pipe(id),
                BlobSink::FileFrom { path, offset } => wit::BlobSink::FileFrom(wit::FileOffset { path, offset }),
                BlobSink::Discard => wit::BlobSink::Discard,
            },
            algorithm: hash_to_wit(t.algorithm),
            expected_size: t.expected_size,
            label: t.label,
        }),
        Request::Recompress(r) => wit::Request::Recompress(wit::Recompress {
            input: source_to_wit(r.input),
            output: r.output,
            from: codec_to_wit(r.from),
            to: codec_to_wit(r.to),
            level: r.level,
            algorithm: hash_to_wit(r.algorithm),
        }),
        Request::ApplyLayer(a) => wit::Request::ApplyLayer(wit::ApplyLayer {
            input: source_to_wit(a.input),
            from: codec_to_wit(a.from),
            root: a.root,
            copy_from: a.copy_from,
            whiteouts: match a.whiteouts {
                engine::WhiteoutFormat::Apply => wit::WhiteoutFormat::Apply,
                engine::WhiteoutFormat::Overlay => wit::WhiteoutFormat::Overlay,
            },
            tar_split: a.tar_split,
        }),
        Request::Crypt(c) => wit::Request::Crypt(wit::Crypt {
            input: source_to_wit(c.input),
            output: c.output,
            key: c.key,
            nonce: c.nonce,
            direction: match c.direction {
                engine::CryptDirection::Encrypt => wit::CryptDirection::Encrypt,
                engine::CryptDirection::Decrypt => wit::CryptDirection::Decrypt,
            },
            algorithm: hash_to_wit(c.algorithm),
        }),
        Request::WriteFile { path, data } => wit::Request::WriteFile(wit::FileWrite { path, data }),
        Request::WritePrivateFile { path, data } => wit::Request::WritePrivateFile(wit::FileWrite { path, data }),
        Request::WriteStream { path, pieces } => wit::Request::WriteStream(wit::WriteStream {
            path,
            pieces: pieces
                .into_iter()
                .map(|p| match p {
                    StreamPiece::Bytes(b) => wit::StreamPiece::Bytes(b),
                    StreamPiece::File { path, size } => wit::StreamPiece::File(wit::SizedFile { path, size }),
                })
                .collect(),
        }),
        Request::Rename { from, to } => wit::Request::Rename(wit::Rename { from, to }),
        Request::CreateDir { path } => wit::Request::CreateDir(path),
        Request::Symlink { target, path } => wit::Request::Symlink(wit::Symlink { target, path }),
        Request::RemoveFile { path } => wit::Request::RemoveFile(path),
        Request::RemoveDir { path } => wit::Request::RemoveDir(path),
        Request::ListDir { path } => wit::Request::ListDir(path),
        Request::Stat { path } => wit::Request::Stat(path),
        Request::TarIndex { path } => wit::Request::TarIndex(path),
        Request::Run { program, args, stdin, max_output } => {
            wit::Request::Run(wit::Run { program, args, stdin, max_output })
        }
        Request::Random { length } => wit::Request::Random(length),
        Request::ProxyReceive => wit::Request::ProxyReceive,
        Request::ProxySend { message, pipes } => wit::Request::ProxySend(wit::ProxySend { message, pipes }),
        Request::PipeOpen { id } => wit::Request::PipeOpen(id),
        Request::PipeWrite { id, data } => wit::Request::PipeWrite(wit::PipeWrite { id, data }),
        Request::PipeClose { id } => wit::Request::PipeClose(id),
        Request::Lock { id, path } => wit::Request::Lock(wit::DirectoryLock { id, path }),
        Request::Unlock { id } => wit::Request::Unlock(id),
        Request::FileLock { id, path, exclusive } => wit::Request::FileLock(wit::FileLock { id, path, exclusive }),
        Request::TouchLock { id, data } => wit::Request::TouchLock(wit::LockTouch { id, data }),
    }
}

// ---- replies in ----

fn response_from_wit(r: wit::HttpResponse) -> HttpResponse {
    HttpResponse { status: r.status, headers: r.headers.into_iter().map(|h| (h.name, h.value)).collect(), body: r.body }
}

fn file_kind(k: wit::FileKind) -> FileKind {
    match k {
        wit::FileKind::Absent => FileKind::Absent,
        wit::FileKind::Regular => FileKind::Regular,
        wit::FileKind::Directory => FileKind::Directory,
        wit::FileKind::Symlink => FileKind::Symlink,
        wit::FileKind::Fifo => FileKind::Fifo,
        wit::FileKind::CharDevice => FileKind::CharDevice,
        wit::FileKind::BlockDevice => FileKind::BlockDevice,
        wit::FileKind::Socket => FileKind::Socket,
        wit::FileKind::Other => FileKind::Other,
    }
}

fn io_kind(k: wit::IoErrorKind) -> IoErrorKind {
    match k {
        wit::IoErrorKind::Dns => IoErrorKind::Dns,
        wit::IoErrorKind::Connect => IoErrorKind::Connect,
        wit::IoErrorKind::Reset => IoErrorKind::Reset,
        wit::IoErrorKind::Closed => IoErrorKind::Closed,
        wit::IoErrorKind::Tls => IoErrorKind::Tls,
        wit::IoErrorKind::Timeout => IoErrorKind::Timeout,
        wit::IoErrorKind::NotFound => IoErrorKind::NotFound,
        wit::IoErrorKind::PermissionDenied => IoErrorKind::PermissionDenied,
        wit::IoErrorKind::TooLarge => IoErrorKind::TooLarge,
        wit::IoErrorKind::Other => IoErrorKind::Other,
    }
}

fn reply_from_wit(reply: wit::Reply) -> Reply {
    match reply {
        wit::Reply::Http(r) => Reply::Http(response_from_wit(r)),
        wit::Reply::Data(d) => Reply::Data(d),
        wit::Reply::Elapsed => Reply::Elapsed,
        wit::Reply::Done => Reply::Done,
        wit::Reply::Entries(e) => Reply::Entries(e),
        wit::Reply::Members(m) => Reply::Members(
            m.into_iter().map(|m| engine::TarMember { name: m.name, offset: m.offset, size: m.size }).collect(),
        ),
        wit::Reply::Transferred(t) => {
            Reply::Transferred { digest: t.digest, size: t.size, response: t.response.map(response_from_wit) }
        }
        wit::Reply::Recompressed(r) => Reply::Recompressed(engine::Recompressed {
            digest: r.digest,
            size: r.size,
            diff_id: r.diff_id,
            annotations: r.annotations,
        }),
        wit::Reply::Crypted(c) => Reply::Crypted(engine::Crypted {
            input_digest: c.input_digest,
            output_digest: c.output_digest,
            size: c.size,
            hmac: c.hmac,
        }),
        wit::Reply::Applied(a) => Reply::Applied(engine::Applied {
            input_digest: a.input_digest,
            input_size: a.input_size,
            diff_id: a.diff_id,
            diff_size: a.diff_size,
            uids: a.uids,
            gids: a.gids,
        }),
        wit::Reply::FileInfo(i) => Reply::FileInfo(FileInfo {
            kind: file_kind(i.kind),
            target: file_kind(i.target),
            size: i.size,
            modified_ns: i.modified_ns,
            mode: i.mode,
        }),
        wit::Reply::Output(o) => {
            Reply::Output(engine::ProcessOutput { status: o.status, stdout: o.stdout, stderr: o.stderr })
        }
        wit::Reply::Failed(e) => Reply::Failed(IoError { kind: io_kind(e.kind), message: e.message }),
    }
}

fn failure(e: Error) -> wit::Failure {
    let kind = match e.kind {
        ErrorKind::InvalidInput => wit::ErrorKind::InvalidInput,
        ErrorKind::NotFound => wit::ErrorKind::NotFound,
        ErrorKind::Unauthorized => wit::ErrorKind::Unauthorized,
        ErrorKind::Io => wit::ErrorKind::Io,
        ErrorKind::Integrity => wit::ErrorKind::Integrity,
        ErrorKind::Unsupported => wit::ErrorKind::Unsupported,
        ErrorKind::Other => wit::ErrorKind::Other,
    };
    wit::Failure { kind, message: e.message }
}
