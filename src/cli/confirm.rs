//! Asking before a destructive or mass action. `--yes` goes ahead; without it a person at a terminal is asked
//! y/N (on standard error, so the output stays clean); without a terminal the command is refused with exit 2,
//! so a script never deletes or mass-mails by default.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use super::CliError;

/// Ok if the action may go ahead: `yes` was given, or the person answered y. `flag_hint` is the command line
/// to suggest for scripts.
pub(super) fn confirm(question: &str, yes: bool, flag_hint: &str) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(CliError::Usage(format!(
            "{question} Nothing was done: confirm with --yes ({flag_hint}), or run it at a terminal to be asked"
        ))
        .into());
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    if matches!(answer.trim().to_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        Err(CliError::Declined.into())
    }
}
