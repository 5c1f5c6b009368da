//! Configuration from flags and environment variables (flags win). Parsed once, at start-up;
//! a value that cannot be understood stops the server with a message naming the variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use engine::store::DatabaseUrl;

/// Baton: workflow orchestration.
#[derive(Debug, Clone, Parser)]
#[command(name = "baton", version, about)]
pub struct Args {
    /// Database to use: sqlite://PATH (created on first start) or postgres://USER:PASS@HOST/DB.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/baton.db")]
    pub database_url: String,

    /// Address to listen on.
    #[arg(long, env = "BATON_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: String,

    /// Folder with the built site (wasm, JS, CSS, static files).
    #[arg(long, env = "BATON_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,

    /// This process's number (0–1023) among processes sharing one database; part of every id it
    /// makes. Random when unset; set distinct numbers when running several processes.
    #[arg(long, env = "BATON_NODE_ID", value_parser = clap::value_parser!(u16).range(0..1024))]
    pub node_id: Option<u16>,

    /// Internal networks http nodes may call, comma-separated (`10.0.0.0/8,127.0.0.1/32`).
    /// Loopback, private, link-local (cloud metadata) and similar addresses are refused otherwise.
    #[arg(long, env = "BATON_HTTP_ALLOW", default_value = "")]
    pub http_allow: String,

    /// How long a process owns work it took; a process that dies holding work leaves it to others
    /// (or to itself after a restart) once this has passed. A duration like `30s` or `2m`.
    #[arg(long, env = "BATON_LEASE", default_value = "30s")]
    pub lease: String,

    /// The first administrator's password, used only when the database has no users yet. When
    /// unset then, a password is generated and printed once.
    #[arg(long, env = "BATON_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,

    /// REST API requests a minute per caller (per user, or per address before signing in), in
    /// bursts of up to a fifth of that; over it, 429.
    #[arg(long, env = "BATON_RATE_LIMIT", default_value_t = 1200)]
    pub rate_limit: u32,

    /// Where people and systems outside reach this server (`https://baton.example.com`), for the
    /// links Baton hands out (callback URLs). Defaults to `http://` + the listening address.
    #[arg(long, env = "BATON_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Load the demo catalog and workflows into an empty database on start (`false` to skip).
    #[arg(long, env = "BATON_DEMO", default_value_t = true, action = clap::ArgAction::Set)]
    pub demo: bool,

    /// The largest package file (`.dgs`) accepted, in MiB. A direct upload (`PUT
    /// /openapi/packages`) takes at most 200 MiB below this; larger files go through the
    /// preloaded upload.
    #[arg(long, env = "BATON_PACKAGE_MAX_MB", default_value_t = 1024)]
    pub package_max_mb: u32,

    /// Log format: `text` for people, `json` for log collectors.
    #[arg(long, env = "BATON_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
}

/// Configuration after every value has been checked.
#[derive(Debug, Clone)]
pub struct Config {
    pub database: DatabaseUrl,
    /// As given, for messages; never logged without [`engine::store::redact`].
    pub database_url: String,
    pub addr: SocketAddr,
    pub site_root: PathBuf,
    pub node_id: u16,
    pub http_allow: Vec<ipnet::IpNet>,
    pub lease: std::time::Duration,
    pub admin_password: Option<String>,
    pub rate_limit: u32,
    /// See [`Args::public_url`]; `None` means "the listening address".
    pub public_url: Option<String>,
    /// See [`Args::demo`].
    pub demo: bool,
    /// See [`Args::package_max_mb`], in bytes.
    pub package_max_bytes: usize,
}

/// A configuration value that cannot be used. The message names the variable (and flag).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("DATABASE_URL (--database-url) is not usable: {0}")]
    DatabaseUrl(#[from] engine::store::DatabaseUrlError),
    #[error("BATON_ADDR (--addr) `{value}` is not a socket address like 127.0.0.1:3000")]
    Addr { value: String },
    #[error(
        "BATON_HTTP_ALLOW (--http-allow) `{value}` is not a network like 10.0.0.0/8 or an address"
    )]
    HttpAllow { value: String },
    #[error("BATON_LEASE (--lease) `{value}` is not a duration of at least one second, like 30s")]
    Lease { value: String },
    #[error("BATON_PUBLIC_URL (--public-url) `{value}` is not an http or https URL")]
    PublicUrl { value: String },
}

