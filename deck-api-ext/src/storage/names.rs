//! Local file names for storage items: sanitising and deterministic disambiguation.
//!
//! A storage item's `file_name` is "the original file name as it appeared on the source": it is
//! data from a third party and may contain anything. Before it becomes a path, [`sanitize`] turns
//! it into a single, portable path component that cannot leave the target directory, and
//! [`assign_names`] gives every item of a run a distinct name.
//!
//! The rules are the same on every platform, so a pull produces the same names on Linux, macOS
//! and Windows (and a directory pulled on one can be re-pulled on another without duplicates).

use std::collections::HashSet;

/// Longest sanitised name, in bytes. File systems allow 255; this leaves room for a
/// disambiguating ` (stor_…)` suffix and the temporary-file decoration used while downloading.
pub const MAX_NAME_BYTES: usize = 160;

/// Longest storage id used in a disambiguating suffix, in bytes.
const MAX_ID_BYTES: usize = 48;

/// An extension longer than this is treated as part of the name when truncating or
/// disambiguating (`report.final-version-for-review` has no real extension).
const MAX_EXTENSION_BYTES: usize = 16;

/// Characters Windows forbids in names (besides control characters and separators).
const FORBIDDEN: &[char] = &['<', '>', ':', '"', '|', '?', '*'];

/// Device names Windows reserves, with or without an extension, in any case.
const RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM0", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7",
    "COM8", "COM9", "COM¹", "COM²", "COM³", "LPT0", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6",
    "LPT7", "LPT8", "LPT9", "LPT¹", "LPT²", "LPT³",
];

/// Turns `name` into one safe, portable path component; `fallback` (normally the storage id) is
/// used when nothing usable is left.
///
/// - path separators (`/`, `\`), control characters and the characters Windows forbids
///   (`< > : " | ? *`) become `_`, so `../x` becomes `.._x` and `/etc/passwd` `_etc_passwd`;
/// - leading spaces and trailing dots and spaces are removed (Windows drops them silently), so
///   `.` and `..` become empty;
/// - an empty result becomes `fallback` (itself sanitised; `file` if that is empty too);
/// - Windows device names (`CON`, `nul.txt`, `COM1.log`, ...) get a `_` prefix;
/// - names longer than [`MAX_NAME_BYTES`] are shortened, keeping a short extension.
pub fn sanitize(name: &str, fallback: &str) -> String {
    // One byte is kept free for the `_` a reserved name gets.
    let shorten = |text: &str| truncate(&clean(text), MAX_NAME_BYTES - 1);
    let mut safe = shorten(name);
    if safe.is_empty() {
        safe = shorten(fallback);
    }
    if safe.is_empty() {
        safe = "file".to_owned();
    }
    if is_reserved(&safe) {
        safe.insert(0, '_');
    }
    safe
}

