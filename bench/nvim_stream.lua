-- Headless Neovim 0.11 client of the streaming benchmark (adapted from perf-baseline.md §7,
-- nvim_bench.lua). Driven by bench/stream_lag.py:
--
--   BENCH_SPEC=spec.json BENCH_OUT=out.json nvim --headless -u NONE -l bench/nvim_stream.lua
--
-- For each experiment: open the file, attach the experiment's server (one client per server,
-- reused across experiments), let the "user" edit line 1 and pause 400 ms (so didChange flows
-- normally during the stream, as in the baseline), then run the action:
--   ours: textDocument/codeAction on the region, pick the action, workspace/executeCommand with
--         the argument object the code action carries; it answers at once ("started") and the
--         job's end is the server's responsesLsp/jobDone notification (clientFeatures.jobDone),
--         which is what t_res and the result record;
--   ref:  workspace/executeCommand perf.stream (the baseline's coalesce-16ms sender).
-- The default workspace/applyEdit handler is wrapped: after it returns, the time (vim.uv.hrtime)
-- and the length of the expected text the buffer holds from the region start (the "new text
-- region": the longest common prefix of the buffer from the region start and the expected text)
-- are recorded. Lines starting with "@@BENCH" on stdout tell the Python side when a job starts
-- and ends (it samples the server's CPU time then).
vim.cmd('filetype on') -- -u NONE: without it the buffer has no filetype, didOpen no languageId
local spec = vim.json.decode(table.concat(vim.fn.readfile(vim.env.BENCH_SPEC), '\n'))
local uv = vim.uv
local api = vim.api

-- stdout is the marker channel: keep everything else off it
local skipped = 0 -- "Buffer <uri> newer than edits.": a versioned edit silently skipped
local labels = 0 -- "Workspace edit <label>" (the default handler prints the label)
_G.print = function(...)
  local s = table.concat(vim.tbl_map(tostring, { ... }), ' ')
  if s:find('newer than edits', 1, true) then
    skipped = skipped + 1
  elseif s:find('^Workspace edit') then
    labels = labels + 1
  else
    io.stderr:write(s .. '\n')
  end
end
local function marker(...)
  io.stdout:write('@@BENCH ' .. table.concat(vim.tbl_map(tostring, { ... }), ' ') .. '\n')
  io.stdout:flush()
end

local CUR = nil -- the running experiment's state
local function prefix_len(buf, first, count, expected)
  local s = table.concat(api.nvim_buf_get_lines(buf, first, first + count, false), '\n')
  local n = math.min(#s, #expected)
  local i = 1
  while i <= n and s:byte(i) == expected:byte(i) do
    i = i + 1
  end
  return i - 1
end

local default_apply = vim.lsp.handlers['workspace/applyEdit']
local function apply_handler(err, params, ctx)
  local r = default_apply(err, params, ctx)
  local t = uv.hrtime()
  local cur = CUR
  if cur then
    local bytes, n, versions, range = 0, 0, {}, nil
    local function count(e)
      bytes = bytes + #e.newText
      n = n + 1
      range = range or e.range
    end
    for _, dc in ipairs(params.edit.documentChanges or {}) do
      local v = dc.textDocument and dc.textDocument.version
      versions[#versions + 1] = v == nil and 'null' or v
      for _, e in ipairs(dc.edits or {}) do
        count(e)
      end
    end
    for _, edits in pairs(params.edit.changes or {}) do
      for _, e in ipairs(edits) do
        count(e)
      end
    end
    cur.applied[#cur.applied + 1] = {
      t = t,
      prefix = prefix_len(cur.buf, cur.region_line, cur.fetch_lines, cur.expected),
      bytes = bytes,
      n = n,
      applied = r and r.applied,
      versions = versions,
      range = range,
    }
  end
  return r
end

local jobs_done = {} -- jobId -> responsesLsp/jobDone params (our server)
local function job_done_handler(_, params)
  if type(params) == 'table' and params.jobId then
    jobs_done[params.jobId] = { result = params, t = uv.hrtime() }
  end
end

local clients = {} -- server name -> { id, pid }
local function children()
  local set = {}
  for _, pid in ipairs(api.nvim_get_proc_children(vim.fn.getpid())) do
    set[pid] = true
  end
  return set
end

local function attach(name, buf)
  local s = spec.servers[name]
  local before = clients[name] == nil and children() or nil
  local id = vim.lsp.start({
    name = 'bench-' .. name,
    cmd = s.cmd,
    cmd_cwd = s.cwd,
    cmd_env = s.env,
    root_dir = spec.root,
    handlers = {
      ['workspace/applyEdit'] = apply_handler,
      ['responsesLsp/jobDone'] = job_done_handler,
    },
    -- syntaxCheck off: the bench's tokens (perf-baseline §7's token()) are code-ish, not Python;
    -- checked, every job would end in a repair turn and a restore. The check runs after the
    -- stream, so lag is the same either way.
    init_options = { clientFeatures = { jobDone = true }, responsesLsp = { syntaxCheck = 'off' } },
    flags = { debounce_text_changes = 150 },
  }, { bufnr = buf })
  local client = assert(vim.lsp.get_client_by_id(id))
  assert(vim.wait(30000, function() return client.initialized end, 5), 'no initialize: ' .. name)
  assert(vim.wait(10000, function() return vim.lsp.buf_is_attached(buf, id) end, 5), 'not attached')
  if before then
    local pid = nil
    for p in pairs(children()) do
      if not before[p] then pid = p end
    end
    clients[name] = { id = id, pid = pid }
  end
  return client, clients[name].pid
end

local function request(client, method, params, buf, timeout_ms)
  local done, res, rerr = false, nil, nil
  client:request(method, params, function(err, result)
    rerr, res, done = err, result, true
  end, buf)
  assert(vim.wait(timeout_ms or 30000, function() return done end, 1), 'timeout: ' .. method)
  assert(not rerr, vim.inspect(rerr))
  return res
end

local function cpu(r)
  return r.utime.sec + r.utime.usec / 1e6 + r.stime.sec + r.stime.usec / 1e6
end

local results = {}
for _, exp in ipairs(spec.experiments) do
  vim.cmd.edit(exp.file)
  local buf = api.nvim_get_current_buf()
  local client, pid = attach(exp.server, buf)
  local uri = vim.uri_from_bufnr(buf)
  if spec.go_dir then
    -- let the Python side wait for a calm machine before this experiment: it creates the file
    local go = spec.go_dir .. '/' .. exp.name
    marker('ready', exp.name, pid or 0)
    assert(vim.wait(600000, function() return uv.fs_stat(go) ~= nil end, 10), 'no go: ' .. go)
  end
  -- the user typed on line 1 before running the action; didChange flushes 150 ms later
  api.nvim_buf_set_lines(buf, 0, 1, false, { '# bench header (edited by user)' })
  vim.wait(400)
  local command
  if exp.kind == 'ours' then
    local actions = request(client, 'textDocument/codeAction', {
      textDocument = { uri = uri },
      range = {
        start = { line = exp.region_line, character = 0 },
        ['end'] = { line = exp.region_line + exp.region_lines, character = 0 },
      },
      context = { diagnostics = {}, triggerKind = 1 },
    }, buf)
    for _, a in ipairs(actions or {}) do
      local c = a.command
      if c and c.arguments and c.arguments[1] and c.arguments[1].action == exp.action then
        command = { command = c.command, arguments = c.arguments }
      end
    end
    assert(command, 'action not offered: ' .. exp.action .. ' in ' .. vim.inspect(actions))
  else
    request(client, 'workspace/executeCommand', { command = 'perf.ping', arguments = {} }, buf)
    command = {
      command = 'perf.stream',
      arguments = { uri, exp.region_line, exp.n_tokens, exp.rate, 'coalesce', 16, 'null' },
    }
  end
  CUR = {
    buf = buf,
    region_line = exp.region_line,
    fetch_lines = exp.fetch_lines,
    expected = exp.expected,
    applied = {},
  }
  skipped, labels = 0, 0
  local tick0 = vim.b[buf].changedtick
  marker('start', exp.name, pid or 0)
  local ru0 = uv.getrusage()
  local t_req = uv.hrtime()
  local ok_req, res = pcall(request, client, 'workspace/executeCommand', command, buf, exp.timeout_ms)
  local t_res = uv.hrtime()
  if ok_req and type(res) == 'table' and res.outcome == 'started' and res.jobId then
    -- our job runs on after the answer: its end is the jobDone notification
    local id = res.jobId
    local ended = vim.wait(exp.timeout_ms or 30000, function() return jobs_done[id] ~= nil end, 1)
    if ended then
      res, t_res = jobs_done[id].result, jobs_done[id].t
    else
      ok_req, res = false, 'timeout: responsesLsp/jobDone for job ' .. id
      t_res = uv.hrtime()
    end
  end
  local ru1 = uv.getrusage()
  marker('end', exp.name, pid or 0)
  local cur = CUR
  CUR = nil
  local lines = api.nvim_buf_get_lines(buf, exp.region_line, -1, false)
  local got = table.concat(lines, '\n') .. '\n'
  results[#results + 1] = {
    name = exp.name,
    error = (not ok_req) and tostring(res) or nil,
    result = ok_req and res or nil,
    t_req = t_req,
    t_res = t_res,
    applied = cur.applied,
    region_ok = got == exp.final_region,
    region_text = got ~= exp.final_region and got or nil,
    region_len = #got,
    skipped = skipped,
    labels = labels,
    ticks = vim.b[buf].changedtick - tick0,
    nvim_cpu_s = cpu(ru1) - cpu(ru0),
    server_pid = pid,
    offset_encoding = client.offset_encoding,
  }
  io.stderr:write(
    ('%-28s region_ok=%s applied=%d skipped=%d wall=%.0fms\n'):format(
      exp.name,
      tostring(got == exp.final_region),
      #cur.applied,
      skipped,
      (t_res - t_req) / 1e6
    )
  )
  vim.cmd('silent! bwipeout!')
end

vim.fn.writefile({ vim.json.encode(results) }, vim.env.BENCH_OUT)
for _, c in ipairs(vim.lsp.get_clients()) do
  c:stop()
end
vim.wait(3000, function() return #vim.lsp.get_clients() == 0 end, 10)
os.exit(0)
