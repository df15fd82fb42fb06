"""Signed, expiring links for confirming a sign-up (Django's password-reset token machinery)."""

from django.contrib.auth.tokens import PasswordResetTokenGenerator


class SignupConfirmationTokenGenerator(PasswordResetTokenGenerator):
    """Tokens for the sign-up confirmation link: valid for ``PASSWORD_RESET_TIMEOUT`` and only
    while the sign-up is pending (following the link once ends it)."""

    key_salt = "quantsite.accounts.tokens.SignupConfirmationTokenGenerator"

    def _make_hash_value(self, user, timestamp: int) -> str:
        return f"{user.pk}{user.password}{user.signup_pending}{user.email}{timestamp}"


signup_confirmation_token = SignupConfirmationTokenGenerator()
