"""Report model and renderers (json, text, markdown, github, html)."""
