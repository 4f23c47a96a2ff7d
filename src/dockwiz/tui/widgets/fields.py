"""Input checks shared with the CLI, and the error line under a field.

Every address and port field is judged by ``dockwiz.addresses``, the CLI's own validator, so a
value the CLI refuses (``10.77.240.999``, port ``0``) is refused where it is typed, with the
same words. The reason shows on the line under the field and goes away as soon as the value is
fixed; nothing else on the screen keeps a stale error.
"""

from __future__ import annotations

from textual.validation import ValidationResult, Validator
from textual.widgets import Input, Static

from dockwiz.addresses import host_problem, parse_port, strip_brackets


class HostValidator(Validator):
    """An IP address or an RFC 1123 host name, by ``addresses.host_problem``."""

    def validate(self, value: str) -> ValidationResult:
        problem = host_problem(strip_brackets(value.strip()))
        return self.success() if problem is None else self.failure(problem)


class PortValidator(Validator):
    """A TCP port 1-65535, by ``addresses.parse_port``."""

    def validate(self, value: str) -> ValidationResult:
        try:
            parse_port(value.strip(), context=value.strip())
        except ValueError:
            return self.failure("a port is a number from 1 to 65535, e.g. 2376")
        return self.success()


class FieldError(Static):
    """The line under a field: why its value cannot be used, or nothing."""

    DEFAULT_CSS = """
    FieldError { height: auto; color: $text-error; padding: 0 0 0 18; display: none; }
    """

    def __init__(self, field_id: str) -> None:
        super().__init__(id=f"{field_id}-error", classes="field-error")

    def show_result(self, result: ValidationResult | None) -> bool:
        """Show (or clear) the field's problem; True when the value is usable."""
        ok = result is None or result.is_valid
        self.display = not ok
        if result is not None and not ok:
            self.update("; ".join(result.failure_descriptions))
        return ok


def check_field(field: Input) -> bool:
    """Validate ``field`` now and show the outcome under it; True when it is usable."""
    result = field.validate(field.value)
    error = field.screen.query_one(f"#{field.id}-error", FieldError)
    return error.show_result(result)


class ClientNameValidator(Validator):
    """A new client's name, by ``pki.validate_client_name`` (the CLI's own check), and not
    the name of a bundle that exists already (``clients add`` refuses that too)."""

    def __init__(self, taken: list[str]) -> None:
        super().__init__()
        self.taken = taken

    def validate(self, value: str) -> ValidationResult:
        from dockwiz.errors import DockwizError
        from dockwiz.pki import validate_client_name

        name = value.strip()
        try:
            validate_client_name(name)
        except DockwizError as exc:
            return self.failure(f"{exc.message}: {exc.hint}" if exc.hint else exc.message)
        if name in self.taken:
            return self.failure(f"a client bundle {name!r} exists already: choose another name")
        return self.success()
