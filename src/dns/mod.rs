//! DNS for real (docs/dns.md): the drill's own authoritative server, in process, answering
//! each service's name with the scenario's TTL and moved live by a failover; and the stub
//! resolver the clients look names up through, which caches each answer for its TTL as an
//! application's resolver does.
mod resolver;
mod server;

pub use resolver::{Resolved, StubResolver};
pub use server::DnsServer;

/// The zone the drill's names live in: `<service>.drill.`.
pub const ZONE: &str = "drill.";
