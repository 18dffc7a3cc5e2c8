//! The request body a gRPC service gets: hyper's [`Incoming`] with the
//! server's message size limit checked on the wire.
//!
//! Every gRPC message is framed by a 5-byte prefix: a compression flag and
//! the message's length (big-endian `u32`). The body follows the prefixes
//! through the data frames as they pass, without copying or holding them:
//! a prefix that announces more than the limit fails the body with
//! `RESOURCE_EXHAUSTED` (gRPC's code for a message over the receive limit)
//! before tonic has seen that message or allocated room for it. tonic's
//! decoder turns that error into the call's status. Everything else
//! (decoding, decompression and its own limits) stays tonic's.

use std::fmt;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use ::hyper::body::{Body as HttpBody, Bytes, Frame, Incoming, SizeHint};
use tonic::Status;

/// The 5-byte gRPC message prefix.
const PREFIX: usize = 5;

/// A gRPC request body under the server's message size limit
/// ([`Builder::max_message_size`](super::Builder::max_message_size)).
///
/// Its errors are [`tonic::Status`]es: `RESOURCE_EXHAUSTED` for a message
/// over the limit; for the peer's own failures (a reset stream, a closed
/// connection), what tonic makes of hyper's error (`CANCELLED` for a
/// client's `RST_STREAM(CANCEL)`, for example).
pub struct RequestBody {
    inner: Incoming,
    limit: usize,
    /// Where the body is in its framing.
    framing: Framing,
}

/// The framing state between two data frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// `have` bytes of a prefix read so far, held in `bytes`.
    Prefix { bytes: [u8; PREFIX], have: usize },
    /// Inside a message: this many bytes of it still to come.
    Message(usize),
    /// The limit was passed: the body only fails from now on.
    Failed,
}

impl RequestBody {
    pub(crate) fn new(inner: Incoming, limit: usize) -> Self {
        Self {
            inner,
            limit,
            framing: Framing::START,
        }
    }

    /// The limit on one message's length, in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    fn too_large(&self, len: usize) -> Status {
        Status::resource_exhausted(format!(
            "received message of {len} bytes, larger than the server's limit of {} bytes",
            self.limit
        ))
    }
}

impl Framing {
    const START: Framing = Framing::Prefix {
        bytes: [0; PREFIX],
        have: 0,
    };

    /// Follows the framing through `data`; the length of the first message
    /// over `limit`, if one starts in it.
    fn follow(&mut self, limit: usize, mut data: &[u8]) -> Option<usize> {
        while !data.is_empty() {
            match self {
                Framing::Failed => return None,
                Framing::Message(left) => {
                    let skip = (*left).min(data.len());
                    *left -= skip;
                    data = &data[skip..];
                    if *left == 0 {
                        *self = Framing::START;
                    }
                }
                Framing::Prefix { bytes, have } => {
                    let take = (PREFIX - *have).min(data.len());
                    bytes[*have..*have + take].copy_from_slice(&data[..take]);
                    *have += take;
                    data = &data[take..];
                    if *have == PREFIX {
                        let len = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]) as usize;
                        *self = match len {
                            len if len > limit => {
                                *self = Framing::Failed;
                                return Some(len);
                            }
                            0 => Framing::START,
                            len => Framing::Message(len),
                        };
                    }
                }
            }
        }
        None
    }
}

impl fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestBody")
            .field("limit", &self.limit)
            .field("framing", &self.framing)
            .finish_non_exhaustive()
    }
}

impl HttpBody for RequestBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        if self.framing == Framing::Failed {
            return Poll::Ready(Some(Err(Status::resource_exhausted("message over the server's limit"))));
        }
        let frame = match ready!(Pin::new(&mut self.inner).poll_frame(cx)) {
            None => return Poll::Ready(None),
            Some(Err(e)) => return Poll::Ready(Some(Err(Status::from_error(Box::new(e))))),
            Some(Ok(frame)) => frame,
        };
        if let Some(data) = frame.data_ref() {
            let limit = self.limit;
            if let Some(len) = self.framing.follow(limit, data) {
                return Poll::Ready(Some(Err(self.too_large(len))));
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// tonic's generated servers need `Send` bodies.
const _: () = {
    const fn send_and_unpin<T: Send + Unpin>() {}
    send_and_unpin::<RequestBody>();
};

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(len: u32) -> Vec<u8> {
        let mut v = vec![0];
        v.extend_from_slice(&len.to_be_bytes());
        v.resize(PREFIX + len as usize, 7);
        v
    }

    /// The framing alone, over `chunks` in turn.
    fn follow_all(limit: usize, chunks: &[&[u8]]) -> Option<usize> {
        let mut framing = Framing::START;
        chunks.iter().find_map(|chunk| framing.follow(limit, chunk))
    }

    #[test]
    fn messages_under_the_limit_pass_in_any_split() {
        let mut wire = framed(10);
        wire.extend(framed(0));
        wire.extend(framed(16));
        for split in 0..wire.len() {
            let (a, b) = wire.split_at(split);
            assert_eq!(follow_all(16, &[a, b]), None, "split at {split}");
        }
    }

    #[test]
    fn a_prefix_over_the_limit_is_caught_in_any_split() {
        let mut wire = framed(3);
        wire.extend_from_slice(&[0, 0, 0, 0, 17]);
        for split in 0..wire.len() {
            let (a, b) = wire.split_at(split);
            assert_eq!(follow_all(16, &[a, b]), Some(17), "split at {split}");
        }
    }
}
