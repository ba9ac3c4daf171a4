--- responses-lsp for Neovim 0.11+: commands, the instruction prompt, progress, one-`u` undo.
---
--- The server itself is configured by `lsp/responses_lsp.lua` and started by
--- `vim.lsp.enable('responses_lsp')`; plain `vim.lsp.buf.code_action()` works without this
--- module. `setup()` adds:
---   :[range]ResponsesAction [id]   pick one of our actions (no id) or run `id` on the lines
---   :ResponsesCancel[!]            cancel the AI edits of this buffer (!: of every buffer)
---   :ResponsesSession [show|reset|compact]
--- and, for every responses-lsp client: an instruction prompt (`vim.ui.input`) for actions that
--- need one, progress in the command area, and a `workspace/applyEdit` handler that makes one
--- action one undo step (see `responses_lsp.undo`). `responses-lsp.run` answers at once with
--- the job id; the job's end comes as the server's `responsesLsp/jobDone` notification (asked for
--- with `init_options.clientFeatures.jobDone`; without it, `responses-lsp.jobResult` is polled).
--- When a job ends it fires `User ResponsesJobDone` with `data = { client_id, bufnr, result, err }`.

local progress = require('responses_lsp.progress')
local undo = require('responses_lsp.undo')

local M = {}

local RUN = 'responses-lsp.run'
local CANCEL = 'responses-lsp.cancel'
local JOB_RESULT = 'responses-lsp.jobResult'
local JOB_DONE = 'responsesLsp/jobDone'
local POLL_MS = 250
local SESSION = {
  show = 'responses-lsp.session.show',
  reset = 'responses-lsp.session.reset',
  compact = 'responses-lsp.session.compact',
}
local BUILTIN_ACTIONS = {
  'refactor-to-async',
  'add-type-hints',
  'add-docstrings',
  'fix-diagnostics',
  'edit-with-instruction',
}

---@class responses_lsp.Opts
---@field name? string              name of the `vim.lsp.config` entry (default 'responses_lsp')
---@field single_undo? boolean      one `u` undoes a whole action (default true)
---@field progress? 'echo'|'notify'|false|fun(ev: table)  how to show progress (default 'echo')
---@field prompt? string            prompt of the instruction input (default 'Instruction: ')
---@field commands? boolean         create the user commands (default true)
local defaults = {
  name = 'responses_lsp',
  single_undo = true,
  progress = 'echo',
  prompt = 'Instruction: ',
  commands = true,
}

---@type responses_lsp.Opts
M.config = vim.deepcopy(defaults)

local function notify(message, level)
  vim.notify('responses-lsp: ' .. message, level or vim.log.levels.INFO)
end

--- Is `client` a responses-lsp client (by config name, or by what the server says it is)?
---@param client vim.lsp.Client
function M.is_ours(client)
  return client.name == M.config.name
    or (client.server_info ~= nil and client.server_info.name == 'responses-lsp')
end

---@param bufnr integer
---@return vim.lsp.Client?
local function client_for(bufnr)
  for _, client in ipairs(vim.lsp.get_clients({ bufnr = bufnr })) do
    if M.is_ours(client) then
      return client
    end
  end
  notify('no responses-lsp client is attached to this buffer', vim.log.levels.WARN)
end

--- User-defined actions (`responsesLsp.actions`) from the client's settings and init_options.
---@param client vim.lsp.Client
---@return table<string, table>
local function custom_actions(client)
  local found = {}
  for _, source in ipairs({ client.config.init_options or {}, client.settings or {} }) do
    local section = type(source) == 'table' and source.responsesLsp or nil
    local actions = type(section) == 'table' and section.actions or nil
    for _, action in ipairs(type(actions) == 'table' and actions or {}) do
      if type(action) == 'table' and type(action.id) == 'string' then
        found[action.id] = action
      end
    end
  end
  return found
end

---@param client vim.lsp.Client
---@param id string?
local function needs_instruction(client, id)
  if id == 'edit-with-instruction' then
    return true
  end
  local action = id and custom_actions(client)[id]
  return action ~= nil
    and type(action.prompt) == 'string'
    and action.prompt:find('{instruction}', 1, true) ~= nil
end

