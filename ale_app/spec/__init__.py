"""The spec: pydantic models (versioned), YAML/JSON loading with line numbers, the JSON Schema.

May import: the base modules (errors, constants, digests) and this wing.
"""
