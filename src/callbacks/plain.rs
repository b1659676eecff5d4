//! The client for plain-HTTP receivers (the usual local one): hyper's
//! HTTP/1 connection API and a pool of kept-alive connections of its own.
//!
//! hyper-util's pooled client did the same with more work per request: it
//! raced a connect against every checkout, took its pool's lock several
//! times, and spawned a task per request to put the connection back once it
//! was idle again. A callback is one request at a time on a connection and
//! its answer is read to the end, so here the connection goes back to the
//! pool as soon as the answer has been read. About a twentieth of a push's
//! instructions.
//!
//! A connection is driven by the delivery that uses it (the [`Lease`]), not
//! by a task of its own: a task per connection took every request and
//! answer across two tasks (a channel each way, a wake-up each, often on the
//! other core). An idle connection in the pool is driven by nobody; that the
//! receiver closed it is noticed when it is next taken (or swept), which is
//! when the connection task would have acted on it too.
//!
//! Bounds: at most `idle_per_host` idle connections per destination and
//! [`MAX_IDLE`] in all; an idle connection is not reused after
//! [`IDLE_TIMEOUT`]; connections the receiver closed are dropped when next
//! met, and all of them when the pool is full (at most once a second).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use axum::http::{Request, Response, Uri};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower::Service;

use crate::fastmap::HashMap;

/// Idle connections kept in all, whatever their destinations.
pub(super) const MAX_IDLE: usize = 1024;
/// How long an idle connection may wait to be reused (hyper-util's default).
pub(super) const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

type Sender = SendRequest<Full<Bytes>>;
type Conn = Connection<TokioIo<TcpStream>, Full<Bytes>>;

/// A connection: the handle requests are sent through and the connection
/// itself, which moves them only while it is polled (boxed: its 680 bytes
/// would otherwise be copied each time the link changes hands, several
/// times per request).
struct Link {
    sender: Sender,
    conn: Pin<Box<Conn>>,
    /// The connection has ended (the receiver closed it, or it failed): it
    /// is not polled again and carries no other request.
    ended: bool,
}

impl Link {
    /// Polls the connection unless it has ended; returns whether it has.
    fn poll_conn(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.ended && self.conn.as_mut().poll(cx).is_ready() {
            self.ended = true;
        }
        self.ended
    }

    /// `future`'s output (an answer, its body, the connection's readiness),
    /// the connection driven meanwhile: polled first, so what it hands
    /// over in this poll is there when `future` is polled.
    fn drive<F: Future>(&mut self, future: F) -> Drive<'_, F> {
        Drive { link: self, future }
    }

    /// Whether the connection is ready for a request, driven until it is
    /// (a connection just back from an answer notices it is idle when
    /// polled) or has ended.
    async fn ready(&mut self) -> bool {
        std::future::poll_fn(|cx| {
            if self.poll_conn(cx) {
                return Poll::Ready(false);
            }
            self.sender.poll_ready(cx).map(|ready| ready.is_ok())
        })
        .await
    }

    /// Whether the connection can carry a request now (it is polled once,
    /// so a close the receiver sent while it was idle is seen).
    fn open(&mut self) -> bool {
        !self.poll_conn(&mut Context::from_waker(Waker::noop())) && !self.sender.is_closed()
    }
}

pin_project_lite::pin_project! {
    /// See [`Link::drive`]: a future of its own rather than an `async fn`,
    /// which would hold `future` twice (as its argument and pinned).
    pub(super) struct Drive<'l, F> {
        link: &'l mut Link,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for Drive<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        this.link.poll_conn(cx);
        this.future.poll(cx)
    }
}

/// Why an attempt got no answer, in the words hyper-util's client used
/// (the journal shows the whole chain of causes).
#[derive(Debug)]
pub(super) enum Error {
    Connect(Box<dyn std::error::Error + Send + Sync>),
    Send(hyper::Error),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Error::Connect(_) => "client error (Connect)",
            Error::Send(_) => "client error (SendRequest)",
        })
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Connect(e) => Some(e.as_ref()),
            Error::Send(e) => Some(e),
        }
    }
}

/// The pool and the connector.
pub(super) struct Plain {
    connector: HttpConnector,
    idle: Mutex<Idle>,
    idle_per_host: usize,
}

