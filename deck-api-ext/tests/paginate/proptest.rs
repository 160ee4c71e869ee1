//! Properties of the paginator over arbitrary listings, served by a `from_fn` fetcher: whatever
//! the server answers (empty pages, cursors pointing back, `has_more` without a cursor), the
//! stream ends, never requests a cursor twice, yields exactly the served items in order (up to
//! `max_items`), and fails only with a pagination error.

use std::sync::{Arc, Mutex};

use deck_api_ext::ErrorKind;
use deck_api_ext::paginate::{Page, PageRequest, Paginator};
use futures_util::StreamExt;
use proptest::prelude::*;

/// One served page: its item count, `has_more`, and where `next_cursor` points (`None`: null).
#[derive(Clone, Debug)]
struct Served {
    len: usize,
    has_more: bool,
    next: Option<usize>,
}

fn served(pages: usize) -> impl Strategy<Value = Served> {
    (
        0usize..4,
        prop::bool::weighted(0.8),
        prop::option::weighted(0.9, 0..pages),
    )
        .prop_map(|(len, has_more, next)| Served {
            len,
            has_more,
            next,
        })
}

fn listing() -> impl Strategy<Value = Vec<Served>> {
    (1usize..12).prop_flat_map(|n| prop::collection::vec(served(n), n))
}

/// Items of page `i` are `i * 100 ..`, so the order they were served in is visible.
fn page(listing: &[Served], index: usize) -> Page<usize> {
    let p = &listing[index];
    Page::new(
        (0..p.len).map(|k| index * 100 + k).collect(),
        p.has_more,
        p.next.map(|n| format!("c{n}")),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_listing_ends_without_repeats_and_yields_what_was_served(
        listing in listing(),
        max_items in prop::option::of(0u64..20),
        prefetch in any::<bool>(),
        limit in 1u32..=100,
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let requested: Arc<Mutex<Vec<PageRequest>>> = Arc::default();
        let log = requested.clone();
        let served_pages = Arc::new(listing.clone());
        let mut paginator = Paginator::from_fn("listThings", move |request: PageRequest| {
            let mut log = log.lock().unwrap();
            log.push(request.clone());
            // A listing of at most 12 distinct cursors needs at most 12 requests.
            assert!(log.len() <= 12, "the paginator loops: {log:?}");
            let index = match request.cursor.as_deref() {
                None => 0,
                Some(c) => c[1..].parse::<usize>().unwrap(),
            };
            let page = page(&served_pages, index);
            async move { Ok(page) }
        })
        .limit(limit)
        .prefetch(prefetch);
        if let Some(max) = max_items {
            paginator = paginator.max_items(max);
        }

        let (items, error) = runtime.block_on(async {
            let mut stream = paginator.items();
            let mut items = Vec::new();
            let mut error = None;
            while let Some(next) = stream.next().await {
                match next {
                    Ok(item) => items.push(item),
                    Err(e) => {
                        error = Some(e);
                        prop_assert!(stream.next().await.is_none(), "an error ends the stream");
                        break;
                    }
                }
            }
            Ok((items, error))
        })?;
        let requested = requested.lock().unwrap().clone();

        // No cursor is requested twice, and every request carries a valid limit.
        let mut cursors: Vec<Option<String>> = requested.iter().map(|r| r.cursor.clone()).collect();
        let n = cursors.len();
        cursors.sort();
        cursors.dedup();
        prop_assert_eq!(cursors.len(), n, "a cursor was requested twice: {:?}", requested);
        for r in &requested {
            let l = r.limit.unwrap();
            prop_assert!((1..=limit).contains(&l), "limit {} outside 1..={}", l, limit);
        }

        // The items are the served pages' items, in order, cut at max_items.
        let mut expected: Vec<usize> = requested
            .iter()
            .flat_map(|r| {
                let index = r.cursor.as_deref().map_or(0, |c| c[1..].parse().unwrap());
                page(&listing, index).data
            })
            .collect();
        if let Some(max) = max_items {
            expected.truncate(max as usize);
            prop_assert!(items.len() as u64 <= max);
        }
        prop_assert_eq!(&items, &expected);

        match error {
            Some(e) => prop_assert_eq!(e.kind(), ErrorKind::Pagination, "{}", e),
            None => {
                // A clean end: the last page said so, or max_items was reached.
                let capped = max_items.is_some_and(|m| items.len() as u64 == m);
                let last = requested.last().map(|r| {
                    let index = r.cursor.as_deref().map_or(0, |c| c[1..].parse().unwrap());
                    listing[index].has_more
                });
                prop_assert!(capped || last == Some(false), "ended early: {:?}", requested);
            }
        }
    }
}
