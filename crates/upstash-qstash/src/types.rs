//! Response (and wire) types of the management API. Every type is `Serialize` and
//! `Deserialize` with QStash's camelCase names, so a server can reuse them; unknown fields are
//! ignored and unknown enum values kept.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize};

/// Header maps as QStash returns them: canonical name to values.
pub type HeaderValues = BTreeMap<String, Vec<String>>;

/// Accepts `{name: [values]}` and `{name: value}` (the docs show both).
fn header_values<'de, D: Deserializer<'de>>(d: D) -> Result<Option<HeaderValues>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    let raw: Option<BTreeMap<String, OneOrMany>> = Option::deserialize(d)?;
    Ok(raw.map(|m| {
        m.into_iter()
            .map(|(k, v)| match v {
                OneOrMany::One(s) => (k, vec![s]),
                OneOrMany::Many(v) => (k, v),
            })
            .collect()
    }))
}

/// Converts unix milliseconds to a `SystemTime`.
pub fn millis_to_time(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

fn decode_body(text: &Option<String>, base64: &Option<String>) -> Option<Vec<u8>> {
    if let Some(t) = text {
        return Some(t.as_bytes().to_vec());
    }
    base64.as_ref().and_then(|b| {
        base64::engine::general_purpose::STANDARD
            .decode(b)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(b))
            .ok()
    })
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal $(| $alias:literal)*,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(from = "String", into = "String")]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A value this version does not know, as sent.
            Other(String),
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                match s.as_str() {
                    $($text $(| $alias)* => Self::$variant,)*
                    _ => Self::Other(s),
                }
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.as_str().to_owned()
            }
        }

        impl $name {
            /// The wire text.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)*
                    Self::Other(s) => s,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// The state of a message in the logs.
    MessageState {
        /// Accepted.
        Created = "CREATED",
        /// Being delivered.
        Active = "ACTIVE",
        /// Delivered (2xx).
        Delivered = "DELIVERED",
        /// An attempt failed.
        Error = "ERROR",
        /// Waiting for the next attempt.
        Retry = "RETRY",
        /// All attempts failed; in the DLQ.
        Failed = "FAILED",
        /// Cancellation requested.
        CancelRequested = "CANCEL_REQUESTED",
        /// Cancelled.
        Cancelled = "CANCELLED" | "CANCELED",
        /// Filter alias for ACTIVE, RETRY or ERROR.
        InProgress = "IN_PROGRESS",
    }
}

string_enum! {
    /// Outcome of one firing of a schedule.
    ScheduleState {
        /// Still being delivered.
        InProgress = "IN_PROGRESS",
        /// Delivered.
        Success = "SUCCESS",
        /// Failed.
        Fail = "FAIL",
    }
}

/// A message as `GET /v2/messages/{id}` returns it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Message {
    /// Message id.
    pub message_id: String,
    /// Destination URL.
    #[serde(default)]
    pub url: String,
    /// URL group, for fan-out messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_name: Option<String>,
    /// Endpoint name within the URL group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_name: Option<String>,
    /// Delivery method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Headers sent to the destination.
    #[serde(
        default,
        deserialize_with = "header_values",
        skip_serializing_if = "Option::is_none"
    )]
    pub header: Option<HeaderValues>,
    /// Body, when it is UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Body, base64, when it is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    /// Retries allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
    /// Earliest delivery, unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<u64>,
    /// Creation time, unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<u64>,
    /// Callback URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
    /// Failure callback URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_callback: Option<String>,
    /// Queue, for enqueued messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_name: Option<String>,
    /// Schedule that created the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_id: Option<String>,
    /// Publisher IP as sent in `callerIP`; [`Message::caller_ip`] also reads `callerIp`.
    #[serde(default, rename = "callerIP", skip_serializing_if = "Option::is_none")]
    pub caller_ip: Option<String>,
    /// `callerIp`: servers may send both spellings, so this is a field of its own (an
    /// alias would make the pair a duplicate-field error).
    #[serde(default, rename = "callerIp", skip_serializing_if = "Option::is_none")]
    caller_ip_lower: Option<String>,
    /// Retry delay expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_delay_expression: Option<String>,
    /// Flow-control key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_control_key: Option<String>,
    /// Flow-control parallelism.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<u32>,
    /// Flow-control rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<u32>,
    /// Flow-control period, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<u64>,
    /// First label (deprecated by QStash; see `labels`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// All labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
}

impl Message {
    /// The body bytes, from `body` or `bodyBase64`.
    pub fn body_bytes(&self) -> Option<Vec<u8>> {
        decode_body(&self.body, &self.body_base64)
    }

