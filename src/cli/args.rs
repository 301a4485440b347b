//! The command line: clap types only.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// motpd: RADIUS two-factor login (password + phone app code) for Citrix NetScaler VPN.
#[derive(Debug, Parser)]
#[command(name = "motpd", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    /// Configuration file. Without this option ./motpd.toml is used if it exists, else built-in defaults.
    #[arg(long, global = true, env = "MOTPD_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The exit codes, shown by `--help` and documented in the README.
pub const EXIT_CODES: &str = "Exit codes: 0 ok, 1 unexpected error, 2 usage error, 3 configuration error, \
4 key file error (also: a backup taken under another key), 5 database error, 6 not found, 7 conflict (already \
exists / already bound), 8 invalid input, 9 backup or restore asked of a PostgreSQL database (use pg_dump / \
pg_basebackup), 10 the database is in use (restore while `motpd serve` runs), 11 backup file failed verification, \
12 `config check --reach`: the mail relay or the SMS gateway did not answer, 13 `config check --strict`: a \
warning (e.g. the clock is not synchronised), 14 `user sync`: the directory could not be reached (nothing \
changed), 15 `user sync`: held back by the safety brake (nothing changed; see --force).";

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the RADIUS server (and the enrollment pages).
    Serve,
    /// Write motpd.toml (if absent), create the key file (if absent) and create or migrate the database.
    Init,
    /// RADIUS clients (NetScaler appliances) and their shared secrets.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Authenticator devices bound to accounts.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// The helpdesk console's admins (not staff accounts: a password and a TOTP device of their own).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// E-mail an enrollment link (works from any network) to one account or to every unenrolled one.
    Invite(InviteArgs),
    /// Reports.
    #[command(subcommand)]
    Report(ReportCommand),
    /// The tamper-evident audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Write a verified snapshot of the SQLite database to FILE, also while `motpd serve` runs (PostgreSQL:
    /// prints the pg_dump / pg_basebackup procedure instead). The key file is not in it: back it up apart.
    Backup {
        /// The backup file to write (mode 0600), e.g. /var/backups/motpd/motpd-2026-12-07.db.
        file: PathBuf,
        /// Overwrite FILE if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Replace the SQLite database with the backup FILE, once FILE passed the checks of `backup`; only with
    /// `motpd serve` stopped. The replaced database is kept as <database>.before-restore-<time>.
    Restore {
        /// The backup file, written by `motpd backup`.
        file: PathBuf,
    },
    /// The installation as a whole.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// The master key: create a new key file, rotate to it, and see which keys the database uses.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Print a shell completion script (e.g. `motpd completions bash > /etc/bash_completion.d/motpd`).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (`motpd man | man -l -`), or write one page per command into --dir.
    Man {
        /// Write motpd.1 and a page per command (motpd-user.1, motpd-user-add.1, ...) into this directory.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// `motpd config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check the configuration, the key file, the database (reachable, fully migrated, set up with this key)
    /// and the clock, one line each; changes nothing (no key, database or migration is created). Exit 0 when
    /// nothing failed.
    Check(ConfigCheckArgs),
}

/// `motpd config check` options.
#[derive(Debug, Args)]
pub struct ConfigCheckArgs {
    /// Also connect to the mail relay ([smtp]: EHLO, STARTTLS or TLS, NOOP) and the SMS gateway ([sms] url: one
    /// HEAD request); no mail or SMS is sent. Exit 12 if one does not answer.
    #[arg(long)]
    pub reach: bool,
    /// Treat warnings (an unsynchronised clock, no config file) as failures: exit 13.
    #[arg(long)]
    pub strict: bool,
}

/// `motpd invite ...`
#[derive(Debug, Args)]
pub struct InviteArgs {
    /// The account to invite (it needs an e-mail address).
    #[arg(
        required_unless_present = "all_unenrolled",
        conflicts_with = "all_unenrolled"
    )]
    pub id: Option<String>,
    /// Invite every account without an active device that has an e-mail address and is neither disabled nor
    /// expired (those are listed as skipped). Asks first (or give --yes); see --dry-run.
    #[arg(long)]
    pub all_unenrolled: bool,
    /// With --all-unenrolled: print who would be invited and who skipped, and send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// With --all-unenrolled: do not ask for confirmation (needed without a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Invite even if the account already has an active device (its page says so until `device reset`).
    #[arg(long, conflicts_with = "qr_in_mail")]
    pub force: bool,
    /// Put the QR code in the mail too (inline image): the new token is created now and activates on its first
    /// code on the link's page or its first VPN login, until the link expires. The mail becomes the second
    /// factor: see docs/security.md, "The QR code in the mail".
    #[arg(long)]
    pub qr_in_mail: bool,
    /// Why (a ticket number, who asked): written to each invitation's audit row.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

