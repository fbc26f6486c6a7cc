"""The base of every form: one value per single-valued field, no control characters in text.

Every form of the project derives from `StrictForm` or `StrictModelForm` (or mixes in
`StrictInputMixin` with a Django form it extends); a test walks every form class and every
admin to keep it so. What it adds:

- A field that takes one value (anything but a multi-select) sent twice makes the whole form
  invalid with "The field '<name>' was sent more than once; send it once." on that field;
  nothing else is validated, so no `clean()` runs on a value the sender may not have meant.
- Every text field refuses control characters (see `index_site.control_characters`) with a
  message naming the field. A Textarea is multi-line: it keeps `\\n` and `\\t`, and its `\\r\\n`
  line breaks are turned into `\\n` before validation. Password fields are left alone: a
  password is compared, never shown, and refusing characters would lock out whoever chose one.
"""

from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.utils import ErrorDict, pretty_name

from index_site.control_characters import check_control_characters, normalize_line_breaks
from index_site.single_values import repeated_field_message, repeated_names

REPEATED_FIELD_CODE = "repeated_field"
CONTROL_CHARACTER_CODE = "control_character"


def _unwrapped(widget: forms.Widget) -> forms.Widget:
    # The admin wraps relation widgets in RelatedFieldWidgetWrapper, which keeps the real one.
    inner = getattr(widget, "widget", None)
    return inner if isinstance(inner, forms.Widget) else widget


def takes_one_value(field: forms.Field) -> bool:
    """Whether the field reads a single value from the request (not a multi-select)."""
    if isinstance(field, forms.MultipleChoiceField | forms.ModelMultipleChoiceField):
        return False
    return not getattr(_unwrapped(field.widget), "allow_multiple_selected", False)


def is_multiline(field: forms.Field) -> bool:
    return isinstance(_unwrapped(field.widget), forms.Textarea)


def _submitted_names(html_name: str, widget: forms.Widget) -> list[str]:
    """The names the widget reads from the request: one, or one per part of a MultiWidget."""
    widget = _unwrapped(widget)
    if isinstance(widget, forms.MultiWidget):
        return [
            name
            # widgets_names is set by MultiWidget.__init__ (the type stubs lack it).
            for suffix, part in zip(widget.widgets_names, widget.widgets, strict=True)  # type: ignore[attr-defined]
            for name in _submitted_names(html_name + suffix, part)
        ]
    return [html_name]


class ControlCharacterValidator:
    """Refuse control characters in one field's text; the message names the field's label."""

    def __init__(self, label: str, *, multiline: bool) -> None:
        self.label = label
        self.multiline = multiline

    def __call__(self, value: Any) -> None:
        if not isinstance(value, str):
            return
        message = check_control_characters(self.label, value, multiline=self.multiline)
        if message is not None:
            raise ValidationError(message, code=CONTROL_CHARACTER_CODE)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ControlCharacterValidator) and (other.label, other.multiline) == (
            self.label,
            self.multiline,
        )

    def __hash__(self) -> int:
        return hash((self.label, self.multiline))


def checks_text(field: forms.Field) -> bool:
    """Whether the field is free text the control-character rule applies to.

    Not a password (see the module docstring), and not a JSONField: its value is parsed into
    data, and raw control characters are invalid JSON already.
    """
    return (
        isinstance(field, forms.CharField)
        and not isinstance(field, forms.JSONField)
        and not isinstance(_unwrapped(field.widget), forms.PasswordInput)
    )


# What the mixin is mixed into, for the type checker only.
if TYPE_CHECKING:
    _FormBase = forms.BaseForm
else:
    _FormBase = object


class StrictInputMixin(_FormBase):
    """Mix into a Django form (before it in the bases) for the checks described above."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if checks_text(field):
                label = str(field.label or pretty_name(name))
                # First, so the refusal is read before a format rule's less precise message.
                field.validators.insert(
                    0, ControlCharacterValidator(label, multiline=is_multiline(field))
                )
        if self.is_bound:
            self.data = self._with_normalized_line_breaks(self.data)

    def _with_normalized_line_breaks(self, data: Any) -> Any:
        names = [
            self[name].html_name
            for name, field in self.fields.items()
            if checks_text(field) and is_multiline(field)
        ]
        if not any(name in data for name in names):
            return data
        data = data.copy()
        for name in names:
            if name not in data:
                continue
            if hasattr(data, "setlist"):
                data.setlist(name, [normalize_line_breaks(v) for v in data.getlist(name)])
            elif isinstance(data[name], str):
                data[name] = normalize_line_breaks(data[name])
        return data

    def repeated_fields(self) -> list[str]:
        """The names of single-valued fields sent more than once (in the data or the files)."""
        repeated = []
        for name, field in self.fields.items():
            if not takes_one_value(field) or field.disabled:
                continue
            submitted = _submitted_names(self[name].html_name, field.widget)
            if repeated_names(self.data, submitted) or repeated_names(self.files, submitted):
                repeated.append(name)
        return repeated

    def full_clean(self) -> None:
        repeated = self.repeated_fields() if self.is_bound else []
        if not repeated:
            super().full_clean()
            return
        # Refused as a whole: no field or form cleaning runs on a value that may be the wrong one.
        self._errors = ErrorDict(renderer=self.renderer)
        self.cleaned_data = {}
        for name in repeated:
            self.add_error(
                name,
                ValidationError(
                    repeated_field_message(self[name].html_name), code=REPEATED_FIELD_CODE
                ),
            )


class StrictForm(StrictInputMixin, forms.Form):
    """The project's base form."""


class StrictModelForm(StrictInputMixin, forms.ModelForm):
    """The project's base model form (the admin's too, see `index_site.strict_admin`)."""
