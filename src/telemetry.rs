//! Logging: one `tracing` subscriber writing to stderr, as text or JSON, with a default filter that keeps the
//! database driver quiet. `RUST_LOG` overrides the configured level.
//!
//! INFO and DEBUG lines (one per RADIUS decision, thousands per second at a login burst) are collected in a
//! buffer that a background thread writes out every [`FLUSH_INTERVAL`] (or sooner when it fills): one
//! `write` system call per batch of lines instead of one per line on the packet path. WARN and ERROR lines
//! are written at once, after whatever is buffered, so nothing that needs attention waits or is lost in a
//! crash. [`flush`] writes out the rest (at shutdown).
//!
//! Every line's timestamp is in the site's time zone (`policy.utc_offset`) with the offset written out
//! (`2026-12-07T02:25:13.042+08:00`): the same clock the CLI, the pages and the mails show.
//!
//! Text lines carry values sent by anyone (User-Name, NAS-Identifier, form fields): the text format writes every
//! field and message through `escape.rs`, so one event is one line and holds no terminal escape sequence.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::time::OffsetTime;

use crate::config::{LogConfig, LogFormat};

mod escape;

/// The longest an INFO line waits in the buffer.
const FLUSH_INTERVAL: Duration = Duration::from_millis(100);
/// A buffer this full is written out at once.
const FLUSH_AT: usize = 64 * 1024;

/// Replaces the log filter's level on reload (set by [`init`]).
type LevelSetter = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

static SET_LEVEL: OnceLock<LevelSetter> = OnceLock::new();

/// Why the log level could not be changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LevelError {
    /// `RUST_LOG` is set: it wins over `log.level` at start and on reload.
    #[error("RUST_LOG is set and overrides log.level")]
    Overridden,
    /// No subscriber of ours is installed (a test, or `init` never ran).
    #[error("logging is not initialised")]
    NotInitialised,
    /// The level is not a valid filter.
    #[error("log.level {0}")]
    Invalid(String),
}

/// Installs the global subscriber (once; later calls are ignored), its timestamps at `utc_offset`.
pub fn init(config: &LogConfig, utc_offset: time::UtcOffset) {
    let from_env = EnvFilter::try_from_default_env().ok();
    let overridden = from_env.is_some();
    let filter = from_env
        .or_else(|| EnvFilter::try_new(filter_for(&config.level)).ok())
        .unwrap_or_else(|| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(BufferedStderr::shared())
        .with_timer(timer(utc_offset));
    let setter = match config.format {
        LogFormat::Text => {
            let builder = builder
                .fmt_fields(escape::EscapedFields)
                .with_filter_reloading();
            let handle = builder.reload_handle();
            builder
                .try_init()
                .ok()
                .map(|()| level_setter(handle, overridden))
        }
        LogFormat::Json => {
            let builder = builder.json().with_filter_reloading();
            let handle = builder.reload_handle();
            builder
                .try_init()
                .ok()
                .map(|()| level_setter(handle, overridden))
        }
    };
    if let Some(setter) = setter {
        let _ = SET_LEVEL.set(setter);
    }
}

fn level_setter<S: Send + Sync + 'static>(
    handle: tracing_subscriber::reload::Handle<EnvFilter, S>,
    overridden: bool,
) -> LevelSetter {
    Box::new(move |level: &str| {
        if overridden {
            return Err(LevelError::Overridden.to_string());
        }
        let filter = EnvFilter::try_new(filter_for(level)).map_err(|e| e.to_string())?;
        handle.reload(filter).map_err(|e| e.to_string())
    })
}

/// Changes the level of the running log (SIGHUP); `RUST_LOG`, when set, stays in force.
pub fn set_level(level: &str) -> Result<(), LevelError> {
    if std::env::var_os("RUST_LOG").is_some() {
        return Err(LevelError::Overridden);
    }
    let set = SET_LEVEL.get().ok_or(LevelError::NotInitialised)?;
    set(level).map_err(LevelError::Invalid)
}

/// The filter for `log.level`: the database driver stays at warnings.
fn filter_for(level: &str) -> String {
    format!("{level},sqlx=warn")
}

