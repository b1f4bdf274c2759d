"""The GraphQL documents the client sends, loaded by name from `operations/*.graphql`.

One file per operation or fragment, named after it. An operation's document is sent with the
fragments it spreads (transitively) appended. Batch documents are built from a one-field
template file (`DeploymentStatuses`, `ServiceStatuses`): the field is repeated under aliases
with numbered variables, so many lookups cost one request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    OperationDefinitionNode,
    parse,
    print_ast,
)
from graphql.language import Visitor, visit

OPERATIONS_DIR = Path(__file__).resolve().parent / "operations"


@dataclass(frozen=True)
class Operation:
    name: str
    kind: str  # "query" or "mutation"
    text: str  # the operation and the fragments it uses, printed without comments


@dataclass(frozen=True)
class BatchTemplate:
    name: str
    variables: tuple[tuple[str, str], ...]  # (name, printed type)
    field: str  # the printed root field, aliasless
    fragments: str


class _Spreads(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_args) -> None:
        self.names.add(node.name.value)


@cache
def _definitions() -> tuple[dict[str, OperationDefinitionNode], dict[str, FragmentDefinitionNode]]:
    operations: dict[str, OperationDefinitionNode] = {}
    fragments: dict[str, FragmentDefinitionNode] = {}
    for path in sorted(OPERATIONS_DIR.glob("*.graphql")):
        doc = parse(path.read_text())
        if len(doc.definitions) != 1:
            raise ValueError(f"{path.name}: one operation or fragment per file")
        (node,) = doc.definitions
        name = node.name.value if node.name else ""
        if name != path.stem:
            raise ValueError(f"{path.name} defines {name!r}; the file must be named after it")
        if isinstance(node, FragmentDefinitionNode):
            fragments[name] = node
        elif isinstance(node, OperationDefinitionNode):
            operations[name] = node
        else:
            raise ValueError(f"{path.name}: unexpected {node.kind}")
    return operations, fragments


def _fragments_for(node) -> list[FragmentDefinitionNode]:
    _, fragments = _definitions()
    seen: dict[str, FragmentDefinitionNode] = {}
    todo = [node]
    while todo:
        spreads = _Spreads()
        visit(todo.pop(), spreads)
        for name in sorted(spreads.names - seen.keys()):
            seen[name] = fragments[name]
            todo.append(fragments[name])
    return [seen[n] for n in sorted(seen)]


def operation_names() -> list[str]:
    return sorted(_definitions()[0])


@cache
def operation(name: str) -> Operation:
    """The operation `name` with its fragments, ready to send."""
    operations, _ = _definitions()
    try:
        node = operations[name]
    except KeyError:
        raise KeyError(f"no operation {name!r} in {OPERATIONS_DIR}") from None
    doc = DocumentNode(definitions=(node, *_fragments_for(node)))
    return Operation(name=name, kind=node.operation.value, text=print_ast(doc))


@cache
def batch_template(name: str) -> BatchTemplate:
    operations, _ = _definitions()
    node = operations[name]
    selections = node.selection_set.selections
    if len(selections) != 1 or not isinstance(selections[0], FieldNode):
        raise ValueError(f"{name}: a batch template has exactly one root field")
    variables = tuple((v.variable.name.value, print_ast(v.type)) for v in node.variable_definitions)
    fragments = "\n\n".join(print_ast(f) for f in _fragments_for(node))
    return BatchTemplate(
        name=name, variables=variables, field=print_ast(selections[0]), fragments=fragments
    )


_VARIABLE = re.compile(r"\$([_A-Za-z][_0-9A-Za-z]*)")


def batch(name: str, count: int, alias_prefix: str) -> Operation:
    """`count` copies of the template's root field, aliased `<prefix>0..`, with variables
    renamed `$<var>_<i>`. Fill them with `batch_variables`."""
    if count < 1:
        raise ValueError("a batch needs at least one item")
    tpl = batch_template(name)
    field = " ".join(tpl.field.split())  # one line per alias: 100 aliases stay small
    var_defs = ", ".join(f"${var}_{i}: {typ}" for i in range(count) for var, typ in tpl.variables)
    fields = "\n".join(
        f"  {alias_prefix}{i}: " + _VARIABLE.sub(lambda m, i=i: f"${m.group(1)}_{i}", field)
        for i in range(count)
    )
    text = f"query {name}({var_defs}) {{\n{fields}\n}}"
    if tpl.fragments:
        text += "\n\n" + tpl.fragments
    return Operation(name=name, kind="query", text=text)


def batch_variables(items: list[dict[str, str]]) -> dict[str, str]:
    return {f"{k}_{i}": v for i, item in enumerate(items) for k, v in item.items()}
