//! The enrollment report, shared by `motpd report unenrolled` and the console's report page: every account
//! without a device with its state, password and invitation link; enrolled / not counted per group; whether
//! `policy.enforce_after` has come; and the CSV the console downloads (the CLI table's columns, UTF-8 with a
//! byte order mark so that Excel opens zh-TW names correctly).

use std::collections::{BTreeMap, HashMap};

use crate::account_rules::{AccountState, account_state};
use crate::config::PasswordSource;
use crate::store::{Account, AccountFilter, Invitation, Store, StoreError};

/// The report's columns, as the CLI prints them.
pub const COLUMNS: [&str; 7] = [
    "ID", "NAME", "EMAIL", "STATUS", "PASSWORD", "INVITED", "LINK",
];

/// An invitation's link as the report shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Never invited.
    None,
    /// Used (bound a device) at this time.
    Used(Option<i64>),
    /// Expired at this time.
    Expired(i64),
    /// Valid until this time.
    Valid(i64),
}

impl LinkState {
    /// What `invitation` is worth at `now`.
    pub fn of(invitation: Option<&Invitation>, now: i64) -> Self {
        match invitation {
            None => Self::None,
            Some(i) if i.used_at.is_some() => Self::Used(i.used_at),
            Some(i) if i.expires_at <= now => Self::Expired(i.expires_at),
            Some(i) => Self::Valid(i.expires_at),
        }
    }

    /// `none`, `used`, `expired` or `valid`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Used(_) => "used",
            Self::Expired(_) => "expired",
            Self::Valid(_) => "valid",
        }
    }

    /// The time it refers to.
    pub fn at(self) -> Option<i64> {
        match self {
            Self::None => None,
            Self::Used(at) => at,
            Self::Expired(at) | Self::Valid(at) => Some(at),
        }
    }

    /// `valid until 2026-12-07 10:00`, as the LINK column writes it.
    pub fn text(self, offset: time::UtcOffset) -> String {
        let when = || time_text(self.at(), offset);
        match self {
            Self::None => "none".to_owned(),
            Self::Used(_) => format!("used {}", when()),
            Self::Expired(_) => format!("expired {}", when()),
            Self::Valid(_) => format!("valid until {}", when()),
        }
    }
}

/// A time as the report writes it (`-` for none).
pub fn time_text(unix: Option<i64>, offset: time::UtcOffset) -> String {
    unix.map_or_else(|| "-".to_owned(), |t| crate::local_time::text(t, offset))
}

/// One account without a device.
#[derive(Debug, Clone)]
pub struct UnenrolledRow {
    /// The account.
    pub account: Account,
    /// Its state now.
    pub state: AccountState,
    /// Its latest invitation, if any.
    pub invitation: Option<Invitation>,
    /// What that link is worth now.
    pub link: LinkState,
}

impl UnenrolledRow {
    /// The CLI table's cells, in [`COLUMNS`] order.
    pub fn cells(&self, offset: time::UtcOffset) -> [String; 7] {
        let account = &self.account;
        [
            account.id.clone(),
            account.name.clone(),
            account.email.clone().unwrap_or_else(|| "-".into()),
            self.state.as_str().to_owned(),
            if account.password_hash.is_some() {
                "set"
            } else {
                "none"
            }
            .to_owned(),
            time_text(self.invitation.as_ref().map(|i| i.created_at), offset),
            self.link.text(offset),
        ]
    }
}

/// Enrolled and not, in one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupCount {
    /// The group (`""`: accounts in no group).
    pub group: String,
    /// Accounts with an active device.
    pub enrolled: u64,
    /// Accounts without.
    pub unenrolled: u64,
}

/// The report.
#[derive(Debug, Clone)]
pub struct EnrollmentReport {
    /// Every account without a device, by ID.
    pub unenrolled: Vec<UnenrolledRow>,
    /// Per group (by name; an account counts in each of its groups).
    pub groups: Vec<GroupCount>,
    /// All accounts, enrolled or not.
    pub total: u64,
}

/// The report at `now` (`today` in the site's time zone).
pub async fn enrollment_report(
    store: &dyn Store,
    now: i64,
    today: time::Date,
    source: PasswordSource,
) -> Result<EnrollmentReport, StoreError> {
    let accounts = store.list_accounts(AccountFilter::default()).await?;
    let mut invitations: HashMap<String, Invitation> = store
        .list_invitations()
        .await?
        .into_iter()
        .map(|i| (i.account_id.clone(), i))
        .collect();
    let mut groups: BTreeMap<String, GroupCount> = BTreeMap::new();
    let mut unenrolled = Vec::new();
    let total = accounts.len() as u64;
    for overview in accounts {
        let enrolled = overview.device.is_some();
        let names = if overview.account.groups.is_empty() {
            vec![String::new()]
        } else {
            overview.account.groups.clone()
        };
        for name in names {
            let count = groups.entry(name.clone()).or_insert(GroupCount {
                group: name,
                enrolled: 0,
                unenrolled: 0,
            });
            if enrolled {
                count.enrolled += 1;
            } else {
                count.unenrolled += 1;
            }
        }
        if !enrolled {
            let account = overview.account;
            let invitation = invitations.remove(&account.id);
            unenrolled.push(UnenrolledRow {
                state: account_state(&account, now, today, source),
                link: LinkState::of(invitation.as_ref(), now),
                invitation,
                account,
            });
        }
    }
    Ok(EnrollmentReport {
        unenrolled,
        groups: groups.into_values().collect(),
        total,
    })
}

/// The unenrolled accounts as CSV: a byte order mark, the [`COLUMNS`] header, one row each, CRLF line ends
/// (what Excel expects), fields quoted when they hold a comma, quote or line break.
pub fn csv(rows: &[UnenrolledRow], offset: time::UtcOffset) -> String {
    let mut out = String::from("\u{feff}");
    let line = |cells: &[String], out: &mut String| {
        let quoted: Vec<String> = cells.iter().map(|c| csv_field(c)).collect();
        out.push_str(&quoted.join(","));
        out.push_str("\r\n");
    };
    let header: Vec<String> = COLUMNS.iter().map(|c| (*c).to_owned()).collect();
    line(&header, &mut out);
    for row in rows {
        line(&row.cells(offset), &mut out);
    }
    out
}

fn csv_field(text: &str) -> String {
    // A leading = + - @ would be a formula in Excel: a tab before it keeps it text.
    let text = if text.starts_with(['=', '+', '-', '@']) && text != "-" {
        format!("\t{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("Chen, Mei"), "\"Chen, Mei\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=1+1"), "\t=1+1");
        assert_eq!(csv_field("-"), "-");
    }

    #[test]
    fn the_csv_starts_with_a_bom_and_the_cli_columns() {
        let text = csv(&[], time::UtcOffset::UTC);
        assert_eq!(
            text,
            "\u{feff}ID,NAME,EMAIL,STATUS,PASSWORD,INVITED,LINK\r\n"
        );
    }
}