/// `motpd client ...`
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Add a RADIUS client. The shared secret is read from standard input (--secret-stdin) or generated.
    Add {
        /// A name for the client (appears in logs and the audit trail).
        name: String,
        /// Source address or network the client sends from (10.1.2.3 or 10.1.2.0/24).
        #[arg(long)]
        address: String,
        /// Read the shared secret from standard input instead of generating one.
        #[arg(long)]
        secret_stdin: bool,
        /// Accept requests without Message-Authenticator (old NAS firmware only; weakens BlastRADIUS protection).
        #[arg(long)]
        no_require_message_authenticator: bool,
        /// Override radius.mode for this client.
        #[arg(long, value_enum)]
        mode: Option<ModeArg>,
        /// Why (a ticket number, who asked): written to the audit row.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// Change a client in place: its address, secret (--secret-stdin), Message-Authenticator rule or mode.
    Set {
        /// The client's name.
        name: String,
        /// New source address or network.
        #[arg(long)]
        address: Option<String>,
        /// Read a new shared secret from standard input.
        #[arg(long)]
        secret_stdin: bool,
        /// Whether requests must carry Message-Authenticator (`off`: old NAS firmware only).
        #[arg(long, value_enum)]
        require_message_authenticator: Option<Switch>,
        /// Override radius.mode for this client (`default`: follow radius.mode).
        #[arg(long, value_enum)]
        mode: Option<ClientModeArg>,
        /// Why (a ticket number, who asked): written to the audit row.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// List clients.
    List(ListArgs),
    /// Remove a client.
    Remove {
        /// The client's name.
        name: String,
        /// Why (a ticket number, who asked): written to the audit row.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
}

/// `on` / `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    /// Turn it on.
    On,
    /// Turn it off.
    Off,
}

/// `client set --mode` values: a mode, or the configured default.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ClientModeArg {
    /// Password followed by the code in one field.
    #[value(name = "password+otp")]
    PasswordOtp,
    /// The code alone.
    #[value(name = "otp-only")]
    OtpOnly,
    /// Password, then a challenge for the code.
    Challenge,
    /// Follow radius.mode.
    Default,
}

/// `--mode` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModeArg {
    /// Password followed by the code in one field.
    #[value(name = "password+otp")]
    PasswordOtp,
    /// The code alone.
    #[value(name = "otp-only")]
    OtpOnly,
    /// Password, then a challenge for the code.
    Challenge,
}

/// `--json` for list commands.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `motpd user list` filters.
#[derive(Debug, Args)]
pub struct UserListArgs {
    /// Only accounts in this state, as the STATUS column shows it.
    #[arg(long, value_enum)]
    pub status: Option<ListStatus>,
    /// Only members of this group (case-insensitive).
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
    /// Only accounts past their last day (`expires`, in policy.utc_offset), whatever their status.
    #[arg(long)]
    pub expired: bool,
    /// Only accounts without a bound device.
    #[arg(long)]
    pub unenrolled: bool,
    /// Only accounts whose ID, name or phone number contains this (case-insensitive).
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// An account's state in `user list` (one per account, the first that applies in this order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListStatus {
    /// Locked (failed logins or `motpd user lock`).
    Locked,
    /// Switched off by an admin.
    Disabled,
    /// Past its last day.
    Expired,
    /// No password yet: waiting for activation.
    Pending,
    /// Usable.
    Active,
}

/// Account fields settable on add.
#[derive(Debug, Args)]
pub struct AccountFields {
    /// Display name.
    #[arg(long)]
    pub name: Option<String>,
    /// Mobile number for SMS codes (09xxxxxxxx).
    #[arg(long)]
    pub phone: Option<String>,
    /// E-mail address for invitations.
    #[arg(long)]
    pub email: Option<String>,
    /// Last day the account may log in (vendor accounts), YYYY-MM-DD.
    #[arg(long)]
    pub expires: Option<String>,
    /// Groups sent to NetScaler, comma separated.
    #[arg(long)]
    pub groups: Option<String>,
}

