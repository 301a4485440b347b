//! The settings the engine and the web services decide with, and [`LiveSettings`]: the shared handle through
//! which `motpd serve` replaces them on SIGHUP. A request reads the settings once per use with one atomic load;
//! a reload is seen by the next request, never halfway through a field.

use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};

use crate::config::{Config, Language, OtpConfig, PolicyConfig};

/// The settings the engine decides with.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Code rules.
    pub otp: OtpConfig,
    /// Account rules.
    pub policy: PolicyConfig,
    /// Reply-Message language.
    pub language: Language,
    /// Validity of a challenge's State.
    pub challenge_ttl_seconds: i64,
    /// Where users register and activate (in messages).
    pub public_url: String,
    /// `radius.detailed_reasons`: tell why before both factors are verified.
    pub detailed_reasons: bool,
}

impl EngineSettings {
    /// From the configuration.
    pub fn from_config(config: &Config) -> Self {
        Self {
            otp: config.otp.clone(),
            policy: config.policy.clone(),
            language: config.radius.language,
            challenge_ttl_seconds: i64::try_from(config.radius.challenge_ttl_seconds)
                .unwrap_or(120),
            public_url: config.web.public_url.trim_end_matches('/').to_owned(),
            detailed_reasons: config.radius.detailed_reasons,
        }
    }
}

/// Settings shared by every service of a node and replaceable while it runs (SIGHUP). Clones share one value.
#[derive(Debug, Clone)]
pub struct LiveSettings(Arc<ArcSwap<EngineSettings>>);

impl LiveSettings {
    /// A handle holding `settings`.
    pub fn new(settings: EngineSettings) -> Self {
        Self(Arc::new(ArcSwap::from_pointee(settings)))
    }

    /// The settings now.
    pub fn load(&self) -> Guard<Arc<EngineSettings>> {
        self.0.load()
    }

    /// Replaces the settings for every holder of this handle, from their next read on.
    pub fn replace(&self, settings: EngineSettings) {
        self.0.store(Arc::new(settings));
    }
}

impl From<EngineSettings> for LiveSettings {
    fn from(settings: EngineSettings) -> Self {
        Self::new(settings)
    }
}
