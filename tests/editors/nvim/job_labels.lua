-- The `workspace/applyEdit` labels name the job (`responses-lsp job <id>: <intent>`): the id
-- must be the `jobId` that responses-lsp.run returns, so a client can tell its jobs apart.
local H = dofile(vim.env.RLSP_HARNESS)
local case = vim.json.decode(H.read('case.json'))

H.configure({})
H.run(function()
  local bufnr, client = H.open(case.file)
  local labels = {}
  local inner = client.handlers['workspace/applyEdit']
  client.handlers['workspace/applyEdit'] = function(err, params, ctx)
    table.insert(labels, params.label)
    return inner(err, params, ctx)
  end
  local results = H.job_results()
  for i, line in ipairs(case.cursor_lines) do
    local first = #labels + 1
    vim.api.nvim_win_set_cursor(0, { line, 0 })
    vim.cmd('ResponsesAction refactor-to-async')
    H.wait('job ' .. i .. ' to finish', function()
      return #results == i
    end)
    local ids = {}
    for n = first, #labels do
      ids[labels[n]:match('^responses%-lsp job (%d+):')] = true
    end
    H.check(
      ('job %d: label ids'):format(i),
      vim.tbl_keys(ids),
      { tostring(results[i].result.jobId) }
    )
  end
end)
