//! Optional TLS 1.3 (`rustls`, `ring` provider) under the inference roles' channel.
//!
//! The garbler presents a certificate chain and key (PEM files); the evaluator trusts the
//! CA certificates in a PEM file and
//! checks the garbler's name against the host it connected to. TLS authenticates the
//! garbler and encrypts the transcript; the 2PC protocol runs unchanged inside it.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};
use thiserror::Error;

use crate::channel::{ChannelError, TcpChannel};

/// Why TLS could not be set up.
#[derive(Debug, Error)]
pub enum TlsError {
    /// A PEM file is unreadable or holds nothing usable.
    #[error("{}: {reason}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// rustls refused the configuration (e.g. a key that does not match the certificate).
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    /// The name to check the garbler's certificate against is not a DNS name or an IP.
    #[error("{0:?} is not a DNS name or an IP address to check the certificate against")]
    Name(String),
}

fn file_error(path: &Path, reason: impl ToString) -> TlsError {
    TlsError::File {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

/// Every certificate in the PEM file at `path` (at least one).
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(path, e))?;
    if certs.is_empty() {
        return Err(file_error(path, "no PEM certificate in it"));
    }
    Ok(certs)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The garbler's TLS: its certificate chain and key.
#[derive(Clone)]
pub struct ServerTls(Arc<ServerConfig>);

impl ServerTls {
    /// Loads the chain from `cert` and the private key from `key` (PEM).
    pub fn load(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let chain = certificates(cert)?;
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| file_error(key, e))?;
        let config = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        Ok(ServerTls(Arc::new(config)))
    }

    /// A channel over a TLS session on `stream` (the TLS handshake runs with the first
    /// read, under the channel's deadlines).
    pub fn channel(
        &self,
        stream: TcpStream,
        timeout: Duration,
    ) -> Result<TcpChannel, ChannelError> {
        let connection = ServerConnection::new(Arc::clone(&self.0)).map_err(io_error)?;
        let socket = stream
            .try_clone()
            .map_err(|e| ChannelError::from_io(e, timeout))?;
        let transport = rustls::StreamOwned::new(connection, stream);
        TcpChannel::over(socket, Box::new(transport), timeout)
    }
}

/// The evaluator's TLS: the certificates it trusts and the name the garbler must prove.
#[derive(Clone)]
pub struct ClientTls(Arc<ClientConfig>, ServerName<'static>);

impl ClientTls {
    /// Trusts the CA certificates in the PEM file `ca` for a
    /// garbler that must prove it is `name` (e.g. the host part of its address, see
    /// [`host_of`]).
    pub fn load(ca: &Path, name: &str) -> Result<Self, TlsError> {
        let name =
            ServerName::try_from(name.to_owned()).map_err(|_| TlsError::Name(name.into()))?;
        let mut roots = RootCertStore::empty();
        for cert in certificates(ca)? {
            roots.add(cert).map_err(|e| file_error(ca, e))?;
        }
        let config = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(ClientTls(Arc::new(config), name))
    }

    /// A channel over a TLS session on `stream` (the TLS handshake runs with the first
    /// write, under the channel's deadlines).
    pub fn channel(
        &self,
        stream: TcpStream,
        timeout: Duration,
    ) -> Result<TcpChannel, ChannelError> {
        let connection =
            ClientConnection::new(Arc::clone(&self.0), self.1.clone()).map_err(io_error)?;
        let socket = stream
            .try_clone()
            .map_err(|e| ChannelError::from_io(e, timeout))?;
        let transport = rustls::StreamOwned::new(connection, stream);
        TcpChannel::over(socket, Box::new(transport), timeout)
    }
}

fn io_error(e: rustls::Error) -> ChannelError {
    ChannelError::Tls(e.to_string())
}

/// The host part of `addr` (`host:port`, `[v6]:port`), to check a certificate against.
pub fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
    host.trim_start_matches('[').trim_end_matches(']')
}
