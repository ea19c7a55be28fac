//! End-to-end tests: they run the real `alara` binary on data they build (or generate), against
//! a real Kafka broker where Kafka is involved, and check the results with tools we did not write
//! (kcat, DuckDB/pyarrow, Chromium, Spark, delta-rs, polars) where the contract promises
//! interoperability.
//!
//! One test crate on purpose: each test binary links DataFusion (~hundreds of MB); one binary
//! keeps build and link time down.

mod advisor;
mod alerts;
mod common;
mod consumers;
mod detect;
mod files;
mod graph;
mod interop;
mod kafka;
mod kafka_support;
mod lake;
mod nir;
mod rejects;
mod report;
mod serve;
mod statistics;
