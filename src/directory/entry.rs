//! A directory entry's attributes mapped to a [`DirectoryEntry`]: the configured attribute names (looked up
//! case-insensitively, as LDAP names are), AD's `userAccountControl` and `accountExpires`, OpenLDAP's
//! `nsAccountLock` and `pwdAccountLockedTime`, and the group DNs through `[ldap.groups]`.

use std::collections::{BTreeSet, HashMap};

use time::{Date, OffsetDateTime, UtcOffset};

use super::DirectoryEntry;
use crate::config::LdapConfig;

/// AD `userAccountControl` ACCOUNTDISABLE.
const ACCOUNT_DISABLE: i64 = 0x2;
/// 100 ns ticks between 1601-01-01 (FILETIME's epoch) and 1970-01-01.
const FILETIME_UNIX_EPOCH: i64 = 116_444_736_000_000_000;

pub(super) const USER_ACCOUNT_CONTROL: &str = "userAccountControl";
pub(super) const ACCOUNT_EXPIRES: &str = "accountExpires";
pub(super) const NS_ACCOUNT_LOCK: &str = "nsAccountLock";
pub(super) const PWD_ACCOUNT_LOCKED_TIME: &str = "pwdAccountLockedTime";
pub(super) const PWD_LAST_SET: &str = "pwdLastSet";
pub(super) const PWD_CHANGED_TIME: &str = "pwdChangedTime";
/// The `pwdAccountLockedTime` of an account locked by an administrator (ppolicy, draft-behera).
const PERMANENT_LOCK: &str = "000001010000Z";

/// The attributes a search asks for.
pub(super) fn requested_attributes(config: &LdapConfig) -> Vec<String> {
    let mut names: Vec<String> = [
        config.id_attribute.as_str(),
        config.name_attribute.as_str(),
        config.phone_attribute.as_str(),
        config.email_attribute.as_str(),
        config.groups_attribute.as_str(),
        USER_ACCOUNT_CONTROL,
        ACCOUNT_EXPIRES,
        NS_ACCOUNT_LOCK,
        PWD_ACCOUNT_LOCKED_TIME,
        PWD_LAST_SET,
        PWD_CHANGED_TIME,
    ]
    .into_iter()
    .filter(|n| !n.trim().is_empty())
    .map(str::to_owned)
    .collect();
    names.sort_by_key(|n| n.to_ascii_lowercase());
    names.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    names
}

/// An entry's attributes by lower-cased name.
#[derive(Debug, Clone, Default)]
pub(super) struct Attributes(HashMap<String, Vec<String>>);

impl Attributes {
    pub(super) fn new(attrs: HashMap<String, Vec<String>>) -> Self {
        let mut lower: HashMap<String, Vec<String>> = HashMap::with_capacity(attrs.len());
        for (name, values) in attrs {
            lower
                .entry(name.to_ascii_lowercase())
                .or_default()
                .extend(values);
        }
        Self(lower)
    }

    pub(super) fn all(&self, name: &str) -> &[String] {
        self.0
            .get(&name.to_ascii_lowercase())
            .map_or(&[], Vec::as_slice)
    }

    /// The first non-blank value, trimmed.
    pub(super) fn first(&self, name: &str) -> Option<&str> {
        self.all(name)
            .iter()
            .map(|v| v.trim())
            .find(|v| !v.is_empty())
    }
}

/// The raw account ID of an entry (`ldap.id_attribute`), before normalization.
pub(super) fn raw_id<'a>(config: &LdapConfig, attrs: &'a Attributes) -> Option<&'a str> {
    attrs.first(&config.id_attribute)
}

/// Maps an entry whose ID is already normalized as `id`.
pub(super) fn map(
    config: &LdapConfig,
    offset: UtcOffset,
    id: String,
    dn: String,
    attrs: &Attributes,
) -> DirectoryEntry {
    let phone = attrs.first(&config.phone_attribute).and_then(|p| {
        let digits: String = p.chars().filter(char::is_ascii_digit).collect();
        (!digits.is_empty()).then_some(digits)
    });
    DirectoryEntry {
        id,
        dn,
        name: attrs.first(&config.name_attribute).map(str::to_owned),
        phone,
        email: attrs.first(&config.email_attribute).map(str::to_owned),
        groups: groups(config, attrs.all(&config.groups_attribute)),
        disabled: disabled(attrs),
        expires_on: attrs
            .first(ACCOUNT_EXPIRES)
            .and_then(|v| last_day(v, offset)),
        password_changed_at: attrs
            .first(PWD_LAST_SET)
            .and_then(filetime_seconds)
            .or_else(|| attrs.first(PWD_CHANGED_TIME).and_then(generalized_time)),
    }
}

