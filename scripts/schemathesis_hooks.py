"""Schemathesis hooks for scripts/schemathesis.sh: the request bodies the API takes as
text (NDJSON usage batches, TOML contracts) are sent as the generated string itself."""

import json

import schemathesis


@schemathesis.serializer("application/x-ndjson", "application/toml")
def raw_text(ctx, value):
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        # Lone surrogates go out as they are: the server must answer them with a 400.
        return value.encode("utf-8", "surrogatepass")
    return json.dumps(value).encode("utf-8")
