//! The kiosk's first-boot file: `kiosk.conf` on the boot partition, the one
//! thing a town's technician edits (on any laptop, it is a FAT partition)
//! before putting the SD card into a board.
//!
//! The format is plain `key = value` lines; `#` starts a comment line, blank
//! lines are ignored, values are taken as written (no quotes needed; spaces
//! inside are kept). Every mistake is refused with the line and a sentence
//! a technician can act on, never a guess: an unknown key (with the known
//! one it most resembles), a key twice, a missing `server`, an address that
//! is not `http(s)://`, a time zone that is not in the IANA database, a
//! rotation other than 0/90/180/270, a Wi-Fi passphrase of the wrong length,
//! a `screen_power` other than `cec` or `blank`.
//!
//! The image reads it at every boot (`kiosk-config`, a binary of this crate)
//! and writes what follows from it under `/run/kiosk` ([`Config::files`]):
//! the root file system is read-only, so nothing is written back into it,
//! and a corrected file takes effect at the next boot. A refused file leaves
//! `/run/kiosk/config-error`, which the player shows on screen.

use std::collections::BTreeMap;
use std::fmt;

/// The largest file accepted: a real one is a few hundred bytes.
pub const MAX_BYTES: usize = 64 * 1024;

/// The settings, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The control server's base address.
    pub server: String,
    /// A display token provisioned by an admin; without one the player shows
    /// its pairing code.
    pub token: Option<String>,
    pub wifi: Option<Wifi>,
    /// IANA time zone; default Europe/Berlin.
    pub timezone: String,
    /// Clockwise rotation of the panel as mounted: 0, 90, 180 or 270.
    pub rotation: u16,
    /// An SSH public key; SSH is off unless one is given.
    pub ssh_key: Option<String>,
    /// How night mode switches the screen off; `None`: the player's default
    /// (blanking, under cage).
    pub screen_power: Option<ScreenPower>,
}

/// `screen_power`: the player's `--screen-power` as the image offers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScreenPower {
    /// HDMI-CEC standby (`cec-ctl`), for TVs and panels that take it.
    Cec,
    /// A black screen, the panel lit.
    Blank,
}

impl ScreenPower {
    pub fn as_str(self) -> &'static str {
        match self {
            ScreenPower::Cec => "cec",
            ScreenPower::Blank => "blank",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wifi {
    pub ssid: String,
    /// `None`: an open network.
    pub psk: Option<String>,
    /// ISO 3166 country for the radio's channels; default DE.
    pub country: String,
}

/// Why the file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// 1-based; `None` for the file as a whole.
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(n) => write!(f, "kiosk.conf, line {n}: {}", self.message),
            None => write!(f, "kiosk.conf: {}", self.message),
        }
    }
}

fn at(line: usize, message: impl Into<String>) -> ConfigError {
    ConfigError {
        line: Some(line),
        message: message.into(),
    }
}

const KEYS: [&str; 9] = [
    "server",
    "token",
    "wifi_ssid",
    "wifi_psk",
    "wifi_country",
    "timezone",
    "rotation",
    "ssh_key",
    "screen_power",
];

