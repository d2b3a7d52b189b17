//! The one integration-test binary: scenarios against real registries, with
//! Debian's skopeo as the reference.

mod scenarios;
