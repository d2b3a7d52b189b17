//! Lookaside signature storage (containers-registries.d(5)): the signatures
//! of a registry's images live beside it, at
//! `<base>/<repository>@<algorithm>=<hex>/signature-<n>`. The base comes
//! from the most specific `docker` scope naming the image, else
//! `default-docker`, else the host's built-in directory, as in
//! containers/image.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::config::registries_d::RegistriesD;
use crate::digest::Digest;
use crate::engine::{HttpRequest, Io, IoErrorKind, Request};
use crate::error::{Error, ErrorKind, Result};
use crate::files::{fs_error, write_atomically};
use crate::reference::DockerReference;
use crate::signature::{MAX_SIGNATURE_SIZE, MAX_SIGNATURES, Signature, too_many_signatures};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Section {
    lookaside: Option<String>,
    lookaside_staging: Option<String>,
    /// The older names of `lookaside` and `lookaside-staging`.
    sigstore: Option<String>,
    sigstore_staging: Option<String>,
    /// Whether sigstore signatures are read and written as attachments.
    use_sigstore_attachments: Option<bool>,
}

impl Section {
    fn url(&self, write: bool) -> Option<&str> {
        let read = self.lookaside.as_deref().or(self.sigstore.as_deref());
        match write {
            true => self.lookaside_staging.as_deref().or(self.sigstore_staging.as_deref()).or(read),
            false => read,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct FileContents {
    default_docker: Option<Section>,
    #[serde(default)]
    docker: BTreeMap<String, Section>,
}

/// Every file's sections merged: `default-docker` and the `docker` scopes,
/// each defined once across the files.
struct Merged {
    default: Option<Section>,
    scopes: BTreeMap<String, Section>,
}

fn merge(config: &RegistriesD) -> Result<Merged> {
    let mut default: Option<(Section, &str)> = None;
    let mut scopes: BTreeMap<String, (Section, &str)> = BTreeMap::new();
    for f in &config.files {
        let bad = |why: String| Error::invalid(format!("registries.d: {}: {why}", f.path));
        if f.contents.is_null() {
            continue;
        }
        let c: FileContents = serde_json::from_value(f.contents.clone()).map_err(|e| bad(e.to_string()))?;
        if let Some(d) = c.default_docker
            && default.replace((d, f.path.as_str())).is_some()
        {
            return Err(bad("a second default-docker section".to_owned()));
        }
        for (scope, section) in c.docker {
            if let Some((_, first)) = scopes.get(&scope) {
                return Err(bad(format!("docker section {scope:?} already defined in {first}")));
            }
            scopes.insert(scope, (section, &f.path));
        }
    }
    Ok(Merged { default: default.map(|(s, _)| s), scopes: scopes.into_iter().map(|(k, (s, _))| (k, s)).collect() })
}

/// The lookaside of `image`'s repository (to read or to write), if any.
pub fn for_image(config: &RegistriesD, image: &DockerReference, write: bool) -> Result<Option<Lookaside>> {
    let merged = merge(config)?;
    // The most specific section naming the image decides, even without a URL.
    let section = image.scopes().iter().find_map(|s| merged.scopes.get(s)).or(merged.default.as_ref());
    let Some(base) = section.and_then(|s| s.url(write)).or(config.builtin.as_deref()) else { return Ok(None) };
    Ok(Some(Lookaside { base: format!("{}/{}", base.trim_end_matches('/'), image.repository) }))
}

/// Whether `image`'s sigstore signatures are attachments: the most specific
/// section that says so decides (one that does not say is passed over),
/// then `default-docker`; off unless configured, as in containers/image.
pub fn uses_sigstore_attachments(config: &RegistriesD, image: &DockerReference) -> Result<bool> {
    let merged = merge(config)?;
    let said = image
        .scopes()
        .iter()
        .filter_map(|s| merged.scopes.get(s))
        .chain(merged.default.as_ref())
        .find_map(|s| s.use_sigstore_attachments);
    Ok(said.unwrap_or(false))
}

/// One repository's lookaside storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookaside {
    /// The storage's URL with the repository's path appended.
    base: String,
}

/// Where a lookaside URL leads, as the `url` crate (and the host) reads it.
enum Place {
    /// A local directory (`file:`), its path percent-decoded.
    File(String),
    Http,
    Other,
}

impl Place {
    fn of(url: &str) -> Place {
        match ::url::Url::parse(url) {
            Ok(u) if u.scheme() == "file" => {
                Place::File(percent_encoding::percent_decode_str(u.path()).decode_utf8_lossy().into_owned())
            }
            Ok(u) if matches!(u.scheme(), "http" | "https") => Place::Http,
            _ => Place::Other,
        }
    }
}

impl Lookaside {
    fn url(&self, manifest: &Digest, n: usize) -> String {
        format!("{}@{}={}/signature-{n}", self.base, manifest.algorithm().name(), manifest.hex())
    }

    /// The local file of signature `n`, for a `file:` storage.
    fn file_path(&self, manifest: &Digest, n: usize) -> Option<String> {
        match Place::of(&self.url(manifest, n)) {
            Place::File(path) => Some(path),
            _ => None,
        }
    }

    /// Whether signatures can be written here (only to a local directory).
    pub fn writable(&self) -> Result<()> {
        match Place::of(&self.base) {
            Place::File(_) => Ok(()),
            Place::Http => Err(Error::unsupported(format!(
                "Writing directly to a lookaside at {} is not supported. Configure a lookaside-staging: location",
                self.base
            ))),
            Place::Other => {
                Err(Error::unsupported(format!("Unsupported scheme when writing signatures to {}", self.base)))
            }
        }
    }

    /// The signatures of the image whose manifest is `manifest`: `signature-1`,
    /// `signature-2`, … until one is missing. Lookaside signatures are always
    /// simple signing.
    pub async fn read(&self, io: &Io, manifest: &Digest, tls: &crate::engine::TlsConfig) -> Result<Vec<Signature>> {
        let mut found = Vec::new();
        loop {
            if found.len() >= MAX_SIGNATURES {
                return Err(too_many_signatures(&self.base));
            }
            let url = self.url(manifest, found.len() + 1);
            let blob = match Place::of(&url) {
                Place::File(path) => match io.read_file(path, MAX_SIGNATURE_SIZE).await {
                    Ok(b) => b,
                    Err(e) if e.kind == IoErrorKind::NotFound => return Ok(found),
                    Err(e) => return Err(Error::new(ErrorKind::Io, format!("reading signature {url}: {}", e.message))),
                },
                Place::Http => {
                    let request = HttpRequest {
                        method: "GET".to_owned(),
                        url: url.clone(),
                        headers: vec![("User-Agent".to_owned(), super::USER_AGENT.to_owned())],
                        body: None,
                        max_body: MAX_SIGNATURE_SIZE,
                        tls: tls.clone(),
                        proxy: None,
                        timeouts: Default::default(),
                    };
                    let r = io
                        .http(request)
                        .await
                        .map_err(|e| Error::new(ErrorKind::Io, format!("reading signature {url}: {}", e.message)))?;
                    match r.status {
                        200 => r.body,
                        404 => return Ok(found),
                        s => return Err(Error::other(format!("reading signature {url}: status {s}"))),
                    }
                }
                Place::Other => {
                    return Err(Error::unsupported(format!("Unsupported scheme when reading signature from {url}")));
                }
            };
            found.push(Signature::SimpleSigning(blob));
        }
    }

    /// Stores `signatures` for the image whose manifest is `manifest`, and
    /// removes any later ones left from before.
    pub async fn write(&self, io: &Io, manifest: &Digest, signatures: &[Signature]) -> Result<()> {
        self.writable()?;
        let path = |n: usize| self.file_path(manifest, n).expect("checked writable");
        let dir = path(1).rsplit_once('/').map(|(d, _)| d.to_owned()).expect("a signature path has a directory");
        io.fs(Request::CreateDir { path: dir.clone() }).await.map_err(fs_error(format!("creating {dir}")))?;
        for (i, s) in signatures.iter().enumerate() {
            let Signature::SimpleSigning(blob) = s else {
                return Err(Error::unsupported("a lookaside holds simple-signing signatures only"));
            };
            write_atomically(io, &path(i + 1), blob).await?;
        }
        for n in signatures.len() + 1.. {
            match io.fs(Request::RemoveFile { path: path(n) }).await {
                Ok(()) => {}
                Err(e) if e.kind == IoErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(fs_error(format!("removing {}", path(n)))(e)),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::registries_d::ConfigFile;
    use serde_json::json;

    fn config(files: &[serde_json::Value], builtin: Option<&str>) -> RegistriesD {
        RegistriesD {
            files: files
                .iter()
                .enumerate()
                .map(|(i, c)| ConfigFile { path: format!("{i}.yaml"), contents: c.clone() })
                .collect(),
            builtin: builtin.map(str::to_owned),
        }
    }

    fn base(d: &RegistriesD, image: &str, write: bool) -> Option<String> {
        let r = DockerReference::parse_normalized(image).unwrap();
        for_image(d, &r, write).unwrap().map(|l| l.base)
    }

    #[test]
    fn the_most_specific_section_decides() {
        let d = config(
            &[
                json!({"default-docker": {"lookaside": "https://all.example/sigs"}}),
                json!({"docker": {
                    "reg.example.com": {"sigstore": "https://reg.example/sigs"},
                    "reg.example.com/team": {"lookaside": "https://team.example", "lookaside-staging": "file:///stage"},
                    "reg.example.com/team/odd": {},
                }}),
            ],
            Some("file:///builtin"),
        );
        assert_eq!(base(&d, "reg.example.com/team/app:1", false).unwrap(), "https://team.example/team/app");
        assert_eq!(base(&d, "reg.example.com/team/app:1", true).unwrap(), "file:///stage/team/app");
        assert_eq!(base(&d, "reg.example.com/other", true).unwrap(), "https://reg.example/sigs/other");
        assert_eq!(base(&d, "elsewhere.io/x/y", false).unwrap(), "https://all.example/sigs/x/y");
        // A matching section without URLs hides the broader ones: the built-in default applies.
        assert_eq!(base(&d, "reg.example.com/team/odd", false).unwrap(), "file:///builtin/team/odd");
        let none = config(&[], None);
        assert_eq!(base(&none, "busybox", true), None);
        let builtin = config(&[serde_json::Value::Null], Some("file:///var/lib/containers/sigstore"));
        assert_eq!(base(&builtin, "busybox", false).unwrap(), "file:///var/lib/containers/sigstore/library/busybox");
    }

    #[test]
    fn attachments_are_used_where_the_most_specific_saying_section_says() {
        let d = config(
            &[json!({
                "default-docker": {"use-sigstore-attachments": true},
                "docker": {
                    "reg.example.com": {"use-sigstore-attachments": false},
                    "reg.example.com/team": {"lookaside": "https://team.example"},
                    "reg.example.com/team/signed": {"use-sigstore-attachments": true},
                },
            })],
            None,
        );
        let uses = |d: &RegistriesD, image: &str| {
            uses_sigstore_attachments(d, &DockerReference::parse_normalized(image).unwrap()).unwrap()
        };
        assert!(uses(&d, "elsewhere.io/x"));
        assert!(!uses(&d, "reg.example.com/x"));
        // A section that does not say is passed over (unlike a lookaside URL).
        assert!(!uses(&d, "reg.example.com/team/app"));
        assert!(uses(&d, "reg.example.com/team/signed:v1"));
        assert!(!uses(&config(&[], None), "busybox"), "off unless configured");
    }

    #[test]
    fn conflicting_files_are_refused() {
        let twice = config(&[json!({"default-docker": {}}), json!({"default-docker": {}})], None);
        let r = DockerReference::parse_normalized("busybox").unwrap();
        assert!(for_image(&twice, &r, false).unwrap_err().to_string().contains("second default-docker"));
        let dup = config(&[json!({"docker": {"docker.io": {}}}), json!({"docker": {"docker.io": {}}})], None);
        assert!(for_image(&dup, &r, false).unwrap_err().to_string().contains("already defined in 0.yaml"));
        let bad = config(&[json!({"docker": ["not", "a", "map"]})], None);
        assert!(for_image(&bad, &r, false).unwrap_err().to_string().starts_with("registries.d: 0.yaml"));
    }

    #[test]
    fn signature_urls_name_the_manifest_digest() {
        let l = Lookaside { base: "file:///s/library/busybox".to_owned() };
        let d = Digest::sha256(b"m");
        assert_eq!(l.url(&d, 2), format!("file:///s/library/busybox@sha256={}/signature-2", d.hex()));
        assert!(l.writable().is_ok());
        let web = Lookaside { base: "https://sigs.example/x".to_owned() };
        assert!(web.writable().unwrap_err().to_string().contains("lookaside-staging"));
    }
}
