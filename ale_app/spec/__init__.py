"""The spec: pydantic models (versioned), YAML/JSON loading with line numbers, the JSON Schema.

May import: ale_app.errors, ale_app.constants and this wing.
"""
