//! Attributes: the key/value pairs that tell one series of an instrument from another.
//!
//! A recording names its attributes as a slice of `(key, value)` pairs borrowed from the caller
//! ([`Attr`]). The registry turns that slice into a *canonical key*: pairs de-duplicated (the last
//! occurrence of a key wins), sorted by key, limited in count and length, and written into a
//! compact byte string. Two slices that differ only in order or in overwritten duplicates give the
//! same canonical key, and therefore the same series.
//!
//! Owned attributes ([`KeyValue`]) appear only in the collected [`Batch`](crate::Batch) and in the
//! resource; they are built once, when a series is created, and shared (`Arc`) from then on.

use alloc::string::String;
use alloc::sync::Arc;

/// A borrowed attribute value, as passed to a recording.
///
/// Build it with `.into()` from `&str`, integers, `f64` or `bool`:
///
/// ```
/// use edgemetrics::AttrValue;
/// let v: AttrValue = "GET".into();
/// let s: AttrValue = 200u16.into();
/// assert_eq!(s, AttrValue::I64(200));
/// # let _ = v;
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AttrValue<'a> {
    /// A UTF-8 string.
    Str(&'a str),
    /// A signed 64-bit integer.
    I64(i64),
    /// A double. Series identity uses the bit pattern, so equal NaN bits name one series (the
    /// derived `PartialEq` still follows IEEE 754: NaN ≠ NaN).
    F64(f64),
    /// A boolean.
    Bool(bool),
}

/// A borrowed attribute: `(key, value)`.
pub type Attr<'a> = (&'a str, AttrValue<'a>);

impl<'a> From<&'a str> for AttrValue<'a> {
    fn from(v: &'a str) -> Self {
        AttrValue::Str(v)
    }
}
impl<'a> From<&'a String> for AttrValue<'a> {
    fn from(v: &'a String) -> Self {
        AttrValue::Str(v.as_str())
    }
}
impl From<bool> for AttrValue<'_> {
    fn from(v: bool) -> Self {
        AttrValue::Bool(v)
    }
}
impl From<f64> for AttrValue<'_> {
    fn from(v: f64) -> Self {
        AttrValue::F64(v)
    }
}
macro_rules! int_into_attr {
    ($($t:ty),*) => {$(
        impl From<$t> for AttrValue<'_> {
            fn from(v: $t) -> Self { AttrValue::I64(v as i64) }
        }
    )*};
}
int_into_attr!(i8, i16, i32, i64, u8, u16, u32);

/// An owned attribute value, as it appears in a collected batch.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A UTF-8 string.
    Str(String),
    /// A signed 64-bit integer.
    I64(i64),
    /// A double.
    F64(f64),
    /// A boolean.
    Bool(bool),
}

impl Value {
    /// The borrowed form of this value.
    pub fn as_ref(&self) -> AttrValue<'_> {
        match self {
            Value::Str(s) => AttrValue::Str(s),
            Value::I64(v) => AttrValue::I64(*v),
            Value::F64(v) => AttrValue::F64(*v),
            Value::Bool(v) => AttrValue::Bool(*v),
        }
    }
}

impl From<AttrValue<'_>> for Value {
    fn from(v: AttrValue<'_>) -> Self {
        match v {
            AttrValue::Str(s) => Value::Str(String::from(s)),
            AttrValue::I64(v) => Value::I64(v),
            AttrValue::F64(v) => Value::F64(v),
            AttrValue::Bool(v) => Value::Bool(v),
        }
    }
}

/// An owned attribute.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq)]
pub struct KeyValue {
    /// The key.
    pub key: String,
    /// The value.
    pub value: Value,
}

impl KeyValue {
    /// Builds an owned attribute.
    ///
    /// ```
    /// use edgemetrics::{KeyValue, Value};
    /// let kv = KeyValue::new("service.name", "checkout");
    /// assert_eq!(kv.value, Value::Str("checkout".into()));
    /// ```
    pub fn new<'a>(key: &str, value: impl Into<AttrValue<'a>>) -> Self {
        KeyValue { key: String::from(key), value: value.into().into() }
    }
}

/// A shared, immutable, canonical (sorted, de-duplicated) attribute set.
pub type Attributes = Arc<[KeyValue]>;

/// Limits applied to every attribute set before it becomes a series key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttrLimits {
    /// Most attributes kept per set (default 32, at most [`MAX_ATTRS_PER_CALL`]). After
    /// de-duplication (the last value given wins) and sorting by key, the pairs beyond this count
    /// are dropped: the smallest keys are kept, so the result does not depend on the order given,
    /// whatever the number of pairs.
    pub max_attributes: usize,
    /// Longest key in bytes (default 128). A longer key drops its attribute.
    pub max_key_len: usize,
    /// Longest string value in bytes (default 1024). A longer value is truncated at the last
    /// UTF-8 character boundary within the limit (the OpenTelemetry rule).
    pub max_value_len: usize,
}

impl Default for AttrLimits {
    fn default() -> Self {
        AttrLimits { max_attributes: 32, max_key_len: 128, max_value_len: 1024 }
    }
}

/// Hard cap on the attributes one recording keeps, whatever the limits say: the canonicalizer
/// sorts indices in a fixed stack array so that the record path never allocates. A call passing
/// more pairs is first reduced, on the stack too, to the pairs of its 64 smallest keys (whatever
/// their positions), the others counted as dropped.
pub const MAX_ATTRS_PER_CALL: usize = 64;

/// Truncates `s` to at most `max` bytes at a character boundary.
pub(crate) fn truncate_str(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    // Walk back to a char boundary; at most 3 steps for UTF-8.
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    // Always `Some` (`end` is a boundary); `get` instead of indexing keeps the str slicing panic
    // (and the formatting it links) out of the wasm module.
    s.get(..end).unwrap_or_default()
}
