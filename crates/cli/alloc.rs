//! The process's allocator: jemalloc on Linux with glibc, for Rust and C (librdkafka) alike,
//! returning freed memory to the system within about a second.
//!
//! Why: an `alara ingest` allocates and frees a flush's worth of messages, Arrow batches and
//! Parquet pages every flush, from several threads. glibc's malloc kept most of what it freed (one
//! arena per thread, trimmed only at the top of each): resident memory grew by about 1.5 MiB a second
//! for a whole run while the live heap (heaptrack) stayed near 80 MiB, so peak memory grew with
//! the length of a backlog. Measured on a 5.68 M-reading backlog (README, "Fifth look"): glibc
//! 495 MiB peak, jemalloc with these settings 363 MiB, in the same time.
//!
//! The settings: a background thread purges unused pages (`background_thread`), dirty pages are
//! returned after a second (`dirty_decay_ms`, jemalloc: 10 s) and not kept as "muzzy"
//! (`muzzy_decay_ms`). `MALLOC_CONF` in the environment still overrides them.

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc reads its options from the C symbol `malloc_conf` (a `const char *`, hence a thin
/// reference to a NUL-terminated array) at start-up.
#[allow(non_upper_case_globals)]
#[unsafe(export_name = "malloc_conf")]
pub static malloc_conf: &[u8; 60] = b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";
