//! The three record files and their exact line counts.
//!
//! Each file is written to `NAME.tmp` through a `BufWriter` and renamed into place when complete,
//! so a reader never sees half a data set. Counts are kept while writing (never estimated): a
//! line is either valid (and then either a new reading identity or a re-send of one) or one of
//! the deliberately invalid lines, whose line numbers go to the manifest.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::{Error, InvalidLine};

/// One line of readings.jsonl, fields named as in the contract. Optional fields that are absent
/// are omitted rather than written as null.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ReadingLine {
    pub reading_id: String,
    pub revision: u32,
    pub source: &'static str,
    pub worker_id: String,
    pub employer_siret: String,
    pub site: &'static str,
    pub department: &'static str,
    pub dosimeter_id: String,
    pub monitoring: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub laterality: Option<&'static str>,
    pub quantity: &'static str,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dose_msv: Option<f64>,
    pub recording_threshold_msv: f64,
    pub period_start: String,
    pub period_end: String,
    pub radiation: &'static str,
}

/// A file being written under a temporary name.
struct TmpFile {
    tmp: PathBuf,
    path: PathBuf,
}

impl TmpFile {
    fn create(dir: &Path, name: &str) -> Result<(TmpFile, BufWriter<File>), Error> {
        let path = dir.join(name);
        let tmp = dir.join(format!("{name}.tmp"));
        let file = File::create(&tmp).map_err(|source| Error::Write { path: tmp.clone(), source })?;
        Ok((TmpFile { tmp, path }, BufWriter::with_capacity(1 << 20, file)))
    }

    fn commit(self, w: BufWriter<File>) -> Result<(), Error> {
        let file = w.into_inner().map_err(|e| Error::Write { path: self.tmp.clone(), source: e.into_error() })?;
        file.sync_all().map_err(|source| Error::Write { path: self.tmp.clone(), source })?;
        drop(file);
        std::fs::rename(&self.tmp, &self.path).map_err(|source| Error::Write { path: self.path.clone(), source })
    }
}

/// readings.jsonl with its counters.
pub(crate) struct ReadingsOut {
    file: TmpFile,
    w: BufWriter<File>,
    /// Lines written.
    pub lines: u64,
    /// Lines that validate.
    pub valid: u64,
    /// Valid lines that carry a `(source, reading_id)` not seen before.
    pub identities: u64,
    /// The invalid lines, in file order.
    pub invalid: Vec<InvalidLine>,
}

impl ReadingsOut {
    /// Creates `dir/readings.jsonl.tmp`.
    pub(crate) fn create(dir: &Path) -> Result<Self, Error> {
        let (file, w) = TmpFile::create(dir, crate::READINGS_FILE)?;
        Ok(ReadingsOut { file, w, lines: 0, valid: 0, identities: 0, invalid: Vec::new() })
    }

    fn err(&self, source: std::io::Error) -> Error {
        Error::Write { path: self.file.tmp.clone(), source }
    }

    /// Writes a valid reading; `new_identity` is false for re-sends and corrections.
    pub(crate) fn valid(&mut self, r: &ReadingLine, new_identity: bool) -> Result<(), Error> {
        serde_json::to_writer(&mut self.w, r).map_err(|e| self.err(e.into()))?;
        self.w.write_all(b"\n").map_err(|e| self.err(e))?;
        self.lines += 1;
        self.valid += 1;
        if new_identity {
            self.identities += 1;
        }
        Ok(())
    }

    /// Writes a deliberately invalid line and records why it must be rejected.
    pub(crate) fn invalid(&mut self, text: &str, reason_contains: &str) -> Result<(), Error> {
        debug_assert!(!text.contains('\n') && !text.trim().is_empty());
        self.w.write_all(text.as_bytes()).map_err(|e| self.err(e))?;
        self.w.write_all(b"\n").map_err(|e| self.err(e))?;
        self.lines += 1;
        self.invalid.push(InvalidLine { line: self.lines, reason_contains: reason_contains.to_string() });
        Ok(())
    }

    /// Flushes and renames into place.
    pub(crate) fn finish(self) -> Result<(), Error> {
        self.file.commit(self.w)
    }
}

/// A CSV file with its data-row counter (header excluded).
pub(crate) struct CsvOut {
    file: TmpFile,
    w: csv::Writer<BufWriter<File>>,
    /// Data rows written.
    pub rows: u64,
}

impl CsvOut {
    /// Creates `dir/name.tmp` and writes the header.
    pub(crate) fn create(dir: &Path, name: &str, delimiter: u8, header: &[&str]) -> Result<Self, Error> {
        let (file, buf) = TmpFile::create(dir, name)?;
        let w = csv::WriterBuilder::new().delimiter(delimiter).from_writer(buf);
        let mut out = CsvOut { file, w, rows: 0 };
        out.w.write_record(header).map_err(|e| out.err(e))?;
        Ok(out)
    }

    fn err(&self, e: csv::Error) -> Error {
        Error::Write { path: self.file.tmp.clone(), source: e.into() }
    }

    /// Writes one data row.
    pub(crate) fn row(&mut self, cells: &[&str]) -> Result<(), Error> {
        self.w.write_record(cells).map_err(|e| self.err(e))?;
        self.rows += 1;
        Ok(())
    }

    /// Flushes and renames into place.
    pub(crate) fn finish(self) -> Result<(), Error> {
        let CsvOut { file, w, .. } = self;
        let buf = w.into_inner().map_err(|e| Error::Write { path: file.tmp.clone(), source: e.into_error() })?;
        file.commit(buf)
    }
}
