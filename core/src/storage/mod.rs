//! containers-storage (podman's, buildah's and CRI-O's image store) as
//! containers/storage lays it out: where the store is ([`location`]), its
//! images and layers records and how a reference names one of them
//! ([`records`]), and a layer's tar re-assembled from its tar-split
//! ([`tar_split`]). Reading takes no locks (the store's writers replace
//! their JSON files by rename, and layers still marked incomplete are
//! refused). Writing — an image committed into the store ([`write`]), an
//! image deleted from it ([`delete`]) — happens under the store's
//! [`locks`], on its record [`lists`] and its drivers' layer directories
//! ([`driver`]).

#[cfg(feature = "storage-write")]
pub mod delete;
#[cfg(feature = "storage-write")]
pub mod driver;
#[cfg(feature = "storage-write")]
pub mod lists;
pub mod location;
#[cfg(feature = "storage-write")]
pub mod locks;
pub mod records;
pub mod tar_split;
#[cfg(feature = "storage-write")]
pub mod write;
