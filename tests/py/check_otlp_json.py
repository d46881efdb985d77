#!/usr/bin/env python3
"""Checks an OTLP/JSON body written by edgemetrics with the official Python OTLP types.

Usage: check_otlp_json.py BODY.json [EXPECT.json]

1. google.protobuf.json_format.Parse (strict: unknown fields are errors) reads BODY into
   opentelemetry.proto ExportMetricsServiceRequest.
2. MessageToDict(use_integers_for_enums=True) of the parsed message must equal json.loads(BODY):
   our JSON is exactly what the reference printer writes (same keys, same omitted defaults,
   int64 as strings, enums as integers).
3. With EXPECT (facts written by the Rust test from the Batch), every value is asserted.

Exit 0 on success; 1 with a message on any mismatch; 2 when the packages are missing.
Needs: pip install opentelemetry-proto protobuf
"""
import json
import math
import sys

try:
    from google.protobuf import json_format
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
except ImportError as e:  # pragma: no cover - exercised only on machines without the packages
    sys.stderr.write(f"missing Python package ({e}); install with: pip install opentelemetry-proto protobuf\n")
    sys.exit(2)


def num(v):
    """Expectation number: JSON number, or 'inf'/'-inf'/'nan'."""
    return float(v) if isinstance(v, str) else float(v)


def same_double(a, b):
    if math.isnan(b):
        return math.isnan(a)
    # Bit-exact, sign of zero included.
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def check_attrs(got, want, what):
    check(len(got) == len(want), f"{what}: {len(got)} attributes, want {len(want)}")
    for kv, (key, typ, val) in zip(got, want):
        check(kv.key == key, f"{what}: key {kv.key!r} != {key!r}")
        which = kv.value.WhichOneof("value")
        if typ == "string":
            check(which == "string_value" and kv.value.string_value == val, f"{what}.{key}: {kv.value!r} != {val!r}")
        elif typ == "int":
            check(which == "int_value" and kv.value.int_value == int(val), f"{what}.{key}: {kv.value!r} != {val}")
        elif typ == "double":
            check(which == "double_value" and same_double(kv.value.double_value, num(val)), f"{what}.{key}: {kv.value!r} != {val}")
        elif typ == "bool":
            check(which == "bool_value" and kv.value.bool_value == val, f"{what}.{key}: {kv.value!r} != {val}")
        else:
            raise AssertionError(f"unknown type {typ}")


