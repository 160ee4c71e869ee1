//! The fake's in-memory data: task runs, storage items and tasks.
//!
//! Everything here is synchronous and guarded by one mutex in [`Shared`](super::shared::Shared);
//! no lock is ever held across an `.await`.

use super::clock::{BASE_INSTANT, rfc3339};
use super::content::Content;
use super::seed::{ItemSeed, RunSeed, SeedError, SeededRun, TaskSeed, valid_id};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Seconds between the default `created_at` of consecutive items of a run.
const ITEM_SPACING_SECS: i64 = 5;

/// A stored storage item.
#[derive(Clone, Debug)]
pub(crate) struct Item {
    pub(crate) id: String,
    /// Position in creation order across the whole fake; cursors resume after one.
    pub(crate) seq: u64,
    pub(crate) run_id: String,
    pub(crate) seed: ItemSeed,
    pub(crate) created_at: String,
    pub(crate) fetch_date: String,
}

/// A stored task run.
#[derive(Clone, Debug)]
pub(crate) struct Run {
    pub(crate) seed: RunSeed,
    pub(crate) task_id: String,
    /// Item IDs in listing order (deleted items removed).
    pub(crate) item_ids: Vec<String>,
}

/// A stored task.
#[derive(Clone, Debug)]
pub(crate) struct Task {
    pub(crate) seed: TaskSeed,
    pub(crate) created_at: String,
    pub(crate) updated_at: String,
}

/// One page of a run's items.
pub(crate) struct Page {
    pub(crate) items: Vec<Item>,
    pub(crate) has_more: bool,
}

/// All seeded and created resources.
#[derive(Debug, Default)]
pub(crate) struct Store {
    runs: BTreeMap<String, Run>,
    items: HashMap<String, Item>,
    tasks: BTreeMap<String, Task>,
    next_seq: u64,
    /// Tasks created through the API so far (for `task_000001`-style IDs).
    created_tasks: u64,
    /// Seconds past [`BASE_INSTANT`] of the last task mutation (deterministic timestamps).
    mutation_clock: i64,
}

impl Store {
    /// Adds a run and its items. All-or-nothing.
    pub(crate) fn add_run(&mut self, seed: RunSeed) -> Result<SeededRun, SeedError> {
        if !valid_id(&seed.id) {
            return Err(SeedError::InvalidId(seed.id));
        }
        if self.runs.contains_key(&seed.id) {
            return Err(SeedError::DuplicateRun(seed.id));
        }
        let stem = seed.id.strip_prefix("trun_").unwrap_or(&seed.id).to_owned();
        let mut ids = Vec::with_capacity(seed.items.len());
        let mut seen = HashSet::new();
        for (index, item) in seed.items.iter().enumerate() {
            let id = item
                .id
                .clone()
                .unwrap_or_else(|| format!("stor_{stem}_{:04}", index + 1));
            if !valid_id(&id) {
                return Err(SeedError::InvalidId(id));
            }
            if self.items.contains_key(&id) || !seen.insert(id.clone()) {
                return Err(SeedError::DuplicateItem(id));
            }
            ids.push(id);
        }

        let mut seed = seed;
        let items = std::mem::take(&mut seed.items);
        for (index, (item, id)) in items.into_iter().zip(&ids).enumerate() {
            let offset = i64::try_from(index).unwrap_or(i64::MAX / ITEM_SPACING_SECS);
            let created_at = item
                .created_at
                .clone()
                .unwrap_or_else(|| rfc3339(BASE_INSTANT + offset * ITEM_SPACING_SECS));
            let fetch_date = item
                .fetch_date
                .clone()
                .unwrap_or_else(|| created_at.clone());
            self.next_seq += 1;
            self.items.insert(
                id.clone(),
                Item {
                    id: id.clone(),
                    seq: self.next_seq,
                    run_id: seed.id.clone(),
                    seed: item,
                    created_at,
                    fetch_date,
                },
            );
        }
        let task_id = seed
            .task_id
            .clone()
            .unwrap_or_else(|| format!("task_{stem}"));
        let run_id = seed.id.clone();
        self.runs.insert(
            run_id.clone(),
            Run {
                seed,
                task_id,
                item_ids: ids.clone(),
            },
        );
        Ok(SeededRun {
            run_id,
            item_ids: ids,
        })
    }

    /// Adds a task.
    pub(crate) fn add_task(&mut self, seed: TaskSeed) -> Result<(), SeedError> {
        if !valid_id(&seed.id) {
            return Err(SeedError::InvalidId(seed.id));
        }
        if self.tasks.contains_key(&seed.id) {
            return Err(SeedError::DuplicateTask(seed.id));
        }
        let at = rfc3339(BASE_INSTANT);
        self.tasks.insert(
            seed.id.clone(),
            Task {
                seed,
                created_at: at.clone(),
                updated_at: at,
            },
        );
        Ok(())
    }

    pub(crate) fn run(&self, run_id: &str) -> Option<&Run> {
        self.runs.get(run_id)
    }

    pub(crate) fn item(&self, id: &str) -> Option<&Item> {
        self.items.get(id)
    }

    pub(crate) fn content(&self, id: &str) -> Option<Content> {
        self.items.get(id).map(|i| i.seed.content.clone())
    }

