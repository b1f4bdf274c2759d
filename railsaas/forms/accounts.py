"""Sign-up, sign-in, password and profile forms. Rules that the API shares (password policy,
email syntax) live in the services; the validators here call them, so a browser user and an
API client get the same messages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from railsaas.accounts import auth, passwords
from railsaas.errors import ValidationFailed


def strip(value):
    return value.strip() if isinstance(value, str) else value


class PasswordPolicy:
    def __call__(self, form, field) -> None:
        error = passwords.policy_error(field.data or "")
        if error:
            raise ValidationError(error)


class EmailAddress:
    def __call__(self, form, field) -> None:
        try:
            auth.normalize_email(field.data)
        except ValidationFailed as exc:
            raise ValidationError(exc.message) from None


PASSWORD_HINT = "At least 12 characters (at most 72 bytes: emoji and accents count more)."  # noqa: S105


class LoginForm(FlaskForm):
    # No format check: a typo must fail like any other wrong credential.
    email = EmailField("Email", filters=[strip], validators=[DataRequired("Enter your email.")])
    password = PasswordField("Password", validators=[DataRequired("Enter your password.")])
    submit = SubmitField("Log in")


class RegisterForm(FlaskForm):
    name = StringField(
        "Your name", filters=[strip], validators=[DataRequired("Enter your name."), Length(max=255)]
    )
    email = EmailField(
        "Email",
        filters=[strip],
        validators=[DataRequired("Enter your email address."), EmailAddress()],
    )
    password = PasswordField(
        "Password", validators=[DataRequired("Choose a password."), PasswordPolicy()]
    )
    submit = SubmitField("Create account")


class ForgotForm(FlaskForm):
    email = EmailField(
        "Email", filters=[strip], validators=[DataRequired("Enter your email address.")]
    )
    submit = SubmitField("Send me a link")


class ResendForm(FlaskForm):
    email = EmailField(
        "Email", filters=[strip], validators=[DataRequired("Enter your email address.")]
    )
    submit = SubmitField("Send the link again")


class ResetForm(FlaskForm):
    password = PasswordField(
        "New password", validators=[DataRequired("Choose a password."), PasswordPolicy()]
    )
    confirm = PasswordField(
        "Repeat it",
        validators=[
            DataRequired("Repeat the password."),
            EqualTo("password", "The two passwords differ."),
        ],
    )
    submit = SubmitField("Set password")


class NameForm(FlaskForm):
    name = StringField(
        "Name", filters=[strip], validators=[DataRequired("Enter your name."), Length(max=255)]
    )
    submit = SubmitField("Save name")


class EmailChangeForm(FlaskForm):
    new_email = EmailField(
        "New email",
        filters=[strip],
        validators=[DataRequired("Enter the new address."), EmailAddress()],
    )
    current_password = PasswordField(
        "Current password", validators=[DataRequired("Enter your current password.")]
    )
    submit = SubmitField("Change email")


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(
        "Current password", validators=[DataRequired("Enter your current password.")]
    )
    new_password = PasswordField(
        "New password", validators=[DataRequired("Choose a password."), PasswordPolicy()]
    )
    confirm = PasswordField(
        "Repeat the new password",
        validators=[
            DataRequired("Repeat the new password."),
            EqualTo("new_password", "The two passwords differ."),
        ],
    )
    submit = SubmitField("Change password")


class SecondFactorForm(FlaskForm):
    """The sign-in's second step: a code from the app or a recovery code."""

    code = StringField(
        "Code",
        filters=[strip],
        validators=[DataRequired("Enter the code from your app."), Length(max=64)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True},
    )
    remember = BooleanField("Remember this browser")
    submit = SubmitField("Verify")


class TwoFactorCodeForm(FlaskForm):
    """A current code: confirming the enrolment, making new recovery codes."""

    code = StringField(
        "Code from your app",
        filters=[strip],
        validators=[DataRequired("Enter the 6-digit code from your app."), Length(max=64)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )
    submit = SubmitField("Confirm")


class TwoFactorDisableForm(FlaskForm):
    password = PasswordField("Your password", validators=[DataRequired("Enter your password.")])
    code = StringField(
        "Code from your app (or a recovery code)",
        filters=[strip],
        validators=[DataRequired("Enter a code."), Length(max=64)],
        render_kw={"autocomplete": "one-time-code"},
    )
    submit = SubmitField("Turn off two-factor sign-in")
