-- "Edit with instruction…": :ResponsesAction edit-with-instruction asks through vim.ui.input and
-- sends the answer; the result lands exactly.
local H = dofile(vim.env.RLSP_HARNESS)
local case = vim.json.decode(H.read('case.json'))

H.configure({})
H.run(function()
  local bufnr = H.open(case.file)
  local asked
  vim.ui.input = function(opts, on_confirm)
    asked = opts.prompt
    on_confirm(case.instruction)
  end
  local results = H.job_results()
  H.keys(('%dGV%dG:ResponsesAction edit-with-instruction<CR>'):format(case.first, case.last))
  H.wait('the job to finish', function()
    return #results > 0
  end)
  H.check('prompted', asked, 'Instruction: ')
  H.check('outcome', results[1].result.outcome, 'applied')
  H.check('buffer text', H.text(bufnr), H.read('expected.txt'))
end)
