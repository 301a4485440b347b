//! Verifying the audit chain: every link checked, page by page (reporting every break, and whether a head
//! recorded earlier is still in it). Shared by `motpd audit verify`, `motpd backup` / `restore` (over a backup
//! file's rows) and the console's audit page.

use crate::audit::{AuditChain, AuditRecord, ChainVerifier};
use crate::store::StoreError;

/// Rows read per page.
const PAGE: u32 = 5000;

/// What a walk over the audit chain found.
#[derive(Debug)]
pub struct ChainWalk {
    /// Rows read.
    pub rows: u64,
    /// Every break, in order.
    pub breaks: Vec<String>,
    /// Whether the recorded head is in the trail (`None`: no head was given).
    pub head_found: Option<bool>,
    /// The last link, hex.
    pub head: String,
    /// Rows verified.
    pub verified: i64,
    /// Rows before a key rotation whose key is not in this node's keyring: how many, and that key's id.
    pub unverified: Option<(i64, String)>,
}

/// A walk in progress: feed it the rows in order, page by page.
#[derive(Debug)]
pub struct ChainWalker<'a> {
    verifier: ChainVerifier<'a>,
    recorded: Option<[u8; 32]>,
    breaks: Vec<String>,
    rows: u64,
    head_found: bool,
    after: i64,
}

impl<'a> ChainWalker<'a> {
    /// A walk over `chain`, looking for the `recorded` head, if given.
    pub fn new(chain: &'a AuditChain, recorded: Option<[u8; 32]>) -> Self {
        Self {
            verifier: ChainVerifier::new(chain),
            recorded,
            breaks: Vec::new(),
            rows: 0,
            head_found: false,
            after: 0,
        }
    }

    /// The sequence number the next page starts after.
    pub fn after(&self) -> i64 {
        self.after
    }

    /// Checks the next page's rows; `false` when the page was empty (the walk is over).
    pub fn feed(&mut self, records: &[AuditRecord]) -> bool {
        let Some(last) = records.last() else {
            return false;
        };
        self.after = last.seq;
        for record in records {
            self.rows += 1;
            if let Err(broken) = self.verifier.check(record) {
                self.breaks.push(broken.to_string());
                // Go on from the stored row, so that one break does not hide the next.
                self.verifier.resync(record);
            }
            self.head_found |= self.recorded.is_some_and(|head| head == record.mac);
        }
        true
    }

    /// What the walk found.
    pub fn finish(mut self) -> ChainWalk {
        if let Err(broken) = self.verifier.finish() {
            self.breaks.push(broken.to_string());
        }
        ChainWalk {
            rows: self.rows,
            breaks: self.breaks,
            head_found: self.recorded.map(|_| self.head_found),
            head: self.verifier.head_hex(),
            verified: self.verifier.verified(),
            unverified: self.verifier.unverified(),
        }
    }
}

/// Checks every link of the chain `chain`, reading the rows page by page through `page(after, limit)`: the
/// live database's for `audit verify`, a backup file's for `backup` and `restore`.
pub async fn walk_chain(
    chain: &AuditChain,
    recorded: Option<[u8; 32]>,
    mut page: impl AsyncFnMut(i64, u32) -> Result<Vec<AuditRecord>, StoreError>,
) -> Result<ChainWalk, StoreError> {
    let mut walker = ChainWalker::new(chain, recorded);
    loop {
        let records = page(walker.after(), PAGE).await?;
        if !walker.feed(&records) {
            break;
        }
    }
    Ok(walker.finish())
}

/// The audit kind of a recorded verification (the console's button, `motpd audit verify`).
pub const VERIFY_KIND: &str = "admin.audit.verify";

/// Verifies the live trail of `store` and records the result ([`record_verification`]), so every node's
/// console shows the last verification without walking the chain on each page view.
pub async fn verify_and_record(
    store: &dyn crate::store::Store,
    chain: &AuditChain,
    actor: &str,
    now: i64,
) -> Result<ChainWalk, StoreError> {
    // A plain loop, not `walk_chain`: the console's handler future must be `Send`.
    let mut walker = ChainWalker::new(chain, None);
    loop {
        let after = walker.after();
        let records = store.audit_page(after, PAGE).await?;
        if !walker.feed(&records) {
            break;
        }
    }
    let walk = walker.finish();
    record_verification(store, &walk, actor, now).await?;
    Ok(walk)
}

/// Records a walk over the live trail as an `admin.audit.verify` row: `ok`, or `broken` when a link broke or
/// a recorded head given to the walk was not found; with the rows read, the number of breaks and the head.
pub async fn record_verification(
    store: &dyn crate::store::Store,
    walk: &ChainWalk,
    actor: &str,
    now: i64,
) -> Result<(), StoreError> {
    let head_missing = walk.head_found == Some(false);
    let outcome = if walk.breaks.is_empty() && !head_missing {
        "ok"
    } else {
        "broken"
    };
    let detail = serde_json::json!({
        "rows": walk.rows,
        "verified": walk.verified,
        "breaks": walk.breaks.len(),
        "first_break": walk.breaks.first(),
        "unverified_rows": walk.unverified.as_ref().map_or(0, |(n, _)| *n),
        "recorded_head_found": walk.head_found,
        "head": walk.head,
    });
    let event = crate::audit::AuditEvent::new(now, VERIFY_KIND, actor, None, outcome, detail);
    store.append_audit(&[event]).await
}

/// The last recorded verification, if any.
pub async fn last_verification(
    store: &dyn crate::store::Store,
) -> Result<Option<AuditRecord>, StoreError> {
    let filter = crate::store::AuditFilter {
        kind_prefix: Some(VERIFY_KIND.to_owned()),
        limit: 1,
        ..crate::store::AuditFilter::default()
    };
    Ok(store.search_audit(&filter).await?.into_iter().next())
}
