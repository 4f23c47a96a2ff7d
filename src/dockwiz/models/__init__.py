"""The data that crosses a boundary: host state, intent, plan, results (pydantic models)."""
