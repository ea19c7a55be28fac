//! The file source: JSON Lines or CSV files, streamed line by line into the core.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use alara_model::fields::sniff_delimiter;
use alara_model::{BatchSink, Fields, Kind, Origin};
use chrono::Utc;

use crate::core::Core;
use crate::{Error, Result};

/// The format of an input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line.
    JsonLines,
    /// CSV with a header row; `,` or `;`.
    Csv,
}

/// Guesses the format: by extension, else by the first non-blank character (`{` is JSON).
pub fn detect_format(path: &Path, first_line: &str) -> Format {
    match path.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase()).as_deref() {
        Some("jsonl" | "ndjson" | "json") => Format::JsonLines,
        Some("csv" | "tsv" | "txt") => Format::Csv,
        _ if first_line.trim_start().starts_with('{') => Format::JsonLines,
        _ => Format::Csv,
    }
}

/// Streams one file of `kind` into the core. Every non-blank line ends up accepted or rejected;
/// the file is never held whole in memory.
pub fn ingest_file<S: BatchSink>(core: &mut Core<S>, kind: Kind, path: &Path) -> Result<()> {
    let file = File::open(path).map_err(|source| Error::Open { path: path.to_path_buf(), source })?;
    ingest_reader(core, kind, path, BufReader::with_capacity(1 << 20, file))
}

/// Longest line taken as one record, as for a Kafka message: a longer one is rejected with its
/// first [`KEPT_BYTES`] and skipped without being held in memory.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// How much of an over-long line the reject keeps.
pub const KEPT_BYTES: usize = 4096;

/// Lines a quoted CSV cell may span before the opening quote is taken for a stray one.
const MAX_QUOTED_LINES: usize = 100;

const BOM: &[u8] = &[0xEF, 0xBB, 0xBF];

/// One line read from the input.
enum Line {
    /// The bytes, end of line included.
    Whole(Vec<u8>),
    /// Longer than [`MAX_LINE_BYTES`]: its first bytes and its length.
    TooLong(Vec<u8>, u64),
}

/// Reads lines, with lines put back first (a stray CSV quote gives back what it swallowed).
struct Lines<R> {
    reader: R,
    back: std::collections::VecDeque<Line>,
    path: std::path::PathBuf,
}

impl<R: BufRead> Lines<R> {
    fn next(&mut self) -> Result<Option<Line>> {
        if let Some(l) = self.back.pop_front() {
            return Ok(Some(l));
        }
        let err = |source| Error::Read { path: self.path.clone(), source };
        let mut buf = Vec::new();
        let n = (&mut self.reader).take(MAX_LINE_BYTES as u64 + 1).read_until(b'\n', &mut buf).map_err(err)?;
        if n == 0 {
            return Ok(None);
        }
        if buf.len() <= MAX_LINE_BYTES || buf.ends_with(b"\n") {
            return Ok(Some(Line::Whole(buf)));
        }
        // Skip the rest of the line without keeping it.
        let mut len = buf.len() as u64;
        buf.truncate(KEPT_BYTES);
        loop {
            let chunk = self.reader.fill_buf().map_err(err)?;
            if chunk.is_empty() {
                break;
            }
            match chunk.iter().position(|b| *b == b'\n') {
                Some(i) => {
                    len += i as u64;
                    self.reader.consume(i + 1);
                    break;
                }
                None => {
                    let k = chunk.len();
                    len += k as u64;
                    self.reader.consume(k);
                }
            }
        }
        Ok(Some(Line::TooLong(buf, len)))
    }
}

