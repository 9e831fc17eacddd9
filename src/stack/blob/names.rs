//! A record as a named blob (a file, an object): its name, its content with a header and
//! a trailer so a torn one is seen, and the read-back of every whole one.
use super::http::{Conn, Failed};
use crate::error::Result;
use crate::stack::read_back::ReadBack;
use hyper::body::Bytes;

/// A workload file's name.
pub fn file_name(writer: u32, seq: u64) -> String {
    format!("drdrill-w{writer}-s{seq}")
}

/// The writer and seq a workload file's name carries; None for any other file.
pub fn parse_name(name: &str) -> Option<(u32, u64)> {
    let (w, s) = name.strip_prefix("drdrill-w")?.split_once("-s")?;
    Some((w.parse().ok()?, s.parse().ok()?))
}

/// An upload's content at revision `rev` (its first write is 0; `workload.changes` rewrites
/// it whole at the next): a header naming it and its payload's length, the payload, and a
/// trailer, so a file cut short (or grown) is seen as torn.
pub fn content(writer: u32, seq: u64, rev: u32, payload: &str) -> Vec<u8> {
    format!("drdrill upload writer={writer} seq={seq} rev={rev} bytes={}\n{payload}\n.end\n", payload.len()).into_bytes()
}

/// The revision `body` is a whole upload of (writer, seq) at; the reason when it is not whole.
pub fn whole(body: &[u8], writer: u32, seq: u64) -> std::result::Result<u32, String> {
    let text = std::str::from_utf8(body).map_err(|_| format!("{} bytes, not the text written", body.len()))?;
    let (header, rest) = text.split_once('\n').ok_or_else(|| format!("{} bytes, no header line", body.len()))?;
    let want = format!("drdrill upload writer={writer} seq={seq} rev=");
    let parsed = header.strip_prefix(&want).and_then(|r| r.split_once(" bytes="));
    let (rev, n): (u32, usize) =
        parsed.and_then(|(r, n)| Some((r.parse().ok()?, n.parse().ok()?))).ok_or_else(|| format!("header {header:?}"))?;
    match rest.len() == n + "\n.end\n".len() && rest.ends_with("\n.end\n") {
        true => Ok(rev),
        false => Err(format!("{} of {} bytes", body.len(), header.len() + 1 + n + 6)),
    }
}

/// One upload read back (a file, an object): counted at its revision when whole, named
/// torn (not counted) when not.
pub fn take_whole(back: &mut ReadBack, name: &str, (writer, seq): (u32, u64), body: &[u8]) {
    match whole(body, writer, seq) {
        Ok(rev) => back.push_at(writer, seq, rev),
        Err(why) => back.unreadable.push(format!("{name} torn: {why}")),
    }
}

/// A store that gives a blob back by name.
#[async_trait::async_trait]
pub trait Blobs: Send {
    async fn get(&mut self, name: &str) -> std::result::Result<Option<Bytes>, Failed>;
}

#[async_trait::async_trait]
impl Blobs for Conn {
    async fn get(&mut self, name: &str) -> std::result::Result<Option<Bytes>, Failed> {
        Conn::get(self, name).await
    }
}

/// Every workload blob of `names` that reads whole, over `c`; a torn one is named, not
/// counted. A GET changes nothing: after a connection closed under it, once more on a new
/// one (`open`); a blob gone before its GET is not there.
pub async fn read_whole<C, O, F>(mut c: C, open: impl Fn() -> O, names: Vec<String>, fail: F) -> Result<ReadBack>
where
    C: Blobs,
    O: std::future::Future<Output = Result<C>>,
    F: Fn(Failed) -> crate::error::Error,
{
    let mut back = ReadBack::default();
    for (name, (writer, seq)) in names.iter().filter_map(|n| Some((n, parse_name(n)?))) {
        let body = match c.get(name).await {
            Err(Failed::NotSent(_) | Failed::Broken(_)) => {
                c = open().await?;
                c.get(name).await.map_err(&fail)?
            }
            other => other.map_err(&fail)?,
        };
        let Some(body) = body else { continue };
        take_whole(&mut back, name, (writer, seq), &body);
    }
    Ok(back)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upload_is_whole_only_as_written() {
        let body = content(3, 41, 0, "xyz");
        assert_eq!(whole(&body, 3, 41), Ok(0));
        assert_eq!(whole(&content(3, 41, 7, "xyz"), 3, 41), Ok(7), "a rewrite names its revision");
        assert!(whole(&body[..body.len() - 1], 3, 41).unwrap_err().contains("of"), "cut short");
        assert!(whole(&[&body[..], b"more"].concat(), 3, 41).is_err(), "grown");
        assert!(whole(&body, 3, 42).is_err(), "another upload's content");
        assert!(whole(b"", 3, 41).is_err());
        assert!(whole(&[0xff, 0xfe], 3, 41).is_err());
    }
}
