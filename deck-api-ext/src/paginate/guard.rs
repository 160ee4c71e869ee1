//! The checks that keep a misbehaving listing from looping or ending silently.
//!
//! After every page the paginator asks [`Guard::next`] where to go: stop, fetch the page after a
//! cursor, or fail. It fails when `has_more` is true without a cursor, when the cursor was seen
//! before in this listing (following it would loop), and after too many empty pages in a row.

use super::history::CursorHistory;

/// How many empty pages with `has_more: true` may follow each other before the listing is
/// abandoned. Deck applies filters before paginating, so an empty page that claims more results
/// is rare; dozens in a row mean the server is stuck.
pub const MAX_CONSECUTIVE_EMPTY_PAGES: u32 = 32;

/// Where to go after a page.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// The listing is complete.
    End,
    /// Fetch the page after this cursor.
    Fetch(String),
    /// Stop with this error message (the page itself is still delivered); `resume` is where a
    /// later listing can pick up (`None`: only from the first page).
    Fail {
        message: String,
        resume: Option<String>,
    },
}

/// The state the checks need: the cursors followed so far (in constant memory, see
/// [`CursorHistory`]) and the current run of empty pages.
#[derive(Debug, Default)]
pub(crate) struct Guard {
    seen: CursorHistory,
    empty_run: u32,
}

impl Guard {
    /// A guard for a listing that starts at `cursor` (`None`: the first page).
    pub(crate) fn starting_at(cursor: Option<&str>) -> Self {
        let mut guard = Guard::default();
        if let Some(cursor) = cursor {
            guard.seen.insert(cursor);
        }
        guard
    }

    /// Checks a page with `items` items, `has_more` and `next_cursor`, and says where to go.
    pub(crate) fn next(&mut self, items: usize, has_more: bool, next_cursor: Option<&str>) -> Next {
        if !has_more {
            return Next::End;
        }
        let Some(cursor) = next_cursor.filter(|c| !c.is_empty()) else {
            let what = if next_cursor.is_some() {
                "empty"
            } else {
                "null"
            };
            return Next::Fail {
                message: format!(
                    "has_more is true but next_cursor is {what}; the listing cannot continue"
                ),
                resume: None,
            };
        };
        if !self.seen.insert(cursor) {
            return Next::Fail {
                message: format!(
                    "next_cursor {cursor:?} was already used in this listing; \
                     following it would repeat pages"
                ),
                resume: None,
            };
        }
        if items == 0 {
            self.empty_run += 1;
            if self.empty_run > MAX_CONSECUTIVE_EMPTY_PAGES {
                return Next::Fail {
                    message: format!(
                        "{} empty pages in a row with has_more true; giving up",
                        self.empty_run
                    ),
                    resume: Some(cursor.to_owned()),
                };
            }
        } else {
            self.empty_run = 0;
        }
        Next::Fetch(cursor.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_more_false_ends_even_with_a_cursor() {
        let mut guard = Guard::default();
        assert_eq!(guard.next(3, false, Some("c")), Next::End);
    }

    #[test]
    fn has_more_without_a_cursor_fails() {
        let mut guard = Guard::default();
        assert!(
            matches!(guard.next(3, true, None), Next::Fail { message: m, resume: None } if m.contains("null"))
        );
        assert!(
            matches!(guard.next(3, true, Some("")), Next::Fail { message: m, resume: None } if m.contains("empty"))
        );
    }

    #[test]
    fn any_cursor_seen_before_fails() {
        let mut guard = Guard::starting_at(Some("c0"));
        assert_eq!(guard.next(1, true, Some("c1")), Next::Fetch("c1".into()));
        assert_eq!(guard.next(1, true, Some("c2")), Next::Fetch("c2".into()));
        assert!(
            matches!(guard.next(1, true, Some("c1")), Next::Fail { message: m, resume: None } if m.contains("\"c1\""))
        );
        let mut resumed = Guard::starting_at(Some("c0"));
        assert!(matches!(
            resumed.next(1, true, Some("c0")),
            Next::Fail { .. }
        ));
    }

    #[test]
    fn empty_pages_continue_up_to_the_cap() {
        let mut guard = Guard::default();
        for i in 0..MAX_CONSECUTIVE_EMPTY_PAGES {
            assert_eq!(
                guard.next(0, true, Some(&format!("e{i}"))),
                Next::Fetch(format!("e{i}"))
            );
        }
        assert!(
            matches!(guard.next(0, true, Some("over")), Next::Fail { message: m, resume: Some(r) } if m.contains("empty pages") && r == "over")
        );
    }

    #[test]
    fn a_full_page_resets_the_empty_run() {
        let mut guard = Guard::default();
        for i in 0..MAX_CONSECUTIVE_EMPTY_PAGES {
            guard.next(0, true, Some(&format!("e{i}")));
        }
        assert_eq!(
            guard.next(5, true, Some("full")),
            Next::Fetch("full".into())
        );
        assert_eq!(
            guard.next(0, true, Some("again")),
            Next::Fetch("again".into())
        );
    }
}
