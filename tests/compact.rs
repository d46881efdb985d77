//! Compact format: round trips, hostile input, size.
use edgemetrics::{compact, Config, InstrumentOptions, Registry};

#[test]
fn registry_batch_round_trips() {
    let mut reg = Registry::new(Config::new("svc"));
    reg.begin(10);
    let c = reg.counter("c", InstrumentOptions::default()).unwrap();
    c.add(&mut reg, 2.0, &[("k", "v".into())]);
    let batch = reg.collect(20);
    assert_eq!(compact::decode(&compact::encode(&batch)).unwrap(), batch);
}
