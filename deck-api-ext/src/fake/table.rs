//! The one generic resource store and its list code: rows keyed by ID in creation order, and
//! the paging and filtering every list endpoint shares (opaque keyset cursors, `limit`, filters
//! declared as data, newest-first or oldest-first order).

use super::clock::parse_micros;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};

/// A row's position in a list: `(instant, sequence number)`. Oldest-first lists use
/// `(0, seq)`; newest-first lists use `(created_at in ms, seq)`, compared in reverse.
pub(crate) type Key = (i64, u64);

/// Rows of one kind in creation order, found by ID.
#[derive(Debug)]
pub(crate) struct Table<T> {
    rows: BTreeMap<u64, T>,
    ids: HashMap<String, u64>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Self {
            rows: BTreeMap::new(),
            ids: HashMap::new(),
        }
    }
}

impl<T> Table<T> {
    /// Adds a row with a sequence number that is unique across the store; `false` (and nothing
    /// stored) if the ID is taken.
    pub(crate) fn insert(&mut self, id: String, seq: u64, row: T) -> bool {
        if self.ids.contains_key(&id) {
            return false;
        }
        self.ids.insert(id, seq);
        self.rows.insert(seq, row);
        true
    }

    pub(crate) fn get(&self, id: &str) -> Option<&T> {
        self.ids.get(id).and_then(|seq| self.rows.get(seq))
    }

    pub(crate) fn get_mut(&mut self, id: &str) -> Option<&mut T> {
        let seq = self.ids.get(id)?;
        self.rows.get_mut(seq)
    }

    pub(crate) fn contains(&self, id: &str) -> bool {
        self.ids.contains_key(id)
    }

    pub(crate) fn remove(&mut self, id: &str) -> Option<T> {
        let seq = self.ids.remove(id)?;
        self.rows.remove(&seq)
    }

    /// Rows in creation order.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &T> {
        self.rows.values()
    }
}

/// A JSON resource: its body as the API renders it (without `request_id`), its place in
/// creation order and its creation instant.
#[derive(Clone, Debug)]
pub(crate) struct Doc {
    pub(crate) seq: u64,
    pub(crate) created_ms: i64,
    pub(crate) body: Map<String, Value>,
}

impl Doc {
    pub(crate) fn id(&self) -> &str {
        self.body
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// A string field, if present and a string.
    pub(crate) fn str(&self, field: &str) -> Option<&str> {
        self.body.get(field).and_then(Value::as_str)
    }
}

/// The order of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Order {
    /// Creation order (agents, sources, credentials, tasks, event destinations, storage items).
    Oldest,
    /// `created_at` descending, then sequence number descending (events, task runs, deliveries).
    Newest,
}

impl Order {
    /// The key of a row created at `created_ms` with sequence number `seq`.
    pub(crate) fn key(self, created_ms: i64, seq: u64) -> Key {
        match self {
            Self::Oldest => (0, seq),
            Self::Newest => (created_ms, seq),
        }
    }

    /// A key before every row (what the first page starts after).
    pub(crate) fn start(self) -> Key {
        match self {
            Self::Oldest => (0, 0),
            Self::Newest => (i64::MAX, u64::MAX),
        }
    }

    /// Whether a row with key `key` comes after the row with key `after`.
    fn follows(self, key: Key, after: Key) -> bool {
        match self {
            Self::Oldest => key > after,
            Self::Newest => key < after,
        }
    }
}

/// How a filter compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Match {
    /// The field equals the parameter (the first value, when sent twice).
    Eq,
    /// The field equals one of the parameter's values (repeated keys: `?status=a&status=b`).
    AnyOf,
    /// The field, a timestamp, is strictly after the parameter.
    After,
    /// The field, a timestamp, is strictly before the parameter.
    Before,
}

/// One filter of a list endpoint: query parameter `param` compared with field `field` of each
/// row as the list renders it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Filter {
    pub(crate) param: &'static str,
    pub(crate) field: &'static str,
    pub(crate) how: Match,
}

impl Filter {
    pub(crate) const fn new(param: &'static str, field: &'static str, how: Match) -> Self {
        Self { param, field, how }
    }
}

#[derive(Clone, Debug)]
enum Cond {
    OneOf(Vec<String>),
    After(i64),
    Before(i64),
}

