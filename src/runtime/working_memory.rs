//! The Argon2 working memory a hashing thread keeps from one verify to the next
//! ([`verify_password_reusing`]), until [`release_working_memory`] gives it back.
//!
//! The memory is mapped straight from the kernel rather than taken from the allocator: unmapping it gives its
//! pages back to the system at once. (Freed to mimalloc, 19 MiB per hashing thread stayed resident after the
//! last password check; a quiet server should not hold memory for a burst that is over.)
//!
//! The kernel hands out an anonymous mapping zero-filled, and all zeros is a valid [`Block`]; on unmapping it
//! discards the pages, so nothing of a password's hashing outlives the mapping in this process.

use std::cell::RefCell;
use std::ptr::NonNull;

use argon2::Block;

use crate::password::{self, HashError, Verified, WorkingMemory};

/// [`password::verify_password`], with this thread's Argon2 working memory kept for the next call;
/// [`release_working_memory`] gives it back.
pub fn verify_password_reusing(password: &[u8], stored: &str) -> Result<Verified, HashError> {
    THREAD_BLOCKS.with_borrow_mut(|kept| password::verify_password_in(password, stored, kept))
}

/// Gives the working memory [`verify_password_reusing`] kept on this thread back to the system (nothing if
/// none).
pub fn release_working_memory() {
    THREAD_BLOCKS.with_borrow_mut(|kept| kept.0 = None);
}

/// Bytes of Argon2 working memory [`verify_password_reusing`] keeps on this thread now.
pub fn kept_working_memory() -> usize {
    THREAD_BLOCKS.with_borrow(|kept| {
        kept.0
            .as_ref()
            .map_or(0, |blocks| blocks.len() * size_of::<Block>())
    })
}

thread_local! {
    /// The Argon2 blocks [`verify_password_reusing`] keeps between calls on this thread.
    static THREAD_BLOCKS: RefCell<KeptBlocks> = const { RefCell::new(KeptBlocks(None)) };
}

/// A thread's kept mapping, if any, grown to the largest hash it verified.
#[derive(Debug)]
struct KeptBlocks(Option<MappedBlocks>);

impl WorkingMemory for KeptBlocks {
    fn blocks(&mut self, count: usize) -> Option<&mut [Block]> {
        if self.0.as_ref().is_none_or(|mapped| mapped.len() < count) {
            // The old mapping goes before the larger one is made.
            self.0 = None;
            self.0 = MappedBlocks::new(count);
        }
        // No mapping to be had: the verify takes the allocator's memory, for itself alone.
        self.0.as_mut()?.as_mut_slice().get_mut(..count)
    }
}

/// `len` Argon2 blocks in an anonymous private mapping of their own.
#[derive(Debug)]
struct MappedBlocks {
    start: NonNull<Block>,
    len: usize,
}

impl MappedBlocks {
    /// Maps `len` blocks (pages are committed as they are first written); `None` for 0 blocks or when the
    /// kernel refuses the mapping.
    #[allow(unsafe_code)]
    fn new(len: usize) -> Option<Self> {
        let bytes = len.checked_mul(size_of::<Block>()).filter(|&b| b > 0)?;
        // SAFETY: a new anonymous private mapping (no file, no fixed address): it aliases nothing, and a failure
        // is reported as MAP_FAILED, checked below.
        let start = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if start == libc::MAP_FAILED {
            return None;
        }
        Some(Self {
            start: NonNull::new(start.cast())?,
            len,
        })
    }

    /// How many blocks.
    fn len(&self) -> usize {
        self.len
    }

    /// The blocks, for one hash at a time.
    #[allow(unsafe_code)]
    fn as_mut_slice(&mut self) -> &mut [Block] {
        // SAFETY: `start` is the start of a live mapping of `len` blocks, readable and writable, page-aligned
        // (more than a Block's alignment), zero-filled by the kernel or written as Blocks since (every bit
        // pattern is a valid Block), and only reachable through `&mut self`, so the slice is the one reference.
        unsafe { std::slice::from_raw_parts_mut(self.start.as_ptr(), self.len) }
    }
}

impl Drop for MappedBlocks {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        let bytes = self.len * size_of::<Block>();
        // SAFETY: exactly the mapping made by `new` (its start and length), unmapped once, here; no slice of it
        // can outlive `self`.
        let _ = unsafe { libc::munmap(self.start.as_ptr().cast(), bytes) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapping_starts_zeroed_holds_what_is_written_and_is_unmapped_on_drop() {
        assert!(MappedBlocks::new(0).is_none());
        let mut blocks = MappedBlocks::new(19_456).expect("maps 19 MiB");
        assert_eq!(blocks.len(), 19_456);
        let zero = Block::default();
        assert!(
            blocks
                .as_mut_slice()
                .iter()
                .all(|b| b.as_ref() == zero.as_ref())
        );
        let mut one = Block::default();
        one.as_mut()[127] = 7;
        blocks.as_mut_slice()[19_455] = one;
        assert_eq!(blocks.as_mut_slice()[19_455].as_ref()[127], 7);
        drop(blocks);
    }

    #[test]
    fn a_thread_keeps_its_memory_between_verifies_until_released() {
        // The Argon2 reference implementation's argon2id PHC string for "password" (m = 64 MiB).
        let stored = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
        assert_eq!(kept_working_memory(), 0);
        assert_eq!(
            verify_password_reusing(b"password", stored),
            Ok(Verified::Match {
                needs_rehash: false
            })
        );
        assert_eq!(kept_working_memory(), 64 << 20);
        assert_eq!(
            verify_password_reusing(b"sassword", stored),
            Ok(Verified::Mismatch)
        );
        assert_eq!(kept_working_memory(), 64 << 20);
        release_working_memory();
        assert_eq!(kept_working_memory(), 0);
    }
}
