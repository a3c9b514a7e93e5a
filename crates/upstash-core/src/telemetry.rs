use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

/// The `Upstash-Telemetry-*` headers sent with each request: which SDK, runtime and platform
/// made it. Nothing else is collected. Disabled by setting `UPSTASH_DISABLE_TELEMETRY` to any
/// non-empty value, or per client.
#[derive(Clone, Debug)]
pub struct Telemetry {
    headers: HeaderMap,
}

impl Telemetry {
    /// Telemetry for an SDK identified as `name@vVERSION` (e.g. `upstash-redis-rs@v0.1.0`),
    /// or `None` when the environment opts out.
    pub fn from_env(sdk: &str) -> Option<Self> {
        if crate::env::optional("UPSTASH_DISABLE_TELEMETRY").is_some() {
            return None;
        }
        Some(Self::new(sdk))
    }

    /// Telemetry for an SDK, ignoring the environment opt-out.
    pub fn new(sdk: &str) -> Self {
        let mut headers = HeaderMap::new();
        let mut put = |name: &'static str, value: &str| {
            if let Ok(v) = HeaderValue::from_str(value) {
                headers.insert(HeaderName::from_static(name), v);
            }
        };
        put("upstash-telemetry-sdk", sdk);
        put("upstash-telemetry-runtime", "rust");
        put("upstash-telemetry-platform", platform());
        Self { headers }
    }

    /// The headers to add to each request.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }
}

fn platform() -> &'static str {
    let set = |name: &str| crate::env::optional(name).is_some();
    if set("VERCEL") {
        "vercel"
    } else if set("AWS_REGION") {
        "aws"
    } else if set("UPSTASH_CONSOLE") {
        "console"
    } else {
        "unknown"
    }
}