/// Replaces unsafe characters and trims what Windows would trim.
fn clean(name: &str) -> String {
    let replaced: String = name
        .chars()
        .map(|c| {
            if c.is_control() || c == '/' || c == '\\' || FORBIDDEN.contains(&c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    replaced
        .trim_start_matches(char::is_whitespace)
        .trim_end_matches(['.', ' '])
        .trim_end_matches(char::is_whitespace)
        .trim_end_matches(['.', ' '])
        .to_owned()
}

/// Whether Windows treats `name` as a device: its part before the first dot, without trailing
/// spaces, is a reserved name in any case.
fn is_reserved(name: &str) -> bool {
    let base = name.split('.').next().unwrap_or("").trim_end();
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(base))
}

/// Splits `name` into stem and extension (`("report", Some("pdf"))`), treating a leading dot
/// (`.bashrc`) and a long extension as part of the stem.
fn split_extension(name: &str) -> (&str, Option<&str>) {
    match name.rsplit_once('.') {
        Some((stem, ext))
            if !stem.is_empty() && !ext.is_empty() && ext.len() <= MAX_EXTENSION_BYTES =>
        {
            (stem, Some(ext))
        }
        _ => (name, None),
    }
}

/// Shortens `name` to at most `max` bytes on a character boundary, keeping a short extension.
fn truncate(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_owned();
    }
    let (stem, ext) = split_extension(name);
    let room = max - ext.map_or(0, |e| e.len() + 1);
    let mut end = room.min(stem.len());
    while !stem.is_char_boundary(end) {
        end -= 1;
    }
    let stem = stem[..end].trim_end_matches(['.', ' ']);
    match ext {
        Some(ext) => format!("{stem}.{ext}"),
        None => stem.to_owned(),
    }
}

/// Inserts a suffix before the extension: `statement.pdf` + ` (stor_b)` → `statement (stor_b).pdf`.
fn with_suffix(name: &str, suffix: &str) -> String {
    match split_extension(name) {
        (stem, Some(ext)) => format!("{stem}{suffix}.{ext}"),
        (stem, None) => format!("{stem}{suffix}"),
    }
}

/// Assigns every item a distinct, sanitised local name, in the order given (Deck's listing order,
/// which is stable, so the result is deterministic).
///
/// The first item with a given name keeps it; each later one gets its storage id before the
/// extension (`statement.pdf`, `statement (stor_a4b5c6).pdf`). Names are compared ignoring case,
/// because the default file systems of Windows and macOS do. `items` yields
/// `(storage_id, file_name)`.
pub fn assign_names<'a, I>(items: I) -> Vec<String>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut taken: HashSet<String> = HashSet::new();
    let mut names = Vec::new();
    for (id, file_name) in items {
        let base = sanitize(file_name, id);
        let mut candidate = base.clone();
        if taken.contains(&candidate.to_lowercase()) {
            let id = truncate(&clean(id), MAX_ID_BYTES);
            candidate = with_suffix(&base, &format!(" ({id})"));
            let mut n = 2;
            while taken.contains(&candidate.to_lowercase()) {
                candidate = with_suffix(&base, &format!(" ({id}) ({n})"));
                n += 1;
            }
        }
        taken.insert(candidate.to_lowercase());
        names.push(candidate);
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Component, Path};

    #[test]
    fn traversal_and_absolute_names_stay_inside() {
        assert_eq!(sanitize("../x", "stor_1"), ".._x");
        assert_eq!(sanitize("../../etc/passwd", "stor_1"), ".._.._etc_passwd");
        assert_eq!(sanitize("/abs", "stor_1"), "_abs");
        assert_eq!(sanitize("a/b", "stor_1"), "a_b");
        assert_eq!(sanitize("a\\b", "stor_1"), "a_b");
        assert_eq!(sanitize("C:\\Windows\\x.dll", "stor_1"), "C__Windows_x.dll");
        assert_eq!(sanitize("..\\..\\x", "stor_1"), ".._.._x");
    }

    #[test]
    fn empty_and_dot_names_fall_back_to_the_id() {
        assert_eq!(sanitize("", "stor_1"), "stor_1");
        assert_eq!(sanitize(".", "stor_1"), "stor_1");
        assert_eq!(sanitize("..", "stor_1"), "stor_1");
        assert_eq!(sanitize(" . . ", "stor_1"), "stor_1");
        assert_eq!(sanitize("", ""), "file");
        assert_eq!(sanitize("", "../.."), ".._");
    }

    #[test]
    fn control_and_forbidden_characters_are_replaced() {
        assert_eq!(sanitize("a\0b\nc\u{7f}.pdf", "s"), "a_b_c_.pdf");
        assert_eq!(
            sanitize("what?<is>:\"this\"|*.txt", "s"),
            "what__is___this___.txt"
        );
    }

    #[test]
    fn trailing_dots_and_spaces_are_trimmed() {
        assert_eq!(sanitize("report.pdf. . ", "s"), "report.pdf");
        assert_eq!(sanitize("  report.pdf", "s"), "report.pdf");
        assert_eq!(sanitize(".bashrc", "s"), ".bashrc");
    }

    #[test]
    fn windows_reserved_names_are_prefixed() {
        for (name, expected) in [
            ("CON", "_CON"),
            ("con", "_con"),
            ("nul.txt", "_nul.txt"),
            ("COM1.log", "_COM1.log"),
            ("lpt9.tar.gz", "_lpt9.tar.gz"),
            ("AUX .pdf", "_AUX .pdf"),
            ("com¹", "_com¹"),
            ("CONSOLE.txt", "CONSOLE.txt"),
            ("COM10", "COM10"),
        ] {
            assert_eq!(sanitize(name, "s"), expected, "{name}");
        }
    }

    #[test]
    fn overlong_names_are_shortened_keeping_the_extension() {
        let long = format!("{}.pdf", "é".repeat(200));
        let short = sanitize(&long, "s");
        assert!(short.len() <= MAX_NAME_BYTES, "{}", short.len());
        assert!(short.ends_with("é.pdf"), "{short}");
        let no_ext = sanitize(&"x".repeat(300), "s");
        assert!(no_ext.len() <= MAX_NAME_BYTES && no_ext.bytes().all(|b| b == b'x'));
        // Shortening cannot produce a device name or an empty name.
        assert_eq!(sanitize(&format!("CON{}x", " ".repeat(300)), "s"), "_CON");
        assert_eq!(sanitize(&format!(".{}x", " .".repeat(300)), "s"), ".x");
    }

    #[test]
    fn collisions_get_the_storage_id_deterministically() {
        let items = [
            ("stor_a", "statement.pdf"),
            ("stor_b", "statement.pdf"),
            ("stor_c", "Statement.PDF"),
            ("stor_d", "statement (stor_e).pdf"),
            ("stor_e", "statement.pdf"),
            ("stor_f", "notes"),
            ("stor_g", "notes"),
            ("stor_h", ""),
            ("stor_i", "stor_h"),
        ];
        let names = assign_names(items.iter().copied());
        assert_eq!(
            names,
            [
                "statement.pdf",
                "statement (stor_b).pdf",
                "Statement (stor_c).PDF",
                "statement (stor_e).pdf",
                "statement (stor_e) (2).pdf",
                "notes",
                "notes (stor_g)",
                "stor_h",
                "stor_h (stor_i)",
            ]
        );
        assert_eq!(assign_names(items.iter().copied()), names);
    }

    proptest::proptest! {
        #[test]
        fn any_name_is_a_single_normal_component(name in "(?s).{0,300}", id in "[a-z_0-9./]{0,20}") {
            let safe = sanitize(&name, &id);
            proptest::prop_assert!(!safe.is_empty());
            proptest::prop_assert!(safe.len() <= MAX_NAME_BYTES);
            let mut components = Path::new(&safe).components();
            proptest::prop_assert!(matches!(components.next(), Some(Component::Normal(_))), "{:?}", safe);
            proptest::prop_assert!(components.next().is_none(), "{:?}", safe);
            proptest::prop_assert!(!safe.ends_with('.') && !safe.ends_with(' '));
            proptest::prop_assert!(!is_reserved(&safe));
        }
    }
}
