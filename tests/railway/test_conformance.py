"""Every document we send validates against Railway's own schema, and the emulator's schema
agrees with Railway's for everything it declares."""

from __future__ import annotations

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
    parse,
    validate,
    validate_schema,
)

from railsaas.railway import documents

BUILTIN_SCALARS = {"String", "Int", "Float", "Boolean", "ID"}


@pytest.mark.parametrize("name", documents.operation_names())
def test_every_operation_document_validates_against_railways_schema(railway_schema, name):
    errors = validate(railway_schema, parse(documents.operation(name).text))
    assert not errors, [e.message for e in errors]


@pytest.mark.parametrize(
    ("name", "prefix"),
    [("DeploymentStatuses", "d"), ("ServiceStatuses", "s"), ("CustomDomainStatuses", "c")],
)
@pytest.mark.parametrize("size", [1, 3, 100])
def test_batched_documents_validate_against_railways_schema(railway_schema, name, prefix, size):
    op = documents.batch(name, size, prefix)
    errors = validate(railway_schema, parse(op.text))
    assert not errors, [e.message for e in errors]


def test_operations_are_sent_by_name_with_every_fragment_they_use():
    op = documents.operation("LatestDeployment")
    assert op.name == "LatestDeployment"
    assert op.kind == "query"
    assert "fragment ServiceInstanceStatusFields" in op.text
    assert "fragment DeploymentFields" in op.text  # spread inside the other fragment
    assert documents.operation("ProjectCreate").kind == "mutation"


def test_the_emulator_schema_is_a_valid_schema():
    from devtools.emulators.railway.resolvers import schema

    assert not validate_schema(schema())


def _kind(t) -> str:
    for cls, name in (
        (GraphQLObjectType, "object"),
        (GraphQLInputObjectType, "input"),
        (GraphQLEnumType, "enum"),
        (GraphQLScalarType, "scalar"),
        (GraphQLInterfaceType, "interface"),
        (GraphQLUnionType, "union"),
    ):
        if isinstance(t, cls):
            return name
    return type(t).__name__


def _required(arg) -> bool:
    return str(arg.type).endswith("!") and _no_default(arg)


def _no_default(arg) -> bool:
    from graphql.pyutils import Undefined

    return arg.default_value is Undefined


def test_the_emulator_schema_agrees_with_railways_for_every_type_and_field(railway_schema):
    from devtools.emulators.railway.resolvers import schema

    ours = schema()
    problems: list[str] = []
    for name, ours_type in ours.type_map.items():
        if name.startswith("__") or name in BUILTIN_SCALARS:
            continue
        theirs = railway_schema.type_map.get(name)
        if theirs is None:
            problems.append(f"type {name} is not in Railway's schema")
            continue
        if _kind(ours_type) != _kind(theirs):
            problems.append(f"{name} is a {_kind(ours_type)} here, a {_kind(theirs)} there")
            continue
        if isinstance(ours_type, GraphQLEnumType):
            if set(ours_type.values) != set(theirs.values):
                problems.append(
                    f"enum {name}: {sorted(ours_type.values)} here, {sorted(theirs.values)} there"
                )
            continue
        if isinstance(ours_type, (GraphQLObjectType, GraphQLInterfaceType)):
            for fname, field in ours_type.fields.items():
                other = theirs.fields.get(fname)
                if other is None:
                    problems.append(f"{name}.{fname} is not in Railway's schema")
                    continue
                if str(field.type) != str(other.type):
                    problems.append(f"{name}.{fname}: {field.type} here, {other.type} there")
                for aname, arg in field.args.items():
                    other_arg = other.args.get(aname)
                    if other_arg is None:
                        problems.append(f"{name}.{fname}({aname}) is not in Railway's schema")
                    elif str(arg.type) != str(other_arg.type):
                        problems.append(
                            f"{name}.{fname}({aname}): {arg.type} here, {other_arg.type} there"
                        )
                    elif not _no_default(arg) and arg.default_value != other_arg.default_value:
                        problems.append(f"{name}.{fname}({aname}) default differs")
                for aname, other_arg in other.args.items():
                    if _required(other_arg) and aname not in field.args:
                        problems.append(f"{name}.{fname} lacks required argument {aname}")
        if isinstance(ours_type, GraphQLInputObjectType):
            for fname, field in ours_type.fields.items():
                other = theirs.fields.get(fname)
                if other is None:
                    problems.append(f"input {name}.{fname} is not in Railway's schema")
                elif str(field.type) != str(other.type):
                    problems.append(f"input {name}.{fname}: {field.type} here, {other.type} there")
                elif not _no_default(field) and field.default_value != other.default_value:
                    problems.append(
                        f"input {name}.{fname} default: {field.default_value!r} "
                        f"here, {other.default_value!r} there"
                    )
            for fname, other in theirs.fields.items():
                if _required(other) and fname not in ours_type.fields:
                    problems.append(f"input {name} lacks required field {fname}")
    assert not problems, "\n".join(problems)


def test_the_emulator_serves_every_operation_the_client_sends():
    """Each root field our documents use has a resolver in the emulator."""
    from devtools.emulators.railway.resolvers import schema

    ours = schema()
    for name in documents.operation_names():
        doc = parse(documents.operation(name).text)
        assert not validate(ours, doc), name
        op = doc.definitions[0]
        root = ours.mutation_type if op.operation.value == "mutation" else ours.query_type
        for sel in op.selection_set.selections:
            assert root.fields[sel.name.value].resolve is not None, (name, sel.name.value)
