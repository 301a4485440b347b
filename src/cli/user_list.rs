//! `motpd user list`: every account with its state (locked, disabled, expired, pending or active), filtered by
//! state, group, expiry, enrollment and a search over ID, name and phone number. LAST LOGIN is the last VPN
//! login (the enrollment pages and a device's first code do not count).

use super::args::{ListStatus, UserListArgs};
use super::context::Context;
use super::{format_time, print_table};
use crate::account_rules::{self, AccountState};
use crate::clock::local_date;
use crate::config::PasswordSource;
use crate::store::{Account, AccountFilter, AccountOverview};

impl ListStatus {
    /// The printed name (also the `--status` value).
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Locked => "locked",
            Self::Disabled => "disabled",
            Self::Expired => "expired",
            Self::Pending => "pending",
            Self::Active => "active",
        }
    }
}

/// The one state an account is shown in ([`account_rules::account_state`]), as `--status` names it.
pub(super) fn account_state(
    account: &Account,
    now: i64,
    today: time::Date,
    source: PasswordSource,
) -> ListStatus {
    match account_rules::account_state(account, now, today, source) {
        AccountState::Locked => ListStatus::Locked,
        AccountState::Disabled => ListStatus::Disabled,
        AccountState::Expired => ListStatus::Expired,
        AccountState::Pending => ListStatus::Pending,
        AccountState::Active => ListStatus::Active,
    }
}

fn is_expired(account: &Account, today: time::Date) -> bool {
    account.expires_on.is_some_and(|last_day| last_day < today)
}

/// Whether `overview` passes every filter in `args` (`--unenrolled` is applied by the store).
fn matches(
    args: &UserListArgs,
    overview: &AccountOverview,
    state: ListStatus,
    today: time::Date,
) -> bool {
    let account = &overview.account;
    let group = args.group.as_deref().map(str::trim);
    args.status.is_none_or(|wanted| wanted == state)
        && (!args.expired || is_expired(account, today))
        && group.is_none_or(|g| account.groups.iter().any(|a| a.eq_ignore_ascii_case(g)))
        && args
            .search
            .as_deref()
            .is_none_or(|text| search_hit(account, text))
}

/// `text` in the ID, the name (case-insensitive) or the phone number (separators ignored, `+886` as `0`).
fn search_hit(account: &Account, text: &str) -> bool {
    let needle = text.trim().to_lowercase();
    if needle.is_empty() {
        return true;
    }
    let phone_hit = crate::account_rules::phone_search_digits(&needle).is_some_and(|digits| {
        account
            .phone
            .as_deref()
            .is_some_and(|p| p.contains(&digits))
    });
    account.id.contains(&needle) || account.name.to_lowercase().contains(&needle) || phone_hit
}

pub(super) async fn run(ctx: &Context, args: UserListArgs) -> anyhow::Result<()> {
    let accounts = ctx
        .stores
        .store
        .list_accounts(AccountFilter {
            unenrolled_only: args.unenrolled,
        })
        .await?;
    let now = ctx.now();
    let today = local_date(now, ctx.config.policy.utc_offset);
    let shown: Vec<(&AccountOverview, ListStatus)> = accounts
        .iter()
        .map(|o| {
            (
                o,
                account_state(&o.account, now, today, ctx.config.accounts.password_source),
            )
        })
        .filter(|(o, state)| matches(&args, o, *state, today))
        .collect();
    if args.json {
        let mut rows = Vec::with_capacity(shown.len());
        for (overview, state) in &shown {
            let mut value = serde_json::to_value(overview)?;
            if let Some(object) = value.as_object_mut() {
                object.insert("state".into(), state.as_str().into());
            }
            rows.push(value);
        }
        let rows =
            super::with_local_times(serde_json::Value::Array(rows), ctx.config.policy.utc_offset);
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = shown
        .iter()
        .map(|(o, state)| {
            let a = &o.account;
            vec![
                a.id.clone(),
                a.name.clone(),
                state.as_str().to_owned(),
                o.device
                    .as_ref()
                    .map_or("-".to_owned(), |d| d.kind.to_owned()),
                a.expires_on.map_or("-".to_owned(), |d| d.to_string()),
                format_time(a.last_login_at, ctx.config.policy.utc_offset),
            ]
        })
        .collect();
    print_table(
        &[
            "ID",
            "NAME",
            "STATUS",
            "DEVICE",
            "EXPIRES",
            "LAST VPN LOGIN",
        ],
        &rows,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AccountStatus;

    fn account(id: &str, name: &str) -> Account {
        Account {
            id: id.to_owned(),
            name: name.to_owned(),
            phone: Some("0912345678".to_owned()),
            email: None,
            password_hash: None,
            status: AccountStatus::Active,
            expires_on: None,
            groups: vec!["VPN".to_owned(), "nurses".to_owned()],
            sms_fallback: None,
            failures: 0,
            locked_until: None,
            last_login_at: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn states_in_order() {
        let today = time::macros::date!(2026 - 12 - 06);
        let mut a = account("a", "A");
        assert_eq!(
            account_state(&a, 100, today, PasswordSource::Local),
            ListStatus::Active
        );
        a.status = AccountStatus::Pending;
        assert_eq!(
            account_state(&a, 100, today, PasswordSource::Local),
            ListStatus::Pending
        );
        assert_eq!(
            account_state(&a, 100, today, PasswordSource::Ldap),
            ListStatus::Active
        );
        a.expires_on = Some(time::macros::date!(2026 - 12 - 06));
        assert_eq!(
            account_state(&a, 100, today, PasswordSource::Local),
            ListStatus::Pending,
            "last day is today"
        );
        a.expires_on = Some(time::macros::date!(2026 - 12 - 05));
        assert_eq!(
            account_state(&a, 100, today, PasswordSource::Local),
            ListStatus::Expired
        );
        a.status = AccountStatus::Disabled;
        assert_eq!(
            account_state(&a, 100, today, PasswordSource::Local),
            ListStatus::Disabled
        );
        a.locked_until = Some(101);
        assert_eq!(
            account_state(&a, 100, today, PasswordSource::Local),
            ListStatus::Locked
        );
        a.locked_until = Some(100);
        assert_eq!(
            account_state(&a, 100, today, PasswordSource::Local),
            ListStatus::Disabled,
            "lock over"
        );
    }

    #[test]
    fn search_over_id_name_and_phone() {
        let a = account("n0012345", "陳小美 Chen");
        for hit in [
            "N0012",
            "小美",
            "chen",
            "0912-345",
            "+886 912 345",
            "678",
            "  ",
        ] {
            assert!(search_hit(&a, hit), "{hit}");
        }
        for miss in ["lin", "0987", "12-34x"] {
            assert!(!search_hit(&a, miss), "{miss}");
        }
    }
}
