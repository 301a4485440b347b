//! `motpd audit verify`: walks the whole chain and reports the first broken link.

use std::path::Path;

use super::args::AuditCommand;
use super::context::{Context, KeyMode};
use crate::audit::{AuditChain, ChainVerifier};

const PAGE: u32 = 5000;

pub(super) async fn run(config_path: Option<&Path>, command: AuditCommand) -> anyhow::Result<()> {
    let ctx = Context::open(config_path, KeyMode::MustExist).await?;
    let AuditCommand::Verify { json } = command;
    let result = verify(&ctx, json).await;
    ctx.store.close().await;
    result
}

async fn verify(ctx: &Context, json: bool) -> anyhow::Result<()> {
    let chain = AuditChain::new(ctx.key.audit_chain_key());
    let mut verifier = ChainVerifier::new(&chain);
    let mut after = 0;
    loop {
        let page = ctx.store.audit_page(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for record in &page {
            if let Err(broken) = verifier.check(record) {
                if json {
                    println!(
                        "{}",
                        serde_json::json!({"ok": false, "verified": verifier.verified(), "error": broken.to_string()})
                    );
                }
                anyhow::bail!(
                    "audit trail broken after {} intact row(s): {broken}. Compare with your backups and recorded heads",
                    verifier.verified()
                );
            }
        }
    }
    if json {
        println!(
            "{}",
            serde_json::json!({"ok": true, "verified": verifier.verified(), "head": verifier.head_hex()})
        );
    } else {
        println!(
            "audit trail intact: {} row(s) verified",
            verifier.verified()
        );
        println!(
            "head {} (record it elsewhere; a later verify must extend it)",
            verifier.head_hex()
        );
    }
    Ok(())
}
