"""Forms of the two-factor pages. They check the shape of input; the services decide."""

from django import forms

from accounts.two_factor.recovery_codes import MAX_INPUT_LENGTH as RECOVERY_MAX_LENGTH
from accounts.two_factor.recovery_codes import normalize_recovery_code
from accounts.two_factor.totp import MAX_INPUT_LENGTH as TOTP_MAX_LENGTH
from accounts.two_factor.totp import normalize_totp_code
from index_site.strict_forms import StrictForm

TOTP_FORMAT_MESSAGE = "Enter the six-digit code your authenticator app shows now."
RECOVERY_FORMAT_MESSAGE = (
    "Enter a recovery code: 16 characters, the digits 0-9 and the letters a-f. Spaces are fine."
)


class TOTPCodeForm(StrictForm):
    code = forms.CharField(
        label="Six-digit code",
        strip=True,
        error_messages={"required": TOTP_FORMAT_MESSAGE},
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": True,
                "spellcheck": "false",
            }
        ),
    )

    def clean_code(self) -> str:
        raw = self.cleaned_data["code"]
        if len(raw) > TOTP_MAX_LENGTH or normalize_totp_code(raw) is None:
            raise forms.ValidationError(TOTP_FORMAT_MESSAGE)
        return raw


class RecoveryCodeForm(StrictForm):
    code = forms.CharField(
        label="Recovery code",
        strip=True,
        error_messages={"required": RECOVERY_FORMAT_MESSAGE},
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autofocus": True, "spellcheck": "false"}
        ),
    )

    def clean_code(self) -> str:
        raw = self.cleaned_data["code"]
        if len(raw) > RECOVERY_MAX_LENGTH or normalize_recovery_code(raw) is None:
            raise forms.ValidationError(RECOVERY_FORMAT_MESSAGE)
        return raw


class ResetTwoFactorForm(StrictForm):
    """Admin: reset a user's two-factor authentication."""

    reason = forms.CharField(
        label="Reason",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why, and how the user proved who they are. Recorded in the audit log and "
        "emailed to the user.",
    )
