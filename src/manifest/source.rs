//! The checks every input passes before a parser sees it, and the split of a file into YAML documents.
//!
//! Two things are refused up front because the two parsers (and the editors people use) disagree about
//! them: bytes that are not UTF-8, and a carriage return that is not followed by a line feed.
//!
//! The split exists for speed: a 1 MB multi-document file takes tens of milliseconds to parse, yet a
//! model URI sits in a handful of its documents. YAML documents are independent (anchors, tags and
//! directives are scoped to one document), and a line that starts with `---` followed by a blank or the
//! end of the line is always a document marker (YAML 1.2, `c-forbidden`: no scalar may hold one at the
//! start of a line). So the file is cut at those lines and only the pieces that can hold a target are
//! parsed. Files with directives (`%YAML`, `%TAG`) or document end markers (`...`) are not cut at all:
//! there a directive belongs to the next piece, which the cut would get wrong.

use std::ops::Range;
use std::sync::LazyLock;

use memchr::memmem;

use super::EditError;

/// The UTF-8 byte-order mark.
pub const BOM: &str = "\u{feff}";

/// Checks that `bytes` are UTF-8 text without lone CR line breaks, and returns the text.
pub fn check(bytes: &[u8]) -> Result<&str, EditError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let offset = e.valid_up_to();
        EditError::NotUtf8 {
            line: line_of(bytes, offset),
            offset,
        }
    })?;
    for cr in memchr::memchr_iter(b'\r', bytes) {
        if bytes.get(cr + 1) != Some(&b'\n') {
            return Err(EditError::LoneCr {
                line: line_of(bytes, cr),
            });
        }
    }
    Ok(text)
}

/// The 1-based line of a byte offset.
pub fn line_of(bytes: &[u8], offset: usize) -> usize {
    memchr::memchr_iter(b'\n', &bytes[..offset.min(bytes.len())]).count() + 1
}

/// A piece of a file that holds at most one YAML document (or, when the file could not be cut, all of
/// them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// Its bytes in the file; starts at the start of a line.
    pub range: Range<usize>,
    /// The number of lines before it.
    pub lines_before: usize,
    /// The index in the file of its first document.
    pub first_document: usize,
    /// Whether it may hold a document (`---` piece, or a first piece with content). Unknown (`true`)
    /// for a file that was not cut.
    pub has_document: bool,
    /// True when the whole file is one piece because it could not be cut safely.
    pub whole: bool,
}

/// Cuts `text` into pieces at `---` document markers (see the module doc).
pub fn split(text: &str) -> Vec<Piece> {
    let bytes = text.as_bytes();
    if has_line_starting_with(bytes, b"%") || marker_lines(bytes, b"...").next().is_some() {
        return vec![whole(text)];
    }
    let mut starts: Vec<usize> = vec![0];
    starts.extend(marker_lines(bytes, b"---").filter(|&s| s != 0));
    let mut pieces = Vec::with_capacity(starts.len());
    let mut lines_before = 0;
    let mut documents = 0;
    for (i, &start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(bytes.len());
        let slice = &bytes[start..end];
        let has_document = if slice.starts_with(b"---") {
            true
        } else {
            has_content(slice)
        };
        pieces.push(Piece {
            range: start..end,
            lines_before,
            first_document: documents,
            has_document,
            whole: false,
        });
        if has_document {
            documents += 1;
        }
        lines_before += memchr::memchr_iter(b'\n', slice).count();
    }
    pieces
}

/// The whole text as one piece.
pub fn whole(text: &str) -> Piece {
    Piece {
        range: 0..text.len(),
        lines_before: 0,
        first_document: 0,
        has_document: true,
        whole: true,
    }
}

/// Offsets of the lines that start with `marker` followed by a blank, a line break or the end.
fn marker_lines<'a>(bytes: &'a [u8], marker: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    let at_start = bytes.starts_with(marker).then_some(0);
    let mut needle = Vec::with_capacity(marker.len() + 1);
    needle.push(b'\n');
    needle.extend_from_slice(marker);
    let rest: Vec<usize> = memmem::find_iter(bytes, &needle).map(|i| i + 1).collect();
    at_start.into_iter().chain(rest).filter(move |&start| {
        matches!(
            bytes.get(start + marker.len()),
            None | Some(b' ' | b'\t' | b'\r' | b'\n')
        )
    })
}

fn has_line_starting_with(bytes: &[u8], prefix: &[u8]) -> bool {
    let body = bytes.strip_prefix(BOM.as_bytes()).unwrap_or(bytes);
    if body.starts_with(prefix) {
        return true;
    }
    let mut needle = vec![b'\n'];
    needle.extend_from_slice(prefix);
    memmem::find(bytes, &needle).is_some()
}

