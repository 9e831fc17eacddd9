//! A proxy's upstream: where a new connection goes, and how long the proxy keeps trying.
//!
//! A client that gives up on a connection (its connect timeout) closes its socket; the
//! proxy then abandons its own connect to the upstream at once. Before, that connect went
//! on by itself: against a server whose accept queue was full, the kernel resent its SYN
//! for two minutes, and a client probing every few ms (a writer's stall hedge) left
//! thousands of them, which kept the queue full: the server never got its clients back.
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::Interest;
use tokio::net::TcpStream;

/// How often a client waiting on the upstream connect is checked for a hang-up.
const HANGUP_POLL: Duration = Duration::from_millis(20);
/// A connect to the address last resolved that has not answered by then looks the name up
/// again, in the background: the upstream may have come back at another address (a node
/// restored on another site's network), and a SYN to an address no container holds goes
/// unanswered for a minute of retransmissions rather than failing.
const RELOOK_AFTER: Duration = Duration::from_millis(500);

/// A proxy's upstream and the address it last resolved to. A new connection goes to that
/// address, and looks the name up again only when it fails: in Docker a lookup can take
/// seconds once a node on the network is killed (the embedded DNS forwards the names it no
/// longer knows), and a lookup per connection would hold up the paths to the live nodes.
#[derive(Clone)]
pub(super) struct Upstream {
    pub name: Arc<str>,
    last: Arc<Mutex<Option<std::net::SocketAddr>>>,
    /// A lookup runs in the background (one at a time, whatever the clients do).
    looking: Arc<std::sync::atomic::AtomicBool>,
}

/// Why no upstream connection came up.
pub(super) enum NoUpstream {
    /// the client closed its end first (nothing to tell it)
    HungUp,
    Failed(std::io::Error),
}

impl Upstream {
    pub(super) fn new(name: String) -> Upstream {
        Upstream { name: name.into(), last: Arc::new(Mutex::new(None)), looking: Default::default() }
    }

    /// Looks the name up now (a proxy is made while its upstream runs); keeps the answer.
    pub(super) async fn resolve(&self) {
        if let Ok(Some(a)) = tokio::net::lookup_host(&*self.name).await.map(|mut a| a.next()) {
            *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(a);
        }
    }

    /// Connects for `client`, for as long as the client waits: a client that hangs up
    /// first ends the attempt (the half-open upstream socket is closed with it).
    pub(super) async fn connect_for(&self, client: &TcpStream) -> Result<TcpStream, NoUpstream> {
        tokio::select! {
            s = self.connect() => s.map_err(NoUpstream::Failed),
            _ = hung_up(client) => Err(NoUpstream::HungUp),
        }
    }

    /// Looks the name up again in the background, unless a lookup already runs; a later
    /// connection uses what it finds.
    fn relook(&self) {
        use std::sync::atomic::Ordering;
        if self.looking.swap(true, Ordering::AcqRel) {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            me.resolve().await;
            me.looking.store(false, Ordering::Release);
        });
    }

    async fn connect(&self) -> std::io::Result<TcpStream> {
        let last = *self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(a) = last {
            let attempt = TcpStream::connect(a);
            tokio::pin!(attempt);
            match tokio::time::timeout(RELOOK_AFTER, &mut attempt).await {
                Ok(Ok(s)) => return Ok(s),
                Ok(Err(_)) => {}
                Err(_) => {
                    self.relook();
                    if let Ok(s) = attempt.await {
                        return Ok(s);
                    }
                }
            }
        }
        let s = TcpStream::connect(&*self.name).await?;
        if let Ok(a) = s.peer_addr() {
            *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(a);
        }
        Ok(s)
    }
}

/// Resolves once the client has closed its end (or its socket failed). Nothing is read:
/// the bytes a client sends before the upstream is up (a startup packet) stay queued for
/// the link. Readiness is cached between polls, so a client that already sent data is
/// checked every `HANGUP_POLL` for the hang-up the kernel reports beside it.
async fn hung_up(client: &TcpStream) {
    loop {
        match client.ready(Interest::READABLE).await {
            Ok(r) if r.is_read_closed() || r.is_error() => return,
            Ok(_) => {}
            Err(_) => return,
        }
        let mut b = [0u8; 1];
        if let Ok(0) = client.peek(&mut b).await {
            return; // orderly close with nothing queued
        }
        tokio::time::sleep(HANGUP_POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    async fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        (c, s)
    }

    #[tokio::test]
    async fn a_connect_to_a_stale_address_that_hangs_has_the_name_looked_up_again() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let up = Upstream::new(format!("127.0.0.1:{}", l.local_addr().unwrap().port()));
        // the last address: a server whose accept queue is full, so a SYN to it goes
        // unanswered, as to an address no container holds any more
        let stale = tokio::net::TcpSocket::new_v4().unwrap();
        stale.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        let stale = stale.listen(0).unwrap();
        let at = stale.local_addr().unwrap();
        let mut fill = Vec::new();
        for _ in 0..4 {
            if let Ok(Ok(c)) = tokio::time::timeout(Duration::from_millis(100), TcpStream::connect(at)).await {
                fill.push(c);
            }
        }
        *up.last.lock().unwrap() = Some(at);
        let hung = tokio::time::timeout(RELOOK_AFTER * 2, up.connect()).await;
        assert!(hung.is_err(), "the connect to the full server must hang");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = up.last.lock().unwrap().unwrap();
        assert!(now.ip().is_loopback() && now.port() == l.local_addr().unwrap().port(), "still {now}");
        assert!(tokio::time::timeout(Duration::from_secs(2), up.connect()).await.unwrap().is_ok());
    }

    #[tokio::test]
    async fn a_client_that_closes_after_sending_is_seen_hanging_up() {
        let (mut c, s) = pair().await;
        c.write_all(b"startup").await.unwrap();
        drop(c);
        tokio::time::timeout(Duration::from_secs(2), hung_up(&s)).await.expect("hang-up seen");
    }

    #[tokio::test]
    async fn a_client_that_only_sends_is_not_taken_for_gone() {
        let (mut c, s) = pair().await;
        c.write_all(b"startup").await.unwrap();
        assert!(tokio::time::timeout(Duration::from_millis(200), hung_up(&s)).await.is_err());
        let mut b = [0u8; 7];
        assert_eq!(s.peek(&mut b).await.unwrap(), 7, "the bytes stay for the link");
        drop(c);
    }
}
