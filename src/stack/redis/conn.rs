//! The workload's connection to one Redis node: one TCP stream, one request at a time.
//! A writer waits for each write's answer before it sends the next, so the redis crate's
//! multiplexed connection (a task of its own, a channel and a oneshot per request, a
//! framed sink) spent more of drdrill's CPU than the write itself (docs/accuracy.md, "How heavy
//! is the harness?"). Here the redis crate still packs every command and parses every reply;
//! only the stream is drdrill's. The buffers, the key and the command are reused.
use crate::stack::WriteError;
use redis::{RedisError, RedisResult, Value};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// The redis crate's reply parser, which keeps what it read past one reply for the next.
type Replies = combine::stream::Decoder<combine::parser::combinator::AnySendSyncPartialState, combine::stream::PointerOffset<[u8]>>;

pub(super) struct RedisConn {
    stream: TcpStream,
    replies: Replies,
    cmd: redis::Cmd,
    packed: Vec<u8>,
    /// The key prefix (`drdrill:` or `<table>:<run>:`) followed by the last key's rest.
    key: Vec<u8>,
    prefix_len: usize,
}

/// How far above the highest sequence number invoked a reader's `MGET` starts.
const NEWEST_MARGIN: u64 = 16;

/// Credentials for `AUTH` (a user needs a password).
pub(super) type Login<'a> = Option<(Option<&'a str>, &'a str)>;