def check_expectations(req, exp):
    check(len(req.resource_metrics) == 1, "one ResourceMetrics")
    rm = req.resource_metrics[0]
    check_attrs(rm.resource.attributes, exp["resource"], "resource")
    # One ScopeMetrics per scope, in order: [name, version, metrics] each.
    check(len(rm.scope_metrics) == len(exp["scopes"]), f"ScopeMetrics count {len(rm.scope_metrics)}")
    pairs = []
    for sm, (name, version, metrics) in zip(rm.scope_metrics, exp["scopes"]):
        check([sm.scope.name, sm.scope.version] == [name, version], f"scope {sm.scope}")
        check(len(sm.metrics) == len(metrics), f"metric count of scope {name}")
        pairs.extend(zip(sm.metrics, metrics))
    for m, e in pairs:
        what = e["name"]
        check(m.name == e["name"] and m.unit == e["unit"] and m.description == e["description"], f"{what}: name/unit/description")
        kind = m.WhichOneof("data")
        check(kind == e["kind"], f"{what}: data {kind} != {e['kind']}")
        data = getattr(m, kind)
        if kind in ("sum", "histogram", "exponential_histogram"):
            check(data.aggregation_temporality == e["temporality"] != 0, f"{what}: temporality {data.aggregation_temporality}")
        if kind == "sum":
            check(data.is_monotonic == e["monotonic"], f"{what}: is_monotonic")
        check(len(data.data_points) == len(e["points"]), f"{what}: point count")
        for i, (p, ep) in enumerate(zip(data.data_points, e["points"])):
            w = f"{what}[{i}]"
            check_attrs(p.attributes, ep["attrs"], w)
            check(p.start_time_unix_nano == int(ep["start"]) and p.time_unix_nano == int(ep["time"]), f"{w}: times")
            if kind == "histogram":
                check(p.count == int(ep["count"]), f"{w}: count {p.count}")
                check(p.HasField("sum") and same_double(p.sum, num(ep["sum"])), f"{w}: sum {p.sum}")
                check(list(p.bucket_counts) == [int(c) for c in ep["buckets"]], f"{w}: buckets {list(p.bucket_counts)}")
                check(len(p.bucket_counts) == len(p.explicit_bounds) + 1, f"{w}: buckets vs bounds")
                check(sum(p.bucket_counts) == p.count, f"{w}: bucket sum")
                check(list(p.explicit_bounds) == [float(b) for b in e["bounds"]], f"{w}: bounds {list(p.explicit_bounds)}")
                for f in ("min", "max"):
                    if ep[f] is None:
                        check(not p.HasField(f), f"{w}: {f} should be absent")
                    else:
                        check(p.HasField(f) and same_double(getattr(p, f), num(ep[f])), f"{w}: {f} {getattr(p, f)}")
            elif kind == "exponential_histogram":
                check(p.count == int(ep["count"]), f"{w}: count {p.count}")
                check(p.HasField("sum") and same_double(p.sum, num(ep["sum"])), f"{w}: sum {p.sum}")
                check(p.scale == ep["scale"], f"{w}: scale {p.scale}")
                check(p.zero_count == int(ep["zero_count"]), f"{w}: zero_count {p.zero_count}")
                check(same_double(p.zero_threshold, num(ep["zero_threshold"])), f"{w}: zero_threshold")
                total = p.zero_count
                for side in ("positive", "negative"):
                    b, eb = getattr(p, side), ep[side]
                    counts = list(b.bucket_counts)
                    check(counts == [int(c) for c in eb["counts"]], f"{w}: {side} counts {counts}")
                    check(not counts or b.offset == eb["offset"], f"{w}: {side} offset {b.offset}")
                    total += sum(counts)
                check(total == p.count, f"{w}: zero count + buckets != count")
                for f in ("min", "max"):
                    if ep[f] is None:
                        check(not p.HasField(f), f"{w}: {f} should be absent")
                    else:
                        check(p.HasField(f) and same_double(getattr(p, f), num(ep[f])), f"{w}: {f} {getattr(p, f)}")
            else:
                check(p.WhichOneof("value") == "as_double", f"{w}: value kind {p.WhichOneof('value')}")
                check(same_double(p.as_double, num(ep["value"])), f"{w}: value {p.as_double} != {ep['value']}")


def main(argv):
    if len(argv) not in (2, 3):
        sys.stderr.write(__doc__)
        return 1
    with open(argv[1], "rb") as f:
        raw = f.read()
    text = raw.decode("utf-8")
    req = json_format.Parse(text, ExportMetricsServiceRequest())  # strict: unknown fields fail
    ours = json.loads(text)
    ref = json_format.MessageToDict(req, use_integers_for_enums=True)

    def norm(v):
        # Compare floats by value (1 == 1.0); keep strings such as "Infinity" as they are.
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        if isinstance(v, list):
            return [norm(x) for x in v]
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return v
        return ("num", float(v), math.copysign(1.0, float(v)))

    check(norm(ours) == norm(ref), "our JSON differs from json_format.MessageToDict of its own parse:\n"
          f"ours: {json.dumps(ours)[:2000]}\nref:  {json.dumps(ref)[:2000]}")
    if len(argv) == 3:
        with open(argv[2], "rb") as f:
            check_expectations(req, json.loads(f.read()))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except AssertionError as e:
        sys.stderr.write(f"OTLP/JSON check failed: {e}\n")
        sys.exit(1)
