//! The reply model and the decoder for Upstash's JSON reply envelopes.

use std::fmt;

use base64::Engine as _;
use bytes::Bytes;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A Redis reply as the REST API delivers it.
///
/// With `Upstash-Encoding: base64` (the default) every string arrives base64-encoded and is
/// decoded back to the exact bytes, so binary values survive; the one exception is the status
/// reply `OK`, which the server sends unencoded and which becomes [`Value::Status`].
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Value {
    /// Redis nil (`null`).
    Nil,
    /// An integer reply.
    Int(i64),
    /// A string reply, as raw bytes.
    Bytes(Bytes),
    /// A status reply (`OK`).
    Status(String),
    /// An array reply.
    Array(Vec<Value>),
}

impl Value {
    /// A short name of the reply's kind, used in decode errors.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Nil => "nil",
            Self::Int(_) => "integer",
            Self::Bytes(_) => "string",
            Self::Status(_) => "status",
            Self::Array(_) => "array",
        }
    }

    /// Whether the reply is nil.
    pub fn is_nil(&self) -> bool {
        matches!(self, Self::Nil)
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Nil => f.write_str("Nil"),
            Self::Int(i) => write!(f, "Int({i})"),
            Self::Bytes(b) => match std::str::from_utf8(b) {
                Ok(s) => write!(f, "Bytes({s:?})"),
                Err(_) => write!(f, "Bytes({b:?})"),
            },
            Self::Status(s) => write!(f, "Status({s:?})"),
            Self::Array(items) => f.debug_list().entries(items).finish(),
        }
    }
}

/// One `{"result": ...}` or `{"error": "..."}` item.
pub(crate) type Envelope = Result<Value, String>;

/// Decodes the body of a single-command response.
pub(crate) fn parse_envelope(body: &[u8], base64: bool) -> Result<Envelope, String> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let env = EnvelopeSeed { base64 }
        .deserialize(&mut de)
        .map_err(|e| describe_json_error(&e))?;
    de.end().map_err(|e| describe_json_error(&e))?;
    Ok(env)
}

/// Decodes the body of a `/pipeline` or `/multi-exec` response: an array of envelopes.
pub(crate) fn parse_envelopes(body: &[u8], base64: bool) -> Result<Vec<Envelope>, String> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let items = EnvelopeListSeed { base64 }
        .deserialize(&mut de)
        .map_err(|e| describe_json_error(&e))?;
    de.end().map_err(|e| describe_json_error(&e))?;
    Ok(items)
}

/// A JSON error's class and position, never the offending text (it may be user data).
fn describe_json_error(e: &serde_json::Error) -> String {
    let class = match e.classify() {
        serde_json::error::Category::Eof => "truncated JSON",
        serde_json::error::Category::Syntax => "malformed JSON",
        serde_json::error::Category::Data => "unexpected JSON shape",
        serde_json::error::Category::Io => "I/O error",
    };
    format!(
        "{class} in response body at line {} column {}",
        e.line(),
        e.column()
    )
}

#[derive(Clone, Copy)]
struct ReplySeed {
    base64: bool,
}

impl<'de> DeserializeSeed<'de> for ReplySeed {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ReplySeed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Redis reply (null, integer, string or array)")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Nil)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Nil)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Int(i64::from(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v)
            .map(Value::Int)
            .unwrap_or_else(|_| Value::Bytes(Bytes::from(v.to_string()))))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Bytes(Bytes::from(v.to_string())))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        if !self.base64 {
            return Ok(Value::Bytes(Bytes::copy_from_slice(v.as_bytes())));
        }
        if v == "OK" {
            return Ok(Value::Status("OK".to_owned()));
        }
        // A string that is not valid base64 is kept as sent, as the official SDK does, so a
        // proxy without encoding support still yields readable text.
        match base64::engine::general_purpose::STANDARD.decode(v) {
            Ok(bytes) => Ok(Value::Bytes(Bytes::from(bytes))),
            Err(_) => Ok(Value::Bytes(Bytes::copy_from_slice(v.as_bytes()))),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
}