impl RedisConn {
    /// Connects within `timeout` (authenticating with `login` when given); keys written
    /// with [`RedisConn::set`] start with `prefix`.
    pub async fn connect(addr: SocketAddr, timeout: Duration, prefix: &str, login: Login<'_>) -> RedisResult<RedisConn> {
        let open = async {
            let stream = TcpStream::connect(addr).await?;
            // as redis-benchmark's hiredis does: a request leaves in one segment at once
            stream.set_nodelay(true)?;
            let key = prefix.as_bytes().to_vec();
            let mut c =
                RedisConn { stream, replies: Replies::new(), cmd: redis::Cmd::new(), packed: Vec::new(), prefix_len: key.len(), key };
            if let Some((user, password)) = login {
                let mut auth = redis::cmd("AUTH");
                auth.arg(user).arg(password);
                c.request(&auth).await?;
            }
            Ok(c)
        };
        match tokio::time::timeout(timeout, open).await {
            Ok(r) => r,
            Err(_) => Err(RedisError::from(std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))),
        }
    }

    /// Sends `cmd` and reads its reply; an error reply is an error.
    pub async fn request(&mut self, cmd: &redis::Cmd) -> RedisResult<Value> {
        self.packed.clear();
        cmd.write_packed_command(&mut self.packed);
        self.exchange().await?.extract_error()
    }

    async fn exchange(&mut self) -> RedisResult<Value> {
        self.stream.write_all(&self.packed).await?;
        redis::parse_redis_value_async(&mut self.replies, &mut self.stream).await
    }

    /// `SET <prefix><writer>:<seq> <payload>`. A refusal from the server (READONLY,
    /// NOREPLICAS, …) was not applied: `Fail`; a lost connection, an unreadable or
    /// unexpected reply may have been: `Unknown`.
    pub async fn set(&mut self, writer: u32, seq: u64, payload: &str) -> Result<(), WriteError> {
        match self.set_reply(writer, seq, payload).await {
            Ok(Value::Okay) => Ok(()),
            Ok(Value::ServerError(e)) => Err(WriteError::Fail(RedisError::from(e).to_string())),
            Ok(other) => Err(WriteError::Unknown(format!("unexpected reply to SET: {other:?}"))),
            Err(e) => Err(WriteError::Unknown(e.to_string())),
        }
    }

    /// `SET <prefix><writer>:<seq> <payload>` and its reply as it came (an error reply is a
    /// value: a cluster client reads its MOVED or ASK).
    pub async fn set_reply(&mut self, writer: u32, seq: u64, payload: &str) -> RedisResult<Value> {
        let mut n = itoa::Buffer::new();
        self.key.truncate(self.prefix_len);
        self.key.extend_from_slice(n.format(writer).as_bytes());
        self.key.push(b':');
        self.key.extend_from_slice(n.format(seq).as_bytes());
        self.cmd.clear();
        self.cmd.arg("SET").arg(&self.key[..]).arg(payload);
        self.packed.clear();
        self.cmd.write_packed_command(&mut self.packed);
        self.exchange().await
    }

    /// Writer `writer`'s newest record on the node: Redis has no query for it, so the keys
    /// from just above `invoked` (the highest the writer had invoked) downwards are asked
    /// with `MGET`, 64 at first, each next batch twice as many (at most 4096): the highest
    /// present is the answer, None when none of the writer's keys is there.
    pub async fn newest(&mut self, writer: u32, invoked: u64) -> Result<Option<u64>, WriteError> {
        for (bottom, top) in newest_windows(invoked) {
            let mut cmd = redis::cmd("MGET");
            let mut n = itoa::Buffer::new();
            for seq in bottom..=top {
                self.key.truncate(self.prefix_len);
                self.key.extend_from_slice(n.format(writer).as_bytes());
                self.key.push(b':');
                self.key.extend_from_slice(n.format(seq).as_bytes());
                cmd.arg(&self.key[..]);
            }
            let values = match self.request(&cmd).await {
                Ok(Value::Array(v)) => v,
                Ok(other) => return Err(WriteError::Unknown(format!("unexpected reply to MGET: {other:?}"))),
                Err(e) if e.is_io_error() => return Err(WriteError::Unknown(e.to_string())),
                Err(e) => return Err(WriteError::Fail(e.to_string())),
            };
            if let Some(i) = values.iter().rposition(|v| *v != Value::Nil) {
                return Ok(Some(bottom + i as u64));
            }
        }
        Ok(None)
    }

    /// As `newest`, for a node that holds only some of the writer's keys (a cluster
    /// shard's, `held` by their key): the keys it holds in each batch asked with one
    /// `EXISTS` each, pipelined (a cluster refuses one `MGET` across slots).
    pub async fn newest_held(
        &mut self,
        writer: u32,
        invoked: u64,
        held: &(dyn Fn(&[u8]) -> bool + Sync),
    ) -> Result<Option<u64>, WriteError> {
        for (bottom, top) in newest_windows(invoked) {
            let mut asked = Vec::new();
            self.packed.clear();
            let mut n = itoa::Buffer::new();
            for seq in (bottom..=top).rev() {
                self.key.truncate(self.prefix_len);
                self.key.extend_from_slice(n.format(writer).as_bytes());
                self.key.push(b':');
                self.key.extend_from_slice(n.format(seq).as_bytes());
                if held(&self.key) {
                    redis::cmd("EXISTS").arg(&self.key[..]).write_packed_command(&mut self.packed);
                    asked.push(seq);
                }
            }
            if asked.is_empty() {
                continue;
            }
            self.stream.write_all(&self.packed).await.map_err(|e| WriteError::Unknown(e.to_string()))?;
            // every reply is read, so the connection stays in step for the next read
            let mut found = None;
            for seq in asked {
                match redis::parse_redis_value_async(&mut self.replies, &mut self.stream).await {
                    Ok(Value::Int(1)) => found = found.or(Some(seq)),
                    Ok(Value::Int(_)) => {}
                    Ok(Value::ServerError(e)) => return Err(WriteError::Fail(RedisError::from(e).to_string())),
                    Ok(other) => return Err(WriteError::Unknown(format!("unexpected reply to EXISTS: {other:?}"))),
                    Err(e) => return Err(WriteError::Unknown(e.to_string())),
                }
            }
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// `ROLE`: whether the node is a primary.
    pub async fn is_master(&mut self) -> RedisResult<bool> {
        Ok(names_master(&self.request(&redis::cmd("ROLE")).await?))
    }
}

/// The batches of sequence numbers a reader asks, highest first, down to 1: from just above
/// `invoked` (writes invoked since the read began may already be applied), 64 at first,
/// each next batch twice as many, at most 4096.
fn newest_windows(invoked: u64) -> impl Iterator<Item = (u64, u64)> {
    let mut next = Some((invoked + NEWEST_MARGIN, 64u64));
    std::iter::from_fn(move || {
        let (top, width) = next?;
        let bottom = top.saturating_sub(width - 1).max(1);
        next = (bottom > 1).then(|| (bottom - 1, (width * 2).min(4096)));
        Some((bottom, top))
    })
}

/// Whether a reply to `ROLE` is a primary's.
pub(super) fn names_master(role: &redis::Value) -> bool {
    matches!(role, redis::Value::Array(r) if matches!(r.first(), Some(redis::Value::BulkString(b)) if b == b"master"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    /// An expected request and the answer, in pieces sent apart; `None` closes instead.
    type Exchange = (Vec<u8>, Option<Vec<&'static [u8]>>);

    /// A one-connection server on loopback: reads each expected request exactly and
    /// answers it.
    async fn server(script: Vec<Exchange>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            for (want, answer) in script {
                let mut got = vec![0; want.len()];
                s.read_exact(&mut got).await.unwrap();
                assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want));
                let Some(pieces) = answer else { return };
                for p in pieces {
                    s.write_all(p).await.unwrap();
                    s.flush().await.unwrap();
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        });
        addr
    }

    fn set(key: &str) -> Vec<u8> {
        format!("*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$2\r\nxy\r\n", key.len()).into_bytes()
    }

    #[test]
    fn a_reader_asks_every_sequence_number_from_above_the_newest_invoked_down_to_1_once() {
        let w: Vec<(u64, u64)> = newest_windows(1000).collect();
        assert_eq!(&w[..3], &[(953, 1016), (825, 952), (569, 824)]);
        assert_eq!(w.last().map(|x| x.0), Some(1));
        // contiguous, highest first, every number once
        assert!(w.windows(2).all(|p| p[1].1 + 1 == p[0].0), "{w:?}");
        assert_eq!(newest_windows(0).collect::<Vec<_>>(), [(1, 16)]);
        assert!(newest_windows(10_000_000).all(|(b, t)| t - b < 4096));
    }

    #[tokio::test]
    async fn writes_keys_after_the_prefix_and_reads_replies_however_they_arrive() {
        let script = vec![
            (b"*3\r\n$4\r\nAUTH\r\n$3\r\nbob\r\n$2\r\npw\r\n".to_vec(), Some(vec![&b"+OK\r\n"[..]])),
            (set("t:r:3:1"), Some(vec![&b"+O"[..], b"K\r", b"\n"])),
            (set("t:r:3:12345678901"), Some(vec![&b"+OK\r\n"[..]])),
            (b"*1\r\n$4\r\nROLE\r\n".to_vec(), Some(vec![&b"*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n"[..]])),
        ];
        let addr = server(script).await;
        let mut c = RedisConn::connect(addr, Duration::from_secs(5), "t:r:", Some((Some("bob"), "pw"))).await.unwrap();
        c.set(3, 1, "xy").await.unwrap();
        c.set(3, 12_345_678_901, "xy").await.unwrap();
        assert!(c.is_master().await.unwrap());
    }

    #[tokio::test]
    async fn a_refusal_failed_and_anything_else_may_have_been_applied() {
        let addr = server(vec![(set("p:1:1"), Some(vec![&b"-NOREPLICAS Not enough good replicas to write.\r\n"[..]]))]).await;
        let mut c = RedisConn::connect(addr, Duration::from_secs(5), "p:", None).await.unwrap();
        match c.set(1, 1, "xy").await {
            Err(WriteError::Fail(e)) => assert!(e.contains("NOREPLICAS"), "{e}"),
            other => panic!("a refusal is a failure: {other:?}"),
        }
        let addr = server(vec![(set("p:1:2"), None)]).await;
        let mut c = RedisConn::connect(addr, Duration::from_secs(5), "p:", None).await.unwrap();
        assert!(matches!(c.set(1, 2, "xy").await, Err(WriteError::Unknown(_))), "closed after the request");
        let addr = server(vec![(set("p:1:3"), Some(vec![&b":1\r\n"[..]]))]).await;
        let mut c = RedisConn::connect(addr, Duration::from_secs(5), "p:", None).await.unwrap();
        assert!(matches!(c.set(1, 3, "xy").await, Err(WriteError::Unknown(_))), "an unexpected reply");
        let addr = server(vec![(set("p:1:4"), Some(vec![&b"?garbage\r\n"[..]]))]).await;
        let mut c = RedisConn::connect(addr, Duration::from_secs(5), "p:", None).await.unwrap();
        assert!(matches!(c.set(1, 4, "xy").await, Err(WriteError::Unknown(_))), "an unreadable reply");
    }
}