impl Config {
    /// Parses and validates the file's bytes.
    pub fn parse(bytes: &[u8]) -> Result<Config, ConfigError> {
        let whole = |m: &str| ConfigError {
            line: None,
            message: m.to_owned(),
        };
        if bytes.len() > MAX_BYTES {
            return Err(whole(&format!(
                "the file is {} bytes; at most {MAX_BYTES} are read (is it the right file?)",
                bytes.len()
            )));
        }
        let text = std::str::from_utf8(bytes).map_err(|e| {
            whole(&format!(
                "not UTF-8 text at byte {} (save it as plain UTF-8 text)",
                e.valid_up_to()
            ))
        })?;
        // A file saved by an editor that adds a byte-order mark.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut values: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(at(n, "expected `key = value`"));
            };
            let (key, value) = (key.trim(), value.trim());
            if !KEYS.contains(&key) {
                let hint = KEYS
                    .iter()
                    .min_by_key(|k| distance(k, key))
                    .filter(|k| distance(k, key) <= 3)
                    .map(|k| format!(" (did you mean `{k}`?)"))
                    .unwrap_or_default();
                return Err(at(n, format!("unknown setting `{key}`{hint}")));
            }
            if value.chars().any(char::is_control) {
                return Err(at(n, format!("`{key}` contains a control character")));
            }
            if let Some((first, _)) = values.insert(key, (n, value)) {
                return Err(at(
                    n,
                    format!("`{key}` is set twice (first on line {first})"),
                ));
            }
        }
        let get = |k: &str| values.get(k).copied().filter(|(_, v)| !v.is_empty());
        let (n, server) = get("server").ok_or_else(|| {
            whole("`server` is missing, e.g. `server = https://signage.example.de`")
        })?;
        let url = reqwest::Url::parse(server)
            .map_err(|e| at(n, format!("`server` is not an address ({e})")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(at(
                n,
                "`server` must start with https:// (or http://) and name a host",
            ));
        }
        let token = match get("token") {
            Some((n, t)) if t.len() < 16 || !t.chars().all(|c| c.is_ascii_graphic()) => {
                return Err(at(
                    n,
                    "`token` is not a display token (copy it whole from the console)",
                ));
            }
            t => t.map(|(_, t)| t.to_owned()),
        };
        let wifi = match (get("wifi_ssid"), get("wifi_psk"), get("wifi_country")) {
            (None, None, None) => None,
            (None, Some((n, _)), _) | (None, _, Some((n, _))) => {
                return Err(at(n, "Wi-Fi settings without `wifi_ssid`"));
            }
            (Some((n, ssid)), psk, country) => {
                if ssid.len() > 32 {
                    return Err(at(n, "`wifi_ssid` is longer than 32 bytes"));
                }
                if let Some((n, p)) = psk {
                    let hex = p.len() == 64 && p.chars().all(|c| c.is_ascii_hexdigit());
                    let ascii = (8..=63).contains(&p.len())
                        && p.chars().all(|c| c.is_ascii() && !c.is_ascii_control());
                    if !hex && !ascii {
                        return Err(at(
                            n,
                            "`wifi_psk` must be 8 to 63 ASCII characters (or 64 hex digits)",
                        ));
                    }
                }
                let country = match country {
                    Some((n, c)) if c.len() != 2 || !c.chars().all(|c| c.is_ascii_uppercase()) => {
                        return Err(at(n, "`wifi_country` must be two capital letters, e.g. DE"));
                    }
                    Some((_, c)) => c.to_owned(),
                    None => "DE".to_owned(),
                };
                Some(Wifi {
                    ssid: ssid.to_owned(),
                    psk: psk.map(|(_, p)| p.to_owned()),
                    country,
                })
            }
        };
        let timezone = match get("timezone") {
            Some((n, tz)) => {
                tz.parse::<chrono_tz::Tz>().map_err(|_| {
                    at(
                        n,
                        format!("`{tz}` is not a time zone; e.g. `timezone = Europe/Berlin`"),
                    )
                })?;
                tz.to_owned()
            }
            None => "Europe/Berlin".to_owned(),
        };
        let rotation = match get("rotation") {
            Some((n, r)) => match r.parse::<u16>() {
                Ok(r @ (0 | 90 | 180 | 270)) => r,
                _ => return Err(at(n, "`rotation` must be 0, 90, 180 or 270")),
            },
            None => 0,
        };
        let ssh_key = match get("ssh_key") {
            Some((n, k)) => {
                let mut parts = k.split_whitespace();
                let kind = parts.next().unwrap_or_default();
                let blob = parts.next().unwrap_or_default();
                let known = matches!(
                    kind,
                    "ssh-ed25519"
                        | "ssh-rsa"
                        | "ecdsa-sha2-nistp256"
                        | "ecdsa-sha2-nistp384"
                        | "ecdsa-sha2-nistp521"
                        | "sk-ssh-ed25519@openssh.com"
                );
                let base64 = blob.len() >= 40
                    && blob
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='));
                if !known || !base64 {
                    return Err(at(
                        n,
                        "`ssh_key` is not an SSH public key (one line as in id_ed25519.pub)",
                    ));
                }
                Some(k.to_owned())
            }
            None => None,
        };
        let screen_power = match get("screen_power") {
            Some((_, "cec")) => Some(ScreenPower::Cec),
            Some((_, "blank")) => Some(ScreenPower::Blank),
            Some((n, other)) => {
                return Err(at(
                    n,
                    format!(
                        "`screen_power` must be `cec` (HDMI-CEC standby) or `blank` (a black screen), not `{other}`"
                    ),
                ));
            }
            None => None,
        };
        Ok(Config {
            server: server.to_owned(),
            token,
            wifi,
            timezone,
            rotation,
            ssh_key,
            screen_power,
        })
    }

    /// What the image needs from the settings, as files relative to
    /// `/run/kiosk`: `player.env` (for the player's unit), `localtime`'s
    /// target in `timezone`, `wpa_supplicant.conf` with Wi-Fi, and
    /// `authorized_keys` when SSH is wanted (its presence turns SSH and its
    /// firewall rule on).
    pub fn files(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        // systemd's EnvironmentFile takes the value after `=` literally.
        let mut env = format!("PLAYER_SERVER={}\nTZ={}\n", self.server, self.timezone);
        // cage turns the output 90 degrees clockwise per `-r`.
        let turns = self.rotation / 90;
        env.push_str(&format!(
            "CAGE_ROTATE={}\n",
            vec!["-r"; turns as usize].join(" ")
        ));
        if let Some(p) = self.screen_power {
            env.push_str(&format!("PLAYER_SCREEN_POWER={}\n", p.as_str()));
        }
        out.push(("player.env", env));
        out.push(("timezone", format!("{}\n", self.timezone)));
        if let Some(w) = &self.wifi {
            let quoted = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
            let key = match &w.psk {
                Some(p) if p.len() == 64 => format!("    psk={p}\n"),
                Some(p) => format!("    psk={}\n", quoted(p)),
                None => "    key_mgmt=NONE\n".to_owned(),
            };
            out.push((
                "wpa_supplicant.conf",
                format!(
                    "country={}\nap_scan=1\nnetwork={{\n    ssid={}\n{key}}}\n",
                    w.country,
                    quoted(&w.ssid)
                ),
            ));
        }
        if let Some(k) = &self.ssh_key {
            out.push(("authorized_keys", format!("{k}\n")));
        }
        out
    }
}

