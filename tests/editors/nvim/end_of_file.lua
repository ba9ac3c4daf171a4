-- Refactor the last function of a file: the rewritten region ends at the end of the document.
-- When Neovim deletes lines that reach the end of the buffer, its didChange reports the deletion
-- as two changes ([s - last line end] then the trailing line break), not the one edit it applied.
local H = dofile(vim.env.RLSP_HARNESS)
local case = vim.json.decode(H.read('case.json'))

H.configure({})
H.run(function()
  local bufnr = H.open(case.file)
  local results = H.job_results()
  vim.api.nvim_win_set_cursor(0, { case.cursor_line, 0 })
  vim.cmd('ResponsesAction refactor-to-async')
  H.wait('the job to finish', function()
    return #results > 0
  end)
  H.sleep(300) -- let the last didChange go out and any repair come back
  H.check('outcome', results[1].result.outcome, 'applied')
  H.check('buffer text', H.text(bufnr), H.read('expected.txt'))
end)
