#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use time::macros::date;

use super::*;

const TODAY: time::Date = date!(2026 - 12 - 07);

fn settings() -> PlanSettings {
    PlanSettings {
        new_status: AccountStatus::Active,
        keeps_passwords: false,
        today: TODAY,
        name_mapped: true,
        phone_mapped: true,
        email_mapped: true,
        force: false,
    }
}

fn entry(id: &str) -> DirectoryEntry {
    DirectoryEntry {
        id: id.into(),
        dn: format!("CN={id},OU=Staff,DC=hospital,DC=local"),
        name: Some(format!("Name {id}")),
        phone: Some("0912345678".into()),
        email: Some(format!("{id}@hospital.example")),
        groups: None,
        disabled: false,
        expires_on: None,
        password_changed_at: None,
    }
}

/// The account a sync of `entry(id)` stores.
fn synced(id: &str) -> SyncedAccount {
    let e = entry(id);
    SyncedAccount {
        id: id.into(),
        name: e.name.unwrap(),
        phone: e.phone,
        email: e.email,
        status: AccountStatus::Active,
        expires_on: None,
        groups: Vec::new(),
        has_password: false,
        directory_dn: Some(e.dn),
        sync_disabled: false,
    }
}

fn local(id: &str) -> SyncedAccount {
    SyncedAccount {
        directory_dn: None,
        name: "Vendor".into(),
        ..synced(id)
    }
}

fn only(plan: &SyncPlan) -> &AccountChange {
    assert_eq!(plan.changes.len(), 1, "{:#?}", plan.changes);
    &plan.changes[0]
}

#[test]
fn a_new_entry_creates_an_active_account_without_a_password_at_motpd() {
    let plan = plan(&[entry("amy")], &[], &settings()).unwrap();
    let change = only(&plan);
    assert_eq!(change.action, Action::Create);
    assert_eq!(plan.counts.created, 1);
    let upsert = &plan.write.upserts[0];
    assert_eq!(upsert.account.status, AccountStatus::Active);
    assert_eq!(upsert.account.name, "Name amy");
    assert_eq!(upsert.directory_dn, "CN=amy,OU=Staff,DC=hospital,DC=local");
    assert!(upsert.account.password_hash.is_none());
    assert_eq!(change.fields["phone"]["new"], "0912-***-678");
    assert_eq!(change.detail()["sync"], "created");
}

#[test]
fn with_local_passwords_a_new_account_waits_for_activation() {
    let s = PlanSettings {
        new_status: AccountStatus::Pending,
        keeps_passwords: true,
        ..settings()
    };
    let plan = plan(&[entry("amy")], &[], &s).unwrap();
    assert_eq!(plan.write.upserts[0].account.status, AccountStatus::Pending);
}

#[test]
fn an_account_equal_to_its_entry_is_unchanged() {
    let plan = plan(&[entry("amy")], &[synced("amy")], &settings()).unwrap();
    assert!(plan.changes.is_empty());
    assert_eq!(plan.write, SyncWrite::default());
    assert_eq!(plan.counts.unchanged, 1);
}

#[test]
fn changed_attributes_are_updated_and_named() {
    let mut e = entry("amy");
    e.name = Some("Amy Lin".into());
    e.phone = Some("0987654321".into());
    e.expires_on = Some(date!(2027 - 06 - 30));
    let plan = plan(&[e], &[synced("amy")], &settings()).unwrap();
    let change = only(&plan);
    assert_eq!(change.action, Action::Update);
    let names: Vec<&str> = change.fields.keys().map(String::as_str).collect();
    assert_eq!(names, ["expires", "name", "phone"]);
    assert_eq!(change.fields["name"]["old"], "Name amy");
    let upsert = &plan.write.upserts[0].account;
    assert_eq!(upsert.name, "Amy Lin");
    assert_eq!(upsert.expires_on, Some(date!(2027 - 06 - 30)));
    assert_eq!(
        upsert.status,
        AccountStatus::Active,
        "an update keeps the status"
    );
    assert!(plan.write.disable.is_empty() && plan.write.enable.is_empty());
}

#[test]
fn an_unmapped_attribute_stays_motpds_and_a_missing_name_keeps_the_stored_one() {
    let mut e = entry("amy");
    e.phone = None;
    e.name = None;
    let s = PlanSettings {
        phone_mapped: false,
        ..settings()
    };
    let plan = plan(&[e.clone()], &[synced("amy")], &s).unwrap();
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    // Mapped, a phone removed in the directory is removed here.
    let plan = super::plan(&[e], &[synced("amy")], &settings()).unwrap();
    assert_eq!(only(&plan).fields["phone"]["new"], Value::Null);
    assert!(!only(&plan).fields.contains_key("name"));
}