    /// The items of `run_id` in listing order.
    pub(crate) fn run_items(&self, run_id: &str) -> Vec<Item> {
        self.runs
            .get(run_id)
            .map(|run| {
                run.item_ids
                    .iter()
                    .filter_map(|id| self.items.get(id).cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Up to `limit` items of `run_id` with a sequence number above `after` (0: from the start;
    /// sequence numbers start at 1).
    pub(crate) fn page(&self, run_id: &str, after: u64, limit: usize) -> Page {
        let Some(run) = self.runs.get(run_id) else {
            return Page {
                items: Vec::new(),
                has_more: false,
            };
        };
        // A run's ids are in insertion order and sequence numbers only grow, so the page starts
        // at a binary-searched position and only the page's own items are cloned: O(log n + limit)
        // per page, whatever the run's size.
        let seq = |id: &String| self.items.get(id).map_or(u64::MAX, |item| item.seq);
        let start = run.item_ids.partition_point(|id| seq(id) <= after);
        let mut rest = run.item_ids[start..]
            .iter()
            .filter_map(|id| self.items.get(id));
        let items: Vec<Item> = rest.by_ref().take(limit).cloned().collect();
        let has_more = rest.next().is_some();
        Page { items, has_more }
    }

    /// Removes an item; `None` if there is no such item.
    pub(crate) fn delete_item(&mut self, id: &str) -> Option<Item> {
        let item = self.items.remove(id)?;
        if let Some(run) = self.runs.get_mut(&item.run_id) {
            run.item_ids.retain(|other| other != id);
        }
        Some(item)
    }

    pub(crate) fn task(&self, id: &str) -> Option<&Task> {
        self.tasks.get(id)
    }

    pub(crate) fn has_task(&self, id: &str) -> bool {
        self.tasks.contains_key(id)
    }

    /// The next deterministic `created_at`/`updated_at` for a task mutation.
    fn tick(&mut self) -> String {
        self.mutation_clock += 1;
        rfc3339(BASE_INSTANT + 3600 + self.mutation_clock)
    }

    /// Stores a task created through the API; `id` is generated when `None`.
    pub(crate) fn create_task(&mut self, id: Option<String>, mut seed: TaskSeed) -> Task {
        seed.id = id.unwrap_or_else(|| {
            self.created_tasks += 1;
            loop {
                let candidate = format!("task_{:06}", self.created_tasks);
                if !self.tasks.contains_key(&candidate) {
                    break candidate;
                }
                self.created_tasks += 1;
            }
        });
        let at = self.tick();
        let task = Task {
            seed,
            created_at: at.clone(),
            updated_at: at,
        };
        self.tasks.insert(task.seed.id.clone(), task.clone());
        task
    }

    /// Applies `change` to a task and bumps `updated_at`; `None` if there is no such task.
    pub(crate) fn update_task(
        &mut self,
        id: &str,
        change: impl FnOnce(&mut TaskSeed),
    ) -> Option<Task> {
        if !self.tasks.contains_key(id) {
            return None;
        }
        let at = self.tick();
        let task = self.tasks.get_mut(id)?;
        change(&mut task.seed);
        task.updated_at = at;
        Some(task.clone())
    }

    /// All item IDs of a run, in listing order.
    pub(crate) fn item_ids(&self, run_id: &str) -> Option<Vec<String>> {
        self.runs.get(run_id).map(|run| run.item_ids.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, n: usize) -> RunSeed {
        RunSeed::new(id)
            .items((0..n).map(|i| ItemSeed::new(format!("f{i}.txt"), "text/plain", "x")))
    }

    #[test]
    fn derives_item_ids_and_timestamps() {
        let mut store = Store::default();
        let seeded = store.add_run(run("trun_abc", 2)).unwrap();
        assert_eq!(seeded.item_ids, ["stor_abc_0001", "stor_abc_0002"]);
        let second = store.item("stor_abc_0002").unwrap();
        assert_eq!(second.created_at, "2025-01-15T09:30:05Z");
        assert_eq!(second.fetch_date, second.created_at);
        assert_eq!(store.run("trun_abc").unwrap().task_id, "task_abc");
    }

    #[test]
    fn refuses_duplicates_without_storing_anything() {
        let mut store = Store::default();
        store.add_run(run("trun_a", 1)).unwrap();
        assert_eq!(
            store.add_run(run("trun_a", 1)),
            Err(SeedError::DuplicateRun("trun_a".into()))
        );
        let clash = RunSeed::new("trun_b")
            .item(ItemSeed::new("n", "t", "x"))
            .item(ItemSeed::new("m", "t", "x").id("stor_a_0001"));
        assert_eq!(
            store.add_run(clash),
            Err(SeedError::DuplicateItem("stor_a_0001".into()))
        );
        assert!(store.run("trun_b").is_none());
        assert!(store.item("stor_b_0001").is_none());
        assert_eq!(
            store.add_run(RunSeed::new("trun/x")),
            Err(SeedError::InvalidId("trun/x".into()))
        );
    }

    #[test]
    fn pages_resume_after_a_sequence_number_even_across_deletes() {
        let mut store = Store::default();
        store.add_run(run("trun_p", 5)).unwrap();
        let first = store.page("trun_p", 0, 2);
        assert!(first.has_more);
        let last_seq = first.items[1].seq;
        store.delete_item("stor_p_0003").unwrap();
        let second = store.page("trun_p", last_seq, 2);
        let ids: Vec<_> = second.items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["stor_p_0004", "stor_p_0005"]);
        assert!(!second.has_more);
        assert!(store.delete_item("stor_p_0003").is_none());
    }
}
