"""Input types bounded to what the database can store, shared by every request model and route.

One rule everywhere: integers that reach an ``Integer`` column (ids, quantities, amounts) fit in a
signed 32-bit integer, and text holds no NUL byte (Postgres refuses it; pydantic already refuses
lone surrogates). A value outside these bounds is a 422, never a database error. The bounds are in
the OpenAPI schema, so clients (and fuzzers) see them too.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Le
from pydantic import BeforeValidator, StringConstraints

INT32_MAX = 2**31 - 1


def _json_integer(value: object) -> object:
    """A JSON integer: a number without a fraction (``5`` or ``5.0``), never ``true`` or ``"5"``,
    which pydantic's lax mode would otherwise turn into 1 and 5."""
    if isinstance(value, bool | str | bytes):
        raise ValueError("must be a JSON integer")
    return value


# Any text a column stores. Narrow it further where needed:
# ``Annotated[Text, StringConstraints(max_length=200)]``.
Text = Annotated[str, StringConstraints(pattern=r"^[^\x00]*$")]
# A name people read: 1-200 characters, at least one of them visible. The pattern uses explicit
# ranges, not \s, so the server, the OpenAPI schema and clients' regex engines agree on a match.
DisplayName = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]*[^\x00-\x20\x7f][^\x00]*$")
]
# Primary keys in paths and queries (text on the wire, read as an integer): 1 .. 2**31 - 1.
Id = Annotated[int, Ge(1), Le(INT32_MAX)]
# Integers in JSON bodies: `true` or "5" is a 422, as the schema's "integer" says. The bounds come
# before the validator so that they stay in the OpenAPI schema as minimum/maximum.
# Counts and amounts that must be positive (quantities ordered, prices in cents).
PositiveInt32 = Annotated[int, Ge(1), Le(INT32_MAX), BeforeValidator(_json_integer)]
# Counts that may be zero (stock levels).
NonNegativeInt32 = Annotated[int, Ge(0), Le(INT32_MAX), BeforeValidator(_json_integer)]