/// The filters a request sent, parsed.
#[derive(Clone, Debug, Default)]
pub(crate) struct Filters {
    conds: Vec<(&'static str, Cond)>,
    /// `name=value` pairs in a canonical order, for the cursor's scope.
    canonical: Vec<(String, String)>,
}

/// A filter value that does not parse: the parameter's name and the value.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct BadFilter {
    pub(crate) param: &'static str,
    pub(crate) value: String,
}

impl Filters {
    /// Reads `declared` from the decoded query pairs. Empty values count as absent (as
    /// ASP.NET binds them); `cancelling` is read as `canceling` (Deck spells the status both
    /// ways).
    pub(crate) fn parse(
        declared: &[Filter],
        pairs: &[(String, String)],
    ) -> Result<Self, BadFilter> {
        let mut out = Self::default();
        for filter in declared {
            let mut values: Vec<&str> = pairs
                .iter()
                .filter(|(n, v)| n == filter.param && !v.trim().is_empty())
                .map(|(_, v)| v.as_str())
                .collect();
            if values.is_empty() {
                continue;
            }
            if filter.how != Match::AnyOf {
                values.truncate(1);
            }
            for value in &values {
                out.canonical
                    .push((filter.param.to_owned(), (*value).to_owned()));
            }
            let cond = match filter.how {
                Match::Eq | Match::AnyOf => Cond::OneOf(
                    values
                        .iter()
                        .map(|v| match *v {
                            "cancelling" => "canceling".to_owned(),
                            other => other.to_owned(),
                        })
                        .collect(),
                ),
                Match::After | Match::Before => {
                    let at = parse_micros(values[0]).ok_or_else(|| BadFilter {
                        param: filter.param,
                        value: values[0].to_owned(),
                    })?;
                    if filter.how == Match::After {
                        Cond::After(at)
                    } else {
                        Cond::Before(at)
                    }
                }
            };
            out.conds.push((filter.field, cond));
        }
        out.canonical.sort();
        Ok(out)
    }

    /// Whether a rendered row passes every filter.
    pub(crate) fn matches(&self, row: &Value) -> bool {
        self.conds.iter().all(|(field, cond)| {
            let value = row.get(*field);
            match cond {
                Cond::OneOf(allowed) => value
                    .and_then(Value::as_str)
                    .is_some_and(|v| allowed.iter().any(|a| a == v)),
                Cond::After(at) => timestamp(value).is_some_and(|t| t > *at),
                Cond::Before(at) => timestamp(value).is_some_and(|t| t < *at),
            }
        })
    }

    /// The filters as `a=1&b=2` in a canonical order (empty without filters).
    pub(crate) fn canonical(&self) -> String {
        self.canonical
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    }
}

fn timestamp(value: Option<&Value>) -> Option<i64> {
    value.and_then(Value::as_str).and_then(parse_micros)
}

/// What a list request asked for.
#[derive(Clone, Debug)]
pub(crate) struct ListQuery {
    pub(crate) limit: usize,
    /// The key the cursor resumes after (`None`: the first page).
    pub(crate) after: Option<Key>,
    /// The cursor as sent (non-empty).
    pub(crate) cursor: Option<String>,
    pub(crate) filters: Filters,
    /// The path and the canonical filters: what cursors are bound to.
    pub(crate) scope: String,
}

/// One page of rendered rows.
#[derive(Debug, Default)]
pub(crate) struct Page {
    pub(crate) data: Vec<Value>,
    /// The key of the last row returned.
    pub(crate) last: Option<Key>,
    pub(crate) has_more: bool,
}

