import pytest

from publishing.upload.archives.member_names import (
    member_name_key,
    member_name_problem,
    printable_name,
)


@pytest.mark.parametrize(
    "name",
    [
        "pkg/__init__.py",
        "pkg-1.0/PKG-INFO",
        "pkg/données.txt",
        "pkg/with space.txt",
        "pkg.data/scripts/run",
        "a/.hidden",
        "a/..b",
    ],
)
def test_plain_relative_names_pass(name):
    assert member_name_problem(name) is None


def test_a_directory_may_end_with_one_slash():
    assert member_name_problem("pkg/", is_dir=True) is None
    assert (
        member_name_problem("pkg/", is_dir=False)
        == "the member name 'pkg/' contains an empty segment"
    )
    assert (
        member_name_problem("pkg//", is_dir=True)
        == "the member name 'pkg//' contains an empty segment"
    )


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "a member has an empty name"),
        ("pkg/a\x00.py", "the member name 'pkg/a\\u0000.py' contains the control character U+0000"),
        ("pkg/a\n.py", "the member name 'pkg/a\\u000a.py' contains the control character U+000A"),
        ("pkg/a\r", "the member name 'pkg/a\\u000d' contains the control character U+000D"),
        ("pkg/a\t", "the member name 'pkg/a\\u0009' contains the control character U+0009"),
        ("pkg/\x1b[31m", "the member name 'pkg/\\u001b[31m' contains the control character U+001B"),
        ("pkg/\x7f", "the member name 'pkg/\\u007f' contains the control character U+007F"),
        ("pkg/\x85", "the member name 'pkg/\\u0085' contains the control character U+0085"),
        (
            "pkg/\u202eyp.exe",
            "the member name 'pkg/\\u202eyp.exe' contains the control character U+202E",
        ),
        ("pkg/\u2066x", "the member name 'pkg/\\u2066x' contains the control character U+2066"),
        ("pkg\\evil.py", "the member name 'pkg\\evil.py' contains a backslash"),
        ("/etc/passwd", "the member name '/etc/passwd' is an absolute path"),
        ("C:x", "the member name 'C:x' starts with a drive letter"),
        ("c:/x", "the member name 'c:/x' starts with a drive letter"),
        ("../x", "the member name '../x' contains a '..' segment"),
        ("pkg/../../x", "the member name 'pkg/../../x' contains a '..' segment"),
        ("pkg/..", "the member name 'pkg/..' contains a '..' segment"),
        ("./x", "the member name './x' contains a '.' segment"),
        ("a/./b", "the member name 'a/./b' contains a '.' segment"),
        ("a//b", "the member name 'a//b' contains an empty segment"),
    ],
)
def test_names_readers_disagree_on_are_refused(name, problem):
    assert member_name_problem(name) == problem


def test_printable_name_never_carries_a_control_character():
    assert printable_name("a\x1b\u202e") == "'a\\u001b\\u202e'"


@pytest.mark.parametrize(
    ("first", "second"),
    [("pkg/Foo.py", "pkg/foo.py"), ("pkg/caf\u00e9", "pkg/cafe\u0301"), ("pkg/", "pkg")],
)
def test_twins_share_a_key(first, second):
    assert member_name_key(first) == member_name_key(second)


def test_different_names_have_different_keys():
    assert member_name_key("pkg/a.py") != member_name_key("pkg/b.py")