/// A FILETIME (100 ns ticks since 1601) as Unix seconds; 0 ("must change at next logon") is no time.
fn filetime_seconds(value: &str) -> Option<i64> {
    let ticks: i64 = value.trim().parse().ok().filter(|&t| t > 0)?;
    Some((ticks - FILETIME_UNIX_EPOCH).div_euclid(10_000_000))
}

/// An LDAP GeneralizedTime in UTC (`20261207033000Z`, fractions allowed) as Unix seconds.
fn generalized_time(value: &str) -> Option<i64> {
    let value = value.trim().strip_suffix('Z')?;
    let digits = value.split(['.', ',']).next()?;
    if digits.len() != 14 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let field = |range: std::ops::Range<usize>| digits.get(range)?.parse::<i32>().ok();
    let month = time::Month::try_from(u8::try_from(field(4..6)?).ok()?).ok()?;
    let date =
        Date::from_calendar_date(field(0..4)?, month, u8::try_from(field(6..8)?).ok()?).ok()?;
    let at = date
        .with_hms(
            u8::try_from(field(8..10)?).ok()?,
            u8::try_from(field(10..12)?).ok()?,
            u8::try_from(field(12..14)?).ok()?,
        )
        .ok()?;
    Some(at.assume_utc().unix_timestamp())
}

fn disabled(attrs: &Attributes) -> bool {
    // A userAccountControl that is not a number is read as disabled: fail closed.
    let uac = attrs
        .first(USER_ACCOUNT_CONTROL)
        .is_some_and(|v| v.parse::<i64>().map_or(true, |n| n & ACCOUNT_DISABLE != 0));
    let ns_lock = attrs
        .first(NS_ACCOUNT_LOCK)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    // ppolicy's "locked until an administrator unlocks"; any other time is a temporary lockout, which
    // the bind itself refuses while it lasts and ends at the next good bind (refusing here would make it permanent).
    let pwd_locked = attrs
        .first(PWD_ACCOUNT_LOCKED_TIME)
        .is_some_and(|v| v.trim() == PERMANENT_LOCK);
    uac || ns_lock || pwd_locked
}

/// A DN compared case-insensitively, without the spaces around `,` `=` `+` that writers put in freely.
pub(super) fn dn_key(dn: &str) -> String {
    let mut out = String::with_capacity(dn.len());
    for part in dn.split(',') {
        if !out.is_empty() {
            out.push(',');
        }
        let rdn: Vec<String> = part
            .split('+')
            .map(|ava| match ava.split_once('=') {
                Some((k, v)) => format!("{}={}", k.trim(), v.trim()),
                None => ava.trim().to_owned(),
            })
            .collect();
        out.push_str(&rdn.join("+"));
    }
    out.to_lowercase()
}

/// The reply groups of the group DNs `member_of`, through `[ldap.groups]`; `None` when the table is empty.
fn groups(config: &LdapConfig, member_of: &[String]) -> Option<Vec<String>> {
    if config.groups.is_empty() {
        return None;
    }
    let table: HashMap<String, &String> = config
        .groups
        .iter()
        .map(|(dn, group)| (dn_key(dn), group))
        .collect();
    let mapped: BTreeSet<String> = member_of
        .iter()
        .filter_map(|dn| table.get(&dn_key(dn)).map(|g| (*g).clone()))
        .collect();
    Some(mapped.into_iter().collect())
}

