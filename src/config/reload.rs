//! What a configuration reload (SIGHUP) may change while `motpd serve` runs, and what needs a restart. Pure:
//! given the running and the newly read configuration, [`Config::reload_plan`] says which configuration to
//! apply (the new values of the reloadable keys, the running values of every other key) and names each changed
//! key that waits for a restart.

use toml::Value;

use super::Config;

/// Keys (or whole sections) a running node applies on reload. Everything else (listeners, the database, the
/// key file, the web pages' settings, the log format, the site's time zone, how new devices are made) keeps
/// its running value until a restart.
pub const RELOADABLE: &[&str] = &[
    "log.level",
    "radius.language",
    "radius.detailed_reasons",
    "radius.challenge_ttl_seconds",
    "otp.window",
    "otp.reuse_seconds",
    "otp.hotp_look_ahead",
    "otp.motp_tolerance_seconds",
    "policy.enforce_after",
    "policy.lockout_failures",
    "policy.lockout_minutes",
    "policy.sms_pause_hours_after_reset",
    "sms",
    "smtp",
    // The keyring re-reads the listed files by itself when it meets a key id it lacks.
    "secrets.extra_key_files",
];

/// The outcome of comparing the running configuration with a newly read one.
#[derive(Debug, Clone, PartialEq)]
pub struct ReloadPlan {
    /// The configuration to run with from now on.
    pub apply: Config,
    /// Reloadable keys whose value changed (dotted), in file order.
    pub changed: Vec<String>,
    /// Changed keys that keep their running value until a restart (dotted).
    pub restart_needed: Vec<String>,
}

impl Config {
    /// What reloading `new` over `self` (the running configuration) does.
    pub fn reload_plan(&self, new: &Config) -> ReloadPlan {
        let (Ok(running), Ok(new_value)) = (Value::try_from(self), Value::try_from(new)) else {
            // Unreachable for these types; refusing every change is the safe answer.
            return ReloadPlan {
                apply: self.clone(),
                changed: Vec::new(),
                restart_needed: vec!["(configuration could not be compared)".into()],
            };
        };
        let mut differing = Vec::new();
        diff("", &running, &new_value, &mut differing);
        let (changed, restart_needed): (Vec<String>, Vec<String>) =
            differing.into_iter().partition(|key| reloadable(key));
        let mut apply = self.clone();
        apply.log.level.clone_from(&new.log.level);
        apply.radius.language = new.radius.language;
        apply.radius.detailed_reasons = new.radius.detailed_reasons;
        apply.radius.challenge_ttl_seconds = new.radius.challenge_ttl_seconds;
        apply.otp.window = new.otp.window;
        apply.otp.reuse_seconds = new.otp.reuse_seconds;
        apply.otp.hotp_look_ahead = new.otp.hotp_look_ahead;
        apply.otp.motp_tolerance_seconds = new.otp.motp_tolerance_seconds;
        apply.policy.enforce_after = new.policy.enforce_after;
        apply.policy.lockout_failures = new.policy.lockout_failures;
        apply.policy.lockout_minutes = new.policy.lockout_minutes;
        apply.policy.sms_pause_hours_after_reset = new.policy.sms_pause_hours_after_reset;
        apply.sms = new.sms.clone();
        apply.smtp = new.smtp.clone();
        apply
            .secrets
            .extra_key_files
            .clone_from(&new.secrets.extra_key_files);
        ReloadPlan {
            apply,
            changed,
            restart_needed,
        }
    }
}

fn reloadable(key: &str) -> bool {
    RELOADABLE.iter().any(|r| {
        key == *r
            || key
                .strip_prefix(r)
                .is_some_and(|rest| rest.starts_with('.'))
    })
}

/// Collects the dotted keys whose values differ (a key present on one side only counts as differing).
fn diff(prefix: &str, old: &Value, new: &Value, out: &mut Vec<String>) {
    match (old, new) {
        (Value::Table(a), Value::Table(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.dedup();
            let mut seen = std::collections::BTreeSet::new();
            for key in keys {
                if !seen.insert(key) {
                    continue;
                }
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => diff(&path, x, y, out),
                    _ => out.push(path),
                }
            }
        }
        _ if old != new => out.push(prefix.to_owned()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> Config {
        Config::from_toml_str(crate::config::EXAMPLE_TOML).expect("example parses")
    }

    #[test]
    fn an_unchanged_file_changes_nothing() {
        let running = example();
        let plan = running.reload_plan(&running.clone());
        assert_eq!(plan.apply, running);
        assert!(plan.changed.is_empty() && plan.restart_needed.is_empty());
    }

    #[test]
    fn reloadable_keys_apply_and_the_others_wait_for_a_restart() {
        let running = example();
        let mut new = running.clone();
        new.log.level = "debug".into();
        new.radius.language = crate::config::Language::En;
        new.policy.lockout_failures += 3;
        new.sms.min_interval_seconds += 10;
        new.database.url = "sqlite://elsewhere.db".into();
        new.radius.listen = vec!["127.0.0.1:11812".parse().expect("address")];
        new.policy.utc_offset = time::UtcOffset::UTC;
        new.otp.digits = 8;
        let plan = running.reload_plan(&new);
        assert_eq!(plan.apply.log.level, "debug");
        assert_eq!(plan.apply.radius.language, crate::config::Language::En);
        assert_eq!(
            plan.apply.policy.lockout_failures,
            new.policy.lockout_failures
        );
        assert_eq!(plan.apply.sms, new.sms);
        assert_eq!(plan.apply.database, running.database);
        assert_eq!(plan.apply.radius.listen, running.radius.listen);
        assert_eq!(plan.apply.policy.utc_offset, running.policy.utc_offset);
        assert_eq!(plan.apply.otp.digits, running.otp.digits);
        let mut changed = plan.changed.clone();
        changed.sort();
        assert_eq!(
            changed,
            [
                "log.level",
                "policy.lockout_failures",
                "radius.language",
                "sms.min_interval_seconds"
            ]
        );
        let mut restart = plan.restart_needed.clone();
        restart.sort();
        assert_eq!(
            restart,
            [
                "database.url",
                "otp.digits",
                "policy.utc_offset",
                "radius.listen"
            ]
        );
    }

    #[test]
    fn every_reloadable_key_is_applied() {
        // A key listed as reloadable but not copied into `apply` would be reported as changed and then ignored.
        let running = example();
        let mut new = running.clone();
        new.log.level = "warn".into();
        new.radius.language = crate::config::Language::En;
        new.radius.detailed_reasons = !running.radius.detailed_reasons;
        new.radius.challenge_ttl_seconds += 1;
        new.otp.window += 1;
        new.otp.reuse_seconds += 1;
        new.otp.hotp_look_ahead += 1;
        new.otp.motp_tolerance_seconds += 1;
        new.policy.enforce_after = Some(time::macros::date!(2030 - 01 - 01));
        new.policy.lockout_failures += 1;
        new.policy.lockout_minutes += 1;
        new.policy.sms_pause_hours_after_reset += 1;
        new.sms.keyword = "OTHER".into();
        new.smtp.port += 1;
        new.secrets.extra_key_files = vec!["next.key".into()];
        let plan = running.reload_plan(&new);
        assert_eq!(plan.apply, new);
        assert!(plan.restart_needed.is_empty(), "{:?}", plan.restart_needed);
        assert_eq!(plan.changed.len(), RELOADABLE.len());
    }
}
