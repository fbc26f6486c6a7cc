"""The admin's base classes: their forms are `StrictModelForm`s (see `index_site.strict_forms`).

Every ModelAdmin and inline of the project derives from these, so a field an admin edits (a
reason, a display name, an issuer's audience) gets the same checks as the site's own forms. A
test walks the admin registry to keep it so. Django's changelist action form is not replaced:
it reads `action` from the repeated selects at the top and bottom of the list by design.
"""

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from index_site.strict_forms import StrictModelForm


class StrictInputAdmin(admin.ModelAdmin):
    form = StrictModelForm

    def get_changelist_form(self, request: HttpRequest, **kwargs: Any) -> type[forms.ModelForm]:
        """The list-editable rows' form, strict like the change form."""
        kwargs.setdefault("form", StrictModelForm)
        return super().get_changelist_form(request, **kwargs)


class StrictTabularInline(admin.TabularInline):
    form = StrictModelForm