    /// Publisher IP from `callerIP` or, when absent, `callerIp`.
    pub fn caller_ip(&self) -> Option<&str> {
        self.caller_ip
            .as_deref()
            .or(self.caller_ip_lower.as_deref())
    }
}

/// A message in the dead-letter queue.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DlqMessage {
    /// The message as it was published.
    #[serde(flatten)]
    pub message: Message,
    /// DLQ entry id.
    pub dlq_id: String,
    /// Status of the last delivery attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_status: Option<u16>,
    /// Headers of the last response.
    #[serde(
        default,
        deserialize_with = "header_values",
        skip_serializing_if = "Option::is_none"
    )]
    pub response_header: Option<HeaderValues>,
    /// Body of the last response, when UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_body: Option<String>,
    /// Body of the last response, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_body_base64: Option<String>,
}

impl DlqMessage {
    /// The last response body bytes.
    pub fn response_body_bytes(&self) -> Option<Vec<u8>> {
        decode_body(&self.response_body, &self.response_body_base64)
    }
}

/// A page of DLQ messages.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DlqPage {
    /// The messages.
    #[serde(default)]
    pub messages: Vec<DlqMessage>,
    /// Cursor of the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// A schedule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Schedule {
    /// Schedule id (`scd_...`).
    pub schedule_id: String,
    /// Cron expression (5 fields, optional `CRON_TZ=` prefix).
    #[serde(default)]
    pub cron: String,
    /// URL or URL-group name.
    #[serde(default)]
    pub destination: String,
    /// Delivery method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Headers sent with each message.
    #[serde(
        default,
        deserialize_with = "header_values",
        skip_serializing_if = "Option::is_none"
    )]
    pub header: Option<HeaderValues>,
    /// Body, when UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Body, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    /// Retries per message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    /// Delay applied to each message, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<u64>,
    /// Callback URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
    /// Failure callback URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_callback: Option<String>,
    /// Per-attempt timeout, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// Queue the messages are enqueued into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_name: Option<String>,
    /// Whether the schedule is paused.
    #[serde(default)]
    pub is_paused: bool,
    /// Creation time, unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<u64>,
    /// Creator IP as sent in `callerIP`; [`Schedule::caller_ip`] also reads `callerIp`.
    #[serde(default, rename = "callerIP", skip_serializing_if = "Option::is_none")]
    pub caller_ip: Option<String>,
    /// `callerIp` (both spellings may be sent).
    #[serde(default, rename = "callerIp", skip_serializing_if = "Option::is_none")]
    caller_ip_lower: Option<String>,
    /// Flow-control key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_control_key: Option<String>,
    /// Flow-control parallelism.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<u32>,
    /// Flow-control rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<u32>,
    /// Flow-control period, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<u64>,
    /// Retry delay expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_delay_expression: Option<String>,
    /// First label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// All labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
    /// Last firing, unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_schedule_time: Option<u64>,
    /// Next firing, unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_schedule_time: Option<u64>,
    /// Outcome of the last firing per message id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_schedule_states: Option<BTreeMap<String, ScheduleState>>,
}

impl Schedule {
    /// Creator IP from `callerIP` or, when absent, `callerIp`.
    pub fn caller_ip(&self) -> Option<&str> {
        self.caller_ip
            .as_deref()
            .or(self.caller_ip_lower.as_deref())
    }
}

/// The answer to creating a schedule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ScheduleCreated {
    /// The schedule id.
    pub schedule_id: String,
}

/// A queue.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Queue {
    /// Queue name.
    pub name: String,
    /// Creation time, unix ms.
    #[serde(default)]
    pub created_at: u64,
    /// Last update, unix ms.
    #[serde(default)]
    pub updated_at: u64,
    /// Concurrent deliveries.
    #[serde(default)]
    pub parallelism: u32,
    /// Messages waiting.
    #[serde(default)]
    pub lag: u64,
    /// Whether delivery is paused.
    #[serde(default)]
    pub paused: bool,
}

/// An endpoint of a URL group.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Endpoint {
    /// Optional endpoint name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Endpoint URL (optional only when removing by name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl Endpoint {
    /// An endpoint by URL.
    pub fn url(url: impl Into<String>) -> Self {
        Self {
            name: None,
            url: Some(url.into()),
        }
    }

    /// A named endpoint.
    pub fn named(name: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            url: Some(url.into()),
        }
    }

    /// An endpoint identified by name only (for removal).
    pub fn by_name(name: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            url: None,
        }
    }
}

/// A URL group (topic).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UrlGroup {
    /// Group name.
    pub name: String,
    /// Creation time, unix ms.
    #[serde(default)]
    pub created_at: u64,
    /// Last update, unix ms.
    #[serde(default)]
    pub updated_at: u64,
    /// Endpoints.
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
}