/// Whether a piece without a `---` marker holds anything but blanks, comments and a byte-order mark.
fn has_content(slice: &[u8]) -> bool {
    let slice = slice.strip_prefix(BOM.as_bytes()).unwrap_or(slice);
    slice.split(|&b| b == b'\n').any(|line| {
        let trimmed = line
            .iter()
            .position(|&b| !matches!(b, b' ' | b'\t' | b'\r'))
            .map(|i| &line[i..]);
        matches!(trimmed, Some(rest) if !rest.starts_with(b"#"))
    })
}

static STORAGE_URI: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(b"storageUri"));
static MODEL_URI: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(b"modelUri"));
/// Its URI fields are called `uri`, a word too common to search for; the kind is searched instead.
static LLM_ISVC: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(b"LLMInferenceService"));
static MARKER: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(super::marker::MARKER_KEY.as_bytes()));

/// Whether bytes can hold a model URI field of a known kind or a marker: the cheap byte test that
/// `targets` also uses.
pub fn may_hold_target(bytes: &[u8]) -> bool {
    STORAGE_URI.find(bytes).is_some()
        || MODEL_URI.find(bytes).is_some()
        || LLM_ISVC.find(bytes).is_some()
        || may_hold_marker(bytes)
}

/// Whether bytes can hold a marker (`$modelbump`).
pub fn may_hold_marker(bytes: &[u8]) -> bool {
    MARKER.find(bytes).is_some()
}

/// For each piece, whether it can hold a model URI field; one pass over the text per word.
pub fn pieces_holding_targets(text: &str, pieces: &[Piece]) -> Vec<bool> {
    let mut mask = vec![false; pieces.len()];
    for finder in [&*STORAGE_URI, &*MODEL_URI, &*LLM_ISVC] {
        mark(&mut mask, pieces, finder.find_iter(text.as_bytes()));
    }
    mask
}

/// For each piece, whether it contains `needle`; one pass over the text.
pub fn pieces_containing(text: &str, pieces: &[Piece], needle: &[u8]) -> Vec<bool> {
    let mut mask = vec![false; pieces.len()];
    if needle.len() == 1 {
        mark(
            &mut mask,
            pieces,
            memchr::memchr_iter(needle[0], text.as_bytes()),
        );
    } else {
        mark(
            &mut mask,
            pieces,
            memmem::find_iter(text.as_bytes(), needle),
        );
    }
    mask
}

/// Marks the pieces that hold the given offsets. A match never spans two pieces: pieces are cut at
/// line starts and no needle holds a line break.
fn mark(mask: &mut [bool], pieces: &[Piece], offsets: impl Iterator<Item = usize>) {
    for at in offsets {
        let i = pieces
            .partition_point(|p| p.range.start <= at)
            .saturating_sub(1);
        if let Some(m) = mask.get_mut(i) {
            *m = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bytes_that_are_not_utf8_with_the_line() {
        let err = check(b"a: 1\nb: \xff\n").unwrap_err();
        assert_eq!(err, EditError::NotUtf8 { line: 2, offset: 8 });
    }

    #[test]
    fn refuses_a_lone_carriage_return_but_not_crlf() {
        assert!(check(b"a: 1\r\nb: 2\r\n").is_ok());
        assert_eq!(
            check(b"a: 1\r\nb: 2\rc: 3\n").unwrap_err(),
            EditError::LoneCr { line: 2 }
        );
        assert_eq!(check(b"a: 1\r").unwrap_err(), EditError::LoneCr { line: 1 });
    }

    #[test]
    fn cuts_at_document_markers_only() {
        let text = "# head\n---\na: 1\n--- # x\nb: '---'\nc: |\n  ---\n---\n";
        let pieces = split(text);
        let ranges: Vec<&str> = pieces.iter().map(|p| &text[p.range.clone()]).collect();
        assert_eq!(
            ranges,
            [
                "# head\n",
                "---\na: 1\n",
                "--- # x\nb: '---'\nc: |\n  ---\n",
                "---\n"
            ]
        );
        let docs: Vec<(usize, bool, usize)> = pieces
            .iter()
            .map(|p| (p.first_document, p.has_document, p.lines_before))
            .collect();
        assert_eq!(
            docs,
            [(0, false, 0), (0, true, 1), (1, true, 3), (2, true, 7)]
        );
    }

    #[test]
    fn a_first_piece_with_content_is_a_document() {
        let pieces = split("\u{feff}a: 1\n---\nb: 2\n");
        assert!(pieces[0].has_document);
        assert_eq!(pieces[1].first_document, 1);
        assert!(!split("---x: 1\n").iter().any(|p| p.range.start != 0));
    }

    #[test]
    fn files_with_directives_or_end_markers_are_not_cut() {
        assert!(split("%YAML 1.2\n---\na: 1\n---\nb: 2\n")[0].whole);
        assert!(split("a: 1\n...\n---\nb: 2\n")[0].whole);
        assert_eq!(split("a: 1\n---\nb: 2\n").len(), 2);
    }
}
