//! containers-storage (podman's, buildah's and CRI-O's image store), read
//! as containers/storage lays it out: where the store is ([`location`]),
//! its images and layers records and how a reference names one of them
//! ([`records`]), and a layer's tar re-assembled from its tar-split
//! ([`tar_split`]); and an image deleted from it ([`delete`], under the
//! store's locks). Reading takes no locks (the store's writers replace
//! their JSON files by rename, and layers still marked incomplete are
//! refused); writing images into a store is not built yet.

#[cfg(feature = "storage-write")]
pub mod delete;
pub mod location;
pub mod records;
pub mod tar_split;