/// Timestamps in the site's offset, to the millisecond.
fn timer(
    offset: time::UtcOffset,
) -> OffsetTime<&'static [time::format_description::BorrowedFormatItem<'static>]> {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3][offset_hour sign:mandatory]:[offset_minute]"
    );
    OffsetTime::new(offset, FORMAT)
}

/// Writes out every buffered line now.
pub fn flush() {
    if let Some(buffer) = BUFFER.get() {
        buffer.flush();
    }
}

static BUFFER: OnceLock<Arc<LineBuffer>> = OnceLock::new();

/// Lines waiting for the background writer.
#[derive(Debug, Default)]
struct LineBuffer {
    lines: Mutex<Vec<u8>>,
    full: Condvar,
    /// No background writer could be started: every line is written at once.
    direct: std::sync::atomic::AtomicBool,
}

impl LineBuffer {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.lines.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Writes out what is buffered (stderr errors cannot be reported anywhere: ignored).
    fn flush(&self) {
        let lines = self.take();
        if !lines.is_empty() {
            let _ = std::io::stderr().lock().write_all(&lines);
        }
    }

    fn push(&self, line: &[u8]) {
        if self.direct.load(std::sync::atomic::Ordering::Relaxed) {
            let _ = std::io::stderr().lock().write_all(line);
            return;
        }
        let mut lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        lines.extend_from_slice(line);
        if lines.len() >= FLUSH_AT {
            self.full.notify_one();
        }
    }

    /// The background writer: every interval, or when the buffer fills.
    fn run(&self) {
        loop {
            let lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
            let (mut lines, _) = self
                .full
                .wait_timeout_while(lines, FLUSH_INTERVAL, |l| l.len() < FLUSH_AT)
                .unwrap_or_else(PoisonError::into_inner);
            let batch = std::mem::take(&mut *lines);
            drop(lines);
            if !batch.is_empty() {
                let _ = std::io::stderr().lock().write_all(&batch);
            }
        }
    }
}

/// The subscriber's writer: buffered below WARN, direct from WARN up.
#[derive(Debug, Clone)]
struct BufferedStderr {
    buffer: Arc<LineBuffer>,
}

impl BufferedStderr {
    fn shared() -> Self {
        let buffer = BUFFER
            .get_or_init(|| {
                let buffer = Arc::new(LineBuffer::default());
                let writer = buffer.clone();
                let started = std::thread::Builder::new()
                    .name("motpd-log".into())
                    .spawn(move || writer.run());
                if started.is_err() {
                    buffer
                        .direct
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                }
                buffer
            })
            .clone();
        Self { buffer }
    }
}

/// One event's writer.
#[derive(Debug)]
enum EventWriter<'a> {
    Buffered(&'a LineBuffer),
    Direct(&'a LineBuffer),
}

impl Write for EventWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Buffered(buffer) => {
                buffer.push(bytes);
                Ok(bytes.len())
            }
            Self::Direct(buffer) => {
                // Keep the order: what is buffered goes first.
                buffer.flush();
                std::io::stderr().lock().write_all(bytes)?;
                Ok(bytes.len())
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BufferedStderr {
    type Writer = EventWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        EventWriter::Direct(&self.buffer)
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        if *meta.level() <= tracing::Level::WARN {
            EventWriter::Direct(&self.buffer)
        } else {
            EventWriter::Buffered(&self.buffer)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn info_lines_wait_in_the_buffer_and_warnings_flush_it() {
        let buffer = LineBuffer::default();
        EventWriter::Buffered(&buffer).write_all(b"one\n").unwrap();
        EventWriter::Buffered(&buffer).write_all(b"two\n").unwrap();
        assert_eq!(*buffer.lines.lock().unwrap(), b"one\ntwo\n");
        EventWriter::Direct(&buffer).write_all(b"warn\n").unwrap();
        assert!(buffer.lines.lock().unwrap().is_empty());
    }

    #[test]
    fn log_timestamps_carry_the_site_offset() {
        use tracing_subscriber::fmt::time::FormatTime;
        let mut line = String::new();
        timer(time::macros::offset!(+8))
            .format_time(&mut tracing_subscriber::fmt::format::Writer::new(&mut line))
            .unwrap();
        assert!(line.ends_with("+08:00"), "{line}");
        assert_eq!(line.len(), "2026-12-07T02:25:13.042+08:00".len(), "{line}");
    }
}