/// One log event (a state change of a message).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LogEvent {
    /// Event time, unix ms.
    #[serde(default)]
    pub time: u64,
    /// Message id.
    #[serde(default)]
    pub message_id: String,
    /// New state.
    pub state: MessageState,
    /// Destination URL.
    #[serde(default)]
    pub url: String,
    /// URL group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_name: Option<String>,
    /// Endpoint name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_name: Option<String>,
    /// Queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_name: Option<String>,
    /// Schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_id: Option<String>,
    /// Message headers.
    #[serde(
        default,
        deserialize_with = "header_values",
        skip_serializing_if = "Option::is_none"
    )]
    pub header: Option<HeaderValues>,
    /// Message body, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Error text of a failed attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Next attempt, unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_delivery_time: Option<u64>,
    /// Response status of the attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_status: Option<u16>,
    /// Response headers of the attempt.
    #[serde(
        default,
        alias = "responseHeaders",
        deserialize_with = "header_values",
        skip_serializing_if = "Option::is_none"
    )]
    pub response_header: Option<HeaderValues>,
    /// Response body of the attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_body: Option<String>,
    /// Per-attempt timeout, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// Delivery method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Callback URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
    /// Failure callback URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_callback: Option<String>,
    /// Retries allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
    /// Retry delay expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_delay_expression: Option<String>,
    /// First label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// All labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
}

impl Default for MessageState {
    fn default() -> Self {
        Self::Other(String::new())
    }
}

/// A page of log events.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LogPage {
    /// The events, newest first.
    #[serde(default, alias = "logs")]
    pub events: Vec<LogEvent>,
    /// Cursor of the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// The two signing keys. `Debug` redacts them.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SigningKeys {
    /// The key QStash signs with now.
    pub current: String,
    /// The key QStash will sign with after the next rotation.
    pub next: String,
}

impl fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeys")
            .field("current", &"[redacted]")
            .field("next", &"[redacted]")
            .finish()
    }
}

impl SigningKeys {
    /// A [`crate::Receiver`] for these keys.
    pub fn receiver(&self) -> crate::Receiver {
        crate::Receiver::new(self.current.as_str(), self.next.as_str())
    }
}

/// State of a flow-control key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct FlowControlInfo {
    /// The key.
    pub flow_control_key: String,
    /// Messages waiting.
    #[serde(default)]
    pub wait_list_size: u64,
    /// Parallelism limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism_max: Option<u64>,
    /// Deliveries in flight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism_count: Option<u64>,
    /// Rate limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_max: Option<u64>,
    /// Deliveries started in the current period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_count: Option<u64>,
    /// Rate period, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_period: Option<u64>,
    /// Start of the current period, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_period_start: Option<u64>,
    /// Whether delivery is paused.
    #[serde(default)]
    pub is_paused: bool,
    /// Whether the parallelism is pinned.
    #[serde(default)]
    pub is_pinned_parallelism: bool,
    /// Whether the rate is pinned.
    #[serde(default)]
    pub is_pinned_rate: bool,
}

/// Account-wide parallelism.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct GlobalParallelism {
    /// Limit.
    #[serde(default)]
    pub parallelism_max: u64,
    /// In flight.
    #[serde(default)]
    pub parallelism_count: u64,
}

/// The answer to a bulk cancel.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Cancelled {
    /// How many messages were cancelled.
    #[serde(default)]
    pub cancelled: u64,
}

/// The answer to a bulk DLQ delete.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DlqDeleted {
    /// How many entries were deleted.
    #[serde(default)]
    pub deleted: u64,
    /// Cursor to continue a filtered delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// A message id returned by a DLQ retry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct MessageId {
    /// The new message id.
    pub message_id: String,
}

/// The answer to a bulk DLQ retry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DlqRetried {
    /// The new messages.
    #[serde(default)]
    pub responses: Vec<MessageId>,
    /// Cursor to continue; empty when done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_states_survive_a_round_trip() {
        let s: MessageState = serde_json::from_str("\"CANCELED\"").unwrap_or_default();
        assert_eq!(s, MessageState::Cancelled);
        let s: MessageState = serde_json::from_str("\"WAITING\"").unwrap_or_default();
        assert_eq!(s, MessageState::Other("WAITING".into()));
        assert_eq!(serde_json::to_string(&s).unwrap_or_default(), "\"WAITING\"");
    }

    #[test]
    fn signing_keys_debug_redacts() {
        let k = SigningKeys {
            current: "sig_a_secret".into(),
            next: "sig_b_secret".into(),
        };
        assert!(!format!("{k:?}").contains("secret"));
    }
}