#[test]
fn groups_follow_the_directory_only_when_the_mapping_table_is_used() {
    let mut stored = synced("amy");
    stored.groups = vec!["motpd-own".into()];
    // Empty mapping table: the entry's groups are None and the stored groups stay.
    let plan1 = plan(&[entry("amy")], std::slice::from_ref(&stored), &settings()).unwrap();
    assert!(plan1.changes.is_empty());
    let mut e = entry("amy");
    e.groups = Some(vec![
        "vpn-staff".into(),
        "vpn-icu".into(),
        "vpn-staff".into(),
    ]);
    let plan2 = plan(&[e], &[stored], &settings()).unwrap();
    assert_eq!(
        plan2.write.upserts[0].account.groups,
        ["vpn-icu", "vpn-staff"]
    );
    assert!(only(&plan2).fields.contains_key("groups"));
}

#[test]
fn a_removed_entry_disables_its_account_and_says_why() {
    let entries: Vec<_> = (0..20).map(|n| entry(&format!("u{n:02}"))).collect();
    let mut accounts: Vec<_> = (0..20).map(|n| synced(&format!("u{n:02}"))).collect();
    accounts.push(synced("gone"));
    let plan = plan(&entries, &accounts, &settings()).unwrap();
    let change = only(&plan);
    assert_eq!(change.id, "gone");
    assert_eq!(change.action, Action::Disable(DisableReason::Gone));
    assert_eq!(plan.write.disable, ["gone"]);
    assert!(plan.write.upserts.is_empty(), "devices and fields stay");
    assert_eq!(change.detail()["reason"], "gone");
}

#[test]
fn disabled_or_expired_in_the_directory_disables() {
    let mut off = entry("off");
    off.disabled = true;
    let mut old = entry("old");
    old.expires_on = Some(date!(2026 - 12 - 06));
    let mut last_day = entry("last");
    last_day.expires_on = Some(TODAY);
    let accounts = [synced("off"), synced("old"), synced("last")];
    let plan = plan(&[off, old, last_day], &accounts, &settings()).unwrap();
    let actions: Vec<_> = plan
        .changes
        .iter()
        .map(|c| (c.id.as_str(), c.action.clone()))
        .collect();
    assert_eq!(
        actions,
        [
            ("last", Action::Update),
            ("off", Action::Disable(DisableReason::DisabledThere)),
            ("old", Action::Disable(DisableReason::Expired)),
        ]
    );
    assert_eq!(plan.write.disable, ["off", "old"]);
}

#[test]
fn a_disabled_entry_without_an_account_creates_nothing() {
    let mut off = entry("off");
    off.disabled = true;
    let plan = plan(&[off], &[], &settings()).unwrap();
    assert!(plan.changes.is_empty());
    assert_eq!(plan.counts.skipped, 1);
}

#[test]
fn a_returning_entry_re_enables_only_what_a_sync_disabled() {
    let mut by_sync = synced("back");
    by_sync.status = AccountStatus::Disabled;
    by_sync.sync_disabled = true;
    let mut by_admin = synced("admin");
    by_admin.status = AccountStatus::Disabled;
    let plan = plan(
        &[entry("back"), entry("admin")],
        &[by_sync, by_admin],
        &settings(),
    )
    .unwrap();
    let change = only(&plan);
    assert_eq!(change.id, "back");
    assert_eq!(change.action, Action::Reenable(AccountStatus::Active));
    assert_eq!(
        plan.write.enable,
        [("back".to_owned(), AccountStatus::Active)]
    );
    assert_eq!(plan.counts.unchanged, 1);
}

#[test]
fn a_re_enabled_account_without_a_password_waits_for_activation_when_motpd_keeps_passwords() {
    let mut back = synced("back");
    back.status = AccountStatus::Disabled;
    back.sync_disabled = true;
    let s = PlanSettings {
        new_status: AccountStatus::Pending,
        keeps_passwords: true,
        ..settings()
    };
    let plan1 = plan(&[entry("back")], std::slice::from_ref(&back), &s).unwrap();
    assert_eq!(
        only(&plan1).action,
        Action::Reenable(AccountStatus::Pending)
    );
    back.has_password = true;
    let plan2 = plan(&[entry("back")], &[back], &s).unwrap();
    assert_eq!(only(&plan2).action, Action::Reenable(AccountStatus::Active));
}

#[test]
fn a_sync_disabled_account_still_gone_or_disabled_there_is_left_alone() {
    let mut gone = synced("gone");
    gone.status = AccountStatus::Disabled;
    gone.sync_disabled = true;
    let mut off_here = synced("off");
    off_here.status = AccountStatus::Disabled;
    off_here.sync_disabled = true;
    let mut off = entry("off");
    off.disabled = true;
    let plan = plan(
        &[off, entry("x")],
        &[gone, off_here, synced("x")],
        &settings(),
    )
    .unwrap();
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    assert_eq!(plan.counts.unchanged, 3);
}

