//! TCP connections with a bounded wait: listening, accepting, connecting. Used by the
//! inference roles, `gcnn demo`, `gcnn bench` and `gcnn bristol`.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::thread::sleep;
use std::time::{Duration, Instant};

use thiserror::Error;

/// Why listening, accepting or connecting failed.
#[derive(Debug, Error)]
pub enum NetError {
    /// An address that does not resolve.
    #[error("bad address {addr:?}: {reason}")]
    Address {
        /// The address as given.
        addr: String,
        /// Why it does not resolve.
        reason: io::Error,
    },
    /// Binding or accepting failed.
    #[error("cannot listen on {addr}: {reason}")]
    Listen {
        /// The address as given.
        addr: String,
        /// The socket error.
        reason: io::Error,
    },
    /// Nobody connected in time.
    #[error("no peer connected to {addr} within {timeout:?}")]
    NoPeer {
        /// The listening address.
        addr: String,
        /// How long we waited.
        timeout: Duration,
    },
    /// The peer could not be reached in time.
    #[error(
        "cannot connect to {addr} within {timeout:?}: {reason}{}",
        hint(reason)
    )]
    Connect {
        /// The address as given.
        addr: String,
        /// How long we tried.
        timeout: Duration,
        /// The last socket error.
        reason: io::Error,
    },
}

/// What to try after a failed connection.
fn hint(reason: &io::Error) -> &'static str {
    match reason.kind() {
        io::ErrorKind::ConnectionRefused => {
            " (is the garbler running and listening on that address? If it is still \
             starting, wait longer with --connect-timeout)"
        }
        io::ErrorKind::TimedOut => {
            " (no answer: check the address, and that a firewall lets the port through)"
        }
        _ => "",
    }
}

/// How often a waiting side polls for a connection.
const POLL: Duration = Duration::from_millis(20);

/// Binds `addr` (port 0 picks a free port).
pub fn bind(addr: &str) -> Result<TcpListener, NetError> {
    let listen = |reason| NetError::Listen {
        addr: addr.to_owned(),
        reason,
    };
    let addrs = resolve(addr)?;
    TcpListener::bind(addrs.as_slice()).map_err(listen)
}

/// Waits at most `timeout` for one peer to connect to `listener`.
pub fn accept_within(listener: &TcpListener, timeout: Duration) -> Result<TcpStream, NetError> {
    let local = listener
        .local_addr()
        .map_or_else(|_| "?".to_owned(), |a| a.to_string());
    let failed = |reason| NetError::Listen {
        addr: local.clone(),
        reason,
    };
    listener.set_nonblocking(true).map_err(failed)?;
    let deadline = Instant::now() + timeout;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).map_err(failed)?;
                return Ok(stream);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return Err(NetError::NoPeer {
                        addr: local,
                        timeout,
                    });
                }
                sleep(POLL);
            }
            Err(e) => return Err(failed(e)),
        }
    }
}

/// Connects to `addr`, retrying while it refuses (the peer may not be listening yet),
/// for at most `timeout` overall.
pub fn connect_within(addr: &str, timeout: Duration) -> Result<TcpStream, NetError> {
    let addrs = resolve(addr)?;
    let deadline = Instant::now() + timeout;
    loop {
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
        for a in &addrs {
            let left = deadline.saturating_duration_since(Instant::now());
            match TcpStream::connect_timeout(a, left.max(POLL)) {
                Ok(stream) => return Ok(stream),
                Err(e) => last = e,
            }
        }
        if last.kind() != io::ErrorKind::ConnectionRefused || Instant::now() >= deadline {
            return Err(NetError::Connect {
                addr: addr.to_owned(),
                timeout,
                reason: last,
            });
        }
        sleep(POLL);
    }
}

/// Two connected loopback streams, for running both parties in one process.
pub fn loopback(timeout: Duration) -> Result<(TcpStream, TcpStream), NetError> {
    let listener = bind("127.0.0.1:0")?;
    let addr = listener
        .local_addr()
        .map_err(|reason| NetError::Listen {
            addr: "127.0.0.1:0".into(),
            reason,
        })?
        .to_string();
    let client = connect_within(&addr, timeout)?;
    let server = accept_within(&listener, timeout)?;
    Ok((server, client))
}

fn resolve(addr: &str) -> Result<Vec<SocketAddr>, NetError> {
    let bad = |reason| NetError::Address {
        addr: addr.chars().take(80).collect(),
        reason,
    };
    let addrs: Vec<SocketAddr> = addr.to_socket_addrs().map_err(bad)?.collect();
    if addrs.is_empty() {
        return Err(bad(io::Error::new(
            io::ErrorKind::NotFound,
            "resolves to no address",
        )));
    }
    Ok(addrs)
}
