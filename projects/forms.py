from django import forms

from index_site.strict_forms import StrictForm
from projects.models import Role


class InviteCollaboratorForm(StrictForm):
    username = forms.CharField(max_length=150, help_text="The username of an existing account.")
    role = forms.ChoiceField(
        choices=Role.Kind.choices,
        initial=Role.Kind.MAINTAINER,
        help_text="Maintainers upload releases; owners also manage collaborators and settings.",
    )


class ChangeRoleForm(StrictForm):
    role = forms.ChoiceField(choices=Role.Kind.choices)


class TrustedPublishingOnlyForm(StrictForm):
    enabled = forms.BooleanField(required=False)
