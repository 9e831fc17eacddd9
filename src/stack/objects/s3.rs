//! One keep-alive connection to a zone's gateway (radosgw), speaking S3 to the drill's
//! bucket: every request is a presigned URL (AWS Signature V4, by rusty-s3) for the address
//! it is sent to, so the Host header the connection sends is the one signed; buckets are
//! named in the path (`/drdrill/<key>`). The connection is the files kind's (`Conn`): a
//! 2xx is the answer, any other status the gateway's reply, anything else a broken exchange.
//!
//! A request whose answer has a body (GET, a listing) goes on a new connection: radosgw's
//! frontend writes an answer's headers and body apart without TCP_NODELAY, so on a kept
//! connection the body waits for the client's delayed ACK (43 ms a GET, measured with curl
//! on one connection; 2 ms on a new one).
use crate::stack::blob::{Blobs, Conn, Failed};
use hyper::body::Bytes;
use hyper::{Method, StatusCode};
use rusty_s3::actions::ListObjectsV2;
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use std::net::SocketAddr;
use std::time::Duration;

/// The bucket the workload writes into, created by the master zone's image.
pub const BUCKET: &str = "drdrill";
/// The S3 user's keys, as the image creates it (`S3_AK`, `S3_SK`): a key for the drill's
/// own containers, not a secret.
pub const ACCESS_KEY: &str = "DRDRILLACCESSKEY0001";
pub const SECRET_KEY: &str = "drdrillsecretkey000000000000000000000001";
/// The region requests are signed for: radosgw takes any, and the image's own checks sign
/// for this one.
pub const REGION: &str = "us-east-1";
/// How long a signed request stays valid; it is sent at once.
const VALID: Duration = Duration::from_secs(300);
/// The most keys one page of a listing holds.
const PAGE: usize = 1000;
/// How every refusal's text starts (`DataPath::is_reply`).
pub const REPLIED: &str = "the object store answered";

/// A connection to one gateway, with what signs for it.
pub struct S3 {
    addr: SocketAddr,
    timeout: Duration,
    conn: Conn,
    bucket: Bucket,
    keys: Credentials,
}

impl S3 {
    pub async fn open(addr: SocketAddr, timeout: Duration) -> Result<S3, String> {
        let endpoint = format!("http://{addr}/").parse().map_err(|_| format!("{addr}: not an S3 endpoint"))?;
        let bucket = Bucket::new(endpoint, UrlStyle::Path, BUCKET, REGION).map_err(|e| format!("{addr}: {e}"))?;
        let conn = Conn::open(addr, timeout).await?;
        Ok(S3 { addr, timeout, conn, bucket, keys: Credentials::new(ACCESS_KEY, SECRET_KEY) })
    }

    /// A request whose answer has a body, on a new connection (see above).
    async fn fetch(&mut self, to: &str) -> Result<Bytes, Failed> {
        self.conn = Conn::open(self.addr, self.timeout).await.map_err(Failed::NotSent)?;
        self.conn.send(Method::GET, to, Bytes::new()).await
    }

    /// PUT the object whole: acknowledged once the gateway has stored all of it.
    pub async fn put(&mut self, key: &str, body: Vec<u8>) -> Result<(), Failed> {
        let to = target(&self.bucket.put_object(Some(&self.keys), key));
        self.conn.send(Method::PUT, &to, Bytes::from(body)).await.map(drop)
    }

    /// DELETE the object (S3 answers 204 whether or not it was there).
    pub async fn delete(&mut self, key: &str) -> Result<(), Failed> {
        let to = target(&self.bucket.delete_object(Some(&self.keys), key));
        self.conn.send(Method::DELETE, &to, Bytes::new()).await.map(drop)
    }