#[derive(Clone, Copy)]
struct EnvelopeSeed {
    base64: bool,
}

impl<'de> DeserializeSeed<'de> for EnvelopeSeed {
    type Value = Envelope;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Envelope, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EnvelopeSeed {
    type Value = Envelope;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"an object with "result" or "error""#)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Envelope, A::Error> {
        let mut result = None;
        let mut error = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "result" => {
                    result = Some(map.next_value_seed(ReplySeed {
                        base64: self.base64,
                    })?)
                }
                "error" => error = Some(map.next_value::<String>()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        match (error, result) {
            (Some(message), _) => Ok(Err(message)),
            (None, Some(value)) => Ok(Ok(value)),
            (None, None) => Err(de::Error::custom("reply has neither result nor error")),
        }
    }
}

struct EnvelopeListSeed {
    base64: bool,
}

impl<'de> DeserializeSeed<'de> for EnvelopeListSeed {
    type Value = Vec<Envelope>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Vec<Envelope>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for EnvelopeListSeed {
    type Value = Vec<Envelope>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of reply objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Envelope>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        let seed = EnvelopeSeed {
            base64: self.base64,
        };
        while let Some(item) = seq.next_element_seed(seed)? {
            items.push(item);
        }
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Value {
        Value::Bytes(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn base64_decoding_rules() {
        let env = parse_envelope(br#"{"result":["YmFy",null,7,"OK",["Zm9v"]]}"#, true);
        assert_eq!(
            env,
            Ok(Ok(Value::Array(vec![
                b("bar"),
                Value::Nil,
                Value::Int(7),
                Value::Status("OK".into()),
                Value::Array(vec![b("foo")]),
            ])))
        );
        // SRH-style encoded OK decodes to the bytes "OK".
        assert_eq!(
            parse_envelope(br#"{"result":"T0s="}"#, true),
            Ok(Ok(b("OK")))
        );
        // Not base64: kept as text.
        assert_eq!(
            parse_envelope(br#"{"result":"not base64!"}"#, true),
            Ok(Ok(b("not base64!")))
        );
    }

    #[test]
    fn plain_mode_and_errors() {
        assert_eq!(
            parse_envelope(br#"{"result":"bar"}"#, false),
            Ok(Ok(b("bar")))
        );
        assert_eq!(
            parse_envelope(br#"{"error":"ERR nope"}"#, true),
            Ok(Err("ERR nope".to_owned()))
        );
        assert_eq!(
            parse_envelope(br#"{"result":null}"#, true),
            Ok(Ok(Value::Nil))
        );
    }

    #[test]
    fn malformed_and_truncated_bodies_are_errors() {
        assert!(parse_envelope(br#"{"result":"YmFy""#, true)
            .is_err_and(|e| e.starts_with("truncated JSON")));
        assert!(
            parse_envelope(b"<html>oops</html>", true).is_err_and(|e| e.starts_with("malformed"))
        );
        assert!(parse_envelope(br#"{"other":1}"#, true).is_err());
        assert!(parse_envelope(br#"{"result":1} trailing"#, true).is_err());
        assert!(parse_envelope(br#"{"result":{"a":1}}"#, true).is_err());
    }

    #[test]
    fn pipeline_items() {
        let items = parse_envelopes(
            br#"[{"result":"YQ=="},{"error":"WRONGTYPE x"},{"result":3}]"#,
            true,
        );
        assert_eq!(
            items,
            Ok(vec![
                Ok(b("a")),
                Err("WRONGTYPE x".to_owned()),
                Ok(Value::Int(3))
            ])
        );
        assert!(parse_envelopes(br#"{"error":"EXECABORT"}"#, true).is_err());
    }

    #[test]
    fn big_unsigned_and_float_numbers_survive() {
        assert_eq!(
            parse_envelope(br#"{"result":18446744073709551615}"#, true),
            Ok(Ok(b("18446744073709551615")))
        );
        assert_eq!(parse_envelope(br#"{"result":1.5}"#, true), Ok(Ok(b("1.5"))));
    }
}
