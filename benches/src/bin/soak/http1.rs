//! Just enough HTTP/1.1 for the soak's clients: requests written by hand,
//! responses read with `Content-Length` or chunked bodies. Anything else
//! the server sends is an error (`InvalidData`), never a panic.

use std::io::{self, BufRead, Read, Write};

/// The largest head or body the client accepts.
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 8 << 20;

/// A request of the soak: `GET /` or `POST /echo` with a body.
pub enum Request {
    Hello,
    Echo(Vec<u8>),
}

/// What `GET /` answers.
pub const HELLO: &[u8] = b"Hello, world!";

impl Request {
    /// The body the server must send back.
    pub fn expected(&self) -> &[u8] {
        match self {
            Request::Hello => HELLO,
            Request::Echo(body) => body,
        }
    }

    /// Writes the request, with `Connection: close` if `close`.
    pub fn write(&self, out: &mut impl Write, close: bool) -> io::Result<()> {
        let connection = if close { "Connection: close\r\n" } else { "" };
        match self {
            Request::Hello => write!(out, "GET / HTTP/1.1\r\nHost: soak\r\n{connection}\r\n"),
            Request::Echo(body) => {
                write!(
                    out,
                    "POST /echo HTTP/1.1\r\nHost: soak\r\nContent-Length: {}\r\n{connection}\r\n",
                    body.len()
                )?;
                out.write_all(body)
            }
        }
    }
}

/// A response as read.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
    /// The server said `Connection: close`.
    pub close: bool,
}

fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

fn read_line(r: &mut (impl BufRead + ?Sized), head: &mut usize) -> io::Result<String> {
    let mut line = Vec::new();
    let n = r.take((MAX_HEAD - *head) as u64 + 1).read_until(b'\n', &mut line)?;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the server closed the connection before a complete response",
        ));
    }
    *head += n;
    if *head > MAX_HEAD {
        return Err(invalid(format!("response head over {MAX_HEAD} bytes")));
    }
    if !line.ends_with(b"\r\n") {
        return Err(invalid("response line without CRLF (truncated?)".into()));
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).map_err(|_| invalid("response head is not UTF-8".into()))
}

/// Reads one response.
pub fn read_response(r: &mut (impl BufRead + ?Sized)) -> io::Result<Response> {
    let mut head = 0;
    let status_line = read_line(r, &mut head)?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let status = parts.next().and_then(|s| s.parse::<u16>().ok());
    let (true, Some(status)) = (version == "HTTP/1.1", status) else {
        return Err(invalid(format!("bad status line {status_line:?}")));
    };
    let mut length = None;
    let mut chunked = false;
    let mut close = false;
    loop {
        let line = read_line(r, &mut head)?;
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(invalid(format!("bad header line {line:?}")));
        };
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => {
                length = Some(
                    value
                        .parse::<usize>()
                        .map_err(|_| invalid(format!("bad Content-Length {value:?}")))?,
                )
            }
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            "connection" => close = value.eq_ignore_ascii_case("close"),
            _ => {}
        }
    }
    let body = match (chunked, length) {
        (true, _) => read_chunked(r)?,
        (false, Some(len)) if len <= MAX_BODY => read_exact_vec(r, len)?,
        (false, Some(len)) => return Err(invalid(format!("body of {len} bytes over {MAX_BODY}"))),
        (false, None) => Vec::new(),
    };
    Ok(Response { status, body, close })
}

fn read_exact_vec(r: &mut (impl Read + ?Sized), len: usize) -> io::Result<Vec<u8>> {
    let mut body = vec![0; len];
    r.read_exact(&mut body)?;
    Ok(body)
}

fn read_chunked(r: &mut (impl BufRead + ?Sized)) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut head = 0;
    loop {
        let line = read_line(r, &mut head)?;
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| invalid(format!("bad chunk size {line:?}")))?;
        if body.len() + size > MAX_BODY {
            return Err(invalid(format!("chunked body over {MAX_BODY} bytes")));
        }
        if size == 0 {
            // Trailers, then the empty line.
            while !read_line(r, &mut head)?.is_empty() {}
            return Ok(body);
        }
        let at = body.len();
        body.resize(at + size, 0);
        r.read_exact(&mut body[at..])?;
        if !read_line(r, &mut head)?.is_empty() {
            return Err(invalid("chunk without its CRLF".into()));
        }
        // Chunk-size lines count against the head limit only per chunk.
        head = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::read_response;

    #[test]
    fn reads_length_and_chunked_bodies_and_refuses_garbage() {
        let mut r = &b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nconnection: close\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n"[..];
        let first = read_response(&mut r).unwrap();
        assert_eq!(
            (first.status, &first.body[..], first.close),
            (200, &b"hello"[..], false)
        );
        let second = read_response(&mut r).unwrap();
        assert_eq!(
            (second.status, &second.body[..], second.close),
            (200, &b"abcde"[..], true)
        );
        assert_eq!(
            read_response(&mut r).unwrap_err().kind(),
            std::io::ErrorKind::UnexpectedEof
        );
        let mut bad = &b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n"[..];
        assert_eq!(
            read_response(&mut bad).unwrap_err().kind(),
            std::io::ErrorKind::InvalidData
        );
        let mut truncated = &b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nshort"[..];
        assert!(read_response(&mut truncated).is_err());
    }
}
