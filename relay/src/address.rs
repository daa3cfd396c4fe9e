//! Where a request comes from, for the per-address limits only (connections, WebSockets,
//! request and link-write rates, backup guesses): never logged or stored in clear.
//!
//! An address is an IPv4 address or an IPv6 /64 network ([`Source`]): one IPv6 host
//! usually has a whole /64, so counting its addresses one by one would let it open as
//! many connections as it likes. Behind a reverse proxy every connection comes from the
//! proxy; with `--trusted-proxies` the relay takes the client's address from the
//! `X-Forwarded-For` header of requests that come from one of those proxies (and only
//! from those: anyone else could write any address there).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;
use crate::listener::PeerAddr;

/// A client address as the limits count it: an IPv4 address, or the /64 network of an
/// IPv6 address (IPv4-mapped IPv6 addresses count as IPv4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Source(IpAddr);

impl Source {
    /// The source `ip` belongs to.
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => Self(ip),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(IpAddr::V4(v4)),
                None => {
                    let s = v6.segments();
                    Self(IpAddr::V6(Ipv6Addr::new(
                        s[0], s[1], s[2], s[3], 0, 0, 0, 0,
                    )))
                }
            },
        }
    }

    /// The address (or network) as bytes, to key stored attempt counters by.
    pub fn to_bytes(self) -> Vec<u8> {
        match self.0 {
            IpAddr::V4(v4) => v4.octets().to_vec(),
            IpAddr::V6(v6) => v6.octets().to_vec(),
        }
    }
}

/// The client's [`Source`], set on every request by [`client_source`]; `None` for
/// requests that did not come through a socket (in-process tests), which no
/// per-address limit applies to.
#[derive(Debug, Clone, Copy)]
pub struct ClientSource(pub Option<Source>);

impl<S: Send + Sync> FromRequestParts<S> for ClientSource {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ClientSource>()
            .copied()
            .unwrap_or(Self(None)))
    }
}

/// Middleware: works out the request's [`ClientSource`] once, for every handler and
/// limit after it.
pub async fn client_source(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<PeerAddr>>()
        .map(|c| c.0.0.ip());
    let ip = peer.map(|peer| forwarded_for(peer, req.headers(), &state.trusted_proxies));
    req.extensions_mut()
        .insert(ClientSource(ip.map(Source::of)));
    next.run(req).await
}

/// The client address of a request from `peer`: `peer` itself, unless `peer` is a
/// trusted proxy; then the rightmost address of `X-Forwarded-For` that is not a
/// trusted proxy (each proxy appends the address it was connected from, so entries
/// to the left of the first untrusted one are the client's own claims). A trusted
/// proxy that sends no usable header is the client.
pub fn forwarded_for(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let mut hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    hops.reverse();
    for hop in hops {
        match hop.parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => {}
            Ok(ip) => return ip,
            // A malformed entry: nothing to its left can be trusted either.
            Err(_) => break,
        }
    }
    peer
}

/// Counts what each [`Source`] holds open (connections, WebSockets) against a cap.
#[derive(Debug)]
pub struct SourceSlots {
    max: usize,
    held: Arc<Mutex<HashMap<Source, usize>>>,
}

/// One slot of a [`Source`], given back on drop.
#[derive(Debug)]
pub struct SourceSlot {
    source: Source,
    held: Arc<Mutex<HashMap<Source, usize>>>,
}

impl SourceSlots {
    /// At most `max` (at least 1) slots per source.
    pub fn new(max: usize) -> Self {
        Self {
            max: max.max(1),
            held: Arc::default(),
        }
    }

    /// A slot for `source`, unless it holds `max` already.
    pub fn try_take(&self, source: Source) -> Option<SourceSlot> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let n = held.entry(source).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(SourceSlot {
            source,
            held: Arc::clone(&self.held),
        })
    }
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = held.get_mut(&self.source) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.source);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(
            Source::of(ip("2001:db8:1:2::1")),
            Source::of(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(
            Source::of(ip("2001:db8:1:2::1")),
            Source::of(ip("2001:db8:1:3::1"))
        );
        assert_eq!(
            Source::of(ip("::ffff:10.0.0.1")),
            Source::of(ip("10.0.0.1"))
        );
        assert_ne!(Source::of(ip("10.0.0.1")), Source::of(ip("10.0.0.2")));
    }

    #[test]
    fn forwarded_for_is_believed_from_trusted_proxies_only() {
        let proxy = ip("127.0.0.1");
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "6.6.6.6, 1.2.3.4".parse().unwrap());
        assert_eq!(forwarded_for(ip("9.9.9.9"), &h, &[proxy]), ip("9.9.9.9"));
        assert_eq!(forwarded_for(proxy, &h, &[proxy]), ip("1.2.3.4"));
        // Two trusted hops: the address the outer proxy saw.
        h.insert(
            "x-forwarded-for",
            "6.6.6.6, 1.2.3.4, 10.0.0.2".parse().unwrap(),
        );
        assert_eq!(
            forwarded_for(proxy, &h, &[proxy, ip("10.0.0.2")]),
            ip("1.2.3.4")
        );
        h.insert("x-forwarded-for", "1.2.3.4, junk".parse().unwrap());
        assert_eq!(forwarded_for(proxy, &h, &[proxy]), proxy);
        assert_eq!(forwarded_for(proxy, &HeaderMap::new(), &[proxy]), proxy);
    }

    #[test]
    fn slots_are_capped_per_source_and_given_back() {
        let slots = SourceSlots::new(2);
        let a = Source::of(ip("10.0.0.1"));
        let (one, two) = (slots.try_take(a), slots.try_take(a));
        assert!(one.is_some() && two.is_some());
        assert!(slots.try_take(a).is_none());
        assert!(slots.try_take(Source::of(ip("10.0.0.2"))).is_some());
        drop(one);
        assert!(slots.try_take(a).is_some());
    }
}
