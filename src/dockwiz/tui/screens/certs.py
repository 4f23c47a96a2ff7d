"""Step 3: the names the server certificate must carry, the key type, validity, the CA's home."""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.validation import Integer
from textual.widgets import Input, Label, ListItem, ListView, Select, Static
from textual.worker import get_current_worker

from dockwiz.models.intent import Intent
from dockwiz.policy import is_ip, strip_brackets, valid_host
from dockwiz.tui.flow import Step
from dockwiz.tui.screens.base import WizardScreen
from dockwiz.tui.widgets import render
from dockwiz.tui.widgets.fields import FieldError, HostValidator, check_field
from dockwiz.tui.widgets.rows import Rows


class CertificatesScreen(WizardScreen):
    """Every name and address clients dial must be a SAN, or Go clients refuse the server."""

    STEP = Step.CERTIFICATES
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "remove_san", "Remove name", show=False),
        Binding("delete", "remove_san", "Remove name"),
    ]

    def body(self) -> ComposeResult:
        choices = self.wizard.choices
        defaults = Intent.model_fields
        kinds = self.backend.key_types()
        key_type = choices.key_type or str(defaults["key_type"].default)
        if key_type not in kinds:
            kinds.insert(0, key_type)
        with VerticalScroll(classes="step-body"):
            yield Static(
                "Names clients will dial (the server certificate's SANs). "
                "Go clients refuse an address that is not listed.",
                classes="section-help",
            )
            yield Static("Detecting this host's names and addresses…", id="sans-status")
            yield ListView(id="sans")
            with Horizontal(classes="field-row"):
                yield Label("Add name or IP", classes="field-label")
                yield Input(
                    id="san-input",
                    compact=True,
                    placeholder="docker.example.com or 10.0.0.5, then Enter",
                    validators=[HostValidator()],
                    validate_on=["submitted"],
                )
            yield FieldError("san-input")
            with Horizontal(classes="field-row"):
                yield Label("Key type", classes="field-label")
                yield Select(
                    [(k, k) for k in kinds],
                    value=key_type,
                    allow_blank=False,
                    id="key-type",
                    compact=True,
                )
            with Horizontal(classes="field-row"):
                yield Label("Valid for (days)", classes="field-label")
                yield Input(
                    str(choices.validity_days),
                    id="validity",
                    compact=True,
                    type="integer",
                    validators=[Integer(1, 3650, "between 1 and 3650 days")],
                )
            yield FieldError("validity")
            yield Static(id="existing", classes="section")
            yield Rows(id="existing-certs")
            yield Static(id="ca-note", classes="section")
        yield self.nav_buttons()

    def on_mount(self) -> None:
        self.show_existing()
        listen = self.wizard.choices.listen_host or ""
        if self.wizard.choices.sans_for == listen or not valid_host(strip_brackets(listen)):
            self.show_sans()
        else:
            self.wizard.choices.sans_detected = False
            self.detect(listen)

    # -- SANs ---------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="sans",
          description="detecting names and addresses")
    def detect(self, listen: str) -> None:
        dns, ips = self.backend.default_sans(listen)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.detected, listen, dns, ips)

    def detected(self, listen: str, dns: list[str], ips: list[str]) -> None:
        """The listen address's defaults replace those of an earlier address."""
        self.wizard.choices.derive_sans(listen, dns, ips)
        self.wizard.plan = None
        self.show_sans()

    def work_failed(self, group: str, error: BaseException | None) -> None:
        if group == "sans":
            self.wizard.choices.sans_detected = True
            self.query_one("#sans-status", Static).update(
                "Could not detect names; add them by hand below."
            )

    def show_sans(self) -> None:
        choices = self.wizard.choices
        names = [*choices.dns_names, *choices.ip_addresses]
        view = self.query_one("#sans", ListView)
        view.clear()
        view.extend(ListItem(Label(self.san_label(n)), name=n) for n in names)
        count = len(names)
        status = (
            f"{count} name(s) and address(es); select one and press Delete to remove it."
            if count
            else "No names yet: add at least the address clients will dial."
        )
        self.query_one("#sans-status", Static).update(status)

    @staticmethod
    def san_label(name: str) -> Content:
        kind = "IP " if is_ip(name) else "DNS"
        return render.assemble((kind, "$text-muted"), "  ", name)

    def add_name(self, name: str) -> bool:
        """The admin's own name: kept when the listen address (and its defaults) change."""
        choices = self.wizard.choices
        target = choices.ip_addresses if is_ip(name) else choices.dns_names
        if name in target:
            self.notify(f"{name} is already listed.")
            return False
        target.append(name)
        choices.sans_own.append(name)
        self.wizard.plan = None
        return True

    @on(Input.Changed, "#san-input")
    def san_changed(self, event: Input.Changed) -> None:
        """An error shown for the last Enter goes away as the name is corrected."""
        if self.query_one("#san-input-error", FieldError).display:
            check_field(event.input)

    @on(Input.Submitted, "#san-input")
    def san_submitted(self, event: Input.Submitted) -> None:
        value = strip_brackets(event.value.strip())
        if not value:
            return
        if not self.query_one("#san-input-error", FieldError).show_result(event.validation_result):
            return
        if self.add_name(value):
            self.show_sans()
        event.input.clear()

    def action_remove_san(self) -> None:
        view = self.query_one("#sans", ListView)
        item = view.highlighted_child
        if item is None or item.name is None:
            self.notify("Select a name in the list first (Tab to it, Up/Down).")
            return
        choices = self.wizard.choices
        for names in (choices.dns_names, choices.ip_addresses):
            if item.name in names:
                names.remove(item.name)
        self.wizard.plan = None
        self.show_sans()

    # -- key and validity ---------------------------------------------------------------------
    @on(Select.Changed, "#key-type")
    def key_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self.wizard.choices.key_type = event.value
            self.wizard.plan = None

    @on(Input.Changed, "#validity")
    def validity_changed(self, event: Input.Changed) -> None:
        if self.query_one("#validity-error", FieldError).show_result(event.validation_result):
            self.wizard.choices.validity_days = int(event.value)
            self.wizard.plan = None

    def show_existing(self) -> None:
        """Say what will be reused, so nobody is surprised by a new CA on their clients."""
        state = self.wizard.host_state
        defaults = Intent.model_fields
        ca_dir = str(defaults["ca_dir"].default)
        tls_dir = str(defaults["tls_dir"].default)
        now = self.dockwiz.now()
        usable = [
            c for c in (state.certs if state else [])
            if c.exists and c.readable and not c.error
            and (c.not_after is None or c.not_after > now)
        ]
        existing = self.query_one("#existing", Static)
        if usable:
            existing.update(
                Content.styled(
                    "Existing certificates (reused while valid and covering every name above):",
                    "bold",
                )
            )
            self.query_one("#existing-certs", Rows).show(render.cert_rows(usable, now))
        else:
            existing.update(
                f"No valid certificate found: a new CA, server and client certificate will be "
                f"issued when you apply (server files in {tls_dir})."
            )
        self.query_one("#ca-note", Static).update(
            Content.assemble(
                ("CA key: ", "bold"),
                f"{ca_dir} (root only, mode 0400). It signs every client certificate: "
                "back it up, and keep it off the clients.",
            )
        )

    def action_next(self) -> None:
        choices = self.wizard.choices
        if not choices.dns_names and not choices.ip_addresses:
            self.notify("Add at least one name or address clients will dial.", severity="error")
            return
        validity = self.query_one("#validity", Input)
        if not check_field(validity):
            self.app.bell()
            validity.focus()
            return
        super().action_next()
