"""Request and response bodies of the JSON API as pydantic v2 models, one module per area.

They are the single description of the wire format: views validate with them
(railsaas.blueprints.api.validation) and serialise through them, and the OpenAPI document is
generated from them.
"""
