"""Input types bounded to what the database can store, shared by every request model and route.

One rule everywhere: integers that reach an ``Integer`` column (ids, quantities, amounts) fit in a
signed 32-bit integer, and text holds no NUL byte (Postgres refuses it; pydantic already refuses
lone surrogates). A value outside these bounds is a 422, never a database error. The bounds are in
the OpenAPI schema, so clients (and fuzzers) see them too.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Le
from pydantic import StringConstraints

INT32_MAX = 2**31 - 1

# Any text a column stores. Narrow it further where needed:
# ``Annotated[Text, StringConstraints(max_length=200)]``.
Text = Annotated[str, StringConstraints(pattern=r"^[^\x00]*$")]
# A name people read: 1-200 characters, at least one of them visible. The pattern uses explicit
# ranges, not \s, so the server, the OpenAPI schema and clients' regex engines agree on a match.
DisplayName = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]*[^\x00-\x20\x7f][^\x00]*$")
]
# Primary keys, in paths and bodies: 1 .. 2**31 - 1.
Id = Annotated[int, Ge(1), Le(INT32_MAX)]
# Counts and amounts that must be positive (quantities ordered, prices in cents).
PositiveInt32 = Annotated[int, Ge(1), Le(INT32_MAX)]
# Counts that may be zero (stock levels).
NonNegativeInt32 = Annotated[int, Ge(0), Le(INT32_MAX)]
