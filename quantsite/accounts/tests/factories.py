import factory
from oauth2_provider.models import Application

from quantsite.accounts.models import ApplicationPolicy, User

PASSWORD = "correct-horse-battery-staple"
CLIENT_SECRET = "s3cret-" + "x" * 40


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.org")
    name = factory.Faker("name")
    password = factory.django.Password(PASSWORD)


class ApplicationFactory(factory.django.DjangoModelFactory):
    """A confidential authorization-code client; its plain secret is ``CLIENT_SECRET``."""

    class Meta:
        model = Application

    name = factory.Sequence(lambda n: f"Client {n}")
    client_type = Application.CLIENT_CONFIDENTIAL
    authorization_grant_type = Application.GRANT_AUTHORIZATION_CODE
    redirect_uris = "http://127.0.0.1:9999/callback"
    client_secret = CLIENT_SECRET
    algorithm = Application.RS256_ALGORITHM
    skip_authorization = False


class ApplicationPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ApplicationPolicy

    application = factory.SubFactory(ApplicationFactory)
    allowed_scopes = "openid profile email"