impl Config {
    pub fn from_args(args: &Args) -> Result<Self, ConfigError> {
        let database = args.database_url.parse()?;
        let addr = args.addr.trim().parse().map_err(|_| ConfigError::Addr {
            value: args.addr.clone(),
        })?;
        Ok(Self {
            database,
            database_url: args.database_url.clone(),
            addr,
            site_root: args.site_root.clone(),
            node_id: args.node_id.unwrap_or_else(random_node_id),
            http_allow: parse_networks(&args.http_allow)?,
            lease: args
                .lease
                .trim()
                .parse::<engine::definition::Duration>()
                .map(|d| d.as_std())
                .ok()
                .filter(|d| d.as_secs() >= 1)
                .ok_or_else(|| ConfigError::Lease {
                    value: args.lease.clone(),
                })?,
            admin_password: args.admin_password.clone().filter(|p| !p.is_empty()),
            rate_limit: args.rate_limit,
            public_url: match args.public_url.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                    Some(url.trim_end_matches('/').to_string())
                }
                Some(_) => {
                    return Err(ConfigError::PublicUrl {
                        value: args.public_url.clone().unwrap_or_default(),
                    })
                }
            },
            demo: args.demo,
            package_max_bytes: (args.package_max_mb as usize).saturating_mul(1 << 20),
        })
    }

    /// A configuration for tests: the given database, any free loopback port.
    pub fn for_tests(database_url: &str) -> Result<Self, ConfigError> {
        Self::from_args(&Args {
            database_url: database_url.to_string(),
            addr: "127.0.0.1:0".into(),
            site_root: PathBuf::from("target/site"),
            node_id: None,
            http_allow: String::new(),
            lease: "30s".into(),
            admin_password: None,
            rate_limit: 1200,
            public_url: None,
            // Tests count what they create.
            demo: false,
            package_max_mb: 1024,
            log_format: "text".into(),
        })
    }
}

/// `10.0.0.0/8, 192.168.1.7` → networks (a bare address is a network of one).
fn parse_networks(list: &str) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            item.parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| ConfigError::HttpAllow {
                    value: item.to_string(),
                })
        })
        .collect()
}

/// A node number from the process id and the clock: distinct enough for a few processes; set
/// `BATON_NODE_ID` where many share a database.
fn random_node_id() -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    ((std::process::id() ^ nanos.rotate_left(7)) % 1024) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(db: &str, addr: &str) -> Args {
        Args::parse_from(["baton", "--database-url", db, "--addr", addr])
    }

    #[test]
    fn defaults_are_sqlite_on_loopback() {
        let parsed = Args::parse_from(["baton"]);
        // The environment may set these; only check the defaults when it does not.
        if std::env::var_os("DATABASE_URL").is_none() {
            assert_eq!(parsed.database_url, "sqlite://data/baton.db");
        }
        if std::env::var_os("BATON_ADDR").is_none() {
            assert_eq!(parsed.addr, "127.0.0.1:3000");
        }
    }

    #[test]
    fn bad_values_name_their_variable() {
        let err =
            Config::from_args(&args("mysql://x/y", "127.0.0.1:3000")).expect_err("mysql refused");
        assert!(err.to_string().starts_with("DATABASE_URL"), "{err}");
        let err = Config::from_args(&args("sqlite://x.db", "localhost"))
            .expect_err("bad address refused");
        assert!(err.to_string().starts_with("BATON_ADDR"), "{err}");
    }

    #[test]
    fn the_http_allow_list_takes_networks_and_addresses() {
        let nets = parse_networks(" 10.0.0.0/8, 127.0.0.1 ,").expect("valid");
        assert_eq!(nets.len(), 2);
        assert_eq!(nets[1].to_string(), "127.0.0.1/32");
        let err = parse_networks("10.0.0.0/8,intranet").expect_err("a name is refused");
        assert!(err.to_string().starts_with("BATON_HTTP_ALLOW"), "{err}");
    }
}
