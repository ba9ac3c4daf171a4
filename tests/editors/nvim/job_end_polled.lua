-- A client started without `clientFeatures.jobDone` (e.g. setup() ran after the server was
-- configured otherwise) gets no `responsesLsp/jobDone`: the module polls
-- `responses-lsp.jobResult` instead. The job still ends with its result, and one `u` still
-- undoes the whole action.
local H = dofile(vim.env.RLSP_HARNESS)
local case = vim.json.decode(H.read('case.json'))

H.configure({ single_undo = true })
vim.lsp.config('responses_lsp', { init_options = { clientFeatures = { jobDone = false } } })
H.run(function()
  local bufnr, client = H.open(case.file)
  local source = H.read(case.file)
  local expected = H.read('expected.txt')
  H.check(
    'jobDone not asked for',
    client.config.init_options.clientFeatures,
    { singleUndo = true, jobDone = false }
  )
  local notified = 0
  local inner = client.handlers['responsesLsp/jobDone']
  client.handlers['responsesLsp/jobDone'] = function(...)
    notified = notified + 1
    return inner(...)
  end
  local results = H.job_results()
  H.keys(('%dGV%dG:ResponsesAction refactor-to-async<CR>'):format(case.first, case.last))
  H.wait('the job to finish', function()
    return #results > 0
  end)
  H.check('outcome', results[1].result.outcome, 'applied')
  H.check('no jobDone notification came', notified, 0)
  H.check('buffer text', H.text(bufnr), expected)
  H.keys('u')
  H.check('one u restores the original', H.text(bufnr), source)
end)
