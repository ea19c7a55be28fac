//! HTTPS from a certificate file: the listening socket wrapped in TLS through the system's
//! OpenSSL (native-tls, already linked for Kafka and webhooks, so no second TLS stack is built).
//!
//! The certificate file is PEM (the server certificate first, then any intermediates); the key
//! is a PEM PKCS#8 private key (`-----BEGIN PRIVATE KEY-----`, what `openssl req -newkey` and
//! most CAs' tooling write). TLS 1.2 is the minimum. Handshakes run one at a time in the accept
//! loop, each bounded by [`HANDSHAKE_TIMEOUT`]: plenty for an application a few advisors use; a
//! public deployment belongs behind a reverse proxy anyway.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_native_tls::native_tls::{Identity, Protocol, TlsAcceptor};
use tokio_native_tls::{TlsAcceptor as AsyncAcceptor, TlsStream};

use crate::{Error, Result};

/// How long a client may take to complete its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A TCP listener whose connections are TLS.
pub struct TlsListener {
    tcp: TcpListener,
    acceptor: AsyncAcceptor,
}

/// Reads the certificate chain and key into an acceptor.
pub fn acceptor(cert: &Path, key: &Path) -> Result<AsyncAcceptor> {
    let read = |p: &Path| std::fs::read(p).map_err(|source| Error::Io { path: p.to_path_buf(), source });
    let identity = Identity::from_pkcs8(&read(cert)?, &read(key)?).map_err(|e| {
        Error::Invalid(format!(
            "TLS certificate {} / key {}: {e} (the key must be PEM PKCS#8, '-----BEGIN PRIVATE KEY-----')",
            cert.display(),
            key.display()
        ))
    })?;
    let acceptor = TlsAcceptor::builder(identity)
        .min_protocol_version(Some(Protocol::Tlsv12))
        .build()
        .map_err(|e| Error::Invalid(format!("TLS: {e}")))?;
    Ok(AsyncAcceptor::from(acceptor))
}

impl TlsListener {
    /// Wraps a bound listener.
    pub fn new(tcp: TcpListener, acceptor: AsyncAcceptor) -> TlsListener {
        TlsListener { tcp, acceptor }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (stream, addr) = match self.tcp.accept().await {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor.accept(stream)).await {
                Ok(Ok(tls)) => return (tls, addr),
                Ok(Err(e)) => tracing::debug!(%addr, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}
