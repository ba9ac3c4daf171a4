-- The user presses `u` while the rewrite streams (single-undo mode on): the undo takes back
-- everything the job inserted so far, the server sees the user edit its region and stops
-- (DESIGN I5), and the buffer ends as the original, with no error from `undojoin`.
local H = dofile(vim.env.RLSP_HARNESS)
local case = vim.json.decode(H.read('case.json'))

H.configure({ single_undo = true })
H.run(function()
  local bufnr = H.open(case.file)
  local source = H.read(case.file)
  local results = H.job_results()
  H.keys(('%dGV%dG:ResponsesAction refactor-to-async<CR>'):format(case.first, case.last))
  H.wait('some streamed text', function()
    return #H.text(bufnr) > #source + 10
  end)
  vim.api.nvim_feedkeys('u', 'nx', false) -- executed now, before the next server message
  H.check('one u took back all the streamed text so far', H.text(bufnr), source)
  H.wait('the job to finish', function()
    return #results > 0
  end)
  H.wait('the original text', function()
    return H.text(bufnr) == source
  end, 3000)
  H.check('outcome', results[1].result.outcome, 'conflict')
  H.check('buffer text', H.text(bufnr), source)
end)
