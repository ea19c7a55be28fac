//! `log`: one JSON delivery per line, appended to a local file (what `alara demo` uses).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::Notifier;
use crate::alert::Delivery;

/// Appends deliveries to a file.
pub struct LogNotifier {
    path: PathBuf,
}

impl LogNotifier {
    /// A notifier appending to `path` (created with its directory if needed).
    pub fn new(path: &Path) -> LogNotifier {
        LogNotifier { path: path.to_path_buf() }
    }
}

impl Notifier for LogNotifier {
    fn send(&mut self, _: &Delivery<'_>, body: &[u8]) -> Result<(), String> {
        let err = |e: std::io::Error| format!("{}: {e}", self.path.display());
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&self.path).map_err(err)?;
        // One write per line: concurrent appenders never interleave inside a line.
        let mut line = Vec::with_capacity(body.len() + 1);
        line.extend_from_slice(body);
        line.push(b'\n');
        f.write_all(&line).map_err(err)?;
        f.sync_data().map_err(err)
    }
}
