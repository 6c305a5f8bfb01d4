"""The pandas dtypes of rpkit's frames, one definition each.

Text is pandas' string dtype with Python storage, whether or not pyarrow is
installed (with pyarrow, ``dtype="string"`` would mean pyarrow storage, and
frames built in different ways would not merge).
"""

from __future__ import annotations

import pandas as pd

STRING = pd.StringDtype("python")


def pandas_dtype(name: str) -> str | pd.StringDtype:
    """The dtype a schema's dtype name stands for (``"string"``: ``STRING``)."""
    return STRING if name == "string" else name
