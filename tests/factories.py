import factory
from django.contrib.auth.hashers import make_password

from accounts.models import Email, User, WebAuthnCredential
from projects.models import File, Project, Release, Role
from projects.names import ultranormalize_project_name


class UserFactory(factory.django.DjangoModelFactory):
    """A user with a verified primary email. `password` is hashed by the real hasher."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    name = factory.Faker("name")
    password = factory.LazyFunction(lambda: "correct horse battery staple")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        kwargs["password"] = make_password(kwargs["password"])
        return super()._create(model_class, *args, **kwargs)

    @factory.post_generation
    def email(self, create, extracted, **kwargs):
        if not create:
            return
        Email.objects.create(
            user=self,
            email=extracted or f"{self.username}@example.com",
            is_primary=True,
            is_verified=kwargs.get("verified", True),
        )


class TwoFactorUserFactory(UserFactory):
    """A user the 2FA policy lets act: they hold a (test-only) security key row.

    Tests of the second factor itself enrol real credentials through the 2FA services.
    """

    @factory.post_generation
    def security_key(self, create, extracted, **kwargs):
        if create:
            WebAuthnCredential.objects.create(
                user=self,
                label="test key",
                credential_id=f"credential-of-{self.username}".encode(),
                public_key=b"not-a-real-key",
            )


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"sample-project-{n}")
    normalized_name = factory.LazyAttribute(lambda o: o.name.lower().replace("_", "-"))
    ultranormalized_name = factory.LazyAttribute(lambda o: ultranormalize_project_name(o.name))


class RoleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Role

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.Kind.OWNER


class ReleaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Release

    project = factory.SubFactory(ProjectFactory)
    version = factory.Sequence(lambda n: f"1.{n}")
    canonical_version = factory.LazyAttribute(lambda o: o.version)


class FileFactory(factory.django.DjangoModelFactory):
    """A File row; its bytes are not in storage unless the test writes them to `path`."""

    class Meta:
        model = File

    release = factory.SubFactory(ReleaseFactory)
    filename = factory.Sequence(lambda n: f"sample_project-1.{n}-py3-none-any.whl")
    packagetype = File.PackageType.WHEEL
    python_version = "py3"
    size = 1234
    md5_digest = factory.Sequence(lambda n: f"{n:032x}")
    sha256_digest = factory.Sequence(lambda n: f"{n:064x}")
    blake2_256_digest = factory.Sequence(lambda n: f"{n + 1:064x}")
    path = factory.LazyAttribute(lambda o: f"{o.blake2_256_digest[:2]}/{o.filename}")
