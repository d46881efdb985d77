//! Byte-level helpers shared by the encoders and decoders: varints and protobuf framing, the
//! snappy block compressor, and text (decimal, f64, JSON escape, hex, base64). They exist so each
//! encoder can stay a description of its format; they are not public API. One of each: every
//! varint, base64, hex and decimal in the crate goes through here.
//!
//! `snappy` alone stays reachable (hidden from the docs) because the property tests compare it
//! with the independent `snap` crate and the encode benchmark times it alone.

// OTLP and remote write each use a different subset of the protobuf writer.
#[cfg(any(feature = "otlp", feature = "remote-write"))]
#[cfg_attr(not(all(feature = "otlp", feature = "remote-write")), allow(dead_code))]
pub(crate) mod pb;
#[cfg(feature = "remote-write")]
#[doc(hidden)]
pub mod snappy;
// Each format uses a different subset of the text helpers.
#[cfg_attr(not(all(feature = "otlp-json", feature = "remote-write", feature = "pushgateway")), allow(dead_code))]
pub(crate) mod text;
pub(crate) mod varint;
