//! The enrollment pages' texts (the strings are in [`crate::texts`]) and the choice of language (`?lang=`,
//! then the language cookie, then `Accept-Language`, then `web.default_language`). Pure.

use crate::config::Language;

/// The language cookie's name.
pub(crate) const LANG_COOKIE: &str = "motpd_lang";

/// The strings of one language, and each language's (defined in the catalogue).
pub(crate) use crate::texts::{WEB_EN as EN, WEB_ZH_TW as ZH_TW, WebTexts as Texts};

/// The texts of `language`.
pub(crate) fn texts(language: Language) -> &'static Texts {
    crate::texts::web(language)
}

/// A language code as used in `?lang=` and the cookie.
pub(crate) fn parse_code(code: &str) -> Option<Language> {
    match code.trim().to_ascii_lowercase().as_str() {
        "en" => Some(Language::En),
        "zh-tw" | "zh" => Some(Language::ZhTw),
        _ => None,
    }
}

/// The preferred supported language of an `Accept-Language` header (Chinese of any script shows zh-TW).
pub(crate) fn from_accept_language(header: &str) -> Option<Language> {
    let mut best: Option<(u32, Language)> = None;
    for entry in header.split(',') {
        let mut parts = entry.split(';');
        let tag = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let quality = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        // Thousandths, so the comparison is on integers.
        let quality = (quality.clamp(0.0, 1.0) * 1000.0) as u32;
        let language = match tag.split('-').next() {
            Some("zh") => Language::ZhTw,
            Some("en") => Language::En,
            _ => continue,
        };
        if quality > 0 && best.is_none_or(|(q, _)| quality > q) {
            best = Some((quality, language));
        }
    }
    best.map(|(_, language)| language)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_supported() {
        assert_eq!(from_accept_language("en-US,en;q=0.9"), Some(Language::En));
        assert_eq!(
            from_accept_language("fr, en;q=0.5, zh-TW;q=0.8"),
            Some(Language::ZhTw)
        );
        assert_eq!(from_accept_language("zh-Hant"), Some(Language::ZhTw));
        assert_eq!(from_accept_language("fr, de"), None);
        assert_eq!(from_accept_language("en;q=0"), None);
        assert_eq!(parse_code("zh-TW"), Some(Language::ZhTw));
        assert_eq!(parse_code("EN"), Some(Language::En));
        assert_eq!(parse_code("de"), None);
    }
}
