"""JSON from the outside world (the Stripe webhook, the platform API), parsed within bounds.

Python's parser raises RecursionError (not ValueError) on deeply nested input, and PostgreSQL
cannot store a NUL character in jsonb or text: both were 500s. Here they are a JSONInputError the
caller turns into a 400."""

import json

MAX_BYTES = 64 * 1024
MAX_DEPTH = 20


class JSONInputError(ValueError):
    pass


def json_loads_bounded(raw: bytes | str, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH):
    """Parse `raw` as JSON, refusing a body over `max_bytes`, nesting deeper than `max_depth`, and
    any NUL character in a key or a string. Raises JSONInputError with a message fit for a 400."""
    if len(raw) > max_bytes:
        raise JSONInputError(f"The body is larger than {max_bytes} bytes.")
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes | bytearray) else raw
    except UnicodeDecodeError:
        raise JSONInputError("The body is not UTF-8.") from None
    # Cheap on small bodies: nesting cannot exceed the number of brackets.
    if text.count("[") + text.count("{") > max_depth:
        _depth_check(text, max_depth)
    try:
        data = json.loads(text)
    except RecursionError:
        raise JSONInputError("The JSON is nested too deeply.") from None
    except ValueError as exc:
        raise JSONInputError(f"Malformed JSON: {exc}") from None
    if "\\u0000" in text.lower() and _has_nul(data):
        raise JSONInputError("NUL characters are not accepted.")
    return data


def _depth_check(text: str, max_depth: int) -> None:
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > max_depth:
                raise JSONInputError(f"The JSON is nested deeper than {max_depth} levels.")
        elif char in "]}":
            depth -= 1


def _has_nul(data) -> bool:
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