--- Runs of ours waiting for their result: [client_id .. ':' .. bufnr] = count.
local running = {} ---@type table<string, integer>

--- Started jobs waiting for `responsesLsp/jobDone`: [client_id .. ':' .. jobId] = bufnr (or
--- false for no buffer); and results that came before their job was registered.
local waiting = {} ---@type table<string, integer|false>
local early = {} ---@type table<string, table>

---@param client vim.lsp.Client
---@param bufnr integer?
---@param err lsp.ResponseError?
---@param result table?
local function finished(client, bufnr, err, result)
  if type(result) == 'table' and result.jobId then
    undo.forget(client.id, result.jobId)
  end
  local key = client.id .. ':' .. tostring(bufnr)
  running[key] = (running[key] or 1) - 1
  if running[key] <= 0 then
    running[key] = nil
    if bufnr then
      undo.forget_buffer(client.id, bufnr)
    end
  end
  if err then
    notify(err.message or tostring(err), vim.log.levels.ERROR)
  elseif type(result) == 'table' and not M.config.progress and (result.message or '') ~= '' then
    notify(result.message)
  end
  vim.api.nvim_exec_autocmds('User', {
    pattern = 'ResponsesJobDone',
    modeline = false,
    data = { client_id = client.id, bufnr = bufnr, result = result, err = err },
  })
end

--- Does `client` get `responsesLsp/jobDone` (it said so in its init_options)?
---@param client vim.lsp.Client
local function hears_job_done(client)
  local features = (client.config.init_options or {}).clientFeatures
  return type(features) == 'table' and features.jobDone == true
end

--- Ask `responses-lsp.jobResult` until the job is done (clients started without `jobDone`).
---@param client vim.lsp.Client
---@param bufnr integer?
---@param job_id integer
local function poll(client, bufnr, job_id)
  local key = client.id .. ':' .. job_id
  vim.defer_fn(function()
    if waiting[key] == nil or client:is_stopped() then
      return
    end
    client:request(
      'workspace/executeCommand',
      { command = JOB_RESULT, arguments = { { jobId = job_id } } },
      function(err, status)
        if waiting[key] == nil then
          return
        elseif err or type(status) ~= 'table' or status.state == 'unknown' then
          waiting[key] = nil
          finished(client, bufnr, err or { code = -32603, message = 'the job was lost' }, nil)
        elseif status.state == 'done' then
          waiting[key] = nil
          finished(client, bufnr, nil, status.result)
        else
          poll(client, bufnr, job_id)
        end
      end,
      bufnr
    )
  end, POLL_MS)
end

--- `responses-lsp.run` answered: a started job is waited for, anything else is its result.
---@param client vim.lsp.Client
---@param bufnr integer?
local function started(client, bufnr, err, answer)
  if err or type(answer) ~= 'table' or answer.outcome ~= 'started' or not answer.jobId then
    return finished(client, bufnr, err, answer)
  end
  local key = client.id .. ':' .. answer.jobId
  if early[key] then
    local result = early[key]
    early[key] = nil
    return finished(client, bufnr, nil, result)
  end
  waiting[key] = bufnr or false
  if not hears_job_done(client) then
    poll(client, bufnr, answer.jobId)
  end
end

--- Handler of the server's `responsesLsp/jobDone` notification.
---@param params table  the job's result (jobId, outcome, message, …, uri, action)
---@param ctx lsp.HandlerContext
local function job_done(_, params, ctx)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  if not client or type(params) ~= 'table' or not params.jobId then
    return
  end
  local key = client.id .. ':' .. params.jobId
  local bufnr = waiting[key]
  if bufnr == nil then
    early[key] = params -- its answer is still on the way (or another client ran it)
    return
  end
  waiting[key] = nil
  finished(client, bufnr or nil, nil, params)
end

