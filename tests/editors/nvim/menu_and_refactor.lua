-- List our actions on a Python buffer and run "Refactor to async" on a visual selection,
-- through :ResponsesAction (the module), as a user would: V-select the lines, type the command,
-- pick the action from the menu. The streamed result must land exactly, in several edits.
local H = dofile(vim.env.RLSP_HARNESS)
local case = vim.json.decode(H.read('case.json'))

H.configure({})
H.run(function()
  local bufnr = H.open(case.file)
  H.check('source loaded', H.text(bufnr), H.read(case.file))

  local offered
  vim.ui.select = function(items, _, on_choice) -- the code-action menu: record it, pick ours
    offered = vim.tbl_map(function(item)
      return item.action.title
    end, items)
    on_choice(vim.iter(items):find(function(item)
      return item.action.title == case.pick
    end))
  end
  local results = H.job_results()
  local changes = H.count_changes(bufnr)
  H.keys(('%dGV%dG:ResponsesAction<CR>'):format(case.first, case.last))
  H.wait('the job to finish', function()
    return #results > 0
  end)

  H.check('menu lists exactly our actions', offered, case.titles)
  H.check('outcome', results[1].result.outcome, 'applied')
  H.check('buffer text', H.text(bufnr), H.read('expected.txt'))
  H.check('streamed in several edits', changes.n >= case.min_edits, true)
  H.log('edits applied: %d', changes.n)

  -- :ResponsesSession shows the session when the server has one, else says it is unavailable
  -- (both end up in :messages: the server's window/showMessage, or our vim.notify)
  local function messages()
    return vim.api.nvim_exec2('messages', { output = true }).output
  end
  local before = #messages()
  vim.cmd('ResponsesSession')
  H.wait('a session message', function()
    return messages():sub(before + 1):find('session') ~= nil
  end)
  H.log('session message: %s', vim.trim(messages():sub(before + 1)))
end)
