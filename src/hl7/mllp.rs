//! MLLP (the Minimal Lower Layer Protocol of HL7 v2): each message is framed as
//! `0x0B <message> 0x1C 0x0D` on a TCP connection, and the sender waits for the acknowledgement,
//! framed the same way, before the next (docs/design.md §10).
//!
//! The framing is written by hand on tokio: `Framer` turns bytes into messages whatever the
//! pieces the network delivers them in (several messages in one read, one message over many).
//! Bytes outside a frame are ignored; a start block inside a frame starts the frame again (the
//! sender gave up on the one before). A message longer than the limit is not kept: its first
//! bytes are kept to address the answer, the rest is discarded up to the end block, and it is
//! answered AR. Bad input never closes the connection; only the peer, or a network error, does.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::api::AppState;

/// Start block (VT).
pub const START: u8 = 0x0B;
/// End block: FS then CR.
pub const END: [u8; 2] = [0x1C, 0x0D];
/// How much of a message that is too large is kept, to read its MSH for the answer.
pub const HEAD_BYTES: usize = 4096;

/// What the bytes of a connection held.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A whole message (without the framing).
    Message(Vec<u8>),
    /// A message over the limit, discarded; its first `HEAD_BYTES` bytes.
    TooLarge(Vec<u8>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Between frames: everything but a start block is ignored.
    Outside,
    /// In a frame; `saw_fs`: the last byte was FS, which ends the frame if CR follows.
    Inside { saw_fs: bool },
    /// In a frame over the limit: its head is kept, the rest dropped.
    Discarding { saw_fs: bool },
}

/// Splits a byte stream into MLLP frames, holding at most `max` bytes of one message.
#[derive(Debug)]
pub struct Framer {
    max: usize,
    state: State,
    buffer: Vec<u8>,
}

impl Framer {
    pub fn new(max: usize) -> Framer {
        Framer {
            max,
            state: State::Outside,
            buffer: Vec::new(),
        }
    }

    /// Feeds the next bytes; each frame they complete is appended to `out`, in order.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<Frame>) {
        for &byte in bytes {
            self.state = match (self.state, byte) {
                (State::Outside, START) => self.start(),
                (State::Outside, _) => State::Outside,
                (State::Inside { saw_fs: true }, 0x0D) => {
                    out.push(Frame::Message(std::mem::take(&mut self.buffer)));
                    State::Outside
                }
                (State::Discarding { saw_fs: true }, 0x0D) => {
                    out.push(Frame::TooLarge(std::mem::take(&mut self.buffer)));
                    State::Outside
                }
                (State::Inside { .. }, START) => self.start(),
                (State::Discarding { .. }, START) => {
                    out.push(Frame::TooLarge(std::mem::take(&mut self.buffer)));
                    self.start()
                }
                (State::Inside { saw_fs }, 0x1C) => if saw_fs {
                    self.keep(&[0x1C])
                } else {
                    State::Inside { saw_fs: true }
                }
                .with_fs(),
                (State::Inside { saw_fs }, _) => {
                    if saw_fs {
                        self.keep(&[0x1C, byte])
                    } else {
                        self.keep(&[byte])
                    }
                }
                (State::Discarding { .. }, 0x1C) => State::Discarding { saw_fs: true },
                (State::Discarding { .. }, _) => State::Discarding { saw_fs: false },
            };
        }
    }

    fn start(&mut self) -> State {
        self.buffer.clear();
        State::Inside { saw_fs: false }
    }

    /// Appends message bytes, or starts discarding when they would pass the limit.
    fn keep(&mut self, bytes: &[u8]) -> State {
        if self.buffer.len() + bytes.len() > self.max {
            self.buffer.truncate(HEAD_BYTES);
            self.buffer.shrink_to(HEAD_BYTES);
            State::Discarding { saw_fs: false }
        } else {
            self.buffer.extend_from_slice(bytes);
            State::Inside { saw_fs: false }
        }
    }
}

impl State {
    /// The state after an FS: still in (or discarding) the frame, with the FS pending.
    fn with_fs(self) -> State {
        match self {
            State::Inside { .. } => State::Inside { saw_fs: true },
            State::Discarding { .. } => State::Discarding { saw_fs: true },
            State::Outside => State::Outside,
        }
    }
}

/// An answer framed for the wire.
pub fn frame(message: &str) -> Vec<u8> {
    let mut framed = Vec::with_capacity(message.len() + 3);
    framed.push(START);
    framed.extend_from_slice(message.as_bytes());
    framed.extend_from_slice(&END);
    framed
}

/// The MLLP listener: bound when the application is built, serving once it runs.
pub struct Listener {
    listener: TcpListener,
    state: AppState,
}

