//! The storage endpoints: list a run's items, get one (with a fresh URL), delete one.

use progenitor_client::encode_path;
use reqwest::Method;

use super::{DeletedStorageItem, StorageItem};
use crate::client::Deck;
use crate::error::{Error, Result};
use crate::paginate::Paginator;

const LIST: &str = "listTaskRunStorage";
const GET: &str = "getStorageItem";
const DELETE: &str = "deleteStorageItem";

impl Deck {
    /// The storage items (files) a task run produced, as a lazy paginator
    /// (`GET /task-runs/{run_id}/storage`): `.items()` streams them across pages, `.limit(n)`
    /// sets the page size.
    ///
    /// Each item carries a pre-signed `url` that expires after a while: download soon after
    /// listing rather than collecting a long listing first. The download functions fetch the
    /// item again for a fresh URL when the old one has expired, so a late download still works,
    /// at the cost of one more request. Files are deleted by Deck 90 days after capture.
    ///
    /// ```no_run
    /// # async fn demo(deck: deck_api_ext::Deck) -> deck_api_ext::Result<()> {
    /// use futures_util::TryStreamExt;
    ///
    /// let mut items = deck.list_storage("trun_a1b2c3d4").limit(100).items();
    /// while let Some(item) = items.try_next().await? {
    ///     println!("{} {} bytes", item.file_name, item.file_size);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn list_storage(&self, run_id: &str) -> Paginator<StorageItem> {
        if run_id.is_empty() {
            return Paginator::from_fn(LIST, |_| async {
                Err(Error::invalid_request(LIST, "run_id must not be empty"))
            });
        }
        self.paginate(LIST, format!("/task-runs/{}/storage", encode_path(run_id)))
    }

    /// One storage item by id (`GET /storage/{storage_id}`), with a fresh pre-signed download
    /// URL. An unknown or deleted item is an error for which
    /// [`Error::is_not_found`] is true.
    pub async fn get_storage_item(&self, storage_id: &str) -> Result<StorageItem> {
        let request = self.storage_item_request(GET, Method::GET, storage_id)?;
        self.execute_json(GET, request).await
    }

    /// Permanently deletes a storage item and its extracted data (`DELETE /storage/{storage_id}`),
    /// returning Deck's confirmation. Deleting an unknown or already deleted item is an error for
    /// which [`Error::is_not_found`] is true.
    pub async fn delete_storage_item(&self, storage_id: &str) -> Result<DeletedStorageItem> {
        let request = self.storage_item_request(DELETE, Method::DELETE, storage_id)?;
        self.execute_json(DELETE, request).await
    }

    fn storage_item_request(
        &self,
        operation: &'static str,
        method: Method,
        storage_id: &str,
    ) -> Result<reqwest::Request> {
        if storage_id.is_empty() {
            return Err(Error::invalid_request(
                operation,
                "storage_id must not be empty",
            ));
        }
        self.request_builder(method, &format!("/storage/{}", encode_path(storage_id)))
            .build()
            .map_err(|e| Error::invalid_request(operation, e.to_string()))
    }
}
