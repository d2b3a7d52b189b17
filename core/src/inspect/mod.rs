//! `inspect`: what skopeo prints about an image, built the way upstream
//! skopeo (1.22) builds it. `Digest` names the top-level manifest (a list,
//! if there is one); every other field comes from the instance chosen for
//! the wanted platform.

mod output;
pub mod template;

pub use output::{LayerData, Output};

use crate::config::Environment;
use crate::engine::Io;
use crate::error::{Error, ErrorKind, Result};
use crate::go::json as go_json;
use crate::go::time::GoTime;
use crate::manifest::ImageConfig;
use crate::manifest::config::Timestamp;
use crate::manifest::{self, ImageManifest, MAX_MANIFEST_SIZE, Manifest, Schema1Manifest};
use crate::media_type::{self, ManifestKind};
use crate::platform::WantedPlatform;
use crate::reference::ImageReference;
use crate::transport::{ImageSource, SideOptions};
use serde::Deserialize;
use template::Template;

/// `skopeo inspect` and its flags.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InspectJob {
    pub image: String,
    #[serde(default)]
    pub raw: bool,
    #[serde(default)]
    pub config: bool,
    /// `-f/--format`: a Go template.
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub no_tags: bool,
    /// `--manifest-digest`: the algorithm of `Digest` (default: the config digest's).
    #[serde(default)]
    pub manifest_digest: Option<String>,
    /// Registry flags, `--shared-blob-dir`, `--daemon-host`.
    #[serde(default)]
    pub side: SideOptions,
    /// `--override-os/-arch/-variant`.
    #[serde(default)]
    pub platform: WantedPlatform,
}

pub async fn run(io: Io, mut job: InspectJob, env: Environment) -> Result<Vec<u8>> {
    let image = ImageReference::parse(&job.image)?;
    let format = OutputFormat::parse(job.format.as_deref())?;
    let platform = env.platform(&job.platform);
    job.side.resolve(&io, &env, &image).await?;
    let source = ImageSource::open(&io, &image, &job.side, &env.scratch_dir())?;
    let (top, top_type) = source.manifest(None).await?;
    if job.raw && !job.config {
        return Ok(top);
    }
    let (_, top_manifest) =
        Manifest::parse(&top, top_type.as_deref()).map_err(|e| e.context("Error parsing manifest for image"))?;
    let manifest = match top_manifest {
        Manifest::List(list) => {
            let d = list.choose(&platform)?;
            let (bytes, _) = source.manifest(Some(&d.digest)).await?;
            match Manifest::parse(&bytes, Some(&d.media_type))? {
                (_, Manifest::List(_)) => {
                    return Err(Error::unsupported("nested manifest lists are not supported"));
                }
                (_, m) => m,
            }
        }
        m => m,
    };

    let (config, layers_data) = match &manifest {
        Manifest::Image(m) => {
            if m.kind == ManifestKind::OciManifest && m.config.media_type != media_type::OCI_CONFIG {
                return Err(Error::unsupported(format!(
                    "unsupported image-specific operation on artifact with type {:?}",
                    m.config.media_type
                )));
            }
            let bytes = source.small_blob(&m.config, MAX_MANIFEST_SIZE).await?;
            if job.config && job.raw {
                return Ok(bytes);
            }
            (ImageConfig::parse(&bytes)?, image_layers(m))
        }
        Manifest::Schema1(s) => {
            if job.config {
                return Err(Error::unsupported("--config is not supported for schema 1 manifests"));
            }
            (ImageConfig::parse(s.top_v1_compatibility.as_bytes())?, schema1_layers(s))
        }
        Manifest::List(_) => unreachable!("lists were resolved above"),
    };
    if job.config {
        return format.write_json_only(&config);
    }

    let created = match &manifest {
        // Docker's config structs hold a time, not a pointer: absent means year 1.
        Manifest::Image(m) if m.kind == ManifestKind::OciManifest => config.created.clone(),
        _ => Some(config.created.clone().unwrap_or(Timestamp(GoTime::zero()))),
    };
    let container = config.config.clone().unwrap_or_default();
    let mut out = Output {
        name: image.docker_reference().map(|r| r.name()).unwrap_or_default(),
        tag: match &manifest {
            Manifest::Schema1(s) => s.tag.clone(),
            _ => String::new(),
        },
        digest: manifest::manifest_digest_with(&top, digest_algorithm(job.manifest_digest.as_deref(), &manifest)?)?
            .to_string(),
        repo_tags: Some(Vec::new()),
        created,
        docker_version: config.docker_version.clone().unwrap_or_default(),
        labels: container.labels,
        architecture: config.architecture.clone().unwrap_or_default(),
        os: config.os.clone().unwrap_or_default(),
        layers: layers_data.iter().map(|l| l.digest.clone()).collect(),
        layers_data,
        env: container.env,
    };
    if !job.no_tags {
        match source.repository_tags().await {
            Some(Ok(tags)) => out.repo_tags = Some(tags),
            // Some registries refuse to list tags; skopeo carries on without them.
            Some(Err(e)) if e.kind == ErrorKind::Unauthorized => {
                io.warn("Registry disallows tag list retrieval; skipping".to_owned());
                out.repo_tags = None;
            }
            Some(Err(e)) => return Err(e.context("Error determining repository tags")),
            None => {}
        }
    }
    format.write(&out)
}

