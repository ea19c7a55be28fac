//! One module per subcommand.

pub mod alerts;
pub mod compact;
pub mod demo;
pub mod explain;
pub mod generate;
pub mod ingest;
pub mod ingest_kafka;
pub mod report;
pub mod serve;
pub mod sql;
pub mod user;

/// A tokio runtime for commands that need async (DataFusion, Kafka). Two workers: the target
/// machine has two cores.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}
