//! The storage endpoints: list a run's items, get one (with a fresh URL), delete one.

use super::{DeletedStorageItem, StorageItem};
use crate::call::{CallExt, CallOptions, ListExt};
use crate::client::Deck;
use crate::error::Result;
use crate::paginate::Paginator;

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
        self.api()
            .list_task_run_storage()
            .run_id(run_id)
            .paginate_as()
    }

    /// One storage item by id (`GET /storage/{storage_id}`), with a fresh pre-signed download
    /// URL. An unknown or deleted item is an error for which
    /// [`Error::is_not_found`](crate::Error::is_not_found) is true.
    pub async fn get_storage_item(&self, storage_id: &str) -> Result<StorageItem> {
        self.api()
            .get_storage_item()
            .storage_id(storage_id)
            .call_as(CallOptions::new())
            .await
    }

    /// Permanently deletes a storage item and its extracted data (`DELETE /storage/{storage_id}`),
    /// returning Deck's confirmation. Deleting an unknown or already deleted item is an error for
    /// which [`Error::is_not_found`](crate::Error::is_not_found) is true.
    pub async fn delete_storage_item(&self, storage_id: &str) -> Result<DeletedStorageItem> {
        self.api()
            .delete_storage_item()
            .storage_id(storage_id)
            .call_as(CallOptions::new())
            .await
    }
}
