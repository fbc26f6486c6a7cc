"""The forms of the release pages: what is typed to confirm a yank or a deletion."""

from django import forms

from index_site.strict_forms import StrictForm
from projects.services.yank import YANK_REASON_MAX_LENGTH


class ConfirmForm(StrictForm):
    """`confirm` must be `expected`, typed exactly, as on PyPI: a slip never deletes."""

    confirm = forms.CharField(max_length=255, strip=True)

    def __init__(self, *args, expected: str, what: str = "name", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.expected = expected
        self.what = what
        self.fields["confirm"].error_messages["required"] = (
            f"Type the {what} '{expected}' to confirm, then try again."
        )

    def clean_confirm(self) -> str:
        value = self.cleaned_data["confirm"]
        if value != self.expected:
            raise forms.ValidationError(
                f"You typed '{value}', not '{self.expected}': type the {self.what} exactly to "
                "confirm, then try again."
            )
        return value


class YankForm(ConfirmForm):
    reason = forms.CharField(
        max_length=YANK_REASON_MAX_LENGTH,
        required=False,
        help_text="Optional; shown by pip and uv to anyone who installs the pinned version.",
    )


def first_error(form: forms.Form) -> str:
    """The form's first error message (each one is a sentence that says what to do)."""
    return next(str(errors[0]) for errors in form.errors.values())
