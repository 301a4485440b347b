//! What goes into an answer: a [`Decision`] (plus the request's Proxy-State values) in, the response code and
//! attribute list out. Pure: no I/O, no logging; signing and the Message-Authenticator are the codec's job
//! (`radius::encode_response` puts it first).
//!
//! - Reply-Message: the decision's text, split over several attributes when longer than 253 octets.
//! - State: on an Access-Challenge.
//! - Groups (Accept only), where `radius.group_attribute` says: a Vendor-Specific attribute (vendor_id,
//!   vendor_type; NetScaler group extraction), Class (25) or Filter-Id (11), each value `prefix` + groups
//!   joined by `separator`, packed into as few attributes as the 253-octet limit allows (247 inside a VSA)
//!   without cutting a group; or one attribute per group when the separator is empty. A single group too long
//!   for one attribute is cut at character boundaries (group names are short; this only keeps us valid).
//! - Session-Timeout (27) on an Accept when configured above 0.
//! - Proxy-State (33): every one of the request's, in order, last (RFC 2865 §5.33).

use crate::config::RadiusConfig;
use crate::engine::Decision;
use crate::radius::{Attribute, Code, MAX_ATTRIBUTE_VALUE_LEN, RadiusError, types};

use super::RadiusServerError;

/// Largest value of one vendor sub-attribute: 253 - 4 (Vendor-Id) - 2 (vendor type and length).
const MAX_VENDOR_VALUE_LEN: usize = MAX_ATTRIBUTE_VALUE_LEN - 6;

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

/// The response code and attributes for `decision`, with `proxy_states` echoed last, in order.
pub(crate) fn response_attributes<'a>(
    decision: &Decision,
    shape: &ReplyShape,
    proxy_states: &'a [Vec<u8>],
) -> Result<(Code, Vec<Attribute<'a>>), RadiusError> {
    let (code, mut attributes) = match decision {
        Decision::Accept { groups, message } => {
            let mut attributes = message
                .as_deref()
                .map(Attribute::reply_messages)
                .unwrap_or_default();
            attributes.extend(group_attributes(groups, shape)?);
            if shape.session_timeout > 0 {
                attributes.push(Attribute::from_u32(
                    types::SESSION_TIMEOUT,
                    shape.session_timeout,
                ));
            }
            (Code::AccessAccept, attributes)
        }
        Decision::Reject { message, .. } => {
            (Code::AccessReject, Attribute::reply_messages(message))
        }
        Decision::Challenge { state, message } => {
            let mut attributes = Attribute::reply_messages(message);
            attributes.push(Attribute::new(types::STATE, state.clone()));
            (Code::AccessChallenge, attributes)
        }
    };
    attributes.extend(
        proxy_states
            .iter()
            .map(|value| Attribute::borrowed(types::PROXY_STATE, value)),
    );
    Ok((code, attributes))
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
