//! Archives for the tests that take them apart: one as skopeo writes it,
//! and a member read back by name.

use std::path::Path;

use super::fixtures::world;
use super::tools::skopeo;

/// The world's single image as a docker-archive (`x/y:1`), written by skopeo.
pub fn docker_archive(at: &Path) {
    let src = format!("oci:{}:v1", world().single.display());
    skopeo(&["--insecure-policy", "copy", "-q", &src, &format!("docker-archive:{}:x/y:1", at.display())]).ok();
}

/// The bytes of member `name` of the tar archive at `archive`.
pub fn member(archive: &Path, name: &str) -> Vec<u8> {
    let mut a = tar::Archive::new(std::fs::File::open(archive).unwrap());
    let mut e = a
        .entries()
        .unwrap()
        .map(Result::unwrap)
        .find(|e| e.path().unwrap().to_str() == Some(name))
        .unwrap_or_else(|| panic!("{name} is not in {}", archive.display()));
    let mut data = Vec::new();
    std::io::Read::read_to_end(&mut e, &mut data).unwrap();
    data
}
