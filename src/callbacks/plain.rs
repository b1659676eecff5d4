//! The client for plain-HTTP receivers (the usual local one): hyper's
//! HTTP/1 connection API and a pool of kept-alive connections of its own.
//!
//! hyper-util's pooled client did the same with more work per request: it
//! raced a connect against every checkout, took its pool's lock several
//! times, and spawned a task per request to put the connection back once it
//! was idle again. A callback is one request at a time on a connection and
//! its answer is read to the end, so here the connection goes back to the
//! pool as soon as the answer has been read, and a task is spawned only per
//! new connection (to drive it). About a twentieth of a push's instructions.
//!
//! Bounds: at most `idle_per_host` idle connections per destination and
//! [`MAX_IDLE`] in all; an idle connection is not reused after
//! [`IDLE_TIMEOUT`]; connections the receiver closed are dropped when next
//! met, and all of them when the pool is full (at most once a second).

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::http::{Request, Response, Uri};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::client::legacy::connect::HttpConnector;
use tower::Service;

use crate::fastmap::HashMap;

/// Idle connections kept in all, whatever their destinations.
pub(super) const MAX_IDLE: usize = 1024;
/// How long an idle connection may wait to be reused (hyper-util's default).
pub(super) const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

type Sender = SendRequest<Full<Bytes>>;

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
    sender: Sender,
    since: Instant,
}

/// A connection lent to one request: back to the pool with
/// [`Lease::keep`], closed when dropped.
pub(super) struct Lease<'a> {
    plain: &'a Plain,
    destination: &'a str,
    sender: Sender,
}

impl Lease<'_> {
    /// The answer was read to its end: the connection may serve another request.
    pub(super) fn keep(self) {
        self.plain.put(self.destination, self.sender);
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
            let (mut sender, reused) = match self.take(destination).await {
                Some(sender) => (sender, true),
                None => (self.connect(uri).await?, false),
            };
            match sender.try_send_request(request).await {
                Ok(response) => return Ok((response, Lease { plain: self, destination, sender })),
                Err(mut e) => match e.take_message() {
                    Some(unsent) if reused => request = unsent,
                    _ => return Err(Error::Send(e.into_error())),
                },
            }
        }
    }

    /// A kept connection to `destination` that is still open and ready.
    async fn take(&self, destination: &str) -> Option<Sender> {
        loop {
            let kept = {
                let mut idle = self.lock();
                let kept = idle.by_destination.get_mut(destination)?.pop()?;
                idle.count = idle.count.saturating_sub(1);
                kept
            };
            let Kept { mut sender, since } = kept;
            if sender.is_closed() || since.elapsed() > IDLE_TIMEOUT {
                continue;
            }
            // Just back from a read answer, the connection may not have
            // noticed yet that it is idle: it does as soon as it runs.
            if sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }

    async fn connect(&self, uri: &Uri) -> Result<Sender, Error> {
        // HttpConnector is always ready: its `poll_ready` does nothing.
        let mut connector = self.connector.clone();
        let io = connector.call(uri.clone()).await.map_err(|e| Error::Connect(Box::new(e)))?;
        let (sender, connection) = http1::handshake(io).await.map_err(Error::Send)?;
        tokio::spawn(async move {
            // Ends when the receiver closes the connection or the last
            // sender is dropped; its error is the receiver's to explain,
            // and the attempt it failed has journaled it.
            let _ = connection.await;
        });
        Ok(sender)
    }

    fn put(&self, destination: &str, sender: Sender) {
        if sender.is_closed() {
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
        kept.push(Kept { sender, since: now });
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
            kept.retain(|k| !k.sender.is_closed() && now.saturating_duration_since(k.since) <= IDLE_TIMEOUT);
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
        let (response, lease) = plain.send(uri, destination, request(uri)).await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
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
            let (response, lease) = plain.send(&uri, destination, request(&uri)).await.unwrap();
            response.into_body().collect().await.unwrap();
            leases.push(lease);
        }
        for lease in leases {
            lease.keep();
        }
        assert_eq!(connections.load(Ordering::SeqCst), 5);
        assert_eq!(plain.idle_count(), 2);
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
