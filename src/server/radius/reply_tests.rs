#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use super::*;
use crate::config::{GroupAttribute, Language};
use crate::engine::{RejectReason, unavailable_message};
use crate::radius::parse_vendor_specific;

fn shape(attribute: &str, prefix: &str, separator: &str) -> ReplyShape {
    let config = RadiusConfig {
        group_attribute: GroupAttribute {
            attribute: attribute.into(),
            vendor_id: 66,
            vendor_type: 16,
            prefix: prefix.into(),
            separator: separator.into(),
        },
        ..RadiusConfig::default()
    };
    ReplyShape::from_config(&config).unwrap()
}

fn groups(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// The group values carried by `attributes` (unwrapping VSAs), as text.
fn values(attributes: &[Attribute<'_>]) -> Vec<String> {
    attributes
        .iter()
        .map(|a| match a.typ {
            types::VENDOR_SPECIFIC => {
                let sub = parse_vendor_specific(&a.value).unwrap();
                assert_eq!(sub.len(), 1);
                assert_eq!((sub[0].vendor_id, sub[0].vendor_type), (66, 16));
                String::from_utf8(sub[0].value.to_vec()).unwrap()
            }
            _ => String::from_utf8(a.value.to_vec()).unwrap(),
        })
        .collect()
}

#[test]
fn accept_carries_message_groups_timeout_then_proxy_states_in_order() {
    let mut shape = shape("vendor", "", ",");
    shape.session_timeout = 3600;
    let decision = Decision::Accept {
        groups: groups(&["staff", "vpn"]),
        message: Some("welcome".into()),
    };
    let proxy = vec![b"p1".to_vec(), b"p2".to_vec()];
    let Answer {
        code, attributes, ..
    } = response_attributes(&decision, &shape, &proxy).unwrap();
    assert_eq!(code, Code::AccessAccept);
    let kinds: Vec<u8> = attributes.iter().map(|a| a.typ).collect();
    assert_eq!(
        kinds,
        [
            types::REPLY_MESSAGE,
            types::VENDOR_SPECIFIC,
            types::SESSION_TIMEOUT,
            types::PROXY_STATE,
            types::PROXY_STATE
        ]
    );
    assert_eq!(&*attributes[0].value, b"welcome");
    assert_eq!(values(&attributes[1..2]), ["staff,vpn"]);
    assert_eq!(&*attributes[2].value, &3600u32.to_be_bytes());
    assert_eq!(&*attributes[3].value, b"p1");
    assert_eq!(&*attributes[4].value, b"p2");
}

#[test]
fn accept_without_message_groups_or_timeout_is_bare() {
    let decision = Decision::Accept {
        groups: vec![],
        message: None,
    };
    let Answer {
        code, attributes, ..
    } = response_attributes(&decision, &shape("vendor", "", ","), &[]).unwrap();
    assert_eq!(code, Code::AccessAccept);
    assert!(attributes.is_empty());
}

#[test]
fn reject_and_challenge() {
    let shape = shape("class", "", ",");
    let reject = Decision::Reject {
        reason: RejectReason::BadCode,
        message: "wrong code".into(),
    };
    let Answer {
        code, attributes, ..
    } = response_attributes(&reject, &shape, &[]).unwrap();
    assert_eq!(code, Code::AccessReject);
    assert_eq!(
        attributes,
        [Attribute::new(types::REPLY_MESSAGE, b"wrong code".to_vec())]
    );

    let challenge = Decision::Challenge {
        state: b"opaque".to_vec(),
        message: "code?".into(),
    };
    let proxy = [b"px".to_vec()];
    let Answer {
        code, attributes, ..
    } = response_attributes(&challenge, &shape, &proxy).unwrap();
    assert_eq!(code, Code::AccessChallenge);
    assert_eq!(
        attributes,
        [
            Attribute::new(types::REPLY_MESSAGE, b"code?".to_vec()),
            Attribute::new(types::STATE, b"opaque".to_vec()),
            Attribute::new(types::PROXY_STATE, b"px".to_vec()),
        ]
    );
}

#[test]
fn long_reply_message_is_split_over_attributes() {
    let text = "請".repeat(200); // 600 octets, 3-octet characters
    let reject = Decision::Reject {
        reason: RejectReason::Locked,
        message: text.clone(),
    };
    let Answer { attributes, .. } =
        response_attributes(&reject, &shape("none", "", ""), &[]).unwrap();
    assert_eq!(attributes.len(), 3);
    assert!(
        attributes
            .iter()
            .all(|a| a.typ == types::REPLY_MESSAGE && a.value.len() <= 253)
    );
    assert_eq!(values(&attributes).concat(), text);
}

#[test]
fn each_placement_uses_its_attribute() {
    let names = groups(&["a", "b"]);
    assert!(
        group_attributes(&names, &shape("none", "", ","))
            .unwrap()
            .is_empty()
    );
    let class = group_attributes(&names, &shape("class", "CN=", ";")).unwrap();
    assert_eq!(class, [Attribute::new(types::CLASS, b"CN=a;b".to_vec())]);
    let filter = group_attributes(&names, &shape("filter-id", "g:", "")).unwrap();
    assert_eq!(
        filter,
        [
            Attribute::new(types::FILTER_ID, b"g:a".to_vec()),
            Attribute::new(types::FILTER_ID, b"g:b".to_vec())
        ]
    );
    let vendor = group_attributes(&groups(&["a", "", "b"]), &shape("vendor", "", "")).unwrap();
    assert_eq!(values(&vendor), ["a", "b"], "empty group names are skipped");
}

#[test]
fn long_group_lists_are_packed_without_cutting_a_group() {
    let names: Vec<String> = (0..40).map(|i| format!("group-number-{i:04}")).collect(); // 17 octets each
    for (attribute, limit) in [("vendor", 247), ("class", 253), ("filter-id", 253)] {
        let attributes = group_attributes(&names, &shape(attribute, "P:", ",")).unwrap();
        let values = values(&attributes);
        assert!(
            values.len() > 1,
            "{attribute}: 40 × 18 octets cannot fit one attribute"
        );
        assert!(
            values
                .iter()
                .all(|v| v.len() <= limit && v.starts_with("P:")),
            "{attribute}: {values:?}"
        );
        let back: Vec<String> = values
            .iter()
            .flat_map(|v| v.trim_start_matches("P:").split(',').map(str::to_owned))
            .collect();
        assert_eq!(
            back, names,
            "{attribute}: every group exactly once, in order"
        );
        // Greedy: no value could have taken the next group.
        for pair in values.windows(2) {
            let next = pair[1].trim_start_matches("P:").split(',').next().unwrap();
            assert!(pair[0].len() + 1 + next.len() > limit);
        }
    }
}

#[test]
fn a_group_longer_than_an_attribute_is_cut_at_character_boundaries() {
    let huge = "組".repeat(100); // 300 octets
    let attributes =
        group_attributes(std::slice::from_ref(&huge), &shape("vendor", "", ",")).unwrap();
    let values = values(&attributes);
    assert_eq!(values.len(), 2);
    assert!(values[0].len() <= 247 && values[0].len() > 240);
    assert_eq!(values.concat(), huge);
    let attributes =
        group_attributes(std::slice::from_ref(&huge), &shape("class", "", "")).unwrap();
    assert!(attributes.iter().all(|a| a.value.len() <= 253));
    assert_eq!(attributes.len(), 2);
}

#[test]
fn unknown_group_attribute_is_a_start_up_error() {
    let config = RadiusConfig {
        group_attribute: GroupAttribute {
            attribute: "ldap".into(),
            ..GroupAttribute::default()
        },
        ..RadiusConfig::default()
    };
    assert!(
        matches!(ReplyShape::from_config(&config), Err(RadiusServerError::GroupAttribute(a)) if a == "ldap")
    );
}

#[test]
fn unavailable_message_fits_one_attribute_in_every_language() {
    for language in [Language::ZhTw, Language::En] {
        let text = unavailable_message(language);
        assert!(!text.is_empty() && text.len() <= 253);
    }
}

#[test]
fn a_text_past_the_reply_message_bound_is_cut_at_a_character_boundary() {
    let text = "請".repeat(400); // 1,200 octets: five attributes' worth
    let reject = Decision::Reject {
        reason: RejectReason::Locked,
        message: text.clone(),
    };
    let answer = response_attributes(&reject, &shape("none", "", ""), &[]).unwrap();
    assert_eq!(answer.attributes.len(), MAX_REPLY_MESSAGES);
    assert!(answer.message_cut);
    let sent = values(&answer.attributes).concat();
    assert!(text.starts_with(&sent) && sent.len() < text.len());

    let fits = Decision::Reject {
        reason: RejectReason::Locked,
        message: "請".repeat(300),
    };
    let answer = response_attributes(&fits, &shape("none", "", ""), &[]).unwrap();
    assert!(!answer.message_cut);
}

#[test]
fn groups_past_their_octet_bound_are_left_out_whole_and_counted() {
    let names: Vec<String> = (0..40)
        .map(|i| format!("{i:03}-{}", "g".repeat(120)))
        .collect();
    let accept = Decision::Accept {
        groups: names.clone(),
        message: None,
    };
    for separator in ["", ","] {
        let shape = shape("class", "", separator);
        let answer = response_attributes(&accept, &shape, &[]).unwrap();
        let octets: usize = answer.attributes.iter().map(|a| 2 + a.value.len()).sum();
        assert!(octets <= MAX_GROUP_OCTETS, "{separator:?}: {octets}");
        assert!(answer.groups_left_out > 0, "{separator:?}");
        let sent: Vec<String> = values(&answer.attributes)
            .iter()
            .flat_map(|v| v.split(',').map(str::to_owned).collect::<Vec<_>>())
            .collect();
        assert_eq!(
            sent,
            names[..sent.len()],
            "{separator:?}: whole groups, in order"
        );
    }
    let few = Decision::Accept {
        groups: groups(&["vpn", "nurses"]),
        message: None,
    };
    let answer = response_attributes(&few, &shape("class", "", ","), &[]).unwrap();
    assert_eq!(answer.groups_left_out, 0);
}

/// The worst case of every decision, encoded for real: never past `decision_octets`.
#[test]
fn no_decision_outgrows_the_octets_reserved_for_it() {
    let mut shape = shape("vendor", "", "");
    shape.session_timeout = 3600;
    let long_text = "請".repeat(2000);
    let many: Vec<String> = (0..200)
        .map(|i| format!("{i:03}{}", "x".repeat(125)))
        .collect();
    let decisions = [
        Decision::Accept {
            groups: many,
            message: Some(long_text.clone()),
        },
        Decision::Challenge {
            state: vec![7; 253],
            message: long_text.clone(),
        },
        Decision::Reject {
            reason: RejectReason::Locked,
            message: long_text,
        },
    ];
    for decision in &decisions {
        let answer = response_attributes(decision, &shape, &[]).unwrap();
        let octets: usize = answer.attributes.iter().map(|a| 2 + a.value.len()).sum();
        assert!(octets <= shape.decision_octets(), "{decision:?}: {octets}");
        let bytes =
            crate::radius::encode_response(answer.code, 1, &[0; 16], &answer.attributes, b"s")
                .unwrap();
        assert!(bytes.len() <= shape.largest_reply(std::iter::empty()));
    }
}

#[test]
fn the_largest_reply_counts_every_proxy_state_and_leaves_room_for_a_proxy_chain() {
    let mut shape = shape("vendor", "", ",");
    shape.session_timeout = 3600;
    let bare = shape.largest_reply(std::iter::empty());
    assert_eq!(bare, 20 + 18 + 4 * 255 + MAX_GROUP_OCTETS + 6);
    let three = [[1u8; 253]; 3];
    assert!(
        shape.check_fits(three.iter().map(|v| &v[..])).is_ok(),
        "three full Proxy-States fit"
    );
    let many = [[1u8; 253]; 4];
    assert_eq!(
        shape.check_fits(many.iter().map(|v| &v[..])),
        Err(bare + 4 * 255)
    );
    assert!(shape.largest_reply(std::iter::empty()) <= crate::radius::MAX_PACKET_LEN);
    let plain = self::shape("none", "", "");
    assert_eq!(
        plain.decision_octets(),
        4 * 255 + 255,
        "a Challenge's State"
    );
}
