//! What one tag list told a run about a destination repository before it
//! wrote anything there. A sync that puts many images into one repository
//! lists its tags once instead of asking, image by image, whether each
//! tag's manifest and each blob is already there: a tag the list lacks has
//! no manifest to compare, and a repository the registry did not know holds
//! no blob this run did not put there itself (which [`super::push`]
//! remembers). Wrong guesses cost only work, never correctness: if another
//! writer adds the tag or a blob meanwhile, the manifest is put again (as a
//! copy would when digests differ) and the blob uploaded again.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

use super::RegistryClient;
use crate::error::ErrorKind;

/// A repository as its tag list showed it.
#[derive(Debug, Clone)]
pub enum Surveyed {
    /// The registry answered 404: no such repository, so no tags and no blobs.
    Absent,
    /// It exists with these tags.
    Tags(BTreeSet<String>),
    /// The list could not be had (no permission to list, an error): nothing
    /// is assumed.
    Unknown,
}

type Surveys = RefCell<HashMap<String, Surveyed>>;

impl RegistryClient {
    /// Lists `repository`'s tags, once per run for every client of this
    /// registry; later calls return what the first one found.
    pub async fn survey(&self, repository: &str) -> Surveyed {
        let key = self.survey_key(repository);
        let _turn = self.io.lock(format!("survey {key}")).await;
        if let Some(s) = self.surveys().borrow().get(&key) {
            return s.clone();
        }
        let found = match self.list_tags(repository).await {
            Ok(tags) => Surveyed::Tags(tags.into_iter().collect()),
            Err(e) if e.kind == ErrorKind::NotFound => Surveyed::Absent,
            Err(_) => Surveyed::Unknown,
        };
        self.surveys().borrow_mut().insert(key, found.clone());
        found
    }

    /// Whether the survey of `repository` (if one was made this run) shows
    /// that nothing was stored under `reference` (a tag, or a digest, which
    /// a tag list does not show unless the repository was absent).
    pub fn manifest_was_absent(&self, repository: &str, reference: &str) -> bool {
        let is_digest = reference.contains(':');
        match self.surveys().borrow().get(&self.survey_key(repository)) {
            Some(Surveyed::Absent) => true,
            Some(Surveyed::Tags(tags)) => !is_digest && !tags.contains(reference),
            Some(Surveyed::Unknown) | None => false,
        }
    }

    /// Whether the survey of `repository` found no such repository: then
    /// it holds only the blobs this run put there.
    pub(super) fn repository_was_absent(&self, repository: &str) -> bool {
        matches!(self.surveys().borrow().get(&self.survey_key(repository)), Some(Surveyed::Absent))
    }

    fn surveys(&self) -> Rc<Surveys> {
        self.io.shared("repository-surveys")
    }

    fn survey_key(&self, repository: &str) -> String {
        format!("{} {repository}", self.registry)
    }
}
