//! SIGHUP in `motpd serve`: re-reads the configuration file and applies what may change while serving (the
//! log level, Reply-Message language and code and lockout rules, `[sms]`, `[smtp]`) and the RADIUS client
//! table, without dropping a request. A changed key that needs a restart is named in a warning and keeps its
//! running value; a file that does not parse or validate is refused whole and the running configuration stays.

use std::path::Path;

use crate::config::Config;
use crate::server::node::Node;

/// Reloads `file` over `running` into `node`; returns the configuration now in force.
pub(super) async fn reload(file: Option<&Path>, running: &Config, node: &Node) -> Config {
    let Some(file) = file else {
        tracing::info!(
            "SIGHUP: no configuration file (built-in defaults); re-reading the RADIUS client table only"
        );
        node.reload(running).await;
        return running.clone();
    };
    let new = match Config::load(file).and_then(|config| config.validate().map(|()| config)) {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(file = %file.display(), "configuration reload refused; the running configuration stays: {error}");
            return running.clone();
        }
    };
    let plan = running.reload_plan(&new);
    if !plan.restart_needed.is_empty() {
        tracing::warn!(
            keys = %plan.restart_needed.join(", "),
            "configuration reload: these settings changed but take effect only after a restart"
        );
    }
    if running.log.level != plan.apply.log.level
        && let Err(error) = crate::telemetry::set_level(&plan.apply.log.level)
    {
        tracing::warn!(%error, "log.level not changed");
    }
    let before = running.relaxations();
    for relaxation in plan.apply.relaxations() {
        if !before.contains(&relaxation) {
            tracing::warn!("relaxed setting: {relaxation}");
        }
    }
    node.reload(&plan.apply).await;
    tracing::info!(
        file = %file.display(),
        changed = %if plan.changed.is_empty() { "nothing".to_owned() } else { plan.changed.join(", ") },
        "configuration reloaded"
    );
    plan.apply
}
