"""Every form of the project: one value per single-valued field, no control characters in text.

The forms are found by walking the subclasses of Django's BaseForm defined in the project's
apps, so a form added later is covered without touching this file; the admin is found through
its registry.
"""

import inspect

import pytest
from django import forms
from django.contrib import admin
from django.contrib.auth.forms import SetPasswordForm
from django.http import QueryDict
from django.test import RequestFactory

# Imported so that every form class of the project is defined before the walk.
import accounts.forms
import accounts.two_factor.forms
import projects.admin
import projects.forms
import projects.release_forms  # noqa: F401 - loads the forms before the walk
import publishing.admin
import publishing.forms  # noqa: F401 - loads the forms before the walk
import tokens.admin
import tokens.forms
from index_site.strict_admin import StrictInputAdmin, StrictTabularInline
from index_site.strict_forms import (
    StrictInputMixin,
    checks_text,
    is_multiline,
    takes_one_value,
)
from tests.factories import ProjectFactory, UserFactory

PROJECT_APPS = ("accounts", "auditlog", "index_site", "projects", "publishing", "tokens")
# A class of characters, one of each kind the rule refuses everywhere.
REFUSED_EVERYWHERE = {
    "NUL": "\x00",
    "ESC (colour escape)": "\x1b[31m",
    "lone CR": "\r",
    "NEL (C1)": "\x85",
    "RLO (bidi override)": "\u202e",
    "LRI (bidi isolate)": "\u2066",
    "DEL": "\x7f",
}
REFUSED_IN_ONE_LINE = {"LF": "\n", "TAB": "\t"}


