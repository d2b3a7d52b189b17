//! What skopeo prints is what Go's standard library prints: JSON as
//! `encoding/json` encodes it and times as `time.Time` formats them. Kept
//! here, below everything that writes output or manifests.

pub mod base64;
pub mod json;
pub mod logrus;
pub mod path;
pub mod strconv;
pub mod time;
