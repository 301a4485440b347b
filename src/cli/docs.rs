//! `motpd completions SHELL` and `motpd man`: shell completion scripts and manual pages, generated from the
//! same clap definitions as `--help`, so they never drift from the commands. Need no configuration.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;
use clap::CommandFactory as _;

use super::Cli;

/// Prints the completion script for `shell` to standard output.
pub(super) fn completions(shell: clap_complete::Shell) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut Cli::command(), "motpd", &mut out);
    out.flush().context("while writing the completion script")
}

/// Prints motpd(1) to standard output, or writes it and one page per subcommand into `dir`.
pub(super) fn man(dir: Option<&Path>) -> anyhow::Result<()> {
    let Some(dir) = dir else {
        let mut out = std::io::stdout().lock();
        clap_mangen::Man::new(Cli::command())
            .render(&mut out)
            .context("while writing the manual page")?;
        return out.flush().context("while writing the manual page");
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    clap_mangen::generate_to(Cli::command(), dir)
        .with_context(|| format!("while writing the manual pages into {}", dir.display()))?;
    println!(
        "wrote the manual pages into {} (motpd.1 and one per command)",
        dir.display()
    );
    Ok(())
}
