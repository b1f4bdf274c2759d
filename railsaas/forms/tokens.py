"""The form that creates a personal API token. Scopes nest (read < deploy < admin), so the
page offers one access level; accounts/api_tokens.py checks everything again."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from railsaas.accounts import api_tokens

ACCESS_LEVELS = [
    SelectChoice("read", "Read: look at instances, templates, billing"),
    SelectChoice("deploy", "Deploy: also deploy and manage instances"),
    SelectChoice("admin", "Admin: also manage this workspace and its tokens"),
]
EXPIRY_CHOICES = [
    SelectChoice(7, "7 days"),
    SelectChoice(30, "30 days"),
    SelectChoice(90, "90 days"),
    SelectChoice(365, "1 year"),
]


class TokenForm(FlaskForm):
    name = StringField(
        "Name",
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
        validators=[DataRequired("Name the token."), Length(max=api_tokens.NAME_MAX)],
    )
    scope = RadioField(
        "Access",
        choices=ACCESS_LEVELS,
        default="read",
        validators=[DataRequired("Choose an access level.")],
    )
    expires_in_days = SelectField(
        "Expires after", choices=EXPIRY_CHOICES, coerce=int, default=api_tokens.DEFAULT_DAYS
    )
    submit = SubmitField("Create token")