/// `motpd user ...`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account.
    Add {
        /// Account ID (the VPN user name).
        id: String,
        /// Fields.
        #[command(flatten)]
        fields: AccountFields,
        /// Read the initial password from standard input. Without it the account waits for activation.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Create or update accounts from a CSV file (id,name,phone,email,expires,groups[,password_hash][,identity]).
    /// `identity`: the national ID number or birth date the account pages ask for, stored as a keyed hash.
    Import {
        /// The CSV file.
        file: PathBuf,
        /// Import the valid rows even if some rows are invalid.
        #[arg(long)]
        skip_invalid: bool,
        /// Validate only; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Create, update, disable and re-enable accounts from the directory ([ldap]): prints what changes.
    /// Devices are kept. Refuses to disable more than 10 accounts and 10 % of the directory's (or anything
    /// when the search found nothing) unless --force.
    Sync {
        /// Show what would change; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Apply the sync even if the safety brake holds it back.
        #[arg(long)]
        force: bool,
    },
    /// List accounts (all filters together: an account must match each one given).
    List(UserListArgs),
    /// Show one account.
    Show {
        /// Account ID.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change account fields.
    Set {
        /// Account ID.
        id: String,
        /// Fields.
        #[command(flatten)]
        fields: AccountFields,
        /// Enable or disable the account.
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
        /// Whether SMS may replace the app at VPN login for this account (`default`: follow
        /// `sms.allow_vpn_fallback`).
        #[arg(long, value_enum)]
        sms_fallback: Option<SmsFallbackArg>,
        /// Read the identity the account pages ask for (national ID number or birth date YYYY-MM-DD) from
        /// standard input; stored as a keyed hash. An empty line clears it.
        #[arg(long)]
        identity_stdin: bool,
        /// Why (a ticket number, who asked): written to the audit row. Required with --status, --sms-fallback
        /// and --expires.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// Lock the account (refused until unlocked).
    Lock {
        /// Account ID.
        id: String,
        /// Why (a ticket number, who asked): written to the audit row.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// Unlock the account and clear its failure counter.
    Unlock {
        /// Account ID.
        id: String,
        /// Why (a ticket number, who asked): written to the audit row.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// Delete the account and its devices. Asks first (or give --yes).
    Remove {
        /// Account ID.
        id: String,
        /// Do not ask for confirmation (needed without a terminal).
        #[arg(long, short = 'y')]
        yes: bool,
        /// Why (a ticket number, who asked): written to the audit row.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// Print a one-time code (valid 24 hours) that alone lets the person set a new password on
    /// /account/reset (or /account/activate). Only after checking their ID card in person.
    ResetPassword {
        /// Account ID.
        id: String,
        /// Why (a ticket number, who asked): written to the audit row.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// Set a new password: asked for twice, hidden, on a terminal; otherwise read from standard input.
    SetPassword {
        /// Account ID.
        id: String,
        /// Read the password from standard input even on a terminal (implied when standard input is not one).
        #[arg(long)]
        password_stdin: bool,
    },
}

/// `--status` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StatusArg {
    /// Usable.
    Active,
    /// Refused everywhere.
    Disabled,
}

/// `--sms-fallback` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SmsFallbackArg {
    /// Allowed for this account.
    On,
    /// Never for this account.
    Off,
    /// Follow `sms.allow_vpn_fallback`.
    Default,
}

impl SmsFallbackArg {
    /// The stored value (`None`: follow the configuration).
    pub fn stored(self) -> Option<bool> {
        match self {
            Self::On => Some(true),
            Self::Off => Some(false),
            Self::Default => None,
        }
    }
}

/// `--kind` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KindArg {
    /// RFC 6238 time-based (authenticator apps).
    Totp,
    /// RFC 4226 counter-based (hardware tokens).
    Hotp,
    /// Classic Mobile-OTP (md5, 10 s steps, PIN).
    Motp,
}

/// `--algorithm` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AlgorithmArg {
    /// HMAC-SHA1.
    Sha1,
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA512.
    Sha512,
}

/// `motpd admin ...`
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Add a console admin: the password typed twice, then a new TOTP device shown once and confirmed with
    /// its first code.
    Add {
        /// Admin name (letters, digits, '.', '_', '-', '@').
        name: String,
        /// helpdesk (find accounts, unlock, reset devices) or admin (besides: the console's administration).
        #[arg(long, value_enum)]
        role: AdminRoleArg,
        /// Why (a ticket number, who asked): written to the audit row.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// List the console admins.
    List,
    /// Remove a console admin (its sessions end).
    Remove {
        /// Admin name.
        name: String,
        /// Do not ask.
        #[arg(long)]
        yes: bool,
        /// Why (a ticket number, who asked): written to the audit row.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// Give an admin a new TOTP device (lost phone); clears its lock and ends its sessions.
    Reset {
        /// Admin name.
        name: String,
        /// Why (a ticket number, who asked): written to the audit row.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// Refuse an admin's logins and end its sessions, keeping the admin for later.
    Disable {
        /// Admin name.
        name: String,
        /// Why (a ticket number, who asked): written to the audit row.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// Let a disabled admin log in again.
    Enable {
        /// Admin name.
        name: String,
        /// Why (a ticket number, who asked): written to the audit row.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
}

/// A console admin's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AdminRoleArg {
    /// The IT service desk.
    Helpdesk,
    /// The console's administration besides.
    Admin,
}

/// `motpd device ...`
#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Bind a device now: a new seed (printed as otpauth URI and QR code), or a known seed from stdin.
    Enroll {
        /// Account ID.
        id: String,
        /// Import a known seed (base32) read from standard input; for mOTP the first line is the secret, the
        /// second the PIN.
        #[arg(long)]
        secret_stdin: bool,
        /// Token kind of an imported seed.
        #[arg(long, value_enum, default_value = "totp")]
        kind: KindArg,
        /// Digits of an imported seed.
        #[arg(long, default_value_t = 6)]
        digits: u32,
        /// Step seconds of an imported TOTP seed.
        #[arg(long, default_value_t = 30)]
        period: u32,
        /// HMAC of an imported seed.
        #[arg(long, value_enum, default_value = "sha1")]
        algorithm: AlgorithmArg,
        /// HOTP: the counter of the token's next code.
        #[arg(long, default_value_t = 0)]
        counter: u64,
        /// Replace a device that is already bound.
        #[arg(long)]
        replace: bool,
    },
    /// Bind known seeds from a previous OTP system, from a CSV file with a header row
    /// (id,kind,secret[,digits,period,counter,algorithm,pin]); all rows or none.
    Import {
        /// The CSV file. It holds seeds: delete it once imported.
        file: PathBuf,
        /// Replace devices that are already bound (without it such accounts are invalid rows).
        #[arg(long)]
        replace: bool,
        /// Import the valid rows even if some rows are invalid.
        #[arg(long)]
        skip_invalid: bool,
        /// Validate only; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Unbind the account's device (lost or new phone); the next enrollment binds a new one. Asks first (or
    /// give --yes).
    Reset {
        /// Account ID.
        id: String,
        /// Do not ask for confirmation (needed without a terminal).
        #[arg(long, short = 'y')]
        yes: bool,
        /// Why (a ticket number, who asked): written to the audit row.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
}

/// `motpd report ...`
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Accounts that have not bound a device, and the count per group.
    Unenrolled(ReportArgs),
}

/// `motpd report unenrolled` output.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Print JSON instead of a table.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print the CSV file the console's report offers (UTF-8 with a byte order mark, for Excel).
    #[arg(long)]
    pub csv: bool,
}

/// `motpd secrets ...`
#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Create a new key file (mode 0600; never overwrites). Copy it to every node before `secrets rotate`.
    NewKey {
        /// The file to create.
        file: PathBuf,
    },
    /// Re-seal every device seed, mOTP PIN and RADIUS shared secret under the key in --new-key-file, and make
    /// the database name it (one transaction; logins keep working). The file must be listed in this node's
    /// secrets.key_file or secrets.extra_key_files, and copied to every other node first.
    Rotate {
        /// The new key file (from `motpd secrets new-key`).
        #[arg(long, value_name = "FILE")]
        new_key_file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Which key the database uses, and how many sealed values each key id holds (an old key file may be
    /// removed once no value is under it).
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `motpd audit ...`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check every link of the audit chain; reports every break and prints the head to record elsewhere.
    Verify {
        /// A head printed by an earlier verify: the trail must still contain it (nothing before it rewritten).
        #[arg(long, value_name = "HEX")]
        head: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show audit rows, newest first.
    List {
        /// Only rows about this account.
        #[arg(long, value_name = "ID")]
        account: Option<String>,
        /// Only rows by this actor, as the ACTOR column shows it (console:chen, cli:root(uid 0)).
        #[arg(long, value_name = "ACTOR")]
        actor: Option<String>,
        /// Only rows since this local date (YYYY-MM-DD, in policy.utc_offset) or this long ago (30m, 12h, 7d).
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
        /// Only rows up to the end of this local date (YYYY-MM-DD) or before this long ago (30m, 12h, 7d).
        #[arg(long, value_name = "WHEN")]
        until: Option<String>,
        /// Only rows with this outcome (accept, reject, challenge, ok, failed, ...).
        #[arg(long)]
        outcome: Option<String>,
        /// Only rows whose kind starts with this (radius., enroll., account., admin.).
        #[arg(long)]
        kind: Option<String>,
        /// At most this many rows.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Print JSON (one array).
        #[arg(long)]
        json: bool,
    },
}
