//! Http nodes. The request is rendered from the node's templates, carries an `Idempotency-Key`,
//! and may only reach public addresses: loopback, private, link-local (cloud metadata), shared,
//! multicast and unspecified addresses are refused — for literal addresses, for every address a
//! name resolves to (checked at connect time, so a name cannot change its answer in between), and
//! again on every redirect — unless they fall inside the configured allow-list.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, LOCATION};
use reqwest::{Method, StatusCode, Url};
use serde_json::{json, Value};

use super::{Call, NodeError};
use crate::definition::template::{render, render_value};
use crate::definition::{AcceptedStatus, Http};

/// Redirects followed before the call fails.
const MAX_REDIRECTS: usize = 10;
/// Largest response body kept as the node's output.
const MAX_RESPONSE_BYTES: usize = 10 * 1024 * 1024;

/// Which addresses http nodes may reach besides public ones.
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    pub allow: Vec<IpNet>,
}

impl AddressPolicy {
    /// Why `ip` may not be called, or `None` when it may.
    pub fn refusal(&self, ip: IpAddr) -> Option<&'static str> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        if self.allow.iter().any(|net| net.contains(&ip)) {
            return None;
        }
        classify(ip)
    }
}

fn classify(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_loopback() {
                Some("loopback")
            } else if v4.is_private() {
                Some("private")
            } else if v4.is_link_local() {
                Some("link-local (cloud metadata)")
            } else if a == 100 && (64..128).contains(&b) {
                Some("shared (carrier-grade NAT)")
            } else if v4.is_unspecified() || a == 0 {
                Some("unspecified")
            } else if v4.is_multicast() || v4.is_broadcast() || a >= 240 {
                Some("multicast or reserved")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if first & 0xfe00 == 0xfc00 {
                Some("private (unique local)")
            } else if first & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if v6.is_multicast() {
                Some("multicast")
            } else {
                None
            }
        }
    }
}

/// Resolves names and refuses the lot when any address it finds is refused.
struct GuardedResolver {
    policy: Arc<AddressPolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some((ip, why)) = found
                .iter()
                .find_map(|a| policy.refusal(a.ip()).map(|why| (a.ip(), why)))
            {
                return Err(Box::new(Refused(format!(
                    "`{host}` resolves to {ip}, a {why} address"
                )))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Refused(String);

pub struct HttpExecutor {
    client: reqwest::Client,
    policy: Arc<AddressPolicy>,
}

impl HttpExecutor {
    pub fn new(policy: AddressPolicy) -> Self {
        let policy = Arc::new(policy);
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver {
                policy: policy.clone(),
            }))
            // Redirects are followed here, so each one is checked.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("Baton/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self { client, policy }
    }

    pub async fn execute(&self, http: &Http, call: &Call<'_>) -> Result<Value, NodeError> {
        let mut scope = json!({"input": call.input, "context": call.context});
        if let Some(Value::Object(extra)) = &call.extra {
            for (name, value) in extra {
                scope[name] = value.clone();
            }
        }
        let method = http.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
        let mut method = Method::from_bytes(method.as_bytes())
            .map_err(|_| NodeError::new("http_request", format!("`{method}` is not a method")))?;
        let url_text = render(http.url.as_deref().unwrap_or_default(), &scope);
        let mut url = Url::parse(&url_text)
            .map_err(|e| NodeError::new("http_request", format!("`{url_text}`: {e}")))?;
        let mut headers = HeaderMap::new();
        for (name, value) in &http.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| NodeError::new("http_request", format!("header `{name}`")))?;
            let value = HeaderValue::from_str(&render(value, &scope)).map_err(|_| {
                NodeError::new("http_request", format!("the value of header `{name}`"))
            })?;
            headers.insert(name, value);
        }
        if let Ok(key) = HeaderValue::from_str(&call.idempotency_key) {
            headers.insert("idempotency-key", key);
        }
        let mut body = match &http.body {
            Some(template) => Some(render_value(template, &scope)),
            None if matches!(method, Method::POST | Method::PUT | Method::PATCH) => {
                Some(call.input.clone())
            }
            None => None,
        };

