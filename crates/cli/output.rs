//! Printing query results as a table, CSV or JSON.

use std::io::Write;

use anyhow::Context;
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

/// Output format of `alara sql`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An aligned text table.
    Table,
    /// CSV with a header row.
    Csv,
    /// A JSON array of objects.
    Json,
}

/// Writes batches in a format. An empty result still shows its columns (table, CSV) or `[]`.
pub fn write(out: &mut dyn Write, format: Format, schema: &SchemaRef, batches: &[RecordBatch]) -> anyhow::Result<()> {
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    match format {
        Format::Table => {
            let text = if rows == 0 {
                let empty = RecordBatch::new_empty(schema.clone());
                arrow::util::pretty::pretty_format_batches(&[empty])?
            } else {
                arrow::util::pretty::pretty_format_batches(batches)?
            };
            writeln!(out, "{text}")?;
            writeln!(out, "({rows} row{})", if rows == 1 { "" } else { "s" })?;
        }
        Format::Csv => {
            let mut w = arrow::csv::WriterBuilder::new().with_header(true).build(&mut *out);
            if rows == 0 {
                w.write(&RecordBatch::new_empty(schema.clone())).context("writing CSV")?;
            }
            for b in batches {
                w.write(b).context("writing CSV")?;
            }
        }
        Format::Json => {
            let mut w = arrow::json::ArrayWriter::new(&mut *out);
            for b in batches {
                w.write(b).context("writing JSON")?;
            }
            // The writer prints `[]` itself when it saw no rows.
            w.finish().context("writing JSON")?;
            writeln!(out)?;
        }
    }
    Ok(())
}
