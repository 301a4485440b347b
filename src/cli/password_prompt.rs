//! Where `motpd user set-password` gets the new password: on a terminal a hidden prompt, typed twice (nothing
//! echoed, nothing in the shell history); otherwise standard input, as scripts pipe it in.

use std::io::IsTerminal as _;

use anyhow::Context as _;

use super::{CliError, read_stdin_secret};
use crate::secrets::SecretString;

/// The new password for `id`: prompted for when standard input is a terminal and `from_stdin` was not asked for.
pub(super) fn new_password(id: &str, from_stdin: bool) -> anyhow::Result<SecretString> {
    if from_stdin || !std::io::stdin().is_terminal() {
        return read_stdin_secret("password");
    }
    typed_twice(id, |prompt| {
        rpassword::prompt_password(prompt).context("while reading the password from the terminal")
    })
}

/// Asks twice through `ask` and keeps the answer only if both are the same and not empty.
fn typed_twice(
    id: &str,
    mut ask: impl FnMut(&str) -> anyhow::Result<String>,
) -> anyhow::Result<SecretString> {
    let first = SecretString::new(ask(&format!("New password for {id}: "))?);
    if first.expose().is_empty() {
        return Err(CliError::Input("no password typed; nothing changed".into()).into());
    }
    let again = SecretString::new(ask("The same password again: ")?);
    if first.expose() != again.expose() {
        return Err(
            CliError::Input("the two passwords differ; nothing changed, try again".into()).into(),
        );
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn answers(list: &[&str]) -> impl FnMut(&str) -> anyhow::Result<String> {
        let mut list: Vec<String> = list.iter().rev().map(|s| (*s).to_owned()).collect();
        move |_| Ok(list.pop().unwrap_or_default())
    }

    #[test]
    fn the_password_must_be_typed_the_same_twice() {
        let typed = typed_twice("alice", answers(&["Better2024", "Better2024"])).unwrap();
        assert_eq!(typed.expose(), "Better2024");
        let differ = typed_twice("alice", answers(&["Better2024", "Better2025"])).unwrap_err();
        assert!(differ.to_string().contains("differ"), "{differ}");
        let empty = typed_twice("alice", answers(&["", ""])).unwrap_err();
        assert!(empty.to_string().contains("no password"), "{empty}");
    }
}
