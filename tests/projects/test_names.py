import pytest

from auditlog.models import AuditEvent
from projects.exceptions import ProjectNameError
from projects.models import ProhibitedProjectName, Project, Role
from projects.names import (
    normalize_project_name,
    ultranormalize_project_name,
    validate_project_name,
)
from projects.selectors import get_project_by_name
from projects.services.projects import create_project
from tests.factories import ProjectFactory, UserFactory


@pytest.mark.parametrize(
    ("name", "normalized"),
    [
        ("Django", "django"),
        ("zope.interface", "zope-interface"),
        ("My_Cool__Package", "my-cool-package"),
        ("a-._b", "a-b"),
        ("X", "x"),
    ],
)
def test_normalize_project_name_follows_pep_503(name, normalized):
    assert normalize_project_name(name) == normalized


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["requests", "A", "a1", "zope.interface", "my_pkg-2", "9lives"])
def test_valid_names_are_accepted_and_normalized(name):
    assert validate_project_name(name) == normalize_project_name(name)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name",
    ["", "-leading", "trailing-", ".dot", "under_", "sp ace", "ünïcode", "a/b", "name\n", "a@b"],
)
def test_malformed_names_are_refused_with_pypi_message(name):
    with pytest.raises(ProjectNameError) as excinfo:
        validate_project_name(name)
    assert excinfo.value.code == "invalid"
    assert str(excinfo.value).startswith(f"The name {name!r} is invalid.")
    assert "ASCII letters, digits" in str(excinfo.value)


@pytest.mark.django_db
def test_overlong_name_is_refused():
    with pytest.raises(ProjectNameError, match="at most 255 characters") as excinfo:
        validate_project_name("a" * 256)
    assert excinfo.value.code == "invalid"


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["os", "OS", "asyncio", "Collections", "email", "importlib"])
def test_standard_library_module_names_are_refused(name):
    with pytest.raises(ProjectNameError) as excinfo:
        validate_project_name(name)
    assert excinfo.value.code == "stdlib"


@pytest.mark.django_db
def test_standard_library_message_names_the_conflict():
    with pytest.raises(ProjectNameError) as excinfo:
        validate_project_name("Asyncio")
    assert excinfo.value.code == "stdlib"
    assert str(excinfo.value) == (
        "The name 'Asyncio' isn't allowed (conflict with Python Standard Library module name). "
        "Choose a different name for your project."
    )


@pytest.mark.django_db
def test_prohibited_names_are_refused_in_any_spelling():
    ProhibitedProjectName.objects.create(name="evil-pkg", reason="malware takedown")
    with pytest.raises(ProjectNameError) as excinfo:
        validate_project_name("Evil_Pkg")
    assert excinfo.value.code == "prohibited"
    assert str(excinfo.value) == (
        "The name 'Evil_Pkg' isn't allowed. Choose a different name for your project."
    )


@pytest.mark.django_db
@pytest.mark.parametrize("spelling", ["Sample.Thing", "sample_thing", "SAMPLE--thing"])
def test_names_differing_only_by_case_or_punctuation_conflict(spelling):
    ProjectFactory(name="sample-thing", normalized_name="sample-thing")
    with pytest.raises(ProjectNameError) as excinfo:
        validate_project_name(spelling)
    assert excinfo.value.code == "conflict"
    assert str(excinfo.value).startswith(
        f"The name {spelling!r} conflicts with an existing project."
    )


@pytest.mark.django_db
def test_create_project_makes_creator_owner_and_records_events():
    creator = UserFactory()
    project = create_project(name="Shiny_Thing", creator=creator, via="upload")
    assert project.name == "Shiny_Thing"
    assert project.normalized_name == "shiny-thing"
    assert Role.objects.get(project=project).user == creator
    assert Role.objects.get(project=project).role == Role.Kind.OWNER
    events = list(AuditEvent.objects.filter(project=project).order_by("pk"))
    assert [e.event_type for e in events] == ["project:create", "project:role:add"]
    assert events[0].data == {"created_by": creator.username, "via": "upload"}
    assert events[1].data["role"] == "Owner"


@pytest.mark.django_db
def test_create_project_refuses_a_name_taken_in_another_spelling():
    create_project(name="shiny-thing", creator=UserFactory())
    with pytest.raises(ProjectNameError, match="conflicts with an existing project"):
        create_project(name="Shiny.Thing", creator=UserFactory())
    assert Project.objects.count() == 1


@pytest.mark.django_db
def test_create_project_refuses_invalid_name_without_side_effects():
    with pytest.raises(ProjectNameError):
        create_project(name="bad name", creator=UserFactory())
    assert not Project.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_get_project_by_name_normalizes():
    project = ProjectFactory(name="Foo.Bar", normalized_name="foo-bar")
    assert get_project_by_name("FOO_bar") == project
    assert get_project_by_name("foo-baz") is None


@pytest.mark.parametrize(
    ("name", "ultra"),
    [("Pillow", "p1110w"), ("pi11ow", "p1110w"), ("Foo.Bar_baz", "f00barbaz"), ("I-O", "10")],
)
def test_ultranormalized_form_folds_confusable_characters(name, ultra):
    assert ultranormalize_project_name(name) == ultra


@pytest.mark.django_db
@pytest.mark.parametrize("lookalike", ["pi11ow", "PILL0W", "p.i.l.l.o.w"])
def test_names_too_similar_to_an_existing_project_are_refused(lookalike):
    create_project(name="pillow", creator=UserFactory())
    with pytest.raises(ProjectNameError) as excinfo:
        validate_project_name(lookalike)
    assert excinfo.value.code == "similar"
    assert str(excinfo.value) == (
        f"The name {lookalike!r} is too similar to an existing project. Choose a different name "
        "for your project."
    )


@pytest.mark.django_db
def test_a_validated_name_is_trusted_only_for_the_name_it_was_validated_for():
    with pytest.raises(ValueError, match="validated_name"):
        create_project(name="os", creator=UserFactory(), validated_name="shiny-thing")
    assert not Project.objects.exists()


@pytest.mark.django_db
def test_a_validated_name_taken_since_is_still_refused_as_a_conflict():
    validated = validate_project_name("Shiny.Thing")
    create_project(name="shiny-thing", creator=UserFactory())

    with pytest.raises(ProjectNameError, match="conflicts with an existing project"):
        create_project(name="Shiny.Thing", creator=UserFactory(), validated_name=validated)
    assert Project.objects.count() == 1
