-- A file with é, 漢 and 😀 around and inside the rewritten function. Neovim negotiates utf-8
-- columns; the cursor sits after non-ASCII text and the streamed edits land mid-line after it.
local H = dofile(vim.env.RLSP_HARNESS)
local case = vim.json.decode(H.read('case.json'))

H.configure({})
H.run(function()
  local bufnr, client = H.open(case.file)
  H.check('position encoding', client.offset_encoding, 'utf-8')
  local results = H.job_results()
  local changes = H.count_changes(bufnr)
  local line = vim.api.nvim_buf_get_lines(bufnr, case.cursor_line - 1, case.cursor_line, false)[1]
  local _, after = line:find(case.cursor_after, 1, true) -- byte column just after it
  vim.api.nvim_win_set_cursor(0, { case.cursor_line, after })
  vim.cmd('ResponsesAction refactor-to-async')
  H.wait('the job to finish', function()
    return #results > 0
  end)
  H.check('outcome', results[1].result.outcome, 'applied')
  H.check('buffer text', H.text(bufnr), H.read('expected.txt'))
  H.check('streamed in several edits', changes.n >= case.min_edits, true)
end)