/// Edit distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
# Kaarst, Rathausplatz
server = https://signage.kaarst.de
token = dsp_0123456789abcdef
wifi_ssid = Rathaus Gast
wifi_psk = geheim \"und\" lang
timezone = Europe/Berlin
rotation = 90
screen_power = cec
ssh_key = ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl technik@kaarst
";

    fn err(text: &str) -> String {
        Config::parse(text.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn a_complete_file_gives_every_setting_and_its_files() {
        let c = Config::parse(GOOD.as_bytes()).unwrap();
        assert_eq!(c.server, "https://signage.kaarst.de");
        assert_eq!(c.rotation, 90);
        let wifi = c.wifi.clone().unwrap();
        assert_eq!(wifi.ssid, "Rathaus Gast");
        assert_eq!(wifi.country, "DE");
        let files: BTreeMap<_, _> = c.files().into_iter().collect();
        assert_eq!(
            files["player.env"],
            "PLAYER_SERVER=https://signage.kaarst.de\nTZ=Europe/Berlin\nCAGE_ROTATE=-r\nPLAYER_SCREEN_POWER=cec\n"
        );
        assert_eq!(c.screen_power, Some(ScreenPower::Cec));
        assert!(files["wpa_supplicant.conf"].contains("ssid=\"Rathaus Gast\""));
        assert!(files["wpa_supplicant.conf"].contains("psk=\"geheim \\\"und\\\" lang\""));
        assert!(files["authorized_keys"].starts_with("ssh-ed25519 "));
        // Windows line ends, a byte-order mark, no Wi-Fi, no SSH.
        let c = Config::parse("\u{feff}server = http://10.0.0.5:8080\r\n".as_bytes()).unwrap();
        assert_eq!(c.timezone, "Europe/Berlin");
        assert_eq!(c.screen_power, None);
        let files: BTreeMap<_, _> = c.files().into_iter().collect();
        assert!(!files["player.env"].contains("PLAYER_SCREEN_POWER"));
        let names: Vec<_> = files.keys().copied().collect();
        assert_eq!(names, ["player.env", "timezone"]);
        let c = Config::parse(b"server = http://a.de\nscreen_power = blank\n").unwrap();
        assert_eq!(c.screen_power, Some(ScreenPower::Blank));
        assert!(c.files()[0].1.ends_with("PLAYER_SCREEN_POWER=blank\n"));
    }

    #[test]
    fn every_mistake_names_its_line_and_what_to_do() {
        assert_eq!(
            err("sever = https://a.de\n"),
            "kiosk.conf, line 1: unknown setting `sever` (did you mean `server`?)"
        );
        assert_eq!(
            err("# nothing\n"),
            "kiosk.conf: `server` is missing, e.g. `server = https://signage.example.de`"
        );
        assert!(
            err("server = https://a.de\nserver = https://b.de\n")
                .contains("line 2: `server` is set twice (first on line 1)")
        );
        assert!(err("server = ftp://a.de\n").contains("must start with https://"));
        assert!(err("server = signage.kaarst.de\n").contains("line 1: `server` is not an address"));
        assert!(
            err("server = https://a.de\ntimezone = Europe/Kaarst\n")
                .contains("line 2: `Europe/Kaarst` is not a time zone")
        );
        assert!(err("server = https://a.de\nrotation = 45\n").contains("0, 90, 180 or 270"));
        assert!(
            err("server = https://a.de\nwifi_ssid = x\nwifi_psk = kurz\n")
                .contains("line 3: `wifi_psk` must be 8 to 63")
        );
        assert!(
            err("server = https://a.de\nwifi_psk = geheim123\n").contains("without `wifi_ssid`")
        );
        assert!(
            err("server = https://a.de\nwifi_ssid = x\nwifi_country = de\n")
                .contains("two capital letters")
        );
        assert!(err("server = https://a.de\nssh_key = hallo\n").contains("not an SSH public key"));
        assert!(err("server = https://a.de\ntoken = abc\n").contains("not a display token"));
        assert!(err("just some words\n").contains("line 1: expected `key = value`"));
        assert!(err("server = https://a.de\u{7}\n").contains("control character"));
        assert_eq!(
            err("server = https://a.de\nscreen_power = dpms\n"),
            "kiosk.conf, line 2: `screen_power` must be `cec` (HDMI-CEC standby) or `blank` (a black screen), not `dpms`"
        );
        assert_eq!(
            err("server = https://a.de\nscreen_powr = cec\n"),
            "kiosk.conf, line 2: unknown setting `screen_powr` (did you mean `screen_power`?)"
        );
    }

    #[test]
    fn garbage_and_oversize_files_are_refused_whole() {
        assert!(err(&"#".repeat(MAX_BYTES + 1)).starts_with("kiosk.conf: the file is"));
        let e = Config::parse(&[0x73, 0x65, 0xff, 0xfe, 0x00]).unwrap_err();
        assert_eq!(e.line, None);
        assert!(e.message.contains("not UTF-8"));
    }

    #[test]
    fn the_edit_distance_counts_single_changes() {
        assert_eq!(distance("server", "sever"), 1);
        assert_eq!(distance("rotation", "rotaton"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
