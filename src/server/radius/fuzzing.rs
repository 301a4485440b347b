//! For the cargo-fuzz targets in fuzz/ only (hidden from the documentation, not a stable API): one datagram
//! through the whole receive path of a [`RadiusServer`] — client lookup, authenticators, duplicate cache,
//! the request in domain terms, the engine, the signed reply — without sockets, so that a fuzz target can
//! check every reply. Production code never calls it.

use std::net::SocketAddr;
use std::time::Instant;

use super::RadiusServer;
use super::handle::{Action, Role};

impl RadiusServer {
    /// The reply the server sends for `datagram` from `src` on its authentication port (`None`: no reply),
    /// exactly as the receive loop would produce it, evaluating the request in this task.
    #[doc(hidden)]
    pub async fn fuzz_auth_datagram(&self, datagram: &[u8], src: SocketAddr) -> Option<Vec<u8>> {
        match self
            .inner
            .handle_datagram(datagram, src, Role::Auth, Instant::now())
        {
            Action::Drop => None,
            Action::Send(bytes) => Some(bytes.to_vec()),
            Action::Evaluate(job) => self.inner.evaluate(*job).await.map(|bytes| bytes.to_vec()),
        }
    }
}
