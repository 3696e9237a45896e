//! Defaults the wizard derives from the machine: the system's time zone and the household
//! language that goes with it.
//!
//! macOS is the primary platform: `/etc/localtime` is a symlink into
//! `/var/db/timezone/zoneinfo/<Area>/<City>` there and into `/usr/share/zoneinfo/…` on Linux;
//! neither is assumed to exist. Only names the tz database knows are returned.

use std::path::Path;

/// The system's IANA time zone: `$TZ` when it names one, else the target of `/etc/localtime`
/// (the part after `zoneinfo/`, which both macOS and Linux use), else `/etc/timezone` (Debian),
/// else `UTC`.
pub fn timezone() -> String {
    let from_env = std::env::var("TZ").ok();
    let link = std::fs::read_link("/etc/localtime").ok();
    let file = std::fs::read_to_string("/etc/timezone").ok();
    timezone_from(from_env.as_deref(), link.as_deref(), file.as_deref())
}

/// [`timezone`] on given inputs.
pub fn timezone_from(
    env: Option<&str>,
    localtime: Option<&Path>,
    etc_timezone: Option<&str>,
) -> String {
    let known = |tz: &str| crate::config::timezone(tz).is_ok();
    let candidates = [
        // POSIX allows a leading `:` (`TZ=:Europe/Berlin`).
        env.map(|tz| tz.trim().trim_start_matches(':').to_string()),
        localtime.and_then(|p| {
            let p = p.to_string_lossy();
            p.split_once("zoneinfo/").map(|(_, tz)| tz.to_string())
        }),
        etc_timezone.map(|t| t.trim().to_string()),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|tz| known(tz))
        .unwrap_or_else(|| "UTC".to_string())
}

/// The household language for a time zone, as the original installer derived it: German for the
/// German-speaking zones, English otherwise (the taxonomies stacklets seed exist in these two).
pub fn language(timezone: &str) -> &'static str {
    match timezone {
        "Europe/Berlin" | "Europe/Vienna" | "Europe/Zurich" | "Europe/Busingen" => "de",
        _ => "en",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zone_from_env_link_or_file() {
        let mac = Path::new("/var/db/timezone/zoneinfo/Europe/Vienna");
        let linux = Path::new("/usr/share/zoneinfo/America/New_York");
        assert_eq!(
            timezone_from(Some(":Europe/Berlin"), Some(mac), None),
            "Europe/Berlin"
        );
        assert_eq!(timezone_from(None, Some(mac), None), "Europe/Vienna");
        assert_eq!(
            timezone_from(Some("CET-1CEST"), Some(linux), None),
            "America/New_York"
        );
        assert_eq!(
            timezone_from(None, None, Some("Asia/Tokyo\n")),
            "Asia/Tokyo"
        );
        // A link that is not into a zoneinfo tree, and nothing else: UTC.
        assert_eq!(
            timezone_from(None, Some(Path::new("/etc/zone")), None),
            "UTC"
        );
        assert_eq!(timezone_from(Some("Nowhere/Special"), None, None), "UTC");
    }

    #[test]
    fn language_follows_the_time_zone() {
        assert_eq!(language("Europe/Berlin"), "de");
        assert_eq!(language("Europe/Zurich"), "de");
        assert_eq!(language("Europe/Paris"), "en");
        assert_eq!(language("UTC"), "en");
    }
}