/// Streams the content of the file at `path` from `reader` (the decoding of [`ingest_file`],
/// separate so that it can be fuzzed in memory).
pub fn ingest_reader<S: BatchSink>(core: &mut Core<S>, kind: Kind, path: &Path, reader: impl BufRead) -> Result<()> {
    let display = path.display().to_string();
    let origin = |line: u64| Origin::File { path: display.clone(), line };
    let mut lines = Lines { reader, back: Default::default(), path: path.to_path_buf() };
    let mut line_no: u64 = 1;

    // Read the first line to choose the format (and the CSV header); an over-long one cannot
    // tell the format, so it is rejected and the next line is taken as the first.
    let first = loop {
        match lines.next()? {
            None => return Ok(()),
            Some(Line::Whole(l)) => break l,
            Some(Line::TooLong(head, len)) => {
                core.push_reject(kind, &too_long(len), &head, origin(line_no), Utc::now())?;
                line_no += 1;
            }
        }
    };
    let first_line = line_no;
    let first = strip_bom(&first).to_vec();
    let first_text = String::from_utf8_lossy(&first).to_string();
    let format = detect_format(path, &first_text);

    match format {
        Format::JsonLines => {
            let mut next = Some(Line::Whole(first));
            while let Some(line) = next {
                match line {
                    Line::TooLong(head, len) => {
                        core.push_reject(kind, &too_long(len), &head, origin(line_no), Utc::now())?
                    }
                    Line::Whole(line) if line_no > first_line && line.starts_with(BOM) => {
                        core.push_reject(kind, MID_FILE_BOM, trim_eol(&line), origin(line_no), Utc::now())?
                    }
                    Line::Whole(line) if line.iter().all(u8::is_ascii_whitespace) => {}
                    Line::Whole(line) => core.push_json(kind, trim_eol(&line), origin(line_no), Utc::now())?,
                }
                next = lines.next()?;
                line_no += 1;
            }
        }
        Format::Csv => {
            let delimiter = sniff_delimiter(&first_text);
            let header: Vec<String> = split_csv(trim_eol(&first), delimiter)
                .map_err(|e| Error::CsvHeader { path: path.to_path_buf(), reason: e })?
                .into_iter()
                .map(|h| h.trim().to_string())
                .collect();
            if header.iter().any(|h| h == "nir") && core_has_no_key(core) {
                return Err(Error::MissingPseudonymKey { origin: format!("{display}:1 (column 'nir')") });
            }
            let duplicate = duplicate_column(&header);
            while let Some(line) = lines.next()? {
                line_no += 1;
                let start_line = line_no;
                let mut line = match line {
                    Line::TooLong(head, len) => {
                        core.push_reject(kind, &too_long(len), &head, origin(start_line), Utc::now())?;
                        continue;
                    }
                    Line::Whole(l) => l,
                };
                // A quoted cell may hold a newline: keep reading while quotes are unbalanced, up
                // to a bound past which the quote is a stray one and the lines are given back.
                let mut taken = Vec::new();
                while line.iter().filter(|b| **b == b'"').count() % 2 == 1 && taken.len() < MAX_QUOTED_LINES {
                    match lines.next()? {
                        Some(Line::Whole(more)) if line.len() + more.len() <= MAX_LINE_BYTES => {
                            line.extend_from_slice(&more);
                            taken.push(more);
                        }
                        Some(other) => {
                            lines.back.push_front(other);
                            break;
                        }
                        None => break,
                    }
                }
                let unbalanced = line.iter().filter(|b| **b == b'"').count() % 2 == 1;
                if unbalanced && !taken.is_empty() {
                    // Give the swallowed lines back: each is read again as its own row.
                    let first_len = line.len() - taken.iter().map(Vec::len).sum::<usize>();
                    line.truncate(first_len);
                    for l in taken.into_iter().rev() {
                        lines.back.push_front(Line::Whole(l));
                    }
                } else {
                    line_no += taken.len() as u64;
                }
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let raw = trim_eol(&line);
                let refused = if raw.starts_with(BOM) {
                    Some(MID_FILE_BOM.to_string())
                } else if unbalanced {
                    Some("unbalanced double quote: a quoted cell is never closed; check the quotes of this row".into())
                } else {
                    duplicate.clone()
                };
                if let Some(reason) = refused {
                    core.push_reject(kind, &reason, raw, origin(start_line), Utc::now())?;
                    continue;
                }
                let fields = match std::str::from_utf8(raw) {
                    Err(e) => Err(alara_model::DecodeError::Utf8(e.valid_up_to())),
                    Ok(_) => match split_csv(raw, delimiter) {
                        Ok(cells) if cells.iter().map(|c| c.trim()).eq(header.iter().map(String::as_str)) => {
                            core.push_reject(kind, REPEATED_HEADER, raw, origin(start_line), Utc::now())?;
                            continue;
                        }
                        Ok(cells) => Fields::from_csv(&header, &cells),
                        Err(e) => Err(alara_model::DecodeError::Csv(e)),
                    },
                };
                core.push_fields(kind, fields, raw, origin(start_line), Utc::now())?;
            }
        }
    }
    Ok(())
}

const MID_FILE_BOM: &str = "line starts with a byte-order mark (U+FEFF) in the middle of the file: files concatenated? \
     remove the mark (and any repeated header)";

const REPEATED_HEADER: &str = "row repeats the header row: files concatenated? remove the repeated header";

