//! A writer's (or reader's) view of the service's name, with the drill's DNS: its own stub
//! resolver (one application instance, one cache), asked before every write or read; the answer comes from the
//! cache while its TTL lasts. Each fresh answer is an event, so the checker can tell when
//! the last cache holding the old primary's address ran out.
use super::route::ClientTarget;
use crate::dns::{Resolved, StubResolver};
use crate::history::{EventKind, RecorderHandle};

#[derive(Default)]
pub(super) struct Lookup {
    resolver: Option<StubResolver>,
    last: Option<Resolved>,
    /// The last failure said, so a failing lookup is recorded once, not per write.
    failed: Option<String>,
    /// A reader's: its answers and failures are not recorded (the DNS phases are the
    /// writers' caches).
    quiet: bool,
}

impl Lookup {
    /// A reader's lookup: it follows the record as a writer's does, without events.
    pub(super) fn quiet() -> Lookup {
        Lookup { quiet: true, ..Lookup::default() }
    }

    /// Where writer `id` writes now: `base` itself without the drill's DNS; with it, the
    /// address its resolver gives (once only, for `resolve: once`), or the last one it
    /// gave while a lookup fails.
    pub(super) async fn target(&mut self, base: ClientTarget, id: u32, rec: &RecorderHandle) -> ClientTarget {
        let Some(dns) = base.dns.clone() else { return base };
        if let (true, Some(last)) = (dns.once, self.last) {
            return dns.target(last.ip);
        }
        // a fresh answer's TTL runs from the question: its event is stamped then
        let asked = rec.clock.now_ns();
        let found = match &self.resolver {
            Some(r) => r.resolve(&dns.fqdn()).await,
            None => match StubResolver::new(dns.server) {
                Ok(r) => self.resolver.insert(r).resolve(&dns.fqdn()).await,
                Err(e) => Err(e),
            },
        };
        match found {
            Ok(r) => {
                self.failed = None;
                if r.fresh && !self.quiet {
                    let to = dns.target(r.ip);
                    let ttl = r.valid_until.saturating_duration_since(std::time::Instant::now()).as_secs_f64();
                    let detail = format!("writer {id}: {} -> {} ({}), cached {ttl:.1} s", dns.fqdn(), r.ip, to.node);
                    rec.event_at(asked, EventKind::DnsAnswer, None, Some(&*to.node), detail).await;
                }
                self.last = Some(r);
                dns.target(r.ip)
            }
            Err(e) => {
                let said = e.one_line();
                if self.failed.as_ref() != Some(&said) && !self.quiet {
                    rec.event(EventKind::Note, None, None, format!("writer {id}: {said}")).await;
                    self.failed = Some(said);
                }
                match self.last {
                    Some(l) => dns.target(l.ip),
                    None => base,
                }
            }
        }
    }
}