        for _ in 0..=MAX_REDIRECTS {
            self.check_url(&url)?;
            let mut request = self
                .client
                .request(method.clone(), url.clone())
                .headers(headers.clone());
            if let Some(body) = &body {
                match body {
                    Value::String(text) => request = request.body(text.clone()),
                    other => request = request.json(other),
                }
            }
            let response = request.send().await.map_err(describe)?;
            let status = response.status();
            if status.is_redirection() {
                if let Some(next) = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .and_then(|l| url.join(l).ok())
                {
                    if matches!(
                        status,
                        StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND | StatusCode::SEE_OTHER
                    ) && method != Method::HEAD
                    {
                        method = Method::GET;
                        body = None;
                    }
                    url = next;
                    continue;
                }
            }
            return self.output(http, response).await;
        }
        Err(NodeError::new(
            "http_redirects",
            format!("more than {MAX_REDIRECTS} redirects"),
        ))
    }

    /// Literal addresses never reach the resolver, so they are checked here.
    fn check_url(&self, url: &Url) -> Result<(), NodeError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(NodeError::new(
                "http_request",
                format!("`{}` is neither http nor https", url.scheme()),
            ));
        }
        let ip = match url.host() {
            Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
            Some(url::Host::Domain(_)) => return Ok(()),
            None => {
                return Err(NodeError::new(
                    "http_request",
                    format!("`{url}` has no host"),
                ))
            }
        };
        match self.policy.refusal(ip) {
            Some(why) => Err(NodeError::new(
                "address_refused",
                format!("{ip} is a {why} address; add it to BATON_HTTP_ALLOW to call it"),
            )),
            None => Ok(()),
        }
    }

    async fn output(&self, http: &Http, response: reqwest::Response) -> Result<Value, NodeError> {
        let status = response.status();
        let headers: serde_json::Map<String, Value> = response
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.to_string(), Value::from(v.to_str().ok()?))))
            .collect();
        let is_json = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("json"));
        let mut bytes = Vec::new();
        let mut response = response;
        while let Some(chunk) = response.chunk().await.map_err(describe)? {
            if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(NodeError::new(
                    "http_response",
                    format!("the response is larger than {MAX_RESPONSE_BYTES} bytes"),
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        let body = if is_json {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| lossy(&bytes))
        } else {
            lossy(&bytes)
        };
        let output = json!({"status": status.as_u16(), "headers": headers, "body": body});
        if accepted(&http.accepted_statuses, status.as_u16()) {
            Ok(output)
        } else {
            Err(NodeError::with_detail(
                "http_status",
                format!("the endpoint answered {status}"),
                output,
            ))
        }
    }
}

fn lossy(bytes: &[u8]) -> Value {
    Value::String(String::from_utf8_lossy(bytes).into_owned())
}

/// Whether `status` counts as success: `2xx` when nothing is listed.
pub fn accepted(list: &[AcceptedStatus], status: u16) -> bool {
    if list.is_empty() {
        return (200..300).contains(&status);
    }
    list.iter().any(|a| match a {
        AcceptedStatus::Code(code) => *code == status,
        AcceptedStatus::Class(class) => {
            let class = class.to_ascii_lowercase();
            class.len() == 3
                && class.ends_with("xx")
                && class.as_bytes()[0] == b'0' + (status / 100) as u8
        }
    })
}

/// Says why a request failed, naming a refused address plainly.
fn describe(error: reqwest::Error) -> NodeError {
    let mut source: Option<&dyn std::error::Error> = Some(&error);
    while let Some(e) = source {
        if let Some(refused) = e.downcast_ref::<Refused>() {
            return NodeError::new(
                "address_refused",
                format!("{refused}; add it to BATON_HTTP_ALLOW to call it"),
            );
        }
        source = e.source();
    }
    let code = if error.is_timeout() {
        "timeout"
    } else {
        "http_request"
    };
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(e) = source {
        message.push_str(": ");
        message.push_str(&e.to_string());
        source = e.source();
    }
    NodeError::new(code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_refused_unless_allowed() {
        let policy = AddressPolicy::default();
        for refused in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            let ip: IpAddr = refused.parse().expect("an address");
            assert!(policy.refusal(ip).is_some(), "{refused} must be refused");
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            let ip: IpAddr = public.parse().expect("an address");
            assert_eq!(policy.refusal(ip), None, "{public} is public");
        }
        let allowed = AddressPolicy {
            allow: vec!["127.0.0.0/8".parse().expect("a network")],
        };
        assert_eq!(
            allowed.refusal("127.0.0.1".parse().expect("an address")),
            None
        );
        assert!(allowed
            .refusal("10.0.0.1".parse().expect("an address"))
            .is_some());
    }

    #[test]
    fn accepted_statuses_take_codes_and_classes() {
        assert!(accepted(&[], 204));
        assert!(!accepted(&[], 302));
        let list = [
            AcceptedStatus::Code(404),
            AcceptedStatus::Class("2XX".into()),
        ];
        assert!(accepted(&list, 404) && accepted(&list, 201) && !accepted(&list, 500));
    }
}
