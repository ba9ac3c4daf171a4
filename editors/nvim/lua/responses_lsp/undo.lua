--- The `workspace/applyEdit` handler for responses-lsp clients: one undo step per action.
---
--- A job streams its rewrite as many small edits, labelled `responses-lsp job <id>: <intent>`.
--- Applied one by one from the event loop, each would be its own undo step. In single-undo mode
--- every edit of a job after its first one in a buffer is applied after `:undojoin`, so one `u`
--- undoes the whole action (DESIGN I8). The join is only made while the buffer is exactly as our
--- previous edit left it (same `b:changedtick`): if the user typed, undid or saved in between, the
--- job starts a new undo block instead of swallowing the user's change into its own. Edits with
--- other labels go to the default handler; ours are applied without its `print` per edit.

local M = {}

--- Join a job's edits into one undo step (set by `setup()`).
M.single_undo = true

local LABEL = '^responses%-lsp job (%d+)'

--- [client_id .. ':' .. job] = { [bufnr] = changedtick after our last edit }
local ticks = {} ---@type table<string, table<integer, integer>>

--- The one loaded buffer an edit changes, or nil (several files, resource operations).
---@param edit lsp.WorkspaceEdit
---@return integer?
local function single_buffer(edit)
  local uris = {} ---@type table<string, true>
  for _, change in ipairs(edit.documentChanges or {}) do
    if not change.textDocument then
      return nil -- create/rename/delete file
    end
    uris[change.textDocument.uri] = true
  end
  for uri in pairs(edit.changes or {}) do
    uris[uri] = true
  end
  local only = next(uris)
  if only == nil or next(uris, only) ~= nil then
    return nil
  end
  local bufnr = vim.uri_to_bufnr(only)
  return vim.api.nvim_buf_is_loaded(bufnr) and bufnr or nil
end

---@param edit lsp.WorkspaceEdit
---@param encoding string
---@return boolean applied, string? failure
local function apply(edit, encoding)
  local ok, err = pcall(vim.lsp.util.apply_workspace_edit, edit, encoding)
  return ok, (not ok) and tostring(err) or nil
end

--- Apply `edit` to `bufnr`, joined to the job's previous edit when nothing happened in between.
---@return boolean applied, string? failure
local function apply_joined(key, bufnr, edit, encoding)
  local state = ticks[key] or {}
  ticks[key] = state
  local ok, failure
  vim.api.nvim_buf_call(bufnr, function()
    local before = vim.api.nvim_buf_get_changedtick(bufnr)
    -- undojoin fails after an undo (E790); then this edit simply starts a new block
    local joined = state[bufnr] == before and pcall(vim.cmd.undojoin)
    ok, failure = apply(edit, encoding)
    local after = vim.api.nvim_buf_get_changedtick(bufnr)
    if joined and after == before then
      -- Nothing changed (e.g. a stale versioned edit Neovim skipped): close the block again so
      -- that the user's next change is not joined to ours. Setting 'undolevels' syncs undo.
      vim.cmd('let &undolevels = &undolevels')
    end
    state[bufnr] = after
  end)
  return ok, failure
end

--- Handler for `workspace/applyEdit` (install it as a client handler).
---@param err lsp.ResponseError?
---@param params lsp.ApplyWorkspaceEditParams
---@param ctx lsp.HandlerContext
function M.apply_edit(err, params, ctx)
  local job = params and type(params.label) == 'string' and params.label:match(LABEL)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  if not job or not client then
    return vim.lsp.handlers['workspace/applyEdit'](err, params, ctx)
  end
  local bufnr = M.single_undo and single_buffer(params.edit) or nil
  local ok, failure
  if bufnr then
    ok, failure =
      apply_joined(ctx.client_id .. ':' .. job, bufnr, params.edit, client.offset_encoding)
  else
    ok, failure = apply(params.edit, client.offset_encoding)
  end
  return { applied = ok, failureReason = failure }
end

--- Forget a finished job.
---@param client_id integer
---@param job integer|string
function M.forget(client_id, job)
  ticks[client_id .. ':' .. tostring(job)] = nil
end

--- Forget every job of `client_id` in `bufnr` (called when none of its jobs runs there any
--- more): the next action's first edit then always starts a new undo step, whatever id its
--- edits are labelled with.
---@param client_id integer
---@param bufnr integer
function M.forget_buffer(client_id, bufnr)
  local prefix = client_id .. ':'
  for key, state in pairs(ticks) do
    if key:sub(1, #prefix) == prefix then
      state[bufnr] = nil
      if next(state) == nil then
        ticks[key] = nil
      end
    end
  end
end

return M