fn too_long(len: u64) -> String {
    format!(
        "line of {len} bytes is longer than the {MAX_LINE_BYTES} bytes a record may have (a missing line break?); \
         the first {KEPT_BYTES} bytes are kept"
    )
}

/// The reason every row of a CSV file is refused when its header names a column twice.
fn duplicate_column(header: &[String]) -> Option<String> {
    header.iter().enumerate().find_map(|(i, h)| {
        let j = header[..i].iter().position(|x| x == h)?;
        Some(format!(
            "the header names column '{}' twice (columns {} and {}): which one holds the value is ambiguous; \
             fix the header",
            alara_model::mask_nir_like(&h.chars().take(40).collect::<String>()),
            j + 1,
            i + 1
        ))
    })
}

fn core_has_no_key<S: BatchSink>(core: &Core<S>) -> bool {
    !core.has_pseudonymizer()
}

fn strip_bom(b: &[u8]) -> &[u8] {
    b.strip_prefix(BOM).unwrap_or(b)
}

fn trim_eol(b: &[u8]) -> &[u8] {
    let mut end = b.len();
    while end > 0 && (b[end - 1] == b'\n' || b[end - 1] == b'\r') {
        end -= 1;
    }
    &b[..end]
}

/// Splits one CSV record (RFC 4180 quoting) with the csv crate.
fn split_csv(raw: &[u8], delimiter: u8) -> std::result::Result<Vec<String>, String> {
    let mut rdr = csv::ReaderBuilder::new().has_headers(false).delimiter(delimiter).flexible(true).from_reader(raw);
    let mut rec = csv::StringRecord::new();
    match rdr.read_record(&mut rec) {
        Ok(true) => Ok(rec.iter().map(str::to_string).collect()),
        Ok(false) => Ok(Vec::new()),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_split_handles_quotes_and_semicolons() {
        assert_eq!(split_csv(br#"a;"b;c";"1,5""#, b';').unwrap(), vec!["a", "b;c", "1,5"]);
        assert_eq!(trim_eol(b"x\r\n"), b"x");
        assert_eq!(strip_bom(b"\xEF\xBB\xBFa"), b"a");
    }

    /// A sink keeping flushes in memory.
    #[derive(Default)]
    struct Memory(Vec<alara_model::Flush>);

    impl BatchSink for Memory {
        type Error = std::io::Error;
        fn write(&mut self, flush: &alara_model::Flush) -> std::result::Result<(), Self::Error> {
            self.0.push(flush.clone());
            Ok(())
        }
    }

    fn core() -> Core<Memory> {
        let key = alara_model::Pseudonymizer::new(b"files-test-key-0123456789".to_vec()).unwrap();
        let config = crate::CoreConfig { max_buffered_rows: usize::MAX };
        Core::new(alara_model::Validator::with_pseudonymizer(Some(key)), Memory::default(), config, "t")
    }

    /// Ingests `text` as a file named `name` and returns the rejects (line, reason) and accepted count.
    fn ingest(name: &str, text: &[u8]) -> (Vec<(u64, String)>, u64) {
        let mut c = core();
        ingest_reader(&mut c, Kind::Readings, Path::new(name), text).unwrap();
        c.flush(Vec::new()).unwrap();
        let rejects = c
            .sink()
            .0
            .iter()
            .flat_map(|f| &f.rejects)
            .map(|r| match &r.origin {
                Origin::File { line, .. } => (*line, r.reason.clone()),
                other => panic!("{other}"),
            })
            .collect();
        (rejects, c.counts().total_accepted())
    }

    #[test]
    fn mid_file_bom_duplicate_columns_repeated_header_and_stray_quotes_are_rejected_by_line() {
        let (r, ok) = ingest("a.jsonl", b"\xEF\xBB\xBF{\"a\":1}\n\xEF\xBB\xBF{\"a\":1}\n");
        assert_eq!(ok, 0);
        assert_eq!(r[0].0, 1, "{r:?}");
        assert!(r[0].1.contains("missing required field"), "{r:?}");
        assert!(r[1].0 == 2 && r[1].1.contains("byte-order mark"), "{r:?}");

        let (r, _) = ingest("b.csv", b"a,b,a\n1,2,3\n");
        assert!(r[0].0 == 2 && r[0].1.contains("names column 'a' twice (columns 1 and 3)"), "{r:?}");

        let (r, _) = ingest("c.csv", b"a;b\n1;2\na;b\n");
        assert!(r.iter().any(|(l, m)| *l == 3 && m.contains("repeats the header")), "{r:?}");

        // A stray quote on line 2 must not swallow the 150 lines after it.
        let mut text = b"a,b\n\"1,2\n".to_vec();
        for i in 0..150 {
            text.extend(format!("{i},x\n").as_bytes());
        }
        let (r, _) = ingest("d.csv", &text);
        assert_eq!(r.len(), 151, "every line is its own reject");
        assert!(r[0].0 == 2 && r[0].1.contains("unbalanced double quote"), "{:?}", &r[..2]);
        assert_eq!(r[150].0, 152);
    }

    #[test]
    fn an_over_long_line_is_rejected_without_being_kept_whole() {
        let mut text = vec![b'{'; MAX_LINE_BYTES + 10];
        text.extend(b"\n{\"x\":1}\n");
        let (r, _) = ingest("e.jsonl", &text);
        assert_eq!(r.len(), 2, "{:?}", r.iter().map(|x| x.0).collect::<Vec<_>>());
        assert!(r[0].0 == 1 && r[0].1.contains(&format!("line of {} bytes", MAX_LINE_BYTES + 10)), "{r:?}");
        assert_eq!(r[1].0, 2);
    }

    /// Arbitrary file contents (and arbitrary Kafka payloads, which take the same `push_json`
    /// path): never a panic, every record accounted for, every reject with a reason and no NIR.
    #[test]
    fn fuzz_file_contents_and_kafka_payloads() {
        use proptest::prelude::*;
        let cases = std::env::var("ALARA_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256);
        let config = proptest::test_runner::Config { cases, failure_persistence: None, ..Default::default() };
        let line = prop_oneof![
            Just(b"reading_id;source;dose_msv\n".to_vec()),
            Just(b"\xEF\xBB\xBF".to_vec()),
            Just(b"\"".to_vec()),
            Just(b"{\"reading_id\":\"r\",\"dose_msv\":\"1,5\"}\n".to_vec()),
            "[a-z0-9;,\" {}:.\r\n-]{0,30}".prop_map(String::into_bytes),
            proptest::collection::vec(any::<u8>(), 0..40),
        ];
        let file = (proptest::sample::select(vec!["f.csv", "f.jsonl", "f"]), proptest::collection::vec(line, 0..12));
        let count = std::sync::atomic::AtomicU64::new(0);
        let mut runner = proptest::test_runner::TestRunner::new(config);
        let result = runner.run(&file, |(name, parts)| {
            count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let text = parts.concat();
            let mut c = core();
            match ingest_reader(&mut c, Kind::Workers, Path::new(name), text.as_slice()) {
                // A header that cannot be read at all is a clear error for the whole file (no
                // row can be told apart); everything else is a row or a reject.
                Ok(()) | Err(Error::CsvHeader { .. }) => {}
                Err(e) => return Err(TestCaseError::fail(e.to_string())),
            }
            let lines = text.split(|b| *b == b'\n').count() as u64;
            let counts = c.counts();
            prop_assert!(counts.total_accepted() + counts.total_rejected() <= lines);
            // The same bytes as one Kafka message.
            c.push_json(
                Kind::Readings,
                &text,
                Origin::Kafka { topic: "t".into(), partition: 0, offset: 0 },
                Utc::now(),
            )
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(
                c.counts().total_accepted() + c.counts().total_rejected(),
                counts.total_accepted() + counts.total_rejected() + 1
            );
            c.flush(Vec::new()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            for r in c.sink().0.iter().flat_map(|f| &f.rejects) {
                prop_assert!(!r.reason.is_empty());
                prop_assert!(!alara_model::contains_nir(&r.reason));
                prop_assert!(!alara_model::contains_nir(&String::from_utf8_lossy(&r.raw)));
                if let Origin::File { line, .. } = r.origin {
                    prop_assert!(line >= 1 && line <= lines);
                }
            }
            Ok(())
        });
        println!("fuzz files_and_kafka_payloads: {} executions", count.load(std::sync::atomic::Ordering::Relaxed));
        result.unwrap();
    }

    #[test]
    fn format_detection() {
        assert_eq!(detect_format(Path::new("x.csv"), "{"), Format::Csv);
        assert_eq!(detect_format(Path::new("x"), "  {\"a\":1}"), Format::JsonLines);
        assert_eq!(detect_format(Path::new("x"), "a;b"), Format::Csv);
    }
}
