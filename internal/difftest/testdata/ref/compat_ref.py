"""Apache Avro Python reference for Waybill's differential test of compat.Check.

Reads JSON lines {"reader": <schema>, "writer": <schema>} on stdin and writes
one line per input line: {"compatible": true|false} or {"error": "..."}.
Run it with the interpreter that has the avro package (python3-avro 1.11.1 is
installed for /usr/bin/python3 only).
"""
import json
import sys
import warnings

import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType


def parse(pair, side):
    if side not in pair:
        raise ValueError(f"missing {side}")
    try:
        return avro.schema.parse(json.dumps(pair[side]))
    except Exception as e:  # noqa: BLE001 - reported, not hidden
        raise ValueError(f"{side}: {type(e).__name__}: {e}") from e


def main():
    warnings.simplefilter("ignore")
    out = sys.stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            pair = json.loads(line)
            reader = parse(pair, "reader")
            writer = parse(pair, "writer")
            res = ReaderWriterCompatibilityChecker().get_compatibility(reader, writer)
            result = {"compatible": res.compatibility is SchemaCompatibilityType.compatible}
        except Exception as e:  # noqa: BLE001 - reported, not hidden
            result = {"error": f"{type(e).__name__}: {e}"}
        out.write(json.dumps(result) + "\n")
    out.flush()


if __name__ == "__main__":
    main()
