--- `:checkhealth responses_lsp`: can the server start, which endpoint and key it will use, and
--- the last error. The key itself is never shown (only where it comes from and its length).

local M = {}

local DEFAULT_BASE_URL = 'https://api.openai.com'

---@return table settings  the `responsesLsp` settings of the config (settings win over init_options)
local function settings_of(config)
  local init = (config.init_options or {}).responsesLsp or {}
  local live = (config.settings or {}).responsesLsp or {}
  return vim.tbl_extend('force', init, live)
end

function M.check()
  local health = vim.health
  local rlsp = require('responses_lsp')
  local status = require('responses_lsp.status')
  local name = rlsp.config.name
  local config = vim.lsp.config[name]

  health.start('responses-lsp: server')
  if not config then
    health.error(('no vim.lsp.config entry %q'):format(name), {
      "put editors/nvim on the runtimepath (it provides lsp/responses_lsp.lua)",
    })
    return
  end
  local enabled = vim.lsp.is_enabled == nil or vim.lsp.is_enabled(name)
  if enabled then
    health.ok(('config %q is enabled'):format(name))
  else
    health.warn(('config %q is not enabled'):format(name), { ("vim.lsp.enable('%s')"):format(name) })
  end
  local cmd, problem = status.executable_problem(name)
  if type(cmd) == 'function' then
    health.info('cmd is a function: not checked')
  elseif problem then
    health.error(problem, { status.INSTALL_HINT })
  elseif type(cmd) == 'table' then
    health.ok(('executable: %s'):format(vim.fn.exepath(cmd[1])))
    local argv = vim.list_extend(vim.deepcopy(cmd), { '--version' })
    local ok, done = pcall(function()
      return vim.system(argv, { text = true }):wait(15000)
    end)
    if ok and done.code == 0 then
      health.ok(('version: %s'):format(vim.trim(done.stdout or '')))
    else
      local why = ok and vim.trim((done.stderr or '') .. ' (exit ' .. tostring(done.code) .. ')')
        or tostring(done)
      health.error(('`%s --version` failed: %s'):format(table.concat(cmd, ' '), why))
    end
  end

  health.start('responses-lsp: endpoint and key')
  local settings = settings_of(config)
  local base_url, source = settings.baseUrl, 'settings (responsesLsp.baseUrl)'
  if not base_url or base_url == '' then
    base_url, source = vim.env.OPENAI_BASE_URL, '$OPENAI_BASE_URL'
  end
  if not base_url or base_url == '' then
    base_url, source = DEFAULT_BASE_URL, 'the default'
  end
  health.info(('endpoint: %s/v1/responses (from %s)'):format(base_url:gsub('/v1/?$', ''):gsub('/$', ''), source))
  if settings.apiKey and settings.apiKey ~= vim.NIL and settings.apiKey ~= '' then
    health.warn(('API key: set in the config (responsesLsp.apiKey, %d characters)'):format(#settings.apiKey), {
      'prefer the environment variable named by apiKeyEnv: a config file is easily shared',
    })
  else
    local env_name = settings.apiKeyEnv or 'OPENAI_API_KEY'
    local key = vim.env[env_name]
    if key and key ~= '' then
      health.ok(('API key: set in $%s (%d characters)'):format(env_name, #key))
    else
      health.error(('API key: $%s is not set'):format(env_name), {
        ('export %s=... in the shell that starts Neovim'):format(env_name),
        'or try it without a key: `responses-lsp demo --serve`',
      })
    end
  end
  health.info(('model: %s'):format(settings.model or 'gpt-5.2-codex (the default)'))

  health.start('responses-lsp: state')
  local clients = vim.tbl_filter(rlsp.is_ours, vim.lsp.get_clients())
  health.info(('running clients: %d'):format(#clients))
  if status.last_error then
    health.warn(('last error (%s): %s'):format(status.last_error.at, status.last_error.message))
  else
    health.ok('last error: none')
  end
end

return M
