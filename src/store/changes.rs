//! How a backend tells the login cache (`cache.rs`) what this process changed: every role method that writes
//! what a login reads (an account, its device) announces it here after its statement, so the cache, which
//! wraps only the login path, drops the entries it holds without forwarding the other roles' methods.
//! Changes made by other processes (another node, the admin CLI) are seen when the entries expire.

use std::sync::{OnceLock, Weak};

/// Who listens: the login cache.
pub(crate) trait ChangeListener: Send + Sync {
    /// The account (or its device) changed.
    fn account_changed(&self, id: &str);
    /// The device with this ID changed.
    fn device_changed(&self, device_id: &str);
    /// Many accounts, or ones not known here, changed.
    fn everything_changed(&self);
}

/// The backend's end: announces to the one listener, if any (none in the admin CLI).
#[derive(Default)]
pub(crate) struct ChangeFeed {
    listener: OnceLock<Weak<dyn ChangeListener>>,
}

impl std::fmt::Debug for ChangeFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeFeed")
            .field("listening", &self.listener.get().is_some())
            .finish()
    }
}

impl ChangeFeed {
    /// Sets the listener; a second one is ignored (a backend has one login cache).
    pub(crate) fn listen(&self, listener: Weak<dyn ChangeListener>) {
        let _ = self.listener.set(listener);
    }

    fn each(&self, announce: impl FnOnce(&dyn ChangeListener)) {
        if let Some(listener) = self.listener.get().and_then(Weak::upgrade) {
            announce(listener.as_ref());
        }
    }

    /// Announces `change` when the returned guard drops: when the method that took it returns, on every path
    /// (an error or a cancelled call included, as the write may have happened).
    pub(crate) fn on_return<'a>(&'a self, change: Change<'a>) -> OnReturn<'a> {
        OnReturn { feed: self, change }
    }

    fn account(&self, id: &str) {
        self.each(|l| l.account_changed(id));
    }

    fn device(&self, device_id: &str) {
        self.each(|l| l.device_changed(device_id));
    }

    fn everything(&self) {
        self.each(|l| l.everything_changed());
    }
}

/// What changed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Change<'a> {
    /// The account with this ID (or its device).
    Account(&'a str),
    /// The device with this ID.
    Device(&'a str),
    /// Many accounts, or ones not known here.
    Everything,
}

/// Announces its change when dropped ([`ChangeFeed::on_return`]).
#[derive(Debug)]
pub(crate) struct OnReturn<'a> {
    feed: &'a ChangeFeed,
    change: Change<'a>,
}

impl Drop for OnReturn<'_> {
    fn drop(&mut self) {
        match self.change {
            Change::Account(id) => self.feed.account(id),
            Change::Device(id) => self.feed.device(id),
            Change::Everything => self.feed.everything(),
        }
    }
}
