//! Placeholder until the backend lands (replaced by the store branch).
#[derive(Debug)]
pub(super) struct SqliteStore;
impl SqliteStore {
    pub(super) async fn connect(
        url: &str,
        _m: u32,
        _c: crate::audit::AuditChain,
    ) -> Result<std::sync::Arc<dyn super::Store>, super::StoreError> {
        Err(super::StoreError::UnsupportedUrl(url.to_owned()))
    }
}
