//! What goes into an answer: a [`Decision`] (plus the request's Proxy-State values) in, the response code and
//! attribute list out. Pure: no I/O, no logging; signing and the Message-Authenticator are the codec's job
//! (`radius::encode_response` puts it first).
//!
//! - Reply-Message: the decision's text, split over several attributes when longer than 253 octets, at most
//!   [`MAX_REPLY_MESSAGES`] of them (a longer text is cut at a character boundary).
//! - State: on an Access-Challenge (one attribute: at most 253 octets).
//! - Groups (Accept only), where `radius.group_attribute` says: a Vendor-Specific attribute (vendor_id,
//!   vendor_type; NetScaler group extraction), Class (25) or Filter-Id (11), each value `prefix` + groups
//!   joined by `separator`, packed into as few attributes as the 253-octet limit allows (247 inside a VSA)
//!   without cutting a group; or one attribute per group when the separator is empty. A single group too long
//!   for one attribute is cut at character boundaries (group names are short; this only keeps us valid). The
//!   group attributes take at most [`MAX_GROUP_OCTETS`]; the groups past them are left out (and counted).
//! - Session-Timeout (27) on an Accept when configured above 0.
//! - Proxy-State (33): every one of the request's, in order, last (RFC 2865 §5.33).
//!
//! Because everything the decision adds is bounded, [`ReplyShape::largest_reply`] knows before the engine runs
//! whether the reply to a request can fit in a RADIUS packet: one that cannot is refused unevaluated, so that no
//! code is used up for an answer that could never be sent.

use crate::config::RadiusConfig;
use crate::engine::Decision;
use crate::radius::{
    Attribute, Code, HEADER_LEN, MAX_ATTRIBUTE_VALUE_LEN, MAX_PACKET_LEN, RadiusError, types,
};

use super::RadiusServerError;

/// Largest value of one vendor sub-attribute: 253 - 4 (Vendor-Id) - 2 (vendor type and length).
const MAX_VENDOR_VALUE_LEN: usize = MAX_ATTRIBUTE_VALUE_LEN - 6;
/// One attribute with the largest value, header included.
const FULL_ATTRIBUTE: usize = 2 + MAX_ATTRIBUTE_VALUE_LEN;
/// The Message-Authenticator every Access-* reply carries first.
const MESSAGE_AUTHENTICATOR_LEN: usize = 18;
/// Session-Timeout: type, length, 4 octets.
const SESSION_TIMEOUT_LEN: usize = 6;

/// Most Reply-Message attributes in one reply (1,012 octets of text, several times the longest message).
pub(crate) const MAX_REPLY_MESSAGES: usize = 4;
/// Most octets, attribute headers included, that the group attributes of one Accept take (eight full
/// attributes: dozens of groups). With the messages and Session-Timeout that leaves room for the Proxy-States
/// of any real proxy chain.
pub(crate) const MAX_GROUP_OCTETS: usize = 8 * FULL_ATTRIBUTE;

/// Which attribute carries the account's groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GroupPlacement {
    None,
    Vendor { vendor_id: u32, vendor_type: u8 },
    Class,
    FilterId,
}

/// The reply settings of `[radius]`, checked once when the server starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReplyShape {
    pub(crate) groups: GroupPlacement,
    pub(crate) prefix: String,
    pub(crate) separator: String,
    pub(crate) session_timeout: u32,
}

impl ReplyShape {
    pub(crate) fn from_config(config: &RadiusConfig) -> Result<Self, RadiusServerError> {
        let g = &config.group_attribute;
        let groups = match g.attribute.as_str() {
            "none" => GroupPlacement::None,
            "vendor" => GroupPlacement::Vendor {
                vendor_id: g.vendor_id,
                vendor_type: g.vendor_type,
            },
            "class" => GroupPlacement::Class,
            "filter-id" => GroupPlacement::FilterId,
            other => return Err(RadiusServerError::GroupAttribute(other.to_owned())),
        };
        Ok(Self {
            groups,
            prefix: g.prefix.clone(),
            separator: g.separator.clone(),
            session_timeout: config.session_timeout_seconds,
        })
    }
}

impl ReplyShape {
    /// The most octets a decision can add to a reply of this shape: the largest of an Accept (messages,
    /// groups, Session-Timeout), a Challenge (messages, State) and a Reject (messages).
    pub(crate) fn decision_octets(&self) -> usize {
        let messages = MAX_REPLY_MESSAGES * FULL_ATTRIBUTE;
        let groups = match self.groups {
            GroupPlacement::None => 0,
            _ => MAX_GROUP_OCTETS,
        };
        let timeout = if self.session_timeout > 0 {
            SESSION_TIMEOUT_LEN
        } else {
            0
        };
        let accept = messages + groups + timeout;
        let challenge = messages + FULL_ATTRIBUTE;
        accept.max(challenge)
    }

    /// The largest reply an Access-Request carrying `proxy_states` can get: header, Message-Authenticator, the
    /// most a decision adds, and the Proxy-States echoed back.
    pub(crate) fn largest_reply<'p>(&self, proxy_states: impl Iterator<Item = &'p [u8]>) -> usize {
        let echoed: usize = proxy_states.map(|value| 2 + value.len()).sum();
        HEADER_LEN + MESSAGE_AUTHENTICATOR_LEN + self.decision_octets() + echoed
    }

    /// Whether every reply to a request carrying `proxy_states` fits in one RADIUS packet; `Err` gives the
    /// largest it could be.
    pub(crate) fn check_fits<'p>(
        &self,
        proxy_states: impl Iterator<Item = &'p [u8]>,
    ) -> Result<(), usize> {
        match self.largest_reply(proxy_states) {
            len if len <= MAX_PACKET_LEN => Ok(()),
            len => Err(len),
        }
    }
}