/// Pages `rows`: the rows after `query.after` in `order` that pass the filters (applied to
/// `view`, the row as the list renders it), at most `query.limit` of them. Only the rows of
/// the page (and one more, to know `has_more`) are rendered past the filters.
pub(crate) fn page<'a, T: 'a>(
    rows: impl Iterator<Item = &'a T>,
    order: Order,
    key: impl Fn(&T) -> Key,
    view: impl Fn(&T) -> Value,
    query: &ListQuery,
) -> Page {
    let mut keyed: Vec<(Key, &T)> = rows
        .map(|row| (key(row), row))
        .filter(|(k, _)| query.after.is_none_or(|after| order.follows(*k, after)))
        .collect();
    match order {
        Order::Oldest => keyed.sort_by_key(|(k, _)| *k),
        Order::Newest => keyed.sort_by_key(|(k, _)| std::cmp::Reverse(*k)),
    }
    let mut out = Page::default();
    for (k, row) in keyed {
        let rendered = view(row);
        if !query.filters.matches(&rendered) {
            continue;
        }
        if out.data.len() >= query.limit {
            out.has_more = true;
            break;
        }
        out.data.push(rendered);
        out.last = Some(k);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    const FILTERS: &[Filter] = &[
        Filter::new("status", "status", Match::AnyOf),
        Filter::new("agent_id", "agent_id", Match::Eq),
        Filter::new("created_after", "created_at", Match::After),
        Filter::new("created_before", "created_at", Match::Before),
    ];

    fn query(filters: Filters, limit: usize, after: Option<Key>) -> ListQuery {
        ListQuery {
            limit,
            after,
            cursor: None,
            scope: String::new(),
            filters,
        }
    }

    #[test]
    fn filters_parse_match_and_canonicalise() {
        let f = Filters::parse(
            FILTERS,
            &pairs(&[
                ("status", "running"),
                ("limit", "5"),
                ("status", "cancelling"),
                ("agent_id", "agt_1"),
                ("agent_id", "agt_2"),
                ("created_after", "2025-01-15T09:30:00Z"),
            ]),
        )
        .unwrap();
        let row = |status: &str, agent: &str, at: &str| json!({ "status": status, "agent_id": agent, "created_at": at });
        assert!(f.matches(&row("running", "agt_1", "2025-01-15T09:30:00.001Z")));
        assert!(f.matches(&row("canceling", "agt_1", "2025-01-15T09:31:00Z")));
        assert!(
            !f.matches(&row("running", "agt_1", "2025-01-15T09:30:00Z")),
            "strict"
        );
        assert!(
            !f.matches(&row("running", "agt_2", "2025-01-15T09:31:00Z")),
            "first value"
        );
        assert!(!f.matches(&row("queued", "agt_1", "2025-01-15T09:31:00Z")));
        assert!(!f.matches(&json!({ "status": "running", "agent_id": "agt_1" })));
        assert_eq!(
            f.canonical(),
            "agent_id=agt_1&created_after=2025-01-15T09:30:00Z&status=cancelling&status=running"
        );
        assert_eq!(
            Filters::parse(FILTERS, &pairs(&[("created_before", "soon")])).unwrap_err(),
            BadFilter {
                param: "created_before",
                value: "soon".into()
            }
        );
        let none = Filters::parse(FILTERS, &pairs(&[("status", ""), ("x", "y")])).unwrap();
        assert!(none.matches(&json!({})));
        assert_eq!(none.canonical(), "");
    }

    #[test]
    fn pages_follow_keys_in_both_orders() {
        let rows: Vec<(i64, u64)> = vec![(10, 1), (30, 2), (20, 3), (30, 4), (5, 5)];
        let keyed = |order: Order| move |r: &(i64, u64)| order.key(r.0, r.1);
        let view = |r: &(i64, u64)| json!({ "seq": r.1 });
        let seqs =
            |p: &Page| -> Vec<u64> { p.data.iter().map(|v| v["seq"].as_u64().unwrap()).collect() };

        let first = page(
            rows.iter(),
            Order::Newest,
            keyed(Order::Newest),
            view,
            &query(Filters::default(), 2, None),
        );
        assert_eq!(seqs(&first), [4, 2]);
        assert!(first.has_more);
        let second = page(
            rows.iter(),
            Order::Newest,
            keyed(Order::Newest),
            view,
            &query(Filters::default(), 2, first.last),
        );
        assert_eq!(seqs(&second), [3, 1]);
        let third = page(
            rows.iter(),
            Order::Newest,
            keyed(Order::Newest),
            view,
            &query(Filters::default(), 2, second.last),
        );
        assert_eq!(seqs(&third), [5]);
        assert!(!third.has_more);

        let oldest = page(
            rows.iter(),
            Order::Oldest,
            keyed(Order::Oldest),
            view,
            &query(Filters::default(), 3, Some((0, 2))),
        );
        assert_eq!(seqs(&oldest), [3, 4, 5]);
        assert!(!oldest.has_more);
    }

    #[test]
    fn tables_find_rows_by_id_in_creation_order() {
        let mut t = Table::default();
        assert!(t.insert("b".into(), 2, "second"));
        assert!(t.insert("a".into(), 1, "first"));
        assert!(!t.insert("a".into(), 3, "again"));
        assert_eq!(t.iter().copied().collect::<Vec<_>>(), ["first", "second"]);
        assert_eq!(t.get("b"), Some(&"second"));
        assert_eq!(t.remove("b"), Some("second"));
        assert!(!t.contains("b"));
        assert_eq!(t.get_mut("a").map(|r| *r), Some("first"));
    }
}
