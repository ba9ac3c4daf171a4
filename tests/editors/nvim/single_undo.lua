-- With the module (single-undo mode): :'<,'>ResponsesAction refactor-to-async, then one `u`
-- restores the original exactly, and one CTRL-R brings the result back.
local H = dofile(vim.env.RLSP_HARNESS)
local case = vim.json.decode(H.read('case.json'))

H.configure({ single_undo = true })
H.run(function()
  local bufnr, client = H.open(case.file)
  local source = H.read(case.file)
  local expected = H.read('expected.txt')
  H.check(
    'singleUndo and jobDone sent in initializationOptions',
    client.config.init_options.clientFeatures,
    { singleUndo = true, jobDone = true }
  )
  local results = H.job_results()
  local changes = H.count_changes(bufnr)
  H.keys(('%dGV%dG:ResponsesAction refactor-to-async<CR>'):format(case.first, case.last))
  H.wait('the job to finish', function()
    return #results > 0
  end)
  H.check('outcome', results[1].result.outcome, 'applied')
  H.check('buffer text', H.text(bufnr), expected)
  H.check('streamed in several edits', changes.n >= case.min_edits, true)
  H.log('edits applied: %d', changes.n)

  H.keys('u')
  H.check('one u restores the original', H.text(bufnr), source)
  H.keys('<C-r>')
  H.check('one CTRL-R redoes the whole action', H.text(bufnr), expected)
end)