#[derive(Default)]
struct Idle {
    /// By destination (`host:port` as the URL writes it), newest last.
    by_destination: HashMap<Box<str>, Vec<Kept>>,
    count: usize,
    swept_at: Option<Instant>,
}

struct Kept {
    link: Link,
    since: Instant,
}

/// A connection lent to one request: back to the pool with
/// [`Lease::keep`], closed when dropped. Its answer's body moves only
/// while the lease drives the connection ([`Lease::drive`]).
pub(super) struct Lease<'a> {
    plain: &'a Plain,
    destination: &'a str,
    link: Link,
}

impl Lease<'_> {
    /// `future`'s output (reading the answer's body), the connection driven meanwhile.
    pub(super) fn drive<F: Future>(&mut self, future: F) -> Drive<'_, F> {
        self.link.drive(future)
    }

    /// The answer was read to its end: the connection may serve another request.
    pub(super) fn keep(self) {
        self.plain.put(self.destination, self.link);
    }
}

impl Plain {
    pub(super) fn new(connect_timeout: Duration, idle_per_host: usize) -> Plain {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(connect_timeout));
        connector.set_nodelay(true);
        Plain { connector, idle: Mutex::new(Idle::default()), idle_per_host }
    }

    /// Sends `request` (origin-form, with its `Host`) to `uri`'s authority on
    /// a kept connection or a new one. A kept connection that turns out
    /// closed before the request went out is dropped and the request tried
    /// again, on another kept connection or a new one, as hyper-util does.
    pub(super) async fn send<'a>(
        &'a self,
        uri: &Uri,
        destination: &'a str,
        mut request: Request<Full<Bytes>>,
    ) -> Result<(Response<Incoming>, Lease<'a>), Error> {
        loop {
            let (mut link, reused) = match self.take(destination).await {
                Some(link) => (link, true),
                None => (self.connect(uri).await?, false),
            };
            let sent = link.sender.try_send_request(request);
            match link.drive(sent).await {
                Ok(response) => return Ok((response, Lease { plain: self, destination, link })),
                Err(mut e) => match e.take_message() {
                    Some(unsent) if reused => request = unsent,
                    _ => return Err(Error::Send(e.into_error())),
                },
            }
        }
    }

    /// A kept connection to `destination` that is still open and ready.
    async fn take(&self, destination: &str) -> Option<Link> {
        loop {
            let kept = {
                let mut idle = self.lock();
                let kept = idle.by_destination.get_mut(destination)?.pop()?;
                idle.count = idle.count.saturating_sub(1);
                kept
            };
            let Kept { mut link, since } = kept;
            if since.elapsed() > IDLE_TIMEOUT || !link.open() {
                continue;
            }
            if link.ready().await {
                return Some(link);
            }
        }
    }

    async fn connect(&self, uri: &Uri) -> Result<Link, Error> {
        // HttpConnector is always ready: its `poll_ready` does nothing.
        let mut connector = self.connector.clone();
        let io = connector.call(uri.clone()).await.map_err(|e| Error::Connect(Box::new(e)))?;
        let (sender, conn) = http1::handshake(io).await.map_err(Error::Send)?;
        Ok(Link { sender, conn: Box::pin(conn), ended: false })
    }

    fn put(&self, destination: &str, mut link: Link) {
        if !link.open() {
            return;
        }
        let now = Instant::now();
        let mut idle = self.lock();
        if idle.count >= MAX_IDLE {
            idle.sweep(now);
        }
        if idle.count >= MAX_IDLE {
            return;
        }
        let kept = match idle.by_destination.get_mut(destination) {
            Some(kept) => kept,
            None => idle.by_destination.entry(destination.into()).or_default(),
        };
        if kept.len() >= self.idle_per_host {
            return;
        }
        kept.push(Kept { link, since: now });
        idle.count = idle.count.saturating_add(1);
    }

    fn lock(&self) -> MutexGuard<'_, Idle> {
        // Nothing panics while holding the lock; were it poisoned, the pool is still whole.
        self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    #[cfg(test)]
    fn idle_count(&self) -> usize {
        self.lock().count
    }
}

