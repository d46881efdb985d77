//! Fuzz target: `compact::decode` (postcard `take_from_bytes` into `compact::Message`, then the
//! validation into a `Batch`) on arbitrary bytes.
//!
//! Properties checked on every input:
//! * decoding never panics, never overflows, never allocates past the limits (libFuzzer's
//!   `-rss_limit_mb` and `-malloc_limit_mb` catch the last);
//! * every failure is `Error::Malformed`;
//! * whatever is accepted is a valid batch: it encodes, and the encoding decodes to a batch
//!   that encodes to the same bytes (a fixed point after one round).
#![no_main]

use edgemetrics::encode::compact;
use edgemetrics::Error;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match compact::decode(data) {
        Ok(batch) => {
            let bytes = compact::encode(&batch);
            let again = compact::decode(&bytes).expect("re-encoded batch must decode");
            assert_eq!(compact::encode(&again), bytes, "encoding is not a fixed point");
            // postcard alone reads the re-encoded message into the schema type.
            let msg: compact::Message = postcard::from_bytes(&bytes).expect("postcard reads an encoded message");
            assert_eq!(msg.version, compact::VERSION);
            // The OTLP conversion of an accepted message must also work (no panic).
            let _ = compact::to_otlp(&bytes).expect("to_otlp of an accepted message");
        }
        Err(Error::Malformed { .. }) => {}
        Err(e) => panic!("unexpected error kind: {e:?}"),
    }
});
