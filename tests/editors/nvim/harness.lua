--- Shared harness of the headless Neovim scenarios (tests/editors/test_neovim.py runs them).
---
--- A scenario runs as a coroutine on Neovim's *main loop* (`nvim --headless -c 'lua dofile…'`),
--- not inside one `nvim -l` call: between two steps Neovim goes back to waiting for input, as it
--- does for a user, so server messages are handled one event at a time and undo blocks are
--- closed between them as in a real session (a `-l` script blocked in `vim.wait()` would merge
--- every change into one undo block and hide what the undo scenarios check).
---
--- Environment: RLSP_REPO (repository root), RLSP_PYTHON (interpreter for the server),
--- RLSP_CASE (folder with the scenario's files; it is the workspace root). The server's own
--- environment (OPENAI_BASE_URL, OPENAI_API_KEY, PYTHONPATH) is inherited.
--- A scenario exits 0 when every check passed, 1 otherwise, 2 on an error or a timeout (3 when
--- the script does not even load: test_neovim.py's loader).

local H = {}

local failures = 0
local co ---@type thread
local started = vim.uv.hrtime()

local function elapsed()
  return ('%d ms'):format((vim.uv.hrtime() - started) / 1e6)
end

H.case = assert(vim.env.RLSP_CASE, 'RLSP_CASE is not set')
H.repo = assert(vim.env.RLSP_REPO, 'RLSP_REPO is not set')

function H.log(fmt, ...)
  io.stderr:write((select('#', ...) > 0 and fmt:format(...) or fmt) .. '\n')
end

local function quit(code)
  for _, client in ipairs(vim.lsp.get_clients()) do
    client:stop()
  end
  vim.wait(3000, function()
    return #vim.lsp.get_clients() == 0
  end, 20)
  if code == 0 then
    vim.cmd('qall!')
  else
    vim.cmd('cquit ' .. code)
  end
end

local function step()
  local ok, err = coroutine.resume(co)
  if not ok then
    H.log('ERROR %s', debug.traceback(co, err))
    return quit(2)
  end
  if coroutine.status(co) == 'dead' then
    H.check('no error message was shown', vim.v.errmsg, '')
    H.log(
      failures == 0 and ('PASS in ' .. elapsed()) or ('FAIL: %d check(s) failed'):format(failures)
    )
    quit(failures == 0 and 0 or 1)
  end
end

--- Let the main loop run for `ms` milliseconds.
function H.sleep(ms)
  vim.defer_fn(step, ms)
  coroutine.yield()
end

--- Wait (on the main loop) until `cond()` is true; fail the scenario after `ms`.
function H.wait(what, cond, ms)
  local deadline = vim.uv.now() + (ms or 10000)
  while not cond() do
    if vim.uv.now() > deadline then
      error('timed out waiting for ' .. what, 2)
    end
    H.sleep(10)
  end
end

function H.check(name, got, want)
  if vim.deep_equal(got, want) then
    H.log('ok   %s', name)
  else
    failures = failures + 1
    H.log('FAIL %s\n  got:  %s\n  want: %s', name, vim.inspect(got), vim.inspect(want))
  end
end

--- Run `scenario` on the main loop; the process exits when it returns (or after `limit_ms`).
function H.run(scenario, limit_ms)
  co = coroutine.create(scenario)
  vim.defer_fn(function()
    H.log('ERROR scenario did not finish in %d ms', limit_ms or 20000)
    quit(2)
  end, limit_ms or 20000)
  vim.schedule(step)
end

--- Read a file of the case folder as bytes.
function H.read(name)
  local f = assert(io.open(H.case .. '/' .. name, 'rb'))
  local data = f:read('*a')
  f:close()
  return data
end

--- The buffer's text as it would be written (lines joined by \n, final newline if 'eol').
function H.text(bufnr)
  local lines = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
  local eol = vim.bo[bufnr].eol and '\n' or ''
  return table.concat(lines, '\n') .. eol
end

--- Configure the server from the repository's lsp/responses_lsp.lua (cmd: this Python),
--- optionally set up the module, and enable it.
---@param module_opts table|false  options for require('responses_lsp').setup(), or false
function H.configure(module_opts)
  vim.opt.runtimepath:prepend(H.repo .. '/editors/nvim')
  vim.lsp.config('responses_lsp', {
    cmd = { assert(vim.env.RLSP_PYTHON), '-m', 'responses_lsp' },
    root_markers = { 'pyproject.toml' },
  })
  if module_opts then
    require('responses_lsp').setup(module_opts)
  end
  vim.lsp.enable('responses_lsp')
  vim.cmd('filetype on')
end

--- Edit a file of the case folder and wait until responses-lsp is attached and initialized.
---@return integer bufnr, vim.lsp.Client client
function H.open(name)
  vim.cmd.edit(vim.fn.fnameescape(H.case .. '/' .. name))
  local bufnr = vim.api.nvim_get_current_buf()
  local client
  H.wait('responses-lsp to attach', function()
    client = vim.lsp.get_clients({ bufnr = bufnr, name = 'responses_lsp' })[1]
    return client ~= nil and client.initialized
  end)
  H.log('attached after %s', elapsed())
  return bufnr, client
end

--- Type keys as the user would (processed by the main loop, mappings allowed), then wait a tick.
function H.keys(keys)
  vim.api.nvim_feedkeys(vim.keycode(keys), 'mt', false)
  H.sleep(20)
end

--- Count the buffer's changes (on_lines callbacks) from now on.
function H.count_changes(bufnr)
  local counter = { n = 0 }
  vim.api.nvim_buf_attach(bufnr, false, {
    on_lines = function()
      counter.n = counter.n + 1
    end,
  })
  return counter
end

--- Record User ResponsesJobDone events (module scenarios).
function H.job_results()
  local results = {}
  vim.api.nvim_create_autocmd('User', {
    pattern = 'ResponsesJobDone',
    callback = function(ev)
      table.insert(results, ev.data)
    end,
  })
  return results
end

--- Record LspProgress events as "kind:title-or-message".
function H.progress_events()
  local events = {}
  local titles = {}
  vim.api.nvim_create_autocmd('LspProgress', {
    callback = function(ev)
      local p = ev.data.params
      local v = p.value
      if v.kind == 'begin' then
        titles[p.token] = v.title
      end
      table.insert(
        events,
        { kind = v.kind, title = titles[p.token], message = v.message, token = p.token }
      )
    end,
  })
  return events
end

--- How many undo steps (`u`) bring the buffer back to `text` (at most `max`), or nil.
function H.undo_steps_to(bufnr, text, max)
  for n = 1, max do
    vim.api.nvim_buf_call(bufnr, function()
      vim.cmd('silent undo')
    end)
    if H.text(bufnr) == text then
      return n
    end
  end
  return nil
end

return H