impl Idle {
    /// Drops closed and expired connections, at most once a second.
    fn sweep(&mut self, now: Instant) {
        if self.swept_at.is_some_and(|at| now.saturating_duration_since(at) < Duration::from_secs(1)) {
            return;
        }
        self.swept_at = Some(now);
        self.by_destination.retain(|_, kept| {
            kept.retain_mut(|k| now.saturating_duration_since(k.since) <= IDLE_TIMEOUT && k.link.open());
            !kept.is_empty()
        });
        self.count = self.by_destination.values().map(Vec::len).sum();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use http_body_util::BodyExt;
    use hyper::server::conn::http1 as server;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;

    use super::*;

    /// A receiver on loopback that answers `ok` (closing the connection
    /// after each answer when `close` is set) and counts its connections.
    async fn receiver(close: bool) -> (Uri, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri: Uri = format!("http://{}/cb", listener.local_addr().unwrap()).parse().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let service = service_fn(move |_request| async move {
                        let mut response = Response::new(Full::new(Bytes::from_static(b"ok")));
                        if close {
                            response.headers_mut().insert("connection", "close".parse().unwrap());
                        }
                        Ok::<_, std::convert::Infallible>(response)
                    });
                    let _ = server::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        (uri, connections)
    }

    fn request(uri: &Uri) -> Request<Full<Bytes>> {
        Request::builder()
            .method("POST")
            .uri("/cb")
            .header("host", uri.authority().unwrap().as_str())
            .body(Full::new(Bytes::from_static(b"{}")))
            .unwrap()
    }

    /// Sends one request and reads its answer to the end; keeps the connection when `keep`.
    async fn exchange(plain: &Plain, uri: &Uri, keep: bool) -> String {
        let destination = uri.authority().unwrap().as_str();
        let (response, mut lease) = plain.send(uri, destination, request(uri)).await.unwrap();
        assert_eq!(response.status(), 200);
        let body = lease.drive(response.into_body().collect()).await.unwrap().to_bytes();
        if keep {
            lease.keep();
        }
        String::from_utf8(body.to_vec()).unwrap()
    }

    /// Sends `count` requests one after another to a receiver (closing
    /// after each answer when `close`), keeping each connection when
    /// `keep`; returns the connections the receiver saw and those kept idle.
    async fn one_after_another(close: bool, keep: bool, count: usize) -> (usize, usize) {
        let (uri, connections) = receiver(close).await;
        let plain = Plain::new(Duration::from_secs(2), 4);
        for _ in 0..count {
            assert_eq!(exchange(&plain, &uri, keep).await, "ok");
        }
        (connections.load(Ordering::SeqCst), plain.idle_count())
    }

    #[tokio::test]
    async fn a_connection_whose_answer_was_read_serves_the_next_request() {
        assert_eq!(one_after_another(false, true, 5).await, (1, 1));
    }

    #[tokio::test]
    async fn a_connection_not_kept_is_not_reused() {
        assert_eq!(one_after_another(false, false, 3).await, (3, 0));
    }

    #[tokio::test]
    async fn a_connection_the_receiver_closed_is_replaced_without_failing_the_request() {
        let (connections, _) = one_after_another(true, true, 4).await;
        assert_eq!(connections, 4);
    }

    #[tokio::test]
    async fn idle_connections_are_bounded_per_destination() {
        let (uri, connections) = receiver(false).await;
        let plain = Plain::new(Duration::from_secs(2), 2);
        let destination = uri.authority().unwrap().as_str();
        // Five at once: five connections; only two stay.
        let mut leases = Vec::new();
        for _ in 0..5 {
            let (response, mut lease) = plain.send(&uri, destination, request(&uri)).await.unwrap();
            lease.drive(response.into_body().collect()).await.unwrap();
            leases.push(lease);
        }
        for lease in leases {
            lease.keep();
        }
        assert_eq!(connections.load(Ordering::SeqCst), 5);
        assert_eq!(plain.idle_count(), 2);
    }

    #[tokio::test]
    async fn an_answer_whose_body_comes_later_is_read_by_the_lease_that_drives_its_connection() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // A receiver that sends the answer's head, waits until the client
        // has it, then sends the body, twice on the one connection.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri: Uri = format!("http://{}/cb", listener.local_addr().unwrap()).parse().unwrap();
        let (head_seen, mut body_go) = tokio::sync::mpsc::channel::<()>(1);
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut buffer = [0u8; 4096];
            for body in ["first", "again"] {
                let mut read = Vec::new();
                while !read.windows(4).any(|w| w == b"\r\n\r\n") || !read.ends_with(b"{}") {
                    let n = stream.read(&mut buffer).await.unwrap();
                    assert!(n > 0, "the client closed the connection");
                    read.extend_from_slice(&buffer[..n]);
                }
                stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n").await.unwrap();
                body_go.recv().await.unwrap();
                stream.write_all(body.as_bytes()).await.unwrap();
            }
            // Held open until the test ends.
            let _ = stream.read(&mut buffer).await;
        });
        let plain = Plain::new(Duration::from_secs(2), 2);
        let destination = uri.authority().unwrap().as_str();
        for expected in ["first", "again"] {
            let (response, mut lease) = plain.send(&uri, destination, request(&uri)).await.unwrap();
            assert_eq!(response.status(), 200);
            head_seen.send(()).await.unwrap();
            let body = lease.drive(response.into_body().collect()).await.unwrap().to_bytes();
            assert_eq!(body, expected);
            lease.keep();
        }
        assert_eq!(plain.idle_count(), 1, "the one connection carried both and was kept");
    }

    #[tokio::test]
    async fn a_kept_connection_the_receiver_closed_while_idle_is_not_taken() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // A receiver that answers one request on its first connection, then
        // closes it when told, and answers on a second one.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri: Uri = format!("http://{}/cb", listener.local_addr().unwrap()).parse().unwrap();
        let (close_now, mut told) = tokio::sync::mpsc::channel::<()>(1);
        let (closed, mut is_closed) = tokio::sync::mpsc::channel::<()>(1);
        tokio::spawn(async move {
            for round in 0..2 {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut read = Vec::new();
                let mut buffer = [0u8; 4096];
                while !read.ends_with(b"{}") {
                    let n = stream.read(&mut buffer).await.unwrap();
                    assert!(n > 0, "the client closed the connection");
                    read.extend_from_slice(&buffer[..n]);
                }
                stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await.unwrap();
                if round == 0 {
                    told.recv().await.unwrap();
                    drop(stream);
                    closed.send(()).await.unwrap();
                } else {
                    // Held open until the test ends.
                    let _ = stream.read(&mut buffer).await;
                }
            }
        });
        let plain = Plain::new(Duration::from_secs(2), 2);
        assert_eq!(exchange(&plain, &uri, true).await, "ok");
        assert_eq!(plain.idle_count(), 1);
        close_now.send(()).await.unwrap();
        is_closed.recv().await.unwrap();
        // Lets the runtime's I/O driver see the close (no task drives an idle connection).
        tokio::task::yield_now().await;
        // The closed connection is dropped when taken, and the request goes on a new one.
        assert_eq!(exchange(&plain, &uri, true).await, "ok");
        assert_eq!(plain.idle_count(), 1);
    }

    #[tokio::test]
    async fn a_refused_connection_says_so() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let uri: Uri = format!("http://{}/cb", listener.local_addr().unwrap()).parse().unwrap();
        drop(listener);
        let plain = Plain::new(Duration::from_secs(2), 2);
        let Err(e) = plain.send(&uri, "x", request(&uri)).await else { panic!("nobody listens there") };
        let text = super::super::deliver::error_chain(&e);
        assert!(text.starts_with("client error (Connect)"), "{text}");
        assert!(text.to_lowercase().contains("refused"), "{text}");
    }

    #[test]
    fn a_full_pool_sweeps_closed_and_expired_connections_at_most_once_a_second() {
        let mut idle = Idle::default();
        let now = Instant::now();
        idle.sweep(now);
        assert_eq!(idle.swept_at, Some(now));
        idle.count = 7; // a count the sweep would correct: it does not run again within the second
        idle.sweep(now + Duration::from_millis(500));
        assert_eq!(idle.count, 7);
        idle.sweep(now + Duration::from_secs(2));
        assert_eq!(idle.count, 0);
    }
}
