//! The texts staff read at the VPN login (Reply-Message): the engine's name for the catalogue's RADIUS replies
//! (the sentences are in [`crate::texts`]).
//!
//! None reveals more than the decision allows: before both factors are verified every failure reads
//! [`Message::LoginFailed`] unless `radius.detailed_reasons` is on, and even then an unknown account and a wrong
//! password read the same.

pub(crate) use crate::texts::{CodeShape, Reply as Message, SMS_CODE};
