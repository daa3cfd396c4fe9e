//! The TCP listener with caps on open connections: past the global cap, new connections
//! wait in the kernel's accept queue instead of exhausting file descriptors or memory;
//! past the per-address cap ([`Source`]), a new connection from that address is closed
//! at once, so a flood from a few addresses cannot take every slot. WebSocket
//! connections keep their slots for as long as they are open. Connections from trusted
//! proxies are not capped per address (the proxy caps its own clients).
//!
//! Each connection also has stall timeouts: a socket that is waited on for longer than
//! the idle timeout without sending a byte (an idle WebSocket, a stalled or deliberately
//! slow body), or that takes no byte of an answer for as long (a client that does not
//! read), is closed. WebSocket clients answer the relay's pings every 30 s, so live ones
//! never hit it. How long a request's headers may take is hyper's header timeout
//! (`serve.rs`).

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

use crate::address::{Source, SourceSlot, SourceSlots};
use crate::metrics::Metrics;

/// A [`TcpListener`] that holds at most `max` connections open, `per_source` of them
/// from one address.
#[derive(Debug)]
pub struct LimitedListener {
    inner: TcpListener,
    slots: Arc<Semaphore>,
    per_source: SourceSlots,
    trusted_proxies: Vec<IpAddr>,
    idle_timeout: Duration,
}

impl LimitedListener {
    /// Wraps `inner`.
    pub fn new(
        inner: TcpListener,
        max: usize,
        per_source: usize,
        trusted_proxies: Vec<IpAddr>,
        idle_timeout: Duration,
    ) -> Self {
        Self {
            inner,
            slots: Arc::new(Semaphore::new(max.max(1))),
            per_source: SourceSlots::new(per_source),
            trusted_proxies,
            idle_timeout,
        }
    }

    /// The next connection within the caps, and its peer's address. Connections over
    /// the per-address cap are closed here and counted in `metrics`.
    pub async fn accept(&self, metrics: &Metrics) -> (LimitedStream, SocketAddr) {
        loop {
            // The semaphore is never closed, so this only waits.
            let Ok(permit) = Arc::clone(&self.slots).acquire_owned().await else {
                continue;
            };
            let (io, addr) = match self.inner.accept().await {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let source_slot = if self.trusted_proxies.contains(&addr.ip()) {
                None
            } else {
                match self.per_source.try_take(Source::of(addr.ip())) {
                    Some(slot) => Some(slot),
                    None => {
                        metrics.connections_refused.inc();
                        continue;
                    }
                }
            };
            let _ = io.set_nodelay(true);
            return (
                LimitedStream {
                    io,
                    _permit: permit,
                    _source_slot: source_slot,
                    idle_timeout: self.idle_timeout,
                    read_stall: None,
                    write_stall: None,
                },
                addr,
            );
        }
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// A connection holding its slots until dropped.
#[derive(Debug)]
pub struct LimitedStream {
    io: TcpStream,
    _permit: OwnedSemaphorePermit,
    _source_slot: Option<SourceSlot>,
    idle_timeout: Duration,
    /// Running while a read is pending: only time spent waiting for the client counts.
    read_stall: Option<Pin<Box<Sleep>>>,
    /// Running while a write is pending (the client does not take the answer).
    write_stall: Option<Pin<Box<Sleep>>>,
}

/// `polled` as is when the socket answered (and `stall` stopped); otherwise `Pending`
/// until `stall` (started on first use) runs out after `timeout`, then an error saying
/// `what`. One place for the idle rule every read and write path follows.
fn unless_stalled<T>(
    polled: Poll<io::Result<T>>,
    stall: &mut Option<Pin<Box<Sleep>>>,
    timeout: Duration,
    cx: &mut Context<'_>,
    what: &'static str,
) -> Poll<io::Result<T>> {
    if polled.is_ready() {
        *stall = None;
        return polled;
    }
    let sleep =
        stall.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(Instant::now() + timeout)));
    match sleep.as_mut().poll(cx) {
        Poll::Ready(()) => Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, what))),
        Poll::Pending => Poll::Pending,
    }
}

impl LimitedStream {
    /// A write's `polled`, under the idle rule (the client does not take the answer).
    fn write_unless_stalled(
        &mut self,
        polled: Poll<io::Result<usize>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        unless_stalled(
            polled,
            &mut self.write_stall,
            self.idle_timeout,
            cx,
            "client takes no data",
        )
    }
}

impl AsyncRead for LimitedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        unless_stalled(
            polled,
            &mut this.read_stall,
            this.idle_timeout,
            cx,
            "client idle too long",
        )
    }
}

impl AsyncWrite for LimitedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        self.write_unless_stalled(polled, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.write_unless_stalled(polled, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// The TCP peer's address, as the connection was accepted (see `address.rs` for the
/// client address behind a trusted proxy).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);
