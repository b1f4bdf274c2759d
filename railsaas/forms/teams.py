"""Forms of the members, workspace and invitation pages. The rules (email syntax, password
policy, who may grant which role) live in the services; these only shape the input."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from railsaas.forms.accounts import EmailAddress, PasswordPolicy, strip
from railsaas.permissions import ROLE_LABELS


def role_choices(roles) -> list[tuple[str, str]]:
    return [(r, ROLE_LABELS[r]) for r in roles]


class InviteForm(FlaskForm):
    email = EmailField(
        "Email",
        filters=[strip],
        validators=[DataRequired("Enter their email address."), EmailAddress()],
    )
    role = SelectField("Role", default="member", validate_choice=False)
    submit = SubmitField("Invite")


class WorkspaceForm(FlaskForm):
    name = StringField(
        "Workspace name",
        filters=[strip],
        validators=[DataRequired("Name the workspace."), Length(max=100)],
    )
    submit = SubmitField("Create workspace")


class RenameForm(WorkspaceForm):
    submit = SubmitField("Rename")


class DeleteWorkspaceForm(FlaskForm):
    confirm_name = StringField(
        "Type the workspace's name to confirm",
        filters=[strip],
        validators=[DataRequired("Type the workspace's name.")],
    )
    submit = SubmitField("Delete this workspace")


class AcceptForm(FlaskForm):
    """Accepting an invitation with a new account: the address is the invited one."""

    name = StringField(
        "Your name", filters=[strip], validators=[DataRequired("Enter your name."), Length(max=255)]
    )
    password = PasswordField(
        "Choose a password", validators=[DataRequired("Choose a password."), PasswordPolicy()]
    )
    submit = SubmitField("Create account and join")