--- Client-side handler of `responses-lsp.run` (code actions and :ResponsesAction end up here):
--- asks for the instruction when the action needs one, then starts the job on the server; it
--- ends (undo step closed, `User ResponsesJobDone`) when the server announces its end.
---@param command lsp.Command
---@param ctx lsp.HandlerContext
local function run_command(command, ctx)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  if not client then
    return
  end
  local args = vim.deepcopy((command.arguments or {})[1] or {})
  local bufnr = ctx.bufnr
  local function send()
    local key = client.id .. ':' .. tostring(bufnr)
    running[key] = (running[key] or 0) + 1
    local ok = client:request(
      'workspace/executeCommand',
      { command = RUN, arguments = { args } },
      function(err, answer)
        started(client, bufnr, err, answer)
      end,
      bufnr
    )
    if not ok then
      finished(client, bufnr, { code = -32803, message = 'the server is not running' }, nil)
    end
  end
  if needs_instruction(client, args.action) and vim.trim(args.instruction or '') == '' then
    vim.ui.input({ prompt = M.config.prompt }, function(input)
      if input and vim.trim(input) ~= '' then
        args.instruction = input
        send()
      end
    end)
  else
    send()
  end
end

--- The LSP range of lines `line1..line2` (1-based, inclusive), whole lines.
---@param bufnr integer
---@param encoding string
local function line_range(bufnr, line1, line2, encoding)
  local finish ---@type lsp.Position
  if line2 < vim.api.nvim_buf_line_count(bufnr) then
    finish = { line = line2, character = 0 }
  else
    local last = vim.api.nvim_buf_get_lines(bufnr, line2 - 1, line2, false)[1] or ''
    finish = { line = line2 - 1, character = vim.str_utfindex(last, encoding) }
  end
  return { start = { line = line1 - 1, character = 0 }, ['end'] = finish }
end

--- Diagnostics on the lines of `range`, as LSP diagnostics (for fix-diagnostics).
---@param bufnr integer
---@param range lsp.Range
local function diagnostics_in(bufnr, range)
  local first, last = range.start.line, range['end'].line
  if range['end'].character == 0 and last > first then
    last = last - 1
  end
  local found = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    if d.lnum >= first and d.lnum <= last then
      local lsp = d.user_data and d.user_data.lsp
      table.insert(found, lsp or {
        range = {
          start = { line = d.lnum, character = d.col },
          ['end'] = { line = d.end_lnum or d.lnum, character = d.end_col or d.col },
        },
        severity = d.severity,
        message = d.message,
        source = d.source,
        code = d.code,
      })
    end
  end
  return found
end

--- Run action `id` on lines `lines = { line1, line2 }` (or at the cursor); without `id`, list
--- our actions through `vim.lsp.buf.code_action()`.
---@param id string?
---@param lines integer[]?
function M.action(id, lines)
  local bufnr = vim.api.nvim_get_current_buf()
  local client = client_for(bufnr)
  if not client then
    return
  end
  if not id or id == '' then
    local opts = {
      filter = function(action)
        return type(action.command) == 'table' and action.command.command == RUN
      end,
    }
    if lines then
      opts.range = { start = { lines[1], 0 }, ['end'] = { lines[2], 0 } }
    end
    return vim.lsp.buf.code_action(opts)
  end
  local range = lines and line_range(bufnr, lines[1], lines[2], client.offset_encoding)
    or vim.lsp.util.make_range_params(0, client.offset_encoding).range
  local args = { action = id, uri = vim.uri_from_bufnr(bufnr), range = range }
  if id == 'fix-diagnostics' then
    args.diagnostics = diagnostics_in(bufnr, range)
  end
  client:exec_cmd({ title = id, command = RUN, arguments = { args } }, { bufnr = bufnr })
end

--- Cancel the running AI edits of the current buffer (`all`: of every buffer).
---@param all boolean?
function M.cancel(all)
  local bufnr = vim.api.nvim_get_current_buf()
  local clients = {} ---@type vim.lsp.Client[]
  if all then
    clients = vim.tbl_filter(M.is_ours, vim.lsp.get_clients())
  else
    clients = { client_for(bufnr) }
  end
  local target = all and vim.empty_dict() or { uri = vim.uri_from_bufnr(bufnr) }
  for _, client in ipairs(clients) do
    client:exec_cmd(
      { title = 'Cancel', command = CANCEL, arguments = { target } },
      { bufnr = bufnr },
      function(err, result)
        if err then
          notify(err.message, vim.log.levels.ERROR)
        elseif type(result) == 'table' and result.cancelled == 0 then
          notify(
            all and 'nothing to cancel' or 'nothing to cancel here (:ResponsesCancel! for all)'
          )
        end
      end
    )
  end
