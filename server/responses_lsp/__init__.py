"""responses-lsp: AI code actions over the OpenAI Responses API, as a language server."""

__version__ = "0.1.0"
