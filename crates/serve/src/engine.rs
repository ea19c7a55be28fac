//! Where queries run. DataFusion plans and optimises the nested detection views (views over
//! views over windowed CTEs) by recursion, deep enough to overflow the 2 MiB stack of a tokio
//! worker thread on the first page after login. Every DataFusion call of the web application
//! and of the SQL endpoint therefore runs on this runtime of its own, whose threads have
//! [`STACK_SIZE`] stacks, whatever runtime the caller (the CLI, a test) serves requests on.
//! Stacks are reserved address space, committed only as they are used.

use std::future::Future;

use crate::{Error, Result};

/// Stack of each query thread (the main thread's 8 MiB is enough for `alara sql`; this leaves
/// room for user queries over the views).
pub const STACK_SIZE: usize = 64 * 1024 * 1024;

/// A small multi-threaded runtime for DataFusion work.
pub struct Engine {
    rt: Option<tokio::runtime::Runtime>,
}

impl Engine {
    /// Starts `threads` query threads.
    pub fn new(threads: usize) -> Result<Engine> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("alara-query")
            .thread_stack_size(STACK_SIZE)
            .enable_all()
            .build()
            .map_err(|e| Error::Invalid(format!("starting the query threads: {e}")))?;
        Ok(Engine { rt: Some(rt) })
    }

    /// The runtime's handle (to spawn long-running work there, such as the SQL endpoint).
    pub fn handle(&self) -> &tokio::runtime::Handle {
        self.rt.as_ref().expect("the runtime lives until drop").handle()
    }

    /// Runs `work` on a query thread and waits for it without blocking the caller's thread.
    pub async fn run<T: Send + 'static>(&self, work: impl Future<Output = T> + Send + 'static) -> Result<T> {
        self.handle().spawn(work).await.map_err(|e| Error::Invalid(format!("query task: {e}")))
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // Dropping a runtime from inside another one's async context panics; the query tasks
        // left (none, once the server stopped) are simply abandoned.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recurses `depth` times with a 4 KiB frame each.
    fn deep(depth: usize) -> usize {
        let frame = std::hint::black_box([1u8; 4096]);
        if depth == 0 { frame[0] as usize } else { deep(depth - 1) + std::hint::black_box(frame[1]) as usize }
    }

    #[test]
    fn work_needing_more_than_a_tokio_worker_stack_runs_on_the_query_threads() {
        // 16 MiB of frames: overflows a default 2 MiB tokio worker (or the 8 MiB main thread).
        let caller = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let engine = Engine::new(1).unwrap();
        let n = caller.block_on(engine.run(async { deep(4096) })).unwrap();
        assert_eq!(n, 4097);
        drop(engine);
    }
}