/// A reply's code and attributes, and what had to be left out to keep it within its bounds.
#[derive(Debug)]
pub(crate) struct Answer<'a> {
    pub(crate) code: Code,
    pub(crate) attributes: Vec<Attribute<'a>>,
    /// Group attributes past [`MAX_GROUP_OCTETS`], not sent.
    pub(crate) groups_left_out: usize,
    /// The Reply-Message text was longer than [`MAX_REPLY_MESSAGES`] attributes and was cut.
    pub(crate) message_cut: bool,
}

/// The response code and attributes for `decision`, with `proxy_states` echoed last, in order.
pub(crate) fn response_attributes<'a>(
    decision: &Decision,
    shape: &ReplyShape,
    proxy_states: &'a [Vec<u8>],
) -> Result<Answer<'a>, RadiusError> {
    let mut groups_left_out = 0;
    let (code, message) = match decision {
        Decision::Accept { message, .. } => (Code::AccessAccept, message.as_deref()),
        Decision::Reject { message, .. } => (Code::AccessReject, Some(message.as_str())),
        Decision::Challenge { message, .. } => (Code::AccessChallenge, Some(message.as_str())),
    };
    let (mut attributes, message_cut) = message.map(reply_messages).unwrap_or_default();
    match decision {
        Decision::Accept { groups, .. } => {
            let (kept, left_out) = within(group_attributes(groups, shape)?, MAX_GROUP_OCTETS);
            attributes.extend(kept);
            groups_left_out = left_out;
            if shape.session_timeout > 0 {
                attributes.push(Attribute::from_u32(
                    types::SESSION_TIMEOUT,
                    shape.session_timeout,
                ));
            }
        }
        Decision::Challenge { state, .. } => {
            attributes.push(Attribute::new(types::STATE, state.clone()));
        }
        Decision::Reject { .. } => {}
    }
    attributes.extend(
        proxy_states
            .iter()
            .map(|value| Attribute::borrowed(types::PROXY_STATE, value)),
    );
    Ok(Answer {
        code,
        attributes,
        groups_left_out,
        message_cut,
    })
}

/// `text` as Reply-Message attributes, at most [`MAX_REPLY_MESSAGES`] of them; `true` when the text was cut.
pub(crate) fn reply_messages(text: &str) -> (Vec<Attribute<'static>>, bool) {
    let mut attributes = Attribute::reply_messages(text);
    let cut = attributes.len() > MAX_REPLY_MESSAGES;
    attributes.truncate(MAX_REPLY_MESSAGES);
    (attributes, cut)
}

/// The leading `attributes` that take at most `budget` octets, and how many did not fit.
fn within(attributes: Vec<Attribute<'static>>, budget: usize) -> (Vec<Attribute<'static>>, usize) {
    let total = attributes.len();
    let mut used = 0;
    let kept: Vec<_> = attributes
        .into_iter()
        .take_while(|attribute| {
            used += 2 + attribute.value.len();
            used <= budget
        })
        .collect();
    let left_out = total - kept.len();
    (kept, left_out)
}

/// The attributes that carry `groups` (empty names are skipped).
pub(crate) fn group_attributes(
    groups: &[String],
    shape: &ReplyShape,
) -> Result<Vec<Attribute<'static>>, RadiusError> {
    let limit = match shape.groups {
        GroupPlacement::None => return Ok(Vec::new()),
        GroupPlacement::Vendor { .. } => MAX_VENDOR_VALUE_LEN,
        GroupPlacement::Class | GroupPlacement::FilterId => MAX_ATTRIBUTE_VALUE_LEN,
    };
    let groups = groups.iter().map(String::as_str).filter(|g| !g.is_empty());
    let values = if shape.separator.is_empty() {
        groups
            .map(|group| format!("{}{group}", shape.prefix))
            .collect()
    } else {
        pack(groups, &shape.prefix, &shape.separator, limit)
    };
    values
        .iter()
        .flat_map(|value| split_at_chars(value, limit))
        .map(|piece| group_attribute(shape.groups, piece.as_bytes()))
        .collect()
}

/// `prefix` + groups joined by `separator`, starting a new value whenever the next group would not fit.
fn pack<'g>(
    groups: impl Iterator<Item = &'g str>,
    prefix: &str,
    separator: &str,
    limit: usize,
) -> Vec<String> {
    let mut values = Vec::new();
    let mut current = String::new();
    for group in groups {
        if !current.is_empty() && current.len() + separator.len() + group.len() > limit {
            values.push(std::mem::take(&mut current));
        }
        if current.is_empty() {
            current.push_str(prefix);
        } else {
            current.push_str(separator);
        }
        current.push_str(group);
    }
    if !current.is_empty() {
        values.push(current);
    }
    values
}

fn group_attribute(
    placement: GroupPlacement,
    value: &[u8],
) -> Result<Attribute<'static>, RadiusError> {
    match placement {
        GroupPlacement::Vendor {
            vendor_id,
            vendor_type,
        } => Attribute::vendor_specific(vendor_id, vendor_type, value),
        GroupPlacement::Class => Ok(Attribute::new(types::CLASS, value.to_vec())),
        GroupPlacement::FilterId | GroupPlacement::None => {
            Ok(Attribute::new(types::FILTER_ID, value.to_vec()))
        }
    }
}

/// `text` in pieces of at most `max` octets, never cutting a UTF-8 character.
fn split_at_chars(text: &str, max: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = max.min(rest.len());
        while end > 0 && !rest.is_char_boundary(end) {
            end -= 1;
        }
        let Some((piece, tail)) = rest.split_at_checked(end).filter(|_| end > 0) else {
            break;
        };
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

#[cfg(test)]
#[path = "reply_tests.rs"]
mod tests;
