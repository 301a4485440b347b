//! Tests of the configuration: defaults, the shipped example, strictness, and validation messages.

use super::*;

fn key_paths(value: &toml::Value, prefix: &str, out: &mut Vec<String>) {
    if let toml::Value::Table(table) = value {
        for (key, child) in table {
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            out.push(path.clone());
            key_paths(child, &path, out);
        }
    }
}

#[test]
fn defaults_run_on_loopback_with_sqlite_and_validate() {
    let c = Config::default();
    c.validate().unwrap();
    assert!(c.database.url.starts_with("sqlite://"));
    assert!(c.radius.listen.iter().all(|a| a.ip().is_loopback()));
    assert!(c.web.listen.ip().is_loopback());
    assert_eq!(Config::from_toml_str("").unwrap(), c);
}

#[test]
fn example_loads_validates_and_documents_every_key() {
    let example = Config::from_toml_str(EXAMPLE_TOML).unwrap();
    example.validate().unwrap();
    let mut documented = Vec::new();
    key_paths(
        &toml::from_str::<toml::Value>(EXAMPLE_TOML).unwrap(),
        "",
        &mut documented,
    );
    let mut known = Vec::new();
    key_paths(
        &toml::Value::try_from(Config::default()).unwrap(),
        "",
        &mut known,
    );
    for key in known {
        assert!(
            documented.contains(&key),
            "examples/motpd.toml does not document {key}"
        );
    }
    assert_eq!(
        example.policy.enforce_after,
        Some(time::macros::date!(2019 - 10 - 01))
    );
}

#[test]
fn unknown_keys_and_bad_values_name_the_key() {
    let err = Config::from_toml_str("[radius]\nlisen = []\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("lisen"), "{err}");
    let err = Config::from_toml_str("[colour]\n").unwrap_err().to_string();
    assert!(err.contains("colour"), "{err}");
    let err = Config::from_toml_str("[policy]\nenforce_after = \"01/10/2019\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("YYYY-MM-DD") && err.contains("enforce_after"),
        "{err}"
    );
    let err = Config::from_toml_str("[radius]\nmode = \"otp\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("mode"), "{err}");
    let err = Config::from_toml_str("[radius]\nlisten = [\"localhost\"]\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("listen"), "{err}");
}

#[test]
fn validate_reports_every_problem_with_its_key() {
    let mut c = Config::default();
    c.otp.window = 5;
    c.otp.digits = 7;
    c.database.url = "mysql://x".into();
    c.policy.min_password_length = 4;
    c.sms.provider = SmsProvider::Http;
    let Err(ConfigError::Invalid(problems)) = c.validate() else {
        panic!("expected problems");
    };
    let keys: Vec<&str> = problems.iter().map(|p| p.key).collect();
    for key in [
        "otp.window",
        "otp.digits",
        "database.url",
        "policy.min_password_length",
        "sms.url",
    ] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    let text = ConfigError::Invalid(problems).to_string();
    assert!(text.contains("otp.window: 5 steps"), "{text}");
}

#[test]
fn sms_gateway_settings_are_checked() {
    let toml = r#"
        [sms]
        provider = "http"
        url = "https://sms.example.org/send"
        method = "GET"
        body_type = "json"
        body_template = '{"to": {phone}, "text": "{message}"'
        success_match = ""
        retries = 4
        keyword = "sms 1"
        min_interval_seconds = 0
    "#;
    let c = Config::from_toml_str(toml).unwrap();
    let Err(ConfigError::Invalid(problems)) = c.validate() else {
        panic!("expected problems");
    };
    let keys: Vec<&str> = problems.iter().map(|p| p.key).collect();
    for key in [
        "sms.body_type",
        "sms.body_template",
        "sms.success_match",
        "sms.retries",
        "sms.keyword",
        "sms.min_interval_seconds",
    ] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    let good = r#"
        [sms]
        provider = "http"
        url = "https://sms.example.org/send"
        method = "PUT"
        body_type = "json"
        body_template = '{"to": "{phone}", "text": "{message}"}'
        success_match = "ok"
    "#;
    Config::from_toml_str(good).unwrap().validate().unwrap();
    assert!(Config::from_toml_str("[sms]\nmethod = \"DELETE\"").is_err());
}

#[test]
fn load_reports_the_missing_file() {
    let err = Config::load(Path::new("/nonexistent/motpd.toml")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/motpd.toml"));
}

#[test]
fn web_time_outs_and_connection_caps_are_checked() {
    let toml = "[web]\nheader_timeout_seconds = 0\nbody_timeout_seconds = 301\n\
                max_connections_per_address = 2000\nmax_connections = 1000\n";
    let c = Config::from_toml_str(toml).unwrap();
    let Err(ConfigError::Invalid(problems)) = c.validate() else {
        panic!("expected problems");
    };
    let keys: Vec<&str> = problems.iter().map(|p| p.key).collect();
    for key in [
        "web.header_timeout_seconds",
        "web.body_timeout_seconds",
        "web.max_connections_per_address",
    ] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    let good = "[web]\nheader_timeout_seconds = 5\nmax_connections_per_address = 8\n";
    let c = Config::from_toml_str(good).unwrap();
    c.validate().unwrap();
    assert_eq!(c.web.max_connections, 1024);
}
