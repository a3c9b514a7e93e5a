//! Typed decoding of replies.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasher, Hash};

use bytes::Bytes;

use crate::{Error, Result, Value};

/// Conversion of a reply into a Rust type.
///
/// Decoding is explicit: a string is never guessed to be a number or JSON. Integers parse from
/// integer replies and from decimal strings; `String` requires valid UTF-8 (use `Vec<u8>` or
/// [`Bytes`] for binary values); `Option<T>` maps nil to `None`; maps read the flat
/// `[field, value, ...]` arrays Redis returns.
pub trait FromValue: Sized {
    /// Converts the reply.
    fn from_value(value: Value) -> Result<Self>;

    /// Converts the elements of an array reply, for `Vec<Self>`. The default converts each
    /// element; 2-tuples override it so that a flat `[k1, v1, k2, v2, ...]` reply (`HGETALL`,
    /// `ZRANGE ... WITHSCORES`) decodes into `Vec<(K, V)>`.
    #[doc(hidden)]
    fn from_array(items: Vec<Value>) -> Result<Vec<Self>> {
        items.into_iter().map(Self::from_value).collect()
    }
}

fn mismatch<T>(expected: &str, got: &Value) -> Result<T> {
    Err(Error::decode(format!(
        "expected {expected}, got {} reply",
        got.kind_name()
    )))
}

impl FromValue for Value {
    fn from_value(value: Value) -> Result<Self> {
        Ok(value)
    }
}

impl FromValue for () {
    fn from_value(_: Value) -> Result<Self> {
        Ok(())
    }
}

impl FromValue for Bytes {
    fn from_value(value: Value) -> Result<Self> {
        match value {
            Value::Bytes(b) => Ok(b),
            Value::Status(s) => Ok(Bytes::from(s)),
            Value::Int(i) => Ok(Bytes::from(i.to_string())),
            other => mismatch("a string", &other),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(value: Value) -> Result<Self> {
        Bytes::from_value(value).map(Vec::from)
    }
}

impl FromValue for String {
    fn from_value(value: Value) -> Result<Self> {
        match value {
            Value::Status(s) => Ok(s),
            other => {
                let bytes = Bytes::from_value(other)?;
                String::from_utf8(bytes.into()).map_err(|_| {
                    Error::decode("string reply is not valid UTF-8 (decode it as Vec<u8> or Bytes)")
                })
            }
        }
    }
}

fn text(value: &Value) -> Option<&str> {
    match value {
        Value::Bytes(b) => std::str::from_utf8(b).ok(),
        Value::Status(s) => Some(s),
        _ => None,
    }
}

macro_rules! from_value_int {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(value: Value) -> Result<Self> {
                let wide: i128 = match &value {
                    Value::Int(i) => i128::from(*i),
                    other => match text(other).and_then(|s| s.trim().parse::<i128>().ok()) {
                        Some(i) => i,
                        None => return mismatch("an integer", other),
                    },
                };
                <$t>::try_from(wide).map_err(|_| Error::decode(concat!("integer out of range for ", stringify!($t))))
            }
        }
    )*};
}
from_value_int!(i16, u16, i32, u32, i64, u64, i128, isize, usize);

macro_rules! from_value_float {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(value: Value) -> Result<Self> {
                match &value {
                    Value::Int(i) => Ok(*i as $t),
                    other => match text(other).map(str::trim) {
                        Some("inf" | "+inf") => Ok(<$t>::INFINITY),
                        Some("-inf") => Ok(<$t>::NEG_INFINITY),
                        Some(s) => s.parse::<$t>().or_else(|_| mismatch("a number", other)),
                        None => mismatch("a number", other),
                    },
                }
            }
        }
    )*};
}
from_value_float!(f32, f64);

