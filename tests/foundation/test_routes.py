"""Every route that takes one of our ids parses it in the URL map (`<uuid:...>`, or `<int:...>`
for the integer keys), so a malformed id is a 404 before any view code runs."""

from werkzeug.routing import IntegerConverter, UUIDConverter

from tests.support import login_as

# Ids that are not ours: Railway's project ids are opaque strings.
FOREIGN_IDS = {"project_id"}


def test_every_id_in_a_route_has_a_converter(app):
    loose = []
    for rule in app.url_map.iter_rules():
        for name, converter in rule._converters.items():
            if (
                name.endswith("_id")
                and name not in FOREIGN_IDS
                and not isinstance(converter, UUIDConverter | IntegerConverter)
            ):
                loose.append(f"{rule.rule} ({rule.endpoint})")
    assert loose == []


def test_a_malformed_id_is_a_404(app, client, factory):
    user, _ = factory.workspace()
    login_as(app, client, user)
    for path in (
        "/instances/not-a-uuid",
        "/instances/not-a-uuid/logs",
        "/templates/nope",
        "/instances/1234/status",
    ):
        assert client.get(path).status_code == 404, path
