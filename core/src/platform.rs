//! Platforms (os/architecture/variant) in Go's spelling, and which entries of
//! an index suit the platform we want, in containers/image's order.

use serde::{Deserialize, Serialize};

/// A platform as OCI indexes and Docker manifest lists spell it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(rename = "os.version", default, skip_serializing_if = "String::is_empty")]
    pub os_version: String,
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub variant: String,
}

/// The platform an image is chosen for: the host's, unless overridden.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
pub struct WantedPlatform {
    /// OS in Go's spelling or Rust's (`std::env::consts::OS`); `linux` if unset.
    #[serde(default)]
    pub os: Option<String>,
    /// Architecture in Go's spelling or Rust's (`x86_64`, `aarch64`); `amd64` if unset.
    #[serde(default)]
    pub architecture: Option<String>,
    #[serde(default)]
    pub variant: Option<String>,
}

impl WantedPlatform {
    pub fn os(&self) -> String {
        go_os(self.os.as_deref().unwrap_or("linux")).to_owned()
    }
    pub fn architecture(&self) -> String {
        go_arch(self.architecture.as_deref().unwrap_or("amd64")).to_owned()
    }

    /// Variants acceptable for this platform, best first. An explicit variant
    /// accepts older compatible ones too (arm v7 runs v6 and v5 code).
    fn variants(&self) -> Vec<&'static str> {
        let arch = self.architecture();
        match (arch.as_str(), self.variant.as_deref()) {
            ("arm", Some("v8")) => vec!["v8", "v7", "v6", "v5"],
            ("arm", Some("v7")) | ("arm", None) => vec!["v7", "v6", "v5"],
            ("arm", Some("v6")) => vec!["v6", "v5"],
            ("arm", Some("v5")) => vec!["v5"],
            ("arm64", None) | ("arm64", Some("v8")) => vec!["v8", ""],
            _ => vec![],
        }
    }

    /// The index of the best entry among `platforms`, or None.
    pub fn choose<'a>(&self, platforms: impl IntoIterator<Item = Option<&'a Platform>> + Clone) -> Option<usize> {
        let (os, arch) = (self.os(), self.architecture());
        let matches_base = |p: &Platform| p.os == os && p.architecture == arch;
        let variants = self.variants();
        if variants.is_empty() {
            // No compatibility chain: the exact variant if one was asked for,
            // otherwise the first entry of the right os and architecture.
            let want = self.variant.clone().unwrap_or_default();
            return platforms
                .into_iter()
                .position(|p| p.is_some_and(|p| matches_base(p) && (want.is_empty() || p.variant == want)));
        }
        for v in variants {
            let found = platforms.clone().into_iter().position(|p| {
                p.is_some_and(|p| matches_base(p) && (p.variant == v || (v.is_empty() && p.variant.is_empty())))
            });
            if found.is_some() {
                return found;
            }
        }
        None
    }

    pub fn describe(&self) -> String {
        format!(
            "architecture {}, variant {:?}, OS {}",
            self.architecture(),
            self.variant.clone().unwrap_or_default(),
            self.os()
        )
    }
}

/// Rust's `std::env::consts::ARCH` (and Node's `process.arch`) names to Go's GOARCH names.
pub fn go_arch(a: &str) -> &str {
    match a {
        "x86_64" | "x64" => "amd64",
        "aarch64" => "arm64",
        "x86" | "i686" | "i386" | "ia32" => "386",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// Rust's `std::env::consts::OS` (and Node's `process.platform`) names to Go's GOOS names.
pub fn go_os(o: &str) -> &str {
    match o {
        "macos" => "darwin",
        "win32" => "windows",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(os: &str, arch: &str, variant: &str) -> Platform {
        Platform { os: os.into(), architecture: arch.into(), variant: variant.into(), ..Default::default() }
    }

    #[test]
    fn chooses_host_and_overrides() {
        let list =
            [p("linux", "arm", "v6"), p("linux", "arm64", "v8"), p("linux", "amd64", ""), p("windows", "amd64", "")];
        let opts = list.iter().map(Some);
        let host = WantedPlatform { os: Some("linux".into()), architecture: Some("x86_64".into()), variant: None };
        assert_eq!(host.choose(opts.clone()), Some(2));
        let arm7 =
            WantedPlatform { architecture: Some("arm".into()), variant: Some("v7".into()), ..Default::default() };
        assert_eq!(arm7.choose(opts.clone()), Some(0));
        let arm64 = WantedPlatform { architecture: Some("aarch64".into()), ..Default::default() };
        assert_eq!(arm64.choose(opts.clone()), Some(1));
        let win = WantedPlatform { os: Some("windows".into()), ..Default::default() };
        assert_eq!(win.choose(opts.clone()), Some(3));
        let s390 = WantedPlatform { architecture: Some("s390x".into()), ..Default::default() };
        assert_eq!(s390.choose(opts), None);
    }

    #[test]
    fn entries_without_platform_are_skipped() {
        let a = p("linux", "amd64", "");
        let entries = [None, Some(&a)];
        assert_eq!(WantedPlatform::default().choose(entries), Some(1));
    }
}