impl FromValue for bool {
    fn from_value(value: Value) -> Result<Self> {
        match &value {
            Value::Nil => Ok(false),
            Value::Int(i) => Ok(*i != 0),
            Value::Status(_) => Ok(true),
            Value::Bytes(b) => match b.as_ref() {
                b"OK" | b"1" => Ok(true),
                b"0" => Ok(false),
                _ => mismatch("a boolean", &value),
            },
            Value::Array(_) => mismatch("a boolean", &value),
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: Value) -> Result<Self> {
        match value {
            Value::Nil => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// The elements of an array reply; nil counts as empty.
fn elements(value: Value, expected: &str) -> Result<Vec<Value>> {
    match value {
        Value::Array(items) => Ok(items),
        Value::Nil => Ok(Vec::new()),
        other => mismatch(expected, &other),
    }
}

impl<T: FromValue> FromValue for Vec<T> {
    fn from_value(value: Value) -> Result<Self> {
        T::from_array(elements(value, "an array")?)
    }
}

impl<T: FromValue + Eq + Hash, S: BuildHasher + Default> FromValue for HashSet<T, S> {
    fn from_value(value: Value) -> Result<Self> {
        elements(value, "an array")?
            .into_iter()
            .map(T::from_value)
            .collect()
    }
}

impl<T: FromValue + Ord> FromValue for BTreeSet<T> {
    fn from_value(value: Value) -> Result<Self> {
        elements(value, "an array")?
            .into_iter()
            .map(T::from_value)
            .collect()
    }
}

/// Pairs from a flat `[k1, v1, k2, v2, ...]` array or from an array of 2-element arrays.
fn pairs<K: FromValue, V: FromValue>(value: Value) -> Result<Vec<(K, V)>> {
    pairs_of(elements(value, "an array of field/value pairs")?)
}

/// [`pairs`] over the elements of an array reply.
fn pairs_of<K: FromValue, V: FromValue>(items: Vec<Value>) -> Result<Vec<(K, V)>> {
    if items
        .iter()
        .all(|i| matches!(i, Value::Array(a) if a.len() == 2))
        && !items.is_empty()
    {
        return items.into_iter().map(<(K, V)>::from_value).collect();
    }
    if items.len() % 2 != 0 {
        return Err(Error::decode(
            "expected an even number of elements for field/value pairs",
        ));
    }
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut iter = items.into_iter();
    while let (Some(k), Some(v)) = (iter.next(), iter.next()) {
        out.push((K::from_value(k)?, V::from_value(v)?));
    }
    Ok(out)
}

impl<K: FromValue + Eq + Hash, V: FromValue, S: BuildHasher + Default> FromValue
    for HashMap<K, V, S>
{
    fn from_value(value: Value) -> Result<Self> {
        Ok(pairs(value)?.into_iter().collect())
    }
}

impl<K: FromValue + Ord, V: FromValue> FromValue for BTreeMap<K, V> {
    fn from_value(value: Value) -> Result<Self> {
        Ok(pairs(value)?.into_iter().collect())
    }
}

macro_rules! from_value_tuple {
    ($n:expr; $($name:ident),+ $(; $extra:item)?) => {
        impl<$($name: FromValue),+> FromValue for ($($name,)+) {
            fn from_value(value: Value) -> Result<Self> {
                let items = match value {
                    Value::Array(items) if items.len() == $n => items,
                    Value::Array(items) => {
                        return Err(Error::decode(format!(
                            "expected an array of {} elements, got {}", $n, items.len()
                        )))
                    }
                    other => return mismatch("an array", &other),
                };
                let mut iter = items.into_iter();
                Ok(($(
                    $name::from_value(iter.next().unwrap_or(Value::Nil))?,
                )+))
            }
            $($extra)?
        }
    };
}
from_value_tuple!(1; A);
from_value_tuple!(2; A, B;
    fn from_array(items: Vec<Value>) -> Result<Vec<Self>> {
        pairs_of(items)
    }
);
from_value_tuple!(3; A, B, C);
from_value_tuple!(4; A, B, C, D);
from_value_tuple!(5; A, B, C, D, E);
from_value_tuple!(6; A, B, C, D, E, F);
from_value_tuple!(7; A, B, C, D, E, F, G);
from_value_tuple!(8; A, B, C, D, E, F, G, H);

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Value {
        Value::Bytes(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn scalars() {
        assert_eq!(i64::from_value(Value::Int(5)).ok(), Some(5));
        assert_eq!(i64::from_value(b("-12")).ok(), Some(-12));
        assert!(u16::from_value(Value::Int(70000)).is_err());
        assert_eq!(f64::from_value(b("1.5")).ok(), Some(1.5));
        assert_eq!(f64::from_value(b("inf")).ok(), Some(f64::INFINITY));
        assert_eq!(
            String::from_value(Value::Status("OK".into())).ok(),
            Some("OK".into())
        );
        assert!(String::from_value(Value::Bytes(Bytes::from_static(&[0xff]))).is_err());
        assert_eq!(
            Vec::<u8>::from_value(Value::Bytes(Bytes::from_static(&[0xff]))).ok(),
            Some(vec![0xff])
        );
        assert_eq!(bool::from_value(Value::Nil).ok(), Some(false));
        assert_eq!(
            bool::from_value(Value::Status("OK".into())).ok(),
            Some(true)
        );
        assert_eq!(Option::<String>::from_value(Value::Nil).ok(), Some(None));
        assert!(i64::from_value(Value::Nil).is_err());
    }

    #[test]
    fn collections() {
        let flat = Value::Array(vec![b("a"), b("1"), b("b"), b("2")]);
        let map: HashMap<String, i64> = HashMap::from_value(flat).unwrap_or_default();
        assert_eq!(map.get("b"), Some(&2));
        let empty: HashMap<String, String> =
            HashMap::from_value(Value::Array(vec![])).unwrap_or_default();
        assert!(empty.is_empty());
        assert!(HashMap::<String, String>::from_value(Value::Array(vec![b("odd")])).is_err());
        let tuple = <(String, i64, Option<String>)>::from_value(Value::Array(vec![
            b("x"),
            Value::Int(2),
            Value::Nil,
        ]));
        assert_eq!(tuple.ok(), Some(("x".into(), 2, None)));
        assert!(<(String, i64)>::from_value(Value::Array(vec![b("x")])).is_err());
        let v: Vec<Option<String>> =
            Vec::from_value(Value::Array(vec![b("a"), Value::Nil])).unwrap_or_default();
        assert_eq!(v, vec![Some("a".into()), None]);
        let flat_pairs: Vec<(String, f64)> =
            Vec::from_value(Value::Array(vec![b("a"), b("1.5"), b("b"), b("2")]))
                .unwrap_or_default();
        assert_eq!(flat_pairs, vec![("a".into(), 1.5), ("b".into(), 2.0)]);
        let nested: Vec<(String, i64)> = Vec::from_value(Value::Array(vec![Value::Array(vec![
            b("x"),
            Value::Int(3),
        ])]))
        .unwrap_or_default();
        assert_eq!(nested, vec![("x".into(), 3)]);
    }
}
