//! The text log's field formatter: every field value and the message are written with their control characters
//! escaped, so that a value sent by anyone (a User-Name, a NAS-Identifier, a form field) cannot start a forged
//! log line or drive the terminal that shows the log.
//!
//! Escaped: C0 controls, DEL and C1 controls (`\n`, `\r`, `\t`, else `\u{1b}`-style), the line and paragraph
//! separators U+2028/U+2029 and the bidirectional controls (which can make a line read differently from what it
//! holds). Everything else, Chinese names included, is written as is. Field names are the program's own and
//! written as they are. The JSON format escapes on its own and does not use this.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::Writer;

/// `key=value` fields, space-separated, message first as plain text (the layout of the default text
/// formatter), with every value escaped.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct EscapedFields;

impl<'writer> FormatFields<'writer> for EscapedFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = Visitor {
            writer,
            empty: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct Visitor<'writer> {
    writer: Writer<'writer>,
    empty: bool,
    result: fmt::Result,
}

impl Visitor<'_> {
    fn field(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        let name = field.name();
        if self.result.is_err() || name.starts_with("log.") {
            return;
        }
        self.result = self.write(name, value);
    }

    fn write(&mut self, name: &str, value: fmt::Arguments<'_>) -> fmt::Result {
        if !std::mem::take(&mut self.empty) {
            self.writer.write_char(' ')?;
        }
        if name != "message" {
            let name = name.strip_prefix("r#").unwrap_or(name);
            if self.writer.has_ansi_escapes() {
                // Italic name, dimmed "=": the default formatter's look on a terminal.
                write!(self.writer, "\x1b[3m{name}\x1b[0m\x1b[2m=\x1b[0m")?;
            } else {
                write!(self.writer, "{name}=")?;
            }
        }
        Escaper(&mut self.writer).write_fmt(value)
    }
}

impl Visit for Visitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.field(field, format_args!("{value}"));
        } else {
            self.field(field, format_args!("{value:?}"));
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.field(field, format_args!("{}", ErrorChain(value)));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.field(field, format_args!("{value:?}"));
    }
}

/// An error and its sources, joined by ": ".
struct ErrorChain<'a>(&'a (dyn std::error::Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(error) = source {
            write!(f, ": {error}")?;
            source = error.source();
        }
        Ok(())
    }
}

/// Whether `c` is written escaped.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// Passes text through to the inner writer with [`needs_escape`] characters escaped.
struct Escaper<'a, W: fmt::Write>(&'a mut W);

impl<W: fmt::Write> fmt::Write for Escaper<'_, W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut rest = text;
        while let Some((at, c)) = rest.char_indices().find(|&(_, c)| needs_escape(c)) {
            let (clean, tail) = rest.split_at(at);
            self.0.write_str(clean)?;
            match c {
                '\n' => self.0.write_str("\\n")?,
                '\r' => self.0.write_str("\\r")?,
                '\t' => self.0.write_str("\\t")?,
                other => write!(self.0, "{}", other.escape_unicode())?,
            }
            rest = tail.get(c.len_utf8()..).unwrap_or_default();
        }
        self.0.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;

    fn escaped(text: &str) -> String {
        let mut out = String::new();
        Escaper(&mut out).write_str(text).unwrap();
        out
    }

    #[test]
    fn control_characters_are_escaped_and_printable_text_is_kept() {
        assert_eq!(
            escaped("alice\nFAKE accept line\x1b[2J"),
            "alice\\nFAKE accept line\\u{1b}[2J"
        );
        assert_eq!(
            escaped("a\rb\tc\u{7f}d\u{85}e\u{9b}f"),
            "a\\rb\\tc\\u{7f}d\\u{85}e\\u{9b}f"
        );
        assert_eq!(escaped("x\u{2028}y\u{2029}z"), "x\\u{2028}y\\u{2029}z");
        assert_eq!(escaped("\u{202e}gnp.exe"), "\\u{202e}gnp.exe");
        assert_eq!(escaped("陳小美 n0012345 ✓ é"), "陳小美 n0012345 ✓ é");
        assert_eq!(escaped(""), "");
    }

    /// A writer that keeps what the subscriber writes.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Capture {
        type Writer = Self;
        fn make_writer(&'a self) -> Self {
            self.clone()
        }
    }

    fn log_with(ansi: bool, emit: impl FnOnce()) -> String {
        let capture = Capture::default();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(ansi)
            .with_writer(capture.clone())
            .fmt_fields(EscapedFields)
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        String::from_utf8(capture.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn every_field_span_field_and_message_stays_on_its_line() {
        let hostile = "x\nINFO forged: accepted\x1b[2J\u{2028}";
        let log = log_with(false, || {
            let span = tracing::info_span!("radius", user = %hostile, id = 7);
            let _entered = span.enter();
            tracing::info!(
                display = %hostile,
                debug = ?hostile,
                text = hostile,
                name = "陳小美",
                "decided for {hostile}"
            );
        });
        assert_eq!(log.lines().count(), 1, "{log}");
        assert!(log.ends_with('\n'));
        assert!(
            !log.contains('\x1b') && !log.contains('\u{2028}'),
            "{log:?}"
        );
        assert!(
            log.contains("user=x\\nINFO forged: accepted\\u{1b}[2J\\u{2028}"),
            "{log}"
        );
        assert!(log.contains("display=x\\nINFO"), "{log}");
        assert!(log.contains("decided for x\\nINFO"), "{log}");
        assert!(log.contains("name=\"陳小美\""), "{log}");
    }

    #[test]
    fn on_a_terminal_only_the_formatter_writes_escape_sequences() {
        let log = log_with(true, || tracing::warn!(user = %"a\x1b[31mb", "hello"));
        assert!(log.contains("a\\u{1b}[31mb"), "{log:?}");
        assert!(
            log.contains("\x1b[3muser\x1b[0m"),
            "names keep their style: {log:?}"
        );
    }

    #[test]
    fn errors_are_written_with_their_sources() {
        let error = std::io::Error::other("line one\nline two");
        let log = log_with(false, || {
            tracing::error!(
                error = &error as &(dyn std::error::Error + 'static),
                "failed"
            );
        });
        assert_eq!(log.lines().count(), 1, "{log}");
        assert!(log.contains("error=line one\\nline two"), "{log}");
    }
}