fn image_layers(m: &ImageManifest) -> Vec<LayerData> {
    m.layers
        .iter()
        .map(|l| LayerData {
            mime_type: l.media_type.clone(),
            digest: l.digest.to_string(),
            size: l.size,
            // Docker's schema 2 descriptors have no annotations field.
            annotations: if m.kind == ManifestKind::OciManifest { l.annotations.clone() } else { None },
        })
        .collect()
}

fn schema1_layers(s: &Schema1Manifest) -> Vec<LayerData> {
    s.layers
        .iter()
        .map(|d| LayerData { mime_type: String::new(), digest: d.to_string(), size: -1, annotations: None })
        .collect()
}

/// `--format`: JSON (the default, `json` or `{{json .}}`) or a template.
enum OutputFormat {
    Json,
    /// The template; its output ends with the newline containers/common's
    /// NormalizeFormat adds.
    Template(Template),
}

impl OutputFormat {
    fn parse(format: Option<&str>) -> Result<Self> {
        let Some(f) = format.filter(|f| !f.is_empty()) else {
            return Ok(OutputFormat::Json);
        };
        let compact: String = f.chars().filter(|c| !c.is_whitespace()).collect();
        if f.trim() == "json" || compact == "{{json.}}" {
            return Ok(OutputFormat::Json);
        }
        Ok(OutputFormat::Template(Template::parse(f)?))
    }

    fn write(&self, out: &Output) -> Result<Vec<u8>> {
        match self {
            OutputFormat::Json => go_json::to_indented(out),
            OutputFormat::Template(t) => Ok(t.execute(&out.template_value())?.into_bytes()),
        }
    }

    fn write_json_only(&self, config: &ImageConfig) -> Result<Vec<u8>> {
        match self {
            OutputFormat::Json => go_json::to_indented(config),
            OutputFormat::Template(..) => Err(Error::unsupported("--format templates are not supported with --config")),
        }
    }
}

/// `--manifest-digest`'s algorithm (empty: sha256, Go's canonical one),
/// else the config digest's, as upstream skopeo picks it.
fn digest_algorithm(flag: Option<&str>, manifest: &Manifest) -> Result<crate::digest::Algorithm> {
    use crate::digest::Algorithm;
    match flag {
        Some("") => Ok(Algorithm::Sha256),
        Some(name) => {
            Algorithm::parse(name).map_err(|_| Error::invalid(format!("digest algorithm {name:?} is not available")))
        }
        None => Ok(match manifest {
            Manifest::Image(m) => m.config.digest.algorithm(),
            _ => Algorithm::Sha256,
        }),
    }
}
