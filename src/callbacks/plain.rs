//! The client for plain-HTTP receivers (the usual local one): HTTP/1.1
//! written and read here, on kept-alive TCP connections in a pool of its own.
//!
//! A callback is one request at a time on a connection, sent whole and its
//! answer read to the end by the delivery that sent it, so the exchange is
//! a write and a few reads on the socket: the request is written in one
//! piece, the answer's head and chunk sizes are read by `httparse` (the
//! parser hyper uses), and the connection goes back to the pool as soon
//! as its answer has been read. hyper's client connection, used before,
//! did the same through a channel to its dispatcher, a header map, a body
//! channel and a callback per request: about a fifth of a delivery's time
//! under load, more than the socket's own system calls after them.
//!
//! What an answer may be, as RFC 9112 says: a head of at most
//! [`MAX_HEAD`] bytes and [`MAX_HEADERS`] fields, informational (1xx)
//! answers skipped, a body framed by `Transfer-Encoding: chunked`, by
//! `Content-Length`, or by the connection's close; no body after 1xx, 204
//! or 304. Only an answer framed by its length or its chunks, read to its
//! end, with nothing after it, from HTTP/1.1 without `Connection: close`,
//! leaves its connection to serve another request.
//!
//! Bounds: at most `idle_per_host` idle connections per destination and
//! [`MAX_IDLE`] in all; an idle connection is not reused after
//! [`IDLE_TIMEOUT`]; connections the receiver closed are dropped when next
//! met, and all of them when the pool is full (at most once a second).
//! Only `capture` bytes of an answer's body are kept; a longer body is not
//! read further and its connection is closed.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Sleep;

use crate::fastmap::HashMap;

/// Idle connections kept in all, whatever their destinations.
const MAX_IDLE: usize = 1024;
/// How long an idle connection may wait to be reused (hyper-util's default).
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// The longest answer head read (status line and fields).
const MAX_HEAD: usize = 64 * 1024;
/// The most fields an answer's head may have.
const MAX_HEADERS: usize = 100;
/// What a read asks the socket for at least.
const READ_CHUNK: usize = 8 * 1024;

/// Where a request goes: the pool's key and the address to connect to.
#[derive(Debug, Clone)]
pub(super) struct Endpoint {
    /// `host:port` as the URL writes it: the pool's key.
    pub(super) destination: Box<str>,
    /// The host to connect to (an IPv6 address without its brackets).
    pub(super) host: Box<str>,
    pub(super) port: u16,
}

/// What the receiver answered: its status, the first `capture` bytes of
/// its body, and why the body was not read to its end, if it was not.
#[derive(Debug)]
pub(super) struct Answered<T> {
    pub(super) status: u16,
    pub(super) body: T,
    pub(super) error: Option<Error>,
}

/// Why an attempt got no answer, in the words hyper-util's client used
/// (the journal shows the whole chain of causes).
#[derive(Debug)]
pub(super) enum Error {
    Connect(io::Error),
    Send(io::Error),
    /// The attempt's time ran out.
    TimedOut,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Error::Connect(_) => "client error (Connect)",
            Error::Send(_) => "client error (SendRequest)",
            Error::TimedOut => "operation timed out",
        })
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Connect(e) | Error::Send(e) => Some(e),
            Error::TimedOut => None,
        }
    }
}

fn protocol(message: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// The receiver closed the connection before its answer ended.
fn cut_short() -> io::Error {
    protocol("connection closed before message completed")
}

/// A connection and its buffers (kept with it, so a kept-alive connection
/// allocates nothing per request). Generic over its stream for the fuzz
/// target, which feeds it answers from memory ([`answer_of`]).
struct Link<S = TcpStream> {
    stream: S,
    /// What was read and not yet consumed.
    read: BytesMut,
    /// The request being written.
    write: Vec<u8>,
    /// The answer's body as far as it is kept.
    body: Vec<u8>,
}

/// How an answer's body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// No body (1xx, 204, 304).
    Empty,
    Length(u64),
    Chunked,
    /// Read until the receiver closes the connection.
    Close,
}

/// An answer's head, as far as the exchange needs it.
#[derive(Debug, Clone, Copy)]
struct Head {
    status: u16,
    framing: Framing,
    /// HTTP/1.1 without `Connection: close`.
    keep_alive: bool,
    /// The head's length in bytes.
    len: usize,
}