/// The last day an AD `accountExpires` (FILETIME: 100 ns ticks since 1601-01-01 UTC) allows, in `offset`:
/// the day before the expiry instant's local date when it falls on local midnight (AD's "end of" date), its
/// date otherwise. `0` and `0x7FFFFFFFFFFFFFFF` mean "never": `None`.
pub fn last_day(value: &str, offset: UtcOffset) -> Option<Date> {
    let ticks: i64 = match value.trim().parse() {
        Ok(t) => t,
        Err(_) => {
            tracing::warn!(
                value,
                "accountExpires is not a number: read as already expired"
            );
            return Some(Date::MIN);
        }
    };
    if ticks <= 0 || ticks == i64::MAX {
        return None;
    }
    // The last 100 ns tick the account is valid, as Unix nanoseconds.
    let nanos = (i128::from(ticks) - i128::from(FILETIME_UNIX_EPOCH) - 1) * 100;
    match OffsetDateTime::from_unix_timestamp_nanos(nanos) {
        Ok(instant) => Some(instant.to_offset(offset).date()),
        // Beyond year 9999: never, in practice.
        Err(_) if nanos > 0 => None,
        Err(_) => Some(Date::MIN),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, offset};

    fn filetime(unix: i64) -> String {
        ((unix * 10_000_000) + FILETIME_UNIX_EPOCH).to_string()
    }

    #[test]
    fn never_expiring_values() {
        assert_eq!(last_day("0", offset!(+8)), None);
        assert_eq!(last_day("9223372036854775807", offset!(+8)), None);
    }

    #[test]
    fn local_midnight_is_the_end_of_the_day_before() {
        // AD's "account expires end of 2099-12-31" at UTC+8 is 2100-01-01T00:00+08:00 = 2099-12-31T16:00Z.
        assert_eq!(
            last_day(&filetime(4_102_444_800 - 8 * 3600), offset!(+8)),
            Some(date!(2099 - 12 - 31))
        );
        // The same instant read in UTC: the account still works on 2099-12-31 until 16:00.
        assert_eq!(
            last_day(&filetime(4_102_444_800 - 8 * 3600), UtcOffset::UTC),
            Some(date!(2099 - 12 - 31))
        );
        // 2020-01-01T00:00Z in UTC: the last day is 2019-12-31.
        assert_eq!(
            last_day(&filetime(1_577_836_800), UtcOffset::UTC),
            Some(date!(2019 - 12 - 31))
        );
        // The same instant at UTC+8 is 08:00 on 2020-01-01: that day still counts.
        assert_eq!(
            last_day(&filetime(1_577_836_800), offset!(+8)),
            Some(date!(2020 - 01 - 01))
        );
        assert_eq!(
            last_day("116444736000000000", UtcOffset::UTC),
            Some(date!(1969 - 12 - 31))
        );
    }

    #[test]
    fn unreadable_expiry_is_expired() {
        assert_eq!(last_day("soon", UtcOffset::UTC), Some(Date::MIN));
        assert_eq!(last_day("-5", UtcOffset::UTC), None);
    }

    fn attrs(pairs: &[(&str, &str)]) -> Attributes {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in pairs {
            map.entry((*k).to_owned())
                .or_default()
                .push((*v).to_owned());
        }
        Attributes::new(map)
    }

    #[test]
    fn entries_map_with_case_insensitive_attribute_names() {
        let mut config = LdapConfig::default();
        config.groups.insert(
            "CN=VPN-Nurses, OU=Groups,DC=hospital,DC=test".into(),
            "nurses".into(),
        );
        config.groups.insert(
            "cn=vpn-doctors,ou=groups,dc=hospital,dc=test".into(),
            "doctors".into(),
        );
        let a = attrs(&[
            ("samaccountname", "User00001"),
            ("DISPLAYNAME", "User 00001"),
            ("mobile", "+886 912-345-678"),
            ("mail", "u@h.test"),
            ("memberOf", "cn=VPN-Nurses,ou=Groups,dc=hospital,dc=test"),
            ("memberOf", "CN=VPN-Doctors,OU=Groups,DC=hospital,DC=test"),
            ("memberOf", "cn=Staff-All,ou=Groups,dc=hospital,dc=test"),
            ("userAccountControl", "512"),
            ("accountExpires", "0"),
        ]);
        assert_eq!(raw_id(&config, &a), Some("User00001"));
        let entry = map(&config, UtcOffset::UTC, "user00001".into(), "dn".into(), &a);
        assert_eq!(entry.name.as_deref(), Some("User 00001"));
        assert_eq!(entry.phone.as_deref(), Some("886912345678"));
        assert_eq!(entry.email.as_deref(), Some("u@h.test"));
        assert_eq!(
            entry.groups,
            Some(vec!["doctors".to_owned(), "nurses".to_owned()])
        );
        assert!(!entry.disabled);
        assert_eq!(entry.expires_on, None);

        config.groups.clear();
        let entry = map(&config, UtcOffset::UTC, "user00001".into(), "dn".into(), &a);
        assert_eq!(entry.groups, None);
    }

    #[test]
    fn the_password_change_time_is_read_from_either_directory() {
        assert_eq!(filetime_seconds("116444736000000000"), Some(0));
        assert_eq!(filetime_seconds("134096796000000000"), Some(1_765_206_000));
        assert_eq!(filetime_seconds("0"), None);
        assert_eq!(filetime_seconds("x"), None);
        assert_eq!(generalized_time("19700101000000Z"), Some(0));
        assert_eq!(generalized_time("20251208150000.123Z"), Some(1_765_206_000));
        for bad in ["20251208150000", "2025120815Z", "20251332150000Z", ""] {
            assert_eq!(generalized_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_lock_flag_disables() {
        for pairs in [
            &[("userAccountControl", "514")][..],
            &[("userAccountControl", "66050")],
            &[("userAccountControl", "x")],
            &[("nsAccountLock", "TRUE")],
            &[("nsaccountlock", "true")],
            &[("pwdAccountLockedTime", "000001010000Z")],
        ] {
            assert!(disabled(&attrs(pairs)), "{pairs:?}");
        }
        for pairs in [
            &[("userAccountControl", "512")][..],
            &[("pwdAccountLockedTime", "20200101000000Z")],
            &[("userAccountControl", "66048")],
            &[("nsAccountLock", "FALSE")],
            &[],
        ] {
            assert!(!disabled(&attrs(pairs)), "{pairs:?}");
        }
    }
}
