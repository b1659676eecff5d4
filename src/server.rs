//! The HTTP server: an accept loop serving the router on every connection.
//!
//! It is ours rather than `axum::serve` for two reasons: a scenario may ask
//! for a connection-level fault (reset the connection, or close it without
//! an answer), which needs a handle on the socket; and slow clients must be
//! bounded by a header-read timeout.
//!
//! With a TLS configuration, each connection's first byte says whether it
//! opens a TLS handshake; TLS and plain HTTP are served on the same port, so
//! `--tls` never breaks a plain client (the admin API, `http://` tests).
//!
//! Each connection runs in a task tracked by a [`TaskTracker`]; on shutdown
//! the loop stops accepting, every connection finishes its in-flight request
//! and closes (HTTP graceful shutdown), and [`serve`] returns when all are
//! gone.

use std::io;
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::scenarios::ConnectionFault;

/// Lets a request ask for its connection to be torn down without an answer.
#[derive(Clone, Default)]
pub(crate) struct ConnectionControl {
    inner: Arc<ControlInner>,
}

#[derive(Default)]
struct ControlInner {
    fault: Mutex<Option<ConnectionFault>>,
    tripped: Notify,
}

impl ConnectionControl {
    /// Tears the connection down; the caller should then never answer.
    pub(crate) fn trip(&self, fault: ConnectionFault) {
        *self.inner.fault.lock().unwrap_or_else(|e| e.into_inner()) = Some(fault);
        self.inner.tripped.notify_one();
    }

    fn fault(&self) -> Option<ConnectionFault> {
        *self.inner.fault.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// How long a client may take to send a request head, including the wait
    /// for the next request on a kept-alive connection (so idle connections
    /// close too).
    pub header_read_timeout: Duration,
    /// Connections served at once; further clients wait in the listen backlog.
    pub max_connections: usize,
    /// The largest request head accepted (hyper answers 431 beyond it).
    pub max_header_bytes: usize,
}

/// Serves `router` on `listener` until `stop` is cancelled, then shuts every
/// connection down gracefully and returns once they are all closed. With
/// `tls`, connections that open a TLS handshake are served over TLS.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    stop: CancellationToken,
    limits: ServerLimits,
    tls: Option<Arc<rustls::ServerConfig>>,
) {
    let tls = tls.map(tokio_rustls::TlsAcceptor::from);
    let connections = TaskTracker::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    loop {
        // Wait for a free slot before accepting: at the limit, new clients
        // queue in the kernel's backlog instead of costing memory here.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            _ = stop.cancelled() => break,
        };
        let Ok(slot) = slot else { break };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.cancelled() => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and similar: back off briefly rather than spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (router, stop, tls) = (router.clone(), stop.clone(), tls.clone());
        connections.spawn(async move {
            serve_connection(stream, router, stop, limits, tls).await;
            drop(slot);
        });
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

async fn serve_connection(
    stream: TcpStream,
    router: Router,
    stop: CancellationToken,
    limits: ServerLimits,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let stream = Arc::new(stream);
    let Some(acceptor) = tls else {
        return drive(SharedStream(stream.clone()), stream, router, stop, limits).await;
    };
    // Peek without consuming: a TLS client speaks first with a handshake
    // record; a plain HTTP client with a method name. Both within the
    // header-read timeout, or the connection closes.
    let mut first = [0u8; 1];
    let peeked = tokio::time::timeout(limits.header_read_timeout, stream.peek(&mut first)).await;
    if !matches!(peeked, Ok(Ok(1))) {
        return;
    }
    if !crate::tls::is_handshake(first[0]) {
        return drive(SharedStream(stream.clone()), stream, router, stop, limits).await;
    }
    let handshake =
        tokio::time::timeout(limits.header_read_timeout, acceptor.accept(SharedStream(stream.clone()))).await;
    match handshake {
        Ok(Ok(tls_stream)) => drive(tls_stream, stream, router, stop, limits).await,
        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
        Err(_) => tracing::debug!("TLS handshake timed out"),
    }
}

/// Serves HTTP on one connection's byte stream (plain or TLS); `socket` is
/// the TCP socket underneath, for connection faults.
async fn drive<S>(io: S, socket: Arc<TcpStream>, router: Router, stop: CancellationToken, limits: ServerLimits)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let stream = socket;
    let control = ConnectionControl::default();
    let request_control = control.clone();
    let service = router.map_request(move |request: Request<Incoming>| {
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(request_control.clone());
        request
    });
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192));
    let mut conn = pin!(builder.serve_connection_with_upgrades(TokioIo::new(io), TowerToHyperService::new(service)));
    let mut stopping = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                break;
            }
            _ = stop.cancelled(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = control.inner.tripped.notified() => {
                if control.fault() == Some(ConnectionFault::Reset) {
                    // A zero linger turns the close into a TCP RST.
                    let _ = socket2::SockRef::from(&*stream).set_linger(Some(Duration::ZERO));
                }
                break;
            }
        }
    }
    // Dropping the connection and the last handle on the stream closes the socket.
}

/// A `TcpStream` shared between hyper and the connection task, so the task
/// can still reach the socket (to set its linger) while hyper owns the I/O.
struct SharedStream(Arc<TcpStream>);

impl AsyncRead for SharedStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        loop {
            ready!(self.0.poll_read_ready(cx))?;
            match self.0.try_read(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for SharedStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.0.poll_write_ready(cx))?;
            match self.0.try_write(buf) {
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(socket2::SockRef::from(&*self.0).shutdown(std::net::Shutdown::Write))
    }
}