def _project_forms() -> list[type[forms.BaseForm]]:
    found: set[type[forms.BaseForm]] = set()
    pending = list(forms.BaseForm.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.split(".")[0] in PROJECT_APPS:
            found.add(cls)
    return sorted(found, key=lambda cls: f"{cls.__module__}.{cls.__qualname__}")


PROJECT_FORMS = _project_forms()


def _form_id(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _fields(predicate) -> list[tuple[type[forms.BaseForm], str]]:
    return [
        (cls, name)
        for cls in PROJECT_FORMS
        for name, field in cls.base_fields.items()
        if predicate(field)
    ]


SINGLE_VALUED = _fields(takes_one_value)
TEXT_FIELDS = _fields(checks_text)


def _pair_id(pair) -> str:
    cls, name = pair
    return f"{cls.__qualname__}.{name}"


@pytest.fixture
def bind(db):
    """Bind a form class to data, with the keyword arguments its constructor asks for."""

    def _bind(cls: type[forms.BaseForm], data: QueryDict) -> forms.BaseForm:
        if issubclass(cls, SetPasswordForm):
            return cls(UserFactory(), data)
        parameters = inspect.signature(cls.__init__).parameters
        # `expected`: what a confirmation form asks to be typed.
        extra = {"user": UserFactory, "project": ProjectFactory, "expected": lambda: "expected"}
        return cls(data, **{key: make() for key, make in extra.items() if key in parameters})

    return _bind


def test_the_walk_finds_the_forms_of_every_app():
    apps = {cls.__module__.split(".")[0] for cls in PROJECT_FORMS}
    assert {"accounts", "projects", "publishing", "tokens"} <= apps
    assert len(SINGLE_VALUED) > 30


@pytest.mark.parametrize("cls", PROJECT_FORMS, ids=_form_id)
def test_every_form_is_strict(cls):
    assert issubclass(cls, StrictInputMixin), (
        f"{_form_id(cls)} must derive from StrictForm, StrictModelForm or StrictInputMixin"
    )


@pytest.mark.parametrize(("cls", "name"), SINGLE_VALUED, ids=map(_pair_id, SINGLE_VALUED))
def test_single_valued_field_sent_twice_is_refused(bind, cls, name):
    data = QueryDict(mutable=True)
    data.setlist(name, ["first", "second"])

    form = bind(cls, data)

    assert not form.is_valid()
    assert form.errors == {name: [f"The field '{name}' was sent more than once; send it once."]}
    assert form.cleaned_data == {}


def test_multi_select_field_sent_twice_is_not_a_repeat(db):
    owner = UserFactory()
    data = QueryDict(mutable=True)
    data.setlist("projects", ["1", "2"])
    form = tokens.forms.TokenCreateForm(data, user=owner)

    assert "projects" not in form.repeated_fields()
    assert not takes_one_value(form.fields["projects"])


@pytest.mark.parametrize(("cls", "name"), TEXT_FIELDS, ids=map(_pair_id, TEXT_FIELDS))
@pytest.mark.parametrize("character", REFUSED_EVERYWHERE.values(), ids=REFUSED_EVERYWHERE.keys())
def test_control_character_in_text_is_refused_naming_the_field(bind, cls, name, character):
    field = cls.base_fields[name]
    value = f"abc{character}def"

    form = bind(cls, QueryDict(mutable=True) | {name: value})
    form.is_valid()

    label = field.label or name.replace("_", " ").capitalize()
    code_point = f"U+{ord(character[0]):04X}"
    if character[0] not in str(field.to_python(value)):
        # The field drops it while parsing (URLField removes CR, LF and TAB, as urlsplit does):
        # it never reaches cleaned_data either way.
        assert character[0] not in str(form.cleaned_data.get(name, ""))
        return
    assert (
        f"{label} must not contain control characters (found {code_point}). Remove it and try "
        "again."
    ) in form.errors.get(name, [])


ONE_LINE = [pair for pair in TEXT_FIELDS if not is_multiline(pair[0].base_fields[pair[1]])]
MULTI_LINE = [pair for pair in TEXT_FIELDS if is_multiline(pair[0].base_fields[pair[1]])]


@pytest.mark.parametrize(("cls", "name"), ONE_LINE, ids=map(_pair_id, ONE_LINE))
@pytest.mark.parametrize("character", REFUSED_IN_ONE_LINE.values(), ids=REFUSED_IN_ONE_LINE.keys())
def test_line_break_and_tab_are_refused_in_one_line_fields(bind, cls, name, character):
    field = cls.base_fields[name]
    value = f"abc{character}def"
    if character not in str(field.to_python(value)):
        pytest.skip("the field removes it while parsing")

    form = bind(cls, QueryDict(mutable=True) | {name: value})
    form.is_valid()

    assert any(
        f"must not contain control characters (found U+{ord(character):04X})" in error
        for error in form.errors.get(name, [])
    )


@pytest.mark.parametrize(("cls", "name"), MULTI_LINE, ids=map(_pair_id, MULTI_LINE))
@pytest.mark.parametrize("text", ["one\ntwo", "one\r\ntwo", "one\ttwo"], ids=["LF", "CRLF", "TAB"])
def test_multi_line_fields_keep_line_breaks_and_tabs(bind, cls, name, text):
    form = bind(cls, QueryDict(mutable=True) | {name: text})
    form.is_valid()

    assert not any("control characters" in error for error in form.errors.get(name, []))


def test_browser_line_breaks_become_newlines(db):
    form = accounts.two_factor.forms.ResetTwoFactorForm(
        QueryDict(mutable=True) | {"reason": "Called the user.\r\nChecked the ID."}
    )

    assert form.is_valid(), form.errors
    assert form.cleaned_data["reason"] == "Called the user.\nChecked the ID."


def test_passwords_are_not_checked_for_control_characters(db):
    form = accounts.forms.LoginForm(
        QueryDict(mutable=True) | {"username": "someone", "password": "pass\x1bword\t"}
    )

    assert form.is_valid(), form.errors
    assert form.cleaned_data["password"] == "pass\x1bword\t"


# The admin --------------------------------------------------------------------------------

# The project's own admins; Django's (groups) are Django's to keep.
REGISTERED = sorted(
    (
        (model, model_admin)
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in PROJECT_APPS
    ),
    key=lambda item: item[0]._meta.label,
)


@pytest.mark.parametrize(
    ("model", "model_admin"), REGISTERED, ids=[model._meta.label for model, _ in REGISTERED]
)
def test_every_project_admin_uses_strict_forms(db, model, model_admin):
    request = RequestFactory().get("/admin/")
    request.user = UserFactory(is_staff=True, is_superuser=True)

    assert isinstance(model_admin, StrictInputAdmin)
    assert issubclass(model_admin.get_form(request), StrictInputMixin)
    if model_admin.list_editable:
        assert issubclass(model_admin.get_changelist_form(request), StrictInputMixin)
    for inline in model_admin.get_inline_instances(request):
        assert isinstance(inline, StrictTabularInline)
        assert issubclass(inline.get_formset(request).form, StrictInputMixin)
