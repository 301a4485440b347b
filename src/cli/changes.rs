//! What an admin command changed, for its audit row: `{"field": {"old": …, "new": …}}` for each field whose
//! value differs, and `"changed"` alone for a secret (a password, a seed, an identity). Empty means a no-op,
//! which writes no row.

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::account_rules;
use crate::store::AccountUpsert;

/// The changed fields of one account, in the order they were compared.
#[derive(Debug, Default)]
pub(super) struct Changes(Map<String, Value>);

impl Changes {
    /// Records `name` if `old` and `new` differ.
    pub(super) fn field<T: Serialize + PartialEq + ?Sized>(
        &mut self,
        name: &str,
        old: &T,
        new: &T,
    ) {
        if old != new {
            self.0
                .insert(name.to_owned(), json!({ "old": old, "new": new }));
        }
    }

    /// Records a phone number change, masked as `user show` shows it.
    pub(super) fn phone(&mut self, old: Option<&str>, new: Option<&str>) {
        if old != new {
            let masked = |p: Option<&str>| p.map(account_rules::mask_phone);
            self.0.insert(
                "phone".to_owned(),
                json!({ "old": masked(old), "new": masked(new) }),
            );
        }
    }

    /// Records that a secret changed, without its value.
    pub(super) fn secret(&mut self, name: &str) {
        self.0.insert(name.to_owned(), json!("changed"));
    }

    /// Records a value that is not a change of a field (the file a bulk command read, say).
    pub(super) fn note(&mut self, name: &str, value: Value) {
        self.0.insert(name.to_owned(), value);
    }

    /// Nothing changed.
    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The names of the changed fields, for the command's output.
    pub(super) fn names(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }

    /// The audit row's detail.
    pub(super) fn into_detail(self) -> Value {
        Value::Object(self.0)
    }
}

/// The changes from `old` to `new` in the fields an account import or `user set` writes (the password hash
/// only as "changed").
pub(super) fn account_changes(old: &AccountUpsert, new: &AccountUpsert) -> Changes {
    let mut changes = Changes::default();
    changes.field("name", &old.name, &new.name);
    changes.phone(old.phone.as_deref(), new.phone.as_deref());
    changes.field("email", &old.email, &new.email);
    changes.field(
        "expires",
        &old.expires_on.map(|d| d.to_string()),
        &new.expires_on.map(|d| d.to_string()),
    );
    changes.field("groups", &old.groups, &new.groups);
    if new.password_hash.is_some() && new.password_hash != old.password_hash {
        changes.secret("password");
    }
    changes.field("status", old.status.as_str(), new.status.as_str());
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AccountStatus;

    fn account() -> AccountUpsert {
        AccountUpsert {
            id: "alice".into(),
            name: "Alice".into(),
            phone: Some("0912345678".into()),
            email: None,
            expires_on: None,
            groups: vec!["vpn".into()],
            password_hash: None,
            status: AccountStatus::Active,
        }
    }

    #[test]
    fn only_changed_fields_are_recorded_and_secrets_only_as_changed() {
        let old = account();
        assert!(account_changes(&old, &old).is_empty());
        let mut new = account();
        new.groups = vec!["vpn".into(), "nurses".into()];
        new.phone = Some("0987654321".into());
        new.password_hash = Some("$argon2id$secret".into());
        let detail = account_changes(&old, &new).into_detail().to_string();
        assert_eq!(
            detail,
            r#"{"groups":{"new":["vpn","nurses"],"old":["vpn"]},"password":"changed","phone":{"new":"0987-***-321","old":"0912-***-678"}}"#
        );
    }
}