    /// The object's content; None when the zone has no such object.
    pub async fn get(&mut self, key: &str) -> Result<Option<Bytes>, Failed> {
        let to = target(&self.bucket.get_object(Some(&self.keys), key));
        match self.fetch(&to).await {
            Ok(b) => Ok(Some(b)),
            Err(Failed::Reply(StatusCode::NOT_FOUND, _)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether the zone holds the object (a signed HEAD: 200, or 404).
    pub async fn exists(&mut self, key: &str) -> Result<bool, Failed> {
        let to = target(&self.bucket.head_object(Some(&self.keys), key));
        match self.conn.send(Method::HEAD, &to, Bytes::new()).await {
            Ok(_) => Ok(true),
            Err(Failed::Reply(StatusCode::NOT_FOUND, _)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// HEAD of the bucket: Ok when the gateway serves it to the drill's user.
    pub async fn head_bucket(&mut self) -> Result<(), Failed> {
        let to = target(&self.bucket.head_bucket(Some(&self.keys)));
        self.conn.send(Method::HEAD, &to, Bytes::new()).await.map(drop)
    }

    /// Every key starting with `prefix`, page by page (ListObjectsV2, continuation tokens).
    pub async fn list(&mut self, prefix: &str) -> Result<Vec<String>, Failed> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut list = self.bucket.list_objects_v2(Some(&self.keys));
            list.with_prefix(prefix);
            list.with_max_keys(PAGE);
            if let Some(t) = &token {
                list.with_continuation_token(t.as_str());
            }
            let to = target(&list);
            let body = self.fetch(&to).await?;
            let text = String::from_utf8_lossy(&body);
            let page = ListObjectsV2::parse_response(&text)
                .map_err(|e| Failed::Broken(format!("unexpected listing from the object store: {e}")))?;
            keys.extend(page.contents.into_iter().map(|c| c.key));
            match page.next_continuation_token {
                Some(next) => token = Some(next),
                None => return Ok(keys),
            }
        }
    }
}

/// The path and query of a signed action, as the request line carries it.
fn target<'a>(action: &impl S3Action<'a>) -> String {
    let url = action.sign(VALID);
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    }
}

/// An exchange that did not succeed, in one line: a reply as its status and S3 error code.
#[async_trait::async_trait]
impl Blobs for S3 {
    async fn get(&mut self, name: &str) -> Result<Option<Bytes>, Failed> {
        S3::get(self, name).await
    }
}

pub fn say(e: &Failed) -> String {
    match e {
        Failed::Reply(status, body) => match error_code(body) {
            Some(code) => format!("{REPLIED} {status}: {code}"),
            None => format!("{REPLIED} {status}"),
        },
        Failed::NotSent(e) => format!("not sent: {e}"),
        Failed::Broken(e) => e.clone(),
    }
}

/// The `<Code>` of an S3 error document (`NoSuchBucket`, `SignatureDoesNotMatch`).
fn error_code(body: &str) -> Option<&str> {
    let (_, rest) = body.split_once("<Code>")?;
    rest.split_once("</Code>").map(|(code, _)| code.trim()).filter(|c| !c.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_reads_as_its_status_and_s3_code() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchBucket</Code><BucketName>drdrill</BucketName></Error>"#;
        assert_eq!(say(&Failed::Reply(StatusCode::NOT_FOUND, xml.into())), "the object store answered 404 Not Found: NoSuchBucket");
        assert_eq!(
            say(&Failed::Reply(StatusCode::SERVICE_UNAVAILABLE, String::new())),
            "the object store answered 503 Service Unavailable"
        );
        assert_eq!(say(&Failed::Broken("connection reset".into())), "connection reset");
    }

    #[test]
    fn requests_are_signed_for_the_address_they_are_sent_to_in_path_style() {
        let endpoint = "http://127.0.0.1:40123/".parse().unwrap();
        let bucket = Bucket::new(endpoint, UrlStyle::Path, BUCKET, REGION).unwrap();
        let keys = Credentials::new(ACCESS_KEY, SECRET_KEY);
        let to = target(&bucket.put_object(Some(&keys), "drdrill-w1-s2"));
        assert!(to.starts_with("/drdrill/drdrill-w1-s2?"), "{to}");
        assert!(to.contains("X-Amz-Credential=DRDRILLACCESSKEY0001%2F") && to.contains("%2Fus-east-1%2Fs3%2Faws4_request"), "{to}");
        assert!(to.contains("X-Amz-SignedHeaders=host") && to.contains("X-Amz-Signature="), "{to}");
        let mut list = bucket.list_objects_v2(Some(&keys));
        list.with_continuation_token("abc");
        let to = target(&list);
        assert!(to.starts_with("/drdrill/?") && to.contains("list-type=2") && to.contains("continuation-token=abc"), "{to}");
    }

    #[test]
    fn a_listing_page_gives_its_keys_and_the_token_of_the_next() {
        let page = r#"<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>drdrill</Name><Prefix>drdrill-w</Prefix><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated><EncodingType>url</EncodingType><Contents><Key>drdrill-w0-s1</Key><Size>300</Size></Contents><Contents><Key>drdrill-w1-s1</Key><Size>300</Size></Contents><NextContinuationToken>drdrill-w1-s1</NextContinuationToken><KeyCount>2</KeyCount></ListBucketResult>"#;
        let p = ListObjectsV2::parse_response(page).unwrap();
        assert_eq!(p.contents.iter().map(|c| c.key.as_str()).collect::<Vec<_>>(), ["drdrill-w0-s1", "drdrill-w1-s1"]);
        assert_eq!(p.next_continuation_token.as_deref(), Some("drdrill-w1-s1"));
    }
}
