//! What a host asks the core to do: one JSON document per command, so the
//! component interface stays small and new options need no WIT change.

use serde::Deserialize;

use crate::engine::Operation;
use crate::error::Error;
use crate::{copy, delete, inspect, list_tags};

// A job is parsed once per command; its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
pub enum Job {
    Inspect(inspect::InspectJob),
    ListTags(list_tags::ListTagsJob),
    Delete(delete::DeleteJob),
    Copy(copy::CopyJob),
}

impl Job {
    /// Starts the command a JSON job describes; a malformed job fails at the first poll.
    pub fn start(json: &str) -> Operation {
        match serde_json::from_str::<Job>(json) {
            Ok(Job::Inspect(j)) => Operation::start(move |io| inspect::run(io, j)),
            Ok(Job::ListTags(j)) => Operation::start(move |io| list_tags::run(io, j)),
            Ok(Job::Delete(j)) => Operation::start(move |io| delete::run(io, j)),
            Ok(Job::Copy(j)) => Operation::start(move |io| copy::run(io, j)),
            Err(e) => Operation::failed(Error::invalid(format!("invalid job: {e}"))),
        }
    }
}
