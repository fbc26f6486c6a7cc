from django import forms

from projects.models import Role


class InviteCollaboratorForm(forms.Form):
    username = forms.CharField(max_length=150, help_text="The username of an existing account.")
    role = forms.ChoiceField(
        choices=Role.Kind.choices,
        initial=Role.Kind.MAINTAINER,
        help_text="Maintainers upload releases; owners also manage collaborators and settings.",
    )


class ChangeRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.Kind.choices)


class TrustedPublishingOnlyForm(forms.Form):
    enabled = forms.BooleanField(required=False)
