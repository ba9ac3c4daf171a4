-- Cancel mid-stream with :ResponsesCancel once the first edits have landed: the original must be
-- restored exactly.
local H = dofile(vim.env.RLSP_HARNESS)
local case = vim.json.decode(H.read('case.json'))

H.configure({})
H.run(function()
  local bufnr = H.open(case.file)
  local source = H.read(case.file)
  local results = H.job_results()
  H.keys(('%dGV%dG:ResponsesAction refactor-to-async<CR>'):format(case.first, case.last))
  H.wait('the first streamed edits', function()
    return H.text(bufnr) ~= source
  end)
  H.check('still running', #results, 0)
  vim.cmd('ResponsesCancel')
  H.wait('the job to finish', function()
    return #results > 0
  end)
  H.wait('the original text', function()
    return H.text(bufnr) == source
  end, 3000)
  H.check('outcome', results[1].result.outcome, 'cancelled')
  H.check('buffer text', H.text(bufnr), source)
end)