/// Whether `bytes` hold the blank line that ends a head (httparse takes a
/// bare LF for CRLF).
fn head_ended(bytes: &[u8]) -> bool {
    bytes.windows(2).any(|w| w == b"\n\n") || bytes.windows(3).any(|w| w == b"\n\r\n")
}

/// Reads a complete head from `buf`, `None` if more is needed.
fn parse_head(buf: &[u8]) -> io::Result<Option<Head>> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut fields);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(protocol("message head has too many fields")),
        Err(_) => return Err(protocol("invalid HTTP message head")),
    };
    let status = response.code.unwrap_or_default();
    if !(100..1000).contains(&status) {
        return Err(protocol("invalid HTTP status code"));
    }
    let mut keep_alive = response.version == Some(1);
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut encoded = false;
    for field in response.headers.iter() {
        if field.name.eq_ignore_ascii_case("content-length") {
            let value = std::str::from_utf8(field.value).map_err(|_| protocol("invalid content-length"))?;
            let value: u64 = value.trim().parse().map_err(|_| protocol("invalid content-length"))?;
            if length.is_some_and(|seen| seen != value) {
                return Err(protocol("conflicting content-length"));
            }
            length = Some(value);
        } else if field.name.eq_ignore_ascii_case("transfer-encoding") {
            // Only the last coding says whether the body is chunked.
            encoded = true;
            chunked = field
                .value
                .split(|b| *b == b',')
                .next_back()
                .is_some_and(|coding| coding.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if field.name.eq_ignore_ascii_case("connection")
            && field.value.split(|b| *b == b',').any(|token| token.trim_ascii().eq_ignore_ascii_case(b"close"))
        {
            keep_alive = false;
        }
    }
    let framing = if (100..200).contains(&status) || status == 204 || status == 304 {
        Framing::Empty
    } else if encoded {
        // A chunked body's length is its chunks'; any other coding runs to the close.
        if chunked {
            Framing::Chunked
        } else {
            Framing::Close
        }
    } else {
        length.map_or(Framing::Close, Framing::Length)
    };
    Ok(Some(Head { status, framing, keep_alive, len }))
}

/// Sends `request` on `stream` and reads the answer as a delivery does:
/// its status, the first `capture` bytes of its body, and whether the body
/// was read to its end. What the fuzz target calls.
pub(crate) async fn answer_of<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    request: &[u8],
    capture: usize,
) -> io::Result<(u16, Vec<u8>, bool)> {
    let mut link = Link::new(stream);
    link.write.extend_from_slice(request);
    let head = link.send().await.map_err(|(_, e)| e)?;
    let ended = link.read_body(head.framing, capture).await?;
    Ok((head.status, link.body, ended))
}

