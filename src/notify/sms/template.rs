//! Filling in the gateway's body template: `{phone}` and `{message}` are replaced in one pass (a message that
//! itself contains `{phone}` is not filled in again), each value escaped for the body type.

use crate::config::SmsBodyType;

/// The template with `{phone}` and `{message}` replaced by the escaped values.
pub fn render_body(template: &str, body_type: SmsBodyType, phone: &str, message: &str) -> String {
    let escape = |value: &str| match body_type {
        SmsBodyType::Form => form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>(),
        SmsBodyType::Json => {
            let quoted = serde_json::Value::String(value.to_owned()).to_string();
            quoted
                .strip_prefix('"')
                .and_then(|q| q.strip_suffix('"'))
                .unwrap_or_default()
                .to_owned()
        }
    };
    let mut out = String::with_capacity(template.len() + message.len() * 3);
    let mut rest = template;
    while let Some(at) = rest.find('{') {
        let (before, from) = rest.split_at(at);
        out.push_str(before);
        if let Some(after) = from.strip_prefix("{phone}") {
            out.push_str(&escape(phone));
            rest = after;
        } else if let Some(after) = from.strip_prefix("{message}") {
            out.push_str(&escape(message));
            rest = after;
        } else {
            out.push('{');
            rest = from.get(1..).unwrap_or_default();
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_are_percent_encoded() {
        let body = render_body(
            "to={phone}&text={message}&x=1",
            SmsBodyType::Form,
            "0912345678",
            "motpd 驗證碼 123456&a=b {phone}",
        );
        assert_eq!(
            body,
            "to=0912345678&text=motpd+%E9%A9%97%E8%AD%89%E7%A2%BC+123456%26a%3Db+%7Bphone%7D&x=1"
        );
    }

    #[test]
    fn json_values_are_escaped_inside_quotes() {
        let body = render_body(
            r#"{"to": "{phone}", "text": "{message}"}"#,
            SmsBodyType::Json,
            "0912345678",
            "line \"1\"\n\\ 驗證碼",
        );
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        assert_eq!(parsed["to"], "0912345678");
        assert_eq!(parsed["text"], "line \"1\"\n\\ 驗證碼");
    }

    #[test]
    fn other_braces_stay() {
        assert_eq!(
            render_body("{a}{phone}{", SmsBodyType::Form, "09", "m"),
            "{a}09{"
        );
    }
}
