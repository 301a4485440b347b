//! `motpd secrets new-key|rotate|status`: master key rotation.
//!
//! `rotate` re-seals every sealed value under the new key, replaces the key check value (which names the key
//! every node seals under from then on) and appends the rotation's audit row, in one store transaction
//! (`store/key_rotation.rs`). It refuses a new key file this node's configuration does not list: a running
//! `serve` finds a new key only in the files its configuration names. Run again with the same file, it
//! re-seals the values some node sealed under an old key meanwhile.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;

use super::CliError;
use super::args::SecretsCommand;
use super::context::{Context, KeyMode};
use crate::audit::{AuditEvent, ROTATION_KIND};
use crate::secrets::{Aad, MasterKey, sealed_key_id};
use crate::store::key_rotation::{ResealCounts, Rotation, SealedKind, SealedValue};

pub(super) async fn run(config_path: Option<&Path>, command: SecretsCommand) -> anyhow::Result<()> {
    match command {
        SecretsCommand::NewKey { file } => {
            let key = MasterKey::create_file(&file)?;
            println!(
                "created key file {} (key id {}, mode 0600)",
                file.display(),
                key.key_id()
            );
            println!(
                "next: copy it to every node (same owner, mode 0600), list it in secrets.extra_key_files there, \
                 then run `motpd secrets rotate --new-key-file {}` on one node",
                file.display()
            );
            Ok(())
        }
        SecretsCommand::Rotate { new_key_file, json } => {
            let ctx = Context::open(config_path, KeyMode::MustExist).await?;
            let result = rotate(&ctx, &new_key_file, json).await;
            ctx.stores.store.close().await;
            result
        }
        SecretsCommand::Status { json } => {
            let ctx = Context::open(config_path, KeyMode::MustExist).await?;
            let result = status(&ctx, json).await;
            ctx.stores.store.close().await;
            result
        }
    }
}

/// The associated data of a sealed value: the row it belongs to.
fn aad_of(value: &SealedValue) -> Aad {
    match value.kind {
        SealedKind::DeviceSeed => Aad::device_seed(&value.row, &value.account_id),
        SealedKind::DevicePin => Aad::device_pin(&value.row, &value.account_id),
        SealedKind::ClientSecret => Aad::client_secret(&value.row),
        SealedKind::AdminTotp => Aad::admin_totp(&value.row),
    }
}

async fn rotate(ctx: &Context, new_key_file: &Path, json: bool) -> anyhow::Result<()> {
    let new = MasterKey::load(new_key_file)?;
    let new_id = new.id();
    // This node must hold the new key through its configuration, or its own `serve` could not open the values.
    if ctx.key.find(&new_id).is_err() {
        return Err(CliError::Usage(format!(
            "{} (key id {}) is not listed in this node's configuration: add it to secrets.extra_key_files \
             (or make it secrets.key_file) on every node, after copying it there, then run this again; nothing \
             was changed",
            new_key_file.display(),
            new.key_id()
        ))
        .into());
    }
    let store = &ctx.stores.store;
    let stored = store
        .key_check()
        .await?
        .context("the database has no key check value yet; run `motpd init` first")?;
    let old = ctx.key.adopt_key_check(&stored)?;
    let new_check = new.key_check_value()?;
    let expected = stored.clone();
    let keyring = ctx.key.clone();
    let reseal = move |value: &SealedValue| {
        let aad = aad_of(value);
        let plain = keyring.open(&aad, &value.sealed)?;
        new.seal(&aad, plain.expose())
    };
    let (from_id, to_id) = (old.key_id(), hex::encode(new_id));
    let actor = ctx.actor();
    let now = ctx.now();
    let event = |counts: &ResealCounts| {
        AuditEvent::new(
            now,
            ROTATION_KIND,
            &actor,
            None,
            "ok",
            serde_json::json!({
                "from_key_id": from_id,
                "to_key_id": to_id,
                "seeds": counts.seeds,
                "pins": counts.pins,
                "client_secrets": counts.client_secrets,
                "admin_totps": counts.admin_totps,
            }),
        )
    };
    let counts = store
        .rotate_key(&Rotation {
            expected_key_check: &expected,
            new_key_check: &new_check,
            reseal: &reseal,
            event: &event,
        })
        .await
        .context("key rotation failed; nothing was changed")?;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "from_key_id": from_id,
                "to_key_id": to_id,
                "seeds": counts.seeds,
                "pins": counts.pins,
                "client_secrets": counts.client_secrets,
                "admin_totps": counts.admin_totps,
            })
        );
    } else {
        println!(
            "rotated from key {from_id} to key {to_id}: re-sealed {} seed(s), {} PIN(s), {} client secret(s), \
             {} admin TOTP seed(s)",
            counts.seeds, counts.pins, counts.client_secrets, counts.admin_totps
        );
        println!(
            "next: on every node set secrets.key_file = \"{}\" and keep the old key file in \
             secrets.extra_key_files until `motpd secrets status` shows no value under key {from_id}",
            new_key_file.display()
        );
    }
    Ok(())
}

async fn status(ctx: &Context, json: bool) -> anyhow::Result<()> {
    let store = &ctx.stores.store;
    let database_key = store
        .key_check()
        .await?
        .map(|stored| {
            sealed_key_id(&stored).map_or_else(|| ctx.key.primary().key_id(), hex::encode)
        })
        .unwrap_or_default();
    // Per key id: values per kind. Version 1 values name no key: they are counted under the key that opens them.
    let mut by_key: BTreeMap<String, BTreeMap<&'static str, u64>> = BTreeMap::new();
    for value in store.sealed_values().await? {
        let id = match sealed_key_id(&value.sealed) {
            Some(id) => hex::encode(id),
            None => ctx
                .key
                .keys()
                .iter()
                .find(|k| k.open(&aad_of(&value), &value.sealed).is_ok())
                .map_or_else(
                    || "unknown (v1)".to_owned(),
                    |k| format!("{} (v1)", k.key_id()),
                ),
        };
        *by_key
            .entry(id)
            .or_default()
            .entry(value.kind.as_str())
            .or_default() += 1;
    }
    let keyring: Vec<String> = ctx.key.keys().iter().map(|k| k.key_id()).collect();
    if json {
        println!(
            "{}",
            serde_json::json!({
                "database_key_id": database_key,
                "keyring": keyring,
                "values": by_key,
            })
        );
        return Ok(());
    }
    println!("database key: {database_key}");
    println!("this node's keys: {}", keyring.join(", "));
    if by_key.is_empty() {
        println!("no sealed values");
    }
    for (id, kinds) in &by_key {
        let total: u64 = kinds.values().sum();
        let detail: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
        println!("key {id}: {total} value(s) ({})", detail.join(", "));
    }
    let stale: Vec<&String> = by_key.keys().filter(|id| **id != database_key).collect();
    if stale.is_empty() {
        println!(
            "every sealed value is under the database key; key files of other ids may be removed (identity \
             hashes made before a rotation need the old key until the identities are imported again)"
        );
    } else {
        println!(
            "values under other keys remain: run `motpd secrets rotate --new-key-file <the database key's file>` \
             again before removing an old key file"
        );
    }
    Ok(())
}
