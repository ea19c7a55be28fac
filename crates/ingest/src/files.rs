//! The file source: JSON Lines or CSV files, streamed line by line into the core.

use std::fs::File;
use std::io::{BufRead, BufReader};
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
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let display = path.display().to_string();
    let mut line_no: u64 = 0;
    let mut buf = Vec::new();

    // Read the first line to choose the format (and the CSV header).
    let first = read_line(&mut reader, &mut buf, path)?;
    let Some(first) = first else { return Ok(()) };
    line_no += 1;
    let first = strip_bom(&first).to_vec();
    let first_text = String::from_utf8_lossy(&first).to_string();
    let format = detect_format(path, &first_text);

    match format {
        Format::JsonLines => {
            let mut next = Some(first);
            while let Some(line) = next {
                if !line.iter().all(u8::is_ascii_whitespace) {
                    let origin = Origin::File { path: display.clone(), line: line_no };
                    core.push_json(kind, trim_eol(&line), origin, Utc::now())?;
                }
                next = read_line(&mut reader, &mut buf, path)?;
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
            loop {
                let Some(mut line) = read_line(&mut reader, &mut buf, path)? else {
                    break;
                };
                line_no += 1;
                let start_line = line_no;
                // A quoted cell may hold a newline: keep reading while quotes are unbalanced.
                while line.iter().filter(|b| **b == b'"').count() % 2 == 1 {
                    match read_line(&mut reader, &mut buf, path)? {
                        Some(more) => {
                            line.extend_from_slice(&more);
                            line_no += 1;
                        }
                        None => break,
                    }
                }
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let raw = trim_eol(&line);
                let origin = Origin::File { path: display.clone(), line: start_line };
                let fields = match std::str::from_utf8(raw) {
                    Err(_) => Err(alara_model::DecodeError::Utf8),
                    Ok(_) => match split_csv(raw, delimiter) {
                        Ok(cells) => Fields::from_csv(&header, &cells),
                        Err(e) => Err(alara_model::DecodeError::Csv(e)),
                    },
                };
                core.push_fields(kind, fields, raw, origin, Utc::now())?;
            }
        }
    }
    Ok(())
}

fn core_has_no_key<S: BatchSink>(core: &Core<S>) -> bool {
    !core.has_pseudonymizer()
}

fn read_line(reader: &mut impl BufRead, buf: &mut Vec<u8>, path: &Path) -> Result<Option<Vec<u8>>> {
    buf.clear();
    let n = reader.read_until(b'\n', buf).map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
    if n == 0 { Ok(None) } else { Ok(Some(buf.clone())) }
}

fn strip_bom(b: &[u8]) -> &[u8] {
    b.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(b)
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

    #[test]
    fn format_detection() {
        assert_eq!(detect_format(Path::new("x.csv"), "{"), Format::Csv);
        assert_eq!(detect_format(Path::new("x"), "  {\"a\":1}"), Format::JsonLines);
        assert_eq!(detect_format(Path::new("x"), "a;b"), Format::Csv);
    }
}
