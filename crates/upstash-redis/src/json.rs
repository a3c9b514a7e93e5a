//! serde JSON helpers: values stored as JSON text in plain Redis strings.
//!
//! - [`Redis::set_json`] / [`Redis::set_json_with`] serialise a value and `SET` it;
//! - [`Redis::get_json`] `GET`s a key and deserialises it (`None` when the key is missing);
//! - [`Json<T>`] is the reply type behind `get_json`, usable wherever a [`FromValue`] is:
//!   `redis.get::<Option<Json<T>>>(k)`, `mget`, pipeline results, `cmd(..).query()`.
//!
//! Decoding is explicit, unlike the official SDK's guess-parsing: only these helpers parse
//! JSON, `get::<String>` returns the exact text.
//!
//! These helpers are always compiled: `serde` and `serde_json` are required dependencies of
//! the crate anyway (the reply decoder uses them), so a feature gate would save nothing. The
//! `json` cargo feature is kept, as a no-op, for compatibility.
//!
//! (These work on string values. The RedisJSON module's `JSON.*` commands are separate.)

use std::future::Future;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{Command, Error, FromValue, Redis, Result, SetOptions, ToArgs, Value};

/// A reply holding JSON text, deserialised into `T`.
///
/// ```no_run
/// use upstash_redis::Json;
/// # #[derive(serde::Deserialize)] struct User { name: String }
/// # async fn demo(redis: upstash_redis::Redis) -> upstash_redis::Result<()> {
/// let user: Option<Json<User>> = redis.get("user:1").await?;
/// let name = user.map(|Json(u)| u.name);
/// # let _ = name; Ok(()) }
/// ```
///
/// Nil is not JSON: decode as `Option<Json<T>>` when the key may be missing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    /// The deserialised value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned> FromValue for Json<T> {
    fn from_value(value: Value) -> Result<Self> {
        let bytes = Bytes::from_value(value)?;
        from_json_bytes(&bytes).map(Json)
    }
}

/// Parses JSON text. The error names the problem's class and position, never the text.
pub(crate) fn from_json_bytes<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| {
        let class = match e.classify() {
            serde_json::error::Category::Eof => "truncated JSON",
            serde_json::error::Category::Syntax => "malformed JSON",
            serde_json::error::Category::Data => "JSON of an unexpected shape",
            serde_json::error::Category::Io => "unreadable JSON",
        };
        Error::decode(format!(
            "value is {class} (line {}, column {})",
            e.line(),
            e.column()
        ))
    })
}

/// Serialises `value` as JSON text. The error never contains the value.
pub(crate) fn to_json_bytes<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value)
        .map_err(|_| Error::InvalidArgument("value cannot be serialised as JSON".to_owned()))
}

impl Redis {
    /// `SET key <value as JSON>`.
    ///
    /// The value is serialised before the call returns (so the future is `'static` and does
    /// not borrow `value`); a serialisation failure is reported when the future is awaited.
    ///
    /// ```no_run
    /// # #[derive(serde::Serialize, serde::Deserialize)] struct User { name: String }
    /// # async fn demo(redis: upstash_redis::Redis) -> upstash_redis::Result<()> {
    /// redis.set_json("user:1", &User { name: "Ada".into() }).await?;
    /// let user: Option<User> = redis.get_json("user:1").await?;
    /// # let _ = user; Ok(()) }
    /// ```
    pub fn set_json<T: Serialize + ?Sized>(
        &self,
        key: impl ToArgs,
        value: &T,
    ) -> impl Future<Output = Result<()>> + Send + 'static {
        self.set_json_with::<(), T>(key, value, SetOptions::new())
    }

    /// `SET key <value as JSON> [options]`; with `NX`/`XX` the reply is nil when nothing was
    /// set, so decode as `bool` (or `Option<String>` with `GET`).
    pub fn set_json_with<R, T>(
        &self,
        key: impl ToArgs,
        value: &T,
        options: SetOptions,
    ) -> impl Future<Output = Result<R>> + Send + 'static
    where
        R: FromValue + Send + 'static,
        T: Serialize + ?Sized,
    {
        let command = to_json_bytes(value).map(|json| {
            // Serialised JSON is always UTF-8, so the command fits any request form.
            Command::new("SET")
                .arg(key)
                .arg(Bytes::from(json))
                .arg(options)
        });
        let redis = self.clone();
        async move {
            let reply = redis.execute(command?).await?;
            R::from_value(reply)
        }
    }

    /// `GET key`, parsing the value as JSON; `None` when the key does not exist.
    pub fn get_json<T>(
        &self,
        key: impl ToArgs,
    ) -> impl Future<Output = Result<Option<T>>> + Send + 'static
    where
        T: DeserializeOwned + Send + 'static,
    {
        let command = Command::new("GET").arg(key);
        let redis = self.clone();
        async move {
            let reply = redis.execute(command).await?;
            Ok(Option::<Json<T>>::from_value(reply)?.map(Json::into_inner))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct User {
        name: String,
        age: u32,
    }

    #[test]
    fn decode_replies() {
        let text = Value::Bytes(Bytes::from_static(br#"{"name":"Ada","age":36}"#));
        assert_eq!(
            Json::<User>::from_value(text).ok(),
            Some(Json(User {
                name: "Ada".into(),
                age: 36
            }))
        );
        assert_eq!(
            Option::<Json<User>>::from_value(Value::Nil).ok(),
            Some(None)
        );
        assert!(Json::<User>::from_value(Value::Nil).is_err());
        // Numbers stored by INCR decode as JSON numbers.
        assert_eq!(Json::<i64>::from_value(Value::Int(5)).ok(), Some(Json(5)));
    }

    #[test]
    fn errors_do_not_echo_values() {
        let secret = Value::Bytes(Bytes::from_static(b"{\"name\":\"s3cr3t\"}"));
        let err = Json::<User>::from_value(secret)
            .err()
            .map(|e| e.to_string());
        assert!(err.as_deref().is_some_and(|e| !e.contains("s3cr3t")));
        let err = Json::<User>::from_value(Value::Bytes(Bytes::from_static(b"s3cr3t")))
            .err()
            .map(|e| e.to_string());
        assert!(err
            .as_deref()
            .is_some_and(|e| e.contains("malformed") && !e.contains("s3cr3t")));
        // Map keys that are not strings cannot be serialised.
        let mut bad = BTreeMap::new();
        bad.insert(vec![1u8], "s3cr3t");
        assert!(matches!(
            to_json_bytes(&bad),
            Err(Error::InvalidArgument(m)) if !m.contains("s3cr3t")
        ));
    }

    #[tokio::test]
    async fn serialisation_failure_is_reported_on_await() {
        let Ok(redis) = Redis::new("http://127.0.0.1:1", "token") else {
            panic!("client")
        };
        let mut bad = BTreeMap::new();
        bad.insert(vec![1u8], 1);
        let fut = redis.set_json("k", &bad);
        drop(bad); // the future does not borrow the value
        assert!(matches!(fut.await, Err(Error::InvalidArgument(_))));
    }
}