#[test]
fn local_accounts_are_never_disabled_for_being_absent_and_are_adopted_when_present() {
    let plan = plan(
        &[entry("amy")],
        &[local("vendor"), local("amy")],
        &settings(),
    )
    .unwrap();
    let change = only(&plan);
    assert_eq!(change.id, "amy");
    assert!(change.adopted);
    assert_eq!(change.action, Action::Update);
    assert_eq!(change.fields["directory"]["old"], Value::Null);
    assert_eq!(
        plan.write.upserts[0].directory_dn,
        "CN=amy,OU=Staff,DC=hospital,DC=local"
    );
    assert!(plan.write.disable.is_empty());
    assert_eq!(change.detail()["adopted"], true);
}

#[test]
fn entries_without_an_id_or_with_a_shared_id_are_skipped_with_a_warning() {
    let mut twin = entry("twin");
    twin.dn = "CN=twin2,OU=Staff,DC=hospital,DC=local".into();
    let plan = plan(
        &[entry(""), entry("twin"), twin, entry("amy")],
        &[synced("twin"), synced("amy")],
        &settings(),
    )
    .unwrap();
    assert!(
        plan.changes.is_empty(),
        "the twin's account is not disabled"
    );
    assert_eq!(plan.counts.skipped, 3);
    assert_eq!(plan.warnings.len(), 3);
}

#[test]
fn the_brake_holds_a_mass_disable_back_unless_forced() {
    let accounts: Vec<_> = (0..100).map(|n| synced(&format!("u{n:03}"))).collect();
    // 11 of 100 gone: more than 10 and more than 10 %.
    let entries: Vec<_> = (11..100).map(|n| entry(&format!("u{n:03}"))).collect();
    let refused = plan(&entries, &accounts, &settings()).unwrap_err();
    assert_eq!(refused.disable, 11);
    assert_eq!(refused.directory_accounts, 100);
    assert!(refused.to_string().contains("--force"), "{refused}");
    let forced = PlanSettings {
        force: true,
        ..settings()
    };
    assert_eq!(
        plan(&entries, &accounts, &forced)
            .unwrap()
            .write
            .disable
            .len(),
        11
    );
    // 10 of 100: at the limit, allowed.
    let entries: Vec<_> = (10..100).map(|n| entry(&format!("u{n:03}"))).collect();
    assert_eq!(
        plan(&entries, &accounts, &settings())
            .unwrap()
            .counts
            .disabled,
        10
    );
}

#[test]
fn the_brake_lets_many_disables_through_when_they_are_a_small_share() {
    let accounts: Vec<_> = (0..1000).map(|n| synced(&format!("u{n:04}"))).collect();
    let entries: Vec<_> = (50..1000).map(|n| entry(&format!("u{n:04}"))).collect();
    assert_eq!(
        plan(&entries, &accounts, &settings())
            .unwrap()
            .counts
            .disabled,
        50
    );
    // A few accounts, most of them gone: at most 10, allowed.
    let accounts: Vec<_> = (0..12).map(|n| synced(&format!("u{n:02}"))).collect();
    let entries = [entry("u00"), entry("u01")];
    assert_eq!(
        plan(&entries, &accounts, &settings())
            .unwrap()
            .counts
            .disabled,
        10
    );
}

#[test]
fn an_empty_search_never_disables_without_force() {
    let accounts = [synced("amy"), local("vendor")];
    let refused = plan(&[], &accounts, &settings()).unwrap_err();
    assert_eq!(refused.disable, 1);
    assert!(refused.why.contains("no entry"), "{refused}");
    let forced = PlanSettings {
        force: true,
        ..settings()
    };
    assert_eq!(
        plan(&[], &accounts, &forced).unwrap().write.disable,
        ["amy"]
    );
    // Nothing to disable: an empty search on an empty database is fine.
    assert!(
        plan(&[], &[local("vendor")], &settings())
            .unwrap()
            .changes
            .is_empty()
    );
}

#[test]
fn disables_of_already_disabled_accounts_do_not_count_for_the_brake() {
    let mut accounts: Vec<_> = (0..30).map(|n| synced(&format!("u{n:02}"))).collect();
    for a in accounts.iter_mut().take(20) {
        a.status = AccountStatus::Disabled;
    }
    let entries: Vec<_> = (20..30).map(|n| entry(&format!("u{n:02}"))).collect();
    let plan = plan(&entries, &accounts, &settings()).unwrap();
    assert!(plan.changes.is_empty());
}
