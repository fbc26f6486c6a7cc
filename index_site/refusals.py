"""The operator's line for a refusal: one JSON log line per refused login step, second-factor
check or admin visit, with its reason code and the facts that are not secret.

The message is a fixed phrase naming what was refused; the reason and facts travel as fields
(`extra`), never interpolated, so no submitted value can shape the line. Callers pass ids and
codes only: never a password, code, token or the username someone typed.
"""

import logging

logger = logging.getLogger("gatehouse.refusals")


def log_refusal(what: str, *, reason: str, **facts: str | int | None) -> None:
    """Write "<what> refused" with `reason` and `facts` as fields (see the module docstring)."""
    logger.info("%s refused", what, extra={"refused": what, "reason": reason, **facts})