end

--- Show, reset or compact the conversation of this buffer's workspace, if the server has sessions.
---@param what 'show'|'reset'|'compact'|nil
function M.session(what)
  local command = SESSION[what or 'show']
  if not command then
    return notify('unknown session command ' .. tostring(what), vim.log.levels.ERROR)
  end
  local bufnr = vim.api.nvim_get_current_buf()
  local client = client_for(bufnr)
  if not client then
    return
  end
  local provider = client.server_capabilities.executeCommandProvider
  local commands = type(provider) == 'table' and provider.commands or {}
  if not vim.list_contains(commands, command) then
    return notify('sessions are unavailable: this server has no ' .. command, vim.log.levels.WARN)
  end
  local args = { { uri = vim.uri_from_bufnr(bufnr) } }
  client:exec_cmd(
    { title = command, command = command, arguments = args },
    { bufnr = bufnr },
    function(err, result)
      if err then
        notify(err.message, vim.log.levels.ERROR)
      elseif type(result) == 'table' and (result.message or '') ~= '' then
        notify(result.message)
      elseif what and what ~= 'show' then
        notify(what .. ': ' .. vim.inspect(result, { newline = ' ', indent = '' }))
      end
    end
  )
end

---@param client vim.lsp.Client
local function adopt(client)
  if M.is_ours(client) then
    client.handlers['workspace/applyEdit'] = undo.apply_edit
    client.handlers[JOB_DONE] = job_done
  end
end

local function complete_actions()
  local ids = vim.list_extend({}, BUILTIN_ACTIONS)
  local client = vim.iter(vim.lsp.get_clients({ bufnr = 0 })):find(M.is_ours)
  for id in pairs(client and custom_actions(client) or {}) do
    if not vim.list_contains(ids, id) then
      table.insert(ids, id)
    end
  end
  return ids
end

local function create_commands()
  vim.api.nvim_create_user_command('ResponsesAction', function(cmd)
    M.action(cmd.args ~= '' and cmd.args or nil, cmd.range > 0 and { cmd.line1, cmd.line2 } or nil)
  end, {
    range = true,
    nargs = '?',
    complete = complete_actions,
    desc = 'responses-lsp: run an AI action',
  })
  vim.api.nvim_create_user_command('ResponsesCancel', function(cmd)
    M.cancel(cmd.bang)
  end, { bang = true, desc = 'responses-lsp: cancel the running AI edits' })
  vim.api.nvim_create_user_command('ResponsesSession', function(cmd)
    M.session(cmd.args ~= '' and cmd.args or nil)
  end, {
    nargs = '?',
    complete = function()
      return { 'show', 'reset', 'compact' }
    end,
    desc = 'responses-lsp: show, reset or compact the session',
  })
end

--- Install the commands, handlers and autocmds. Call it before the server starts (so that
--- `clientFeatures` reach `initializationOptions`: `singleUndo`, and `jobDone` for the job-end
--- notification); calling it again reconfigures.
---@param opts responses_lsp.Opts?
function M.setup(opts)
  M.config = vim.tbl_deep_extend('force', vim.deepcopy(defaults), opts or {})
  undo.single_undo = M.config.single_undo
  local features = { jobDone = true }
  if M.config.single_undo then
    features.singleUndo = true
  end
  vim.lsp.config(M.config.name, { init_options = { clientFeatures = features } })
  vim.lsp.commands[RUN] = run_command
  local group = vim.api.nvim_create_augroup('responses_lsp', { clear = true })
  vim.api.nvim_create_autocmd('LspAttach', {
    group = group,
    desc = 'responses-lsp: applyEdit handler',
    callback = function(ev)
      local client = vim.lsp.get_client_by_id(ev.data.client_id)
      if client then
        adopt(client)
      end
    end,
  })
  for _, client in ipairs(vim.lsp.get_clients()) do
    adopt(client)
  end
  if M.config.progress then
    progress.attach(M.config.progress, M.is_ours, group)
  end
  if M.config.commands then
    create_commands()
  end
end

return M
