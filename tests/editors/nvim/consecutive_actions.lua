-- Three actions in a row on one buffer (single-undo mode): each `u` takes back exactly one
-- action, newest first, even though nothing happened in the buffer between them.
local H = dofile(vim.env.RLSP_HARNESS)
local case = vim.json.decode(H.read('case.json'))

H.configure({ single_undo = true })
H.run(function()
  local bufnr = H.open(case.file)
  local results = H.job_results()
  for i, line in ipairs(case.cursor_lines) do
    vim.api.nvim_win_set_cursor(0, { line, 0 })
    vim.cmd('ResponsesAction refactor-to-async')
    H.wait('job ' .. i .. ' to finish', function()
      return #results == i
    end)
    H.check(('action %d outcome'):format(i), results[i].result.outcome, 'applied')
    H.check(('text after action %d'):format(i), H.text(bufnr), case.states[i + 1])
  end
  for i = #case.states - 1, 1, -1 do
    H.keys('u')
    H.check(('after undo back to state %d'):format(i - 1), H.text(bufnr), case.states[i])
  end
end)
