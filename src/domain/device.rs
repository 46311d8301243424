//! A short, human label for the device behind a User-Agent ("Chrome on macOS"),
//! for the code email and a user's list of devices. It never repeats the raw
//! header: only names from the fixed lists below can come out, so a crafted
//! User-Agent cannot put its own words in front of the user.

/// What a User-Agent says about the device, from fixed vocabularies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Device {
    /// "Chrome", "Safari", "Firefox", "Edge", "Opera", "Samsung Internet", "Allmine app".
    pub browser: Option<&'static str>,
    /// "iPhone", "iPad", "Android", "Windows", "macOS", "ChromeOS", "Linux".
    pub os: Option<&'static str>,
}

/// The label when nothing in the User-Agent is recognised.
pub const UNKNOWN_DEVICE: &str = "an unknown device";

/// "Chrome on macOS", "Safari on iPhone", "Allmine app on Android", "Firefox"
/// (no known system), "Windows" (no known browser) or "an unknown device".
pub fn device_label(user_agent: &str) -> String {
    describe(user_agent).label("{browser} on {os}", UNKNOWN_DEVICE)
}

/// The label of a device this service recognises, or none: what a session
/// keeps, so that a list of sessions can word the unknown its own way.
pub fn known_label(user_agent: &str) -> Option<String> {
    let device = describe(user_agent);
    (device != Device::default()).then(|| device.label("{browser} on {os}", UNKNOWN_DEVICE))
}

/// Reads the browser and the operating system out of a User-Agent.
pub fn describe(user_agent: &str) -> Device {
    Device {
        browser: browser(user_agent),
        os: os(user_agent),
    }
}

impl Device {
    /// The label in a language's words: `both` with `{browser}` and `{os}` in
    /// it when both are known, the one known name alone, else `unknown`.
    pub fn label(&self, both: &str, unknown: &str) -> String {
        match (self.browser, self.os) {
            (Some(browser), Some(os)) => both.replace("{browser}", browser).replace("{os}", os),
            (Some(name), None) | (None, Some(name)) => name.to_string(),
            (None, None) => unknown.to_string(),
        }
    }
}

fn browser(ua: &str) -> Option<&'static str> {
    // Order matters: Edge, Opera and Samsung Internet also say "Chrome", and
    // every Chromium browser also says "Safari". The app's own clients send
    // `Allmine/<version>`.
    const BROWSERS: [(&str, &str); 10] = [
        ("Allmine/", "Allmine app"),
        ("Edg/", "Edge"),
        ("EdgA/", "Edge"),
        ("EdgiOS/", "Edge"),
        ("OPR/", "Opera"),
        ("SamsungBrowser/", "Samsung Internet"),
        ("Firefox/", "Firefox"),
        ("FxiOS/", "Firefox"),
        ("CriOS/", "Chrome"),
        ("Chrome/", "Chrome"),
    ];
    if let Some((_, name)) = BROWSERS.iter().find(|(token, _)| ua.contains(token)) {
        return Some(name);
    }
    // Safari says "Version/x Safari/y"; an in-app web view says neither.
    (ua.contains("Safari/") && ua.contains("Version/")).then_some("Safari")
}

fn os(ua: &str) -> Option<&'static str> {
    // iPhones and iPads also say "like Mac OS X"; Android also says "Linux".
    const SYSTEMS: [(&str, &str); 8] = [
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Android", "Android"),
        ("Windows", "Windows"),
        ("CrOS", "ChromeOS"),
        ("Macintosh", "macOS"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ];
    SYSTEMS
        .iter()
        .find(|(token, _)| ua.contains(token))
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
    const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
    const FIREFOX_WINDOWS: &str =
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0";
    const EDGE_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51";
    const CHROME_ANDROID: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36";
    const CHROME_IPAD: &str = "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1";
    const SAFARI_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15";
    const FIREFOX_LINUX: &str =
        "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0";
    const APP_ANDROID: &str = "Allmine/2.3.1 (Android 14; Pixel 8) okhttp/4.12.0";
    const APP_IPHONE: &str = "Allmine/2.3.1 (iPhone; iOS 17.4) CFNetwork/1494.0.7 Darwin/23.4.0";

    #[test]
    fn common_browsers_are_named_with_their_system() {
        for (ua, label) in [
            (CHROME_MAC, "Chrome on macOS"),
            (SAFARI_IPHONE, "Safari on iPhone"),
            (FIREFOX_WINDOWS, "Firefox on Windows"),
            (EDGE_WINDOWS, "Edge on Windows"),
            (CHROME_ANDROID, "Chrome on Android"),
            (CHROME_IPAD, "Chrome on iPad"),
            (SAFARI_MAC, "Safari on macOS"),
            (FIREFOX_LINUX, "Firefox on Linux"),
            (APP_ANDROID, "Allmine app on Android"),
            (APP_IPHONE, "Allmine app on iPhone"),
        ] {
            assert_eq!(device_label(ua), label, "{ua}");
        }
    }

    #[test]
    fn what_is_not_recognised_is_left_out_never_echoed() {
        assert_eq!(device_label(""), UNKNOWN_DEVICE);
        assert_eq!(device_label("curl/8.5.0"), UNKNOWN_DEVICE);
        assert_eq!(device_label("<script>alert(1)</script>"), UNKNOWN_DEVICE);
        assert_eq!(device_label("okhttp/4.12.0 (Android 14)"), "Android");
        assert_eq!(device_label("Firefox/125.0 <b>me</b>"), "Firefox");
        // A web view on iOS: no "Version/", so not called Safari.
        assert_eq!(
            device_label("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"),
            "iPhone"
        );
    }

    #[test]
    fn a_session_keeps_a_label_only_for_what_is_recognised() {
        assert_eq!(known_label(CHROME_MAC).as_deref(), Some("Chrome on macOS"));
        assert_eq!(
            known_label("okhttp/4.12.0 (Android 14)").as_deref(),
            Some("Android")
        );
        assert_eq!(known_label("curl/8.5.0"), None);
        assert_eq!(known_label(""), None);
    }

    #[test]
    fn another_language_words_the_label_its_own_way() {
        let device = describe(CHROME_MAC);
        assert_eq!(
            device.label("{os} üzerinde {browser}", "?"),
            "macOS üzerinde Chrome"
        );
        assert_eq!(
            describe("").label("{browser} on {os}", "bilinmeyen"),
            "bilinmeyen"
        );
    }
}
