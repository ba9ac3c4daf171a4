---@brief
---
--- responses-lsp: AI code actions (refactor to async, add type hints, add docstrings, fix
--- diagnostics, edit with an instruction) that stream the model's rewrite into the buffer over the
--- OpenAI Responses API.
---
--- Install the server, then enable this config (Neovim 0.11+):
--- ```sh
--- uv tool install ~/responses-lsp       # a clone; puts `responses-lsp` in ~/.local/bin
--- export OPENAI_API_KEY=sk-...            # read by the server; never put the key in this file
--- ```
--- ```lua
--- vim.lsp.enable('responses_lsp')
--- require('responses_lsp').setup()  -- optional: :ResponsesAction, :ResponsesCancel, one-`u` undo
--- ```
---
--- To run the server from a virtual environment instead of the `responses-lsp` script on $PATH:
--- ```lua
--- vim.lsp.config('responses_lsp', { cmd = { '/path/to/venv/bin/python', '-m', 'responses_lsp' } })
--- ```
---
--- Settings live under `responsesLsp` (camelCase keys, see editors/nvim/README.md). Put them in
--- `init_options` (read at start) or in `settings` (also answered to `workspace/configuration`,
--- which wins). Every key is optional; the server's defaults are shown below. `baseUrl` and the
--- key also come from $OPENAI_BASE_URL and $OPENAI_API_KEY: leave them out here to keep that.
--- ```lua
--- vim.lsp.config('responses_lsp', {
---   init_options = {
---     responsesLsp = {
---       -- baseUrl = 'https://api.openai.com', -- host only; /v1/responses is appended
---       -- apiKeyEnv = 'OPENAI_API_KEY',        -- environment variable holding the key
---       -- model = 'gpt-5.2-codex',
---       -- reasoningEffort = nil,               -- none|minimal|low|medium|high|xhigh
---       -- requestTimeout = 60, streamIdleTimeout = 120, maxRetries = 3,
---       -- flushIntervalMs = 34,                -- minimum ms between two streamed edits
---       -- session = 'workspace',               -- workspace|document|off
---       -- compactThreshold = nil, contextWindow = 272000, contextChars = 6000,
---       -- actions = {},                        -- { { id=, title=, kind=, prompt=, languages= } }
---       -- keepPartialOnCancel = false,
---       -- denyPatterns = {}, maxToolSteps = 12, -- multi-file actions: unreadable globs, rounds
---       -- logLevel = 'info',                   -- error|warning|info|debug (window/logMessage)
---     },
---   },
--- })
--- ```

---@type vim.lsp.Config
return {
  cmd = { 'responses-lsp' },
  filetypes = {
    'c',
    'cpp',
    'cs',
    'css',
    'dart',
    'elixir',
    'go',
    'haskell',
    'html',
    'java',
    'javascript',
    'javascriptreact',
    'kotlin',
    'lua',
    'ocaml',
    'php',
    'python',
    'ruby',
    'rust',
    'scala',
    'sh',
    'sql',
    'swift',
    'typescript',
    'typescriptreact',
    'vue',
    'zig',
  },
  root_markers = {
    {
      'pyproject.toml',
      'setup.py',
      'package.json',
      'Cargo.toml',
      'go.mod',
      'pom.xml',
      'build.gradle',
      'Gemfile',
      'composer.json',
      'Makefile',
    },
    '.git',
  },
  -- LSP language ids where Neovim's filetype differs (the server filters actions by language).
  get_language_id = function(_, filetype)
    return ({ cs = 'csharp', sh = 'shellscript' })[filetype] or filetype
  end,
  init_options = {
    responsesLsp = {},
  },
}
