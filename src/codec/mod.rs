//! Byte-level helpers shared by the encoders and decoders: varints and protobuf framing, the
//! snappy block compressor, and text (decimal, f64, JSON escape, hex, base64). They exist so each
//! encoder can stay a description of its format; they are not part of the public API.

pub mod pb;
pub mod snappy;
pub mod text;
pub(crate) mod varint;
