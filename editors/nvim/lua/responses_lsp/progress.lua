--- Shows the server's work-done progress (the `LspProgress` autocmd) for responses-lsp clients.
---
--- `echo` writes one line in the command area: begin and reports replace each other without
--- entering the message history (reports at most every `REPORT_INTERVAL_MS`), the end message is
--- kept in `:messages`. `notify` sends begin and end through `vim.notify` (no reports). A function
--- receives the autocmd event. Other servers' progress is left alone.

local M = {}

local REPORT_INTERVAL_MS = 250

local titles = {} ---@type table<string, string>  token -> title of its begin
local last_report = 0

---@param text string
---@param keep boolean
local function echo(text, keep)
  vim.api.nvim_echo({ { text } }, keep, {})
end

---@param style 'echo'|'notify'|fun(ev: table)
---@param is_ours fun(client: vim.lsp.Client): boolean
---@param group integer
function M.attach(style, is_ours, group)
  vim.api.nvim_create_autocmd('LspProgress', {
    group = group,
    desc = 'responses-lsp: show progress',
    callback = function(ev)
      local client = vim.lsp.get_client_by_id(ev.data.client_id)
      if not client or not is_ours(client) then
        return
      end
      if type(style) == 'function' then
        return style(ev)
      end
      local params = ev.data.params
      local value = params.value
      local token = tostring(params.token)
      if value.kind == 'begin' then
        titles[token] = value.title
      end
      local title = titles[token] or 'responses-lsp'
      local text = value.message and (title .. ': ' .. value.message) or title
      if value.kind == 'end' then
        titles[token] = nil
        if style == 'notify' then
          vim.notify(text, vim.log.levels.INFO)
        else
          echo(text, true)
        end
      elseif value.kind == 'begin' then
        if style == 'notify' then
          vim.notify(text, vim.log.levels.INFO)
        else
          echo(text, false)
        end
      elseif style == 'echo' then
        local now = vim.uv.now()
        if now - last_report >= REPORT_INTERVAL_MS then
          last_report = now
          echo(text, false)
        end
      end
    end,
  })
end

return M