impl Listener {
    pub async fn bind(address: &str, state: AppState) -> std::io::Result<Listener> {
        Ok(Listener {
            listener: TcpListener::bind(address).await?,
            state,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections until dropped; each connection is served by its own task, and they
    /// end with it. A message in flight then is not acknowledged, so the sender sends it again
    /// and it is answered as a replay if it was committed.
    ///
    /// At most `PAT_MLLP_MAX_CONNECTIONS` are served at once: the next is not accepted until one
    /// ends, so it waits in the kernel's queue (its sender sees a slow answer, never a refusal),
    /// and the memory the listener holds stays bounded.
    pub async fn run(self) {
        let mut connections = JoinSet::new();
        let permits = Arc::new(Semaphore::new(self.state.settings.mllp.max_connections));
        loop {
            while connections.try_join_next().is_some() {}
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return; // never closed: the semaphore lives as long as this loop
            };
            match self.listener.accept().await {
                Ok((stream, _)) => {
                    let state = self.state.clone();
                    connections.spawn(async move {
                        serve_connection(stream, state).await;
                        drop(permit);
                    });
                }
                Err(error) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error.cause = %error, "mllp: cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

/// One connection: messages are answered in the order they arrive, each after it is processed.
async fn serve_connection(mut stream: TcpStream, state: AppState) {
    let _ = stream.set_nodelay(true);
    let mut framer = Framer::new(state.settings.mllp.max_message_bytes);
    let mut buffer = vec![0u8; 16 * 1024];
    let mut frames = Vec::new();
    loop {
        let read = match stream.read(&mut buffer).await {
            Ok(0) => return,
            Ok(n) => n,
            Err(error) => {
                tracing::debug!(error.cause = %error, "mllp: connection ended");
                return;
            }
        };
        framer.push(&buffer[..read], &mut frames);
        for frame in frames.drain(..) {
            let answer = match frame {
                Frame::Message(bytes) => {
                    // In a task of its own, so that a panic (none is known: `reading_never_panics`)
                    // costs this message an AR, not the connection; and a message whose sender
                    // goes away is still recorded or not as a whole.
                    let task_state = state.clone();
                    match tokio::spawn(async move { super::answer(&task_state, &bytes).await }).await {
                        Ok(answer) => answer,
                        Err(_) => super::failed(&state),
                    }
                }
                Frame::TooLarge(head) => super::too_large(&state, &head),
            };
            if let Err(error) = stream.write_all(&self::frame(&answer)).await {
                tracing::debug!(error.cause = %error, "mllp: connection ended");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(message: &str) -> Vec<u8> {
        frame(message)
    }

    fn feed(max: usize, pieces: &[&[u8]]) -> Vec<Frame> {
        let mut framer = Framer::new(max);
        let mut out = Vec::new();
        for piece in pieces {
            framer.push(piece, &mut out);
        }
        out
    }

    #[test]
    fn frames_are_found_whatever_the_pieces() {
        let two = [framed("MSH|one"), framed("MSH|two")].concat();
        let expected = vec![Frame::Message(b"MSH|one".to_vec()), Frame::Message(b"MSH|two".to_vec())];
        assert_eq!(feed(1024, &[&two]), expected, "two in one piece");
        let bytes: Vec<&[u8]> = two.chunks(1).collect();
        assert_eq!(feed(1024, &bytes), expected, "one byte at a time");
    }

    #[test]
    fn garbage_outside_frames_is_ignored_and_a_new_start_block_restarts() {
        let mut bytes = b"GET / HTTP/1.1\r\n\x1c\r".to_vec();
        bytes.extend_from_slice(b"\x0bhalf a mess");
        bytes.extend_from_slice(&framed("MSH|whole"));
        assert_eq!(feed(1024, &[&bytes]), vec![Frame::Message(b"MSH|whole".to_vec())]);
    }

    #[test]
    fn an_fs_without_cr_is_part_of_the_message() {
        let bytes = b"\x0bA\x1cB\x1c\x1c\x1c\r";
        assert_eq!(feed(1024, &[bytes]), vec![Frame::Message(b"A\x1cB\x1c\x1c".to_vec())]);
    }

    #[test]
    fn a_message_over_the_limit_is_discarded_keeping_its_head() {
        let big = format!("MSH|{}", "x".repeat(10_000));
        let bytes = [framed(&big), framed("MSH|next")].concat();
        let frames = feed(5_000, &[&bytes]);
        assert_eq!(frames.len(), 2);
        match &frames[0] {
            Frame::TooLarge(head) => {
                assert_eq!(head.len(), HEAD_BYTES);
                assert!(head.starts_with(b"MSH|x"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(frames[1], Frame::Message(b"MSH|next".to_vec()));
        // Exactly at the limit is allowed.
        assert_eq!(
            feed(8, &[&framed("MSH|1234")]),
            vec![Frame::Message(b"MSH|1234".to_vec())]
        );
        assert!(matches!(feed(7, &[&framed("MSH|1234")])[..], [Frame::TooLarge(_)]));
    }
}
