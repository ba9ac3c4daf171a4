--- What `:checkhealth responses_lsp` reports besides the config: the last error, and whether
--- the server's executable is there (Neovim 0.11 skips a config whose `cmd[1]` is not
--- executable without a word; the module says so once, with the fix).

local M = {}

--- The last error seen: { message, at } or nil.
---@type { message: string, at: string }?
M.last_error = nil

---@param message string
function M.record_error(message)
  M.last_error = { message = message, at = os.date('%Y-%m-%d %H:%M:%S') }
end

--- How to install the server (the README's one line) and where it must be.
M.INSTALL_HINT = 'install it with `uv tool install ~/responses-lsp` (a clone; `uv tool update-shell`'
  .. ' puts ~/.local/bin on $PATH), or point `cmd` at it:'
  .. " vim.lsp.config('responses_lsp', { cmd = { '/path/to/responses-lsp' } })"

--- The config's command and what is wrong with it: (cmd, nil) when it can start, (cmd, why)
--- when Neovim would skip it.
---@param name string  the vim.lsp.config entry
---@return table|function|nil cmd, string? problem
function M.executable_problem(name)
  local config = vim.lsp.config[name]
  local cmd = config and config.cmd
  if type(cmd) ~= 'table' or not cmd[1] then
    return cmd, nil
  end
  if vim.fn.executable(cmd[1]) == 1 then
    return cmd, nil
  end
  return cmd, ('`%s` is not executable (not found on $PATH), so Neovim does not start the server'):format(cmd[1])
end

local told_missing = false

--- Tell the user once when the server cannot start because its executable is missing.
---@param name string  the vim.lsp.config entry
function M.check_executable(name)
  if told_missing then
    return
  end
  local _, problem = M.executable_problem(name)
  if problem then
    told_missing = true
    M.record_error(problem)
    vim.notify(
      'responses-lsp: ' .. problem .. '; ' .. M.INSTALL_HINT .. ' (:checkhealth responses_lsp)',
      vim.log.levels.WARN
    )
  end
end

return M