impl Link {
    /// Whether the connection can carry a request: the receiver has not
    /// closed it and sent nothing unasked. Reads the socket only if the
    /// runtime saw it become readable.
    fn open(&self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        match self.stream.poll_read_ready(&mut cx) {
            Poll::Pending => true,
            Poll::Ready(Err(_)) => false,
            Poll::Ready(Ok(())) => {
                let mut probe = [0u8; 1];
                matches!(self.stream.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Link<S> {
    fn new(stream: S) -> Link<S> {
        Link { stream, read: BytesMut::new(), write: Vec::new(), body: Vec::new() }
    }

    /// Reads more into the read buffer; `Ok(0)` when the receiver closed.
    async fn fill(&mut self) -> io::Result<usize> {
        self.read.reserve(READ_CHUNK);
        self.stream.read_buf(&mut self.read).await
    }

    /// Reads more of an answer that has not ended: the receiver closing
    /// now cuts it short.
    async fn more(&mut self) -> io::Result<()> {
        match self.fill().await? {
            0 => Err(cut_short()),
            _ => Ok(()),
        }
    }

    /// Writes the request in `self.write` and reads the answer's head.
    /// `Err((true, _))` when nothing of an answer came: a kept connection
    /// the receiver had closed, so the request may go on another.
    async fn send(&mut self) -> Result<Head, (bool, io::Error)> {
        self.read.clear();
        if let Err(e) = self.stream.write_all(&self.write).await {
            return Err((true, e));
        }
        // How much of the buffer is known to hold no head's end: a head
        // that comes a few bytes at a time is parsed once it has ended,
        // not again at every read.
        let mut searched: usize = 0;
        loop {
            if head_ended(self.read.get(searched.saturating_sub(2)..).unwrap_or_default()) {
                match parse_head(&self.read) {
                    Ok(Some(head)) if head.status == 101 => {
                        return Err((false, protocol("unexpected switching protocols answer")))
                    }
                    Ok(Some(head)) if (100..200).contains(&head.status) => {
                        self.read.advance(head.len);
                        searched = 0;
                        continue;
                    }
                    Ok(Some(head)) => {
                        self.read.advance(head.len);
                        return Ok(head);
                    }
                    Ok(None) => {}
                    Err(e) => return Err((false, e)),
                }
            }
            if self.read.len() >= MAX_HEAD {
                return Err((false, protocol("message head is too large")));
            }
            searched = self.read.len();
            let nothing_yet = self.read.is_empty();
            match self.fill().await {
                Ok(0) => return Err((nothing_yet, cut_short())),
                Ok(_) => {}
                Err(e) => return Err((nothing_yet, e)),
            }
        }
    }

    /// Keeps up to `capture` more bytes of the body: the first `take`
    /// bytes read, which are then consumed (in place: splitting them off
    /// would make the buffer shared).
    fn keep(&mut self, take: usize, capture: usize) {
        let room = capture.saturating_sub(self.body.len());
        let data = self.read.get(..take).unwrap_or_default();
        self.body.extend_from_slice(data.get(..take.min(room)).unwrap_or_default());
        self.read.advance(take.min(self.read.len()));
    }

    /// Consumes what has been read of `left` more bytes of body, keeping
    /// what fits in `capture`; returns how many are still to come.
    fn consume(&mut self, left: u64, capture: usize) -> u64 {
        let take = usize::try_from(left).unwrap_or(usize::MAX).min(self.read.len());
        self.keep(take, capture);
        left.saturating_sub(u64::try_from(take).unwrap_or(u64::MAX))
    }

    /// Reads the body (its first `capture` bytes kept in `self.body`);
    /// `Ok(true)` when it was read to its end, `Ok(false)` when it was
    /// longer than `capture` and left unread.
    async fn read_body(&mut self, framing: Framing, capture: usize) -> io::Result<bool> {
        self.body.clear();
        match framing {
            Framing::Empty => Ok(true),
            Framing::Length(mut left) => loop {
                left = self.consume(left, capture);
                if left == 0 {
                    return Ok(true);
                }
                if self.body.len() >= capture {
                    return Ok(false);
                }
                self.more().await?;
            },
            Framing::Close => loop {
                self.keep(self.read.len(), capture);
                if self.body.len() >= capture {
                    return Ok(false);
                }
                if self.fill().await? == 0 {
                    return Ok(true);
                }
            },
            Framing::Chunked => self.read_chunks(capture).await,
        }
    }

    async fn read_chunks(&mut self, capture: usize) -> io::Result<bool> {
        loop {
            // A chunk's size line.
            let (consumed, size) = loop {
                match httparse::parse_chunk_size(&self.read) {
                    Ok(httparse::Status::Complete(found)) => break found,
                    Ok(httparse::Status::Partial) if self.read.len() < MAX_HEAD => {}
                    _ => return Err(protocol("invalid chunk size line")),
                }
                self.more().await?;
            };
            self.read.advance(consumed);
            if size == 0 {
                return self.read_trailers().await;
            }
            // Its data, then the line's end.
            let mut left = size;
            while left > 0 {
                if self.read.is_empty() {
                    self.more().await?;
                }
                left = self.consume(left, capture);
                if left > 0 && self.body.len() >= capture {
                    return Ok(false);
                }
            }
            while self.read.len() < 2 {
                self.more().await?;
            }
            if self.read.get(..2) != Some(b"\r\n".as_slice()) {
                return Err(protocol("invalid chunk end"));
            }
            self.read.advance(2);
            if self.body.len() >= capture {
                return Ok(false);
            }
        }
    }

    /// The trailer fields after the last chunk, up to the empty line.
    async fn read_trailers(&mut self) -> io::Result<bool> {
        loop {
            if let Some(end) = self.read.windows(2).position(|w| w == b"\r\n") {
                let empty = end == 0;
                self.read.advance(end.saturating_add(2));
                if empty {
                    return Ok(true);
                }
                continue;
            }
            if self.read.len() >= MAX_HEAD {
                return Err(protocol("trailers are too large"));
            }
            self.more().await?;
        }
    }
}

/// `future`'s output, or `None` once `timer` has run out; like
/// `tokio::time::timeout`, the future is polled first. A future of its own
/// rather than an `async fn`, which would hold `future` twice (as its
/// argument and pinned).
fn within<'t, F: Future>(timer: Pin<&'t mut Sleep>, future: F) -> Within<'t, F> {
    Within { timer, future }
}

pin_project_lite::pin_project! {
    /// See [`within`].
    struct Within<'t, F> {
        timer: Pin<&'t mut Sleep>,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for Within<'_, F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(output) = this.future.poll(cx) {
            return Poll::Ready(Some(output));
        }
        this.timer.as_mut().poll(cx).map(|()| None)
    }
}

/// The pool and the connect timeout.
pub(super) struct Plain {
    connect_timeout: Duration,
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

impl Plain {
    pub(super) fn new(connect_timeout: Duration, idle_per_host: usize) -> Plain {
        Plain { connect_timeout, idle: Mutex::new(Idle::default()), idle_per_host }
    }

    /// Sends the request `write` puts in its buffer to `to`, on a kept
    /// connection or a new one, and reads the answer; `text` makes what is
    /// kept of its body. A kept connection that turns out closed before
    /// any of an answer came is dropped and the request sent again, on
    /// another kept connection or a new one, as hyper-util's client does.
    /// Everything happens before `timer` runs out.
    pub(super) async fn exchange<T>(
        &self,
        to: &Endpoint,
        write: impl Fn(&mut Vec<u8>),
        capture: usize,
        mut timer: Pin<&mut Sleep>,
        text: impl FnOnce(&[u8]) -> T,
    ) -> Result<Answered<T>, Error> {
        loop {
            let (mut link, reused) = match self.take(&to.destination) {
                Some(link) => (link, true),
                None => match within(timer.as_mut(), self.connect(to)).await {
                    Some(link) => (link?, false),
                    None => return Err(Error::TimedOut),
                },
            };
            link.write.clear();
            write(&mut link.write);
            let head = match within(timer.as_mut(), link.send()).await {
                Some(Ok(head)) => head,
                Some(Err((true, _))) if reused => continue,
                Some(Err((_, e))) => return Err(Error::Send(e)),
                None => return Err(Error::TimedOut),
            };
            let (ended, error) = match within(timer.as_mut(), link.read_body(head.framing, capture)).await {
                Some(Ok(ended)) => (ended, None),
                Some(Err(e)) => (false, Some(Error::Send(e))),
                None => (false, Some(Error::TimedOut)),
            };
            let body = text(&link.body);
            // Only a connection whose answer was read to its end, with
            // nothing after it, can carry another request.
            let framed = matches!(head.framing, Framing::Length(_) | Framing::Chunked | Framing::Empty);
            if ended && framed && head.keep_alive && link.read.is_empty() {
                self.put(&to.destination, link);
            }
            return Ok(Answered { status: head.status, body, error });
        }
    }

    /// A kept connection to `destination` that is still open.
    fn take(&self, destination: &str) -> Option<Link> {
        loop {
            let kept = {
                let mut idle = self.lock();
                let kept = idle.by_destination.get_mut(destination)?.pop()?;
                idle.count = idle.count.saturating_sub(1);
                kept
            };
            if kept.since.elapsed() <= IDLE_TIMEOUT && kept.link.open() {
                return Some(kept.link);
            }
        }
    }

    async fn connect(&self, to: &Endpoint) -> Result<Link, Error> {
        let connect = TcpStream::connect((&*to.host, to.port));
        let stream = match tokio::time::timeout(self.connect_timeout, connect).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return Err(Error::Connect(e)),
            Err(_) => return Err(Error::Connect(io::Error::new(io::ErrorKind::TimedOut, "connect timeout"))),
        };
        // A request is written whole: nothing gains from waiting to send it.
        stream.set_nodelay(true).map_err(Error::Connect)?;
        Ok(Link::new(stream))
    }

    fn put(&self, destination: &str, link: Link) {
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
            kept.retain(|k| now.saturating_duration_since(k.since) <= IDLE_TIMEOUT && k.link.open());
            !kept.is_empty()
        });
        self.count = self.by_destination.values().map(Vec::len).sum();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use axum::http::Response;
    use bytes::Bytes;
    use http_body_util::Full;
    use hyper::server::conn::http1 as server;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    fn endpoint(addr: std::net::SocketAddr) -> Endpoint {
        Endpoint { destination: addr.to_string().into(), host: addr.ip().to_string().into(), port: addr.port() }
    }

    /// A receiver on loopback served by hyper that answers `ok` (closing
    /// the connection after each answer when `close` is set) and counts
    /// its connections.
    async fn receiver(close: bool) -> (Endpoint, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let to = endpoint(listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let service = service_fn(move |request: axum::http::Request<hyper::body::Incoming>| async move {
                        use http_body_util::BodyExt;
                        let got = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                        let mut response =
                            Response::new(Full::new(Bytes::from(if got == "{}" { "ok" } else { "bad" })));
                        if close {
                            response.headers_mut().insert("connection", "close".parse().unwrap());
                        }
                        Ok::<_, std::convert::Infallible>(response)
                    });
                    let _ = server::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        (to, connections)
    }

    fn write(to: &Endpoint) -> impl Fn(&mut Vec<u8>) + '_ {
        move |out: &mut Vec<u8>| {
            out.extend_from_slice(
                format!("POST /cb HTTP/1.1\r\nhost: {}\r\ncontent-length: 2\r\n\r\n{{}}", to.destination).as_bytes(),
            );
        }
    }

    /// Sends one request; the answer's status, kept body and error.
    async fn exchange(plain: &Plain, to: &Endpoint, capture: usize) -> (u16, String, Option<String>) {
        let timer = std::pin::pin!(tokio::time::sleep(Duration::from_secs(5)));
        let text = |body: &[u8]| String::from_utf8_lossy(body).into_owned();
        match plain.exchange(to, write(to), capture, timer, text).await {
            Ok(a) => (a.status, a.body, a.error.map(|e| crate::callbacks::deliver::error_chain(&e))),
            Err(e) => panic!("{}", crate::callbacks::deliver::error_chain(&e)),
        }
    }

    /// Sends `count` requests one after another to a receiver (closing
    /// after each answer when `close`); returns the connections the
    /// receiver saw and those kept idle.
    async fn one_after_another(close: bool, count: usize) -> (usize, usize) {
        let (to, connections) = receiver(close).await;
        let plain = Plain::new(Duration::from_secs(2), 4);
        for _ in 0..count {
            assert_eq!(exchange(&plain, &to, 1024).await, (200, "ok".to_owned(), None));
        }
        (connections.load(Ordering::SeqCst), plain.idle_count())
    }

    #[tokio::test]
    async fn a_connection_whose_answer_was_read_serves_the_next_request() {
        assert_eq!(one_after_another(false, 5).await, (1, 1));
    }

    #[tokio::test]
    async fn a_connection_the_receiver_closes_is_not_kept_and_no_request_fails() {
        assert_eq!(one_after_another(true, 4).await, (4, 0));
    }

    #[tokio::test]
    async fn idle_connections_are_bounded_per_destination() {
        let (to, connections) = receiver(false).await;
        let plain = Arc::new(Plain::new(Duration::from_secs(2), 2));
        // Five at once on five connections; only two stay.
        let all: Vec<_> = (0..5)
            .map(|_| {
                let (plain, to) = (plain.clone(), to.clone());
                tokio::spawn(async move {
                    // Each holds its connection until all five are open.
                    let link = plain.connect(&to).await.unwrap();
                    (plain, to, link)
                })
            })
            .collect();
        let mut links = Vec::new();
        for task in all {
            links.push(task.await.unwrap());
        }
        for (plain, to, link) in links {
            plain.put(&to.destination, link);
        }
        assert_eq!(connections.load(Ordering::SeqCst), 5);
        assert_eq!(plain.idle_count(), 2);
        assert_eq!(exchange(&plain, &to, 1024).await.1, "ok", "a kept one serves");
        assert_eq!(connections.load(Ordering::SeqCst), 5);
    }

    /// A receiver that reads one request per turn and writes the bytes
    /// `answers` gives for it (each a list of pieces written with a pause
    /// between them), then closes the connection if `close_after` says so.
    async fn scripted(answers: Vec<Vec<&'static [u8]>>, close_after: bool) -> (Endpoint, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let to = endpoint(listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        tokio::spawn(async move {
            let mut answers = answers.into_iter();
            while let Ok((mut stream, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                let mut buffer = [0u8; 4096];
                loop {
                    let mut read = Vec::new();
                    while !read.ends_with(b"{}") {
                        match stream.read(&mut buffer).await {
                            Ok(n) if n > 0 => read.extend_from_slice(&buffer[..n]),
                            _ => break,
                        }
                    }
                    if !read.ends_with(b"{}") {
                        break;
                    }
                    let Some(pieces) = answers.next() else { return };
                    for piece in pieces {
                        stream.write_all(piece).await.unwrap();
                        stream.flush().await.unwrap();
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    if close_after {
                        break;
                    }
                }
            }
        });
        (to, connections)
    }

    #[tokio::test]
    async fn answers_in_pieces_chunked_after_an_informational_answer_or_a_byte_at_a_time_are_read_whole() {
        let (to, connections) = scripted(
            vec![
                vec![b"HTTP/1.1 200 OK\r\ncontent-", b"length: 5\r\n\r\nfi", b"rst"],
                vec![b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\ntransfer-encoding: chunked\r\n\r\n3\r\nsec\r\n", b"3;ext=1\r\nond\r\n0\r\nx-trailer: 1\r\n\r\n"],
                vec![b"HTTP/1.1 204 No Content\r\n\r\n"],
                vec![b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nfail"],
                // A byte at a time, its lines ended by bare LFs.
                b"HTTP/1.1 200 OK\ncontent-length: 4\n\nlast".chunks(1).collect(),
            ],
            false,
        )
        .await;
        let plain = Plain::new(Duration::from_secs(2), 2);
        assert_eq!(exchange(&plain, &to, 1024).await, (200, "first".to_owned(), None));
        assert_eq!(exchange(&plain, &to, 1024).await, (202, "second".to_owned(), None));
        assert_eq!(exchange(&plain, &to, 1024).await, (204, String::new(), None));
        assert_eq!(exchange(&plain, &to, 1024).await, (500, "fail".to_owned(), None));
        assert_eq!(exchange(&plain, &to, 1024).await, (200, "last".to_owned(), None));
        assert_eq!(connections.load(Ordering::SeqCst), 1, "one connection carried all five");
        assert_eq!(plain.idle_count(), 1);
    }

    /// Two answers of 200, each on a connection of its own that is not
    /// kept; what each kept of its body.
    async fn two_not_kept(
        first: &'static [&'static [u8]],
        second: &'static [u8],
        close: bool,
        capture: usize,
    ) -> [String; 2] {
        let (to, connections) = scripted(vec![first.to_vec(), vec![second]], close).await;
        let plain = Plain::new(Duration::from_secs(2), 2);
        let mut kept = [String::new(), String::new()];
        for body in &mut kept {
            let (status, text, error) = exchange(&plain, &to, capture).await;
            assert_eq!((status, error), (200, None));
            assert_eq!(plain.idle_count(), 0);
            *body = text;
        }
        assert_eq!(connections.load(Ordering::SeqCst), 2);
        kept
    }

    #[tokio::test]
    async fn an_answer_framed_by_the_close_or_from_http_1_0_is_read_and_its_connection_not_kept() {
        let close: &[&[u8]] = &[b"HTTP/1.1 200 OK\r\n\r\nuntil ", b"the end"];
        let old = b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok";
        assert_eq!(two_not_kept(close, old, true, 1024).await, ["until the end", "ok"]);
    }

    #[tokio::test]
    async fn only_the_captured_part_of_a_long_body_is_kept_and_its_connection_closed() {
        let long: &[&[u8]] = &[b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789"];
        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\na\r\n0123456789\r\n";
        assert_eq!(two_not_kept(long, chunked, false, 4).await, ["0123", "0123"]);
    }

    #[tokio::test]
    async fn a_malformed_or_cut_answer_is_an_error_that_says_what_was_wrong() {
        let cases: [(&'static [u8], &str); 6] = [
            (b"HTTP/1.1 OK\r\n\r\n", "invalid HTTP message head"),
            (b"HTTP/1.1 099 Too Low\r\n\r\n", "invalid HTTP status code"),
            (b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n", "invalid content-length"),
            (b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\n", "conflicting content-length"),
            (b"HTTP/1.1 101 Switching Protocols\r\n\r\n", "unexpected switching protocols answer"),
            (b"HTTP/1.1 200 O", "connection closed before message completed"),
        ];
        for (answer, why) in cases {
            let (to, _) = scripted(vec![vec![answer]], true).await;
            let plain = Plain::new(Duration::from_secs(2), 2);
            let timer = std::pin::pin!(tokio::time::sleep(Duration::from_secs(5)));
            let Err(e) = plain.exchange(&to, write(&to), 1024, timer, <[u8]>::to_vec).await else {
                panic!("{why}: answered")
            };
            let text = crate::callbacks::deliver::error_chain(&e);
            assert_eq!(text, format!("client error (SendRequest): {why}"));
        }
        // A body cut short: the status stays, with the error.
        let (to, _) = scripted(vec![vec![b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nshort"]], true).await;
        let plain = Plain::new(Duration::from_secs(2), 2);
        let (status, body, error) = exchange(&plain, &to, 1024).await;
        assert_eq!((status, body.as_str()), (200, "short"));
        assert_eq!(error.as_deref(), Some("client error (SendRequest): connection closed before message completed"));
    }

    #[tokio::test]
    async fn a_head_too_large_or_an_answer_too_slow_is_given_up() {
        let (to, _) = scripted(vec![vec![b"HTTP/1.1 200 OK\r\n", &[b'x'; MAX_HEAD]]], true).await;
        let plain = Plain::new(Duration::from_secs(2), 2);
        let timer = std::pin::pin!(tokio::time::sleep(Duration::from_secs(5)));
        let Err(e) = plain.exchange(&to, write(&to), 1024, timer, <[u8]>::to_vec).await else { panic!("answered") };
        assert_eq!(crate::callbacks::deliver::error_chain(&e), "client error (SendRequest): message head is too large");
        // A receiver that never answers: the attempt's time runs out.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let to = endpoint(listener.local_addr().unwrap());
        let timer = std::pin::pin!(tokio::time::sleep(Duration::from_millis(50)));
        let result = plain.exchange(&to, write(&to), 1024, timer, <[u8]>::to_vec).await;
        assert!(matches!(result, Err(Error::TimedOut)), "{result:?}");
        drop(listener);
    }

    #[tokio::test]
    async fn a_kept_connection_the_receiver_closed_while_idle_is_not_taken() {
        // A receiver that answers one request on its first connection, then
        // closes it when told, and answers on a second one.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let to = endpoint(listener.local_addr().unwrap());
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
        assert_eq!(exchange(&plain, &to, 1024).await.1, "ok");
        assert_eq!(plain.idle_count(), 1);
        close_now.send(()).await.unwrap();
        is_closed.recv().await.unwrap();
        // Lets the runtime's I/O driver see the close (no task drives an idle connection).
        tokio::task::yield_now().await;
        // The closed connection is dropped when taken, and the request goes on a new one.
        assert_eq!(exchange(&plain, &to, 1024).await.1, "ok");
        assert_eq!(plain.idle_count(), 1);
    }

    #[tokio::test]
    async fn a_request_on_a_kept_connection_closed_unnoticed_goes_again_on_a_new_one() {
        // The first connection answers once and then closes as soon as the
        // next request arrives, without answering it.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let to = endpoint(listener.local_addr().unwrap());
        let seen = Arc::new(AtomicUsize::new(0));
        let counted = seen.clone();
        tokio::spawn(async move {
            for round in 0..2 {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut buffer = [0u8; 4096];
                let mut read = Vec::new();
                while !read.ends_with(b"{}") {
                    let n = stream.read(&mut buffer).await.unwrap();
                    assert!(n > 0);
                    read.extend_from_slice(&buffer[..n]);
                }
                counted.fetch_add(1, Ordering::SeqCst);
                stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await.unwrap();
                if round == 0 {
                    let _ = stream.read(&mut buffer).await;
                    drop(stream);
                } else {
                    let _ = stream.read(&mut buffer).await;
                }
            }
        });
        let plain = Plain::new(Duration::from_secs(2), 2);
        assert_eq!(exchange(&plain, &to, 1024).await.1, "ok");
        assert_eq!(exchange(&plain, &to, 1024).await.1, "ok", "sent again on a new connection");
        assert_eq!(seen.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_refused_connection_says_so() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let to = endpoint(listener.local_addr().unwrap());
        drop(listener);
        let plain = Plain::new(Duration::from_secs(2), 2);
        let timer = std::pin::pin!(tokio::time::sleep(Duration::from_secs(5)));
        let Err(e) = plain.exchange(&to, write(&to), 1024, timer, <[u8]>::to_vec).await else {
            panic!("nobody listens there")
        };
        let text = crate::callbacks::deliver::error_chain(&e);
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
