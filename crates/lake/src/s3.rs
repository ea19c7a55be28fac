//! Lakes at `s3://bucket/prefix` URLs: object_store's S3 client registered with delta-rs.
//!
//! delta-rs has its own `deltalake-aws` crate (AWS SDK, a DynamoDB lock table); alara does not
//! need it: S3 has put-if-absent (`If-None-Match: *`) since 2024, which object_store uses for
//! `PutMode::Create`, and delta-rs's default log store writes every commit with that mode. Two
//! writers racing for the same version therefore get one success and one "already exists", as on
//! a local disk. object_store's S3 client is already in the build (delta-rs's kernel enables it),
//! so this adds no crate.
//!
//! Credentials and endpoint come only from the environment, as object_store reads them:
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`), `AWS_REGION`,
//! `AWS_ENDPOINT_URL` (a local S3-compatible server; plain `http://` is then allowed).

use std::sync::{Arc, Once};

use deltalake::logstore::{
    LogStore, LogStoreFactory, ObjectStoreFactory, ObjectStoreRef, StorageConfig, default_logstore, logstore_factories,
    object_store_factories,
};
use deltalake::{DeltaResult, DeltaTableError};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use url::Url;

struct S3Stores;

impl ObjectStoreFactory for S3Stores {
    fn parse_url_opts(&self, url: &Url, _config: &StorageConfig) -> DeltaResult<(ObjectStoreRef, Path)> {
        let mut builder = AmazonS3Builder::from_env().with_url(url.as_str());
        let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
        if endpoint.starts_with("http://") {
            builder = builder.with_allow_http(true);
        }
        let store = builder.build().map_err(|source| DeltaTableError::ObjectStore { source })?;
        let path = Path::from_url_path(url.path())?;
        Ok((Arc::new(store), path))
    }
}

struct S3LogStores;

impl LogStoreFactory for S3LogStores {
    fn with_options(
        &self,
        prefixed_store: ObjectStoreRef,
        root_store: ObjectStoreRef,
        location: &Url,
        options: &StorageConfig,
    ) -> DeltaResult<Arc<dyn LogStore>> {
        Ok(default_logstore(prefixed_store, root_store, location, options))
    }
}

/// Registers the S3 object store and log store with delta-rs, once per process.
pub(crate) fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let scheme = Url::parse("s3://").expect("static URL");
        object_store_factories().insert(scheme.clone(), Arc::new(S3Stores));
        logstore_factories().insert(scheme, Arc::new(S3LogStores));
    });
}
