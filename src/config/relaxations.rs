//! The settings by which a site weakens a default of the security model (README, "Security model"): each one
//! is named at start as a warning, so a relaxation is always a visible choice. Pure.

use super::Config;

impl Config {
    /// One sentence per relaxation in force (empty for the defaults).
    pub fn relaxations(&self) -> Vec<String> {
        let mut found = Vec::new();
        if self.radius.detailed_reasons {
            found.push(
                "radius.detailed_reasons = true: a VPN login failure tells its reason before both factors are \
                 verified, so a guessed password or an existing account is confirmed to whoever tries"
                    .to_owned(),
            );
        }
        let beyond = self.web.account_networks_beyond_enroll();
        if !beyond.is_empty() {
            let list: Vec<String> = beyond.iter().map(ToString::to_string).collect();
            found.push(format!(
                "web.account_networks opens account activation and password reset to networks outside \
                 web.enroll_networks: {}",
                list.join(", ")
            ));
        }
        if self.policy.sms_pause_hours_after_reset == 0 {
            found.push(
                "policy.sms_pause_hours_after_reset = 0: SMS at the VPN works right after a password reset"
                    .to_owned(),
            );
        }
        found.extend(super::admin::relaxation(self));
        found.extend(super::admin_web::relaxation(self));
        found
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn defaults_relax_nothing_and_wider_settings_are_named() {
        let mut c = Config::default();
        assert!(c.relaxations().is_empty());
        assert_eq!(c.web.account_networks(), c.web.enroll_networks.as_slice());
        c.web.account_networks_set = Some(Vec::new());
        assert_eq!(c.web.account_networks(), c.web.enroll_networks.as_slice());
        c.web.enroll_networks = vec!["10.0.0.0/8".parse().unwrap()];
        c.web.account_networks_set = Some(vec!["10.1.0.0/16".parse().unwrap()]);
        assert!(c.relaxations().is_empty(), "inside enroll_networks");
        c.web.account_networks_set = Some(vec!["0.0.0.0/0".parse().unwrap()]);
        c.policy.sms_pause_hours_after_reset = 0;
        c.radius.detailed_reasons = true;
        let found = c.relaxations();
        assert_eq!(found.len(), 3);
        assert!(found[0].contains("detailed_reasons"));
        assert!(found[1].contains("0.0.0.0/0"));
    }
}
