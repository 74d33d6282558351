"""Domain exceptions of CloudWatch Logs and EventBridge (issue 7), kept beside their services
rather than in `berth.errors`. The pattern languages raise their own: `InvalidFilterPattern`
(`berth.domain.log_filters`), `InvalidEventPattern` and `InvalidEvent`
(`berth.domain.event_patterns`). `berth.api.logs` and `berth.api.events` each map them with
their one table."""

from __future__ import annotations

from berth.errors import BerthError

# --- CloudWatch Logs ---------------------------------------------------------------------------


class LogGroupNotFound(BerthError):
    def __init__(self) -> None:
        super().__init__("The specified log group does not exist.")


class LogStreamNotFound(BerthError):
    def __init__(self) -> None:
        super().__init__("The specified log stream does not exist.")


class LogGroupAlreadyExists(BerthError):
    def __init__(self) -> None:
        super().__init__("The specified log group already exists")


class LogStreamAlreadyExists(BerthError):
    def __init__(self) -> None:
        super().__init__("The specified log stream already exists")


class InvalidLogsParameter(BerthError):
    """CloudWatch Logs' InvalidParameterException."""


# --- EventBridge -------------------------------------------------------------------------------


class RuleNotFound(BerthError):
    def __init__(self, name: str, bus: str = "default") -> None:
        super().__init__(f"Rule {name} does not exist on EventBus {bus}.")


class EventBusNotFound(BerthError):
    def __init__(self, name: str) -> None:
        super().__init__(f"Event bus {name} does not exist.")


class RuleHasTargets(BerthError):
    def __init__(self) -> None:
        super().__init__("Rule can't be deleted since it has targets.")


class TooManyTargets(BerthError):
    def __init__(self) -> None:
        super().__init__("The requested resource exceeds the maximum number allowed.")


class EventsValidation(BerthError):
    """EventBridge's ValidationException."""
